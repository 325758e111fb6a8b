"""Customer retention per segment on the unit x period grid (:func:`segment_retention`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.panel._inputs import (
    as_frame,
    date_column,
    first_bad,
    need_columns,
    text_column,
    window_periods,
)
from linkage.panel.build import UnitPeriodGrid, activity_spells, ratio, spell_codes, window_bounds
from linkage.panel.periods import DateLike, date_codes, normalize_freq, period_starts

__all__ = ["segment_retention"]


_SEGMENT_COUNTS = (
    "customer_start",
    "customer_joined",
    "customer_left",
    "customer_retained",
    "customer_end",
)


def segment_retention(
    customers: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    segment: str = "segment",
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    activity_window: int = 1,
) -> pd.DataFrame:
    """Customer retention per unit, period and segment (a long table).

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer spells (``customer_id, unit_id, start_date, end_date``) or an activity log
        (``customer_id, unit_id, activity_date``), with the ``segment`` column unless
        ``segments`` is given.
    segments : pandas.DataFrame, optional
        ``customer_id`` (unique) and ``segment``: each customer's segment or vertical.
    segment : str, default "segment"
        The segment column.
    freq, start, end, activity_window
        As in :func:`linkage.panel.build_panel`, whose definitions (docs/domain.md) the counts
        follow within each segment.

    Returns
    -------
    pandas.DataFrame
        One row per unit x period x segment (every combination, zero counts explicit), sorted by
        ``unit_id, period, segment``: ``unit_id`` (str), ``period`` (datetime64), ``segment``
        (str), ``customer_start, customer_joined, customer_left, customer_retained,
        customer_end`` (int64), ``customer_retention, customer_turnover`` (float64, NaN when the
        denominator is 0). Summed over segments the counts are the panel's.

    Raises
    ------
    InputError
        For a missing column, a customer without a segment, a customer listed twice in
        ``segments``, or what :func:`linkage.panel.build_panel` refuses.

    Examples
    --------
    >>> import pandas as pd
    >>> cus = pd.DataFrame({"customer_id": ["a", "b", "c"], "unit_id": ["s1"] * 3,
    ...                     "start_date": pd.to_datetime(["2023-05-01", "2023-07-01",
    ...                                                   "2023-09-09"]),
    ...                     "end_date": pd.to_datetime(["2024-01-15", None, None])})
    >>> seg = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["retail", "retail", "b2b"]})
    >>> out = segment_retention(cus, segments=seg, start="2024-01", end="2024-01")
    >>> out[["segment", "customer_start", "customer_left", "customer_retention"]]
      segment  customer_start  customer_left  customer_retention
    0     b2b               1              0                 1.0
    1  retail               2              1                 0.5
    """
    customers = as_frame(customers, "customers")
    freq = normalize_freq(freq)
    activity_window = window_periods(activity_window)
    is_activity = "start_date" not in customers.columns and "activity_date" in customers.columns
    needed = [
        "customer_id",
        "unit_id",
        *(["activity_date"] if is_activity else ["start_date", "end_date"]),
    ]
    need_columns(customers, needed, "customers")
    if segments is not None:
        segments = as_frame(segments, "segments")
        need_columns(segments, ["customer_id", segment], "segments")
        ids = text_column(segments, "customer_id", "segments")
        first_bad(
            ids.duplicated().to_numpy(),
            "repeat a customer_id already listed",
            "segments",
            "customer_id",
        )
        labels = pd.Series(segments[segment].to_numpy(), index=pd.Index(ids.to_numpy()))
        seg_values = labels.reindex(text_column(customers, "customer_id", "customers").to_numpy())
        seg_values = pd.Series(seg_values.to_numpy(), index=customers.index)
        where = "segments"
    else:
        need_columns(customers, [segment], "customers")
        seg_values = customers[segment]
        where = "customers"
    first_bad(
        seg_values.isna().to_numpy(),
        f"have no {segment} (a customer missing from {where})",
        "customers",
        segment,
    )
    seg_code, seg_index = pd.factorize(seg_values.astype("str"), sort=True)
    n_seg = len(seg_index)
    unit_code, unit_index = pd.factorize(text_column(customers, "unit_id", "customers"), sort=True)
    n_units = len(unit_index)
    group = unit_code.astype(np.int64) * n_seg + seg_code
    if is_activity:
        dates = date_column(customers, "activity_date", "customers")
        codes = date_codes(dates, freq)
        span = (int(codes.min()), int(codes.max())) if len(codes) else None
        lo, _, n_periods = window_bounds([span], start, end, freq)
        cust = pd.factorize(text_column(customers, "customer_id", "customers"))[0].astype(np.int64)
        s, e, g = activity_spells(cust, group, codes, activity_window, n_units * n_seg)
    else:
        s, e, span = spell_codes(customers, "start_date", "end_date", "customers", freq)
        lo, _, n_periods = window_bounds([span], start, end, freq)
        g = group
    grid = UnitPeriodGrid(n_units * n_seg, n_periods, lo)
    counts = grid.spell_counts(g, s, e)
    # grid rows are (unit, segment) x period; reorder to unit, period, segment
    shape = (n_units, n_seg, n_periods)
    cols: dict[str, object] = {}
    u_idx, s_idx, p_idx = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(n_units), np.arange(n_seg), np.arange(n_periods), indexing="ij"
        )
    )
    order = np.lexsort((s_idx, p_idx, u_idx))
    cols["unit_id"] = pd.array(np.asarray(unit_index, dtype=object)[u_idx[order]], dtype="str")
    cols["period"] = period_starts(lo + p_idx[order], freq)
    cols["segment"] = pd.array(np.asarray(seg_index, dtype=object)[s_idx[order]], dtype="str")
    for field, name in zip(
        ("start", "joined", "left", "retained", "end"), _SEGMENT_COUNTS, strict=True
    ):
        cols[name] = counts[field].reshape(shape).ravel()[order]
    out = pd.DataFrame(cols)
    out["customer_retention"] = ratio(
        out["customer_retained"].to_numpy(), out["customer_start"].to_numpy()
    )
    out["customer_turnover"] = ratio(
        out["customer_left"].to_numpy(),
        (out["customer_start"] + out["customer_end"]).to_numpy() / 2.0,
    )
    return out
