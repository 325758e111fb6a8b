"""Which way does it run? Cross-lagged panel regressions in both directions.

Two fixed-effects regressions (``linearmodels.PanelOLS``), one per direction::

    y(t) = a_u [+ g_t] + b_yy * y(t-1) + b_yx * x(t-1) + e      (x -> y: employees lead)
    x(t) = a_u [+ g_t] + b_xx * x(t-1) + b_xy * y(t-1) + e      (y -> x: customers lead)

with unit fixed effects ``a_u`` (and period effects ``g_t`` by default), lagged values matched by
period value (:func:`linkage.stats.lag_pairs` rules) and standard errors clustered by unit.
Standardised coefficients are the raw ones times ``sd(predictor) / sd(outcome)``, both standard
deviations of the variables after the fixed effects are removed, on the estimation sample. The
numbers are those of ``linearmodels.PanelOLS(..., entity_effects=True, time_effects=True)
.fit(cov_type="clustered", cluster_entity=True)``, computed in numpy (tests match them).

Caveats, printed with every result: with unit fixed effects and a lagged outcome, short panels bias
the autoregressive coefficient downwards (Nickell 1981, order 1/T) and the cross-lagged ones with
it; a random-intercept cross-lagged panel model (Hamaker et al. 2015) is the usual alternative.
Either way, a cross-lagged coefficient is evidence about temporal order, not proof of causation:
a third factor that moves both with different delays would produce the same pattern.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.stats._fe import fe_ols
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    Grid,
    check_ci,
    make_grid,
    shift_pairs,
)

__all__ = ["cross_lagged", "DIRECTION_CAVEATS", "DIRECTION_COLUMNS"]

DIRECTION_COLUMNS = [
    "method",
    "outcome",
    "predictor",
    "lag",
    "coef",
    "se",
    "ci_low",
    "ci_high",
    "p_val",
    "std_coef",
    "std_ci_low",
    "std_ci_high",
    "n",
    "n_units",
]

DIRECTION_CAVEATS = (
    "Cross-lagged fixed-effects regressions show temporal order, not causation: a third factor "
    "that moves both measures with different delays would look the same.",
    "With few periods per unit, unit fixed effects plus a lagged outcome bias the coefficients "
    "(Nickell bias, of order 1/periods); read small coefficients with care.",
)


def _lagged(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x(t), y(t), x(t-1), y(t-1) on grid columns 1.., and the mask of complete cells."""
    x1, x0, _ = shift_pairs(grid.X, grid.X, 1)  # x1 = x(t-1), x0 = x(t)
    y1, y0, _ = shift_pairs(grid.Y, grid.Y, 1)
    mask = np.isfinite(x1) & np.isfinite(x0) & np.isfinite(y1) & np.isfinite(y0)
    return x0, y0, x1, y1, mask


def cross_lagged(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    time_effects: bool = True,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Cross-lagged panel regressions in both directions with unit (and period) fixed effects.

    Parameters
    ----------
    data : DataFrame
        Long panel.
    x, y, unit, period : str
        Column names.
    time_effects : bool
        Add period fixed effects (common trends and seasonality).
    ci : float
        Confidence level of the (unit-clustered) intervals.

    Returns
    -------
    DataFrame
        Four rows (each outcome on its own lag and on the other's lag): ``method``
        ("cross_lagged_fe"), ``outcome``, ``predictor`` (column names, e.g. ``employee_retention``
        for x(t-1)), ``lag`` (1), ``coef``, ``se``, ``ci_low``, ``ci_high``, ``p_val`` (clustered
        by unit), ``std_coef``, ``std_ci_low``, ``std_ci_high`` (standardised by within-unit
        standard deviations), ``n`` (rows used), ``n_units``. ``DIRECTION_CAVEATS`` says how
        (not) to read them.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> e = rng.normal(size=(60, 12))
    >>> c = 0.5 * np.roll(e, 1, axis=1) + rng.normal(size=(60, 12))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(60), 12).astype(str),
    ...                    "period": np.tile(np.arange(12), 60),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    >>> res = cross_lagged(df)
    >>> cross = res[res.outcome != res.predictor]
    >>> cross[["outcome", "p_val"]].assign(p_val=cross.p_val < 0.05).values.tolist()
    [['customer_retention', True], ['employee_retention', False]]
    """
    check_ci(ci)
    grid = make_grid(data, x=x, y=y, unit=unit, period=period)
    return cross_lagged_grid(grid, x=x, y=y, period=period, time_effects=time_effects, ci=ci)


def cross_lagged_grid(
    grid: Grid, *, x: str, y: str, period: str, time_effects: bool, ci: float
) -> pd.DataFrame:
    """:func:`cross_lagged` on a grid already built."""
    x0, y0, x1, y1, mask = _lagged(grid)
    n_units = int((mask.sum(axis=1) > 0).sum())
    if n_units < 3 or int(mask.sum()) - n_units < 5:
        raise InputError(
            f"a cross-lagged analysis needs consecutive periods in at least 3 units, "
            f"found {int(mask.sum())} usable rows in {n_units} units",
            column=period,
        )
    rows = []
    for out_name, out, own, other, own_name, other_name in (
        (y, y0, y1, x1, y, x),
        (x, x0, x1, y1, x, y),
    ):
        fit = fe_ols(out, np.stack([own, other]), mask, two_way=time_effects, ci=ci)
        for j, pred in enumerate((own_name, other_name)):
            scale = fit["sd"][j + 1] / fit["sd"][0] if fit["sd"][0] > 0 else np.nan
            rows.append(
                {
                    "method": "cross_lagged_fe",
                    "outcome": out_name,
                    "predictor": pred,
                    "lag": 1,
                    "coef": fit["coef"][j],
                    "se": fit["se"][j],
                    "ci_low": fit["ci_low"][j],
                    "ci_high": fit["ci_high"][j],
                    "p_val": fit["p_val"][j],
                    "std_coef": fit["coef"][j] * scale,
                    "std_ci_low": fit["ci_low"][j] * scale,
                    "std_ci_high": fit["ci_high"][j] * scale,
                    "n": fit["n"],
                    "n_units": fit["n_units"],
                }
            )
    return pd.DataFrame(rows, columns=DIRECTION_COLUMNS)
