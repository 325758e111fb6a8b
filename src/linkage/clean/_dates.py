"""Vectorised date parsing that tells unparseable text from impossible dates.

By default only unambiguous forms are read: ISO ``2024-01-31`` (a time part is ignored),
``2024/01/31``, ``20240131``, and month names (``31 Jan 2024``, ``Jan 31, 2024``,
``31-Jan-2024``). Numeric dates such as ``01/02/2024`` need the order of day and month: a
``format`` (``"%m/%d/%Y"``) or ``dayfirst`` (``True`` for ``31/01/2024``, ``False`` for
``01/31/2024``; separators ``/``, ``.`` and ``-``; 2- or 4-digit years).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from linkage.errors import InputError

__all__ = [
    "parse_dates",
    "ambiguous_order_error",
    "NUMERIC_DATE",
    "OK",
    "MISSING",
    "UNPARSEABLE",
    "IMPOSSIBLE",
    "EARLIEST",
    "LATEST",
]

OK, MISSING, UNPARSEABLE, IMPOSSIBLE = 0, 1, 2, 3

#: Dates before this are impossible (placeholders such as 0001-01-01 or 1900-01-00).
EARLIEST = pd.Timestamp("1900-01-01")
#: Dates after this are impossible (typos such as 2204); ``9999-12-31`` in an end-date column is
#: read as "open" (a common placeholder for "still employed") before this rule applies.
LATEST = pd.Timestamp("2200-12-31")

_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_ISO = r"\d{4}-\d{1,2}-\d{1,2}"
_YMD_SLASH = r"\d{4}/\d{1,2}/\d{1,2}"
_COMPACT = r"\d{8}"
_NUMERIC = r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
_NAMED = r"(?:\d{1,2}[ -][A-Za-z]{3,9}\.?[ -]\d{4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4})"


def _full(pattern: str) -> str:
    return rf"^(?:{pattern}){_TIME}$"


#: A numeric day/month date (``01/02/2024``, maybe with a time) whose order needs to be given; a
#: regular expression that Python, RE2 (DuckDB) and Java (Spark) read alike.
NUMERIC_DATE = _full(_NUMERIC)


def ambiguous_order_error(example: str, file: str | None, column: str | None) -> InputError:
    """The error for a column of numeric dates without a day/month order (``example``: the first
    such cell); more than half of the column's non-blank cells are such dates."""
    return InputError(
        f"dates such as {example!r} could be day/month or month/day: give the order "
        'in the mapping, dates: {format: "%m/%d/%Y"} or dates: {dayfirst: true}',
        file=file,
        column=column,
    )


