"""Roll a unit x period panel up to regions, districts or any unit attribute, from the counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel.build import COUNT_FIELDS, ratio

__all__ = ["rollup"]

_SIDES = ("employee", "customer")


def rollup(panel: pd.DataFrame, *, by: str | list[str] = "region") -> pd.DataFrame:
    """Sum a panel's counts over the units of each attribute value and recompute the rates.

    Rates are never averaged: ``*_retention`` and ``*_turnover`` of a region are computed from
    the region's summed counts, exactly as :func:`linkage.panel.build_panel` computes them for a
    unit, so a region equals the panel built with the region as the unit. (From an activity log,
    customers are counted per unit: one active in two stores of a region counts twice in it.)

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel as returned by :func:`linkage.panel.build_panel` (``period`` and the ten
        ``employee_*`` / ``customer_*`` count columns are needed; ``customer_revenue`` is summed
        when present).
    by : str or list of str, default "region"
        The attribute column(s) to group units by (``"region"``, ``"district"``, ...). Units whose
        attribute is missing form their own group, with a missing value, so that no count is lost.

    Returns
    -------
    pandas.DataFrame
        One row per attribute value x period, sorted by ``by`` then ``period``, with the panel's
        columns in the panel's order and ``by`` in place of ``unit_id``: ``*by, period,
        employee_start, employee_joined, employee_left, employee_retained, employee_end,
        employee_retention, employee_turnover, customer_...`` (and ``customer_revenue``). Other unit
        attributes are dropped.

    Raises
    ------
    InputError
        When ``panel`` lacks ``by``, ``period`` or a count column.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "unit_id": ["a", "a", "b", "b"], "region": ["N", "N", "N", "N"],
    ...     "period": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2),
    ...     "employee_start": [1, 1, 9, 8], "employee_joined": [0, 0, 0, 0],
    ...     "employee_left": [0, 1, 1, 0], "employee_retained": [1, 0, 8, 8],
    ...     "employee_end": [1, 0, 8, 8],
    ...     "customer_start": 0, "customer_joined": 0, "customer_left": 0,
    ...     "customer_retained": 0, "customer_end": 0})
    >>> out = rollup(panel, by="region")
    >>> out[["region", "period", "employee_start", "employee_retained", "employee_retention"]]
      region     period  employee_start  employee_retained  employee_retention
    0      N 2024-01-01              10                  9            0.900000
    1      N 2024-02-01               9                  8            0.888889

    The mean of the two stores' February retention rates (0.0 and 1.0) would say 0.5.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not isinstance(panel, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame, not {type(panel).__name__}", file="panel")
    if not keys:
        raise InputError("by= names no column to roll up to")
    if "period" in keys:
        raise InputError("by= cannot be 'period': roll-ups keep the periods", column="period")
    counts = [f"{side}_{field}" for side in _SIDES for field in COUNT_FIELDS]
    needed = [*keys, "period", *counts]
    missing = [c for c in needed if c not in panel.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(map(repr, missing))}", file="panel", column=missing[0]
        )
    summed = counts + (["customer_revenue"] if "customer_revenue" in panel.columns else [])
    grouped = (
        panel.groupby([*keys, "period"], dropna=False, sort=True, observed=True)[summed]
        .sum()
        .reset_index()
    )
    out: dict[str, pd.Series | np.ndarray] = {k: grouped[k] for k in [*keys, "period"]}
    for side in _SIDES:
        c = {f: grouped[f"{side}_{f}"].to_numpy(dtype="int64") for f in COUNT_FIELDS}
        for f in COUNT_FIELDS:
            out[f"{side}_{f}"] = c[f]
        out[f"{side}_retention"] = ratio(c["retained"], c["start"])
        out[f"{side}_turnover"] = ratio(c["left"], (c["start"] + c["end"]) / 2.0)
    if "customer_revenue" in summed:
        out["customer_revenue"] = grouped["customer_revenue"].to_numpy(dtype="float64")
    return pd.DataFrame(out)
