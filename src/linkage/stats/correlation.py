"""Pooled, between-unit, within-unit (repeated-measures) and partial correlations.

All functions take a long panel (one row per unit and period) and return a one-row tidy DataFrame
with the columns ``method, n, n_units, r, ci_low, ci_high, p_val, dof``. Confidence intervals here
are the parametric Fisher-z intervals with ``n = dof + 2`` (as ``pingouin`` computes them); the lag
profile (:func:`linkage.stats.lag_profile`) gives unit-bootstrap intervals instead.

The three levels answer different questions (docs/domain.md): *pooled* mixes all unit-periods
(what a naive analyst computes), *between* correlates unit means (n = units: which units are
better), and *within* asks whether a unit's customer retention moves with its own employee
retention over time (Bakdash & Marusich 2017). They can differ even in sign (Simpson's paradox).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
import pandas as pd
from scipy import stats as _st

from linkage.errors import InputError
from linkage.stats._prep import DEFAULT_UNIT, DEFAULT_X, DEFAULT_Y, check_ci, check_columns, numeric

__all__ = ["pooled_corr", "between_corr", "rm_corr", "partial_corr", "r_inference"]

COLUMNS = ["method", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "dof"]


@overload
def r_inference(r: float, dof: float, ci: float = 0.95) -> tuple[float, float, float]: ...


@overload
def r_inference(
    r: np.ndarray, dof: np.ndarray | float, ci: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def r_inference(
    r: np.ndarray | float, dof: np.ndarray | float, ci: float = 0.95
) -> tuple[float, float, float] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided p-value and Fisher-z interval of a correlation with ``dof`` degrees of freedom.

    ``t = r * sqrt(dof / (1 - r**2))`` on ``dof`` degrees of freedom; the interval is
    ``tanh(atanh(r) -/+ z * 1 / sqrt(dof - 1))`` (Fisher, with ``n = dof + 2``). This is what
    ``pingouin.rm_corr`` and ``pingouin.corr`` report.

    Returns
    -------
    tuple of float or of ndarray
        ``p_val, ci_low, ci_high`` (NaN where ``dof < 2`` or ``r`` is NaN): floats for a number
        ``r`` and a number ``dof``, arrays otherwise.

    Examples
    --------
    >>> p, lo, hi = r_inference(-0.50677, 38)
    >>> round(float(p), 5), round(float(lo), 2), round(float(hi), 2)
    (0.00085, -0.71, -0.23)
    """
    ra = np.asarray(r, dtype=float)
    da = np.asarray(dof, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (da >= 2) & np.isfinite(ra)
        rc = np.clip(ra, -1.0, 1.0)
        t = rc * np.sqrt(da / np.maximum(1.0 - rc**2, 1e-300))
        p = np.where(ok, 2 * _st.t.sf(np.abs(t), np.where(ok, da, 1)), np.nan)
        z = np.arctanh(np.clip(rc, -1 + 1e-15, 1 - 1e-15))
        se = 1.0 / np.sqrt(np.where(ok, da - 1, np.nan))
        crit = _st.norm.ppf(0.5 + ci / 2)
        lo = np.where(ok, np.tanh(z - crit * se), np.nan)
        hi = np.where(ok, np.tanh(z + crit * se), np.nan)
    if p.ndim == 0:
        return float(p), float(lo), float(hi)
    return p, lo, hi


def _row(method: str, r: float, n: int, n_units: int, dof: float, ci: float) -> pd.DataFrame:
    p, lo, hi = r_inference(r, dof, ci)
    return pd.DataFrame(
        {
            "method": [method],
            "n": [int(n)],
            "n_units": [int(n_units)],
            "r": [float(r)],
            "ci_low": [lo],
            "ci_high": [hi],
            "p_val": [p],
            "dof": [int(dof) if np.isfinite(dof) else -1],
        }
    )


def _wcorr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Pearson r of complete pairs (weights sum to anything positive)."""
    sw = w.sum()
    if sw <= 0 or len(x) < 2:
        return float("nan")
    dx = x - (w * x).sum() / sw
    dy = y - (w * y).sum() / sw
    sxx, syy = (w * dx * dx).sum(), (w * dy * dy).sum()
    if sxx <= 0 or syy <= 0:
        return float("nan")
    return float((w * dx * dy).sum() / np.sqrt(sxx * syy))


def _columns(
    data: pd.DataFrame, x: str, y: str, unit: str | None, weights: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y and weights of the complete rows with a positive weight, and their unit codes (empty
    without ``unit``)."""
    check_columns(data, {"x": x, "y": y, "unit": unit, "weights": weights})
    xv, yv = numeric(data, x), numeric(data, y)
    wv = numeric(data, weights) if weights is not None else np.ones(len(data))
    if weights is not None and (wv < 0).any():
        raise InputError("weights must not be negative", column=weights)
    keep = np.isfinite(xv) & np.isfinite(yv) & np.isfinite(wv) & (wv > 0)
    if unit is not None:
        if data[unit].isna().any():
            raise InputError("unit is missing in some rows", column=unit)
        codes = pd.factorize(data[unit].astype(str))[0][keep]
    else:
        codes = np.zeros(0, dtype=np.intp)
    return xv[keep], yv[keep], wv[keep], codes


def pooled_corr(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str | None = DEFAULT_UNIT,
    weights: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Pearson correlation over all unit-periods, ignoring which unit a row belongs to.

    Rows with ``x`` or ``y`` missing are dropped. The p-value and interval treat rows as
    independent, which repeated measures of a unit are not: read it as the naive figure it is.

    Parameters
    ----------
    data : DataFrame
        Long panel.
    x, y : str
        The two measures.
    unit : str or None
        Unit column, only used to count ``n_units``.
    weights : str, optional
        Column of non-negative observation weights (e.g. the denominators of the rates).
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row: ``method`` ("pooled"), ``n`` (rows used), ``n_units``, ``r``, ``ci_low``,
        ``ci_high``, ``p_val``, ``dof`` (``n - 2``).

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": list("aabbcc"), "employee_retention": [1, 2, 3, 4, 5, 7],
    ...                    "customer_retention": [1, 3, 2, 5, 4, 6]})
    >>> res = pooled_corr(df)
    >>> int(res.n[0]), round(float(res.r[0]), 3), int(res.dof[0])
    (6, 0.891, 4)
    """
    check_ci(ci)
    xv, yv, wv, codes = _columns(data, x, y, unit, weights)
    n = len(xv)
    r = _wcorr(xv, yv, wv)
    n_units = len(np.unique(codes))
    return _row("pooled", r, n, n_units, n - 2, ci)


def _unit_means(
    xv: np.ndarray, yv: np.ndarray, wv: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted unit means of x and y, and each unit's total weight."""
    n_units = int(codes.max()) + 1 if len(codes) else 0
    sw = np.bincount(codes, wv, n_units)
    mx = np.bincount(codes, wv * xv, n_units) / np.where(sw > 0, sw, np.nan)
    my = np.bincount(codes, wv * yv, n_units) / np.where(sw > 0, sw, np.nan)
    return mx, my, sw


