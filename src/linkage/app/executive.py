"""The executive dashboard: headline figures, filters, trends, quadrants, lag profile, caveats,
downloads, and the current view as a PDF (the board pack).

A notebook shows it with two lines (``notebooks/dashboards/executive.ipynb``)::

    from linkage.app import show_executive
    show_executive(PANEL)

Everything costly (reading the panel, the lag profiles of every group) happens once, when the
dashboard is built; a filter change slices precomputed arrays, redraws only the figures it affects
and reuses figures already drawn for the same selection.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import ipywidgets as widgets
import pandas as pd

from linkage.app import _render
from linkage.app._data import ALL, DashboardData, Selection, labels_of, load_panel
from linkage.app._pdf import PDF_MIME, pdf_filename, view_pdf
from linkage.app._render import (
    CAVEATS,
    UNIT_FIGURES,
    areas_from_bytes,
    areas_to_bytes,
    data_uri,
    esc,
    headline_sentences,
    lag_png,
    pointed_html,
    quadrants_drawn,
    table_view,
    trends_png,
    unit_table_html,
)
from linkage.app._safe import guarded, show_loading
from linkage.app._scopes import kernel_scope
from linkage.app._service_chain_data import is_sample_panel
from linkage.app.events_view import EventsView
from linkage.app.service_chain import ChainView
from linkage.io import neutralise_formulas

__all__ = ["ExecutiveDashboard", "executive_dashboard", "show_executive", "unit_table_csv", "CSS"]

CSS = """
<style>
.linkage-title {font-size: 22px; font-weight: 600; margin: 4px 0 2px 0;}
.linkage-scope {color: #555; margin-bottom: 6px;}
.linkage-viewer {color: #1b6ca8; font-size: 13px; margin-bottom: 6px;}
.linkage-cards {display: flex; gap: 12px; flex-wrap: wrap; margin: 6px 0;}
.linkage-card {flex: 1 1 260px; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px;
               background: #fafafa; font-size: 15px; line-height: 1.35;}
.linkage-card b {display: block; font-size: 12px; text-transform: uppercase; color: #666;
                 letter-spacing: .04em; margin-bottom: 3px;}
.linkage-card.link {flex: 2 1 420px; border-color: #1b6ca8; background: #f2f7fb;}
.linkage-card .linkage-order {margin-top: 6px;}
.linkage-caveats li {margin-bottom: 3px;}
.linkage-downloads a {margin-right: 16px;}
.linkage-pdf {display: flex; align-items: center; gap: 12px; margin: 4px 0;}
.linkage-pdf a {font-weight: 600;}
.linkage-table table {border-collapse: collapse; font-size: 12px;}
.linkage-table td, .linkage-table th {padding: 2px 8px; border-bottom: 1px solid #eee;
                                      text-align: right;}
.linkage-table td:first-child, .linkage-table th:first-child {text-align: left;}
.linkage-table th[aria-sort=ascending]::after {content: " \\25b2";}
.linkage-table th[aria-sort=descending]::after {content: " \\25bc";}
.linkage-table-count {color: #555; margin: 2px 0;}
img.linkage-fig {max-width: 100%; height: auto;}
.linkage-pointed {position: relative; display: inline-block; max-width: 100%; line-height: 0;}
.linkage-pointed img.linkage-fig {display: block;}
.linkage-point {position: absolute; transform: translate(-50%, -50%); border-radius: 50%;}
.linkage-point:hover, .linkage-point:focus {outline: 2px solid #c0002b; outline-offset: 1px;}
.linkage-tip {display: none; position: absolute; top: 50%; transform: translateY(-50%);
              z-index: 10; width: max-content; max-width: 260px; padding: 4px 7px;
              background: #fff; border: 1px solid #888; border-radius: 4px; color: #222;
              font-size: 12px; line-height: 1.35; pointer-events: none;
              box-shadow: 0 1px 4px rgba(0, 0, 0, .2);}
.linkage-point.tip-right .linkage-tip {left: calc(100% + 6px);}
.linkage-point.tip-left .linkage-tip {right: calc(100% + 6px);}
.linkage-point:hover .linkage-tip, .linkage-point:focus .linkage-tip {display: block;}
</style>
"""


def unit_table_csv(table: pd.DataFrame) -> bytes:
    """The suppressed unit table as CSV bytes, formulas neutralised (``linkage.io``).

    Examples
    --------
    >>> import pandas as pd
    >>> unit_table_csv(pd.DataFrame({"unit_id": ["=cmd"], "r": ["suppressed"]})).decode()
    "unit_id,r\\n'=cmd,suppressed\\n"
    """
    return neutralise_formulas(table).to_csv(index=False, lineterminator="\n").encode("utf-8")


class ExecutiveDashboard:
    """The executive dashboard's widgets and logic over a :class:`DashboardData`.

    Parameters
    ----------
    data : DashboardData
        The panel with its precomputations.
    cache_size : int
        How many drawn figure sets to keep (a viewer going back to a selection gets it at once).
    chain_sample : bool
        The panel is the repository's sample: the section "The whole chain" joins the sample's
        surveys and revenue (see :mod:`linkage.app.service_chain`).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole page.
    attribute, value, periods, lag : ipywidgets widgets
        The filters.
    headline, trends, quadrants, lag_plot, downloads, table, status : ipywidgets.HTML
        The outputs (figures are ``<img>`` with ``data:`` URIs). Over the quadrant figure, every
        unit it draws is a link (:func:`linkage.app._render.pointed_html`): hovering or focusing
        it shows the unit's name and figures, following it opens the unit explorer on it.
    table_find, table_sort, table_order : ipywidgets.Text, ipywidgets.Dropdown
        The unit table's text filter ("Find": unit id, attributes, quadrant), its column
        ("Sort by") and order; they act on the table while its section is open.
    pdf_button : ipywidgets.Button
        "Download this view (PDF)": builds the board pack of the current view (on click only).
    pdf_link : ipywidgets.HTML
        The built PDF as a download link (``data:`` URI, ``download`` attribute); emptied when the
        view changes, so a PDF of an earlier view is never offered.
    chain_view : ChainView
        The section "The whole chain" (computed when a viewer first opens it).
    events_view : EventsView
        The section "When someone leaves" (computed when a viewer first opens it).

    Examples
    --------
    >>> from linkage.app import executive_dashboard
    >>> dash = executive_dashboard(n_boot=200)
    >>> dash.value.value = "North"
    >>> "region North" in dash.title.value
    True
    """

    def __init__(
        self, data: DashboardData, *, cache_size: int = 64, chain_sample: bool = False
    ) -> None:
        self.data = data
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._quiet = False
        self._framed: set[tuple] = set()  # groups whose figure frames this kernel has drawn
        # on a scoped server, whose view this is (every figure is computed from it alone)
        viewer = kernel_scope()
        self._viewer_line = (
            ""
            if viewer is None or viewer.allowed is None
            else f"<div class='linkage-viewer'>Your view: {esc(viewer.describe())} only; every "
            "figure and total on this page is computed from these units alone.</div>"
        )
        d = data
        attr = d.default_attribute()
        lay = widgets.Layout(width="auto")
        style = {"description_width": "initial"}
        self.attribute = widgets.Dropdown(
            options=d.attributes or ["(none)"],
            value=attr or "(none)",
            description="Split by",
            style=style,
            layout=lay,
            disabled=not d.attributes,
        )
        self.value = widgets.Dropdown(
            options=self.value_options(attr),
            value=ALL,
            description="Show",
            style=style,
            layout=lay,
        )
        labels = labels_of(d.periods, d.freq())
        self.periods = widgets.SelectionRangeSlider(
            options=labels,
            index=(0, len(labels) - 1),
            description="Periods",
            style=style,
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
        )
        self.lag = widgets.IntSlider(
            value=d.best_lag,
            min=-d.max_lag,
            max=d.max_lag,
            description="Employees lead by (periods)",
            style=style,
            continuous_update=False,
            layout=widgets.Layout(width="360px"),
        )
        self.status = widgets.HTML()
        self.title = widgets.HTML()
        self.headline = widgets.HTML()
        self.trends = widgets.HTML()
        self.quadrants = widgets.HTML(layout=widgets.Layout(width="50%"))
        self.lag_plot = widgets.HTML(layout=widgets.Layout(width="50%"))
        self.downloads = widgets.HTML()
        self.table = widgets.HTML()
        self.pdf_button = widgets.Button(
            description="Download this view (PDF)",
            tooltip="The filters, headline, figures and caveats of this view as a PDF file",
            layout=widgets.Layout(width="auto"),
        )
        self.pdf_link = widgets.HTML()
        pdf_row = widgets.HBox([self.pdf_button, self.pdf_link])
        pdf_row.add_class("linkage-pdf")
        caveats = widgets.HTML(
            "<div class='linkage-caveats'><h4>Read with care</h4><ul>"
            + "".join(f"<li>{esc(c.format(k=d.k))}</li>" for c in CAVEATS)
            + "</ul></div>"
        )
        # the unit table sorts and filters in the kernel, with standard controls (keyboards and
        # screen readers reach them as they reach the filters above)
        table_columns = ["unit_id", *d.attributes, *UNIT_FIGURES, "quadrant"]
        self.table_find = widgets.Text(
            value="",
            description="Find",
            placeholder="unit, " + ", ".join([*d.attributes, "quadrant"]),
            style=style,
            layout=widgets.Layout(width="320px"),
        )
        self.table_sort = widgets.Dropdown(
            options=[(c.replace("_", " ").replace("unit id", "unit"), c) for c in table_columns],
            value="unit_id",
            description="Sort by",
            style=style,
            layout=lay,
        )
        self.table_order = widgets.Dropdown(
            options=[("ascending", False), ("descending", True)],
            value=False,
            description="Order",
            style=style,
            layout=lay,
        )
        table_controls = widgets.HBox(
            [self.table_find, self.table_sort, self.table_order],
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="8px"),
        )
        self.table_box = table_box = widgets.Accordion(
            children=[widgets.VBox([self.downloads, table_controls, self.table])],
            titles=("Downloads and the unit table",),
        )
        filters = widgets.HBox(
            [self.attribute, self.value, self.periods, self.lag],
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="8px"),
        )
        # the whole chain (surveys, revenue, segments): its own closed section, computed only when
        # first opened
        self.chain_view = ChainView(data, sample=chain_sample)
        self.events_view = EventsView(data, sample=chain_sample)  # "When someone leaves", likewise
        self.widget = widgets.VBox(
            [
                widgets.HTML(CSS),
                self.title,
                filters,
                self.status,
                pdf_row,
                self.headline,
                self.trends,
                widgets.HBox([self.quadrants, self.lag_plot]),
                caveats,
                table_box,
                self.chain_view.widget,
                self.events_view.widget,
            ],
            layout=widgets.Layout(max_width="1200px"),
        )
        self.widget.add_class("linkage-executive")

        on_change = guarded(self.status)(self._on_change)
        on_attribute = guarded(self.status)(self._on_attribute)
        self.attribute.observe(on_attribute, names="value")
        for w in (self.value, self.periods, self.lag):
            w.observe(on_change, names="value")
        # the unit table and the downloads (every figure again, as data: URIs) are built and sent
        # only while their section is open, not with every filter change
        table_box.observe(guarded(self.status)(self._on_open), names="selected_index")
        on_table = guarded(self.status)(self._on_table)
        for w in (self.table_find, self.table_sort, self.table_order):
            w.observe(on_table, names="value")
        # the PDF is built when asked for, never on a filter change
        self.pdf_button.on_click(guarded(self.status)(self._on_pdf))
        self.warm()
        self.update()

    # ---- state -----------------------------------------------------------------------------
    def value_options(self, attr: str | None) -> list[str]:
        """The "Show" options for an attribute: every unit, then each of its values."""
        return [ALL] if attr is None else [ALL, *self.data.values[attr]]

    def selection(self) -> Selection:
        """The viewer's current choice as a :class:`Selection`."""
        attr = self.attribute.value if self.data.attributes else None
        lo, hi = self.periods.index
        return Selection(
            attribute=attr,
            value=self.value.value,
            start=self.data.periods[lo],
            end=self.data.periods[hi],
            lag=int(self.lag.value),
        )

    def _on_attribute(self, change: dict[str, Any]) -> None:
        self._quiet = True
        try:
            self.value.options = self.value_options(change["new"])
            self.value.value = ALL
        finally:
            self._quiet = False
        self.update()

    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.update()

    def _on_open(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.update_downloads()

    def _on_table(self, change: dict[str, Any]) -> None:
        if self.table_box.selected_index is not None:
            self.update_table()

    def _base_key(self, sel: Selection) -> tuple:
        lo, hi = self.data.range_codes(sel)
        return (sel.attribute, sel.value, lo, hi)

    def _remember(self, key: tuple[Any, ...], value: bytes) -> bytes:
        self._cache[key] = value
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value

    def figure(self, name: str, sel: Selection) -> bytes:
        """PNG bytes of one figure (``trends``, ``quadrants`` or ``lag_profile``), drawn once and
        cached.

        The trends and quadrants depend on the group and period range only; the lag profile also
        rings the chosen lag, so a lag change redraws that one figure alone.
        """
        base = self._base_key(sel)
        key = (*base, "lag", sel.lag) if name == "lag_profile" else base
        full = ("png", name, *key)
        if full in self._cache:
            self._cache.move_to_end(full)
            return self._cache[full]
        b = self.data.cache.get(full)
        if b is None:
            if name == "quadrants":  # drawn with where its units are, kept beside it
                b, areas = quadrants_drawn(self.data, sel)
                self.data.cache.put(("areas", *key), areas_to_bytes(areas))
            else:
                b = {"trends": trends_png, "lag_profile": lag_png}[name](self.data, sel)
            self.data.cache.put(full, b)
        return self._remember(full, b)

    def quadrant_areas(self, sel: Selection) -> pd.DataFrame:
        """Where each unit of the quadrant figure is drawn, and its figures (the areas of
        :func:`linkage.app._render.quadrants_drawn`), kept beside the figure in the caches.

        Only the units the figure draws: those of this viewer's data, not suppressed.
        """
        full = ("areas", *self._base_key(sel))
        b = self._cache.get(full)
        if b is None:
            b = self.data.cache.get(full)
        if b is None:
            png, areas = quadrants_drawn(self.data, sel)
            b = areas_to_bytes(areas)
            self.data.cache.put(full, b)
            self.data.cache.put(("png", "quadrants", *full[1:]), png)
        self._remember(full, b)
        return areas_from_bytes(b)

    def figures(self, sel: Selection) -> dict[str, bytes]:
        """PNG bytes of the three figures for a selection (see :meth:`figure`)."""
        return {name: self.figure(name, sel) for name in ("trends", "quadrants", "lag_profile")}

    def warm(self) -> None:
        """Get the figures every value of the current attribute shows first (at start), and draw
        this process's figure frames for each of them.

        The figures themselves usually come from the disk cache that ``linkage dashboard`` warmed;
        the frames (axes, ticks, labels: most of a figure's drawing time) live in this kernel, so
        they are drawn here, while Voila preheats the kernel, not at a viewer's first filter change
        (a viewer who picks a region and then a period range no warm-up drew would otherwise wait
        for that region's trend grid to be built).
        """
        sel = self.selection()
        for v in self.value.options:
            one = Selection(sel.attribute, v, sel.start, sel.end, sel.lag)
            self.figures(one)
            self._draw_frames(one)

    def _draw_frames(self, sel: Selection) -> None:
        """Draw this kernel's figure frames for the selection's group, once per group."""
        group = (sel.attribute, sel.value)
        if group not in self._framed:
            self._framed.add(group)
            for draw in (_render.trends_png, _render.quadrants_png, _render.lag_png):
                draw(self.data, sel)

    # ---- drawing ---------------------------------------------------------------------------
    def update(self) -> None:
        """Show the current selection (what each filter change calls); unchanged outputs are not
        resent."""
        sel = self.selection()
        if self.pdf_link.value:  # a PDF of the previous view is no longer this view
            self.pdf_link.value = ""
        # the cheap outputs first, each sent as soon as it is ready (the page updates
        # progressively);
        # the lag profile, whose bootstrap is the costly part of a new range, last
        self.trends.value = self._img(self.figure("trends", sel), "Trends by group")
        s = headline_sentences(self.data, sel)
        self.title.value = (
            "<div class='linkage-title'>Do units that keep their staff keep their customers?</div>"
            f"<div class='linkage-scope'>{esc(s['scope'])} &middot; {esc(s['n_units'])} units</div>"
            + self._viewer_line
        )
        self.headline.value = (
            "<div class='linkage-cards'>"
            f"<div class='linkage-card'><b>Staff</b>{esc(s['employee'])}</div>"
            f"<div class='linkage-card'><b>Customers</b>{esc(s['customer'])}</div>"
            f"<div class='linkage-card link'><b>The link</b>{esc(s['link'])}"
            f"<div class='linkage-order'>{esc(s['direction'])}</div></div></div>"
        )
        self.quadrants.value = pointed_html(
            self.figure("quadrants", sel), self.quadrant_areas(sel), "Units in quadrants"
        )
        self.lag_plot.value = self._img(self.figure("lag_profile", sel), "Lag profile")
        if self.table_box.selected_index is not None:
            self.update_downloads()
        # a group first shown from the disk cache (another attribute's value, say) gets its frames
        # now, after the page has its figures, so the viewer's next period range is quick too
        self._draw_frames(sel)

    def update_downloads(self) -> None:
        """Fill the unit table and the downloads for the current selection (when their section
        opens)."""
        sel = self.selection()
        figs = self.figures(sel)  # all three already in the in-memory cache
        table = self.data.unit_table(sel)
        self.update_table()
        links = [
            (
                "linkage_units.csv",
                data_uri(unit_table_csv(table), "text/csv"),
                "Unit table (CSV, small groups suppressed)",
            )
        ]
        links += [
            (f"linkage_{name}.png", data_uri(b), f"Figure: {name.replace('_', ' ')} (PNG)")
            for name, b in figs.items()
        ]
        self.downloads.value = (
            "<div class='linkage-downloads'>"
            + "".join(
                f"<a download='{esc(fn)}' href='{uri}'>{esc(text)}</a>" for fn, uri, text in links
            )
            + "</div>"
        )

    def update_table(self) -> None:
        """Show the unit table of the current selection as the table's controls ask: the rows
        holding the "Find" text, sorted by "Sort by" in "Order" (see
        :func:`linkage.app._render.table_view`)."""
        table = self.data.unit_table(self.selection())
        shown = table_view(
            table,
            by=self.table_sort.value,
            descending=bool(self.table_order.value),
            find=self.table_find.value,
        )
        rows = f"{len(shown)} of {len(table)} units" if len(shown) < len(table) else ""
        table_html = (
            f"<div class='linkage-table' aria-live='polite'>"
            f"<div class='linkage-table-count'>{esc(rows)}</div>"
            f"{unit_table_html(shown, sort=(self.table_sort.value, bool(self.table_order.value)))}"
            "</div>"
        )
        if self.table.value != table_html:
            self.table.value = table_html

    # ---- the board pack --------------------------------------------------------------------
    def view_filters(self) -> list[tuple[str, str]]:
        """The current view's filters as the page shows them: ``(label, value)`` pairs."""
        out = []
        if self.data.attributes:
            out.append((self.attribute.description, str(self.attribute.value)))
        out.append((self.value.description, str(self.value.value)))
        lo, hi = self.periods.value
        out.append((self.periods.description, lo if lo == hi else f"{lo} \u2013 {hi}"))
        out.append((self.lag.description, str(int(self.lag.value))))
        return out

    def pdf_name(self) -> str:
        """The board pack's download name, naming the current view (``linkage-view-....pdf``)."""
        sel = self.selection()
        parts = [sel.attribute or "", str(sel.value), *self.periods.value, f"lag {sel.lag}"]
        return pdf_filename(parts)

    def board_pack(self) -> bytes:
        """The current view as PDF bytes: its filters, headline cards, figures and caveats, and
        the section "When someone leaves" when the viewer has it open (its findings in words,
        its pictures and caveats).

        Built only from what the view holds (the same sentences and the same drawn, suppressed
        figures the page shows); nothing is read again.
        """
        sel = self.selection()
        s = headline_sentences(self.data, sel)
        figs = self.figures(sel)
        # "When someone leaves", when the viewer has it open: its words, pictures and caveats
        event_words, event_pictures, event_caveats = self.events_view.board()
        return view_pdf(
            title="Do units that keep their staff keep their customers?",
            filters=[*self.view_filters(), ("Units in this view", s["n_units"])],
            cards=[
                ("Staff", s["employee"]),
                ("Customers", s["customer"]),
                ("The link", f"{s['link']} {s['direction']}"),
                *event_words,
            ],
            figures=[
                ("Trends by group", figs["trends"]),
                ("Units in quadrants", figs["quadrants"]),
                ("Lag profile", figs["lag_profile"]),
                *event_pictures,
            ],
            caveats=[*(c.format(k=self.data.k) for c in CAVEATS), *event_caveats],
            note=f"Figures from fewer than {self.data.k} people are suppressed throughout.",
        )

    def update_pdf(self) -> None:
        """Build the board pack of the current view and offer it as a download link."""
        pdf = self.board_pack()
        name = self.pdf_name()
        self.pdf_link.value = (
            f"<a download='{esc(name)}' href='{data_uri(pdf, PDF_MIME)}'>"
            f"Save {esc(name)} ({max(1, round(len(pdf) / 1024))} kB)</a>"
        )

    def _on_pdf(self, button: widgets.Button) -> None:
        self.pdf_button.disabled = True
        self.pdf_link.value = ""  # a failed build leaves no earlier file on offer
        try:
            self.update_pdf()
        finally:
            self.pdf_button.disabled = False

    @staticmethod
    def _img(b: bytes, alt: str) -> str:
        return f"<img class='linkage-fig' alt='{esc(alt)}' src='{data_uri(b)}'/>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def executive_dashboard(
    panel: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    k: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> ExecutiveDashboard:
    """Build the executive dashboard for a panel (file, DataFrame, or the default panel).

    Parameters
    ----------
    panel : path, DataFrame or None
        The unit x period panel; default ``$LINKAGE_PANEL`` or the sample panel.
    k : int
        Minimum number of people behind any figure shown.
    n_boot : int
        Bootstrap resamples for the lag profiles' intervals.
    seed : int
        Bootstrap seed.

    Returns
    -------
    ExecutiveDashboard
    """
    frame = panel if isinstance(panel, pd.DataFrame) else load_panel(panel)
    data = DashboardData(frame, k=k, n_boot=n_boot, seed=seed)
    data.precompute()
    return ExecutiveDashboard(data, chain_sample=is_sample_panel(panel))


def show_executive(
    panel: str | os.PathLike[str] | pd.DataFrame | None = None, **kwargs: Any
) -> ExecutiveDashboard | None:
    """Display a loading line, build the dashboard, then show it in place of the line.

    Errors while loading show one neutral line (with a reference to the server log), never a
    traceback. Returns the dashboard (None when it could not be built).
    """
    return show_loading(
        lambda: executive_dashboard(panel, **kwargs),
        loading="Loading the retention figures",
        name="executive dashboard",
        data="The dashboard's data",
    )
