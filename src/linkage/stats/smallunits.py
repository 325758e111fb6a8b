"""Small units: empirical-Bayes shrinkage of rates and warnings when data are too thin.

A store of 8 people that loses 1 has a 12.5 % monthly turnover; next month it may have 0 %. Raw
rates of small units swing far more than their true rates do. Empirical-Bayes shrinkage pulls each
rate towards the overall rate by an amount that depends on its denominator: a beta-binomial model
whose prior is estimated from all units by the method of moments (Kleinman 1973).

Shrinkage serves league tables and unit figures; it undoes only part of the attenuation
that the noise brings to within-unit correlations and slopes (the prior is fitted to the spread
between units, not to a unit's month-to-month swings; measured in benchmarks/README.md, under
``noise_study.py``): :func:`linkage.stats.noise_corrected` does that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.stats._prep import check_columns, numeric

__all__ = [
    "shrink_rates",
    "beta_binomial_prior",
    "size_warnings",
    "coverage",
    "MIN_UNITS",
    "MIN_PERIODS",
    "MIN_DENOMINATOR",
]

#: fewer units than this and a between-unit correlation (and the unit bootstrap) means little
MIN_UNITS = 10
#: fewer periods per unit (median) than this and within-unit and lag results mean little
MIN_PERIODS = 6
#: a rate from fewer people than this (median denominator) is mostly noise
MIN_DENOMINATOR = 20


def beta_binomial_prior(successes: np.ndarray, trials: np.ndarray) -> tuple[float, float]:
    """Method-of-moments beta prior ``(alpha, beta)`` for binomial counts with varying trials.

    With pooled rate ``p = sum(k) / sum(n)``, ``S = sum(n_i (k_i/n_i - p)^2)`` and ``N = sum(n)``,
    ``E[S] = p (1 - p) [(m - 1) + rho (N - sum(n_i^2) / N - (m - 1))]`` for m groups with
    intra-class correlation ``rho = 1 / (alpha + beta + 1)``; solving for ``rho`` gives the
    estimate. When the rates vary no more than binomial noise (``rho <= 0``), ``alpha + beta`` is
    infinite: returned as ``(inf, inf)``, meaning complete pooling.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(8.0, 2.0, size=4000)
    >>> n = rng.integers(5, 60, size=4000)
    >>> a, b = beta_binomial_prior(rng.binomial(n, p), n)
    >>> round(float(a / (a + b)), 2), round(float(a + b))  # planted: mean 0.8, alpha + beta = 10
    (0.8, 11)
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    ok = n > 0
    k, n = k[ok], n[ok]
    m = len(n)
    if m < 2:
        raise InputError("shrinkage needs at least 2 groups with a positive denominator")
    N = n.sum()
    p = k.sum() / N
    if p <= 0 or p >= 1:
        return (np.inf, np.inf)
    S = (n * (k / n - p) ** 2).sum()
    denom = N - (n * n).sum() / N - (m - 1)
    if denom <= 0:  # every group has one trial: rho is not identified
        return (np.inf, np.inf)
    rho = (S / (p * (1 - p)) - (m - 1)) / denom
    if rho <= 0:
        return (np.inf, np.inf)
    rho = min(rho, 1 - 1e-9)
    total = 1 / rho - 1
    return (p * total, (1 - p) * total)


