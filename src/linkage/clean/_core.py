"""From a raw extract to a typed canonical table, defective rows set aside with a reason."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from linkage.clean._dates import IMPOSSIBLE, MISSING, UNPARSEABLE, parse_dates
from linkage.errors import InputError
from linkage.io import (
    MISSING_TOKENS,
    OPTIONAL,
    REQUIRED,
    apply_mapping,
    as_text,
    date_options,
    read_table,
    section,
)

__all__ = ["CleanResult", "REASONS", "clean_table", "format_report", "check_kept"]

#: Why a row is set aside, in the order the checks run (a row gets the first reason that applies).
REASONS: dict[str, str] = {
    "duplicate_row": "exact copy of an earlier row, once cells are trimmed (the first is kept)",
    "missing_identifier": "no person / customer id or no unit id",
    "missing_date": "no start date (hire date, customer start date, activity date)",
    "unparseable_date": "a date cell that is not a date (or a numeric date of unknown order)",
    "impossible_date": "a date-shaped cell that is not on the calendar (2024-02-30) or is "
    "outside 1900..2200",
    "unparseable_number": "a revenue cell that is not a number",
    "end_before_start": "end date (termination, customer end) before the start date",
    "future_date": "a date after the extract's as-of date",
    "unknown_unit": "unit id not in the units table (only when a units table is given)",
    "unknown_employee": "an employee id (a customer's served_by, a relationship's employee) not in "
    "the employee extract (only when it is given)",
    "overlapping_spell": "overlaps an earlier spell of the same person in the same unit (the "
    "earliest is kept)",
    "overlapping_relationship": "a customer's relationship that overlaps an earlier one of the "
    "same customer (one owner at a time; the earliest is kept)",
    "duplicate_unit": "a unit id already listed in the units table (the first is kept)",
}

RESERVED_COLUMNS = ("file", "row", "reason", "column")

#: Unit attributes read as dates (with the mapping's date options) and kept as ISO text.
UNIT_DATE_ATTRIBUTES = ("opened", "closed")


@dataclasses.dataclass(frozen=True)
class _Spec:
    table: str
    ids: tuple[str, ...]
    start: str | None = None
    end: str | None = None
    person: str | None = None
    numbers: tuple[str, ...] = ()
    #: spells of a person overlap within this column's groups (None: across the whole table)
    within: str | None = "unit_id"
    overlap: str = "overlapping_spell"

    @property
    def reasons(self) -> tuple[str, ...]:
        applies = {
            "duplicate_row": True,
            "missing_identifier": True,
            "missing_date": self.start is not None,
            "unparseable_date": self.start is not None,
            "impossible_date": self.start is not None,
            "unparseable_number": bool(self.numbers),
            "end_before_start": self.end is not None,
            "future_date": self.start is not None,
            "unknown_unit": self.within == "unit_id" and self.table != "units",
            "unknown_employee": False,  # only when an employee extract is given
            "overlapping_spell": self.person is not None and self.overlap == "overlapping_spell",
            "overlapping_relationship": self.overlap == "overlapping_relationship",
            "duplicate_unit": self.table == "units",
        }
        return tuple(r for r in REASONS if applies[r])


SPECS = {
    "employees": _Spec(
        "employees", ("employee_id", "unit_id"), "hire_date", "termination_date", "employee_id"
    ),
    "customers": _Spec(
        "customers", ("customer_id", "unit_id"), "start_date", "end_date", "customer_id"
    ),
    "activity": _Spec(
        "activity", ("customer_id", "unit_id"), "activity_date", numbers=("revenue",)
    ),
    "units": _Spec("units", ("unit_id",)),
    "relationships": _Spec(
        "relationships",
        ("customer_id", "employee_id"),
        "start_date",
        "end_date",
        "customer_id",
        within=None,
        overlap="overlapping_relationship",
    ),
}


@dataclasses.dataclass(frozen=True, repr=False)
class CleanResult:
    """What cleaning one extract gives: the typed table, the rows set aside, the accounting.

    Attributes
    ----------
    data : pandas.DataFrame
        The canonical typed table (identifiers as trimmed strings, dates as ``datetime64``,
        ``revenue`` as float64, other columns as trimmed strings), in file order.
    rejects : pandas.DataFrame
        One row per set-aside input row: ``file``, ``row`` (1-based data row in the file, header
        excluded), ``reason`` (see :data:`REASONS`), ``column`` (the file's column to blame, empty
        when the whole row is), then the row's original cells under the file's column names.
    report : pandas.DataFrame
        Tidy accounting ``file, reason, n``: one ``kept`` row and one row per reason that applies
        to this table (zeros included), so that rows read = ``report.n.sum()`` = kept + set aside.
    """

    data: pd.DataFrame
    rejects: pd.DataFrame
    report: pd.DataFrame

    @property
    def n_read(self) -> int:
        """Rows read (kept + set aside)."""
        return int(self.report["n"].sum())

    @property
    def n_kept(self) -> int:
        """Rows kept."""
        return int(self.report.loc[self.report["reason"].eq("kept"), "n"].sum())

    def __repr__(self) -> str:
        file = self.report["file"].iloc[0] if len(self.report) else "?"
        return (
            f"CleanResult({file}: {self.n_read} rows read, {self.n_kept} kept, "
            f"{self.n_read - self.n_kept} set aside)"
        )

    def __str__(self) -> str:
        return format_report(self.report)


def format_report(report: pd.DataFrame) -> str:
    """The cleaning report as text: rows read, kept and set aside by reason, per file.

    Examples
    --------
    >>> import pandas as pd
    >>> report = pd.DataFrame({"file": ["hr.csv"] * 3, "reason": ["kept", "duplicate_row",
    ...                        "future_date"], "n": [1200, 3, 0]})
    >>> print(format_report(report))
    hr.csv: 1,203 rows read, 1,200 kept, 3 set aside
      duplicate_row           3
    """
    lines = []
    files = list(dict.fromkeys(report["file"]))
    for file in files:
        part = report.loc[report["file"].eq(file)]
        read = int(part["n"].sum())
        kept = int(part.loc[part["reason"].eq("kept"), "n"].sum())
        lines.append(f"{file}: {read:,} rows read, {kept:,} kept, {read - kept:,} set aside")
        for reason, n in zip(part["reason"], part["n"], strict=True):
            if reason != "kept" and n > 0:
                lines.append(f"  {reason:<20} {int(n):>4,}")
    return "\n".join(lines)


def check_kept(result: CleanResult) -> None:
    """Refuse an extract none of whose rows can be used: it gives no panel (not one of zeros).

    Raises
    ------
    linkage.errors.InputError
        Rows were read and none was kept: the reasons with their counts and the first row set
        aside, in one line.

    Examples
    --------
    >>> from linkage.clean import clean_units
    >>> check_kept(clean_units(pd.DataFrame({"unit_id": ["a"]}), source="units.csv"))
    >>> try:
    ...     check_kept(clean_units(pd.DataFrame({"unit_id": [""]}), source="units.csv"))
    ... except InputError as err:
    ...     print(err.problem)
    none of its 1 rows can be used: missing_identifier 1 (first: row 1, column 'unit_id')
    """
    if result.n_read == 0 or result.n_kept > 0:
        return
    file = str(result.report["file"].iloc[0])
    first = result.rejects.iloc[0]
    counts = result.report.loc[result.report["n"].gt(0) & result.report["reason"].ne("kept")]
    pairs = zip(counts["reason"], counts["n"], strict=True)
    reasons = ", ".join(f"{r} {int(n):,}" for r, n in pairs)
    blame = f", column {first['column']!r}" if first["column"] else ""
    raise InputError(
        f"none of its {result.n_read:,} rows can be used: {reasons} "
        f"(first: row {int(first['row'])}{blame})",
        file=file,
    )


# -- helpers ---------------------------------------------------------------------------------------


def text_cells(col: pd.Series) -> pd.Series:
    """Strings, trimmed, blank and missing tokens as NaN."""
    out = as_text(col).str.strip()
    return out.where(~out.isin(MISSING_TOKENS) & out.notna())


def parse_numbers(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column as float64 and where a cell is not a number (text that does not parse; an empty
    cell, or a missing-value token such as ``n/a``, is no number and no error).

    Examples
    --------
    >>> number, bad = parse_numbers(pd.Series(["1.5", " ", "12 EUR"]))
    >>> number.tolist(), bad.tolist()
    ([1.5, nan, nan], [False, False, True])
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("float64"), np.zeros(len(column), dtype=bool)
    text = text_cells(column)
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    return number, (number.isna() & text.notna()).to_numpy()


def row_numbers(raw: pd.DataFrame) -> np.ndarray:
    index = raw.index
    if index.name == "row" and pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64)
    return np.arange(1, len(raw) + 1, dtype=np.int64)


def unit_set(units: Any) -> pd.Index | None:
    if units is None:
        return None
    if isinstance(units, CleanResult):
        units = units.data
    if not isinstance(units, pd.DataFrame) or "unit_id" not in units.columns:
        raise InputError(
            "the units table must be a DataFrame with a 'unit_id' column", file="units"
        )
    return pd.Index(text_cells(units["unit_id"]).dropna().unique())


def employee_set(employees: Any) -> pd.Index | None:
    """The employee ids a table may name: from a cleaned employee table (its ``employee_id``),
    a :class:`CleanResult` of one, or a list of ids; ``None`` when not given."""
    if employees is None:
        return None
    if isinstance(employees, CleanResult):
        employees = employees.data
    if isinstance(employees, pd.DataFrame):
        if "employee_id" not in employees.columns:
            raise InputError(
                "the employee table must have an 'employee_id' column", file="employees"
            )
        employees = employees["employee_id"]
    return pd.Index(text_cells(pd.Series(list(employees), dtype=object)).dropna().unique())


def as_of_date(as_of: Any) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.today().normalize()
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise InputError(f"as-of date {as_of!r} is not a date (use YYYY-MM-DD)") from None
    if stamp is pd.NaT:
        raise InputError(f"as-of date {as_of!r} is not a date (use YYYY-MM-DD)")
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def _to_int64(dates: pd.Series, fill: int) -> np.ndarray:
    values = dates.to_numpy(dtype="datetime64[us]").astype(np.int64)
    return np.where(dates.isna().to_numpy(), fill, values)


def first_reasons(
    conditions: list[tuple[str, np.ndarray, str | None]], n: int, sources: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's reason to be set aside and the input column to blame: the first of ``conditions``
    (reason, row mask, canonical column or None) that holds for it, "" where none does."""
    reason = np.full(n, "", dtype=object)
    blame = np.full(n, "", dtype=object)
    for why, mask, column in conditions:
        hit = mask & (reason == "")
        reason[hit] = why
        blame[hit] = "" if column is None else sources.get(column, column)
    return reason, blame


