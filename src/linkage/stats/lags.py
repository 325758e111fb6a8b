"""The lead-lag profile: within-unit correlation of x(t) with y(t + k) for k = -K..K.

Lag sign (docs/design.md): at lag k, x at period t is paired with y at period t + k of the same
unit, matched by period *value* (a missing month is a gap, not a shift); k > 0 means x (employees)
leads y (customers).

At each lag the pairs are demeaned within units and correlated (rmcorr). By default
(``p_method="cr2"``) the p-value and the interval come from one procedure: the unit influence of
r on Fisher's z scale with the CR2 (bias-reduced linearisation) small-sample correction and Bell &
McCaffrey's degrees of freedom (:func:`cr2_inference`), so the interval excludes 0 exactly when
``p < 1 - ci``. It keeps 3.5-6.5 % false positives at 5 % and 93-97 % coverage from 15 units up,
equal or unequal unit sizes, persistent or not (``benchmarks/calibration_study.py``; README).
Also available: ``"wild"`` (wild cluster bootstrap-t, Webb weights), ``"cluster"`` (the analytic
clustered t on ``G - 1``) and ``"t"`` (rmcorr's own t-test and Fisher-z interval on
``n - units - 1``, which treats unit-periods as independent and rejects too often on persistent
rates of unequal units).

The lags are a family: a unit-bootstrap max-t over the same unit resamples (in each resample r
at every lag is centred on Fisher's z scale and studentized with its own clustered standard
error, :func:`boot_max_t`) gives one critical value for all lags: simultaneous bands
(``band_low``, ``band_high``: all lags covered at once) and Romano-Wolf step-down adjusted
p-values (``adjust="romano-wolf"``, the default), so a best lag is reported on at most 5 % of
null worlds (conservatively with fewer than about 50 units). ``win_share`` is how often each
lag has the largest ``|r|`` across the unit resamples.

The *period-adjusted* profile removes period effects as well (common trends and seasonality): the
pairs are demeaned by unit and by period (two-way fixed effects, by alternating projections, exact
on unbalanced panels; the rmcorr dof becomes ``n - units - periods``). Its bootstrap resamples units
with the period effects held at their full-sample estimates (the residuals are computed once, then
per-unit sums are resampled); with many units this costs almost nothing in coverage, with few units
the interval is slightly too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st
from statsmodels.stats.multitest import multipletests

from linkage.errors import InputError
from linkage.stats._fe import demean_grid
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    Grid,
    check_ci,
    check_whole,
    make_grid,
    shift_pairs,
)
from linkage.stats.bootstrap import (
    boot_slopes,
    percentile_ci,
    unit_resample_counts,
)
from linkage.stats.correlation import r_inference

__all__ = [
    "lag_pairs",
    "lag_profile",
    "choose_best_lag",
    "cr2_inference",
    "boot_max_t",
    "family_critical_value",
    "romano_wolf",
    "split_estimate",
    "LAG_COLUMNS",
    "P_METHODS",
]

#: a seed for :func:`numpy.random.default_rng`: a number, a sequence of numbers (spawned
#: streams, e.g. ``[seed, 1]``) or None
Seed = int | Sequence[int] | None

LAG_COLUMNS = [
    "method",
    "lag",
    "n",
    "n_units",
    "r",
    "ci_low",
    "ci_high",
    "p_val",
    "p_adj",
    "dof",
    "slope",
]

#: columns :func:`profile_table` adds after :data:`LAG_COLUMNS`: the simultaneous band of r over
#: all lags, how often each lag wins across unit resamples, and the procedures behind the numbers
FAMILY_COLUMNS = ["band_low", "band_high", "win_share", "p_method", "ci_method", "p_adj_method"]

#: the ``adjust`` methods :func:`adjust_p` accepts (``statsmodels`` ``multipletests`` names, "none")
ADJUST_METHODS = {"holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "holm-sidak", "hommel", "none"}

#: the tests behind a lag's p-value (see the module notes)
P_METHODS = ("cr2", "wild", "cluster", "t")

#: Webb's (2014) six-point weights for the wild cluster bootstrap (mean 0, variance 1)
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])

#: the names the JSON gives each procedure
PROCEDURES = {
    "cr2": "CR2 unit-clustered t, Bell-McCaffrey dof (Fisher z for r)",
    "wild": "wild cluster bootstrap-t, Webb weights, null imposed",
    "cluster": "unit-clustered t on G - 1 dof (Fisher z for r)",
    "t": "rmcorr t-test on n - units - 1 dof, Fisher-z interval (unit-periods as independent)",
    "romano-wolf": "Romano-Wolf step-down over lags, unit-bootstrap max-t",
    "band": "simultaneous over lags: unit-bootstrap max-t, Fisher z",
}


@dataclass(frozen=True)
class LagStats:
    """Per-unit centred sums for each lag (arrays of shape (units, lags)) and per-lag counts."""

    lags: np.ndarray
    Cxx: np.ndarray
    Cyy: np.ndarray
    Cxy: np.ndarray
    n: np.ndarray
    n_units: np.ndarray
    dof: np.ndarray

    @property
    def r(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            sxx, syy = self.Cxx.sum(0), self.Cyy.sum(0)
            r = self.Cxy.sum(0) / np.sqrt(sxx * syy)
        return np.where((sxx > 0) & (syy > 0), r, np.nan)

    @property
    def slope(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            sxx = self.Cxx.sum(0)
            b = self.Cxy.sum(0) / sxx
        return np.where(sxx > 0, b, np.nan)


def lag_stats(grid: Grid, lags: np.ndarray, *, period_adjusted: bool = False) -> LagStats:
    """Per-unit centred sums of squares and cross-products of x(t) and y(t + k), for each lag k."""
    U = grid.n_units
    L = len(lags)
    Cxx, Cyy, Cxy = (np.zeros((U, L)) for _ in range(3))
    n, n_units, dof = (np.zeros(L, dtype=np.int64) for _ in range(3))
    for j, k in enumerate(lags):  # a handful of lags; everything inside is vectorised over units
        a, b, _ = shift_pairs(grid.X, grid.Y, int(k))
        wa, wb, _ = shift_pairs(grid.W, grid.W, int(k))
        mask = np.isfinite(a) & np.isfinite(b)
        w = np.where(mask, np.sqrt(wa * wb), 0.0)
        V, absorbed = demean_grid(np.stack([a, b]), w, mask, two_way=period_adjusted)
        da, db = V[0], V[1]
        n[j] = int(mask.sum())
        n_units[j] = int((w.sum(axis=1) > 0).sum())
        Cxx[:, j] = (w * da * da).sum(1)
        Cyy[:, j] = (w * db * db).sum(1)
        Cxy[:, j] = (w * da * db).sum(1)
        dof[j] = n[j] - absorbed - 1
    return LagStats(lags=np.asarray(lags), Cxx=Cxx, Cyy=Cyy, Cxy=Cxy, n=n, n_units=n_units, dof=dof)


def check_lags(max_lag: int | None, lags: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """The lags to compute: ``lags`` as whole numbers, or ``-max_lag .. max_lag`` without them.

    Examples
    --------
    >>> check_lags(2).tolist(), check_lags(None, [0, 3]).tolist()
    ([-2, -1, 0, 1, 2], [0, 3])
    """
    if lags is None:
        k = check_whole("max_lag", max_lag, low=0)
        lags = np.arange(-k, k + 1)
    out = np.asarray(lags)
    if out.size == 0 or not np.issubdtype(out.dtype, np.integer):
        raise InputError("lags must be a non-empty list of whole numbers")
    return out.astype(np.int64)


def check_lag_range(grid: Grid, lags: np.ndarray, *, name: str = "max_lag") -> None:
    """Raise :class:`InputError` unless every lag fits the data and pairs some x(t) with y(t + k).

    ``T`` periods allow lags up to ``T - 2`` either way (a lag of ``T - 1`` would pair the first
    period with the last only); a lag at which no unit has both x at t and y at t + k is refused
    too, so a lag grid never comes back silently empty. ``name`` is the argument the lags came from
    (``"max_lag"``, ``"lag"``, ``"lags"``), for the message.

    Examples
    --------
    >>> from linkage.stats._prep import make_grid
    >>> df = pd.DataFrame({"u": ["a"] * 4, "t": [1, 2, 3, 4], "e": [1.0, 2, 3, 4],
    ...                    "c": [2.0, 1, 4, 3]})
    >>> g = make_grid(df, x="e", y="c", unit="u", period="t")
    >>> check_lag_range(g, check_lags(2))
    >>> check_lag_range(g, check_lags(500))
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: max_lag 500 is beyond the data: 4 periods allow lags up to 2
    """
    T = grid.X.shape[1]
    biggest = int(np.abs(lags).max()) if len(lags) else 0
    if biggest > T - 2:
        allowed = f"lags up to {T - 2}" if T >= 2 else "no lag (a lag needs 2 periods or more)"
        raise InputError(f"{name} {biggest} is beyond the data: {T} periods allow {allowed}")
    for k in lags:
        a, b, _ = shift_pairs(grid.X, grid.Y, int(k))
        if not (np.isfinite(a) & np.isfinite(b)).any():
            step = grid.step if grid.step != "period" else "period"
            raise InputError(
                f"lag {int(k)} has no pairs: no unit has both {grid.x} at t and {grid.y} "
                f"{int(k)} {step}(s) later; lower {name}"
            )


def adjust_p(p: np.ndarray, method: str) -> np.ndarray:
    """p-values adjusted for multiple comparisons (``method`` in :data:`ADJUST_METHODS`).

    NaN p-values stay NaN and do not count as comparisons; "holm" is :func:`holm`, the other
    methods are ``statsmodels`` ``multipletests``.

    Examples
    --------
    >>> adjust_p(np.array([0.01, np.nan, 0.04]), "bonferroni").tolist()
    [0.02, nan, 0.08]
    """
    if method not in ADJUST_METHODS:
        raise InputError(f"adjust must be one of {sorted(ADJUST_METHODS)}, got {method!r}")
    out = np.full_like(p, np.nan, dtype=float)
    ok = np.isfinite(p)
    if method == "none" or not ok.any():
        out[ok] = p[ok]
        return out
    if method == "holm":
        out[ok] = holm(p[ok])
    else:
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (as ``statsmodels`` ``multipletests(method="holm")``).

    Computed here because statsmodels' Holm branch runs a full garbage collection on every call,
    too slow for dashboards in a session with large tables loaded (measured figures:
    benchmarks/README.md).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(np.maximum.accumulate(p[order] * np.arange(m, 0, -1)), 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def cluster_test(stats: LagStats) -> tuple[np.ndarray, np.ndarray]:
    """Unit-clustered test of the within-unit slope (hence of r) at each lag: p-values and dof.

    The slope ``b = sum(Cxy) / sum(Cxx)`` has the cluster-robust variance
    ``G / (G - 1) * sum_u s_u**2 / sum(Cxx)**2`` with unit scores ``s_u = Cxy_u - b * Cxx_u`` and
    G units with pairs; ``t = b / se`` on ``G - 1`` degrees of freedom. Unlike the rmcorr t-test it
    stays valid when small units have noisier rates on both sides and when errors are correlated
    within a unit: in null worlds it keeps near the nominal false-positive rate where the rmcorr
    t-test gives about twice as many (measured figures: benchmarks/README.md,
    ``simulation_study.py``).
    """
    b = stats.slope
    scores = stats.Cxy - b * stats.Cxx
    G = stats.n_units.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(G / (G - 1) * (scores**2).sum(0)) / stats.Cxx.sum(0)
        t = b / se
    dof = (G - 1).astype(np.int64)
    ok = (G >= 3) & np.isfinite(t)
    p = np.where(ok, 2 * _st.t.sf(np.abs(np.where(ok, t, 0.0)), np.maximum(dof, 1)), np.nan)
    return p, dof


def _cluster_t(stats: LagStats, CxyCxx: np.ndarray, Cxy2: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Clustered t of slopes ``b`` given sums over units of (reweighted) ``Cxy * Cxx`` and
    ``Cxy**2``, vectorised over resamples."""
    G = stats.n_units.astype(float)
    sxx = stats.Cxx.sum(0)
    # sum_u (Cxy_u - b Cxx_u)^2, expanded so that it needs only sums over units
    ss = Cxy2 - 2 * b * CxyCxx + b * b * (stats.Cxx**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return b / (np.sqrt(G / (G - 1) * np.maximum(ss, 0.0)) / sxx)


def _webb(n_boot: int, n_units: int, seed: Seed) -> np.ndarray:
    """Webb weights, one per unit and resample: shape (n_boot, n_units)."""
    rng = np.random.default_rng(seed)
    return WEBB[rng.integers(0, 6, size=(n_boot, n_units))]


def wild_cluster_test(stats: LagStats, n_boot: int, seed: Seed) -> tuple[np.ndarray, np.ndarray]:
    """Wild cluster bootstrap-t p-values (Webb weights, null imposed) at each lag.

    Under H0 (slope 0) the restricted residuals are the demeaned y values themselves; multiplying
    a whole unit's residuals by a weight ``v_u`` (Webb's six points, better than +/-1 with few
    units) gives ``Cxy*_u = v_u * Cxy_u``, from which the bootstrap slope and its clustered t
    follow without touching the data (Cameron, Gelbach & Miller 2008; Webb 2014).
    ``p = (1 + #{|t*| >= |t|}) / (n_boot + 1)``: it cannot go below ``1 / (n_boot + 1)``, so use
    2,000 resamples or more.
    """
    if n_boot < 1:
        raise InputError("p_method='wild' needs n_boot >= 1 (2,000 or more recommended)")
    U = stats.Cxx.shape[0]
    V = _webb(n_boot, U, seed)
    sxx = stats.Cxx.sum(0)
    t_obs = _cluster_t(stats, (stats.Cxy * stats.Cxx).sum(0), (stats.Cxy**2).sum(0), stats.slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_star = (V @ stats.Cxy) / sxx
    t_star = _cluster_t(stats, V @ (stats.Cxy * stats.Cxx), (V**2) @ (stats.Cxy**2), b_star)
    exceed = (np.abs(t_star) >= np.abs(t_obs)[None, :]).sum(axis=0)
    ok = np.isfinite(t_obs) & (stats.n_units >= 3)
    p = np.where(ok, (1 + exceed) / (n_boot + 1), np.nan)
    return p, (stats.n_units - 1).astype(np.int64)


@dataclass(frozen=True)
class LagInference:
    """p-values and intervals of r (and of the slope) at each lag, from one procedure."""

    p: np.ndarray
    dof: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    slope_low: np.ndarray
    slope_high: np.ndarray
    z: np.ndarray
    se_z: np.ndarray
    method: str


def _leverage(stats: LagStats) -> np.ndarray:
    """Each unit's share of ``sum(Cxx)`` at each lag (its leverage in the within-unit slope)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = stats.Cxx / stats.Cxx.sum(0)
    return np.where(np.isfinite(h), np.clip(h, 0.0, 1.0 - 1e-12), 0.0)


def bell_mccaffrey_dof(h: np.ndarray) -> np.ndarray:
    """Bell & McCaffrey's degrees of freedom of a one-regressor CR2 test (axis 0: units).

    For a within-unit slope the CR2 adjustment is ``1 / sqrt(1 - h_u)`` with leverage
    ``h_u = Cxx_u / sum(Cxx)``, and the Satterthwaite dof of the CR2 variance under the working
    model of independent homoskedastic errors (Imbens & Kolesar 2016) reduces to
    ``1 / (sum h**2 + (sum h**2 / (1 - h))**2 - sum h**4 / (1 - h)**2)``: ``G - 1`` for ``G``
    equal units, fewer when a few units dominate.

    Examples
    --------
    >>> float(bell_mccaffrey_dof(np.full(10, 0.1)).round(6))
    9.0
    >>> float(bell_mccaffrey_dof(np.array([0.7, 0.1, 0.1, 0.1])).round(3))
    1.588
    """
    q = h**2
    with np.errstate(divide="ignore", invalid="ignore"):
        d = q.sum(0) + (q / (1 - h)).sum(0) ** 2 - (q**2 / (1 - h) ** 2).sum(0)
        return 1.0 / d


def cr2_inference(stats: LagStats, ci: float, *, small: str = "cr2") -> LagInference:
    """Unit-clustered inference for r and the slope at each lag (``small``: "cr2" or "cluster").

    r is tested and bounded on Fisher's z scale with its unit influence
    ``psi_u = (Cxy_u / sqrt(Sxx Syy) - r / 2 (Cxx_u / Sxx + Cyy_u / Syy)) / (1 - r**2)``:
    ``se_z = sqrt(sum psi_u**2)``, ``t = atanh(r) / se_z``, interval ``tanh(atanh(r) +/- c se_z)``,
    so the interval excludes 0 exactly when ``p < 1 - ci``. The slope gets
    ``se_b = sqrt(sum s_u**2) / Sxx`` with scores ``s_u = Cxy_u - b Cxx_u``. With
    ``small="cr2"`` each unit's term is scaled by ``1 / (1 - h_u)`` (CR2, Bell & McCaffrey 2002;
    Pustejovsky & Tipton 2018) and the reference is t on :func:`bell_mccaffrey_dof`; with
    ``"cluster"`` by ``G / (G - 1)`` with t on ``G - 1``. Lags with fewer than 3 units get NaN.
    """
    r, b = stats.r, stats.slope
    G = stats.n_units.astype(float)
    sxx, syy = stats.Cxx.sum(0), stats.Cyy.sum(0)
    h = _leverage(stats)
    if small == "cr2":
        scale = 1.0 / (1.0 - h)
        dof = bell_mccaffrey_dof(h)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.broadcast_to(G / (G - 1), h.shape)
        dof = G - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        psi = (stats.Cxy / np.sqrt(sxx * syy) - r / 2 * (stats.Cxx / sxx + stats.Cyy / syy)) / (
            1 - r**2
        )
        se_z = np.sqrt((scale * psi**2).sum(0))
        z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
        scores = stats.Cxy - b * stats.Cxx
        se_b = np.sqrt((scale * scores**2).sum(0)) / sxx
    ok = (G >= 3) & np.isfinite(z) & (se_z > 0) & np.isfinite(dof) & (dof > 0)
    d = np.where(ok, dof, 1.0)
    tstat = np.where(ok, z / np.where(ok, se_z, 1.0), 0.0)
    p = np.where(ok, 2 * _st.t.sf(np.abs(tstat), d), np.nan)
    crit = _st.t.ppf(0.5 + ci / 2, d)
    nan = np.full(len(r), np.nan)
    with np.errstate(invalid="ignore"):
        lo = np.where(ok, np.tanh(z - crit * se_z), nan)
        hi = np.where(ok, np.tanh(z + crit * se_z), nan)
        blo = np.where(ok, b - crit * se_b, nan)
        bhi = np.where(ok, b + crit * se_b, nan)
    return LagInference(
        p=p,
        dof=np.where(ok, dof, np.nan),
        ci_low=lo,
        ci_high=hi,
        slope_low=blo,
        slope_high=bhi,
        z=z,
        se_z=np.where(ok, se_z, np.nan),
        method=small,
    )


def _t_inference(stats: LagStats, ci: float) -> LagInference:
    """rmcorr's t-test and Fisher-z interval on ``n - absorbed - 1``; OLS slope interval."""
    r, b = stats.r, stats.slope
    dof = stats.dof.astype(float)
    p, lo, hi = r_inference(r, dof, ci)
    ok = dof >= 2
    sxx, syy, sxy = stats.Cxx.sum(0), stats.Cyy.sum(0), stats.Cxy.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_b = np.sqrt(np.maximum(syy - b * sxy, 0.0) / (np.where(ok, dof, np.nan) * sxx))
        se_z = 1.0 / np.sqrt(np.where(ok, dof - 1, np.nan))
    crit = _st.t.ppf(0.5 + ci / 2, np.where(ok, dof, 1.0))
    return LagInference(
        p=np.where(stats.dof >= 1, p, np.nan),
        dof=dof,
        ci_low=lo,
        ci_high=hi,
        slope_low=np.where(ok, b - crit * se_b, np.nan),
        slope_high=np.where(ok, b + crit * se_b, np.nan),
        z=np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15)),
        se_z=se_z,
        method="t",
    )


