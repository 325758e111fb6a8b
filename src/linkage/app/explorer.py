"""The unit explorer: one unit's two series against its peers, and where it stands.

Open it on a unit with ``?unit=ID`` in the page's URL (Voila passes the query string to the kernel:
``voila.utils.get_query_string``, which also waits for the request when the kernel was preheated).
The identifier from the URL is only looked up among the panel's units, never evaluated.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, quote

import ipywidgets as widgets
import numpy as np
import pandas as pd

from linkage.app._data import DashboardData, Selection, load_panel
from linkage.app._render import data_uri, esc, quadrants_png, unit_png
from linkage.app._safe import guarded, logger, show_loading
from linkage.app.executive import CSS

__all__ = [
    "UnitExplorer",
    "unit_explorer",
    "show_unit_explorer",
    "unit_from_query",
    "requested_unit",
]

WINDOW = 12  # periods behind "where it stands"


def unit_from_query(query: str | None, units: list[str]) -> str | None:
    """The ``unit`` parameter of a query string if it names a known unit, else None.

    Examples
    --------
    >>> unit_from_query("unit=007&x=1", ["001", "007"])
    '007'
    >>> unit_from_query("unit=__import__('os')", ["001"]) is None
    True
    """
    if not query:
        return None
    values = parse_qs(query.lstrip("?")).get("unit", [])
    return values[0] if values and values[0] in set(units) else None


def requested_unit(query: str | None) -> str | None:
    """The ``unit`` parameter of a query string as written, known or not (None without one).

    Examples
    --------
    >>> requested_unit("?unit=999&x=1"), requested_unit("x=1")
    ('999', None)
    """
    if not query:
        return None
    values = parse_qs(query.lstrip("?")).get("unit", [])
    return values[0] if values else None


def _query_string() -> str | None:
    """The page's query string in a Voila kernel (None elsewhere)."""
    if "VOILA_KERNEL_ID" not in os.environ and "QUERY_STRING" not in os.environ:
        return None
    try:
        from voila.utils import get_query_string

        return get_query_string()
    except Exception:  # noqa: BLE001 - no query string is not an error
        logger.exception("could not read the page's query string")
        return os.environ.get("QUERY_STRING")