def _overlaps(
    group: np.ndarray, start: pd.Series, end: pd.Series, tiebreak: np.ndarray
) -> np.ndarray:
    """Spells overlapping an earlier kept spell of the same person in the same unit (``group``).

    Greedy by start date: the earliest spell is kept, a later one is set aside when it starts on
    the same day as a kept spell or before a kept spell ends (open spells never end); a spell
    starting on the day another ends is not an overlap. Ties are broken by end date, then by
    ``tiebreak`` (a hash of the row's content), so the kept set does not depend on row order.
    Solved by a few vectorised passes (each pass settles at least one more spell per group).
    """
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=bool)
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    s = _to_int64(start, lo)
    e = _to_int64(end, hi)
    order = np.lexsort((tiebreak, e, s, group))
    g, s_, e_ = group[order], s[order], e[order]
    first = np.ones(n, dtype=bool)
    first[1:] = g[1:] != g[:-1]
    if first.all():
        return np.zeros(n, dtype=bool)
    gs = pd.Series(g)
    kept = np.ones(n, dtype=bool)
    for _ in range(n):  # converges in at most (largest group) passes; usually two or three
        run_end = pd.Series(np.where(kept, e_, lo)).groupby(gs).cummax().to_numpy()
        run_start = pd.Series(np.where(kept, s_, lo)).groupby(gs).cummax().to_numpy()
        prev_end = np.empty(n, dtype=np.int64)
        prev_start = np.empty(n, dtype=np.int64)
        prev_end[0], prev_start[0] = lo, lo
        prev_end[1:], prev_start[1:] = run_end[:-1], run_start[:-1]
        prev_end[first], prev_start[first] = lo, lo
        new_kept = ~((s_ < prev_end) | (s_ == prev_start))
        if np.array_equal(new_kept, kept):
            break
        kept = new_kept
    out = np.zeros(n, dtype=bool)
    out[order] = ~kept
    return out


