"""Figures and sentences of the executive view, shared by the dashboards and the static report.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot state, nothing left open) and
returned as PNG bytes; :func:`data_uri` turns bytes into the ``data:`` URI an ``<img>`` shows. The
executive figures go through :func:`linkage.app._blit.frame_png`: a frame (axes, ticks, labels) is
drawn once per process and layout, and only the data of each selection is drawn on it, which keeps a
filter change well under the time a viewer notices.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import cast
from urllib.parse import quote

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from linkage import words
from linkage.app._blit import DPI, frame_png, snap_limits
from linkage.app._data import ALL, DashboardData, Selection
from linkage.stats.direction import SHORT_PANEL, SHORT_PANEL_FALSE_VERDICTS
from linkage.viz import lag_profile_plot, quadrant_plot, trend_grid, unit_plot

__all__ = [
    "png",
    "data_uri",
    "trends_png",
    "quadrants_png",
    "quadrants_drawn",
    "AREA_COLUMNS",
    "EXPLORER",
    "unit_name",
    "areas_to_bytes",
    "areas_from_bytes",
    "point_text",
    "pointed_html",
    "lag_png",
    "unit_png",
    "headline_sentences",
    "link_words",
    "direction_words",
    "unit_table_html",
    "table_view",
    "UNIT_FIGURES",
    "esc",
    "CAVEATS",
]

CAVEATS = (
    "A correlation between units' retention figures is not proof that one causes the other; "
    "shared causes (local labour markets, management, seasons) can move both.",
    "The link is measured within units over time, so it is not driven by some units simply being "
    "bigger or better run; it says nothing about individual people (no person-level claims).",
    "Customers can also drive staff: a unit losing customers can demoralise its staff. The lag "
    "profile shows both directions; positive lags mean employee changes come first.",
    '"Which way it runs" is one test: does the past of staff retention predict later customer '
    "retention more strongly than the reverse? It says which changes tend to come first, not what "
    "causes what: something else that reaches one side sooner would look the same.",
    "Small units swing widely by chance: figures from fewer than {k} people are not shown "
    '("suppressed"), nor any figure that would let them be worked out from a total.',
    "Published studies report corrected correlations around 0.3 (Harter et al. 2002); an observed "
    "correlation in one company's own data is usually smaller.",
)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of some bytes.

    Examples
    --------
    >>> data_uri(b"hi", "text/plain")
    'data:text/plain;base64,aGk='
    """
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _attr(d: DashboardData, sel: Selection) -> tuple[pd.DataFrame, str]:
    rows = d.trend_rows(sel)
    if sel.attribute is None:
        return rows.assign(group=ALL), "group"
    return rows, sel.attribute


OUTSIDE = "#d9d9d9"  # shade over the periods outside the chosen range


def trends_png(d: DashboardData, sel: Selection) -> bytes:
    """Trend small multiples over every period, one panel per value of the selection's attribute.

    The periods outside the selection's range are shaded grey, so the chosen range is seen against
    the whole history (the lines themselves do not depend on the range, and are drawn once).
    """
    whole = Selection(sel.attribute, sel.value, None, None, sel.lag)
    rows, by = _attr(d, whole)
    n = rows[by].nunique()
    ncols = max(n, 1) if n <= 5 else 4
    nrows = int(np.ceil(max(n, 1) / ncols))
    height = 2.3 * nrows + 0.7
    lo, hi = d.range_codes(sel)
    dates = mdates.date2num(pd.DatetimeIndex(d.periods))
    half = (dates[1] - dates[0]) / 2 if len(dates) > 1 else 15.0
    left = dates[lo] - half if lo > 0 else None
    right = dates[hi] + half if hi < len(dates) - 1 else None

    def build(fig: Figure) -> None:
        trend_grid(rows, by=by, ncols=ncols, min_n=d.k, fig=fig)
        fig.subplots_adjust(
            left=0.05,
            right=0.95,
            bottom=0.45 / height,
            top=1 - 0.7 / height,
            wspace=0.12,
            hspace=0.45,
        )
        if fig.texts:
            fig.texts[0].set_text(
                fig.texts[0].get_text() + "; grey: periods outside the chosen range"
            )

    def draw(fig: Figure) -> None:
        # what axvspan draws, without its bookkeeping of the data limits (a third of the redraw)
        for ax in fig.axes:
            x0, x1 = ax.get_xlim()
            for a, b in ((x0, left), (right, x1)):
                if a is not None and b is not None:
                    ax.add_artist(
                        Rectangle(
                            (a, 0),
                            b - a,
                            1,
                            transform=ax.get_xaxis_transform(),
                            color=OUTSIDE,
                            alpha=0.55,
                            lw=0,
                            zorder=3,
                        )
                    )

    key = ("trends", d.fingerprint, sel.attribute, sel.value if sel.attribute is not None else ALL)
    return frame_png(key, figsize=(13, height), build=build, draw=draw, keep_data=True)


