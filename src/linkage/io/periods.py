"""A panel's period column as integer steps: the one place a period's length is inferred.

:func:`read_periods` (and its short form :func:`period_index`) turns a period column into steps
``0, 1, 2, ...`` counted from the first period, and names one step. The panel reader
(:func:`linkage.io.read_panel`) and the statistics (:mod:`linkage.stats`) both use it, so a file
and a DataFrame with the same periods always get the same steps.

- Dates count in calendar months when no two distinct dates share a month and none lie within 20
  days of each other: a month-end (``2022-01-31``), mid-month or month-start date all mean that
  month. The greatest common spacing in months names the step: 1 a month, 3 a quarter, 12 a year
  (quarter-end and year-end dates included); another spacing is a step of that many months.
- Closer dates count in days, when they are regular: every day or every week, with at least half of
  the days (weeks) of their span present. Anything else (dates 10 days apart, a mix of month-start
  and month-end dates) fits no period and is refused.
- ``YYYY-MM`` text is a month, ``YYYY-Qn`` (or ``YYYYQn``) a quarter.
- Whole numbers (years, period numbers; also written ``2.0``) count as they are, the greatest
  common spacing between distinct values being one step (named ``"period"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError

__all__ = ["STEPS", "Periods", "read_periods", "period_index"]

#: the names of one period step
STEPS = ("month", "quarter", "year", "week", "day", "period")

_MONTH_STEPS = {1: "month", 3: "quarter", 12: "year"}
_DAY_STEPS = {1: "day", 7: "week"}
#: distinct dates closer than this are not in different months of a monthly (or coarser) panel
_MIN_MONTH_GAP_DAYS = 20
_QUARTER = r"(\d{4})\s*-?\s*[Qq]([1-4])"
_STRICT_DATE = r"\d{4}-\d{2}(-\d{2})?"
_WHOLE = r"[+-]?\d+"
_NOT_DATE = "period is not a YYYY-MM-DD date"
_NEITHER = "period is neither a date (YYYY-MM-DD) nor a whole number"


@dataclass(frozen=True)
class Periods:
    """A period column read by :func:`read_periods`.

    ``codes`` are the steps (int64, 0 for the first period; -1 where the period is missing),
    ``step`` the name of one step (one of :data:`STEPS`), ``values`` each row's period as the first
    day of that period (datetime64) or as the whole number (int64), ``is_date`` whether the
    periods are dates.
    """

    codes: np.ndarray
    step: str
    values: pd.Series
    is_date: bool


def _gcd(values: np.ndarray) -> int:
    diffs = np.diff(np.unique(values))
    if diffs.size == 0:
        return 1
    return int(reduce(math.gcd, diffs.astype(np.int64).tolist()))


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _whole_numbers(v: np.ndarray, *, column: str, file: str | None) -> Periods:
    frac = v != np.round(v)
    if frac.any():
        raise InputError(
            "period must be a date or a whole number",
            file=file,
            row=_first_row(frac),
            column=column,
        )
    ints = v.astype(np.int64)
    g = _gcd(ints)
    return Periods(
        codes=(ints - ints.min()) // g, step="period", values=pd.Series(ints), is_date=False
    )


def _parse(
    s: pd.Series, *, column: str, file: str | None, dates_only: bool
) -> tuple[pd.Series | np.ndarray, bool]:
    """``s`` (no missing values) as datetime64 dates or float whole-number candidates."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        return s, True
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        if dates_only:
            raise InputError(_NOT_DATE, file=file, row=1, column=column)
        return s.to_numpy(dtype="float64"), False
    text = s.astype("string").str.strip()
    if not dates_only and text.str.fullmatch(_WHOLE).all():  # whole numbers as text (a CSV)
        return text.astype("int64").to_numpy(dtype="float64"), False
    quarter = None
    if re.fullmatch(_QUARTER, str(text.iloc[0])):  # the regex runs on every row only then
        quarter = text.str.extract(_QUARTER + r"$")
    if quarter is not None and quarter.notna().all(axis=None):
        months = (quarter[0].astype("int64") - 1970) * 12 + (quarter[1].astype("int64") - 1) * 3
        return pd.Series(months.to_numpy().astype("datetime64[M]").astype("datetime64[us]")), True
    if dates_only:
        bad = ~text.str.fullmatch(_STRICT_DATE).to_numpy(dtype=bool)
        when = pd.to_datetime(text, format="ISO8601", errors="coerce")
        bad |= when.isna().to_numpy()
        if bad.any():
            raise InputError(_NOT_DATE, file=file, row=_first_row(bad), column=column)
        return when, True
    try:
        when = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        num = pd.to_numeric(text, errors="coerce")
        if num.notna().all():  # numbers written 2024.0 (fractions are refused as such)
            return num.to_numpy(dtype="float64"), False
        bad = pd.to_datetime(text, format="ISO8601", errors="coerce").isna().to_numpy()
        raise InputError(_NEITHER, file=file, row=_first_row(bad), column=column) from None
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    return when, True


