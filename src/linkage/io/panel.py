"""The one reader of a unit x period panel file, and the one missing-column check.

:func:`read_panel` reads a panel (CSV or Parquet, the columns of ``docs/design.md``'s panel
section, plus the chain's survey ``es_*`` / ``cs_*`` columns, ``*_respondents``, ``*_wave`` and
revenue columns), refuses person-level tables, types every column and checks the result against
:data:`PANEL_SCHEMA`. Every refusal is one :class:`~linkage.errors.InputError` naming the file, and
the row and column when there is one.

:func:`require_columns` is the one "has no column 'x'" check.
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io._columns import require_columns
from linkage.io.periods import read_periods

warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

import pandera.errors as pa_errors  # noqa: E402
import pandera.pandas as pa  # noqa: E402

__all__ = ["PANEL_REQUIRED", "PANEL_SCHEMA", "read_panel", "require_columns", "validate_panel"]

#: The columns every panel the dashboards and the report read must have.
PANEL_REQUIRED = (
    "unit_id",
    "period",
    "employee_start",
    "employee_retained",
    "customer_start",
    "customer_retained",
)
_COUNT_SUFFIXES = ("_start", "_joined", "_left", "_retained", "_end")
_RATE_SUFFIXES = ("_retention", "_turnover")
_REVENUE = ("customer_revenue", "revenue", "revenue_start", "revenue_retained")
# columns that only person-level tables carry: a file holding any of them is not a panel
_PERSON_LEVEL = (
    "employee_id",
    "customer_id",
    "hire_date",
    "termination_date",
    "start_date",
    "end_date",
    "activity_date",
    "name",
    "email",
)


def is_count_column(col: str) -> bool:
    """People counts: ``employee_*`` / ``customer_*`` counts and survey ``*_respondents``.

    Examples
    --------
    >>> is_count_column("customer_left"), is_count_column("es_respondents"), is_count_column("x")
    (True, True, False)
    """
    return (
        col.startswith(("employee_", "customer_")) and col.endswith(_COUNT_SUFFIXES)
    ) or col.endswith("_respondents")


def is_numeric_column(col: str) -> bool:
    """Counts, rates, revenue and survey (``es_*``, ``cs_*``) columns; others are unit attributes.

    Examples
    --------
    >>> [is_numeric_column(c) for c in ("employee_retention", "es_pay", "region")]
    [True, True, False]
    """
    return (
        is_count_column(col)
        or col.endswith(_RATE_SUFFIXES)
        or col.startswith(("es_", "cs_"))
        or col in _REVENUE
    )


def _count_check(s: pd.Series) -> pd.Series:
    return s >= 0


def _is_date(s: pd.Series) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(s))


_DATE = pa.Check(_is_date, error="not a date column")


#: The typed panel: identifiers as str, ``period`` a date, counts whole numbers >= 0, rates, survey
#: and revenue columns floats, ``*_wave`` dates; other columns (unit attributes) are strings.
PANEL_SCHEMA = pa.DataFrameSchema(
    {
        "unit_id": pa.Column(str, nullable=False),
        "period": pa.Column(None, _DATE, nullable=False),
        r"^(employee|customer)(_\w+)?_(start|joined|left|retained|end)$": pa.Column(
            "int64",
            pa.Check(_count_check, error="a count must be a whole number >= 0"),
            regex=True,
            required=False,
        ),
        r"^\w+_respondents$": pa.Column(
            "int64",
            pa.Check(_count_check, error="a count must be a whole number >= 0"),
            regex=True,
            required=False,
        ),
        r"^\w+_(retention|turnover)$": pa.Column(
            "float64", nullable=True, regex=True, required=False
        ),
        r"^\w+_wave$": pa.Column(None, _DATE, nullable=True, regex=True, required=False),
    },
    unique=["unit_id", "period"],
    strict=False,
    name="panel",
)


def validate_panel(panel: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Check a typed panel against :data:`PANEL_SCHEMA`; the first failure as one InputError.

    Examples
    --------
    >>> p = pd.DataFrame({"unit_id": ["a"], "period": pd.to_datetime(["2024-01-01"]),
    ...                   "employee_start": [-1]})
    >>> try:
    ...     validate_panel(p, file="p.csv")
    ... except InputError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    p.csv, row 1, column 'employee_start': a count must be a whole number >= 0...
    """
    try:
        return PANEL_SCHEMA.validate(panel, lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        first = cases.iloc[0]
        column = first.get("column")
        index = first.get("index")
        check = str(first.get("check"))
        row = int(index) + 1 if isinstance(index, (int, np.integer)) else None
        if check.startswith("field_uniqueness") or check == "multiple_fields_uniqueness":
            raise InputError("two rows for the same unit and period", file=file, row=row) from None
        problem = check
        if check.startswith("dtype("):
            problem = f"wrong type {first.get('failure_case')} (expected {check[6:-1]})"
        elif check.startswith("not_nullable"):
            problem = "a missing value"
        elif check.startswith("column_in_dataframe"):
            problem = f"the panel has no column {first.get('failure_case')!r}"
            column = first.get("failure_case")
        raise InputError(
            problem, file=file, row=row, column=None if column is None else str(column)
        ) from None


def _read_raw(where: pathlib.Path, label: str) -> pd.DataFrame:
    suffix = where.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(where).astype(str)
        if suffix == ".csv":
            return pd.read_csv(
                where, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
            )
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read the panel ({type(err).__name__})", file=label) from None
    raise InputError("a panel must be a .csv or .parquet file", file=label)


def read_panel(
    path: str | os.PathLike[str],
    *,
    unit: str = "unit_id",
    period: str = "period",
    require: Iterable[str] = PANEL_REQUIRED,
    numeric: Iterable[str] = (),
    strict: bool = True,
    what: str = "panel",
) -> pd.DataFrame:
    """Read a unit x period panel file, typed and checked.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` or ``.parquet`` panel as ``linkage panel`` writes it.
    unit, period : str
        The unit and period columns (returned as ``unit_id`` / ``period`` names unchanged).
    require : iterable of str
        Columns the file must have (default :data:`PANEL_REQUIRED`; ``unit`` and ``period`` are
        always required).
    numeric : iterable of str
        Further columns to read as float64 (beyond the counts, rates, survey and revenue columns
        recognised by name).
    strict : bool
        ``True`` (the dashboards and the report): CSV or Parquet only, person-level columns refused,
        ``period`` a ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY-Qn`` date, every column typed by its
        name, rates recomputed, checked against :data:`PANEL_SCHEMA`. ``False`` (what ``linkage
        link`` / ``chain`` / ``drivers`` / ``watchlist`` accept): any file
        :func:`linkage.io.read_table` reads (CSV dialects, Parquet, Excel), ``period`` an ISO 8601
        date, ``YYYY-Qn`` or a whole number (int64; also written ``2.0``), only ``numeric`` columns
        converted (float64, as ``linkage.stats`` reads them); the rest stays as read, in file
        order.
    what : str
        What the file is, for the messages (``"panel"``; ``"unit x period survey"``...).

    Returns
    -------
    DataFrame
        ``unit`` (str), ``period`` (datetime64: the first day of each row's period, as
        :func:`linkage.io.periods.read_periods` infers it, so ``2022-01-31`` reads as
        ``2022-01-01``; int64 for whole numbers in lenient mode), counts (int64), rates, survey
        and revenue columns (float64; ``employee_retention`` / ``customer_retention`` recomputed
        from the counts when absent), ``*_wave`` (datetime64) and unit attributes (str, missing as
        ``"(none)"``), sorted by unit and period.

    Raises
    ------
    InputError
        Missing file or column, no rows, an unparseable period or number, periods that fit no
        month, quarter or year, a negative or fractional count, a person-level table, two rows for
        one unit and period.

    Examples
    --------
    >>> import tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = f.write_text("unit_id,period,employee_start,employee_retained,customer_start,"
    ...                  "customer_retained,region\\n007,2024-01-01,10,9,100,80,N\\n")
    >>> p = read_panel(f)
    >>> p["unit_id"].tolist(), float(p["employee_retention"].iloc[0]), p["period"].dt.year.tolist()
    (['007'], 0.9, [2024])
    """
    where = pathlib.Path(path)
    if not strict:
        return _read_lenient(
            where, unit=unit, period=period, require=require, numeric=numeric, what=what
        )
    label = str(where)
    if not where.is_file():
        raise InputError("panel file not found", file=label)
    raw = _read_raw(where, label)
    person = [c for c in raw.columns if c.strip().lower() in _PERSON_LEVEL]
    if person:
        raise InputError(
            "this is a person-level table; dashboards and reports read the unit x "
            "period panel only (build it with 'linkage panel')",
            file=label,
            column=person[0],
        )
    required = list(dict.fromkeys([unit, period, *require]))
    require_columns(raw, required, file=label, what=what)
    extra = [c for c in dict.fromkeys(numeric) if c not in (unit, period)]
    require_columns(raw, extra, file=label, what=what)
    if raw.empty:
        raise InputError("the panel has no rows", file=label)
    typed: dict[str, pd.Series] = {unit: raw[unit].astype("str")}
    # any date inside a period means that period (its first day): read_periods infers it
    typed[period] = read_periods(raw[period], column=period, file=label, dates_only=True).values
    extra_set = set(extra)
    for col in raw.columns:
        if col in (unit, period):
            continue
        if col.endswith("_wave"):  # the chain's survey wave a row's figures come from
            typed[col] = pd.to_datetime(raw[col], format="%Y-%m-%d", errors="coerce")
        elif is_numeric_column(col) or col in extra_set:
            num = pd.to_numeric(raw[col], errors="coerce")
            bad = np.flatnonzero(num.isna().to_numpy() & raw[col].notna().to_numpy())
            if bad.size:
                raise InputError("not a number", file=label, row=int(bad[0]) + 1, column=col)
            if is_count_column(col):
                # a fractional count (2.5 people) is refused, not truncated
                wrong = (num.isna() | (num < 0) | (num != num.round())).to_numpy()
                if wrong.any():
                    row = int(np.flatnonzero(wrong)[0]) + 1
                    raise InputError(
                        "a count must be a whole number >= 0", file=label, row=row, column=col
                    )
                typed[col] = num.astype("int64")
            else:
                typed[col] = num.astype("float64")
        else:
            typed[col] = raw[col].fillna("(none)").astype("str")
    out = pd.DataFrame(typed)
    for side in ("employee", "customer"):
        start, kept = f"{side}_start", f"{side}_retained"
        if f"{side}_retention" not in out and start in out and kept in out:
            s = out[start].to_numpy(dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{side}_retention"] = np.where(s > 0, out[kept] / s, np.nan)
    dup = out.duplicated([unit, period]).to_numpy()
    if dup.any():
        raise InputError(
            "two rows for the same unit and period", file=label, row=int(np.flatnonzero(dup)[0]) + 1
        )
    if unit == "unit_id" and period == "period":
        validate_panel(out, file=label)
    return out.sort_values([unit, period], kind="stable").reset_index(drop=True)


def _as_number(raw: pd.Series, col: str, label: str) -> pd.Series:
    """A column as float64, refusing text and infinities (as ``linkage.stats`` reads numbers)."""
    num = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero((num.isna() & raw.notna()).to_numpy())
    if bad.size:
        row = int(bad[0]) + 1
        raise InputError(
            f"value {raw.iloc[row - 1]!r} is not a number", file=label, row=row, column=col
        )
    out = num.astype("float64")
    inf = np.flatnonzero(np.isinf(out.to_numpy()))
    if inf.size:
        raise InputError("value is infinite", file=label, row=int(inf[0]) + 1, column=col)
    return out


def _read_lenient(
    where: pathlib.Path,
    *,
    unit: str,
    period: str,
    require: Iterable[str],
    numeric: Iterable[str],
    what: str,
) -> pd.DataFrame:
    from linkage.io._read import read_table

    label = where.name
    data = read_table(where)
    require_columns(data, [unit, period, *require], file=label, what=what)
    cols = [c for c in dict.fromkeys(numeric) if c is not None]
    require_columns(data, cols, file=label, what=what)
    typed = data.assign(**{c: _as_number(data[c], c, label) for c in cols})
    # a missing date stays NaT, as the commands always allowed; month-end, mid-month and
    # quarter-end dates become the first day of their period (read_periods infers it)
    got = read_periods(data[period], column=period, file=label, allow_missing=True)
    typed[period] = got.values.set_axis(data.index)
    return typed