def lag_inference(
    stats: LagStats, ci: float, p_method: str, *, n_boot: int = 0, seed: Seed = None
) -> LagInference:
    """The p-values and intervals of ``p_method`` (one of :data:`P_METHODS`) at each lag.

    ``"wild"`` takes its p-values from :func:`wild_cluster_test` and its intervals from
    :func:`cr2_inference` (a bootstrap test has no interval of its own here).
    """
    if p_method not in P_METHODS:
        raise InputError(f"p_method must be one of {', '.join(P_METHODS)}; got {p_method!r}")
    if p_method == "t":
        return _t_inference(stats, ci)
    if p_method == "cluster":
        inf = cr2_inference(stats, ci, small="cluster")
        p, dof = cluster_test(stats)  # the slope's clustered t, as statsmodels computes it
        return LagInference(**{**inf.__dict__, "p": p, "dof": dof.astype(float)})
    inf = cr2_inference(stats, ci)
    if p_method == "cr2":
        return inf
    p, dof = wild_cluster_test(stats, n_boot, seed)
    return LagInference(**{**inf.__dict__, "p": p, "dof": dof.astype(float), "method": "wild"})


def boot_max_t(stats: LagStats, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lags as a family: unit-bootstrap ``|t*|`` and ``r*`` at each lag, each (n_boot, lags).

    ``W`` holds the unit resample counts (:func:`linkage.stats.bootstrap.unit_resample_counts`),
    the same resamples as everything else. In each resample, r at every lag is centred at its
    estimate on Fisher's z scale and studentized with the resample's own clustered standard error
    (the unit influences of :func:`cr2_inference`, ``G / (G - 1)``):
    ``t*_k = |atanh(r*_k) - atanh(r_k)| / se*_k``, a bootstrap-t, so the lags' dependence and
    the units' skewed rates are kept. All from per-unit sums, in one matrix product. The row
    maxima of ``t*`` give the family's critical value (:func:`family_critical_value`; measured in
    ``benchmarks/calibration_study.py``: a best lag on at most 5 % of null worlds).
    """
    G = stats.n_units.astype(float)
    Cxx, Cyy, Cxy = stats.Cxx, stats.Cyy, stats.Cxy
    L = Cxx.shape[1]
    parts = [Cxx, Cyy, Cxy, Cxy**2, Cxx**2, Cyy**2, Cxx * Cyy, Cxy * Cxx, Cxy * Cyy]
    S = W @ np.hstack(parts)  # one product for all nine sums (BLAS likes wide right-hand sides)
    sxx, syy, sxy, sxy2, sxx2, syy2, sxxyy, sxyxx, sxyyy = (
        S[:, i * L : (i + 1) * L] for i in range(len(parts))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        k = G / (G - 1)
        a = 1.0 / np.sqrt(sxx * syy)
        rs = sxy * a
        # sum_u W_u psi_u**2 with psi_u = a Cxy_u - r*/2 (Cxx_u / sxx + Cyy_u / syy), expanded
        ss = (
            a**2 * sxy2
            + (rs / 2) ** 2 * (sxx2 / sxx**2 + syy2 / syy**2 + 2 * sxxyy / (sxx * syy))
            - rs * a * (sxyxx / sxx + sxyyy / syy)
        )
        se = np.sqrt(k * np.maximum(ss, 0.0)) / (1 - rs**2)
        z0 = np.arctanh(np.clip(stats.r, -1 + 1e-15, 1 - 1e-15))
        t_star = np.abs(np.arctanh(np.clip(rs, -1 + 1e-15, 1 - 1e-15)) - z0) / se
    r_star = np.where((sxx > 0) & (syy > 0), rs, np.nan)
    return t_star, r_star


def family_critical_value(t_star: np.ndarray, alpha: float) -> float:
    """The critical value ``c`` of the max-t over lags: ``max |t| > c`` exactly when the
    Romano-Wolf p-value of the largest statistic (:func:`romano_wolf`) is below ``alpha``.

    With ``B`` resamples whose row maxima are ``M*``, that p-value is
    ``(1 + #{M* >= t}) / (B + 1)``, below ``alpha`` exactly when ``t`` exceeds the ``m + 1``-th
    largest ``M*``,
    ``m = ceil(alpha (B + 1)) - 2``; NaN when ``B`` is too small for ``alpha``.

    Examples
    --------
    >>> t_star = np.arange(1.0, 200.0)[:, None]  # B = 199, maxima 1..199
    >>> family_critical_value(t_star, 0.05)  # p < 0.05 needs at most 8 maxima >= t
    191.0
    """
    M = np.where(np.isfinite(t_star), t_star, -np.inf).max(axis=1)
    m = int(np.ceil(alpha * (len(M) + 1) - 1e-9)) - 2
    if m < 0 or len(M) == 0:
        return float("nan")
    return float(np.sort(M)[::-1][m])


def romano_wolf(t_obs: np.ndarray, t_star: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values from observed and bootstrap ``|t|`` (columns: lags).

    Hypotheses are taken from the largest ``|t|`` down; the k-th gets
    ``(1 + #{max over the not-yet-rejected lags of |t*| >= |t_k|}) / (B + 1)``, made monotone
    (Romano & Wolf 2005, 2016). Lags with a NaN statistic stay NaN and take no part; a NaN
    resample never exceeds.

    Examples
    --------
    >>> t_star = np.array([[0.5, 2.5], [1.0, 0.2], [3.0, 0.1], [0.1, 0.3]])
    >>> romano_wolf(np.array([2.8, 0.25]), t_star).tolist()  # by hand: 2/5, then 3/5
    [0.4, 0.6]
    """
    out = np.full(len(t_obs), np.nan)
    ok = np.flatnonzero(np.isfinite(t_obs))
    if not len(ok) or t_star.shape[0] == 0:
        return out
    B = t_star.shape[0]
    order = ok[np.argsort(-t_obs[ok], kind="stable")]
    ts = np.where(np.isfinite(t_star[:, order]), t_star[:, order], -np.inf)  # NaN never exceeds
    # max over the remaining set {j, j+1, ...} for each step j: reversed cumulative max
    tail_max = np.maximum.accumulate(ts[:, ::-1], axis=1)[:, ::-1]
    p = (1 + (tail_max >= t_obs[order][None, :]).sum(0)) / (B + 1)
    out[order] = np.maximum.accumulate(p)
    return out


def win_share(boot_r: np.ndarray) -> np.ndarray:
    """Share of resamples (rows) in which each lag (column) has the largest ``|r|``.

    Examples
    --------
    >>> win_share(np.array([[0.1, 0.5], [-0.6, 0.2], [0.0, 0.3], [np.nan, np.nan]])).tolist()
    [0.3333333333333333, 0.6666666666666666]
    """
    a = np.abs(np.asarray(boot_r, dtype=float))
    good = np.isfinite(a).any(axis=1)
    if not good.any():
        return np.full(a.shape[1], np.nan)
    winner = np.nanargmax(np.where(np.isfinite(a[good]), a[good], -1.0), axis=1)
    return np.bincount(winner, minlength=a.shape[1]) / good.sum()


def split_estimate(stats: LagStats, ci: float, seed: Seed) -> dict[str, float | int | None]:
    """The chosen lag's effect without the winner's curse, by sample splitting across units.

    The units with pairs are split at random into two halves; the lag with the largest ``|r|``
    among the first half is chosen, and r at that lag is estimated, tested and bounded on the
    second half alone (:func:`cr2_inference`), which played no part in the choice. Returns
    ``lag`` (chosen on the first half), ``r``, ``ci_low``, ``ci_high``, ``p_val``, ``slope``,
    ``slope_low``, ``slope_high`` and ``n_units`` (of the second half); NaN/None when a half has
    fewer than 3 units.
    """
    units = np.flatnonzero((stats.Cxx > 0).any(axis=1))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(units)
    half = len(perm) // 2
    out: dict[str, float | int | None] = {
        "lag": None,
        "r": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_val": np.nan,
        "slope": np.nan,
        "slope_low": np.nan,
        "slope_high": np.nan,
        "n_units": len(perm) - half,
    }
    if half < 3:
        return out

    def part(idx: np.ndarray) -> LagStats:
        C = [stats.Cxx[idx], stats.Cyy[idx], stats.Cxy[idx]]
        nu = (C[0] > 0).sum(0)
        return LagStats(stats.lags, C[0], C[1], C[2], stats.n, nu, stats.dof)

    a, b = part(np.sort(perm[:half])), part(np.sort(perm[half:]))
    ra = np.abs(a.r)
    if not np.isfinite(ra).any():
        return out
    j = int(np.nanargmax(ra))
    inf = cr2_inference(b, ci)
    out.update(
        lag=int(stats.lags[j]),
        r=float(b.r[j]),
        ci_low=float(inf.ci_low[j]),
        ci_high=float(inf.ci_high[j]),
        p_val=float(inf.p[j]),
        slope=float(b.slope[j]),
        slope_low=float(inf.slope_low[j]),
        slope_high=float(inf.slope_high[j]),
    )
    return out


def profile_table(
    stats: LagStats,
    W: np.ndarray,
    *,
    ci: float,
    adjust: str,
    method: str,
    p_method: str = "cluster",
    seed: int | None = None,
) -> pd.DataFrame:
    """The tidy lag table from per-unit sums and a matrix of unit resample counts.

    ``p_val``, ``ci_low``, ``ci_high`` and ``dof`` come from ``p_method``
    (:func:`lag_inference`); ``p_adj`` from ``adjust`` (``"romano-wolf"``: :func:`romano_wolf`
    over :func:`boot_max_t` on the resamples ``W``, Holm when ``W`` has none);
    ``band_low``, ``band_high`` from the same max-t; ``win_share`` from the unit resamples ``W``.
    """
    if adjust != "romano-wolf" and adjust not in ADJUST_METHODS:
        raise InputError(
            f"adjust must be one of {sorted(ADJUST_METHODS | {'romano-wolf'})}, got {adjust!r}"
        )
    n_boot = int(W.shape[0])
    s0 = 0 if seed is None else seed
    inf = lag_inference(stats, ci, p_method, n_boot=n_boot, seed=[s0, 1])
    p = np.asarray(inf.p, dtype=float)
    L = len(stats.lags)
    band_lo = band_hi = np.full(L, np.nan)
    p_adj_method = adjust
    if n_boot > 0:
        t_star, r_star = boot_max_t(stats, W)
        fam = cr2_inference(stats, ci, small="cluster")
        with np.errstate(divide="ignore", invalid="ignore"):
            t_obs = np.abs(fam.z) / fam.se_z
        c = family_critical_value(t_star, round(1 - ci, 10))  # 1 - 0.95 is 0.05000000000000004
        with np.errstate(invalid="ignore"):
            band_lo = np.tanh(fam.z - c * fam.se_z)
            band_hi = np.tanh(fam.z + c * fam.se_z)
        if adjust == "romano-wolf":
            p_adj = romano_wolf(t_obs, t_star)
            p_adj = np.where(np.isfinite(p), p_adj, np.nan)
        shares = win_share(r_star)
    else:
        shares = np.full(L, np.nan)
        if adjust == "romano-wolf":
            p_adj_method = "holm"
    if adjust != "romano-wolf" or n_boot == 0:
        p_adj = adjust_p(p, p_adj_method)
    dof = inf.dof
    if p_method in ("t", "cluster", "wild"):
        dof = dof.astype(np.int64) if np.isfinite(dof).all() else dof
    return pd.DataFrame(
        {
            "method": method,
            "lag": stats.lags,
            "n": stats.n,
            "n_units": stats.n_units,
            "r": stats.r,
            "ci_low": inf.ci_low,
            "ci_high": inf.ci_high,
            "p_val": p,
            "p_adj": p_adj,
            "dof": dof,
            "slope": stats.slope,
            "band_low": band_lo,
            "band_high": band_hi,
            "win_share": shares,
            "p_method": PROCEDURES[p_method],
            "ci_method": PROCEDURES["cr2" if p_method == "wild" else p_method],
            "p_adj_method": PROCEDURES.get(p_adj_method, p_adj_method),
        }
    )


def slope_ci(stats: LagStats, W: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the within-unit slope at each lag."""
    return percentile_ci(boot_slopes(W, stats.Cxx, stats.Cxy), ci)


def lag_pairs(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    lag: int = 0,
) -> pd.DataFrame:
    """The (x at t, y at t + lag) pairs of each unit, matched by period value.

    Returns
    -------
    DataFrame
        Columns ``unit``, ``period`` (of x), ``period_y`` (of y), ``x``, ``y`` (named after the
        input columns), one row per pair where both values exist.

    Examples
    --------
    Unit b skips March, so its February has no partner one month later:

    >>> df = pd.DataFrame({"unit_id": ["a", "a", "a", "b", "b"],
    ...                    "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                                              "2024-02-01", "2024-04-01"]),
    ...                    "employee_retention": [1.0, 2.0, 3.0, 4.0, 5.0],
    ...                    "customer_retention": [10.0, 20.0, 30.0, 40.0, 50.0]})
    >>> pairs = lag_pairs(df, lag=1)
    >>> pairs[["unit_id", "employee_retention", "customer_retention"]].values.tolist()
    [['a', 1.0, 20.0], ['a', 2.0, 30.0]]
    """
    grid = make_grid(data, x=x, y=y, unit=unit, period=period)
    a, b, cols = shift_pairs(grid.X, grid.Y, int(lag))
    mask = np.isfinite(a) & np.isfinite(b)
    ui, ti = np.nonzero(mask)
    t_x = np.arange(grid.X.shape[1])[cols][ti]
    return pd.DataFrame(
        {
            unit: grid.units[ui],
            period: grid.periods[t_x],
            f"{period}_y": grid.periods[t_x + int(lag)],
            x: a[ui, ti],
            y: b[ui, ti],
        }
    )


def lag_profile(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    max_lag: int = 6,
    lags: Sequence[int] | None = None,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
    adjust: str = "romano-wolf",
    period_adjusted: bool = False,
    weights: str | None = None,
    p_method: str = "cr2",
) -> pd.DataFrame:
    """Within-unit correlation of ``x`` at t with ``y`` at t + k for each lag k; unit-bootstrap CIs.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period (``period`` dates or whole numbers).
    x, y, unit, period : str
        Column names.
    max_lag : int
        Lags ``-max_lag .. max_lag`` (k > 0: x leads y).
    lags : sequence of int, optional
        Explicit lags instead of ``max_lag``.
    n_boot : int
        Resamples of the wild max-t (bands, Romano-Wolf) and of the unit bootstrap
        (``win_share``); 0: no bands or shares, Holm instead of Romano-Wolf.
    seed : int or None
        Seed of the resamples.
    ci : float
        Confidence level.
    adjust : str
        Adjustment across lags: "romano-wolf" (default: step-down over the wild max-t, see the
        module notes) or a ``statsmodels`` ``multipletests`` method ("holm", "bonferroni",
        "fdr_bh", ...; "none").
    period_adjusted : bool
        Remove period effects too (two-way demeaning; see the module notes).
    weights : str, optional
        Column of observation weights (e.g. denominators); a pair weighs the geometric mean of its
        two rows' weights.
    p_method : str
        ``"cr2"`` (default): CR2 unit-clustered test of r on Fisher's z with Bell-McCaffrey
        degrees of freedom, and its interval (:func:`cr2_inference`); ``"wild"``: wild cluster
        bootstrap-t p-values with ``n_boot`` resamples (CR2 intervals); ``"cluster"``: the
        analytic clustered slope t on ``G - 1`` (:func:`cluster_test`); ``"t"``: rmcorr's t-test
        and Fisher-z interval on ``n - units - 1`` (``- periods`` when period-adjusted), as
        ``pingouin.rm_corr``, which is too liberal on persistent rates of unequal units
        (``benchmarks/calibration_study.py``).

    Returns
    -------
    DataFrame
        One row per lag: ``method`` ("rm_corr" or "rm_corr_period_adjusted"), ``lag``, ``n``
        (pairs), ``n_units`` (units with pairs), ``r``, ``ci_low``, ``ci_high``, ``p_val`` (see
        ``p_method``), ``p_adj``, ``dof`` (of the test in ``p_val``), ``slope`` (within-unit
        slope of y on x), ``band_low``, ``band_high`` (simultaneous band over the lags),
        ``win_share`` (share of unit resamples in which the lag has the largest ``|r|``), and the
        procedures: ``p_method``, ``ci_method``, ``p_adj_method``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e = rng.normal(size=(40, 25))
    >>> c = np.roll(e, 2, axis=1) + rng.normal(size=(40, 25))  # customers follow 2 periods later
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(40), 25).astype(str),
    ...                    "period": np.tile(np.arange(25), 40),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    >>> prof = lag_profile(df, max_lag=3, n_boot=500)
    >>> best = int(prof.loc[prof.r.idxmax(), "lag"])
    >>> best, bool(prof.loc[prof.lag == 2, "ci_low"].iloc[0] > 0.6)
    (2, True)
    """
    check_ci(ci)
    grid = make_grid(data, x=x, y=y, unit=unit, period=period, weights=weights)
    grid_lags = check_lags(max_lag, lags)
    check_lag_range(grid, grid_lags, name="max_lag" if lags is None else "lags")
    stats = lag_stats(grid, grid_lags, period_adjusted=period_adjusted)
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    method = "rm_corr_period_adjusted" if period_adjusted else "rm_corr"
    return profile_table(
        stats, W, ci=ci, adjust=adjust, method=method, p_method=p_method, seed=seed
    )


def choose_best_lag(profile: pd.DataFrame, *, alpha: float = 0.05) -> int | None:
    """The lag with the largest ``|r|`` among lags with ``p_adj < alpha``; ``None`` if none.

    Ties go to the lag closest to 0 (then the positive one).

    Examples
    --------
    >>> prof = pd.DataFrame({"lag": [-1, 0, 1, 2], "r": [0.5, 0.2, 0.3, -0.4],
    ...                      "p_adj": [0.2, 0.01, 0.001, 0.04]})
    >>> choose_best_lag(prof)
    2
    >>> choose_best_lag(prof, alpha=0.001) is None
    True
    """
    sig = profile[profile["p_adj"] < alpha]
    if sig.empty:
        return None
    key = pd.DataFrame({"a": -sig["r"].abs(), "d": sig["lag"].abs(), "s": -sig["lag"]})
    return int(sig.loc[key.sort_values(["a", "d", "s"]).index[0], "lag"])
