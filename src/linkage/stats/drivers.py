"""Key drivers: which survey items matter most for a customer outcome, how reliable unit means are.

Survey items are correlated (a unit whose staff rate "my manager supports me" high also rates "I
have the tools I need" high), so regression coefficients split their shared variance arbitrarily
and can even flip sign. Two methods divide the explained variance R^2 among correlated items in a
way that does not depend on the order they enter:

- *relative weights* (Johnson 2000): regress the outcome on the orthogonal counterparts of the
  items (``Z = X R^{-1/2}``, the closest orthogonal set) and give each item back its share through
  the squared loadings, ``eps_j = sum_k lambda_jk^2 beta_k^2`` with ``lambda = R^{1/2}``;
- *general dominance* (Budescu 1993; Azen & Budescu 2003): the average increase in R^2 when the
  item is added to each subset of the other items, averaged first within subset size then over
  sizes (the same as LMG / Shapley value of R^2). Exact, but it needs all ``2^p`` subsets (up to 12
  items).

Both sum to the full model's R^2. Uncertainty comes from a bootstrap that resamples whole units,
computed for all resamples at once from per-unit sums (as :mod:`linkage.stats.bootstrap` does for
correlations). Because a weight is never negative, "is it different from zero" is tested as
Tonidandel, LeBreton & Johnson (2009) do: a seeded random variable joins the items and each item's
weight is compared with the random variable's in every resample; ``p_val`` is the two-sided
bootstrap p-value of that difference and ``p_adj`` corrects it over the items (Holm by default).

Reliability: a unit's item mean from a handful of respondents is noisy. :func:`unit_reliability`
gives ICC(1) (how much of a respondent's answer is the unit's) and ICC(k) (the reliability of the
unit mean at the average number of respondents, Bliese 2000) from respondent-level answers, and
:func:`key_drivers` shows correlations corrected for that unreliability (Spearman 1904:
``r / sqrt(rel_x * rel_y)``) beside the uncorrected ones. The corrected figure estimates what
perfectly measured unit means would show; it is not a better estimate of what a unit will see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel.surveys import WAVE_COLUMNS, on_wave_months
from linkage.stats._prep import (
    DEFAULT_UNIT,
    check_ci,
    check_columns,
    check_whole,
    numeric,
    period_steps,
)
from linkage.stats.bootstrap import boot_p_value, percentile_ci, unit_resample_counts
from linkage.stats.lags import adjust_p
from linkage.stats.reliability import spearman_brown, unit_reliability

__all__ = [
    "key_drivers",
    "relative_weights",
    "dominance_weights",
    "unit_reliability",
    "spearman_brown",
    "disattenuate",
    "disattenuate_matrix",
    "DRIVER_COLUMNS",
]

DRIVER_COLUMNS = [
    "method",
    "item",
    "rank",
    "n",
    "n_units",
    "r",
    "r_corrected",
    "reliability",
    "weight",
    "share",
    "ci_low",
    "ci_high",
    "p_val",
    "p_adj",
    "r2",
    "correction",
    "weight_corrected",
    "ci_low_corrected",
    "ci_high_corrected",
    "r2_corrected",
]

#: dominance analysis needs 2**p subsets: beyond this many items use relative weights
MAX_DOMINANCE_ITEMS = 12

_METHODS = ("relative_weights", "dominance")


def _split(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Item correlations (..., p, p) and item-outcome correlations (..., p) from (..., p+1, p+1)."""
    return corr[..., :-1, :-1], corr[..., :-1, -1]


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) raw relative weights from a correlation matrix, outcome in the last row.

    Parameters
    ----------
    corr : ndarray
        Shape (p + 1, p + 1), or a stack (..., p + 1, p + 1): items first, outcome last.

    Returns
    -------
    ndarray
        Shape (..., p): each item's share of R^2 (they sum to the R^2 of the full regression).

    Examples
    --------
    Uncorrelated items: each weight is the item's squared correlation with the outcome.

    >>> c = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.5], [0.3, 0.5, 1.0]])
    >>> relative_weights(c).round(6).tolist()
    [0.09, 0.25]
    """
    corr = np.asarray(corr, dtype=float)
    Rxx, rxy = _split(corr)
    ev, V = np.linalg.eigh(Rxx)
    ev = np.clip(ev, 1e-12, None)
    lam = (V * np.sqrt(ev)[..., None, :]) @ np.swapaxes(V, -1, -2)  # R^(1/2)
    inv_half = (V / np.sqrt(ev)[..., None, :]) @ np.swapaxes(V, -1, -2)  # R^(-1/2)
    beta = (inv_half @ rxy[..., None])[..., 0]
    return ((lam**2) @ (beta**2)[..., None])[..., 0]


def _subset_r2(corr: np.ndarray) -> np.ndarray:
    """R^2 of every subset of the items (bit mask index), shape (..., 2**p).

    Loops over the subsets only; each regression is vectorised over the stacked matrices.
    """
    Rxx, rxy = _split(corr)
    p = Rxx.shape[-1]
    out = np.zeros((*corr.shape[:-2], 2**p))
    for mask in range(1, 2**p):  # 2**p small regressions, each vectorised over all resamples
        idx = [j for j in range(p) if mask >> j & 1]
        A = Rxx[..., idx, :][..., :, idx]
        b = rxy[..., idx]
        try:
            sol = np.linalg.solve(A, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            sol = (np.linalg.pinv(A) @ b[..., None])[..., 0]
        out[..., mask] = (b * sol).sum(-1)
    return out


def dominance_weights(corr: np.ndarray) -> np.ndarray:
    """General dominance weights (Azen & Budescu 2003) from a correlation matrix, outcome last.

    For item j: the mean over subset sizes k = 0..p-1 of the mean increase in R^2 when j joins a
    subset of k other items. The weights sum to the full model's R^2.

    Parameters
    ----------
    corr : ndarray
        Shape (p + 1, p + 1) or (..., p + 1, p + 1), items first, outcome last; at most 12 items.

    Returns
    -------
    ndarray
        Shape (..., p).

    Examples
    --------
    Two items correlated 0.5, with outcome correlations 0.6 and 0.4: R^2 = 0.373, and item 1
    adds 0.36 alone and 0.213 after item 2, item 2 adds 0.16 alone and 0.013 after item 1.

    >>> c = np.array([[1.0, 0.5, 0.6], [0.5, 1.0, 0.4], [0.6, 0.4, 1.0]])
    >>> dominance_weights(c).round(4).tolist()
    [0.2867, 0.0867]
    """
    corr = np.asarray(corr, dtype=float)
    p = corr.shape[-1] - 1
    if p > MAX_DOMINANCE_ITEMS:
        raise InputError(
            f"dominance analysis of {p} items needs 2^{p} regressions per resample; use at most "
            f"{MAX_DOMINANCE_ITEMS} items or method='relative_weights'"
        )
    r2 = _subset_r2(corr)
    masks = np.arange(2**p)
    size = np.array([bin(m).count("1") for m in masks])
    out = np.zeros((*corr.shape[:-2], p))
    for j in range(p):  # p items
        bit = 1 << j
        without = masks[(masks & bit) == 0]
        coef = 1.0 / (p * np.array([comb(p - 1, int(k)) for k in size[without]]))
        out[..., j] = ((r2[..., without | bit] - r2[..., without]) * coef).sum(-1)
    return out


def _weights(corr: np.ndarray, method: str) -> np.ndarray:
    return relative_weights(corr) if method == "relative_weights" else dominance_weights(corr)


def _cov_to_corr(S: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(np.diagonal(S, axis1=-2, axis2=-1), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        return S / (d[..., :, None] * d[..., None, :])


def _unit_sums(
    Z: np.ndarray, codes: np.ndarray, n_units: int, level: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit pieces whose resample-weighted sums give the covariance matrix.

    ``between``: unit means ``M`` (U, q) and their outer products; ``within``: per-unit centred
    cross-products (U, q, q) and zeros for the means.
    """
    q = Z.shape[1]
    cnt = np.bincount(codes, minlength=n_units).astype(float)
    sums = np.stack([np.bincount(codes, Z[:, j], n_units) for j in range(q)], axis=1)
    means = sums / np.where(cnt > 0, cnt, 1.0)[:, None]
    if level == "between":
        return means, means[:, :, None] * means[:, None, :]
    D = Z - means[codes]
    outer = (D[:, :, None] * D[:, None, :]).reshape(len(Z), q * q)
    C = np.stack([np.bincount(codes, outer[:, j], n_units) for j in range(q * q)], axis=1)
    return np.zeros_like(means), C.reshape(n_units, q, q)


