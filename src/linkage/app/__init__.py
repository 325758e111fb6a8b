"""linkage.app: the dashboards' logic (ipywidgets), the static report and Voila serving.

- :func:`show_executive` / :func:`executive_dashboard`: the executive dashboard.
- :func:`show_unit_explorer` / :func:`unit_explorer`: one unit's series, peers and standing.
- :func:`load_panel`, :class:`DashboardData`: the panel (never person-level rows) and what is
  precomputed from it once.
- :func:`guarded`: widget callbacks that show a neutral line instead of a traceback.
- :class:`ChainView`: the executive dashboard's section "The whole chain" (links, key drivers,
  units to visit), computed when first opened; :func:`chain_results` its figures and texts, from
  :func:`linkage.pipeline.chain_inputs` (re-exported here with :data:`CHAIN_ENV`).
- :class:`EventsView`: the section "When someone leaves" (event studies of customer retention and
  whether customers follow the person who served them), computed when first opened, from the
  files of :data:`EVENTS_ENV` or the sample's.

The notebooks in ``notebooks/dashboards/`` are a parameters cell and one call each.
"""

from linkage.app._data import (
    ALL,
    PANEL_ENV,
    DashboardData,
    Selection,
    default_panel_path,
    load_panel,
)
from linkage.app._safe import guarded
from linkage.app._service_chain_data import ChainResults, chain_results
from linkage.app.events_view import EVENTS_ENV, EventsView
from linkage.app.executive import ExecutiveDashboard, executive_dashboard, show_executive
from linkage.app.explorer import UnitExplorer, show_unit_explorer, unit_explorer
from linkage.app.service_chain import ChainView
from linkage.pipeline import CHAIN_ENV, chain_inputs

__all__ = [
    "ALL",
    "CHAIN_ENV",
    "ChainResults",
    "ChainView",
    "EVENTS_ENV",
    "EventsView",
    "PANEL_ENV",
    "DashboardData",
    "ExecutiveDashboard",
    "Selection",
    "chain_inputs",
    "chain_results",
    "default_panel_path",
    "executive_dashboard",
    "guarded",
    "load_panel",
    "show_executive",
    "show_unit_explorer",
    "unit_explorer",
    "UnitExplorer",
]