class UnitExplorer:
    """Widgets of the unit explorer over a :class:`DashboardData`.

    Attributes
    ----------
    widget : ipywidgets.VBox
    unit, peers : ipywidgets.Dropdown
        The unit and which units count as its peers.
    summary, series, standing, status : ipywidgets.HTML
    notice : ipywidgets.HTML
        Empty, or the line saying that the unit asked for (``unit``, or ``?unit=`` in the page's
        URL) is not in the panel, with a link to each unit that is (:meth:`not_found`); it
        clears when another unit is picked.

    Examples
    --------
    >>> from linkage.app import unit_explorer
    >>> ex = unit_explorer(unit="002", n_boot=200)
    >>> ex.unit.value
    '002'
    >>> "Unit 002" in ex.summary.value
    True
    >>> ex.notice.value
    ''
    """

    def __init__(self, data: DashboardData, *, unit: str | None = None) -> None:
        self.data = data
        d = data
        style = {"description_width": "initial"}
        labels = [(self._label(u), u) for u in d.units]
        first = unit if unit in set(d.units) else d.units[0]
        self.unit = widgets.Dropdown(options=labels, value=first, description="Unit", style=style)
        peer_opts = [(f"same {a}", a) for a in d.attributes] + [("all units", "__all__")]
        default_peer = d.default_attribute() or "__all__"
        self.peers = widgets.Dropdown(
            options=peer_opts, value=default_peer, description="Compare with", style=style
        )
        self.status = widgets.HTML()
        self.notice = widgets.HTML()
        self.summary = widgets.HTML()
        self.series = widgets.HTML()
        self.standing = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HTML(CSS),
                widgets.HTML(
                    "<div class='linkage-title'>One unit: its staff and its customers</div>"
                ),
                self.notice,
                widgets.HBox([self.unit, self.peers]),
                self.status,
                self.summary,
                self.series,
                self.standing,
            ],
            layout=widgets.Layout(max_width="1100px"),
        )
        on_change = guarded(self.status)(lambda change: self.update())
        self.unit.observe(on_change, names="value")
        self.peers.observe(on_change, names="value")
        self.unit.observe(self._clear_notice, names="value")
        self._figs: dict = {}
        self.update()
        if unit is not None and unit not in set(d.units):
            self.not_found(unit)

    def _clear_notice(self, change: dict) -> None:
        self.notice.value = ""

    def not_found(self, asked: str) -> None:
        """Say plainly that no unit ``asked`` is in the panel, which unit is shown instead, and
        offer every unit as a link (``?unit=ID``).

        Examples
        --------
        >>> from linkage.app import unit_explorer
        >>> ex = unit_explorer(unit="999", n_boot=200)
        >>> "There is no unit" in ex.notice.value and "999" in ex.notice.value
        True
        >>> "href='?unit=002'" in ex.notice.value
        True
        """
        d = self.data
        shown = esc(asked if len(asked) <= 40 else asked[:40] + "\u2026")
        links = " ".join(
            f"<a href='?unit={quote(u)}' style='margin-right:0.8em'>{esc(self._label(u))}</a>"
            for u in d.units
        )
        self.notice.value = (
            "<div class='linkage-notice' role='alert' style='border:1px solid #c77700;"
            "background:#fff7e6;border-radius:6px;padding:8px 12px;margin:6px 0;"
            "line-height:1.7'>"
            f"<p><b>There is no unit \u201c{shown}\u201d in this panel.</b> "
            f"Showing unit {esc(self.unit.value)} instead. Pick a unit from the Unit list "
            f"below, or open one of the {len(d.units)} units here:</p>"
            f"<nav aria-label='All units' class='linkage-unit-list'>{links}</nav></div>"
        )

    def _label(self, u: str) -> str:
        a = self.data.default_attribute()
        return f"{u} ({str(self.data.unit_attrs.at[u, a])})" if a else u

    def _peer_list(self) -> list[str]:
        attr = None if self.peers.value == "__all__" else self.peers.value
        return self.data.peers(self.unit.value, attr)

    def update(self) -> None:
        """Redraw for the current unit and peer group."""
        d, u = self.data, self.unit.value
        peers = self._peer_list()
        start = d.periods[max(0, len(d.periods) - WINDOW)]
        sel = Selection(start=start, end=d.periods[-1])
        table = d.unit_table(sel)
        row = table.loc[table["unit_id"] == u].iloc[0]
        raw = d.unit_table(sel, suppressed=False).set_index("unit_id")
        peer_raw = raw.loc[raw.index.isin(peers)]
        lines = []
        for col, name in (
            ("employee_retention", "Employee retention"),
            ("customer_retention", "Customer retention"),
        ):
            v = row[col]
            if isinstance(v, str) or not np.isfinite(v):
                lines.append(f"{name}: suppressed (fewer than {d.k} people behind the figure).")
                continue
            vals = peer_raw[col].dropna().to_numpy()
            share = float(np.mean(vals < v)) if len(vals) else np.nan
            med = float(np.median(vals)) if len(vals) else np.nan
            text = f"{name}: {100 * v:.1f}% a month"
            if np.isfinite(share):
                text += (
                    f", higher than {100 * share:.0f}% of its {len(vals)} peers "
                    f"(peer median {100 * med:.1f}%)"
                )
            lines.append(text + ".")
        attrs = ", ".join(f"{a} {str(d.unit_attrs.at[u, a])}" for a in d.attributes)
        size = (
            f"about {row['employees']:.0f} staff and {row['customers']:.0f} customers"
            if not isinstance(row["employees"], str)
            else "a small unit (size suppressed)"
        )
        span = f"{start.strftime('%b %Y')}\u2013{d.periods[-1].strftime('%b %Y')}"
        self.summary.value = (
            "<div class='linkage-cards'><div class='linkage-card'>"
            f"<b>Unit {esc(u)}</b>{esc(attrs)}; "
            f"{esc(size)}.</div><div class='linkage-card link'><b>Where it stands ({esc(span)})</b>"
            + "<br>".join(esc(x) for x in lines)
            + "</div></div>"
        )
        key = (u, tuple(peers))
        if key not in self._figs:
            series = d.cache.get(("unit_png", key)) or unit_png(d, u, peers)
            d.cache.put(("unit_png", key), series)
            shown = () if row["suppressed"] else (u,)  # a suppressed unit is not pointed out
            skey = ("standing_png", shown, start.isoformat())
            standing = d.cache.get(skey)
            if standing is None:
                standing = quadrants_png(d, sel, highlight=shown)
                d.cache.put(skey, standing)
            self._figs = {key: (series, standing)}
        series, standing = self._figs[key]
        self.series.value = f"<img class='linkage-fig' alt='unit series' src='{data_uri(series)}'/>"
        self.standing.value = (
            f"<img class='linkage-fig' style='max-width:640px' alt='unit standing' "
            f"src='{data_uri(standing)}'/>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def unit_explorer(
    panel: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    unit: str | None = None,
    k: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> UnitExplorer:
    """Build the unit explorer for a panel (file, DataFrame or the default panel).

    Parameters
    ----------
    panel : path, DataFrame or None
        Default ``$LINKAGE_PANEL`` or the sample panel.
    unit : str, optional
        Unit to open; default the page's ``?unit=ID``, else the first unit.
    k : int
        Minimum number of people behind any figure shown.
    n_boot, seed : int
        Bootstrap settings (shared with the executive dashboard's cache).
    """
    frame = panel if isinstance(panel, pd.DataFrame) else load_panel(panel)
    data = DashboardData(frame, k=k, n_boot=n_boot, seed=seed)
    # draw the first unit before waiting for the page's request (a preheated kernel waits in
    # _query_string until a viewer arrives), so only a different ?unit= costs a redraw
    explorer = UnitExplorer(data, unit=unit)
    if unit is None:
        query = _query_string()
        wanted = unit_from_query(query, data.units)
        if wanted is not None and wanted != explorer.unit.value:
            explorer.unit.value = wanted
        asked = requested_unit(query)
        if wanted is None and asked is not None:
            explorer.not_found(asked)
    return explorer


def show_unit_explorer(
    panel: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    unit: str | None = None,
    **kwargs: Any,
) -> UnitExplorer | None:
    """Display a loading line, then the explorer (or one neutral line if it cannot load)."""
    return show_loading(
        lambda: unit_explorer(panel, unit=unit, **kwargs),
        loading="Loading the unit&rsquo;s figures",
        name="unit explorer",
        data="The unit explorer's data",
    )
