"""The linkage per customer segment and per region, corrected for looking at many groups.

Splitting the units (by region) or the customers (by segment) and testing each group invites false
discoveries: with ten segments one of them will look linked by chance about half the time.
:func:`segment_linkage` computes, for each group, the between-unit correlation and the within-unit
correlation at one lag (the lag profile's statistic: unit-bootstrap interval, unit-clustered
p-value), adjusts the p-values over the groups (Holm by default, or the false discovery rate), and
says where a group is too small to mean much (few units, few periods, small denominators). All
units together are reported on a row of their own (``group = "(all)"``) for comparison; that row is
not part of the adjustment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    check_ci,
    check_columns,
    check_whole,
    make_grid,
)
from linkage.stats.bootstrap import unit_resample_counts
from linkage.stats.correlation import between_corr
from linkage.stats.effect import count_columns, denominator_column
from linkage.stats.lags import LAG_COLUMNS, adjust_p, lag_stats, profile_table
from linkage.stats.smallunits import MIN_DENOMINATOR, MIN_PERIODS, MIN_UNITS, coverage

__all__ = ["segment_linkage", "SEGMENT_COLUMNS"]

SEGMENT_COLUMNS = ["by", "group", *LAG_COLUMNS, "median_denominator", "warning"]

ALL = "(all)"


def _small(
    n_units: int,
    periods: float,
    denom: float | None,
    min_units: int,
    min_periods: int,
    min_denominator: int,
) -> str:
    out = []
    if n_units < min_units:
        out.append(f"only {n_units} units (fewer than {min_units})")
    if periods < min_periods:
        out.append(f"a median of {periods:g} periods per unit (fewer than {min_periods})")
    if denom is not None and np.isfinite(denom) and denom < min_denominator:
        out.append(
            f"a median of {denom:g} at the start of a period (fewer than {min_denominator}): "
            "rates are mostly noise"
        )
    return "; ".join(out)


def _group_rows(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    unit: str,
    period: str,
    lag: int,
    period_adjusted: bool,
    weights: str | None,
    n_boot: int,
    seed: int | None,
    ci: float,
    p_method: str,
) -> tuple[pd.DataFrame, float]:
    """One group's between row and within row, and its median periods per unit."""
    grid = make_grid(data, x=x, y=y, unit=unit, period=period, weights=weights)
    stats = lag_stats(grid, np.array([lag]), period_adjusted=period_adjusted)
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    method = "within_period_adjusted" if period_adjusted else "within"
    within = profile_table(
        stats, W, ci=ci, adjust="none", method=method, p_method=p_method, seed=seed
    )
    within = within.drop(columns=["p_adj"])
    try:
        between = between_corr(data, x=x, y=y, unit=unit, weights=weights, ci=ci).assign(
            lag=0, slope=np.nan
        )
    except InputError:
        between = pd.DataFrame()
    _, periods = coverage(grid.X, grid.Y)
    return pd.concat([between, within], ignore_index=True), periods


def _join_x(
    data: pd.DataFrame, panel: pd.DataFrame, *, x: str, unit: str, period: str
) -> pd.DataFrame:
    """``data`` with ``x`` joined from ``panel`` by unit and period."""
    check_columns(panel, {"x": x, "unit": unit, "period": period}, file="panel")
    right = panel[[unit, period, x]]
    if right.duplicated([unit, period]).any():
        raise InputError(
            "the panel has more than one row for a unit and period", file="panel", column=period
        )
    return data.merge(right, on=[unit, period], how="left", validate="many_to_one")


