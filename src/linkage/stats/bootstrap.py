"""The unit (cluster) bootstrap, done exactly from per-unit sufficient statistics.

Resampling whole units with replacement is the same as giving each unit a multinomial count
``W[b, u]`` (how often unit u is drawn in resample b). A within-unit correlation only needs each
unit's centred sums of squares and cross-products ``Cxx[u], Cyy[u], Cxy[u]`` (a unit drawn twice
contributes twice, each copy demeaned within itself), so every resample is

    r_b = (W @ Cxy)[b] / sqrt((W @ Cxx)[b] * (W @ Cyy)[b])

three matrix products for all resamples and all lags at once, instead of re-running a correlation
thousands of times. The result is identical to re-demeaning each resampled panel.
"""

from __future__ import annotations

import numpy as np

from linkage.errors import InputError

__all__ = [
    "unit_resample_counts",
    "boot_correlations",
    "boot_slopes",
    "percentile_ci",
    "boot_p_value",
]


def unit_resample_counts(
    n_units: int, n_boot: int, rng: np.random.Generator | int | None = 0
) -> np.ndarray:
    """How often each unit is drawn in each of ``n_boot`` resamples of ``n_units`` units.

    Parameters
    ----------
    n_units : int
        Number of units (clusters).
    n_boot : int
        Number of bootstrap resamples.
    rng : numpy Generator or int or None
        Random generator or seed.

    Returns
    -------
    ndarray
        Float array of shape (n_boot, n_units); every row sums to ``n_units``.

    Examples
    --------
    >>> W = unit_resample_counts(4, 3, rng=1)
    >>> W.shape, W.sum(axis=1).tolist()
    ((3, 4), [4.0, 4.0, 4.0])
    """
    if n_boot < 0:
        raise InputError(f"the number of bootstrap resamples must be >= 0, got {n_boot}")
    rng = np.random.default_rng(rng)
    if n_boot == 0 or n_units == 0:
        return np.zeros((n_boot, n_units))
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    draws += (np.arange(n_boot, dtype=draws.dtype) * n_units)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_boot * n_units)
    return counts.reshape(n_boot, n_units).astype(np.float64)


def boot_correlations(
    W: np.ndarray, Cxx: np.ndarray, Cyy: np.ndarray, Cxy: np.ndarray
) -> np.ndarray:
    """Bootstrap within-unit correlations from per-unit sums: shape (n_boot, n_stats).

    ``Cxx``, ``Cyy``, ``Cxy`` have shape (n_units,) or (n_units, n_stats) (e.g. one column per lag).

    Examples
    --------
    >>> W = np.array([[1.0, 1.0], [2.0, 0.0]])
    >>> Cxx, Cyy, Cxy = np.array([1.0, 1.0]), np.array([1.0, 4.0]), np.array([1.0, -2.0])
    >>> boot_correlations(W, Cxx, Cyy, Cxy).round(3).ravel().tolist()
    [-0.316, 1.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx, syy, sxy = W @ Cxx, W @ Cyy, W @ Cxy
        r = sxy / np.sqrt(sxx * syy)
    r = np.where((sxx > 0) & (syy > 0), r, np.nan)
    return r.reshape(W.shape[0], _width(Cxx))


def boot_slopes(W: np.ndarray, Cxx: np.ndarray, Cxy: np.ndarray) -> np.ndarray:
    """Bootstrap within-unit slopes of y on x, ``(W @ Cxy) / (W @ Cxx)``, shape (n_boot, n_stats).

    ``Cxx``, ``Cxy`` as in :func:`boot_correlations`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx, sxy = W @ Cxx, W @ Cxy
        b = sxy / sxx
    b = np.where(sxx > 0, b, np.nan)
    return b.reshape(W.shape[0], _width(Cxx))


def _width(C: np.ndarray) -> int:
    return 1 if C.ndim == 1 else C.shape[1]


def percentile_ci(boot: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of ``boot`` (resamples in rows), NaNs ignored.

    Columns with fewer than 10 finite resamples get NaN.

    Examples
    --------
    >>> lo, hi = percentile_ci(np.arange(101.0)[:, None], ci=0.9)
    >>> lo.round(6).tolist(), hi.round(6).tolist()
    ([5.0], [95.0])
    """
    boot = np.asarray(boot, dtype=float)
    if boot.ndim == 1:
        boot = boot[:, None]
    if boot.shape[0] == 0:
        nan = np.full(boot.shape[1], np.nan)
        return nan, nan.copy()
    ok = np.isfinite(boot).sum(axis=0) >= 10
    q = np.full((2, boot.shape[1]), np.nan)
    if ok.any():
        with np.errstate(invalid="ignore"):
            q[:, ok] = np.nanquantile(boot[:, ok], [0.5 - ci / 2, 0.5 + ci / 2], axis=0)
    return q[0], q[1]


def boot_p_value(boot: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value of "the statistic is 0", for each column of ``boot``.

    ``min(1, 2 * min(#{b <= 0} + 1, #{b >= 0} + 1) / (B + 1))`` over the ``B`` resamples (rows;
    a NaN counts on neither side but is one of the ``B``): the +1 keeps it above 0, as a
    p-value from a finite number of resamples must be.

    Examples
    --------
    >>> boot_p_value(np.array([[0.5, -1.0], [1.0, 2.0], [2.0, -0.5], [3.0, 0.1]])).tolist()
    [0.4, 1.0]
    """
    b = np.asarray(boot, dtype=float)
    below, above = (b <= 0).sum(axis=0) + 1, (b >= 0).sum(axis=0) + 1
    return np.minimum(1.0, 2 * np.minimum(below, above) / (b.shape[0] + 1))