def _rate_limits(values: pd.Series) -> tuple[float, float]:
    """Axis limits for retention rates: whole 5-point steps (so most selections share a frame),
    never beyond 0 % and 100 % by more than a marker's room."""
    lo, hi = snap_limits(values.min(), values.max(), steps=(0.05, 0.1, 0.2, 0.5, 1.0))
    return max(lo, -0.01), min(hi, 1.01)


#: Columns of :func:`quadrant_areas`: where each drawn unit is on the quadrant image, and what a
#: pointer on it shows.
AREA_COLUMNS = (
    "unit_id",
    "name",
    "x",
    "y",
    "r",
    "employee_retention",
    "customer_retention",
    "employees",
    "customers",
)


def unit_name(d: DashboardData, unit_id: str) -> str:
    """A unit as the dashboards name it: its identifier and the value of the default attribute
    (``"001 (Central-1)"``), or the identifier alone."""
    a = d.default_attribute()
    return f"{unit_id} ({str(d.unit_attrs.at[unit_id, a])})" if a else str(unit_id)


def quadrants_drawn(
    d: DashboardData, sel: Selection, highlight: tuple[str, ...] = ()
) -> tuple[bytes, pd.DataFrame]:
    """The quadrant figure as PNG bytes and where each unit it draws sits on the image.

    Units with suppressed figures are neither drawn nor located. The locations are taken from the
    axes' data transform when the units are drawn, so they are where the markers are.

    Returns
    -------
    png : bytes
    areas : DataFrame
        One row per drawn unit, columns :data:`AREA_COLUMNS`: ``x`` and ``y`` the marker's centre
        as fractions of the image's width (from the left) and height (from the top), ``r`` the
        marker's radius in image pixels, ``name`` from :func:`unit_name`, and the unit's figures
        as the unit table shows them (rates as fractions, people as average numbers at the start
        of a period).
    """
    t = d.unit_table(sel)
    shown = t.loc[~t["suppressed"]].copy()
    for c in ("employee_retention", "customer_retention", "employees", "customers"):
        shown[c] = pd.to_numeric(shown[c])
    hidden = int(t["suppressed"].sum())
    xlim, ylim = (_rate_limits(shown[c]) for c in ("employee_retention", "customer_retention"))
    drawn = shown.loc[shown["employee_retention"].notna() & shown["customer_retention"].notna()]
    where: list[np.ndarray] = []

    def plot(fig: Figure) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        before = len(ax.collections)
        quadrant_plot(shown, size="employees", highlight=highlight, ax=ax)
        if hidden:
            ax.set_title(
                f"Where each unit stands ({len(shown)} units; {hidden} small units not shown)",
                fontsize=10,
                y=1.0,
            )
        # the units' markers, in display pixels (origin bottom left) of this figure's canvas
        units = cast(PathCollection, ax.collections[before])
        width, height = fig.canvas.get_width_height()
        px = ax.transData.transform(np.asarray(units.get_offsets(), dtype=float).reshape(-1, 2))
        sizes = np.broadcast_to(units.get_sizes(), (len(px),))
        radius = np.sqrt(sizes) / 2 * fig.dpi / 72  # marker area in points^2 -> radius in pixels
        where[:] = [px[:, 0] / width, 1 - px[:, 1] / height, radius]

    def build(fig: Figure) -> None:
        fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.92)
        plot(fig)

    png = frame_png("quadrants", figsize=(6.4, 4.6), build=build, draw=plot, xlim=xlim, ylim=ylim)
    areas = pd.DataFrame(
        {
            "unit_id": drawn["unit_id"].astype(str).to_numpy(),
            "name": [unit_name(d, u) for u in drawn["unit_id"]],
            "x": where[0],
            "y": where[1],
            "r": where[2],
            **{
                c: drawn[c].to_numpy(dtype=float)
                for c in ("employee_retention", "customer_retention", "employees", "customers")
            },
        },
        columns=list(AREA_COLUMNS),
    )
    return png, areas