def _dates(when: pd.Series, *, column: str, file: str | None) -> tuple[np.ndarray, str, np.ndarray]:
    """Steps, step name and period start (datetime64[D]) of each date."""
    days = when.dt.normalize().to_numpy("datetime64[D]")
    distinct = np.unique(days)
    months_of = distinct.astype("datetime64[M]").astype(np.int64)
    gaps = np.diff(distinct.astype(np.int64))
    monthly = len(np.unique(months_of)) == len(distinct) and not (
        gaps.size and gaps.min() < _MIN_MONTH_GAP_DAYS
    )
    if monthly:
        months = days.astype("datetime64[M]").astype(np.int64)
        g = _gcd(months_of)
        first_days = bool((days == days.astype("datetime64[M]").astype("datetime64[D]")).all())
        if g in (3, 12) and not first_days:  # a quarter-end date means its calendar quarter
            abs_code = months // g
            start = (abs_code * g).astype("datetime64[M]").astype("datetime64[D]")
        else:  # a period starts with the month of its date (as month-start data always did)
            abs_code = (months - months.min()) // g
            start = months.astype("datetime64[M]").astype("datetime64[D]")
        return abs_code - abs_code.min(), _MONTH_STEPS.get(g, "period"), start
    g = _gcd(distinct.astype(np.int64))
    span = (int(gaps.sum()) // g + 1) if gaps.size else 1
    if g not in _DAY_STEPS or 2 * len(distinct) < span:
        spacing = f"{g} days apart" if g > 1 else "irregularly spaced"
        raise InputError(
            f"period dates are {spacing}: they fit no month, quarter or year (nor every day "
            "or week); give one date per period (e.g. the first or last day of each month)",
            file=file,
            column=column,
        )
    day = days.astype(np.int64)
    return (day - day.min()) // g, _DAY_STEPS[g], days


def read_periods(
    values: pd.Series | pd.Index | np.ndarray | Sequence[Any],
    *,
    column: str = "period",
    file: str | None = None,
    dates_only: bool = False,
    allow_missing: bool = False,
) -> Periods:
    """Read a period column: integer steps, the name of one step and each row's period.

    Parameters
    ----------
    values : Series, Index, array or list
        Dates (datetime64, or ISO 8601 text such as ``2022-01-31`` or ``2022-01``), quarters
        (``2022-Q1``) or whole numbers (int, ``2.0``, or their text).
    column, file : str
        Where the values come from, for the messages.
    dates_only : bool
        Refuse whole numbers, and accept only ``YYYY-MM-DD``, ``YYYY-MM`` and ``YYYY-Qn`` text
        (what the dashboards' panel holds).
    allow_missing : bool
        Let a date be missing (its code is -1, its value NaT) instead of refusing it.

    Returns
    -------
    Periods

    Raises
    ------
    InputError
        A missing or unreadable period, a fraction, or dates that fit no period (naming the column
        and the file).

    Examples
    --------
    >>> p = read_periods(["2022-01-31", "2022-02-28", "2022-04-30"])
    >>> p.codes.tolist(), p.step, p.values.dt.strftime("%Y-%m-%d").tolist()
    ([0, 1, 3], 'month', ['2022-01-01', '2022-02-01', '2022-04-01'])
    >>> read_periods(["2023-Q4", "2024-Q1"]).step, read_periods([2.0, 4.0, 8.0]).codes.tolist()
    ('quarter', [0, 1, 3])
    """
    s = pd.Series(values).reset_index(drop=True)
    missing = s.isna().to_numpy()
    if missing.all() and len(s):
        raise InputError("period is missing", file=file, row=1, column=column)
    if missing.any():
        if not allow_missing:
            raise InputError("period is missing", file=file, row=_first_row(missing), column=column)
        got = read_periods(
            s[~missing], column=column, file=file, dates_only=dates_only, allow_missing=False
        )
        if not got.is_date:
            row = _first_row(missing)
            raise InputError("period is missing", file=file, row=row, column=column)
        codes = np.full(len(s), -1, dtype=np.int64)
        codes[~missing] = got.codes
        out = pd.Series(pd.NaT, index=s.index, dtype=got.values.dtype)
        out[~missing] = got.values.to_numpy()
        return Periods(codes=codes, step=got.step, values=out, is_date=True)
    if not len(s):
        return Periods(
            codes=np.zeros(0, np.int64),
            step="period",
            values=pd.Series([], dtype="int64"),
            is_date=False,
        )
    parsed, is_date = _parse(s, column=column, file=file, dates_only=dates_only)
    if not is_date:
        return _whole_numbers(np.asarray(parsed, dtype="float64"), column=column, file=file)
    when = pd.Series(parsed)
    codes, step, start = _dates(when, column=column, file=file)
    return Periods(
        codes=codes.astype(np.int64),
        step=step,
        values=pd.Series(start).astype(when.dtype),
        is_date=True,
    )


def period_index(
    values: pd.Series | pd.Index | np.ndarray | Sequence[Any],
    *,
    column: str = "period",
    file: str | None = None,
) -> tuple[np.ndarray, str]:
    """Integer period steps (0 for the first period) and the name of one step.

    The short form of :func:`read_periods`: the same inference, no missing value allowed.

    Examples
    --------
    >>> codes, step = period_index(pd.to_datetime(["2022-03-31", "2022-06-30", "2022-12-31"]))
    >>> codes.tolist(), step
    ([0, 1, 3], 'quarter')
    >>> try:
    ...     period_index(pd.date_range("2022-01-01", periods=4, freq="10D"), file="p.csv")
    ... except InputError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    p.csv, column 'period': period dates are 10 days apart: they fit no month, quarter or year...
    """
    got = read_periods(values, column=column, file=file)
    return got.codes, got.step
