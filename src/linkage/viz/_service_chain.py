"""Plots of the whole chain: the links (a forest plot), the key drivers and the early-warning list.

Each function draws what :mod:`linkage.stats` computed (``chain(...).links``, ``key_drivers``,
``watchlist``) and computes nothing but what the picture needs. Column names in plain words come
from :func:`plain_name`, so a link reads "Engagement score -> Employee retention", never
``es_engagement -> employee_retention``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import SupportsFloat

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from linkage.errors import InputError
from linkage.viz._aggregate import check_columns
from linkage.viz._plots import CUSTOMER_COLOR, EMPLOYEE_COLOR, NEUTRAL, new_axes

__all__ = [
    "CHAIN_LABELS",
    "METHOD_LABELS",
    "plain_name",
    "link_label",
    "chain_plot",
    "drivers_plot",
    "watchlist_plot",
    "calibration_figure",
    "watchlist_table",
]

#: Plain words for the chain's columns (anything else: ``es_`` dropped, underscores as spaces).
CHAIN_LABELS = {
    "es_engagement": "Engagement score",
    "employee_retention": "Employee retention",
    "customer_retention": "Customer retention",
    "revenue_retention": "Revenue retention",
    "cs_csat": "Customer satisfaction (CSAT)",
    "cs_nps": "Net promoter score",
    "employee_turnover": "Employee turnover",
    "customer_turnover": "Customer turnover",
}

#: How each row of ``chain(...).links`` is described.
METHOD_LABELS = {
    "between": "between units",
    "within": "within units, same period",
    "best_lag": "within units, strongest lag",
}

_METHOD_STYLE = {
    "between": ("s", NEUTRAL),
    "within": ("o", EMPLOYEE_COLOR),
    "best_lag": ("D", CUSTOMER_COLOR),
}


def plain_name(column: str) -> str:
    """A column name in plain words.

    Examples
    --------
    >>> (plain_name("es_engagement"), plain_name("es_manager_support"),
    ...  plain_name("revenue_retention"))
    ('Engagement score', 'Manager support', 'Revenue retention')
    """
    if column in CHAIN_LABELS:
        return CHAIN_LABELS[column]
    bare = column.removeprefix("es_").removeprefix("cs_").replace("_", " ").strip()
    return bare[:1].upper() + bare[1:]


def link_label(link: str) -> str:
    """``"x -> y"`` (a ``link`` of :func:`linkage.stats.chain`) in plain words.

    Examples
    --------
    >>> link_label("es_engagement -> employee_retention")
    'Engagement score \u2192 employee retention'
    """
    parts = [p.strip() for p in str(link).split("->")]
    if len(parts) != 2:
        return plain_name(str(link))
    y = plain_name(parts[1])
    acronym = len(y) > 1 and y[1].isupper()
    return f"{plain_name(parts[0])} \u2192 {y if acronym else y[:1].lower() + y[1:]}"


def chain_plot(
    data: pd.DataFrame,
    *,
    link: str = "link",
    method: str = "method",
    r: str = "r",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    lag: str = "lag",
    methods: Sequence[str] = ("between", "within", "best_lag"),
    ax: Axes | None = None,
) -> Axes:
    """Each link's correlation with its interval, link by link down the chain (a forest plot).

    Parameters
    ----------
    data : DataFrame
        One row per link and method, e.g. ``linkage.stats.chain(...).links``.
    link, method, r, ci_low, ci_high, lag : str
        Column names.
    methods : sequence of str
        Which methods to draw, in this order within each link (others are left out).
    ax : Axes, optional

    Returns
    -------
    Axes
        One line per method drawn (``ax.lines``, label = the method's words, x = r, y = the row's
        position); the intervals are ``ax.collections`` in the same order. The y tick labels are
        the links in plain words, bottom to top (the first link at the top).

    Examples
    --------
    >>> links = pd.DataFrame({"link": ["es_engagement -> employee_retention"] * 2
    ...                                + ["x -> cs_nps"] * 2,
    ...                       "method": ["between", "within"] * 2, "r": [0.4, 0.2, 0.5, 0.3],
    ...                       "ci_low": [0.2, 0.1, 0.3, 0.2], "ci_high": [0.6, 0.3, 0.7, 0.4],
    ...                       "lag": 0})
    >>> ax = chain_plot(links)
    >>> [t.get_text() for t in ax.get_yticklabels()]  # bottom to top
    ['X \u2192 net promoter score', 'Engagement score \u2192 employee retention']
    >>> ax.lines[0].get_xdata().tolist()  # between units, link by link
    [0.4, 0.5]
    """
    check_columns(data, [link, method, r, ci_low, ci_high])
    d = data[data[method].isin(list(methods))]
    if d.empty:
        raise InputError(f"no rows with {method} in {list(methods)}", column=method)
    order = list(dict.fromkeys(d[link].tolist()))
    ax = new_axes(ax, figsize=(7.0, 1.0 + 0.9 * len(order)))
    pos = {lk: len(order) - 1 - i for i, lk in enumerate(order)}  # first link at the top
    drawn = [m for m in methods if (d[method] == m).any()]
    step = 0.6 / max(len(drawn), 1)
    for j, m in enumerate(drawn):
        rows = d[d[method] == m]
        y = np.array([pos[lk] for lk in rows[link]], dtype=float) + 0.3 - step * (j + 0.5)
        marker, color = _METHOD_STYLE.get(m, ("o", "#333333"))
        ax.hlines(
            y,
            rows[ci_low].to_numpy(dtype=float),
            rows[ci_high].to_numpy(dtype=float),
            color=color,
            lw=2.2,
            alpha=0.7,
        )
        text = METHOD_LABELS.get(m, m)
        ax.plot(
            rows[r].to_numpy(dtype=float),
            y,
            marker,
            color=color,
            ms=7,
            ls="none",
            label=text,
            zorder=3,
        )
        if m == "best_lag" and lag in rows.columns:
            for xv, yv, k in zip(
                rows[ci_high].to_numpy(dtype=float), y, rows[lag].to_numpy(), strict=True
            ):
                if np.isfinite(xv):
                    ax.text(
                        xv, yv, f"  lag {int(k)}", va="center", ha="left", fontsize=8, color=color
                    )
    ax.axvline(0, color=NEUTRAL, lw=1)
    ax.set_yticks(range(len(order)), [link_label(lk) for lk in order[::-1]])
    ax.set_ylim(-0.5, len(order) - 0.5)
    lo = np.nanmin(d[ci_low].to_numpy(dtype=float))
    hi = np.nanmax(d[ci_high].to_numpy(dtype=float))
    ax.set_xlim(min(-0.1, lo - 0.05), max(0.1, hi + 0.15))
    ax.set_xlabel("correlation r (line: 95% interval)")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.4, -0.2),
        ncol=len(drawn),
        fontsize=8,
        frameon=False,
        handletextpad=0.2,
        columnspacing=1.0,
    )
    ax.set_title("The chain, link by link", fontsize=10, y=1.0)
    return ax


def drivers_plot(
    data: pd.DataFrame,
    *,
    item: str = "item",
    weight: str = "weight",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    r: str = "r",
    r_corrected: str = "r_corrected",
    p_adj: str = "p_adj",
    alpha: float = 0.05,
    fig: Figure | None = None,
) -> Figure:
    """Key drivers: each item's relative weight with its interval, and its correlation before and
    after correcting for the unreliability of unit means.

    Parameters
    ----------
    data : DataFrame
        One row per item, e.g. ``linkage.stats.key_drivers(...)``.
    item, weight, ci_low, ci_high, r, r_corrected, p_adj : str
        Column names (``r_corrected`` and ``p_adj`` may be absent).
    alpha : float
        Items with ``p_adj`` below it are drawn solid, others pale.
    fig : Figure, optional
        Drawn on (two axes are added); default a new pyplot figure.

    Returns
    -------
    Figure
        ``fig.axes[0]``: weights (bars ``patches``, heights = weights, largest at the top; intervals
        ``collections[0]``); ``fig.axes[1]``: ``lines[0]`` the uncorrected r, ``lines[1]`` the
        corrected r (x values, same item order).

    Examples
    --------
    >>> kd = pd.DataFrame({"item": ["es_staffing", "es_pay"], "weight": [0.12, 0.01],
    ...                    "ci_low": [0.05, 0.0], "ci_high": [0.2, 0.04], "r": [0.35, 0.1],
    ...                    "r_corrected": [0.45, 0.14], "p_adj": [0.01, 0.6]})
    >>> fig = drivers_plot(kd)
    >>> ([round(float(p.get_width()), 2) for p in fig.axes[0].patches],
    ...  fig.axes[1].lines[1].get_xdata().tolist())
    ([0.12, 0.01], [0.45, 0.14])
    """
    check_columns(data, [item, weight, ci_low, ci_high, r])
    d = data.sort_values(weight, ascending=False, kind="stable")
    n = len(d)
    if n == 0:
        raise InputError("no items to draw", column=item)
    if fig is None:
        fig = plt.figure(figsize=(8.0, 1.2 + 0.45 * n), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, sharey=True, width_ratios=[1.6, 1])
    y = np.arange(n)[::-1].astype(float)
    w = d[weight].to_numpy(dtype=float)
    clear = (
        (d[p_adj].to_numpy(dtype=float) < alpha) if p_adj in d.columns else np.ones(n, dtype=bool)
    )
    colors = [EMPLOYEE_COLOR if c else "#b7cde0" for c in clear]
    ax.barh(y, w, color=colors, height=0.6)
    ax.hlines(
        y,
        d[ci_low].to_numpy(dtype=float),
        d[ci_high].to_numpy(dtype=float),
        color="#333333",
        lw=1.6,
    )
    ax.set_yticks(y[::-1], [plain_name(v) for v in d[item]][::-1])
    ax.set_xlim(
        0, max(float(np.nanmax(d[ci_high].to_numpy(dtype=float))), float(np.nanmax(w)), 1e-3) * 1.1
    )
    ax.set_xlabel("share of explained variance (line: 95% interval)")
    ax.set_title("Which items matter most (solid: clearer than chance)", fontsize=10, y=1.0)
    ax2.plot(
        d[r].to_numpy(dtype=float),
        y,
        "o",
        mfc="white",
        mec="#333333",
        ms=7,
        ls="none",
        label="as measured",
    )
    if r_corrected in d.columns:
        rc = d[r_corrected].to_numpy(dtype=float)
        ax2.plot(
            rc, y, "o", color=EMPLOYEE_COLOR, ms=7, ls="none", label="corrected for reliability"
        )
        ax2.hlines(y, d[r].to_numpy(dtype=float), rc, color=EMPLOYEE_COLOR, lw=1, alpha=0.6)
    ax2.axvline(0, color=NEUTRAL, lw=1)
    ax2.set_xlabel("correlation with the outcome")
    ax2.legend(loc="lower right", fontsize=8, frameon=False)
    ax2.set_title("Measured and corrected correlation", fontsize=10, y=1.0)
    return fig


def _numbers(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(
        s.where(s.map(lambda v: not isinstance(v, str))), errors="coerce"
    ).to_numpy(dtype=float)


def watchlist_plot(
    data: pd.DataFrame,
    *,
    unit: str = "unit",
    expected_lost: str = "expected_lost",
    expected_lost_low: str = "expected_lost_low",
    expected_lost_high: str = "expected_lost_high",
    flag: str = "flag",
    top: int = 10,
    ax: Axes | None = None,
) -> Axes:
    """The units to visit first: customers expected to be lost, with intervals, largest at the top.

    Cells that are not numbers (``"suppressed"`` from :func:`linkage.privacy.suppress`) draw no bar;
    their unit keeps its place with the word "suppressed".

    Parameters
    ----------
    data : DataFrame
        ``linkage.stats.watchlist`` output (possibly suppressed), ranked.
    unit, expected_lost, expected_lost_low, expected_lost_high, flag : str
        Column names.
    top : int
        Rows drawn (the first ``top``).
    ax : Axes, optional

    Returns
    -------
    Axes
        Bars ``ax.patches`` (widths = expected customers lost, first row at the top; suppressed rows
        width 0); intervals ``ax.collections[0]``.

    Examples
    --------
    >>> wl = pd.DataFrame({"unit": ["s1", "s2", "s3"], "flag": [True, False, True],
    ...                    "expected_lost": [9.0, 4.0, "suppressed"],
    ...                    "expected_lost_low": [7.0, 3.0, "suppressed"],
    ...                    "expected_lost_high": [11.0, 5.0, "suppressed"]})
    >>> ax = watchlist_plot(wl)
    >>> widths = [float(p.get_width()) for p in ax.patches]
    >>> widths, [t.get_text() for t in ax.get_yticklabels()]  # ticks bottom up
    ([9.0, 4.0, 0.0], ['s3', 's2', 's1'])
    """
    check_columns(data, [unit, expected_lost, expected_lost_low, expected_lost_high])
    if isinstance(top, bool) or int(top) != top or top < 1:
        raise InputError(f"top must be a whole number >= 1, got {top!r}")
    d = data.head(int(top))
    n = len(d)
    ax = new_axes(ax, figsize=(6.4, 1.0 + 0.35 * max(n, 1)))
    if n == 0:
        ax.text(0.5, 0.5, "no units on the list", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(n)[::-1].astype(float)
    v = _numbers(d[expected_lost])
    lo, hi = _numbers(d[expected_lost_low]), _numbers(d[expected_lost_high])
    flagged = d[flag].to_numpy(dtype=bool) if flag in d.columns else np.ones(n, dtype=bool)
    colors = [CUSTOMER_COLOR if f else "#f3c999" for f in flagged]
    ax.barh(y, np.nan_to_num(v, nan=0.0), color=colors, height=0.6)
    ax.hlines(y, lo, hi, color="#333333", lw=1.6)
    for yi, vi in zip(y, v, strict=True):
        if not np.isfinite(vi):
            ax.text(0, yi, " suppressed", va="center", ha="left", fontsize=8, color=NEUTRAL)
    ax.set_yticks(y[::-1], [str(u) for u in d[unit]][::-1])
    top_x = np.nanmax(np.concatenate([hi[np.isfinite(hi)], v[np.isfinite(v)], [1.0]]))
    ax.set_xlim(0, top_x * 1.1)
    ax.set_xlabel("customers expected to be lost (line: 95% interval)")
    ax.set_title("Units to visit first (dark: staff retention clearly dropped)", fontsize=10, y=1.0)
    return ax


def calibration_figure(
    data: pd.DataFrame,
    *,
    predicted: str = "predicted",
    observed: str = "observed",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    n: str = "n",
    ax: Axes | None = None,
) -> Figure:
    """Calibration of the early-warning list: predicted against observed drop, bin by bin.

    One point per bin of :func:`linkage.stats.early_warning.calibration` (mean predicted drop in
    customer retention per period, mean observed drop, its unit-bootstrap interval as a vertical
    line, the number of unit-cutoffs beside it) and the diagonal a calibrated list would follow.

    Parameters
    ----------
    data : DataFrame
        ``linkage.stats.early_warning.calibration`` output.
    predicted, observed, ci_low, ci_high, n : str
        Column names.
    ax : Axes, optional
        Axes to draw on (a new figure otherwise).

    Returns
    -------
    Figure
        Points ``fig.axes[0].collections[0]`` (offsets = (predicted, observed)), intervals
        ``collections[1]``, the diagonal ``lines[0]``.

    Examples
    --------
    >>> cal = pd.DataFrame({"predicted": [0.0, 0.01, 0.03], "observed": [0.002, 0.012, 0.02],
    ...                     "ci_low": [-0.001, 0.008, 0.012], "ci_high": [0.005, 0.016, 0.028],
    ...                     "n": [40, 40, 40]})
    >>> fig = calibration_figure(cal)
    >>> fig.axes[0].collections[0].get_offsets().tolist()[2]
    [0.03, 0.02]
    """
    check_columns(data, [predicted, observed, ci_low, ci_high])
    ax = new_axes(ax, figsize=(5.2, 4.6))
    x = _numbers(data[predicted])
    y = _numbers(data[observed])
    lo, hi = _numbers(data[ci_low]), _numbers(data[ci_high])
    ax.scatter(x, y, color=CUSTOMER_COLOR, zorder=3)
    ax.vlines(x, lo, hi, color="#333333", lw=1.4)
    finite = np.concatenate([v[np.isfinite(v)] for v in (x, y, lo, hi)] + [np.zeros(1)])
    low, high = float(finite.min()), float(finite.max())
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color=NEUTRAL, ls="--", lw=1)
    if n in data.columns:
        for xi, yi, ni in zip(x, y, data[n], strict=True):
            if np.isfinite(xi) and np.isfinite(yi):
                ax.annotate(
                    f"n={ni}",
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(5, -10),
                    fontsize=7,
                    color=NEUTRAL,
                )
    ax.set_xlabel("predicted drop in customer retention per period")
    ax.set_ylabel("observed drop (line: 95% unit-bootstrap interval)")
    ax.set_title("Does the list's prediction come true? (dashed: perfect calibration)", fontsize=10)
    fig = ax.get_figure()
    if not isinstance(fig, Figure):  # pragma: no cover - an Axes always belongs to a Figure
        raise InputError("the axes belong to no figure")
    return fig


def _fmt(v: str | SupportsFloat | None, pattern: str) -> str:
    if isinstance(v, str):
        return v
    if v is None or not np.isfinite(float(v)):
        return ""
    return pattern.format(float(v))


def watchlist_table(data: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """The early-warning list as a readable table (text cells, plain-word headers).

    Parameters
    ----------
    data : DataFrame
        ``linkage.stats.watchlist`` output, possibly passed through ``linkage.privacy.suppress``
        (``"suppressed"`` cells stay as they are).
    top : int, optional
        Keep the first ``top`` rows.

    Returns
    -------
    DataFrame
        Columns ``Rank``, ``Unit``, ``Staff retention dropped`` ("yes" / "not clearly"), ``Staff
        retention before``, ``Staff retention recent`` (percent), ``Customers expected lost``
        ("9 (7 to 11)"), and ``Revenue at risk`` when the input has it with numbers.

    Examples
    --------
    >>> wl = pd.DataFrame({"rank": [1], "unit": ["s1"], "flag": [True], "baseline": [0.98],
    ...                    "recent": [0.88], "expected_lost": [9.2], "expected_lost_low": [7.1],
    ...                    "expected_lost_high": [11.0]})
    >>> watchlist_table(wl).iloc[0].astype(str).tolist()
    ['1', 's1', 'yes', '98.0%', '88.0%', '9.2 (7.1 to 11.0)']
    """
    check_columns(
        data,
        [
            "unit",
            "flag",
            "baseline",
            "recent",
            "expected_lost",
            "expected_lost_low",
            "expected_lost_high",
        ],
    )
    d = data if top is None else data.head(int(top))
    out = pd.DataFrame(
        {
            "Rank": d["rank"].to_numpy() if "rank" in d.columns else np.arange(1, len(d) + 1),
            "Unit": d["unit"].astype(str).to_numpy(),
            "Staff retention dropped": np.where(
                d["flag"].to_numpy(dtype=bool), "yes", "not clearly"
            ),
            "Staff retention before": [_fmt(v, "{:.1%}") for v in d["baseline"]],
            "Staff retention recent": [_fmt(v, "{:.1%}") for v in d["recent"]],
            "Customers expected lost": [
                a
                if isinstance(a, str)
                else f"{_fmt(a, '{:.1f}')} ({_fmt(lo, '{:.1f}')} to {_fmt(hi, '{:.1f}')})"
                for a, lo, hi in zip(
                    d["expected_lost"], d["expected_lost_low"], d["expected_lost_high"], strict=True
                )
            ],
        }
    )
    if "revenue_at_risk" in d.columns and np.isfinite(_numbers(d["revenue_at_risk"])).any():
        out["Revenue at risk"] = [
            a
            if isinstance(a, str)
            else f"{_fmt(a, '{:,.0f}')} ({_fmt(lo, '{:,.0f}')} to {_fmt(hi, '{:,.0f}')})"
            for a, lo, hi in zip(
                d["revenue_at_risk"],
                d["revenue_at_risk_low"],
                d["revenue_at_risk_high"],
                strict=True,
            )
        ]
    return out