def _covariances(W: np.ndarray, M: np.ndarray, P: np.ndarray, level: str) -> np.ndarray:
    """Covariance matrices of the units drawn in each resample (rows of W), shape (B, q, q)."""
    B, U = W.shape
    q = M.shape[1]
    S = (W @ P.reshape(U, q * q)).reshape(B, q, q)
    if level == "between":
        n = W.sum(1)[:, None, None]
        m = W @ M
        S = S - m[:, :, None] * m[:, None, :] / n
    return S


def _drivers_frame(
    data: pd.DataFrame, items: list[str], outcome: str, unit: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Items then outcome of the complete rows (n, p + 1), their unit codes, and the unit count."""
    check_columns(data, {"outcome": outcome, "unit": unit})
    if not items:
        raise InputError("key drivers need at least one item column")
    for c in items:
        check_columns(data, {"item": c})
    if outcome in items or unit in items:
        raise InputError(
            f"the outcome {outcome!r} or unit is also listed as an item", column=outcome
        )
    if len(set(items)) != len(items):
        raise InputError("an item is listed twice")
    Z = np.column_stack([numeric(data, c) for c in [*items, outcome]])
    if data[unit].isna().any():
        row = int(np.flatnonzero(data[unit].isna().to_numpy())[0]) + 1
        raise InputError("unit is missing", row=row, column=unit)
    keep = np.isfinite(Z).all(axis=1)
    codes, labels = pd.factorize(data[unit].astype(str).to_numpy()[keep], sort=True)
    return Z[keep], codes, len(labels)


def _shift_outcome(
    data: pd.DataFrame, *, outcome: str, unit: str, period: str, lag: int
) -> pd.DataFrame:
    """``data`` with ``outcome`` replaced by the unit's value ``lag`` periods later (NaN: none)."""
    check_columns(data, {"outcome": outcome, "unit": unit, "period": period})
    steps, _ = period_steps(data, period)
    keys = data[unit].astype(str).to_numpy()
    later = pd.DataFrame({"_u": keys, "_s": steps - lag, "_y": numeric(data, outcome)})
    if later.duplicated(["_u", "_s"]).any():
        row = int(np.flatnonzero(later.duplicated(["_u", "_s"]).to_numpy())[0]) + 1
        raise InputError("more than one row for this unit in this period", row=row, column=period)
    here = pd.DataFrame({"_u": keys, "_s": steps})
    shifted = here.merge(later, on=["_u", "_s"], how="left")["_y"].to_numpy()
    n_periods = int(steps.max()) + 1 if len(steps) else 0
    if abs(lag) > n_periods - 2:
        allowed = f"lags up to {n_periods - 2}" if n_periods >= 2 else "no lag"
        raise InputError(f"lag {lag} is beyond the data: {n_periods} periods allow {allowed}")
    if lag and not np.isfinite(shifted).any():
        raise InputError(
            f"lag {lag} has no pairs: no unit has {outcome} {lag} period(s) after another row"
        )
    return data.assign(**{outcome: shifted})


def disattenuate(r: np.ndarray, reliability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlations corrected for unreliability (Spearman 1904), never past +/-1.

    Returns ``r / sqrt(reliability)`` and a flag per value: ``""``; ``"unreliable"`` where the
    reliability is at or below 0 or NaN (the corrected value is NaN: no correction is possible, and
    none is taken as perfect); ``"capped"`` where the correction overshoots +/-1 (held at +/-1: the
    reliability is underestimated, or the correlation is noise).

    Examples
    --------
    >>> rc, flag = disattenuate(np.array([0.3, 0.5, 0.4]), np.array([0.25, 0.16, -0.1]))
    >>> rc.round(2).tolist(), flag.tolist()
    ([0.6, 1.0, nan], ['', 'capped', 'unreliable'])
    """
    r = np.asarray(r, dtype=float)
    rel = np.asarray(reliability, dtype=float)
    usable = np.isfinite(rel) & (rel > 0)
    raw = np.full(r.shape, np.nan)
    np.divide(r, np.sqrt(np.where(usable, rel, 1.0)), out=raw, where=usable)
    over = usable & (np.abs(raw) > 1)
    corrected = np.where(over, np.sign(raw), raw)
    flag = np.where(~usable, "unreliable", np.where(over, "capped", "")).astype(object)
    return corrected, flag


def disattenuate_matrix(corr: np.ndarray, reliability: np.ndarray) -> np.ndarray:
    """Correlation matrices corrected for unreliability, kept a valid correlation matrix.

    Every off-diagonal ``r_ij`` becomes ``r_ij / sqrt(rel_i * rel_j)`` (Spearman 1904), the
    diagonal stays 1. Corrected matrices are often not positive definite (a correction that
    overshoots); they are then moved to the nearest one by clipping the eigenvalues at 1e-6 and
    rescaling to a unit diagonal (Higham-style projection), which holds every corrected ``|r|``
    below 1.

    Parameters
    ----------
    corr : ndarray
        Shape (..., q, q).
    reliability : ndarray
        Shape (q,), each in (0, 1].

    Returns
    -------
    ndarray
        Shape (..., q, q).

    Examples
    --------
    >>> c = np.array([[1.0, 0.3], [0.3, 1.0]])
    >>> disattenuate_matrix(c, np.array([0.5, 0.72])).round(3).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    corr = np.asarray(corr, dtype=float)
    scale = 1.0 / np.sqrt(np.asarray(reliability, dtype=float))
    C = corr * scale[:, None] * scale[None, :]
    q = C.shape[-1]
    eye = np.eye(q, dtype=bool)
    C = np.where(eye, 1.0, C)
    ev, V = np.linalg.eigh(C)
    if (ev < 1e-6).any():
        C = (V * np.clip(ev, 1e-6, None)[..., None, :]) @ np.swapaxes(V, -1, -2)
        d = np.sqrt(np.diagonal(C, axis1=-2, axis2=-1))
        C = C / (d[..., :, None] * d[..., None, :])
        C = np.where(eye, 1.0, C)
    return C


def key_drivers(
    data: pd.DataFrame,
    *,
    items: Sequence[str],
    outcome: str,
    unit: str = DEFAULT_UNIT,
    period: str | None = None,
    lag: int = 0,
    level: str = "between",
    method: str = "relative_weights",
    reliability: Mapping[str, float] | None = None,
    outcome_reliability: float = 1.0,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
    adjust: str = "holm",
    survey_align: str = "wave",
) -> pd.DataFrame:
    """Rank survey items as drivers of a unit-level outcome, with unit-bootstrap intervals.

    Parameters
    ----------
    data : DataFrame
        One row per unit, or per unit and period (a panel: the ``between`` level then averages each
        unit's rows first). Rows with any item or the outcome missing are dropped.
    items : sequence of str
        Item columns (e.g. the panel's ``es_<item>`` unit means).
    outcome : str
        Outcome column (e.g. ``customer_retention`` or ``cs_csat``).
    unit : str
        Unit column (the bootstrap resamples its values).
    period : str, optional
        Period column; needed only with ``lag``.
    lag : int
        Pair the items at period t with the outcome at t + ``lag`` of the same unit (matched by
        period value, as :func:`linkage.stats.lag_pairs`), e.g. a survey wave against customer
        retention the months after it. Rows without a partner drop out.
    level : str
        ``"between"`` (default): unit means, n = units (which units do better); ``"within"``: the
        rows demeaned within each unit (what moves together in a unit over time).
    method : str
        ``"relative_weights"`` (Johnson 2000, default) or ``"dominance"`` (general dominance; up to
        12 items).
    reliability : mapping, optional
        Reliability of each item's unit mean (e.g. ``reliability`` from
        :func:`survey_reliability`); gives ``r_corrected``. Items the mapping does not name are
        taken as perfectly reliable. A reliability at or below 0, or NaN (an ICC(1) at or below 0:
        the unit means hold no measurable unit signal), is *unreliable*: ``r_corrected`` is NaN and
        ``correction`` says so, never a correction by 1.
    outcome_reliability : float
        Reliability of the outcome's unit values (1 = taken as exact).
    n_boot : int
        Unit-bootstrap resamples (0: no intervals or p-values).
    seed : int or None
        Seed of the bootstrap and of the random comparison variable.
    ci : float
        Confidence level.
    adjust : str
        Correction of the p-values over the items ("holm", "fdr_bh", "bonferroni", "none", ...).
    survey_align : {"wave", "forward"}
        With ``period`` and a panel holding ``es_wave`` / ``cs_wave``: ``"wave"`` (default) uses
        survey figures only in the months their waves measured
        (:func:`linkage.panel.surveys.on_wave_months`), so a lag pairs a measurement with the
        outcome ``lag`` months after it and a unit's mean gives each wave one weight;
        ``"forward"`` uses carried-forward figures as if fresh.

    Returns
    -------
    DataFrame
        One row per item, best first: ``method``, ``item``, ``rank`` (1 = largest weight), ``n``
        (rows used: units for ``between``), ``n_units``, ``r`` (the item's correlation with the
        outcome at this level), ``r_corrected`` (disattenuated, ``r / sqrt(rel_item *
        outcome_reliability)``), ``reliability``, ``weight`` (share of R^2, raw), ``share`` (weight
        / R^2), ``ci_low``, ``ci_high`` (percentile interval of ``weight``), ``p_val`` (two-sided,
        weight against a random variable's, Tonidandel et al. 2009), ``p_adj``, ``r2`` (full model),
        ``correction`` (``""``; ``"unreliable"``: no correction possible; ``"capped"``: the
        correction overshot +/-1, a sign that the reliability is underestimated, and ``r_corrected``
        is held at +/-1), ``weight_corrected``, ``ci_low_corrected``, ``ci_high_corrected`` and
        ``r2_corrected``: the same weights computed from the correlation matrix corrected for the
        items' (and outcome's) unreliability (:func:`disattenuate_matrix`), with a unit-bootstrap
        percentile interval from the same resamples (the reliabilities are taken as known: the
        interval does not carry their own sampling error). NaN without ``reliability`` or when an
        item is unreliable (no correction is possible).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> common = rng.normal(size=120)
    >>> df = pd.DataFrame({"unit_id": np.arange(120).astype(str),
    ...                    "es_manager": common + rng.normal(size=120),
    ...                    "es_tools": common + rng.normal(size=120),
    ...                    "es_canteen": common + rng.normal(size=120)})
    >>> df["cs_csat"] = df["es_manager"] + 0.5 * df["es_tools"] + rng.normal(size=120)
    >>> items = ["es_manager", "es_tools", "es_canteen"]
    >>> out = key_drivers(df, items=items, outcome="cs_csat", n_boot=300)
    >>> out["item"].tolist()
    ['es_manager', 'es_tools', 'es_canteen']
    >>> bool(out["share"].sum().round(6) == 1.0), bool(out["p_adj"].iloc[0] < 0.05)
    (True, True)
    """
    check_ci(ci)
    items = list(items)
    if level not in ("between", "within"):
        raise InputError(f"level must be 'between' or 'within', got {level!r}")
    if method not in _METHODS:
        raise InputError(f"method must be one of {list(_METHODS)}, got {method!r}")
    if method == "dominance" and len(items) > MAX_DOMINANCE_ITEMS:
        raise InputError(
            f"dominance analysis takes at most {MAX_DOMINANCE_ITEMS} items, got {len(items)}"
        )
    if not 0 < outcome_reliability <= 1:
        raise InputError(f"outcome_reliability must be in (0, 1], got {outcome_reliability!r}")
    lag = check_whole("lag", lag)
    if survey_align not in ("wave", "forward"):
        raise InputError(f"survey_align must be 'wave' or 'forward', got {survey_align!r}")
    surveyed = any(c.startswith(tuple(WAVE_COLUMNS)) for c in [*items, outcome])
    if survey_align == "wave" and surveyed and period is not None and period in data.columns:
        data, _ = on_wave_months(data, period=period)
    if lag != 0:
        if period is None:
            raise InputError("a lag needs the period column (period=...)")
        data = _shift_outcome(data, outcome=outcome, unit=unit, period=period, lag=int(lag))
    Z, codes, U = _drivers_frame(data, items, outcome, unit)
    p = len(items)
    n_used = U if level == "between" else len(Z)
    if n_used < p + 3:
        raise InputError(
            f"{n_used} {'units' if level == 'between' else 'rows'} with complete data are too few "
            f"for {p} items"
        )
    # the random comparison variable (Tonidandel et al. 2009): one value per unit (between) or per
    # row (within)
    rng = np.random.default_rng([0 if seed is None else seed, 7])
    noise = rng.standard_normal(U)[codes] if level == "between" else rng.standard_normal(len(Z))
    Zr = np.column_stack([Z[:, :p], noise, Z[:, p]])
    M, P = _unit_sums(Zr, codes, U, level)
    one = np.ones((1, U))
    S_full = _covariances(one, M, P, level)[0]
    corr_r = _cov_to_corr(S_full)
    keep = np.r_[np.arange(p), p + 1]  # items and outcome, without the random variable
    corr = corr_r[np.ix_(keep, keep)]
    if not np.isfinite(corr).all() or (np.diag(S_full) <= 0).any():
        bad = [
            c
            for c, v in zip([*items, "(random)", outcome], np.diag(S_full), strict=True)
            if not v > 0
        ]
        raise InputError(f"column {bad[0]!r} does not vary at the {level} level", column=bad[0])
    w = _weights(corr, method)
    r2 = float(w.sum())
    r = corr[:p, p]
    rel = np.array([float((reliability or {}).get(c, 1.0)) for c in items])
    invalid = (rel > 1) | np.isinf(rel)
    if invalid.any():
        item = items[int(np.flatnonzero(invalid)[0])]
        raise InputError(f"reliability of {item!r} must be at most 1", column=item)
    rel_all = np.r_[rel, outcome_reliability]
    can_correct = reliability is not None and bool((np.isfinite(rel_all) & (rel_all > 0)).all())
    wc = lo_c = hi_c = np.full(p, np.nan)
    if can_correct:
        wc = _weights(disattenuate_matrix(corr, rel_all), method)
    lo = hi = pv = np.full(p, np.nan)
    if n_boot > 0:
        W = unit_resample_counts(U, int(n_boot), seed)
        Sb = _covariances(W, M, P, level)
        with np.errstate(invalid="ignore", divide="ignore"):
            cb = _cov_to_corr(Sb)
        ok = np.isfinite(cb).all(axis=(1, 2))
        cb = cb[ok]
        wb = _weights(cb[:, keep][:, :, keep], method)
        lo, hi = percentile_ci(wb, ci)
        if can_correct:
            lo_c, hi_c = percentile_ci(
                _weights(disattenuate_matrix(cb[:, keep][:, :, keep], rel_all), method), ci
            )
        wr = _weights(cb, method)  # with the random variable as item p
        pv = boot_p_value(wr[:, :p] - wr[:, [p]])
    r_corrected, correction = disattenuate(r, rel * outcome_reliability)
    out = pd.DataFrame(
        {
            "method": method,
            "item": items,
            "n": n_used,
            "n_units": U,
            "r": r,
            "r_corrected": r_corrected,
            "reliability": rel,
            "weight": w,
            "share": w / r2 if r2 > 0 else np.nan,
            "ci_low": lo,
            "ci_high": hi,
            "p_val": pv,
            "p_adj": adjust_p(np.asarray(pv, dtype=float), adjust),
            "r2": r2,
            "correction": correction,
            "weight_corrected": wc,
            "ci_low_corrected": lo_c,
            "ci_high_corrected": hi_c,
            "r2_corrected": float(wc.sum()) if can_correct else np.nan,
        }
    )
    out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, p + 1)
    return out[DRIVER_COLUMNS]
