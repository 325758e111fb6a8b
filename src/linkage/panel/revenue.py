"""Revenue on the unit x period grid: revenue and net revenue retention per unit x period.

:func:`revenue_panel` turns a customer-level revenue table into a unit x period table keyed by
``unit_id, period`` (``period`` = the first day of the period, as in the panel), which
:func:`linkage.panel.join_chain` appends to the retention panel.

Net revenue retention (:func:`revenue_panel`), for a unit ``u`` and period ``m``
    A customer is *active* in ``m`` at ``u`` when it has a revenue row dated in ``m`` at ``u``
    (the activity-log definition of docs/domain.md, with a one-period window), and ``R_c(m)`` is the
    sum of its rows there. ``revenue = sum_c R_c(m)``; ``revenue_start`` = the revenue in
    ``m - 1`` of the customers active at the start of ``m`` (active in ``m - 1``), which is the
    unit's whole revenue of ``m - 1``; ``revenue_retained`` = the revenue in ``m`` of those of
    them still active in ``m``; ``revenue_retention = revenue_retained / revenue_start`` (NaN
    when ``revenue_start`` is 0). New customers count in ``revenue`` but not in the retention;
    lost customers count as 0; those who stay count with what they spend now, so expansion can
    take it above 1 (net, not gross, revenue retention).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.panel._inputs import (
    as_frame,
    date_column,
    first_bad,
    need_columns,
    number_column,
    text_column,
)
from linkage.panel.build import ratio, window_bounds
from linkage.panel.periods import DateLike, date_codes, normalize_freq, period_starts

__all__ = ["revenue_panel"]


def revenue_panel(
    data: pd.DataFrame,
    *,
    customer: str = "customer_id",
    unit: str = "unit_id",
    date: str = "period",
    revenue: str = "revenue",
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Revenue per unit and period, and net revenue retention of the customers at the start.

    Parameters
    ----------
    data : pandas.DataFrame
        Customer-level revenue: a revenue table (one row per customer and period, or per
        invoice) or an activity log with a revenue column (``date="activity_date"``).
    customer, unit, date, revenue : str
        Column names; defaults ``customer_id``, ``unit_id``, ``period``, ``revenue``.
    freq, start, end
        As in :func:`linkage.panel.build_panel` (by default the periods of the data). The period
        before the window is read too, so its first period has a ``revenue_start`` when the data
        reach back that far (the simulator's revenue starts the month before its window).

    Returns
    -------
    pandas.DataFrame
        One row per unit (of ``data``) x period, sorted: ``unit_id``, ``period``, ``revenue``
        (this period's revenue), ``revenue_start`` (last period's revenue of the customers
        active at the start of this one), ``revenue_retained`` (this period's revenue of those
        of them still active), ``revenue_retention`` (``revenue_retained / revenue_start``, NaN
        when that is 0), all float64. Definitions in the module docstring.

    Raises
    ------
    InputError
        For a missing column, a row without customer, unit, date or revenue, or a column that
        does not parse.

    Examples
    --------
    Customer a spends 100 then 120 (expansion), b spends 50 then leaves, c arrives in February:

    >>> import pandas as pd
    >>> rev = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "unit_id": ["s1"] * 4,
    ...                     "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01",
    ...                                               "2024-02-01"]),
    ...                     "revenue": [100.0, 120.0, 50.0, 30.0]})
    >>> out = revenue_panel(rev, start="2024-02", end="2024-02")
    >>> out[["period", "revenue", "revenue_start", "revenue_retained", "revenue_retention"]]
          period  revenue  revenue_start  revenue_retained  revenue_retention
    0 2024-02-01    150.0          150.0             120.0                0.8
    """
    data = as_frame(data, "revenue")
    need_columns(data, [customer, unit, date, revenue], "revenue")
    freq = normalize_freq(freq)
    cust = text_column(data, customer, "revenue")
    units = text_column(data, unit, "revenue")
    codes = date_codes(date_column(data, date, "revenue"), freq)
    amount = number_column(data, revenue, "revenue")
    first_bad(np.isnan(amount), f"have no {revenue}", "revenue", revenue)
    span = (int(codes.min()), int(codes.max())) if len(codes) else None
    lo, hi, n_periods = window_bounds([span], start, end, freq)
    unit_code, unit_index = pd.factorize(units, sort=True)
    n_units = len(unit_index)
    cust_code = pd.factorize(cust)[0].astype(np.int64)
    g_lo = lo - 1
    width = n_periods + 1
    ok = (codes >= g_lo) & (codes <= hi)
    pair = cust_code[ok] * max(n_units, 1) + unit_code[ok]
    code = codes[ok] - g_lo  # 0 .. width - 1
    key = pair * width + code
    order = np.argsort(key, kind="stable")
    key, amount = key[order], amount[ok][order]
    first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(first)
    per_key = np.add.reduceat(amount, starts) if starts.size else np.zeros(0)
    k_pair, k_code = key[starts] // width, key[starts] % width
    k_unit = k_pair % max(n_units, 1)
    stayed = np.r_[False, (k_pair[1:] == k_pair[:-1]) & (k_code[1:] == k_code[:-1] + 1)]
    cell = k_unit * width + k_code
    total = np.bincount(cell, weights=per_key, minlength=n_units * width).reshape(n_units, width)
    kept = np.bincount(cell[stayed], weights=per_key[stayed], minlength=n_units * width).reshape(
        n_units, width
    )
    rows = np.repeat(np.arange(n_units), n_periods)
    out = pd.DataFrame(
        {
            "unit_id": pd.array(np.asarray(unit_index, dtype=object)[rows], dtype="str"),
            "period": np.tile(period_starts(np.arange(lo, lo + n_periods), freq), n_units),
            "revenue": total[:, 1:].ravel(),
            "revenue_start": total[:, :-1].ravel(),
            "revenue_retained": kept[:, 1:].ravel(),
        }
    )
    out["revenue_retention"] = ratio(
        out["revenue_retained"].to_numpy(), out["revenue_start"].to_numpy()
    )
    out["unit_id"] = out["unit_id"].astype("str")
    return out