def quadrants_png(d: DashboardData, sel: Selection, highlight: tuple[str, ...] = ()) -> bytes:
    """Units in quadrants (units with suppressed figures left out)."""
    return quadrants_drawn(d, sel, highlight)[0]


def areas_to_bytes(areas: pd.DataFrame) -> bytes:
    """:func:`quadrants_drawn`'s areas as JSON bytes (what the disk cache keeps beside the PNG)."""
    return areas.to_json(orient="split", index=False).encode("utf-8")


def areas_from_bytes(b: bytes) -> pd.DataFrame:
    """The areas :func:`areas_to_bytes` wrote."""
    doc = json.loads(b.decode("utf-8"))
    out = pd.DataFrame(doc["data"], columns=doc["columns"])
    return out.astype({"unit_id": str, "name": str})


def point_text(
    name: str,
    employee_retention: float,
    customer_retention: float,
    employees: float,
    customers: float,
) -> str:
    """What a pointer on a unit of the quadrant shows: its name and figures.

    Examples
    --------
    >>> print(point_text("001 (North)", 0.931, 0.96, 10.0, 150.4))  # doctest: +NORMALIZE_WHITESPACE
    Unit 001 (North): employee retention 93.1%, customer retention 96.0%;
    about 10 employees and 150 customers
    """
    return (
        f"Unit {name}: employee retention {_pct(employee_retention)}, "
        f"customer retention {_pct(customer_retention)}; "
        f"about {employees:,.0f} employees and {customers:,.0f} customers"
    )


EXPLORER = "unit_explorer.ipynb"


def pointed_html(png: bytes, areas: pd.DataFrame, alt: str, *, explorer: str = EXPLORER) -> str:
    """The figure with a link over every unit it draws: hovering or focusing one shows its name
    and figures (:func:`point_text`), following it opens the unit explorer on it
    (``unit_explorer.ipynb?unit=ID``, in the same tab). No script: plain links, so the keyboard
    reaches every unit (Tab) and a screen reader reads each link's text.

    Examples
    --------
    >>> areas = pd.DataFrame({"unit_id": ["001"], "name": ["001"], "x": [0.25], "y": [0.5],
    ...                       "r": [4.0], "employee_retention": [0.9], "customer_retention": [0.8],
    ...                       "employees": [12.0], "customers": [300.0]})
    >>> html_ = pointed_html(b"png", areas, "Units in quadrants")
    >>> "href='unit_explorer.ipynb?unit=001'" in html_, "left:25.00%;top:50.00%" in html_
    (True, True)
    """
    links = []
    xs, ys, rs, er, cr, ne, nc = (areas[c].to_numpy(dtype=float) for c in AREA_COLUMNS[2:])
    units, names = areas["unit_id"].astype(str), areas["name"].astype(str)
    for i, (unit, name) in enumerate(zip(units, names, strict=True)):
        text = esc(point_text(name, er[i], cr[i], ne[i], nc[i]))
        side = "left" if xs[i] > 0.6 else "right"  # the tip opens towards the middle
        size = max(12.0, 2 * rs[i])
        links.append(
            f"<a class='linkage-point tip-{side}' href='{explorer}?unit={quote(unit)}' "
            f"style='left:{100 * xs[i]:.2f}%;top:{100 * ys[i]:.2f}%;"
            f"width:{size:.0f}px;height:{size:.0f}px' data-unit='{esc(unit)}' "
            f"aria-label='{text}'>"
            f"<span class='linkage-tip'>{text}</span></a>"
        )
    return (
        "<div class='linkage-pointed'>"
        f"<img class='linkage-fig' alt='{esc(alt)}' src='{data_uri(png)}'/>"
        + "".join(links)
        + "</div>"
    )


