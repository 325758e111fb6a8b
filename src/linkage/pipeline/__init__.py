"""linkage.pipeline: one call from raw extracts (files or DataFrames) to the panel and the chain.

:func:`prepare` reads the extracts (with a mapping file, optionally pseudonymising identifiers as
they are read), cleans them (:mod:`linkage.clean`), builds the unit x period panel and the chain
tables (:mod:`linkage.panel`) and joins them, and returns a :class:`Prepared` with the panel, the
clean tables and a :class:`CleaningReport` of every row set aside and why.

:func:`chain_inputs` gathers the chain's data for a panel the dashboards read (the sample's
surveys and revenue, the panel's own chain columns, or the files named in :data:`CHAIN_ENV`) as a
:class:`ChainInputs`.
"""

from linkage.pipeline.chain_inputs import CHAIN_ENV, ChainInputs, chain_inputs
from linkage.pipeline.prepare import CleaningReport, Prepared, prepare

__all__ = ["prepare", "Prepared", "CleaningReport", "CHAIN_ENV", "ChainInputs", "chain_inputs"]
