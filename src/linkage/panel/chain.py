"""The rest of the chain on the unit x period grid: surveys, revenue, segments, and the join.

Each function turns a respondent- or customer-level table into a unit x period table keyed by
``unit_id, period`` (``period`` = the first day of the period, as in the panel), and
:func:`join_chain` appends such tables to the retention panel.

Alignment of surveys (``align=``)
    A survey *wave* of a unit is a period in which the unit has at least one respondent. With
    ``align="wave"`` a wave's figures are given to its own period only (other periods are
    missing). With ``align="forward"`` they are also carried forward to the unit's following
    periods, until its next wave (or the end of the window): the figures in force in that
    period. ``<prefix>wave`` always says which period the figures come from, so their age is
    visible; waves before the window carry into it.

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

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel.build import _activity_runs, _Grid, _ratio, _spell_codes, _window
from linkage.panel.periods import date_codes, normalize_freq, period_starts

__all__ = [
    "employee_survey_panel",
    "customer_survey_panel",
    "revenue_panel",
    "segment_retention",
    "join_chain",
    "nps_score",
]

Align = Literal["forward", "wave"]


# ---- checks ----------------------------------------------------------------------------------------


def _frame(data: object, name: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame, not {type(data).__name__}", file=name)
    return data


def _need(data: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(map(repr, missing))} (the table has: "
            f"{', '.join(map(str, data.columns))})",
            file=name,
        )


def _first_bad(mask: np.ndarray, problem: str, name: str, column: str) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise InputError(
            f"{int(mask.sum())} row(s) {problem}; set them aside with linkage.clean first",
            file=name,
            row=row + 1,
            column=column,
        )


def _texts(data: pd.DataFrame, column: str, name: str) -> pd.Series:
    col = data[column]
    _first_bad(col.isna().to_numpy(), f"have no {column}", name, column)
    return col.astype("str")


def _date_col(data: pd.DataFrame, column: str, name: str) -> pd.Series:
    col = data[column]
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(col.dtype):
        try:
            col = pd.to_datetime(col, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"does not hold dates ({exc}); parse dates with linkage.clean first",
                file=name,
                column=column,
            ) from None
    _first_bad(col.isna().to_numpy(), f"have no {column}", name, column)
    return col


def _numbers(data: pd.DataFrame, column: str, name: str) -> np.ndarray:
    col = data[column]
    if pd.api.types.is_bool_dtype(col.dtype):
        raise InputError("holds true/false, not numbers", file=name, column=column)
    try:
        return pd.to_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"does not hold numbers ({exc}); clean it with linkage.clean first",
            file=name,
            column=column,
        ) from None


def _align(align: object) -> str:
    if align not in ("forward", "wave"):
        raise InputError(
            f"align must be 'forward' (carry a wave to the following periods) or 'wave' "
            f"(its own period only), not {align!r}"
        )
    return str(align)


def nps_score(values: np.ndarray | pd.Series) -> np.ndarray:
    """Each 0-10 answer's contribution to the Net Promoter Score: +100, 0 or -100.

    Promoters (9 or 10) count +100, passives (7 or 8) 0, detractors (0 to 6) -100, so the mean
    over respondents is the NPS (% promoters minus % detractors, -100 to 100). Missing answers
    stay missing.

    Examples
    --------
    >>> nps_score([10, 9, 8, 7, 6, 0, float("nan")]).tolist()
    [100.0, 100.0, 0.0, 0.0, -100.0, -100.0, nan]
    """
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(v), np.nan, np.where(v >= 9, 100.0, np.where(v <= 6, -100.0, 0.0)))


# ---- surveys ---------------------------------------------------------------------------------------


def _survey_grid(
    units: pd.Series,
    dates: pd.Series,
    values: dict[str, np.ndarray],
    *,
    freq: str,
    start,
    end,
    align: str,
    prefix: str,
) -> pd.DataFrame:
    """Means per unit and period of ``values`` (NaN skipped), respondents, aligned by ``align``."""
    codes = date_codes(dates, freq)
    span = (int(codes.min()), int(codes.max())) if len(codes) else None
    lo, hi, n_periods = _window([span], start, end, freq)
    unit_code, unit_index = pd.factorize(units, sort=True)
    n_units = len(unit_index)
    # waves before the window may carry into it
    g_lo = min(lo, span[0]) if (align == "forward" and span is not None and n_periods) else lo
    width = hi - g_lo + 1 if n_periods else 0
    ok = (codes >= g_lo) & (codes <= hi)
    cell = unit_code[ok].astype(np.int64) * width + (codes[ok] - g_lo)
    size = n_units * width
    respondents = np.bincount(cell, minlength=size).reshape(n_units, width)
    means = {}
    for name, v in values.items():
        v = v[ok]
        answered = ~np.isnan(v)
        total = np.bincount(cell[answered], weights=v[answered], minlength=size)
        count = np.bincount(cell[answered], minlength=size)
        means[name] = _ratio(total, count.astype(np.float64)).reshape(n_units, width)
    position = np.where(respondents > 0, np.arange(width)[None, :], -1)
    if align == "forward":
        position = np.maximum.accumulate(position, axis=1)
    keep = slice(lo - g_lo, lo - g_lo + n_periods)
    position = position[:, keep]
    has = position >= 0
    rows = np.repeat(np.arange(n_units), n_periods)
    at = np.where(has, position, 0).ravel()
    columns: dict[str, object] = {
        "unit_id": pd.array(np.asarray(unit_index, dtype=object)[rows], dtype="str"),
        "period": np.tile(period_starts(np.arange(lo, lo + n_periods), freq), n_units),
    }
    for name, grid in means.items():
        columns[f"{prefix}{name}"] = np.where(has.ravel(), grid[rows, at], np.nan)
    columns[f"{prefix}respondents"] = np.where(has.ravel(), respondents[rows, at], 0).astype(
        np.int64
    )
    wave_codes = np.where(has.ravel(), g_lo + at, 0)
    wave = period_starts(wave_codes, freq)
    columns[f"{prefix}wave"] = np.where(has.ravel(), wave, np.datetime64("NaT", "us"))
    out = pd.DataFrame(columns)
    out["unit_id"] = out["unit_id"].astype("str")
    return out


def employee_survey_panel(
    data: pd.DataFrame,
    *,
    items: Sequence[str],
    unit: str = "unit_id",
    date: str = "survey_date",
    freq: str = "M",
    start=None,
    end=None,
    align: Align = "forward",
) -> pd.DataFrame:
    """Employee survey responses as unit x period item means with respondent counts.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent and wave: a unit, a date and one numeric column per item
        (for instance a 1-5 scale; a missing answer is skipped for that item only).
    items : sequence of str
        The item columns to average (for instance ``["engagement", "manager_support"]``).
    unit, date : str, default "unit_id", "survey_date"
        The unit and response date columns.
    freq : {"M", "Q", "Y"}, default "M"
        The period length (that of the panel it will join).
    start, end : str or date, optional
        First and last period (as in :func:`linkage.panel.build_panel`); by default the periods
        of the first and last response.
    align : {"forward", "wave"}, default "forward"
        ``"forward"``: a wave's figures hold in its own period and the unit's following periods
        until its next wave (see the module docstring); ``"wave"``: in its own period only.

    Returns
    -------
    pandas.DataFrame
        One row per unit (of ``data``) x period of the window, sorted by ``unit_id, period``:
        ``unit_id`` (str), ``period`` (datetime64, first day), ``es_<item>`` (float64: the mean
        of the wave's answers, NaN with no wave in force), ``es_respondents`` (int64: the wave's
        respondents, the size behind the means, 0 with no wave in force) and ``es_wave``
        (datetime64: the period of the wave in force, NaT with none).

    Raises
    ------
    InputError
        For a missing column, a row without unit or date, a date or item column that does not
        parse, an empty ``items``, a bad ``freq`` or ``align``.

    Examples
    --------
    Two respondents in store s1 in February, one in April; quarterly waves carried forward:

    >>> import pandas as pd
    >>> es = pd.DataFrame({"unit_id": ["s1", "s1", "s1"],
    ...                    "survey_date": pd.to_datetime(["2024-02-05", "2024-02-20", "2024-04-11"]),
    ...                    "engagement": [4, 3, 5], "pay": [2, None, 3]})
    >>> employee_survey_panel(es, items=["engagement", "pay"], start="2024-01", end="2024-05")
      unit_id     period  es_engagement  es_pay  es_respondents    es_wave
    0      s1 2024-01-01            NaN     NaN               0        NaT
    1      s1 2024-02-01            3.5     2.0               2 2024-02-01
    2      s1 2024-03-01            3.5     2.0               2 2024-02-01
    3      s1 2024-04-01            5.0     3.0               1 2024-04-01
    4      s1 2024-05-01            5.0     3.0               1 2024-04-01
    """
    data = _frame(data, "employee survey")
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise InputError("items must be a non-empty list of item column names", column="items")
    _need(data, [unit, date, *items], "employee survey")
    freq, align = normalize_freq(freq), _align(align)
    values = {item: _numbers(data, item, "employee survey") for item in items}
    return _survey_grid(
        _texts(data, unit, "employee survey"),
        _date_col(data, date, "employee survey"),
        values,
        freq=freq,
        start=start,
        end=end,
        align=align,
        prefix="es_",
    )


def customer_survey_panel(
    data: pd.DataFrame,
    *,
    csat: str | None = "csat",
    nps: str | None = "nps",
    unit: str = "unit_id",
    date: str = "response_date",
    freq: str = "M",
    start=None,
    end=None,
    align: Align = "wave",
) -> pd.DataFrame:
    """Customer survey responses as unit x period CSAT mean, NPS and respondent counts.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per response: a unit, a date, a CSAT score (e.g. 1-5) and / or a 0-10
        "how likely are you to recommend us" answer.
    csat, nps : str or None, default "csat", "nps"
        The CSAT and recommendation columns (None when the survey has no such question; at
        least one is needed).
    unit, date : str, default "unit_id", "response_date"
        The unit and response date columns.
    freq, start, end
        As in :func:`employee_survey_panel`.
    align : {"wave", "forward"}, default "wave"
        Customer surveys usually run continuously, so by default a period has the responses
        dated in it only; ``"forward"`` carries the last figures into periods without responses.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``period``, then ``cs_csat`` (float64, mean score), ``cs_nps`` (float64,
        % promoters (9-10) minus % detractors (0-6) among those who answered it, -100 to 100),
        ``cs_respondents`` (int64) and ``cs_wave`` (datetime64), as in
        :func:`employee_survey_panel`.

    Raises
    ------
    InputError
        As :func:`employee_survey_panel`; also when both ``csat`` and ``nps`` are None.

    Examples
    --------
    >>> import pandas as pd
    >>> cs = pd.DataFrame({"unit_id": ["s1"] * 4,
    ...                    "response_date": pd.to_datetime(["2024-01-03", "2024-01-09", "2024-01-30",
    ...                                                     "2024-02-14"]),
    ...                    "csat": [5, 4, 2, 4], "nps": [10, 8, 3, 9]})
    >>> customer_survey_panel(cs)
      unit_id     period   cs_csat  cs_nps  cs_respondents    cs_wave
    0      s1 2024-01-01  3.666667     0.0               3 2024-01-01
    1      s1 2024-02-01  4.000000   100.0               1 2024-02-01
    """
    data = _frame(data, "customer survey")
    if csat is None and nps is None:
        raise InputError("give at least one of csat= and nps=")
    _need(data, [c for c in (unit, date, csat, nps) if c is not None], "customer survey")
    freq, align = normalize_freq(freq), _align(align)
    values = {}
    if csat is not None:
        values["csat"] = _numbers(data, csat, "customer survey")
    if nps is not None:
        raw = _numbers(data, nps, "customer survey")
        _first_bad(
            ~np.isnan(raw) & ((raw < 0) | (raw > 10)),
            "have a recommendation answer outside 0-10",
            "customer survey",
            nps,
        )
        values["nps"] = nps_score(raw)
    return _survey_grid(
        _texts(data, unit, "customer survey"),
        _date_col(data, date, "customer survey"),
        values,
        freq=freq,
        start=start,
        end=end,
        align=align,
        prefix="cs_",
    )


# ---- revenue ---------------------------------------------------------------------------------------


def revenue_panel(
    data: pd.DataFrame,
    *,
    customer: str = "customer_id",
    unit: str = "unit_id",
    date: str = "period",
    revenue: str = "revenue",
    freq: str = "M",
    start=None,
    end=None,
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
    data = _frame(data, "revenue")
    _need(data, [customer, unit, date, revenue], "revenue")
    freq = normalize_freq(freq)
    cust = _texts(data, customer, "revenue")
    units = _texts(data, unit, "revenue")
    codes = date_codes(_date_col(data, date, "revenue"), freq)
    amount = _numbers(data, revenue, "revenue")
    _first_bad(np.isnan(amount), f"have no {revenue}", "revenue", revenue)
    span = (int(codes.min()), int(codes.max())) if len(codes) else None
    lo, hi, n_periods = _window([span], start, end, freq)
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
    out["revenue_retention"] = _ratio(
        out["revenue_retained"].to_numpy(), out["revenue_start"].to_numpy()
    )
    out["unit_id"] = out["unit_id"].astype("str")
    return out


# ---- segments --------------------------------------------------------------------------------------

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
    start=None,
    end=None,
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
    ...                     "start_date": pd.to_datetime(["2023-05-01", "2023-07-01", "2023-09-09"]),
    ...                     "end_date": pd.to_datetime(["2024-01-15", None, None])})
    >>> seg = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["retail", "retail", "b2b"]})
    >>> out = segment_retention(cus, segments=seg, start="2024-01", end="2024-01")
    >>> out[["segment", "customer_start", "customer_left", "customer_retention"]]
      segment  customer_start  customer_left  customer_retention
    0     b2b               1              0                 1.0
    1  retail               2              1                 0.5
    """
    customers = _frame(customers, "customers")
    freq = normalize_freq(freq)
    if (
        isinstance(activity_window, bool)
        or not isinstance(activity_window, (int, np.integer))
        or activity_window < 1
    ):
        raise InputError(
            f"activity_window must be a whole number of periods >= 1, not {activity_window!r}"
        )
    is_activity = "start_date" not in customers.columns and "activity_date" in customers.columns
    needed = [
        "customer_id",
        "unit_id",
        *(["activity_date"] if is_activity else ["start_date", "end_date"]),
    ]
    _need(customers, needed, "customers")
    if segments is not None:
        segments = _frame(segments, "segments")
        _need(segments, ["customer_id", segment], "segments")
        ids = _texts(segments, "customer_id", "segments")
        _first_bad(
            ids.duplicated().to_numpy(),
            "repeat a customer_id already listed",
            "segments",
            "customer_id",
        )
        labels = pd.Series(segments[segment].to_numpy(), index=pd.Index(ids.to_numpy()))
        seg_values = labels.reindex(_texts(customers, "customer_id", "customers").to_numpy())
        seg_values = pd.Series(seg_values.to_numpy(), index=customers.index)
        where = "segments"
    else:
        _need(customers, [segment], "customers")
        seg_values = customers[segment]
        where = "customers"
    _first_bad(
        seg_values.isna().to_numpy(),
        f"have no {segment} (a customer missing from {where})",
        "customers",
        segment,
    )
    seg_code, seg_index = pd.factorize(seg_values.astype("str"), sort=True)
    n_seg = len(seg_index)
    unit_code, unit_index = pd.factorize(_texts(customers, "unit_id", "customers"), sort=True)
    n_units = len(unit_index)
    group = unit_code.astype(np.int64) * n_seg + seg_code
    if is_activity:
        dates = _date_col(customers, "activity_date", "customers")
        codes = date_codes(dates, freq)
        span = (int(codes.min()), int(codes.max())) if len(codes) else None
        lo, _, n_periods = _window([span], start, end, freq)
        cust = pd.factorize(_texts(customers, "customer_id", "customers"))[0].astype(np.int64)
        s, e, g = _activity_runs(cust, group, codes, int(activity_window), n_units * n_seg)
    else:
        s, e, span = _spell_codes(customers, "start_date", "end_date", "customers", freq)
        lo, _, n_periods = _window([span], start, end, freq)
        g = group
    grid = _Grid(n_units * n_seg, n_periods, lo)
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
    out["customer_retention"] = _ratio(
        out["customer_retained"].to_numpy(), out["customer_start"].to_numpy()
    )
    out["customer_turnover"] = _ratio(
        out["customer_left"].to_numpy(),
        (out["customer_start"] + out["customer_end"]).to_numpy() / 2.0,
    )
    return out