def lag_png(d: DashboardData, sel: Selection) -> bytes:
    """The lag profile of the selection, the chosen lag ringed."""
    prof = d.profile(sel)
    lags = tuple(int(v) for v in prof["lag"])
    values = prof[["r", "ci_low", "ci_high"]].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    ylim = snap_limits(
        min(finite.min(initial=0.0), 0.0),
        max(finite.max(initial=0.0), 0.0),
        steps=(0.1, 0.2, 0.25, 0.5, 1.0),
        max_ticks=8,
    )

    def plot(fig: Figure) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        lag_profile_plot(prof, best=sel.lag, ax=ax)

    def build(fig: Figure) -> None:
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)
        plot(fig)

    return frame_png(("lag", lags), figsize=(6.4, 4.6), build=build, draw=plot, ylim=ylim)


def unit_png(d: DashboardData, unit_id: str, peers: list[str]) -> bytes:
    """A unit's two series against its peers (figures from fewer than k people masked)."""
    series = d.unit_series
    cols = ["employee_retention", "customer_retention"]
    mine = series.loc[series["unit_id"] == unit_id, cols].to_numpy(dtype=float)
    others = series.loc[series["unit_id"].isin(peers) & (series["unit_id"] != unit_id)]
    band = others.groupby("period")[cols].quantile(np.array([0.25, 0.75])).to_numpy(dtype=float)
    values = np.concatenate([mine.ravel(), band.ravel()])
    values = values[np.isfinite(values)]
    ylim = _rate_limits(pd.Series(values)) if len(values) else (0.0, 1.0)

    def plot(fig: Figure) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        unit_plot(series, unit_id=unit_id, peers=peers, ax=ax)

    def build(fig: Figure) -> None:
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.92)
        plot(fig)

    return frame_png(("unit", d.fingerprint), figsize=(9, 4.0), build=build, draw=plot, ylim=ylim)


def _pct(v: float) -> str:
    return "suppressed" if not np.isfinite(v) else f"{100 * v:.1f}%"


def _span(a: pd.Timestamp | None, b: pd.Timestamp | None) -> str:
    if a is None or b is None:
        return ""
    a, b = pd.Timestamp(a), pd.Timestamp(b)
    return a.strftime("%b %Y") if a == b else f"{a.strftime('%b %Y')}\u2013{b.strftime('%b %Y')}"


def link_words(
    r: float, ci_low: float, ci_high: float, p_adj: float, lag: int, unit: str = "month"
) -> str:
    """An executive's sentence for a within-unit correlation at a lag.

    Examples
    --------
    >>> print(link_words(0.32, 0.2, 0.43, 0.001, 1))  # doctest: +NORMALIZE_WHITESPACE
    Moderate link: in months after a unit keeps more of its staff, it keeps more of its customers
    1 month later (r = 0.32, 95% interval 0.20 to 0.43; unlikely to be chance).
    >>> print(link_words(0.03, -0.05, 0.11, 0.6, 0))  # doctest: +NORMALIZE_WHITESPACE
    No clear link: a unit keeping more of its staff does not reliably keep more of its customers
    in the same month (r = 0.03, 95% interval -0.05 to 0.11; could well be chance).
    """
    if not np.isfinite(r):
        return "Not enough data in this selection to measure the link."
    clear = np.isfinite(p_adj) and p_adj < 0.05 and (ci_low > 0 or ci_high < 0)
    strength = words.strength(r, capital=True)
    when = words.lag_phrase(lag, step=unit)
    numbers = words.r_interval(r, ci_low, ci_high)
    if not clear:
        return (
            f"No clear link: a unit keeping more of its staff does not reliably keep more of its "
            f"customers {when} ({numbers}; could well be chance)."
        )
    if r > 0 and lag > 0:
        what = (
            f"in {unit}s after a unit keeps more of its staff, it keeps more of its customers "
            f"{when}"
        )
    elif r > 0 and lag == 0:
        what = (
            f"in {unit}s when a unit keeps more of its staff, it also keeps more of its customers"
        )
    elif r > 0:
        what = (
            f"a unit keeps more of its staff {words.plural(-lag, unit)} after it "
            f"keeps more of its customers (customers lead)"
        )
    else:
        what = f"when a unit keeps more of its staff, it keeps fewer of its customers {when}"
    return f"{strength} link: {what} ({numbers}; unlikely to be chance)."