def parse_dates(
    text: pd.Series,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    file: str | None = None,
    column: str | None = None,
    check_order: bool = True,
) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of date texts; return the dates and a status code per cell.

    Parameters
    ----------
    text : pandas.Series
        Strings (missing as NaN). A ``datetime64`` series is taken as already parsed.
    date_format : str, optional
        A strftime format tried first (e.g. ``"%m/%d/%Y"``); unambiguous forms are still read.
    dayfirst : bool, optional
        Order of day and month in numeric dates when no format is given.
    file, column : str, optional
        For the error raised when a column holds numeric dates and no order is given.
    check_order : bool, default True
        Raise that error when more than half of the non-blank cells are numeric dates and no order
        is given; ``False`` when the caller has counted them over the whole column (``text`` is
        then a part of it) and numeric dates without an order are unparseable.

    Returns
    -------
    (pandas.Series, numpy.ndarray)
        ``datetime64[us]`` dates (NaT where not parsed; times dropped) and int8 codes: ``OK``,
        ``MISSING`` (blank), ``UNPARSEABLE`` (not a date), ``IMPOSSIBLE`` (shaped like a date but
        not on the calendar, such as 2024-02-30, or outside 1900..2200).

    Examples
    --------
    >>> import pandas as pd
    >>> dates, status = parse_dates(pd.Series(["2024-01-31", "2024-02-30", "soon", None]))
    >>> dates.dt.strftime("%Y-%m-%d").tolist(), status.tolist()
    (['2024-01-31', nan, nan, nan], [0, 3, 2, 1])
    >>> parse_dates(pd.Series(["01/31/2024"]), date_format="%m/%d/%Y")[0].tolist()
    [Timestamp('2024-01-31 00:00:00')]
    """
    n = len(text)
    if pd.api.types.is_datetime64_any_dtype(text.dtype):
        values = text.dt.tz_localize(None) if getattr(text.dt, "tz", None) is not None else text
        values = values.dt.normalize().astype("datetime64[us]")
        status = np.where(values.isna().to_numpy(), MISSING, OK).astype(np.int8)
        return _range_check(values, status)

    s = text.astype("str").where(text.notna()).str.strip()
    s = s.where(s.ne(""))
    missing = s.isna().to_numpy()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    shaped = np.zeros(n, dtype=bool)  # looks like a date of a known form

    def attempt(mask: np.ndarray, fmt: str, values: pd.Series) -> None:
        todo = mask & out.isna().to_numpy()
        if not todo.any():
            return
        parsed = pd.to_datetime(values[todo], format=fmt, errors="coerce")
        out.loc[todo] = parsed.astype("datetime64[us]").to_numpy()

    # 1. fast paths over the whole column (C parsers, no regex): the user's format on the raw text
    #    (it may include a time), ISO dates, ISO date-times, numeric dates in the given order
    if date_format is not None:
        attempt(~missing, date_format, s)
        shaped |= ~missing & ~out.isna().to_numpy()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        attempt(~missing, fmt, s)
    if dayfirst is not None:
        attempt(~missing, "%d/%m/%Y" if dayfirst else "%m/%d/%Y", s)
    shaped |= ~out.isna().to_numpy()

    # 2. what is left (usually few cells): classify by shape and try the other unambiguous forms
    rest = np.flatnonzero(~missing & out.isna().to_numpy())
    if rest.size == 0:
        return _range_check(out, _status(out, missing, shaped))
    sub = s.iloc[rest]
    sub_out = out.iloc[rest].copy()
    sub_shaped = np.zeros(rest.size, dtype=bool)

    def attempt_sub(mask: np.ndarray, fmt: str, values: pd.Series) -> None:
        todo = mask & sub_out.isna().to_numpy()
        if todo.any():
            parsed = pd.to_datetime(values[todo], format=fmt, errors="coerce")
            sub_out.iloc[np.flatnonzero(todo)] = parsed.astype("datetime64[us]").to_numpy()

    core = sub.str.replace(_TIME + "$", "", regex=True)
    if date_format is not None:  # the user's format once more, on the text without its time
        sub_shaped |= _format_shape(sub, date_format) | _format_shape(core, date_format)
        attempt_sub(np.ones(rest.size, dtype=bool), date_format, core)
    for pattern, fmt in ((_ISO, "%Y-%m-%d"), (_YMD_SLASH, "%Y/%m/%d"), (_COMPACT, "%Y%m%d")):
        mask = sub.str.match(_full(pattern), na=False).to_numpy()
        sub_shaped |= mask
        attempt_sub(mask, fmt, core)
    named = sub.str.match(_full(_NAMED), na=False).to_numpy()
    if named.any():
        tidy = core.str.replace(".", "", regex=False).str.replace(",", "", regex=False)
        tidy = tidy.str.replace("-", " ", regex=False)
        for fmt in ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y"):
            attempt_sub(named, fmt, tidy)

    # 3. numeric day/month dates need an order
    numeric = sub.str.match(_full(_NUMERIC), na=False).to_numpy() & sub_out.isna().to_numpy()
    if numeric.any():
        if dayfirst is None and date_format is None:
            if check_order and numeric.sum() * 2 > (~missing).sum():
                raise ambiguous_order_error(str(sub[numeric].iloc[0]), file, column)
        elif dayfirst is not None:
            sub_shaped |= numeric
            slashed = core.str.replace(r"[.-]", "/", regex=True)
            order = "%d/%m" if dayfirst else "%m/%d"
            attempt_sub(numeric, f"{order}/%Y", slashed)
            two_digit = sub.str.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}\b", na=False).to_numpy()
            attempt_sub(numeric & two_digit, f"{order}/%y", slashed)

    out.iloc[rest] = sub_out.to_numpy()
    shaped[rest] |= sub_shaped
    return _range_check(out, _status(out, missing, shaped))


def _status(out: pd.Series, missing: np.ndarray, shaped: np.ndarray) -> np.ndarray:
    status = np.full(len(out), OK, dtype=np.int8)
    failed = out.isna().to_numpy() & ~missing
    status[missing] = MISSING
    status[failed & shaped] = IMPOSSIBLE
    status[failed & ~shaped] = UNPARSEABLE
    return status


def _format_shape(s: pd.Series, fmt: str) -> np.ndarray:
    """Cells with the digit layout of a numeric strftime format (to call a miss impossible)."""
    pattern = fmt
    for code, regex in (
        ("%Y", r"\d{4}"),
        ("%y", r"\d{2}"),
        ("%m", r"\d{1,2}"),
        ("%d", r"\d{1,2}"),
        ("%H", r"\d{1,2}"),
        ("%M", r"\d{2}"),
        ("%S", r"\d{2}"),
    ):
        pattern = pattern.replace(code, "\x00" + regex + "\x01")
    if "%" in pattern:  # named months and other codes: no shape check
        return np.zeros(len(s), dtype=bool)
    pieces = pattern.split("\x00")
    escaped = []
    for i, piece in enumerate(pieces):
        if i == 0:
            escaped.append(_escape(piece))
        else:
            regex, rest = piece.split("\x01", 1)
            escaped.append(regex + _escape(rest))
    return s.str.match("^" + "".join(escaped) + "$", na=False).to_numpy()


def _escape(text: str) -> str:
    return re.escape(text)


def _range_check(values: pd.Series, status: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    values = values.dt.normalize()  # dates, not times
    outside = (values.lt(EARLIEST) | values.gt(LATEST)).to_numpy() & (status == OK)
    # 9999-12-31 and friends: kept as dates here; the cleaner reads them as "open" in end columns
    sentinel = (values.dt.year >= 9999).to_numpy()
    outside &= ~sentinel
    if outside.any():
        status = status.copy()
        status[outside] = IMPOSSIBLE
        values = values.mask(outside)
    return values, status