def between_corr(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    weights: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Correlation of unit means (the between-unit, ecological level; n = units).

    Each unit's mean of ``x`` and of ``y`` is taken over the rows where both are present. With
    ``weights``, unit means are weighted means and units weigh by their total weight.

    Returns
    -------
    DataFrame
        One row: ``method`` ("between"), ``n`` (units), ``n_units``, ``r``, ``ci_low``,
        ``ci_high``, ``p_val``, ``dof`` (``units - 2``).

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": list("aabbcc"), "employee_retention": [1, 2, 3, 4, 5, 7],
    ...                    "customer_retention": [1, 3, 2, 5, 4, 6]})
    >>> res = between_corr(df)  # unit means (1.5, 2), (3.5, 3.5), (6, 5)
    >>> int(res.n[0]), round(float(res.r[0]), 3), int(res.dof[0])
    (3, 0.998, 1)
    """
    check_ci(ci)
    xv, yv, wv, codes = _columns(data, x, y, unit, weights)
    codes = pd.factorize(codes)[0] if len(codes) else codes
    mx, my, sw = _unit_means(xv, yv, wv, codes)
    u = len(mx)
    r = _wcorr(mx, my, sw if weights is not None else np.ones(u))
    return _row("between", r, u, u, u - 2, ci)


def _demean(v: np.ndarray, w: np.ndarray, codes: np.ndarray, n_units: int) -> np.ndarray:
    sw = np.bincount(codes, w, n_units)
    m = np.bincount(codes, w * v, n_units) / np.where(sw > 0, sw, 1.0)
    return v - m[codes]


def rm_corr(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    weights: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Repeated-measures (within-unit) correlation.

    Pearson correlation of unit-demeaned ``x`` and ``y`` with ``dof = n - units - 1``
    (Bakdash & Marusich 2017), the same as ``pingouin.rm_corr`` but by numpy demeaning (milliseconds
    on thousands of units). Rows with ``x`` or ``y`` missing are dropped first; a unit with a single
    row still uses one degree of freedom, as in rmcorr. With ``weights``, means and sums are
    weighted (``dof`` stays ``n - units - 1``).

    Returns
    -------
    DataFrame
        One row: ``method`` ("rm_corr"), ``n`` (rows), ``n_units``, ``r``, ``ci_low``, ``ci_high``
        (Fisher z with ``n = dof + 2``, as pingouin), ``p_val`` (t-test on ``dof``), ``dof``.

    Examples
    --------
    Bland & Altman's (1995) data, the rmcorr reference (r = -0.507, dof 38, CI95 [-0.71, -0.23]):

    >>> import pingouin as pg
    >>> df = pg.read_dataset("rm_corr")
    >>> res = rm_corr(df, x="pH", y="PacO2", unit="Subject")
    >>> lo, hi = round(float(res.ci_low[0]), 2), round(float(res.ci_high[0]), 2)
    >>> round(float(res.r[0]), 5), int(res.dof[0]), lo, hi
    (-0.50677, 38, -0.71, -0.23)
    """
    check_ci(ci)
    xv, yv, wv, codes = _columns(data, x, y, unit, weights)
    codes, _ = pd.factorize(codes) if len(codes) else (codes, None)
    u = int(codes.max()) + 1 if len(codes) else 0
    if u < 2:
        raise InputError(
            f"a within-unit correlation needs at least 2 units with data, got {u}", column=unit
        )
    dx = _demean(xv, wv, codes, u)
    dy = _demean(yv, wv, codes, u)
    sxx, syy, sxy = (wv * dx * dx).sum(), (wv * dy * dy).sum(), (wv * dx * dy).sum()
    r = float(sxy / np.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else float("nan")
    n = len(xv)
    return _row("rm_corr", r, n, u, n - u - 1, ci)


def _design(data: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric covariates as they are, other covariates as 0/1 dummies (first level dropped)."""
    parts: list[pd.Series | pd.DataFrame] = []
    for c in covariates:
        s = data[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            parts.append(s.astype("float64").rename(c))
        else:
            d = pd.get_dummies(s.astype("string"), prefix=c, drop_first=True, dtype="float64")
            d[s.isna().to_numpy()] = np.nan
            parts.append(d)
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)


def _residualise(v: np.ndarray, Z: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(Z * sw[:, None], v * sw, rcond=None)
    return v - Z @ beta


def partial_corr(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    covariates: Sequence[str],
    unit: str = DEFAULT_UNIT,
    level: str = "pooled",
    weights: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Partial correlation of ``x`` and ``y`` controlling for ``covariates``.

    Both measures are regressed on the covariates (numeric as they are, text columns such as
    ``region`` as dummies) and the residuals correlated, with ``dof = n - 2 - k`` (k covariate
    columns), as ``pingouin.partial_corr``. ``level`` chooses the rows:

    - ``"pooled"``: all unit-periods;
    - ``"between"``: unit means of x, y and numeric covariates (text covariates: the unit's first
      value), n = units;
    - ``"within"``: everything demeaned within units first, ``dof = n - units - 1 - k``; covariates
      that never change within a unit (e.g. region) are absorbed by the unit means and dropped.

    Returns
    -------
    DataFrame
        One row: ``method`` (``"partial_<level>"``), ``n``, ``n_units``, ``r``, ``ci_low``,
        ``ci_high``, ``p_val``, ``dof``, ``covariates`` (the covariates used, comma separated).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=200)
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(20), 10).astype(str), "size": z,
    ...                    "employee_retention": z + rng.normal(size=200),
    ...                    "customer_retention": z + rng.normal(size=200)})
    >>> partial = partial_corr(df, covariates=["size"])
    >>> round(float(pooled_corr(df).r[0]), 2), round(float(partial.r[0]), 2)
    (0.5, 0.06)
    """
    check_ci(ci)
    if level not in ("pooled", "between", "within"):
        raise InputError(f"level must be 'pooled', 'between' or 'within', got {level!r}")
    covariates = list(covariates)
    if not covariates:
        raise InputError("partial_corr needs at least one covariate")
    check_columns(data, {"x": x, "y": y, "unit": unit, "weights": weights})
    for c in covariates:
        check_columns(data, {"covariate": c})
    for c in covariates:
        if c in (x, y, unit):
            raise InputError(f"covariate {c!r} is also x, y or unit", column=c)
    xv, yv = numeric(data, x), numeric(data, y)
    wv = numeric(data, weights) if weights is not None else np.ones(len(data))
    Zdf = _design(data, covariates)
    Z = Zdf.to_numpy(dtype="float64", na_value=np.nan)
    keep = (
        np.isfinite(xv) & np.isfinite(yv) & np.isfinite(wv) & (wv > 0) & np.isfinite(Z).all(axis=1)
    )
    codes = pd.factorize(data[unit].astype(str).to_numpy()[keep])[0]
    xv, yv, wv, Z = xv[keep], yv[keep], wv[keep], Z[keep]
    u = int(codes.max()) + 1 if len(codes) else 0
    used = list(covariates)
    if level == "pooled":
        n, absorbed = len(xv), 1
        Zd = np.column_stack([np.ones(n), Z])
    elif level == "between":
        sw = np.bincount(codes, wv, u)

        def agg(v: np.ndarray) -> np.ndarray:
            return np.bincount(codes, wv * v, u) / sw

        xv, yv = agg(xv), agg(yv)
        Z = np.column_stack([agg(Z[:, j]) for j in range(Z.shape[1])]) if Z.shape[1] else Z[:u]
        wv = sw if weights is not None else np.ones(u)
        n, absorbed = u, 1
        Zd = np.column_stack([np.ones(n), Z])
    else:
        xv, yv = _demean(xv, wv, codes, u), _demean(yv, wv, codes, u)
        Z = np.column_stack([_demean(Z[:, j], wv, codes, u) for j in range(Z.shape[1])])
        varying = np.abs(Z).max(axis=0) > 1e-12 if len(Z) else np.zeros(Z.shape[1], bool)
        Z = Z[:, varying]
        cols = np.asarray(Zdf.columns)[varying]
        used = [c for c in covariates if any(k == c or str(k).startswith(f"{c}_") for k in cols)]
        n, absorbed = len(xv), u
        Zd = Z
    k = int(np.linalg.matrix_rank(Zd)) - (1 if level != "within" else 0) if Zd.size else 0
    rx = _residualise(xv, Zd, wv) if Zd.size else xv
    ry = _residualise(yv, Zd, wv) if Zd.size else yv
    sxx, syy, sxy = (wv * rx * rx).sum(), (wv * ry * ry).sum(), (wv * rx * ry).sum()
    r = float(sxy / np.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else float("nan")
    out = _row(f"partial_{level}", r, n, u, n - absorbed - 1 - k, ci)
    out["covariates"] = ", ".join(used)
    return out
