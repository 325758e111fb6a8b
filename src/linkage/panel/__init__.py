"""linkage.panel: the unit x period retention panel (from spells or an activity log) and roll-ups.

:func:`build_panel` counts, per unit and period, who was there at the start, who joined, who left,
who stayed and who was there at the end, on the employee and the customer side, and the retention
and turnover rates from them (definitions in docs/domain.md and :mod:`linkage.panel.build`).
:func:`build_panel_engine` builds the same panel on DuckDB or Spark from files larger than memory.
:func:`rollup` sums the counts to regions or any unit attribute and recomputes the rates.
The rest of the chain: :func:`employee_survey_panel` and :func:`customer_survey_panel` (item
means, CSAT, NPS and respondents per unit x period, with an explicit wave alignment;
:mod:`linkage.panel.surveys`), :func:`revenue_panel` (revenue and net revenue retention;
:mod:`linkage.panel.revenue`), :func:`segment_retention` (customer retention per segment;
:mod:`linkage.panel.segments`) and :func:`join_chain` (onto the panel; :mod:`linkage.panel.join`).
Reading, cleaning and building in one call is :func:`linkage.pipeline.prepare`, a layer above.
"""

from linkage.panel.build import PANEL_COLUMNS, build_panel
from linkage.panel.engines import build_panel_engine
from linkage.panel.join import join_chain
from linkage.panel.revenue import revenue_panel
from linkage.panel.rollup import rollup
from linkage.panel.segments import segment_retention
from linkage.panel.surveys import customer_survey_panel, employee_survey_panel

__all__ = [
    "build_panel",
    "build_panel_engine",
    "rollup",
    "PANEL_COLUMNS",
    "employee_survey_panel",
    "customer_survey_panel",
    "revenue_panel",
    "segment_retention",
    "join_chain",
]