# -- the cleaner -----------------------------------------------------------------------------------


def clean_result(
    raw: pd.DataFrame,
    data: pd.DataFrame,
    *,
    file: str,
    rows: np.ndarray,
    reason: np.ndarray,
    blame: np.ndarray,
    reasons: Sequence[str],
) -> CleanResult:
    """The :class:`CleanResult` of one cleaning pass: ``data`` (the kept rows, already typed), the
    rows set aside with their original cells, and the report counting ``reasons`` (in that order)
    after ``kept``; ``reason`` is each raw row's reason ("" for a kept row), ``blame`` its
    column."""
    keep = reason == ""
    gone = ~keep
    original = raw.loc[gone].copy()
    original.columns = [
        f"{c} (original)" if str(c) in RESERVED_COLUMNS else str(c) for c in original.columns
    ]
    original = pd.DataFrame({c: as_text(original[c]) for c in original.columns})
    rejects = pd.concat(
        [
            pd.DataFrame(
                {
                    "file": pd.Series([file] * int(gone.sum()), dtype="str"),
                    "row": rows[gone],
                    "reason": pd.Series(reason[gone], dtype="str"),
                    "column": pd.Series(blame[gone], dtype="str"),
                }
            ),
            original.reset_index(drop=True),
        ],
        axis=1,
    )
    counts = pd.Series(reason).value_counts()
    report = pd.DataFrame(
        {
            "file": pd.Series([file] * (1 + len(reasons)), dtype="str"),
            "reason": pd.Series(["kept", *reasons], dtype="str"),
            "n": np.array(
                [int(keep.sum()), *(int(counts.get(r, 0)) for r in reasons)], dtype=np.int64
            ),
        }
    )
    return CleanResult(data=data, rejects=rejects, report=report)


