"""The link in business terms: points of customer retention per point of employee retention.

The effect is the within-unit slope of y(t + k) on x(t) at the chosen lag k (by default after
removing period effects as well), with a unit-bootstrap percentile interval. One point is 0.01 on
a rate stored as a fraction (values within [-1.5, 1.5]) and 1 otherwise. When the customer counts
at the start of each period are known (``customer_start`` for ``customer_retention``), the slope
becomes customers: ``slope x one point x (customers at the start of a period, summed over units,
averaged over periods) x periods per year`` -- the customers a year kept across these units by one
point more employee retention in every unit, if the association were causal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    Grid,
    check_ci,
    check_columns,
    check_whole,
    make_grid,
    numeric,
)
from linkage.stats.bootstrap import boot_slopes, percentile_ci, unit_resample_counts
from linkage.stats.lags import LagStats, lag_stats
from linkage.words import interval, lag_phrase

__all__ = [
    "business_effect",
    "denominator_column",
    "count_columns",
    "customers_factor",
    "EFFECT_COLUMNS",
]

EFFECT_COLUMNS = [
    "method",
    "lag",
    "n",
    "n_units",
    "slope",
    "ci_low",
    "ci_high",
    "customers_per_year",
    "customers_ci_low",
    "customers_ci_high",
    "sentence",
]


def denominator_column(data: pd.DataFrame, rate: str) -> str | None:
    """The count a rate column was computed from, if present: ``customer_retention`` ->
    ``customer_start``.

    Examples
    --------
    >>> df = pd.DataFrame(columns=["customer_retention", "customer_start"])
    >>> denominator_column(df, "customer_retention")
    'customer_start'
    """
    stem = rate.rsplit("_", 1)[0] if "_" in rate else None
    cand = f"{stem}_start" if stem else None
    return cand if cand is not None and cand in data.columns and cand != rate else None


def count_columns(data: pd.DataFrame, rate: str) -> tuple[str | None, str | None]:
    """The counts a rate was computed from, where present: (``<stem>_start``, ``<stem>_retained``).

    The numerator is looked for only when the denominator exists.

    Examples
    --------
    >>> df = pd.DataFrame(columns=["customer_retention", "customer_start", "customer_retained"])
    >>> count_columns(df, "customer_retention"), count_columns(df[["customer_start"]], "customer_x")
    (('customer_start', 'customer_retained'), ('customer_start', None))
    """
    den = denominator_column(data, rate)
    num = f"{rate.rsplit('_', 1)[0]}_retained" if den is not None else None
    return den, (num if num in data.columns else None)


def _point(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return 0.01 if v.size and np.abs(v).max() <= 1.5 else 1.0


def _label(col: str) -> str:
    return col.replace("_", " ")


def customers_factor(grid: Grid, customers_per_period: float | None) -> float:
    """Customers a year per unit of slope: ``one point x customers per period x periods a year``.

    NaN when the customer count is unknown or ``y`` is not a rate stored as a fraction (a
    point of ``y`` is then not a share of customers). The slope of :func:`business_effect`
    times this factor is its ``customers_per_year``.
    """
    px, py = _point(grid.X), _point(grid.Y)
    if customers_per_period is None or not np.isfinite(customers_per_period) or py != 0.01:
        return float("nan")
    return float(px * customers_per_period * (grid.per_year or 1))


def effect_from_stats(
    stats: LagStats,
    W: np.ndarray,
    grid: Grid,
    *,
    lag: int,
    x: str,
    y: str,
    customers_per_period: float | None,
    ci: float,
    method: str,
    slope_ci: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """The effect table from per-unit sums (used by :func:`analyse` and :func:`business_effect`).

    ``slope_ci``: the slope's interval when the caller has one from its own procedure (``analyse``
    passes the one behind its p-values); otherwise a unit-bootstrap percentile interval.
    """
    j = int(np.flatnonzero(stats.lags == lag)[0])
    b = float(stats.slope[j])
    if slope_ci is not None:
        lo, hi = float(slope_ci[0]), float(slope_ci[1])
    else:
        los, his = percentile_ci(boot_slopes(W, stats.Cxx[:, j], stats.Cxy[:, j]), ci)
        lo, hi = float(los[0]), float(his[0])
    px, py = _point(grid.X), _point(grid.Y)

    def pts(s: float) -> float:  # y per x, in points or in units
        return s * px / py if px == py else s

    span = "a year" if grid.per_year else f"a {grid.step}"
    factor = customers_factor(grid, customers_per_period)
    cust, cust_lo, cust_hi = b * factor, lo * factor, hi * factor
    xs, ys = _label(x), _label(y)
    if np.isfinite(b):
        word = "points" if px == py == 0.01 else "units"
        more = "more" if b >= 0 else "less"
        sentence = (
            f"One {word[:-1]} more {xs} goes with {abs(pts(b)):.2f} {word} {more} {ys} "
            f"{lag_phrase(lag, step=grid.step)} ({interval(pts(lo), pts(hi), level=ci, word='CI')})"
        )
        if np.isfinite(cust):
            sentence += (
                f", about {cust:,.0f} customers {span} across these units "
                f"({cust_lo:,.0f} to {cust_hi:,.0f})"
            )
        sentence += "."
    else:
        sentence = f"No within-unit slope of {ys} on {xs} could be estimated at lag {lag}."
    return pd.DataFrame(
        [
            {
                "method": method,
                "lag": int(lag),
                "n": int(stats.n[j]),
                "n_units": int(stats.n_units[j]),
                "slope": b,
                "ci_low": lo,
                "ci_high": hi,
                "customers_per_year": cust,
                "customers_ci_low": cust_lo,
                "customers_ci_high": cust_hi,
                "sentence": sentence,
            }
        ],
        columns=EFFECT_COLUMNS,
    )


def customers_per_period(data: pd.DataFrame, *, period: str, count: str | None) -> float | None:
    """Customers at the start of a period, summed over units, averaged over periods."""
    if count is None:
        return None
    v = numeric(data, count)
    per = pd.Series(v).groupby(data[period].to_numpy()).sum(min_count=1)
    return float(per.mean()) if per.notna().any() else None


def business_effect(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    lag: int = 0,
    period_adjusted: bool = True,
    customers: str | None = None,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Within-unit slope of ``y`` at t + ``lag`` on ``x`` at t, in points and in customers a year.

    Parameters
    ----------
    data : DataFrame
        Long panel.
    x, y, unit, period : str
        Column names.
    lag : int
        The lag k (k > 0: x leads).
    period_adjusted : bool
        Remove period effects too (common trends and seasonality).
    customers : str, optional
        Count of customers at the start of each period; by default ``<stem>_start`` for a ``y``
        named ``<stem>_<rate>`` when present (``customer_start``).
    n_boot, seed, ci :
        Unit bootstrap.

    Returns
    -------
    DataFrame
        One row: ``method``, ``lag``, ``n``, ``n_units``, ``slope`` (y per x, as stored),
        ``ci_low``, ``ci_high``, ``customers_per_year`` (NaN without customer counts),
        ``customers_ci_low``, ``customers_ci_high``, ``sentence``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> e = 0.9 + 0.03 * rng.normal(size=(50, 24))
    >>> c = 0.8 + 0.5 * (np.roll(e, 1, axis=1) - 0.9) + 0.02 * rng.normal(size=(50, 24))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(50), 24).astype(str),
    ...                    "period": np.tile(pd.date_range("2023-01", periods=24, freq="MS"), 50),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel(),
    ...                    "customer_start": 200})
    >>> # planted slope 0.5; 50 units x 200 customers x 12 months
    >>> print(business_effect(df, lag=1, n_boot=500).sentence[0])  # doctest: +NORMALIZE_WHITESPACE
    One point more employee retention goes with 0.47 points more customer retention 1 month later
    (95% CI 0.44 to 0.51), about 569 customers a year across these units (528 to 610).
    """
    check_ci(ci)
    check_columns(data, {"customers": customers})
    grid = make_grid(data, x=x, y=y, unit=unit, period=period)
    if customers is None:
        customers = denominator_column(data, y)
    lag = check_whole("lag", lag)
    stats = lag_stats(grid, np.array([lag]), period_adjusted=period_adjusted)
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    return effect_from_stats(
        stats,
        W,
        grid,
        lag=int(lag),
        x=x,
        y=y,
        customers_per_period=customers_per_period(data, period=period, count=customers),
        ci=ci,
        method="within_slope_period_adjusted" if period_adjusted else "within_slope",
    )
