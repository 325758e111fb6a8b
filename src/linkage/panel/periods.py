"""Calendar periods as integer codes: the grid the panel is built on.

A period is a calendar month (``"M"``), quarter (``"Q"``) or year (``"Y"``). Dates are mapped to
integer codes counted from January 1970 (months since 1970-01, quarters since 1970Q1, years since
1970), so that "date ``d`` is in period ``m``" becomes ``code(d) == m`` and every comparison in the
definitions of docs/domain.md becomes an integer comparison:

- ``s < m_start``  is ``code(s) < m``;  ``e >= m_start`` is ``code(e) >= m``;
- ``s <= m_end``   is ``code(s) <= m``; ``e > m_end``    is ``code(e) > m``.

Dates are taken as calendar days: a time of day, if any, never moves a date into another period.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.errors import InputError

__all__ = ["FREQS", "DateLike", "normalize_freq", "date_codes", "period_starts", "bound_code"]

#: the frequencies the panel knows, by canonical name, with the number of months in one period
FREQS: dict[str, int] = {"M": 1, "Q": 3, "Y": 12}

_ALIASES = {
    "M": "M",
    "MS": "M",
    "ME": "M",
    "MONTH": "M",
    "MONTHLY": "M",
    "Q": "Q",
    "QS": "Q",
    "QE": "Q",
    "QUARTER": "Q",
    "QUARTERLY": "Q",
    "Y": "Y",
    "YS": "Y",
    "YE": "Y",
    "A": "Y",
    "AS": "Y",
    "YEAR": "Y",
    "YEARLY": "Y",
    "ANNUAL": "Y",
}

#: the code given to a missing date (NaT): below every real code, so it never counts
MISSING = np.iinfo(np.int64).min

#: A window bound: a string read as a pandas Period, a Period, a date / Timestamp or a datetime64.
DateLike = str | pd.Period | _dt.date | np.datetime64


def normalize_freq(freq: str) -> str:
    """Return the canonical frequency ``"M"``, ``"Q"`` or ``"Y"`` for ``freq``.

    Parameters
    ----------
    freq : str
        ``"M"`` (monthly), ``"Q"`` (quarterly) or ``"Y"`` (yearly), case-insensitive; the pandas
        spellings ``"MS"``, ``"ME"``, ``"QS"``, ``"QE"``, ``"YS"``, ``"YE"``, ``"A"`` and the words
        ``"month"``, ``"quarter"``, ``"year"`` are accepted too.

    Returns
    -------
    str
        ``"M"``, ``"Q"`` or ``"Y"``.

    Raises
    ------
    InputError
        When ``freq`` is none of these.

    Examples
    --------
    >>> normalize_freq("q")
    'Q'
    >>> normalize_freq("MS")
    'M'
    """
    key = freq.strip().upper() if isinstance(freq, str) else None
    if key not in _ALIASES:
        raise InputError(
            f"freq must be 'M' (monthly), 'Q' (quarterly) or 'Y' (yearly), not {freq!r}"
        )
    return _ALIASES[key]


def date_codes(
    values: pd.Series | pd.Index | np.ndarray | list[Any], freq: str = "M"
) -> np.ndarray:
    """Map dates to integer period codes (missing dates get a code below every real one).

    Parameters
    ----------
    values : array-like of datetime64
        Dates (any datetime64 resolution, a pandas Series or DatetimeIndex, time zones ignored:
        the local calendar date counts).
    freq : {"M", "Q", "Y"}
        The period length.

    Returns
    -------
    numpy.ndarray of int64
        Months since 1970-01, quarters since 1970Q1 or years since 1970; ``MISSING`` for NaT.

    Examples
    --------
    >>> d = pd.to_datetime(["1970-01-01", "1970-03-31", "1970-04-01", "1969-12-31", None])
    >>> date_codes(d, "M")[:4].tolist(), date_codes(d, "Q")[:4].tolist()
    ([0, 2, 3, -1], [0, 0, 1, -1])
    >>> bool(date_codes(d, "Y")[4] == MISSING)
    True
    """
    freq = normalize_freq(freq)
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    raw = idx.values  # datetime64[unit]
    nat = np.isnat(raw)
    months = _months_since_1970(raw, nat)
    codes = np.floor_divide(months, FREQS[freq])
    codes[nat] = MISSING
    return codes


def _months_since_1970(raw: np.ndarray, nat: np.ndarray) -> np.ndarray:
    """Calendar months since 1970-01 of datetime64 values (anything at NaT positions).

    numpy's cast to ``datetime64[M]`` does calendar arithmetic for every value; for large arrays
    it is quicker to floor the values to whole days (an integer division) and look the days up in
    a table of the months of each day in their range.
    """
    unit, count = np.datetime_data(raw.dtype)
    if unit in ("s", "ms", "us", "ns") and count == 1 and len(raw) > 10_000:
        per_day = 86_400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
        days = raw.view(np.int64) // per_day  # floor: 1969-12-31T12:00 is day -1
        valid = days[~nat]
        if valid.size and int(valid.max()) - int(valid.min()) < 2_000_000:
            first = valid.min()
            table = (
                np.arange(first, valid.max() + 1).astype("datetime64[D]").astype("datetime64[M]")
            )
            return table.astype(np.int64)[np.where(nat, first, days) - first]
    return raw.astype("datetime64[M]").astype(np.int64)


def period_starts(codes: npt.ArrayLike, freq: str = "M") -> np.ndarray:
    """The first day of each period code, as ``datetime64[us]``.

    Parameters
    ----------
    codes : array-like of int
        Period codes as made by :func:`date_codes`.
    freq : {"M", "Q", "Y"}
        The period length.

    Returns
    -------
    numpy.ndarray of datetime64[us]

    Examples
    --------
    >>> period_starts([0, 1, -1], "Q").astype(str).tolist()
    ['1970-01-01T00:00:00.000000', '1970-04-01T00:00:00.000000', '1969-10-01T00:00:00.000000']
    """
    freq = normalize_freq(freq)
    months = np.asarray(codes, dtype=np.int64) * FREQS[freq]
    return months.astype("datetime64[M]").astype("datetime64[us]")


def bound_code(value: DateLike, freq: str, *, side: str, name: str) -> int:
    """The period code of a window bound given as a string, Timestamp, Period, date or datetime64.

    A string is read as a pandas Period, so its own resolution counts: ``"2023"`` means the year
    2023, ``"2023-06"`` June 2023, ``"2023Q2"`` the second quarter, ``"2023-06-15"`` that day. As a
    start bound the window begins with the period holding the first day of that span; as an end
    bound it ends with the period holding the last day. So with ``freq="M"``, ``end="2023"`` ends
    in December 2023, and with ``freq="Q"``, ``start="2023-05"`` starts in 2023Q2.

    Parameters
    ----------
    value : str, pandas.Timestamp, pandas.Period, datetime.date or numpy.datetime64
        The bound.
    freq : {"M", "Q", "Y"}
        The panel's period length.
    side : {"start", "end"}
        Which end of the window ``value`` bounds.
    name : str
        The argument's name, for error messages.

    Returns
    -------
    int
        The period code (see :func:`date_codes`).

    Raises
    ------
    InputError
        When ``value`` is not a date.

    Examples
    --------
    >>> december_2023 = int(date_codes(pd.to_datetime(["2023-12-01"]), "M")[0])
    >>> bound_code("2023", "M", side="end", name="end") == december_2023
    True
    >>> bound_code("2023-12-31", "M", side="start", name="start") == december_2023
    True
    >>> bound_code("2023-05", "Q", side="start", name="start") == int(
    ...     date_codes(pd.to_datetime(["2023-04-01"]), "Q")[0])
    True
    """
    if side not in ("start", "end"):
        raise ValueError(f"side must be 'start' or 'end', not {side!r}")
    try:
        if isinstance(value, pd.Period):
            span = value
        elif isinstance(value, str):
            span = pd.Period(value.strip())
        else:
            span = None
        if span is not None:
            day = span.start_time if side == "start" else span.end_time
        elif isinstance(value, (pd.Timestamp, _dt.date, np.datetime64)):
            day = pd.Timestamp(value)
        else:
            raise TypeError(type(value).__name__)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"{name}={value!r} is not a date or period (e.g. '2023-01'): {exc}"
        ) from None
    if pd.isna(day):
        raise InputError(f"{name}={value!r} is not a date or period (e.g. '2023-01')")
    return int(date_codes([day.tz_localize(None) if day.tz is not None else day], freq)[0])
