"""Plots of retention panels and linkage results: ``f(data, *, ..., ax=None) -> Axes``.

Each function draws on ``ax`` when given (the dashboards pass axes of a ``matplotlib.figure.Figure``
they own, so no pyplot state is touched) and otherwise on a new pyplot figure. Nothing here computes
statistics beyond what the picture needs (ratios of sums, medians, binomial control limits).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator

from linkage.errors import InputError
from linkage.viz._aggregate import SIDES, check_columns, funnel_limits, rate_table

__all__ = [
    "EMPLOYEE_COLOR",
    "CUSTOMER_COLOR",
    "LABELS",
    "lag_profile_plot",
    "trend_grid",
    "quadrant_plot",
    "funnel_plot",
    "heatmap",
    "unit_plot",
]

EMPLOYEE_COLOR = "#1b6ca8"
CUSTOMER_COLOR = "#e07b00"
NEUTRAL = "#8a8a8a"
LABELS = {
    "employee_retention": "Employee retention",
    "customer_retention": "Customer retention",
    "employee_turnover": "Employee turnover",
    "customer_turnover": "Customer turnover",
}


def _label(col: str) -> str:
    return LABELS.get(col, col.replace("_", " ").capitalize())


def _color(col: str) -> str:
    return (
        EMPLOYEE_COLOR
        if col.startswith("employee")
        else CUSTOMER_COLOR
        if col.startswith("customer")
        else NEUTRAL
    )


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _is_rate(col: str) -> bool:
    return col.endswith("_retention") or col.endswith("_turnover")


class StepPercentFormatter(Formatter):
    """Fractions as percentages with as many decimals as the tick step needs.

    ``PercentFormatter(decimals=0)`` prints ticks 0.5 points apart as "99%, 99%, 98%"; this one
    prints "99.0%, 98.5%, 98.0%": the fewest decimals that show every tick exactly.

    Examples
    --------
    >>> StepPercentFormatter().format_ticks([0.98, 0.985, 0.99])
    ['98.0%', '98.5%', '99.0%']
    >>> StepPercentFormatter().format_ticks([0.8, 0.9, 1.0])
    ['80%', '90%', '100%']
    """

    def __init__(self) -> None:
        self._ticks = np.array([])
        self._d = 0

    def set_locs(self, locs: Sequence[float] | np.ndarray) -> None:
        """Remember the ticks about to be labelled (their step sets the decimals)."""
        self._ticks = np.asarray(locs, dtype=float)
        self._d = self._decimals()

    def _decimals(self) -> int:
        """The fewest decimals (at most 4) that print every tick exactly, hence distinctly."""
        pct = self._ticks * 100
        pct = pct[np.isfinite(pct)]
        for d in range(5):
            if np.allclose(np.round(pct, d), pct, rtol=0, atol=1e-6):
                return d
        return 4

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{100 * x:.{self._d}f}%"


def _percent_axis(axis: Axis) -> None:
    """Percent ticks on an axis of fractions: steps of 1, 2 or 5 (x 10^k) points, labelled with the
    decimals the step needs, so no two ticks read the same."""
    axis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10]))
    axis.set_major_formatter(StepPercentFormatter())


def lag_profile_plot(
    data: pd.DataFrame,
    *,
    lag: str = "lag",
    r: str = "r",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    best: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Correlation at each lag with its confidence interval; lags > 0 are labelled "employees lead".

    Parameters
    ----------
    data : DataFrame
        One row per lag, e.g. the output of ``linkage.stats.lag_profile``.
    lag, r, ci_low, ci_high : str
        Column names.
    best : int, optional
        A lag to highlight (e.g. ``LinkageResult.best_lag``).
    ax : Axes, optional

    Returns
    -------
    Axes
        The points are ``ax.lines[0]`` (x = lag, y = r); the intervals ``ax.collections[0]``.

    Examples
    --------
    >>> import pandas as pd
    >>> prof = pd.DataFrame({"lag": [-1, 0, 1], "r": [0.05, 0.2, 0.35],
    ...                      "ci_low": [-0.1, 0.05, 0.2], "ci_high": [0.2, 0.35, 0.5]})
    >>> ax = lag_profile_plot(prof)
    >>> ax.lines[0].get_ydata().tolist()
    [0.05, 0.2, 0.35]
    """
    check_columns(data, [lag, r, ci_low, ci_high])
    ax = new_axes(ax)
    d = data.sort_values(lag)
    k = d[lag].to_numpy()
    ax.axvspan(0.5, max(k.max(), 1) + 0.5, color=EMPLOYEE_COLOR, alpha=0.06, lw=0)
    ax.axvspan(min(k.min(), -1) - 0.5, -0.5, color=CUSTOMER_COLOR, alpha=0.06, lw=0)
    ax.plot(k, d[r].to_numpy(), "o-", color="#333333", ms=6, lw=1.2, zorder=3, label="correlation")
    ax.vlines(
        k,
        d[ci_low].to_numpy(),
        d[ci_high].to_numpy(),
        color="#333333",
        lw=2.2,
        alpha=0.55,
        label="95% interval",
    )
    if best is not None and best in set(k.tolist()):
        row = d.loc[d[lag] == best].iloc[0]
        ax.plot([best], [row[r]], "o", ms=11, mfc="none", mec=EMPLOYEE_COLOR, mew=2, zorder=4)
    ax.axhline(0, color=NEUTRAL, lw=1)
    ax.set_xlim(min(k.min(), -1) - 0.5, max(k.max(), 1) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("lag (periods)")
    ax.set_ylabel("correlation r")
    ax.text(
        0.99,
        0.97,
        "employees lead \u2192",
        transform=ax.transAxes,
        ha="right",
        va="top",
        color=EMPLOYEE_COLOR,
        fontsize=9,
    )
    ax.text(
        0.01,
        0.97,
        "\u2190 customers lead",
        transform=ax.transAxes,
        ha="left",
        va="top",
        color=CUSTOMER_COLOR,
        fontsize=9,
    )
    # y given: the title sits at the top edge (no top tick labels here), and matplotlib skips its
    # costly automatic placement (a tight bbox of every axis) at each draw
    ax.set_title(
        "How strongly employee retention moves with later customer retention", fontsize=10, y=1.0
    )
    return ax


def trend_grid(
    data: pd.DataFrame,
    *,
    by: str = "region",
    period: str = "period",
    x: str = "employee_retention",
    y: str = "customer_retention",
    ncols: int = 4,
    min_n: int = 0,
    twin: bool = False,
    fig: Figure | None = None,
) -> Figure:
    """Small multiples: employee and customer retention over time, one panel per group.

    Group rates are ratios of summed counts (see :func:`rate_table`). Both series share one scale
    across all panels, each in its own colour; with ``twin=True``, ``y`` gets its own right-hand
    axis (for series whose levels differ a lot).

    Parameters
    ----------
    data : DataFrame
        The panel (needs ``by``, ``period`` and the counts behind ``x`` and ``y``).
    by : str
        Unit attribute to split by.
    period, x, y : str
        Column names.
    ncols : int
        Panels per row.
    twin : bool, default False
        Draw ``y`` on a twin right-hand axis.
    min_n : int, default 0
        Points whose rate comes from fewer than ``min_n`` people (summed denominators) are not
        drawn (small-group suppression for displays).
    fig : Figure, optional
        Figure to draw in (cleared first).

    Returns
    -------
    Figure
        ``fig.axes[i]`` is group ``i``'s panel: ``lines[0]`` is ``x``, ``lines[1]`` is ``y``. With
        ``twin=True`` and ``g`` groups, ``fig.axes[g:]`` are the twins (``lines[0]``: ``y``).

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"region": ["N", "N", "S", "S"],
    ...     "period": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2),
    ...     "employee_retained": [9, 8, 4, 5], "employee_start": [10, 10, 5, 5],
    ...     "customer_retained": [90, 95, 40, 45], "customer_start": [100, 100, 50, 50]})
    >>> f = trend_grid(p)
    >>> [a.get_title() for a in f.axes[:2]]
    ['N', 'S']
    >>> f.axes[0].lines[0].get_ydata().tolist()
    [0.9, 0.8]
    """
    check_columns(data, [by, period])
    agg = rate_table(data, by=[by, period], rates=[x, y])
    for c in (x, y):
        agg.loc[agg[SIDES[c][1]] < min_n, c] = np.nan
    groups = list(pd.unique(agg[by]))
    n = max(len(groups), 1)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    if fig is None:
        fig = plt.figure(figsize=(3.2 * ncols, 2.4 * nrows + 0.6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=not twin)
    ylo = {c: np.nanmin(agg[c]) if agg[c].notna().any() else 0 for c in (x, y)}
    yhi = {c: np.nanmax(agg[c]) if agg[c].notna().any() else 1 for c in (x, y)}
    if not twin:  # one scale for both series and every panel
        lo, hi = min(ylo.values()), max(yhi.values())
        ylo = {c: lo for c in (x, y)}
        yhi = {c: hi for c in (x, y)}
    for i, ax in enumerate(axes.ravel()):
        if i >= len(groups):
            ax.remove()
            continue
        g = agg.loc[agg[by] == groups[i]]
        ax.plot(g[period], g[x], color=_color(x), lw=1.6, label=_label(x))
        ax2 = ax.twinx() if twin else ax
        ax2.plot(g[period], g[y], color=_color(y), lw=1.6, label=_label(y))
        for a, c in ((ax, x), (ax2, y)) if twin else ((ax, x),):
            pad = 0.05 * (yhi[c] - ylo[c]) + 1e-3
            a.set_ylim(ylo[c] - pad, yhi[c] + pad)
            if _is_rate(c):
                _percent_axis(a.yaxis)
            a.tick_params(axis="y", colors=_color(c) if twin else "#333333", labelsize=8)
        if pd.api.types.is_datetime64_any_dtype(g[period]):
            loc = mdates.AutoDateLocator(minticks=2, maxticks=5)
            ax.xaxis.set_major_locator(loc)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title(str(groups[i]), fontsize=10, y=1.0)  # fixed: no costly auto-placement
    if twin:
        fig.suptitle(
            f"{_label(x)} (left, blue) and {_label(y)} (right, orange) by {by}", fontsize=10
        )
    else:
        fig.suptitle(f"{_label(x)} (blue) and {_label(y)} (orange) by {by}", fontsize=10)
    return fig


_QUADRANTS = (
    # (x above median, y above median) -> label, corner (ha, va, x, y in axes coords)
    ((True, True), "staff stay,\ncustomers stay", ("right", "top", 0.98, 0.98)),
    ((False, True), "staff leave,\ncustomers stay", ("left", "top", 0.02, 0.98)),
    ((False, False), "staff leave,\ncustomers leave", ("left", "bottom", 0.02, 0.02)),
    ((True, False), "staff stay,\ncustomers leave", ("right", "bottom", 0.98, 0.02)),
)


def quadrant_plot(
    data: pd.DataFrame,
    *,
    x: str = "employee_retention",
    y: str = "customer_retention",
    unit: str = "unit_id",
    size: str | None = None,
    highlight: Sequence[str] = (),
    ax: Axes | None = None,
) -> Axes:
    """Units placed in quadrants of ``x`` against ``y``, split at the medians.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    x, y, unit : str
        Column names.
    size : str, optional
        Column scaling the markers (e.g. ``employee_start``).
    highlight : list of str
        Units to mark and label.
    ax : Axes, optional

    Returns
    -------
    Axes
        The units are ``ax.collections[0]`` (offsets = (x, y)); the medians are the first two lines.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"unit_id": list("abcd"), "employee_retention": [0.9, 0.8, 0.95, 0.85],
    ...                   "customer_retention": [0.7, 0.6, 0.8, 0.9]})
    >>> ax = quadrant_plot(u)
    >>> float(ax.lines[0].get_xdata()[0]), float(ax.lines[1].get_ydata()[0])
    (0.875, 0.75)
    """
    check_columns(data, [x, y, unit] + ([size] if size else []))
    ax = new_axes(ax, (6.4, 5.0))
    d = data.loc[data[x].notna() & data[y].notna()]
    xv, yv = d[x].to_numpy(dtype=float), d[y].to_numpy(dtype=float)
    if size:
        s = d[size].to_numpy(dtype=float)
        s = 20 + 180 * (s / np.nanmax(s)) if len(s) and np.nanmax(s) > 0 else np.full(len(d), 40.0)
    else:
        s = np.full(len(d), 40.0)
    ax.scatter(xv, yv, s=s, color="#555555", alpha=0.55, edgecolor="white", lw=0.5)
    mx = float(np.median(xv)) if len(xv) else np.nan
    my = float(np.median(yv)) if len(yv) else np.nan
    ax.axvline(mx, color=EMPLOYEE_COLOR, lw=1, ls="--")
    ax.axhline(my, color=CUSTOMER_COLOR, lw=1, ls="--")
    for _, text, (ha, va, tx, ty) in _QUADRANTS:
        ax.text(
            tx,
            ty,
            text,
            transform=ax.transAxes,
            ha=ha,
            va=va,
            fontsize=8,
            color="#444444",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    hl = d.loc[d[unit].isin(list(highlight))]
    if len(hl):
        ax.scatter(hl[x], hl[y], s=120, facecolor="none", edgecolor="#c0002b", lw=2, zorder=4)
        for _, row in hl.iterrows():  # a handful of highlighted units, not a hot path
            ax.annotate(
                str(row[unit]),
                (row[x], row[y]),
                xytext=(6, 6),
                textcoords="offset points",
                color="#c0002b",
                fontsize=9,
                weight="bold",
            )
    for setter, c in ((ax.xaxis, x), (ax.yaxis, y)):
        if _is_rate(c):
            _percent_axis(setter)
    ax.set_xlabel(f"{_label(x)} (dashed: median unit)")
    ax.set_ylabel(_label(y))
    ax.set_title(
        f"Where each unit stands ({len(d)} units)", fontsize=10, y=1.0
    )  # no auto-placement
    return ax


def funnel_plot(
    data: pd.DataFrame,
    *,
    rate: str = "employee_retention",
    n: str = "employee_start",
    unit: str = "unit_id",
    target: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Unit rates against unit size with 95% and 99.8% binomial control limits.

    Parameters
    ----------
    data : DataFrame
        One row per unit: the rate and its denominator.
    rate, n, unit : str
        Column names.
    target : float, optional
        The centre line; default the pooled rate ``sum(rate * n) / sum(n)``.
    ax : Axes, optional

    Returns
    -------
    Axes
        Units are ``ax.collections[0]``; ``ax.lines`` are the centre line, then lower and upper
        limits at 95%, then at 99.8%.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"unit_id": list("abc"), "employee_retention": [0.9, 0.8, 1.0],
    ...                   "employee_start": [100, 10, 40]})
    >>> ax = funnel_plot(u)
    >>> round(float(ax.lines[0].get_ydata()[0]), 4)
    0.92
    """
    check_columns(data, [rate, n, unit])
    ax = new_axes(ax)
    d = data.loc[data[rate].notna() & (data[n] > 0)]
    nv, rv = d[n].to_numpy(dtype=float), d[rate].to_numpy(dtype=float)
    p0 = float(np.sum(rv * nv) / np.sum(nv)) if target is None else float(target)
    lo_n = max(1.0, nv.min() if len(nv) else 1.0)
    hi_n = max(nv.max() if len(nv) else 2.0, lo_n + 1)
    grid = np.unique(np.round(np.geomspace(lo_n, hi_n, 300)))  # whole numbers of people
    ax.scatter(nv, rv, s=25, color=_color(rate), alpha=0.7, edgecolor="white", lw=0.5)
    ax.plot(grid, np.full_like(grid, p0), color="#333333", lw=1, label="overall rate")
    for cov, style in ((0.95, "--"), (0.998, ":")):
        lo, hi = funnel_limits(p0, grid, coverage=cov)
        ax.plot(grid, lo, style, color=NEUTRAL, lw=1, label=f"{cov:.1%} limits")
        ax.plot(grid, hi, style, color=NEUTRAL, lw=1)
    if _is_rate(rate):
        _percent_axis(ax.yaxis)
    ax.set_xlabel(f"unit size ({n})")
    ax.set_ylabel(_label(rate))
    ax.set_title("Units outside the dashed funnel differ by more than chance", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def heatmap(
    data: pd.DataFrame,
    *,
    value: str = "employee_retention",
    unit: str = "unit_id",
    period: str = "period",
    order: str = "mean",
    ax: Axes | None = None,
) -> Axes:
    """Units x periods coloured by ``value``; grey cells are periods without a rate.

    Parameters
    ----------
    data : DataFrame
        The panel.
    value, unit, period : str
        Column names.
    order : {"mean", "id"}
        Sort units by their mean ``value`` (lowest at the top) or by identifier.
    ax : Axes, optional

    Returns
    -------
    Axes
        The image is ``ax.images[0]``; its array is units (rows) x periods (columns).

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"unit_id": ["a", "a", "b", "b"],
    ...     "period": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2),
    ...     "employee_retention": [0.9, 0.8, 1.0, float("nan")]})
    >>> ax = heatmap(p, order="id")
    >>> ax.images[0].get_array().tolist()
    [[0.9, 0.8], [1.0, None]]
    """
    check_columns(data, [value, unit, period])
    if order not in ("mean", "id"):
        raise InputError(f"order must be 'mean' or 'id', got {order!r}")
    ax = new_axes(ax, (8, 6))
    wide = data.pivot_table(
        index=unit, columns=period, values=value, aggfunc="mean", dropna=False, observed=True
    )
    if order == "mean":
        wide = wide.loc[wide.mean(axis=1).sort_values(kind="stable").index]
    arr = np.ma.masked_invalid(wide.to_numpy(dtype=float))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    im = ax.imshow(arr, aspect="auto", interpolation="nearest", cmap=cmap)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(_label(value))
    if _is_rate(value):
        cb.locator = MaxNLocator(nbins="auto", steps=[1, 2, 5, 10])
        cb.formatter = StepPercentFormatter()
    cols = pd.to_datetime(pd.Index(wide.columns))
    step = max(1, len(cols) // 12)
    ax.set_xticks(np.arange(0, len(cols), step))
    ax.set_xticklabels(
        [c.strftime("%Y-%m") for c in cols[::step]], rotation=45, ha="right", fontsize=8
    )
    if len(wide) <= 60:
        ax.set_yticks(np.arange(len(wide)))
        ax.set_yticklabels([str(u) for u in wide.index], fontsize=6)
    else:
        ax.set_yticks([])
    ax.set_ylabel(unit)
    ax.set_title(f"{_label(value)} by unit and period", fontsize=10)
    return ax


def unit_plot(
    data: pd.DataFrame,
    *,
    unit_id: str,
    x: str = "employee_retention",
    y: str = "customer_retention",
    unit: str = "unit_id",
    period: str = "period",
    peers: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One unit's two series over time, each over the middle half (25-75%) of its peers.

    Parameters
    ----------
    data : DataFrame
        The panel.
    unit_id : str
        The unit to show.
    x, y, unit, period : str
        Column names.
    peers : list of str, optional
        Peer units for the bands; default every other unit.
    ax : Axes, optional

    Returns
    -------
    Axes
        ``ax.lines[0]`` is the unit's ``x``, ``ax.lines[1]`` its ``y``; ``ax.collections`` the peer
        bands of ``x`` then ``y``.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"unit_id": ["a", "a", "b", "b", "c", "c"],
    ...     "period": pd.to_datetime(["2024-01-01", "2024-02-01"] * 3),
    ...     "employee_retention": [0.9, 0.8, 1.0, 0.9, 0.8, 0.7],
    ...     "customer_retention": [0.7, 0.75, 0.8, 0.8, 0.6, 0.7]})
    >>> ax = unit_plot(p, unit_id="a")
    >>> ax.lines[0].get_ydata().tolist()
    [0.9, 0.8]
    """
    check_columns(data, [x, y, unit, period])
    mine = data.loc[data[unit] == unit_id].sort_values(period)
    if mine.empty:
        raise InputError(f"unit {unit_id!r} is not in the data", column=unit)
    ax = new_axes(ax, (8, 4))
    others = (
        data.loc[data[unit] != unit_id]
        if peers is None
        else data.loc[data[unit].isin(list(peers)) & (data[unit] != unit_id)]
    )
    ax.plot(mine[period], mine[x], color=_color(x), lw=2, marker="o", ms=3, label=f"{_label(x)}")
    ax.plot(mine[period], mine[y], color=_color(y), lw=2, marker="o", ms=3, label=f"{_label(y)}")
    if len(others):
        q = others.groupby(period)[[x, y]].quantile(np.array([0.25, 0.75])).unstack()
        for c in (x, y):
            ax.fill_between(
                q.index,
                q[(c, 0.25)],
                q[(c, 0.75)],
                color=_color(c),
                alpha=0.15,
                lw=0,
                label=f"peers, middle half ({_label(c).split()[0].lower()})",
            )
    if _is_rate(x) and _is_rate(y):
        _percent_axis(ax.yaxis)
    ax.set_ylabel("rate")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=4, frameon=False)
    ax.set_title(f"Unit {unit_id}: its two series against its peers", fontsize=10)
    return ax