def _all_units(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    unit: str,
    period: str,
    weights: str | None,
) -> pd.DataFrame | None:
    """All units together: ``data`` itself, or its per-segment rows of a unit and period summed
    (counts), or None when they cannot be summed."""
    if not data.duplicated([unit, period]).any():
        return data
    den, num = count_columns(data, y)
    if den is None or num is None:
        return None
    whole = data.groupby([unit, period], as_index=False, sort=True).agg(
        **{den: (den, "sum"), num: (num, "sum"), x: (x, "first")}
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        whole[y] = np.where(whole[den] > 0, whole[num] / whole[den].where(whole[den] > 0), np.nan)
    if weights is not None and weights not in whole.columns:
        return None
    return whole


def segment_linkage(
    data: pd.DataFrame,
    *,
    by: str,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    panel: pd.DataFrame | None = None,
    lag: int = 0,
    period_adjusted: bool = True,
    weights: str | None = None,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
    adjust: str = "holm",
    p_method: str = "cluster",
    min_units: int = MIN_UNITS,
    min_periods: int = MIN_PERIODS,
    min_denominator: int = MIN_DENOMINATOR,
) -> pd.DataFrame:
    """Between- and within-unit linkage in each group of ``by``, p-values adjusted over the groups.

    Parameters
    ----------
    data : DataFrame
        Long table with one row per unit, period and group: a panel with a unit attribute such as
        ``region`` (``by="region"``), or a per-segment table (``unit_id, period, segment,
        customer_start, customer_retained, customer_retention, ...``, ``by="segment"``).
    by : str
        The grouping column.
    x, y, unit, period : str
        Column names.
    panel : DataFrame, optional
        Where ``x`` comes from when ``data`` lacks it (the per-segment table has the customer side
        only): ``x`` is joined from ``panel`` by ``unit`` and ``period``.
    lag : int
        x at t against y at t + ``lag`` (k > 0: x leads), e.g. the lag found for all units.
    period_adjusted : bool
        Remove period effects within each group too (shared trends and seasons).
    weights : str, optional
        Observation weights (e.g. ``customer_start``).
    n_boot, seed, ci, p_method :
        Unit bootstrap and test, as :func:`linkage.stats.lag_profile`.
    adjust : str
        Correction over the groups ("holm", "fdr_bh", "bonferroni", "none", ...), separately for the
        between and the within rows.
    min_units, min_periods, min_denominator : int
        Below these a group gets a ``warning`` (too few units, too few periods per unit, too small a
        median denominator of ``y``).

    Returns
    -------
    DataFrame
        Two rows per group (``method`` "between", and "within_period_adjusted" or "within"), the
        ``(all)`` rows first: ``by``, ``group``, ``method``, ``lag``, ``n``, ``n_units``, ``r``,
        ``ci_low``, ``ci_high`` (between: Fisher z; within: unit bootstrap), ``p_val``, ``p_adj``
        (over the groups; NaN for ``(all)``), ``dof``, ``slope`` (within), ``median_denominator``,
        ``warning`` (empty when the group is large enough).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U, T = 60, 24
    >>> e = rng.normal(size=(U, T))
    >>> region = np.where(np.arange(U) < 30, "North", "South")
    >>> c = np.where((region == "North")[:, None], 0.8, 0.0) * e + rng.normal(size=(U, T))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str),
    ...                    "period": np.tile(np.arange(T), U), "region": np.repeat(region, T),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    >>> out = segment_linkage(df, by="region", n_boot=200)
    >>> within = out[out.method == "within_period_adjusted"].set_index("group")
    >>> bool(within.loc["North", "p_adj"] < 0.05), bool(within.loc["South", "p_adj"] > 0.05)
    (True, True)
    """
    check_ci(ci)
    check_columns(data, {"by": by, "y": y, "unit": unit, "period": period, "weights": weights})
    lag = check_whole("lag", lag)
    if x not in data.columns:
        if panel is None:
            check_columns(data, {"x": x})  # raises: x is missing
        else:
            data = _join_x(data, panel, x=x, unit=unit, period=period)
    if data[by].isna().any():
        row = int(np.flatnonzero(data[by].isna().to_numpy())[0]) + 1
        raise InputError("group is missing", row=row, column=by)
    den = denominator_column(data, y)
    groups = pd.unique(data[by].astype(str))
    if len(groups) == 0:
        raise InputError("no rows to group", column=by)
    keys = data[by].astype(str).to_numpy()
    whole = _all_units(data, x=x, y=y, unit=unit, period=period, weights=weights)
    subsets = [(ALL, whole)] if whole is not None else []
    subsets += [(g, data[keys == g]) for g in groups]
    parts = []
    for g, sub in subsets:  # a handful of groups, each vectorised
        rows, periods = _group_rows(
            sub,
            x=x,
            y=y,
            unit=unit,
            period=period,
            lag=int(lag),
            period_adjusted=period_adjusted,
            weights=weights,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            p_method=p_method,
        )
        d = (
            float(np.nanmedian(pd.to_numeric(sub[den], errors="coerce")))
            if den is not None
            else None
        )
        n_units = int(rows["n_units"].max()) if len(rows) else 0
        rows = rows.assign(
            by=by,
            group=g,
            median_denominator=np.nan if d is None else d,
            warning=_small(n_units, periods, d, min_units, min_periods, min_denominator),
        )
        parts.append(rows)
    out = pd.concat(parts, ignore_index=True)
    out["p_adj"] = np.nan
    for method in out["method"].unique():
        sel = (out["method"] == method) & (out["group"] != ALL)
        out.loc[sel, "p_adj"] = adjust_p(out.loc[sel, "p_val"].to_numpy(dtype=float), adjust)
    return out[SEGMENT_COLUMNS].reset_index(drop=True)