def direction_words(v: dict) -> str:
    """An executive's sentence for :meth:`DashboardData.direction`: which way the link runs.

    The order named comes from the verdict of the difference test alone, with its p-value; a
    group too small or a range too short gets no verdict and the reason; a range shorter than
    ``SHORT_PANEL`` periods says so, and with a named order what that costs (false orders measured
    in ``benchmarks/direction_study.py``).

    Examples
    --------
    >>> v = {"verdict": "employees_lead", "p_val": 0.011, "n_units": 40, "min_units": 5,
    ...      "n_periods": 36, "short": False, "step": "month"}
    >>> print(direction_words(v))  # doctest: +NORMALIZE_WHITESPACE
    Which way it runs: staff changes come before customer changes, more than the other way round
    (difference test p = 0.011).
    >>> print(direction_words({**v, "verdict": "too_few_units", "n_units": 3}))
    ... # doctest: +NORMALIZE_WHITESPACE
    Which way it runs: not shown, as this selection has 3 units and the comparison is given for
    5 or more.
    """
    step = str(v["step"])
    if v["verdict"] == "too_few_units":
        return (
            f"Which way it runs: not shown, as this selection has "
            f"{words.plural(int(v['n_units']), 'unit')} and the comparison is given for "
            f"{int(v['min_units'])} or more."
        )
    if v["verdict"] == "not_tested":
        return (
            f"Which way it runs: not tested, as too few units have enough consecutive {step}s "
            "in this range."
        )
    p = v["p_val"]
    if p is None or not np.isfinite(p):
        return "Which way it runs: the comparison could not be computed for this selection."
    text = words.order_headline(str(v["verdict"]), float(p))
    if v["short"]:
        at, rate = SHORT_PANEL_FALSE_VERDICTS
        text += " " + words.order_short_caveat(
            int(v["n_periods"]),
            short=SHORT_PANEL,
            measured_at=at,
            false_rate=rate,
            step=step,
            named=v["verdict"] != "no_clear_order",
        )
    return text


def headline_sentences(d: DashboardData, sel: Selection) -> dict[str, str]:
    """The headline texts: ``employee``, ``customer``, ``link``, ``direction`` (which way the link
    runs, :func:`direction_words`), ``scope``, ``n_units`` (plain strings)."""
    h = d.headline(sel)
    unit = words.period_word(d.freq())
    now = _span(h["now_from"], h["now_to"])
    ago = _span(h["year_ago_from"], h["year_ago_to"])

    def side(name: str, key: str) -> str:
        text = f"{name} retention {_pct(h[key + '_now'])} a {unit} ({now})"
        if ago:
            diff = h[key + "_now"] - h[key + "_year_ago"]
            if np.isfinite(diff):
                trend = "up" if diff > 0.0005 else "down" if diff < -0.0005 else "level"
                text += (
                    f"; a year earlier {_pct(h[key + '_year_ago'])} "
                    f"({trend} {abs(100 * diff):.1f} pts)"
                )
            else:
                text += f"; a year earlier {_pct(h[key + '_year_ago'])}"
        return text + "."

    lo, hi = d.range_codes(sel)
    scope = ALL if sel.attribute is None or sel.value == ALL else f"{sel.attribute} {sel.value}"
    return {
        "employee": side("Employee", "employee"),
        "customer": side("Customer", "customer"),
        "link": link_words(h["r"], h["ci_low"], h["ci_high"], h["p_adj"], sel.lag, unit),
        "direction": direction_words(d.direction(sel)),
        "scope": f"{scope}, {_span(d.periods[lo], d.periods[hi])}",
        "n_units": str(int(h["n_units"])) if np.isfinite(h["n_units"]) else "0",
    }