def shrink_rates(
    data: pd.DataFrame,
    *,
    numerator: str,
    denominator: str,
    by: str | None = None,
) -> pd.DataFrame:
    """Raw and empirical-Bayes shrunk rates ``numerator / denominator``, row by row.

    The prior is estimated from all rows (or, with ``by``, separately within each group, e.g.
    per period so that each month shrinks towards its own overall rate). Each rate becomes the
    posterior mean ``(k + alpha) / (n + alpha + beta)``.

    Parameters
    ----------
    data : DataFrame
        One row per unit (or unit and period), e.g. the panel.
    numerator, denominator : str
        Count columns, e.g. ``customer_retained`` and ``customer_start``.
    by : str, optional
        Column whose groups get their own prior.

    Returns
    -------
    DataFrame
        ``data``'s index and columns plus ``rate_raw`` (NaN where the denominator is 0),
        ``rate_shrunk``, ``shrinkage`` (weight of the prior,
        ``(alpha + beta) / (n + alpha + beta)``, 0 = raw, 1 = fully pooled), ``prior_alpha``,
        ``prior_beta``.

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": list("abcd"), "customer_retained": [2, 85, 95, 170],
    ...                    "customer_start": [4, 100, 100, 200]})
    >>> out = shrink_rates(df, numerator="customer_retained", denominator="customer_start")
    >>> out[["rate_raw", "rate_shrunk"]].round(3).values.tolist()
    [[0.5, 0.825], [0.85, 0.855], [0.95, 0.933], [0.85, 0.853]]
    """
    check_columns(data, {"numerator": numerator, "denominator": denominator, "by": by})
    k = numeric(data, numerator)
    n = numeric(data, denominator)
    bad = (k < 0) | (n < 0) | (k > n)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(
            "counts must satisfy 0 <= numerator <= denominator", row=row, column=numerator
        )
    usable = np.isfinite(k) & np.isfinite(n) & (n > 0)
    groups = (
        np.zeros(len(data), dtype=np.int64)
        if by is None
        else pd.factorize(data[by], use_na_sentinel=False)[0]
    )
    alpha = np.full(len(data), np.nan)
    beta = np.full(len(data), np.nan)
    for g in np.unique(groups):  # one prior per group (a handful: periods or regions), not per row
        sel = groups == g
        a, b = beta_binomial_prior(k[sel & usable], n[sel & usable])
        alpha[sel], beta[sel] = a, b
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(usable, k / n, np.nan)
        finite = np.isfinite(alpha)
        shrunk = np.where(
            finite, (k + alpha) / (n + alpha + beta), pooled_rate(k, n, groups, usable)
        )
        weight = np.where(finite, (alpha + beta) / (n + alpha + beta), 1.0)
    shrunk = np.where(np.isfinite(n) & np.isfinite(k), shrunk, np.nan)
    return data.assign(
        rate_raw=raw, rate_shrunk=shrunk, shrinkage=weight, prior_alpha=alpha, prior_beta=beta
    )


def pooled_rate(k: np.ndarray, n: np.ndarray, groups: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Each row's group rate ``sum(k) / sum(n)`` over usable rows."""
    g = groups.max() + 1 if len(groups) else 0
    sk = np.bincount(groups, np.where(usable, k, 0.0), g)
    sn = np.bincount(groups, np.where(usable, n, 0.0), g)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sk / sn)[groups]


def coverage(X: np.ndarray, Y: np.ndarray) -> tuple[int, float]:
    """Units with both measures in some period, and their median number of such periods.

    ``X`` and ``Y`` are unit x period arrays (a row per unit, a column per period, NaN where a
    value is missing); the median is 0 when no unit has a period with both.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, np.nan], [np.nan, 1.0, 1.0]])
    >>> coverage(X, np.ones((3, 3)))
    (3, 2.0)
    """
    per_unit = (np.isfinite(X) & np.isfinite(Y)).sum(axis=1)
    seen = per_unit[per_unit > 0]
    return len(seen), float(np.median(seen)) if len(seen) else 0.0


def size_warnings(
    *, n_units: int, periods_per_unit: float, median_denominators: dict[str, float]
) -> list[str]:
    """Plain-language warnings: too few units, too short series, rates from too few people.

    Examples
    --------
    >>> size_warnings(n_units=6, periods_per_unit=24, median_denominators={"customer_start": 300})
    ... # doctest: +NORMALIZE_WHITESPACE
    ['Only 6 units: correlations between units and the unit bootstrap are unreliable with fewer
      than 10.']
    """
    out = []
    if n_units < MIN_UNITS:
        out.append(
            f"Only {n_units} units: correlations between units and the unit bootstrap are "
            f"unreliable with fewer than {MIN_UNITS}."
        )
    if periods_per_unit < MIN_PERIODS:
        out.append(
            f"Units have a median of {periods_per_unit:g} periods with both measures: within-unit "
            f"and lag results need at least {MIN_PERIODS}."
        )
    for col, med in median_denominators.items():
        if np.isfinite(med) and med < MIN_DENOMINATOR:
            out.append(
                f"The median {col} is {med:g}: rates from fewer than {MIN_DENOMINATOR} people "
                "swing by chance, which weakens correlations and slopes (the noise-corrected "
                "figures allow for it); consider weights, shrinkage (shrink_rates) for league "
                "tables, and longer periods."
            )
    return out
