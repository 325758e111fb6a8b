"""The small computations the plots need, kept apart from drawing (as seaborn's ``_statistics``).

Rates of a group are ratios of summed counts (``sum(retained) / sum(start)``), never means of unit
rates, so a store of 4 weighs what its 4 people weigh.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from linkage.errors import InputError

__all__ = ["rate_table", "funnel_limits", "SIDES"]

#: retention rate column -> (numerator, denominator) columns, as in the panel (docs/design.md)
SIDES = {
    "employee_retention": ("employee_retained", "employee_start"),
    "customer_retention": ("customer_retained", "customer_start"),
    "employee_turnover": ("employee_left", None),
    "customer_turnover": ("customer_left", None),
}


def check_columns(data: pd.DataFrame, cols: Sequence[str], where: str = "data") -> None:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(data).__name__}", file=where)
    for col in cols:
        if col not in data.columns:
            raise InputError("column not found", file=where, column=col)


def rate_table(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str],
    rates: Sequence[str] = ("employee_retention", "customer_retention"),
) -> pd.DataFrame:
    """Retention rates of groups of panel rows, as ratios of summed counts.

    Parameters
    ----------
    data : DataFrame
        The panel (one row per unit x period, columns as in ``docs/design.md``).
    by : str or list of str
        Grouping columns, e.g. ``["region", "period"]`` or ``"unit_id"``.
    rates : list of str
        Retention columns to compute; each needs its ``*_retained`` and ``*_start`` counts.

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, for each rate its value and its denominator
        (``employee_start`` ...) summed over the group.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkage.viz import rate_table
    >>> p = pd.DataFrame({"region": ["N", "N", "S"], "employee_retained": [9, 1, 5],
    ...                   "employee_start": [10, 2, 5]})
    >>> rate_table(p, by="region", rates=["employee_retention"])
      region  employee_retention  employee_start
    0      N            0.833333              12
    1      S            1.000000               5
    """
    keys = [by] if isinstance(by, str) else list(by)
    need = list(keys)
    for rate in rates:
        if rate not in SIDES or SIDES[rate][1] is None:
            raise InputError(f"can only aggregate retention rates, not {rate!r}", column=rate)
        need += [c for c in SIDES[rate] if c is not None]
    check_columns(data, need)
    cols = list(dict.fromkeys(c for r in rates for c in SIDES[r]))
    sums = data.groupby(keys, observed=True, sort=True)[cols].sum().reset_index()
    out = sums[keys].copy()
    for rate in rates:
        num, den = SIDES[rate]
        d = sums[den].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rate] = np.where(d > 0, sums[num].to_numpy(dtype=float) / d, np.nan)
        out[den] = sums[den]
    return out


def funnel_limits(
    p0: float, n: np.ndarray, *, coverage: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Binomial control limits of a proportion around ``p0`` for denominators ``n``.

    The limits are the ``(1 - coverage) / 2`` and ``(1 + coverage) / 2`` quantiles of
    ``Binomial(n, p0) / n``, interpolated between integer counts as in Spiegelhalter (2005) but with
    each count's probability spread over ``[r - 1/2, r + 1/2]`` (a continuity-centred version, so
    the limits are symmetric when ``p0 = 0.5``); they are smooth in ``n``.

    Parameters
    ----------
    p0 : float
        The target (pooled) proportion, in [0, 1].
    n : array of float
        Denominators: whole numbers > 0 (others give NaN).
    coverage : float, default 0.95
        Probability that a unit with the true rate ``p0`` falls inside.

    Returns
    -------
    lower, upper : arrays of float

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = funnel_limits(0.5, np.array([100.0]))  # normal approx.: 0.5 -/+ 1.96 * 0.05
    >>> float(round(lo[0], 3)), float(round(hi[0], 3))
    (0.402, 0.598)
    """
    n = np.asarray(n, dtype=float)
    if not 0 <= p0 <= 1:
        raise InputError(f"p0 must be a proportion in [0, 1], got {p0!r}")
    if not 0 < coverage < 1:
        raise InputError(f"coverage must be in (0, 1), got {coverage!r}")
    out = []
    for q in ((1 - coverage) / 2, (1 + coverage) / 2):
        r = sps.binom.ppf(q, n, p0)
        # interpolation (after Spiegelhalter 2005, Stat Med 24:1185, appendix), continuity-centred
        cdf_r = sps.binom.cdf(r, n, p0)
        pmf_r = sps.binom.pmf(r, n, p0)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(pmf_r > 0, (cdf_r - q) / pmf_r, 0.0)
        out.append(np.clip((r + 0.5 - alpha) / n, 0.0, 1.0))
    return out[0], out[1]