def clean_table(
    raw: pd.DataFrame | str | os.PathLike[str],
    *,
    table: str,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: Any = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    employees: Any = None,
    check_date_order: bool = True,
) -> CleanResult:
    """Clean one extract into the canonical ``table`` (see the public ``clean_*`` functions).

    ``employees`` (the cleaned employee table, or its ids): the employees a customer's
    ``served_by`` or a relationship's ``employee_id`` may name; others are ``unknown_employee``."""
    from linkage.io.schemas import check_columns  # pandera: imported when first cleaning

    spec = SPECS[table]
    if isinstance(raw, (str, os.PathLike)):
        label = source or Path(raw).name
        raw = read_table(raw, name=label)
    elif isinstance(raw, pd.DataFrame):
        label = source or table
    else:
        raise InputError(
            f"expected a DataFrame or a file path for the {table} table, not {type(raw).__name__}",
            file=source or table,
        )
    columns, dates = section(mapping, table)
    fmt, first = date_options(dates, date_format=date_format, dayfirst=dayfirst)
    mapped, sources = apply_mapping(raw, columns, table=table, file=label)
    check_columns(mapped, table=table, file=label, sources=sources)
    stamp = as_of_date(as_of)
    known_units = unit_set(units) if table != "units" else None
    rows = row_numbers(raw)
    n = len(raw)

    # typed columns
    typed: dict[str, pd.Series] = {}
    conditions: list[tuple[str, np.ndarray, str | None]] = []  # (reason, mask, canonical column)

    for name in spec.ids:
        typed[name] = text_cells(mapped[name])
    # exact copies, cell by cell, once surrounding whitespace is trimmed (" E1" is "E1")
    trimmed = pd.DataFrame(
        {c: typed[c] if c in typed else text_cells(mapped[c]) for c in mapped.columns},
        index=mapped.index,
    )
    dup = trimmed.duplicated(keep="first").to_numpy()
    conditions.append(("duplicate_row", dup, None))
    for name in spec.ids:
        conditions.append(("missing_identifier", typed[name].isna().to_numpy(), name))

    date_cols = [c for c in (spec.start, spec.end) if c is not None]
    status: dict[str, np.ndarray] = {}
    for name in date_cols:
        values, codes = parse_dates(
            mapped[name],
            date_format=fmt,
            dayfirst=first,
            file=label,
            column=sources[name],
            check_order=check_date_order,
        )
        if name == spec.end:  # 9999-12-31 placeholders mean "still open"
            placeholder = (values.dt.year >= 9999).to_numpy()
            values = values.mask(placeholder)
            codes = np.where(placeholder, MISSING, codes)
        typed[name] = values
        status[name] = codes
    if spec.start is not None:
        conditions.append(("missing_date", status[spec.start] == MISSING, spec.start))
    for code, why in ((UNPARSEABLE, "unparseable_date"), (IMPOSSIBLE, "impossible_date")):
        for name in date_cols:
            conditions.append((why, status[name] == code, name))

    for name in spec.numbers:
        if name in mapped.columns:
            number, bad = parse_numbers(mapped[name])
            typed[name] = number
            conditions.append(("unparseable_number", bad, name))

    if spec.start is not None and spec.end is not None:
        ends_early = (typed[spec.end] < typed[spec.start]).to_numpy()
        conditions.append(("end_before_start", ends_early, spec.end))
    for name in date_cols:
        conditions.append(("future_date", (typed[name] > stamp).to_numpy(), name))

    if known_units is not None and "unit_id" in typed:
        unknown = (~typed["unit_id"].isin(known_units) & typed["unit_id"].notna()).to_numpy()
        conditions.append(("unknown_unit", unknown, "unit_id"))
    known_staff = employee_set(employees)
    staff_col = {"customers": "served_by", "relationships": "employee_id"}.get(table)
    check_staff = known_staff is not None and staff_col is not None and staff_col in mapped
    if check_staff and staff_col is not None and known_staff is not None:
        staff = typed[staff_col] if staff_col in typed else text_cells(mapped[staff_col])
        unknown = (~staff.isin(known_staff) & staff.notna()).to_numpy()
        conditions.append(("unknown_employee", unknown, staff_col))

    reason, blame = first_reasons(conditions, n, sources)

    if spec.person is not None and spec.start is not None and spec.end is not None:
        # only people with more than one spell in a unit can overlap: find those groups first
        todo = np.flatnonzero(reason == "")
        person_code, _ = pd.factorize(typed[spec.person].iloc[todo])
        if spec.within is None:
            group = person_code.astype(np.int64)
        else:
            unit_code, unit_levels = pd.factorize(typed[spec.within].iloc[todo])
            group = person_code.astype(np.int64) * (len(unit_levels) + 1) + unit_code
        group_code, _ = pd.factorize(group)
        shared = np.bincount(group_code)[group_code] > 1
        rows_in = todo[shared]
        if rows_in.size:
            tiebreak = pd.util.hash_pandas_object(trimmed.iloc[rows_in], index=False).to_numpy()
            over = _overlaps(
                group[shared],
                typed[spec.start].iloc[rows_in],
                typed[spec.end].iloc[rows_in],
                tiebreak,
            )
            idx = rows_in[over]
            reason[idx] = spec.overlap
            blame[idx] = sources[spec.start]
    if spec.table == "units":
        open_rows = reason == ""
        again = typed["unit_id"].where(open_rows).duplicated(keep="first").to_numpy() & open_rows
        reason[again] = "duplicate_unit"
        blame[again] = sources["unit_id"]

    keep = reason == ""
    # the typed table: canonical columns first, then the file's other columns as trimmed text
    canonical = [c for c in (*REQUIRED[table], *OPTIONAL[table]) if c in mapped.columns]
    data_cols: dict[str, pd.Series] = {}
    for name in canonical:
        data_cols[name] = typed[name] if name in typed else text_cells(mapped[name])
    for name in mapped.columns:
        if name not in data_cols:
            data_cols[name] = trimmed[name]
    if table == "units":  # date attributes as ISO text (cells that are no date stay as they are)
        for name in UNIT_DATE_ATTRIBUTES:
            if name in data_cols:
                try:
                    values, _ = parse_dates(
                        data_cols[name],
                        date_format=fmt,
                        dayfirst=first,
                        file=label,
                        column=sources[name],
                    )
                except InputError:  # day/month order unknown: an attribute never blocks a unit
                    continue
                iso = values.dt.strftime("%Y-%m-%d").astype("str")
                data_cols[name] = iso.where(values.notna(), data_cols[name])
    data = pd.DataFrame(data_cols).loc[keep].reset_index(drop=True)

    reasons = [r for r in REASONS if r in spec.reasons or (r == "unknown_employee" and check_staff)]
    return clean_result(
        raw, data, file=label, rows=rows, reason=reason, blame=blame, reasons=reasons
    )
