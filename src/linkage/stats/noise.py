"""Noise-corrected within-unit effects: the link between the rates units would show without chance.

A unit of 12 staff that keeps 11 one month and 12 the next moves its retention by 8 points by
chance alone. Its observed rate is the latent rate plus binomial sampling noise whose variance is
known from the counts, ``p (1 - p) / n``. Over time within a unit that noise adds to the variance
of each rate but not to the covariance of the two sides (staff leaving by chance does not make
customers leave by chance), so the within-unit correlation and the slope of customer retention on
employee retention are attenuated, and so is the "customers a year" built on the slope.

The correction (method of moments, a reliability correction in the sense of Fuller 1987, ch. 1 and
3) subtracts the expected noise from the within-unit sums of squares the lag profile already uses:

    slope_corrected = sum(Cxy) / (sum(Cxx) - sum(Nx))
    r_corrected     = sum(Cxy) / sqrt((sum(Cxx) - sum(Nx)) * (sum(Cyy) - sum(Ny)))

with ``Nx`` a unit's expected noise in its demeaned sum of squares of x: each pair's estimated
binomial variance ``v = p_hat (1 - p_hat) / (n - 1)`` (unbiased for ``p (1 - p) / n``; a period
with ``n = 1`` uses the unit's average rate), times its weight and the share of it that survives
demeaning, ``1 - w / sum(w)`` over the unit's pairs (and ``1 - w / sum(w)`` over the period's pairs
as well when period effects are removed; exact on balanced panels). ``reliability_x = 1 - Nx /
Cxx`` is the share of x's within-unit variance that is not sampling noise.

Two refinements make the corrected slope usable with units of 8-16 staff, where the noise-free
share of the variance is a few per cent and the denominator ``sum(Cxx) - sum(Nx)`` a small
difference of large sums, estimated with an error of 30-70 % of itself:

* the units' sums are weighted by the precision of their noise-free variance
  (:func:`precision_weights`, ``1 / (tau + s_u)**2`` with ``s_u`` the unit's noise per pair from
  its counts): small units, whose squares are mostly noise, count less. The weights depend on the
  counts only, so the weighted sums estimate the same latent slope; the plain sums
  (``weighted=False``) remain available;
* the slope is the ratio with its second-order bias removed, ``(A D + C) / (D**2 + V)``
  (:func:`second_order_ratio`: ``A``, ``D`` the weighted sums, ``V``, ``C`` their unit-clustered
  variance and covariance). A plain ratio of a noisy denominator is median-unbiased but its mean
  runs high, and a few samples that divide by almost nothing dominate it.

Measured on simulated worlds (``benchmarks/noise_study.py``, 100 units x 36 months), the plain
ratio's mean was 1.8-2.0 times the latent slope at 8 staff and 1.07-1.52 at 12; the weighted,
second-order slope is within 10 % of it at every size from 8 to 50 staff (figures in
benchmarks/README.md).

The interval of the corrected slope (and of the customers a year) is by default the Fieller
interval of the ratio of the (weighted) per-unit sums with unit-clustered variances
(:func:`fieller_interval`): it opens (no bound on a side) exactly when the noise-free variance
is not clearly above 0. The percentile interval of the weighted ratio over the same unit
resamples as the lag profile (``interval="bootstrap"``) is the alternative, and the interval of
the corrected r is always a bootstrap one. Measured on simulated worlds (benchmarks/README.md),
the Fieller interval covered the latent slope in at least 93 % of worlds at every unit size, the
percentile interval in as few as 90 % at some.

When the estimated noise is as large as the observed variance (``reliability <= 0``), the
correction is undefined: the corrected figures are NaN, flagged, and :func:`noise_warnings` says
so; a corrected r beyond +/-1 is capped and flagged; an interval end that the data cannot bound
is NaN and flagged.

SIMEX (Cook & Stefanski 1994) is available as ``method="simex"``: the naive statistic with extra
noise ``lambda * v`` added has the expectation ``Cxy / (Cxx + lambda * Nx)``, so its large-resample
limit is computed exactly for lambda in 0..2 and a quadratic in lambda extrapolated to -1. Measured
on simulated worlds (``benchmarks/noise_study.py``, figures in benchmarks/README.md), the
quadratic extrapolation recovers only part of an attenuation as strong as small units' (it is
exact only for mild noise), so the method of moments is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from linkage.errors import InputError
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    Grid,
    check_ci,
    check_columns,
    make_grid,
    shift_pairs,
)
from linkage.stats.bootstrap import unit_resample_counts
from linkage.stats.effect import customers_factor, customers_per_period, denominator_column
from linkage.stats.lags import LagStats, check_lag_range, check_lags, lag_stats

__all__ = [
    "noise_corrected",
    "binomial_variance",
    "noise_sums",
    "NoiseSums",
    "corrected_table",
    "noise_for_analysis",
    "noise_counts",
    "noise_warnings",
    "NOISE_COLUMNS",
    "NOISE_METHODS",
    "NOISE_INTERVALS",
    "fieller_interval",
    "precision_weights",
    "second_order_ratio",
]

NOISE_COLUMNS = [
    "method",
    "lag",
    "n",
    "n_units",
    "reliability_x",
    "reliability_y",
    "r",
    "r_corrected",
    "r_ci_low",
    "r_ci_high",
    "slope",
    "slope_corrected",
    "slope_ci_low",
    "slope_ci_high",
    "customers_per_year",
    "customers_per_year_corrected",
    "customers_ci_low",
    "customers_ci_high",
    "ci_method",
    "flag",
]

#: the corrections :func:`noise_corrected` offers
NOISE_METHODS = ("moments", "simex")

#: the intervals of the corrected slope :func:`noise_corrected` offers (the first is the default)
NOISE_INTERVALS = ("fieller", "bootstrap")

#: the SIMEX grid of added-noise multiples and the quadratic extrapolation to lambda = -1
_SIMEX_LAMBDAS = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
_SIMEX_WEIGHTS = np.array([1.0, -1.0, 1.0]) @ np.linalg.pinv(
    np.vander(_SIMEX_LAMBDAS, 3, increasing=True)
)


def binomial_variance(rate: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Estimated sampling variance ``p (1 - p) / n`` of rates from ``n`` trials, cell by cell.

    ``rate`` and ``n`` are unit x period arrays (a row per unit). Where ``n >= 2`` the estimate is
    ``p_hat (1 - p_hat) / (n - 1)``, unbiased because ``E[p_hat (1 - p_hat)] = p (1 - p) (1 -
    1/n)``. Where ``n = 1`` the rate is 0 or 1 and says nothing about its own variance: the unit's
    average rate over its periods (weighted by ``n``) stands in for ``p``. NaN where the rate is
    missing or ``n < 1``.

    Examples
    --------
    >>> # n = 1: the unit average 5 / 7 stands in, (5 / 7) (2 / 7) / 1 = 0.2041
    >>> binomial_variance(np.array([[0.75, 1.0, 0.5]]), np.array([[4.0, 1.0, 2.0]])).round(4)
    array([[0.0625, 0.2041, 0.25  ]])
    """
    p = np.asarray(rate, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = np.isfinite(p) & np.isfinite(n) & (n >= 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_p = np.where(ok, p * n, 0.0).sum(axis=1) / np.where(ok, n, 0.0).sum(axis=1)
        v = np.where(n >= 2, p * (1 - p) / (n - 1), (unit_p * (1 - unit_p))[:, None] / n)
    return np.where(ok, v, np.nan)


@dataclass(frozen=True)
class NoiseSums:
    """Per-unit expected binomial noise in the demeaned sums of squares, arrays (units, lags)."""

    lags: np.ndarray
    Nx: np.ndarray
    Ny: np.ndarray
    #: the unit's effective number of pairs (the weights' sum that survives demeaning)
    M: np.ndarray
    #: the same sum of ``1 / n`` of x's count: the unit's noise exposure for a common ``p (1 - p)``
    Kx: np.ndarray


def _survives(w: np.ndarray, two_way: bool) -> np.ndarray:
    """The share of each cell's noise variance left after demeaning with weights ``w``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = np.where(w > 0, 1 - w / w.sum(axis=1, keepdims=True), 0.0)
        if two_way:
            keep = keep * np.where(w > 0, 1 - w / w.sum(axis=0, keepdims=True), 0.0)
    return keep


def noise_sums(
    grid: Grid,
    lags: np.ndarray,
    *,
    x_count: str,
    y_count: str,
    period_adjusted: bool = True,
) -> NoiseSums:
    """Expected binomial noise in each unit's demeaned sums of squares of x(t) and y(t + k).

    ``grid`` holds ``x``, ``y`` and the two count columns (see
    :func:`linkage.stats._prep.make_grid`); the pairs and weights are those of
    :func:`linkage.stats.lags.lag_stats` on the same grid, so ``Cxx - Nx`` is the noise-free part
    of its ``Cxx``.
    """
    vx = binomial_variance(grid.X, grid[x_count])
    vy = binomial_variance(grid.Y, grid[y_count])
    U, L = grid.n_units, len(lags)
    Nx, Ny = np.zeros((U, L)), np.zeros((U, L))
    M, Kx = np.zeros((U, L)), np.zeros((U, L))
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_n = np.where(grid[x_count] >= 1, 1.0 / grid[x_count], 0.0)
    for j, k in enumerate(lags):
        a, b, _ = shift_pairs(grid.X, grid.Y, int(k))
        va, vb, _ = shift_pairs(vx, vy, int(k))
        wa, wb, _ = shift_pairs(grid.W, grid.W, int(k))
        mask = np.isfinite(a) & np.isfinite(b)
        w = np.where(mask, np.sqrt(wa * wb), 0.0)
        keep = w * _survives(w, period_adjusted)
        Nx[:, j] = np.where(mask, keep * np.nan_to_num(va), 0.0).sum(1)
        Ny[:, j] = np.where(mask, keep * np.nan_to_num(vb), 0.0).sum(1)
        M[:, j] = np.where(mask, keep, 0.0).sum(1)
        ia, _, _ = shift_pairs(inv_n, inv_n, int(k))
        Kx[:, j] = np.where(mask, keep * np.nan_to_num(ia), 0.0).sum(1)
    return NoiseSums(lags=np.asarray(lags), Nx=Nx, Ny=Ny, M=M, Kx=Kx)


def precision_weights(stats: LagStats, noise: NoiseSums) -> np.ndarray:
    """Unit weights ``1 / (tau + s_u)**2`` that make the corrected sums as precise as they can be.

    The noise-free within-unit variance of x per pair, ``tau``, is estimated from a unit's
    demeaned squares minus their noise, and the error of that estimate grows with the square of
    the variance of each pair, ``tau + s_u``, where ``s_u`` is the unit's binomial noise per
    pair: the weights are the inverse of that square (the inverse-variance weights of a variance
    component, as in the weighted method of moments for heterogeneous sampling variances). ``s_u
    = c K_u / M_u`` uses the unit's counts only (``K_u`` its sum of ``1 / n`` over pairs, ``M_u``
    its pairs) and a ``p (1 - p)`` pooled over all units (``c = sum(Nx) / sum(K)``), so a unit's
    weight does not depend on its own quits, and the weighted sums keep their expectations:
    ``sum(w Cxy) / sum(w (Cxx - Nx))`` estimates the same latent slope when it is common to the
    units. ``tau`` starts from the unweighted estimate and is updated twice with the weights.
    Units without pairs get weight 0; where ``tau`` cannot be estimated above 0 the weights are
    those of ``tau = 0``. Returns an array (units, lags), scaled to average 1 over the units
    with pairs.
    """
    M, K = noise.M, noise.Kx
    used = M > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        c = noise.Nx.sum(0) / K.sum(0)
        s = np.where(used, c * K / np.where(used, M, 1.0), np.nan)
        d = stats.Cxx - noise.Nx
        tau = np.maximum(d.sum(0) / M.sum(0), 0.0)
        w = np.ones_like(M)
        for _ in range(3):
            w = np.where(used, 1.0 / (tau + s) ** 2, 0.0)
            tau = np.maximum((w * d).sum(0) / (w * M).sum(0), 0.0)
        w = np.where(np.isfinite(w), w, 0.0)
        scale = w.sum(0) / np.maximum(used.sum(0), 1)
        w = np.where(scale > 0, w / np.where(scale > 0, scale, 1.0), used.astype(float))
    return w


def _corrected(
    sxx: np.ndarray,
    syy: np.ndarray,
    sxy: np.ndarray,
    nx: np.ndarray,
    ny: np.ndarray,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrected slope and r from summed sums; +/-inf where the correction is undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "moments":
            dx, dy = sxx - nx, syy - ny
            sign = np.sign(sxy)
            slope = np.where(dx > 0, sxy / dx, sign * np.inf)
            r = np.where((dx > 0) & (dy > 0), sxy / np.sqrt(dx * dy), sign * np.inf)
        else:  # simex: the large-resample limit at each lambda, extrapolated to -1
            lam = _SIMEX_LAMBDAS.reshape((-1,) + (1,) * np.ndim(sxx))
            slope = np.tensordot(_SIMEX_WEIGHTS, sxy / (sxx + lam * nx), axes=1)
            r = np.tensordot(
                _SIMEX_WEIGHTS, sxy / np.sqrt((sxx + lam * nx) * (syy + lam * ny)), axes=1
            )
        undefined = ~(sxx > 0) | ~(syy > 0)
    return np.where(undefined, np.nan, slope), np.where(undefined, np.nan, r)


def _bounds(boot: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds (order statistics) of each column; infinite bounds become NaN."""
    if boot.shape[0] == 0:
        nan = np.full(boot.shape[1], np.nan)
        return nan, nan.copy()
    ok = (~np.isnan(boot)).sum(axis=0) >= 10
    q = np.full((2, boot.shape[1]), np.nan)
    if ok.any():
        q[:, ok] = np.nanquantile(
            boot[:, ok], [0.5 - ci / 2, 0.5 + ci / 2], axis=0, method="inverted_cdf"
        )
    q[~np.isfinite(q)] = np.nan
    return q[0], q[1]


def _clustered_moments(a: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Units used G, sums A and D, and the clustered (co)variances Var(a), Var(d), Cov(a, d)
    (``G / (G - 1)`` times the centred sums over the units whose ``a`` or ``d`` is not 0), per
    column of per-unit sums ``a`` and ``d`` (shape (units,) or (units, lags))."""
    a = np.asarray(a, dtype=float)
    d = np.asarray(d, dtype=float)
    if a.ndim == 1:
        a, d = a[:, None], d[:, None]
    used = (a != 0) | (d != 0)
    G = used.sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        A, D = a.sum(0), d.sum(0)
        ac = np.where(used, a - A / G, 0.0)
        dc = np.where(used, d - D / G, 0.0)
        f = G / (G - 1)
        return G, A, D, f * (ac * ac).sum(0), f * (dc * dc).sum(0), f * (ac * dc).sum(0)


def second_order_ratio(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``sum(a) / sum(d)`` with its second-order bias removed: ``(A D + C) / (D**2 + V)``.

    ``a`` and ``d`` are per-unit sums, shape (units,) or (units, lags) (units whose ``a`` and
    ``d`` are both 0 are left out); ``A``, ``D`` their totals and ``V = Var(D)``, ``C = Cov(A,
    D)`` the unit-clustered (co)variances of the totals, as in :func:`fieller_interval`. A ratio
    of estimates is biased: ``E[A / D] ~ (a / d) (1 + V / D**2 - C / (A D))`` (second-order
    Taylor expansion; the delta method), badly so when ``D`` is a small difference of large sums.
    Subtracting that bias and writing the result over one denominator gives ``(A D + C) / (D**2 +
    V)``, equal to ``A / D`` to second order, bounded by ``(|A| + |C| / sqrt(V)) / (2 sqrt(V))``
    when ``D`` is near 0 (the plain ratio is not), and no different from ``A / D`` when ``V`` is
    small. NaN where ``D <= 0``; the plain ratio where fewer than 3 units have pairs (no variance to
    speak of).

    Examples
    --------
    >>> a, d = np.array([1.0, 2.0, 1.5, 2.5, 2.0]), np.array([1.0, 2.0, 0.5, 1.5, 0.0])
    >>> # A = 9, D = 5, V = 5/4 * 2.5 = 3.125, C = 5/4 * 0.5 = 0.625: (45 + 0.625) / 28.125
    >>> second_order_ratio(a, d).round(4)
    array([1.6222])
    """
    G, A, D, _, V, C = _clustered_moments(a, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(G >= 3, (A * D + C) / (D * D + V), A / D)
    return np.where(D > 0, out, np.nan)


def fieller_interval(
    a: np.ndarray, d: np.ndarray, ci: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Fieller interval of ``sum(a) / sum(d)`` over units, with unit-clustered variances.

    ``a`` and ``d`` are per-unit sums, shape (units,) or (units, lags); units whose ``a`` and
    ``d`` are both 0 (no pairs) are left out. The interval holds the ratios ``b`` for which
    ``(A - b D)**2 <= t**2 Var(A - b D)`` (Fieller 1954), with ``Var`` the clustered variance
    ``G / (G - 1) sum_u (a_u - b d_u - mean)**2`` over the G units and ``t`` the ``G - 1``
    degrees-of-freedom quantile. When ``D`` is not clearly away from 0 the set is unbounded: both
    ends NaN.

    Examples
    --------
    >>> a = np.array([1.0, 2.0, 1.5, 2.5, 2.0])
    >>> # all d_u = 1: 1.8 +/- t(4) sqrt(5/4 sum((a - 1.8)**2)) / 5 = 1.8 +/- 2.776 * 0.255
    >>> lo, hi = fieller_interval(a, np.array([1.0, 1.0, 1.0, 1.0, 1.0]))
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (1.092, 2.508)
    """
    G, A, D, vaa, vdd, vad = _clustered_moments(a, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        t2 = _st.t.ppf(0.5 + ci / 2, np.maximum(G - 1, 1)) ** 2
        qa = D * D - t2 * vdd
        qb = -2 * (A * D - t2 * vad)
        qc = A * A - t2 * vaa
        root = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
        ok = (qa > 0) & (G >= 3)
        lo = np.where(ok, (-qb - root) / (2 * qa), np.nan)
        hi = np.where(ok, (-qb + root) / (2 * qa), np.nan)
    return lo, hi


def corrected_table(
    stats: LagStats,
    noise: NoiseSums,
    W: np.ndarray,
    *,
    ci: float = 0.95,
    factor: float = float("nan"),
    method: str = "moments",
    period_adjusted: bool = True,
    interval: str | None = None,
    weighted: bool = True,
) -> pd.DataFrame:
    """The noise-corrected table from per-unit sums, noise sums and unit resample counts.

    Parameters
    ----------
    stats : LagStats
        Per-unit sums of :func:`linkage.stats.lags.lag_stats`.
    noise : NoiseSums
        Their expected noise (:func:`noise_sums`, same grid, lags and demeaning).
    W : ndarray
        Unit resample counts (:func:`linkage.stats.unit_resample_counts`), resamples in rows.
    ci : float
        Confidence level of the intervals.
    factor : float
        Customers a year per unit of slope (:func:`linkage.stats.effect.customers_factor`); NaN
        leaves the customer columns empty.
    method : str
        "moments" or "simex".
    period_adjusted : bool
        Whether ``stats`` had period effects removed (names the method).
    interval : str, optional
        Interval of the corrected slope (and customers a year): "fieller"
        (:func:`fieller_interval`; the default with method "moments") or "bootstrap"
        (percentiles of the resamples in ``W``; the default and only choice with "simex"). The
        interval of r is always the bootstrap's.
    weighted : bool
        Weigh the units' sums by :func:`precision_weights` (the default) rather than equally.

    Returns
    -------
    DataFrame
        One row per lag, columns :data:`NOISE_COLUMNS` (see :func:`noise_corrected`).
    """
    if method not in NOISE_METHODS:
        raise InputError(f"method must be one of {list(NOISE_METHODS)}, got {method!r}")
    interval = _check_interval(interval, method)
    check_ci(ci)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_x = np.where(stats.Cxx.sum(0) > 0, 1 - noise.Nx.sum(0) / stats.Cxx.sum(0), np.nan)
        rel_y = np.where(stats.Cyy.sum(0) > 0, 1 - noise.Ny.sum(0) / stats.Cyy.sum(0), np.nan)
    wt = precision_weights(stats, noise) if weighted else np.ones_like(stats.Cxx)
    sums = [wt * c for c in (stats.Cxx, stats.Cyy, stats.Cxy, noise.Nx, noise.Ny)]
    sxx, syy, sxy, nx, ny = (c.sum(0) for c in sums)
    slope_c, r_c = _corrected(sxx, syy, sxy, nx, ny, method)
    if method == "moments":
        a_u, d_u = sums[2], sums[0] - sums[3]
        slope_c = np.where(np.isfinite(slope_c), second_order_ratio(a_u, d_u), slope_c)
    L = len(stats.lags)
    boot = W @ np.concatenate(sums, axis=1)  # one product for all five sums (faster than five)
    bxx, byy, bxy, bnx, bny = (boot[:, i * L : (i + 1) * L] for i in range(5))
    bslope, br = _corrected(bxx, byy, bxy, bnx, bny, method)
    br = np.clip(br, -1.0, 1.0)
    if interval == "fieller":
        s_lo, s_hi = fieller_interval(sums[2], sums[0] - sums[3], ci)
    else:
        s_lo, s_hi = _bounds(bslope, ci)
    r_lo, r_hi = _bounds(br, ci)
    name = f"{method}_weighted" if weighted else method
    flags = []
    for j in range(len(stats.lags)):
        f = []
        if rel_x[j] <= 0 or not sxx[j] - nx[j] > 0:
            f.append("noise_exceeds_variance_x")
        if rel_y[j] <= 0 or not syy[j] - ny[j] > 0:
            f.append("noise_exceeds_variance_y")
        if np.isfinite(r_c[j]) and abs(r_c[j]) > 1:
            f.append("r_capped")
        if (np.isfinite(slope_c[j]) or np.isfinite(r_c[j])) and not (
            np.isfinite(s_lo[j]) and np.isfinite(s_hi[j])
        ):
            f.append("interval_unbounded")
        flags.append(";".join(f))
    slope_c = np.where(np.isfinite(slope_c), slope_c, np.nan)
    r_c = np.clip(np.where(np.isfinite(r_c), r_c, np.nan), -1.0, 1.0)
    return pd.DataFrame(
        {
            "method": name + "_period_adjusted" if period_adjusted else name,
            "lag": stats.lags,
            "n": stats.n,
            "n_units": stats.n_units,
            "reliability_x": rel_x,
            "reliability_y": rel_y,
            "r": stats.r,
            "r_corrected": r_c,
            "r_ci_low": r_lo,
            "r_ci_high": r_hi,
            "slope": stats.slope,
            "slope_corrected": slope_c,
            "slope_ci_low": s_lo,
            "slope_ci_high": s_hi,
            "customers_per_year": stats.slope * factor,
            "customers_per_year_corrected": slope_c * factor,
            "customers_ci_low": s_lo * factor,
            "customers_ci_high": s_hi * factor,
            "ci_method": f"slope {interval}, r bootstrap",
            "flag": flags,
        },
        columns=NOISE_COLUMNS,
    )


def _check_interval(interval: str | None, method: str) -> str:
    """The interval to use: ``interval``, or the method's default when it is None."""
    if interval is None:
        return "fieller" if method == "moments" else "bootstrap"
    if interval not in NOISE_INTERVALS:
        raise InputError(f"interval must be one of {list(NOISE_INTERVALS)}, got {interval!r}")
    if interval == "fieller" and method != "moments":
        raise InputError("interval='fieller' goes with method='moments' only")
    return interval


def _counts(
    data: pd.DataFrame,
    x: str,
    y: str,
    x_count: str | None,
    y_count: str | None,
    *,
    hint_arguments: bool = True,
) -> tuple[str, str]:
    """The two count columns (given or found); :class:`InputError` naming what is missing."""
    check_columns(data, {"x_count": x_count, "y_count": y_count})
    xc = x_count if x_count is not None else denominator_column(data, x)
    yc = y_count if y_count is not None else denominator_column(data, y)
    if xc is None or yc is None:
        missing = [
            f"{rate} (no {rate.rsplit('_', 1)[0]}_start column)"
            for rate, c in ((x, xc), (y, yc))
            if c is None
        ]
        hint = "; pass x_count / y_count" if hint_arguments else ""
        raise InputError(
            "the binomial noise of a rate is known only from its denominator, and there is none "
            f"for {' or '.join(missing)}{hint}"
        )
    return xc, yc


def _check_rates(grid: Grid, columns: Sequence[str]) -> None:
    for c in columns:
        v = grid[c]
        if ((v < 0) | (v > 1)).any():
            raise InputError(
                "a noise correction needs rates stored as fractions between 0 and 1", column=c
            )


def noise_corrected(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    lags: Sequence[int] = (0,),
    x_count: str | None = None,
    y_count: str | None = None,
    period_adjusted: bool = True,
    weights: str | None = None,
    method: str = "moments",
    interval: str | None = None,
    weighted: bool = True,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Within-unit r, slope and customers a year corrected for the binomial noise of the rates.

    Parameters
    ----------
    data : DataFrame
        Long panel with the two rates and the counts they were computed from.
    x, y, unit, period : str
        Column names (``x`` at t paired with ``y`` at t + lag).
    lags : sequence of int
        The lags to correct (k > 0: x leads).
    x_count, y_count : str, optional
        Denominators of the rates; by default ``<stem>_start`` for a rate named
        ``<stem>_<rate>`` (``employee_start`` for ``employee_retention``). The ``y`` count also
        gives the customers a year, as in :func:`linkage.stats.business_effect`. A rate whose
        denominator is not exactly that count (turnover over the average headcount) gets the
        binomial variance of its value over the count: an approximation.
    period_adjusted : bool
        Remove period effects too (as the business effect does by default).
    weights : str, optional
        Observation weights, as in :func:`linkage.stats.lag_profile`.
    method : str
        "moments" (default; see the module notes) or "simex".
    interval : str, optional
        Interval of the corrected slope and customers a year: "fieller" (the default with
        ``method="moments"``, :func:`fieller_interval`) or "bootstrap" (unit resamples; the
        default with "simex").
    weighted : bool
        Weigh the units by the precision of their noise-free variance (:func:`precision_weights`,
        the default) rather than equally.
    n_boot, seed, ci :
        Unit bootstrap (of the r interval, and of the slope's with ``interval="bootstrap"``) and
        the confidence level.

    Returns
    -------
    DataFrame
        One row per lag: ``method``, ``lag``, ``n``, ``n_units``, ``reliability_x``,
        ``reliability_y`` (share of each side's within-unit variance that is not sampling noise),
        ``r`` and ``slope`` (raw, as in the lag profile), ``r_corrected``, ``r_ci_low``,
        ``r_ci_high``, ``slope_corrected``, ``slope_ci_low``, ``slope_ci_high``,
        ``customers_per_year`` (raw), ``customers_per_year_corrected``, ``customers_ci_low``,
        ``customers_ci_high`` (NaN without customer counts), ``ci_method`` (the procedure behind
        the slope's and r's intervals), ``flag`` (";"-separated:
        ``noise_exceeds_variance_x`` / ``_y``: the correction is undefined and the corrected
        figures NaN; ``r_capped``: the corrected r overshot +/-1 and was capped;
        ``interval_unbounded``: an interval bound is NaN, no bound on that side, because the
        noise-free variance is not clearly above 0).

    Raises
    ------
    InputError
        Without a count column for either rate, or with rates outside [0, 1].

    Examples
    --------
    A world whose latent rates move together (slope 1) seen through units of 10 staff and 10
    customers:

    >>> rng = np.random.default_rng(0)
    >>> p = 0.8 + 0.06 * rng.standard_normal((200, 24))
    >>> n = np.full((200, 24), 10)
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(200), 24).astype(str),
    ...                    "period": np.tile(np.arange(24), 200),
    ...                    "employee_start": n.ravel(), "customer_start": n.ravel(),
    ...                    "employee_retention": rng.binomial(n, p).ravel() / 10,
    ...                    "customer_retention": rng.binomial(n, p).ravel() / 10})
    >>> out = noise_corrected(df, n_boot=200)  # planted: latent slope 1 and latent r 1
    >>> out[["slope", "slope_corrected", "r", "r_corrected"]].round(2).values.tolist()
    [[0.19, 0.99, 0.18, 0.96]]
    """
    check_ci(ci)
    if method not in NOISE_METHODS:
        raise InputError(f"method must be one of {list(NOISE_METHODS)}, got {method!r}")
    interval = _check_interval(interval, method)
    xc, yc = _counts(data, x, y, x_count, y_count)
    grid = make_grid(data, x=x, y=y, columns=[xc, yc], unit=unit, period=period, weights=weights)
    _check_rates(grid, [x, y])
    grid_lags = check_lags(None, list(lags))
    check_lag_range(grid, grid_lags, name="lags")
    stats = lag_stats(grid, grid_lags, period_adjusted=period_adjusted)
    noise = noise_sums(grid, grid_lags, x_count=xc, y_count=yc, period_adjusted=period_adjusted)
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    factor = customers_factor(grid, customers_per_period(data, period=period, count=yc))
    return corrected_table(
        stats,
        noise,
        W,
        ci=ci,
        factor=factor,
        method=method,
        period_adjusted=period_adjusted,
        interval=interval,
        weighted=weighted,
    )


def noise_warnings(table: pd.DataFrame, *, lag: int) -> list[str]:
    """Plain-language warnings about the correction at ``lag`` (undefined, capped, unbounded).

    Examples
    --------
    >>> t = pd.DataFrame({"lag": [0], "flag": ["noise_exceeds_variance_x"]})
    >>> noise_warnings(t, lag=0)  # doctest: +NORMALIZE_WHITESPACE
    ['At lag 0 the binomial noise the counts imply is as large as the within-unit variance of x,
      so no noise-corrected effect can be given (NaN): longer periods or larger units would
      help.']
    """
    rows = table[table["lag"] == lag]
    if rows.empty:
        return []
    flag = str(rows["flag"].iloc[0])
    out = []
    sides = [s for s in ("x", "y") if f"noise_exceeds_variance_{s}" in flag]
    if sides:
        out.append(
            f"At lag {lag} the binomial noise the counts imply is as large as the within-unit "
            f"variance of {' and '.join(sides)}, so no noise-corrected effect can be given (NaN): "
            "longer periods or larger units would help."
        )
    if "r_capped" in flag:
        out.append(
            f"At lag {lag} the noise-corrected r overshot 1 in size and was capped: the noise "
            "correction is imprecise here."
        )
    if "interval_unbounded" in flag:
        out.append(
            f"At lag {lag} the noise-free variance is not clearly above 0: the interval of the "
            "noise-corrected effect has no bound on at least one side."
        )
    return out


def noise_counts(data: pd.DataFrame, *, x: str, y: str) -> list[str]:
    """The numeric count columns behind ``x`` and ``y`` (``<stem>_start``), for the grid.

    :func:`linkage.stats.analyse` lays them out on its one grid, so the correction costs no second
    pass over the data.

    Examples
    --------
    >>> df = pd.DataFrame({"employee_retention": [0.9], "employee_start": [10],
    ...                    "customer_retention": [0.8], "customer_start": ["many"]})
    >>> noise_counts(df, x="employee_retention", y="customer_retention")
    ['employee_start']
    """
    found = [denominator_column(data, c) for c in (x, y)]
    out: list[str] = []
    for c in found:
        if c is not None and c not in out and c not in (x, y):
            if pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c]):
                out.append(c)
    return out


def noise_for_analysis(
    data: pd.DataFrame,
    grid: Grid,
    stats: LagStats,
    W: np.ndarray,
    *,
    period: str,
    ci: float,
    lag: int,
) -> tuple[pd.DataFrame, list[str]]:
    """The noise-corrected table of :func:`linkage.stats.analyse` and its warnings.

    ``grid`` is the analysis's grid, holding the columns of :func:`noise_counts`; ``stats`` its
    period-adjusted per-unit sums and ``W`` its unit resample counts, so the raw ``r`` and
    ``slope`` are those of its lag profile and the intervals use the same resamples. Without count
    columns the table is empty and the warning says why.
    """
    x, y = str(grid.x), str(grid.y)
    try:
        xc, yc = _counts(data, x, y, None, None, hint_arguments=False)
        for c in (xc, yc):
            if c not in grid.values:
                raise InputError(f"the count column {c!r} is not numeric", column=c)
        _check_rates(grid, [x, y])
    except InputError as err:
        empty = pd.DataFrame(columns=NOISE_COLUMNS)
        return empty, [f"No noise-corrected effects: {err.problem}."]
    noise = noise_sums(grid, stats.lags, x_count=xc, y_count=yc, period_adjusted=True)
    factor = customers_factor(grid, customers_per_period(data, period=period, count=yc))
    table = corrected_table(stats, noise, W, ci=ci, factor=factor)
    return table, noise_warnings(table, lag=lag)
