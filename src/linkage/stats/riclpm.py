"""Random-intercept cross-lagged panel model (Hamaker, Kuiper & Grasman 2015), fitted with semopy.

Each measure is split into a stable unit part (the random intercepts ``RIx``, ``RIy``, free to
correlate) and within-unit deviations ``wx(t)``, ``wy(t)``; the cross-lags are regressions of the
deviations at one wave on both deviations at the previous wave, so a stable difference between
units is never read as a lagged effect (the reason to prefer it to a plain cross-lagged panel
model). Innovations at the same wave correlate; the intercepts are uncorrelated with the first
wave's deviations.

With many months and few units the wide model (one column per month and free coefficients per
wave) is not identified, so this fits a **stationary** model over a **window** of waves: the
``waves`` most recent periods spaced ``order`` apart (the lag order taken from the lag profile),
with the autoregressions and cross-lags held equal across waves (one ``a_xx``, ``a_yy``, ``a_yx``,
``a_xy``) and innovation variances free. Units complete on the window are used (listwise). Both
measures are divided by their pooled within-unit standard deviation first, so the two cross-lags
are on a comparable standardised scale; their difference gets a Wald test from semopy's expected
information (``semopy.Model`` with the default ``MLW`` objective).
"""

from __future__ import annotations

from typing import Any

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
    check_whole,
    make_grid,
)

__all__ = ["riclpm", "riclpm_grid", "riclpm_syntax", "RICLPM_METHOD"]

RICLPM_METHOD = "riclpm_stationary"


def riclpm_syntax(waves: int) -> str:
    """The semopy (lavaan-style) description of the stationary RI-CLPM over ``waves`` waves.

    Observed columns are ``x0..``, ``y0..``; labels ``axx``, ``axy`` (y -> x), ``ayy``, ``ayx``
    (x -> y) repeat across waves, which holds them equal.

    Examples
    --------
    >>> print(riclpm_syntax(2))
    RIx =~ 1*x0 + 1*x1
    RIy =~ 1*y0 + 1*y1
    wx0 =~ 1*x0
    wy0 =~ 1*y0
    x0 ~~ 0*x0
    y0 ~~ 0*y0
    wx1 =~ 1*x1
    wy1 =~ 1*y1
    x1 ~~ 0*x1
    y1 ~~ 0*y1
    wx1 ~ axx*wx0 + axy*wy0
    wy1 ~ ayy*wy0 + ayx*wx0
    wx0 ~~ wy0
    wx1 ~~ wy1
    RIx ~~ RIy
    RIx ~~ 0*wx0
    RIx ~~ 0*wy0
    RIy ~~ 0*wx0
    RIy ~~ 0*wy0
    """
    W = int(waves)
    lines = [
        "RIx =~ " + " + ".join(f"1*x{t}" for t in range(W)),
        "RIy =~ " + " + ".join(f"1*y{t}" for t in range(W)),
    ]
    for t in range(W):
        lines += [f"wx{t} =~ 1*x{t}", f"wy{t} =~ 1*y{t}", f"x{t} ~~ 0*x{t}", f"y{t} ~~ 0*y{t}"]
    for t in range(1, W):
        lines += [
            f"wx{t} ~ axx*wx{t - 1} + axy*wy{t - 1}",
            f"wy{t} ~ ayy*wy{t - 1} + ayx*wx{t - 1}",
        ]
    lines += [f"wx{t} ~~ wy{t}" for t in range(W)]
    lines += ["RIx ~~ RIy", "RIx ~~ 0*wx0", "RIx ~~ 0*wy0", "RIy ~~ 0*wx0", "RIy ~~ 0*wy0"]
    return "\n".join(lines)


def _within_sd(A: np.ndarray) -> float:
    m = np.nanmean(A, axis=1, keepdims=True)
    d = A - m
    n = np.isfinite(A).sum(axis=1)
    k = int((n > 0).sum())
    return float(np.sqrt(np.nansum(d**2) / max(int(n.sum()) - k, 1)))