def esc(text: str) -> str:
    """HTML-escape a text for the page."""
    return html.escape(str(text), quote=True)


def unit_table_html(t: pd.DataFrame, sort: tuple[str, bool] | None = None) -> str:
    """The suppressed unit table as an HTML table: rates in %, counts with thousands separators.

    ``sort``, ``(column, descending)``, marks the column the rows are sorted by with ``aria-sort``
    (screen readers announce it; the page's style sheet draws an arrow from it).

    Examples
    --------
    >>> t = pd.DataFrame({"unit_id": ["a"], "employee_retention": [0.9], "customer_retention":
    ...                   ["suppressed"], "employees": [1200.0], "customers": [3.0],
    ...                   "suppressed": [False]})
    >>> "<td>90.0%</td>" in unit_table_html(t), "<td>1,200</td>" in unit_table_html(t)
    (True, True)
    """
    show = t.drop(columns=["suppressed", "suppression"], errors="ignore").copy()
    for c in ("employee_retention", "customer_retention"):
        show[c] = [
            v if isinstance(v, str) else ("" if not np.isfinite(v) else f"{100 * v:.1f}%")
            for v in show[c]
        ]
    for c in ("employees", "customers"):
        show[c] = [v if isinstance(v, str) else f"{v:,.0f}" for v in show[c]]
    show.columns = [c.replace("_", " ") for c in show.columns]
    out = show.to_html(index=False, escape=True, border=0, classes="dataframe")
    if sort is not None and sort[0] in t.columns:
        name = esc(sort[0].replace("_", " "))
        how = "descending" if sort[1] else "ascending"
        out = out.replace(f"<th>{name}</th>", f"<th aria-sort='{how}'>{name}</th>", 1)
    return out


#: The unit table's figures, in its column order.
UNIT_FIGURES = ("employees", "customers", "employee_retention", "customer_retention")


def table_view(
    t: pd.DataFrame, *, by: str = "unit_id", descending: bool = False, find: str = ""
) -> pd.DataFrame:
    """The unit table as a viewer asked to see it: rows whose unit id, attributes or quadrant
    hold ``find`` (any case), sorted by the column ``by``.

    Numbers sort as numbers; suppressed and missing figures come last either way (a suppressed
    figure has no place in an order: putting it first or last by its true value would tell it).

    Examples
    --------
    >>> t = pd.DataFrame({"unit_id": ["a", "b", "c"], "region": ["North", "South", "North"],
    ...                   "employee_retention": [0.9, "suppressed", 0.95]})
    >>> table_view(t, by="employee_retention", descending=True)["unit_id"].tolist()
    ['c', 'a', 'b']
    >>> table_view(t, find="north")["unit_id"].tolist()
    ['a', 'c']
    """
    out = t
    needle = find.strip().lower()
    if needle:
        words = [*UNIT_FIGURES, "suppressed", "suppression"]
        shown = t.drop(columns=words, errors="ignore").astype(str)
        hit = np.zeros(len(t), dtype=bool)
        for c in shown.columns:
            hit |= shown[c].str.lower().str.contains(needle, regex=False).to_numpy()
        out = t.loc[hit]
    col = out[by]
    num = pd.to_numeric(col, errors="coerce")
    key = num if num.notna().any() or col.isna().all() else col.astype(str).str.lower()
    order = key.reset_index(drop=True).sort_values(
        ascending=not descending, na_position="last", kind="stable"
    )
    return out.iloc[order.index.to_numpy()]
