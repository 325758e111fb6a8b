"""Fixed effects on a unit x period grid: demeaning and OLS with unit-clustered errors, in numpy.

``linearmodels.PanelOLS`` is the reference (tests/test_stats_direction.py matches it); this is the
same estimator without its per-call overhead (seconds against milliseconds per fit; measured
figures: benchmarks/README.md), which matters for dashboards that refit on every filter change.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from scipy import stats as _st


class FEFit(TypedDict):
    """What :func:`fe_ols` returns (a dict, as the tests compare it with ``linearmodels``)."""

    coef: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_val: np.ndarray
    n: int
    n_units: int
    dof: int
    sd: np.ndarray
    influence: np.ndarray


def demean_grid(
    V: np.ndarray,
    w: np.ndarray,
    mask: np.ndarray,
    *,
    two_way: bool,
    tol: float = 1e-11,
    max_iter: int = 5000,
) -> tuple[np.ndarray, int]:
    """Remove unit (rows) and optionally period (columns) means from each ``V[i]`` on ``mask``.

    ``V`` has shape (k, units, periods); ``w`` are cell weights (0 off the mask). Two-way demeaning
    uses alternating projections (exact at convergence on unbalanced panels; one sweep when
    balanced). Returns the residuals (0 off the mask) and the number of absorbed parameters
    (units with data, plus periods with data minus one when ``two_way``).
    """
    V = np.where(mask, V, 0.0)
    sw_row = w.sum(axis=1)
    sw_col = w.sum(axis=0)
    row_ok = sw_row > 0
    col_ok = sw_col > 0
    den_row = np.where(row_ok, sw_row, 1.0)
    den_col = np.where(col_ok, sw_col, 1.0)

    def rows(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = (V * w).sum(axis=2) / den_row
        return np.where(mask, V - m[:, :, None], 0.0), m

    V, _ = rows(V)
    absorbed = int(row_ok.sum())
    if not two_way:
        return V, absorbed
    scale = np.abs(V).max(initial=0.0) or 1.0
    for _ in range(max_iter):
        cm = (V * w).sum(axis=1) / den_col
        V = np.where(mask, V - cm[:, None, :], 0.0)
        V, rm = rows(V)
        if max(np.abs(cm).max(initial=0.0), np.abs(rm).max(initial=0.0)) < tol * scale:
            break
    return V, absorbed + int(col_ok.sum()) - 1


def fe_ols(
    y: np.ndarray,
    X: np.ndarray,
    mask: np.ndarray,
    *,
    two_way: bool,
    ci: float = 0.95,
    dof: int | None = None,
) -> FEFit:
    """OLS of ``y`` on ``X`` with unit (and period) fixed effects, errors clustered by unit.

    ``y`` has shape (units, periods), ``X`` (k, units, periods); cells off ``mask`` are ignored.
    The clustered covariance is ``n / (n - d - k) * A^-1 (sum_u s_u s_u') A^-1`` with ``A = X'X``,
    ``s_u`` a unit's score and ``d`` the absorbed effects (0 with unit effects only, which are
    nested in the unit clusters); p-values and intervals use t with ``n - absorbed - k`` degrees of
    freedom. This is ``linearmodels.PanelOLS(...).fit(cov_type="clustered", cluster_entity=True)``
    (7.1 defaults, ``debiased=True``). ``dof`` replaces those degrees of freedom (e.g. units - 1,
    the reference of the lag tests).

    Returns
    -------
    FEFit
        A dict: ``coef``, ``se``, ``ci_low``, ``ci_high``, ``p_val`` (arrays of length k), ``n``,
        ``n_units``, ``dof``, ``sd`` (within standard deviations of y then each X, after the
        fixed effects are removed), ``influence`` (units x k: ``A^-1 s_u``, each unit's share of
        ``coef - beta``; clustered covariances of combined estimators are built from it).
    """
    return fe_ols_many(y[None], X, mask, two_way=two_way, ci=ci, dof=dof)[0]


def fe_ols_many(
    Ys: np.ndarray,
    X: np.ndarray,
    mask: np.ndarray,
    *,
    two_way: bool,
    ci: float = 0.95,
    dof: int | None = None,
) -> list[FEFit]:
    """:func:`fe_ols` of each outcome ``Ys[i]`` (shape (m, units, periods)) on the same ``X``,
    demeaning once (a VAR's equations share their regressors)."""
    w = mask.astype(float)
    m = Ys.shape[0]
    V, absorbed = demean_grid(np.concatenate([Ys, X]), w, mask, two_way=two_way)
    n = int(mask.sum())
    k = X.shape[0]
    U = mask.shape[0]
    Xm = V[m:].reshape(k, -1).T  # (cells, k)
    A = Xm.T @ Xm
    Ainv = np.linalg.pinv(A)
    d = absorbed if two_way else 0
    dof = n - absorbed - k if dof is None else dof
    crit = _st.t.ppf(0.5 + ci / 2, max(dof, 1))
    n_units = int((mask.sum(axis=1) > 0).sum())
    ss = (V.reshape(m + k, -1) ** 2).sum(axis=1) / max(n - absorbed, 1)
    out: list[FEFit] = []
    for i in range(m):
        ym = V[i].ravel()
        beta = Ainv @ (Xm.T @ ym)
        e = ym - Xm @ beta
        scores = (Xm * e[:, None]).reshape(U, -1, k).sum(axis=1)  # (units, k)
        cov = n / max(n - d - k, 1) * Ainv @ (scores.T @ scores) @ Ainv
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = beta / se
        p = 2 * _st.t.sf(np.abs(t), max(dof, 1))
        out.append(
            {
                "coef": beta,
                "se": se,
                "ci_low": beta - crit * se,
                "ci_high": beta + crit * se,
                "p_val": p,
                "n": n,
                "n_units": n_units,
                "dof": dof,
                "sd": np.sqrt(np.concatenate([ss[i : i + 1], ss[m:]])),
                "influence": scores @ Ainv,
            }
        )
    return out