def riclpm_grid(
    grid: Grid, *, order: int = 1, waves: int = 6, ci: float = 0.95, min_units: int = 30
) -> list[dict[str, Any]]:
    """Fit the stationary RI-CLPM on a grid; rows in the layout of ``direction_tests``.

    Parameters
    ----------
    grid : Grid
        Unit x period grid (x: employee side, y: customer side).
    order : int
        Spacing of the waves, in periods (the lag order).
    waves : int
        Waves in the window (at least 3, the fewest the model is identified with).
    ci : float
        Confidence level of the Wald intervals.
    min_units : int
        Fewest complete units to fit.

    Returns
    -------
    list of dict
        ``method`` "riclpm_stationary", ``quantity`` "employees -> customers" (``a_yx``),
        "customers -> employees" (``a_xy``), "difference"; ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``stat`` (z), ``p_val`` (normal), ``order``, ``n`` (unit-waves),
        ``n_units``.

    Raises
    ------
    InputError
        Too few periods for the window, or too few complete units.
    """
    import semopy

    W, s = int(waves), int(order)
    T = grid.X.shape[1]
    if W < 3:
        raise InputError(f"an RI-CLPM needs at least 3 waves, got {W}")
    cols = T - 1 - s * np.arange(W)[::-1]
    if cols[0] < 0:
        raise InputError(
            f"an RI-CLPM over {W} waves {s} period(s) apart needs {s * (W - 1) + 1} periods, "
            f"found {T}"
        )
    sx, sy = _within_sd(grid.X), _within_sd(grid.Y)
    if not (sx > 0 and sy > 0):
        raise InputError("an RI-CLPM needs measures that vary within units")
    X, Y = grid.X[:, cols] / sx, grid.Y[:, cols] / sy
    ok = np.isfinite(X).all(axis=1) & np.isfinite(Y).all(axis=1)
    G = int(ok.sum())
    if G < min_units:
        raise InputError(
            f"an RI-CLPM needs at least {min_units} units complete on its {W} waves, found {G}"
        )
    df = pd.DataFrame(
        np.hstack([X[ok], Y[ok]]), columns=[f"x{t}" for t in range(W)] + [f"y{t}" for t in range(W)]
    )
    model = semopy.Model(riclpm_syntax(W))
    model.fit(df)
    names = [k for k, p in model.parameters.items() if p.active]
    vals = np.asarray(model.param_vals, dtype=float)
    _, cov = model.calc_fim(inverse=True)
    i, j = names.index("ayx"), names.index("axy")
    est = np.array([vals[i], vals[j], vals[i] - vals[j]])
    var = np.array([cov[i, i], cov[j, j], cov[i, i] + cov[j, j] - 2 * cov[i, j]], dtype=float)
    se = np.sqrt(np.clip(var, 0, None))
    crit = _st.norm.ppf(0.5 + ci / 2)
    rows = []
    for q, v, e in zip(
        ("employees -> customers", "customers -> employees", "difference"), est, se, strict=True
    ):
        z = v / e if e > 0 else np.nan
        rows.append(
            {
                "method": RICLPM_METHOD,
                "quantity": q,
                "estimate": float(v),
                "se": float(e),
                "ci_low": float(v - crit * e),
                "ci_high": float(v + crit * e),
                "stat": float(z),
                "p_val": float(2 * _st.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
                "dof": np.nan,
                "order": s,
                "n": G * W,
                "n_units": G,
            }
        )
    return rows


def riclpm(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    order: int = 1,
    waves: int = 6,
    ci: float = 0.95,
) -> pd.DataFrame:
    """The stationary random-intercept cross-lagged panel model over a window of waves.

    Parameters
    ----------
    data : DataFrame
        Long panel.
    x, y, unit, period : str
        Column names (x: employee side, y: customer side).
    order : int
        Spacing of the waves in periods (the lag order).
    waves : int
        Waves in the window, the most recent ones (at least 3).
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        Three rows in the columns of :func:`linkage.stats.direction_tests`: the within-unit
        cross-lags "employees -> customers", "customers -> employees" (each measure in units of
        its within-unit standard deviation) and their "difference", with Wald intervals and z
        tests.
    """
    check_ci(ci)
    order = check_whole("order", order, low=1)
    grid = make_grid(data, x=x, y=y, unit=unit, period=period)
    return pd.DataFrame(riclpm_grid(grid, order=order, waves=waves, ci=ci))
