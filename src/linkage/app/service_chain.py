"""The executive dashboard's section "The whole chain": the links, key drivers, units to visit.

Three parts, computed only when a viewer first opens the section (the dashboard's start and its
filters never wait for them), then kept in the dashboards' disk cache, keyed by a fingerprint of
everything they are computed from:

- **the chain**: each link (engagement -> employee retention -> customer retention -> revenue
  retention) with its within-unit correlation and interval (:func:`linkage.stats.chain`), a
  sentence per link, the mediation of the employee effect on revenue and the causal caveats;
- **the drivers**: which employee-survey items go with customer retention across units
  (:func:`linkage.stats.key_drivers`, relative weights, unit-bootstrap intervals, Holm over the
  items), with correlations corrected for the reliability of unit means
  (:func:`linkage.stats.survey_reliability`) beside the measured ones;
- **units to visit this month**: :func:`linkage.stats.watchlist` (needs only the panel), units from
  fewer than ``k`` people suppressed (``linkage.privacy.suppress``), a CSV download with formulas
  neutralised, and a back-test of how often past lists were right.

The data come from :func:`linkage.pipeline.chain_inputs` (the sample's surveys and revenue, the
panel's chain columns, or the files of :data:`linkage.pipeline.CHAIN_ENV`); the figures and texts
from :func:`linkage.app._service_chain_data.chain_results`, shown by
:func:`linkage.app._render_service_chain.section_parts`. Respondent-level survey rows are read in
the kernel only to average them by unit and to measure reliability; their identifiers are dropped
on reading and no person-level row reaches the page.
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from linkage.app._data import DashboardData
from linkage.app._render import data_uri, esc
from linkage.app._render_service_chain import section_parts
from linkage.app._safe import guarded, logger
from linkage.app._service_chain_data import ChainResults, chain_results, watchlist_csv
from linkage.errors import InputError
from linkage.pipeline import ChainInputs, chain_inputs

__all__ = ["ChainView", "TITLE", "COMPUTING"]

TITLE = "The whole chain: survey, staff, customers, revenue"
COMPUTING = (
    "<div class='linkage-computing' style='color:#555'>Computing the chain&hellip; "
    "(a few seconds, once)</div>"
)

_HERE = pathlib.Path(__file__).resolve()
#: The code the cached results depend on: a change to any of them computes the section anew.
_CODE = (
    _HERE,
    _HERE.with_name("_service_chain_data.py"),
    _HERE.with_name("_render_service_chain.py"),
    _HERE.parents[1] / "pipeline" / "chain_inputs.py",
    _HERE.parents[1] / "viz" / "_service_chain.py",
    _HERE.parents[1] / "words.py",
)


class ChainView:
    """The section "The whole chain" of the executive dashboard, computed when first opened.

    Parameters
    ----------
    data : DashboardData
        The dashboard's panel and cache.
    sample : bool
        The panel is the repository's sample (its surveys and revenue are joined).
    env : mapping, optional
        Where the chain files' variables (:data:`linkage.pipeline.CHAIN_ENV`) are read (default
        ``os.environ``).
    top : int
        Units shown in the watchlist table and figure.

    Attributes
    ----------
    widget : ipywidgets.Accordion
        Closed at start; opening it computes (or reads from the cache) and fills the parts.
    status, summary, notes, chain, drivers, watchlist, downloads : ipywidgets.HTML

    Examples
    --------
    >>> from linkage.app import DashboardData, load_panel
    >>> view = ChainView(DashboardData(load_panel(), n_boot=50), sample=True)
    >>> view.results is None  # nothing computed until the section is opened
    True
    >>> view.widget.selected_index = 0
    >>> "Units to visit" in view.watchlist.value and "respondent" not in view.watchlist.value
    True
    """

    def __init__(
        self,
        data: DashboardData,
        *,
        sample: bool = False,
        env: Mapping[str, str] | None = None,
        top: int = 10,
    ) -> None:
        self.data = data
        self.sample = sample
        self.env = env
        self.top = top
        self.results: ChainResults | None = None
        self._results_key: tuple[Any, ...] | None = None
        self.status = widgets.HTML()
        self.summary = widgets.HTML()
        self.notes = widgets.HTML()
        self.chain = widgets.HTML()
        self.drivers = widgets.HTML()
        self.watchlist = widgets.HTML()
        self.downloads = widgets.HTML()
        body = widgets.VBox(
            [
                self.status,
                self.summary,
                self.notes,
                self.chain,
                self.drivers,
                self.watchlist,
                self.downloads,
            ]
        )
        self.widget = widgets.Accordion(children=[body], titles=(TITLE,))
        self.widget.add_class("linkage-chain")
        self.widget.observe(guarded(self.status)(self._on_open), names="selected_index")

    def _on_open(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and self.results is None:
            self.show()

    def _key(self, inputs: ChainInputs) -> tuple[Any, ...]:
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(inputs.panel, index=False).to_numpy().tobytes())
        h.update(",".join(inputs.panel.columns).encode())
        if inputs.respondents is not None:
            h.update(
                pd.util.hash_pandas_object(inputs.respondents, index=False).to_numpy().tobytes()
            )
        for path in _CODE:
            h.update(path.read_bytes())
        return ("chain_view", h.hexdigest()[:24], self.data.k, self.data.n_boot, self.data.seed)

    def compute(self) -> ChainResults:
        """The section's results: from the disk cache when another kernel computed them, else
        now."""
        inputs = chain_inputs(self.data.panel, sample=self.sample, env=self.env)
        key = self._results_key = self._key(inputs)
        stored = self.data.cache.get(key)
        if stored is not None:
            try:
                return ChainResults.from_bytes(stored)
            except (ValueError, KeyError, TypeError, pd.errors.ParserError):
                logger.info("chain cache entry unreadable; recomputing")
        res = chain_results(inputs, k=self.data.k, n_boot=self.data.n_boot, seed=self.data.seed)
        self.data.cache.put(key, res.to_bytes())
        return res

    def show(self) -> None:
        """Compute (showing "Computing ...") and fill the section."""
        self.chain.value = COMPUTING
        try:
            res = self.compute()
        except InputError as err:
            self.chain.value = ""
            self.notes.value = (
                "<div class='linkage-missing'><p>The chain could not be computed from these data: "
                f"{esc(err.problem)}</p></div>"
            )
            logger.info("chain section: %s", err)
            return
        self.results = res
        self.fill(res)

    def figure_png(
        self, name: str, draw: Callable[[pd.DataFrame], bytes], table: pd.DataFrame
    ) -> bytes:
        """PNG bytes of ``draw(table)``, read from (or put in) the disk cache under the results'
        key and ``name`` (what :func:`section_parts` calls for each figure)."""
        key = (*self._results_key, "png", name) if self._results_key else None
        b = self.data.cache.get(key) if key else None
        if b is None:
            b = draw(table)
            if key:
                self.data.cache.put(key, b)
        return b

    def fill(self, res: ChainResults) -> None:
        """Put the results on the page."""
        parts = section_parts(res, top=self.top, draw=self.figure_png)
        for name in ("summary", "notes", "chain", "drivers", "watchlist"):
            getattr(self, name).value = parts[name]
        if res.watchlist.empty:
            self.downloads.value = ""
            return
        href = data_uri(watchlist_csv(res.watchlist), "text/csv")
        self.downloads.value = (
            "<div class='linkage-downloads'>"
            f"<a download='linkage_watchlist.csv' href='{href}'>"
            "Units to visit (CSV, small units suppressed)</a></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
