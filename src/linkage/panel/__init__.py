"""linkage.panel: the unit x period retention panel (from spells or an activity log) and roll-ups.

:func:`build_panel` counts, per unit and period, who was there at the start, who joined, who left,
who stayed and who was there at the end, on the employee and the customer side, and the retention
and turnover rates from them (definitions in docs/domain.md and :mod:`linkage.panel.build`).
:func:`build_panel_engine` builds the same panel on DuckDB or Spark from files larger than memory.
:func:`rollup` sums the counts to regions or any unit attribute and recomputes the rates.
The rest of the chain (:mod:`linkage.panel.chain`): :func:`employee_survey_panel` and
:func:`customer_survey_panel` (item means, CSAT, NPS and respondents per unit x period, with an
explicit wave alignment), :func:`revenue_panel` (revenue and net revenue retention),
:func:`segment_retention` (customer retention per segment) and :func:`join_chain` (onto the panel).
"""

from linkage.panel.build import PANEL_COLUMNS, build_panel
from linkage.panel.chain import (
    customer_survey_panel,
    employee_survey_panel,
    join_chain,
    revenue_panel,
    segment_retention,
)
from linkage.panel.engines import build_panel_engine
from linkage.panel.prepare import CleaningReport, Prepared, prepare
from linkage.panel.rollup import rollup

__all__ = [
    "build_panel",
    "build_panel_engine",
    "rollup",
    "PANEL_COLUMNS",
    "prepare",
    "Prepared",
    "CleaningReport",
    "employee_survey_panel",
    "customer_survey_panel",
    "revenue_panel",
    "segment_retention",
    "join_chain",
]