# ---- the join --------------------------------------------------------------------------------------


def join_chain(
    panel: pd.DataFrame,
    *,
    employee_survey: pd.DataFrame | None = None,
    customer_survey: pd.DataFrame | None = None,
    revenue: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Append unit x period chain tables to the retention panel, keyed by ``unit_id, period``.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`linkage.panel.build_panel` (or any table keyed by ``unit_id,
        period``, one row per key).
    employee_survey, customer_survey, revenue : pandas.DataFrame, optional
        Outputs of :func:`employee_survey_panel`, :func:`customer_survey_panel` and
        :func:`revenue_panel` with the panel's ``freq`` (or your own unit x period tables with
        those column names, e.g. item means as ``es_<item>`` with ``es_respondents``).

    Returns
    -------
    pandas.DataFrame
        The panel, its rows and columns unchanged, with the other tables' columns appended in
        the order given (employee survey, customer survey, revenue). Panel rows a table does not
        cover get NaN (NaT for ``*_wave``), and 0 respondents.

    Raises
    ------
    InputError
        When a table lacks ``unit_id`` / ``period``, repeats a key, brings a column the panel
        already has, or shares no ``unit_id, period`` key at all with the panel (a different
        ``freq`` or window).

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"unit_id": ["s1", "s1"], "period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                       "employee_retention": [0.9, 1.0]})
    >>> es = pd.DataFrame({"unit_id": ["s1"], "period": pd.to_datetime(["2024-02-01"]),
    ...                    "es_engagement": [3.5], "es_respondents": [4]})
    >>> join_chain(panel, employee_survey=es)
      unit_id     period  employee_retention  es_engagement  es_respondents
    0      s1 2024-01-01                 0.9            NaN               0
    1      s1 2024-02-01                 1.0            3.5               4
    """
    panel = _frame(panel, "panel")
    _need(panel, ["unit_id", "period"], "panel")
    left_key = pd.MultiIndex.from_arrays(
        [panel["unit_id"].astype("str"), pd.DatetimeIndex(panel["period"]).as_unit("us")]
    )
    if left_key.has_duplicates:
        raise InputError("repeats a unit_id, period pair", file="panel")
    out = panel.copy()
    for name, table in (
        ("employee survey", employee_survey),
        ("customer survey", customer_survey),
        ("revenue", revenue),
    ):
        if table is None:
            continue
        table = _frame(table, name)
        _need(table, ["unit_id", "period"], name)
        extra = [c for c in table.columns if c not in ("unit_id", "period")]
        clash = [c for c in extra if c in out.columns]
        if clash:
            raise InputError(
                f"brings column {clash[0]!r}, which the panel already has",
                file=name,
                column=clash[0],
            )
        key = pd.MultiIndex.from_arrays(
            [table["unit_id"].astype("str"), pd.DatetimeIndex(table["period"]).as_unit("us")]
        )
        if key.has_duplicates:
            row = int(np.flatnonzero(key.duplicated())[0])
            raise InputError("repeats a unit_id, period pair", file=name, row=row + 1)
        where = key.get_indexer(left_key)
        if len(table) and len(out) and not (where >= 0).any():
            raise InputError(
                "shares no unit_id, period with the panel (another freq or window?)", file=name
            )
        joined = table[extra].set_axis(key, axis=0).reindex(left_key).set_axis(out.index, axis=0)
        for col in extra:
            if col.endswith("_respondents"):
                out[col] = joined[col].fillna(0).astype(np.int64)
            else:
                out[col] = joined[col]
    return out
