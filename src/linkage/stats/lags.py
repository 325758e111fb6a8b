"""The lead-lag profile: within-unit correlation of x(t) with y(t + k) for k = -K..K.

Lag sign (docs/design.md): at lag k, x at period t is paired with y at period t + k of the same
unit, matched by period *value* (a missing month is a gap, not a shift); k > 0 means x (employees)
leads y (customers).

At each lag the pairs are demeaned within units and correlated (rmcorr). The p-value comes from a
unit-clustered test of the within-unit slope (:func:`cluster_test`; with few units the wild
cluster bootstrap-t, ``p_method="wild"``, :func:`wild_cluster_test`, is better calibrated; rmcorr's
own t-test on ``n - units - 1`` is available as ``p_method="t"`` but rejects too often on binomial
rates of small units), adjusted across lags (Holm by default); the interval is a percentile
interval from a bootstrap that resamples whole units (:mod:`linkage.stats.bootstrap`, the same
resamples for every lag).

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
    boot_correlations,
    boot_slopes,
    percentile_ci,
    unit_resample_counts,
)
from linkage.stats.correlation import r_inference

__all__ = ["lag_pairs", "lag_profile", "choose_best_lag", "LAG_COLUMNS"]

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

#: the ``adjust`` methods :func:`adjust_p` accepts (``statsmodels`` ``multipletests`` names, "none")
ADJUST_METHODS = {"holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "holm-sidak", "hommel", "none"}


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


def _cluster_t(stats: LagStats, Cxy: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Clustered t of slopes ``b`` given (possibly sign-flipped) per-unit sums, vectorised."""
    G = stats.n_units.astype(float)
    sxx = stats.Cxx.sum(0)
    # sum_u (Cxy_u - b Cxx_u)^2, expanded so that it needs only sums over units
    ss = (stats.Cxy**2).sum(0) - 2 * b * Cxy + b * b * (stats.Cxx**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return b / (np.sqrt(G / (G - 1) * np.maximum(ss, 0.0)) / sxx)


def wild_cluster_test(stats: LagStats, n_boot: int, seed: Seed) -> tuple[np.ndarray, np.ndarray]:
    """Wild cluster bootstrap-t p-values (Rademacher weights, null imposed) at each lag.

    Under H0 (slope 0) the restricted residuals are the demeaned y values themselves; flipping the
    sign of a whole unit's residuals (``v_u = +/-1``) gives ``Cxy*_u = v_u * Cxy_u``, from which the
    bootstrap slope and its clustered t follow without touching the data (Cameron, Gelbach & Miller
    2008). ``p = (1 + #{|t*| >= |t|}) / (n_boot + 1)``. Better calibrated than :func:`cluster_test`
    with few units (measured figures: benchmarks/README.md, ``simulation_study.py``), but its
    p-values cannot go below ``1 / (n_boot + 1)``: use 2,000 resamples or more.
    """
    if n_boot < 1:
        raise InputError("p_method='wild' needs n_boot >= 1 (2,000 or more recommended)")
    rng = np.random.default_rng(seed)
    U = stats.Cxx.shape[0]
    V = rng.integers(0, 2, size=(n_boot, U)).astype(np.float64) * 2.0 - 1.0
    sxx = stats.Cxx.sum(0)
    t_obs = _cluster_t(stats, (stats.Cxy * stats.Cxx).sum(0), stats.slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_star = (V @ stats.Cxy) / sxx
    t_star = _cluster_t(stats, V @ (stats.Cxy * stats.Cxx), b_star)
    exceed = (np.abs(t_star) >= np.abs(t_obs)[None, :]).sum(axis=0)
    ok = np.isfinite(t_obs) & (stats.n_units >= 3)
    p = np.where(ok, (1 + exceed) / (n_boot + 1), np.nan)
    return p, (stats.n_units - 1).astype(np.int64)


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
    """The tidy lag table from per-unit sums and a matrix of unit resample counts."""
    r = stats.r
    if p_method == "cluster":
        p, dof = cluster_test(stats)
    elif p_method == "wild":
        p, dof = wild_cluster_test(stats, W.shape[0], [0 if seed is None else seed, 1])
    elif p_method == "t":
        p, _, _ = r_inference(r, stats.dof.astype(float), ci)
        p = np.where(stats.dof >= 1, p, np.nan)
        dof = stats.dof
    else:
        raise InputError(f"p_method must be 'cluster', 'wild' or 't', got {p_method!r}")
    lo, hi = percentile_ci(boot_correlations(W, stats.Cxx, stats.Cyy, stats.Cxy), ci)
    return pd.DataFrame(
        {
            "method": method,
            "lag": stats.lags,
            "n": stats.n,
            "n_units": stats.n_units,
            "r": r,
            "ci_low": lo,
            "ci_high": hi,
            "p_val": p,
            "p_adj": adjust_p(np.asarray(p, dtype=float), adjust),
            "dof": dof,
            "slope": stats.slope,
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
    adjust: str = "holm",
    period_adjusted: bool = False,
    weights: str | None = None,
    p_method: str = "cluster",
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
        Unit-bootstrap resamples (0: no intervals).
    seed : int or None
        Seed of the bootstrap.
    ci : float
        Confidence level.
    adjust : str
        Multiple-comparison adjustment across lags (``statsmodels`` ``multipletests`` methods:
        "holm", "bonferroni", "fdr_bh", ...; "none").
    period_adjusted : bool
        Remove period effects too (two-way demeaning; see the module notes).
    weights : str, optional
        Column of observation weights (e.g. denominators); a pair weighs the geometric mean of its
        two rows' weights.
    p_method : str
        ``"cluster"`` (default): unit-clustered test of the within-unit slope, ``G - 1`` degrees
        of freedom (G units); ``"wild"``: wild cluster bootstrap-t with ``n_boot`` resamples,
        better with few units (under about 50; see :func:`wild_cluster_test`); ``"t"``: rmcorr's
        t-test on ``n - units - 1`` (``- periods`` when period-adjusted), as ``pingouin.rm_corr``,
        which is too liberal when small units have noisy rates or errors are autocorrelated (see
        :func:`cluster_test`).

    Returns
    -------
    DataFrame
        One row per lag: ``method`` ("rm_corr" or "rm_corr_period_adjusted"), ``lag``, ``n``
        (pairs), ``n_units`` (units with pairs), ``r``, ``ci_low``, ``ci_high`` (bootstrap
        percentile), ``p_val`` (see ``p_method``), ``p_adj``, ``dof`` (of the test in ``p_val``),
        ``slope`` (within-unit slope of y on x).

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
