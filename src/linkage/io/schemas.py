"""The canonical input tables: their columns, and pandera schemas checking them at the boundary.

Two checks, both reporting every problem at once (``validate(lazy=True)``) as one
:class:`~linkage.errors.InputError`:

- :func:`check_columns` on the mapped, still-textual table: are the required columns there?
- :func:`check_typed` on what the cleaning layer produces: the typed canonical table
  (identifiers as strings, dates as ``datetime64``, no missing identifiers or start dates).

Row-level defects (a bad date in one row) are not schema errors: the cleaning layer sets those rows
aside with a reason.
"""

from __future__ import annotations

import warnings

import pandas as pd

from linkage.errors import InputError
from linkage.io._tables import OPTIONAL, REQUIRED, TABLES

# pandera tries to import pyspark.pandas (at import and again while validating) when pyspark is
# installed (the `spark` extra); pyspark 4.3 then warns, each time, that it does not
# fully support pandas 3. Not our users' concern: silence exactly that message.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

import pandera.pandas as pa  # noqa: E402
from pandera.typing import Series  # noqa: E402

__all__ = [
    "TABLES",
    "REQUIRED",
    "OPTIONAL",
    "Employees",
    "CustomerSpells",
    "Activity",
    "Units",
    "EmployeeSurvey",
    "CustomerSurvey",
    "Revenue",
    "Segments",
    "Relationships",
    "SCHEMAS",
    "check_columns",
    "check_typed",
]


class Employees(pa.DataFrameModel):
    """Employment spells: one row per person per spell in a unit."""

    employee_id: Series[str]
    unit_id: Series[str]
    hire_date: Series[pd.Timestamp]
    termination_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    termination_type: Series[str] | None = pa.Field(nullable=True)
    role: Series[str] | None = pa.Field(nullable=True)

    class Config:
        strict = False
        name = "employees"


class CustomerSpells(pa.DataFrameModel):
    """Customer relationships as spells: one row per customer per spell with a unit."""

    customer_id: Series[str]
    unit_id: Series[str]
    start_date: Series[pd.Timestamp]
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True)

    class Config:
        strict = False
        name = "customers"


class Activity(pa.DataFrameModel):
    """Customer activity log: one row per customer contact or transaction."""

    customer_id: Series[str]
    unit_id: Series[str]
    activity_date: Series[pd.Timestamp]
    revenue: Series[float] | None = pa.Field(nullable=True)

    class Config:
        strict = False
        name = "activity"


class Units(pa.DataFrameModel):
    """Units (stores, branches, clinics) and their attributes; one row per unit."""

    unit_id: Series[str] = pa.Field(unique=True)

    class Config:
        strict = False
        name = "units"


#: The typed schema of each canonical table.
SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "employees": Employees,
    "customers": CustomerSpells,
    "activity": Activity,
    "units": Units,
}


# ---- the chain's tables: surveys, customer revenue, segments -------------------------------------


class EmployeeSurvey(pa.DataFrameModel):
    """Employee survey responses: one row per respondent and wave (item columns are free)."""

    respondent_id: Series[str] | None
    unit_id: Series[str]
    survey_date: Series[pd.Timestamp]

    class Config:
        strict = False
        name = "employee_survey"


class CustomerSurvey(pa.DataFrameModel):
    """Customer survey responses: one row per response, CSAT and / or NPS (0-10)."""

    response_id: Series[str] | None
    customer_id: Series[str] | None
    unit_id: Series[str]
    response_date: Series[pd.Timestamp]
    csat: Series[float] | None = pa.Field(nullable=True)
    nps: Series[float] | None = pa.Field(nullable=True, ge=0, le=10)

    class Config:
        strict = False
        name = "customer_survey"


class Revenue(pa.DataFrameModel):
    """Customer revenue: one row per customer and period (or invoice) at a unit."""

    customer_id: Series[str]
    unit_id: Series[str]
    period: Series[pd.Timestamp]
    revenue: Series[float]

    class Config:
        strict = False
        name = "revenue"


class Segments(pa.DataFrameModel):
    """Customer segments (or verticals): one row per customer."""

    customer_id: Series[str] = pa.Field(unique=True)
    segment: Series[str]

    class Config:
        strict = False
        name = "segments"


class Relationships(pa.DataFrameModel):
    """Who served which customer when: one row per customer and owner, from start to end."""

    customer_id: Series[str]
    employee_id: Series[str]
    start_date: Series[pd.Timestamp]
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True)

    class Config:
        strict = False
        name = "relationships"


SCHEMAS.update(
    {
        "relationships": Relationships,
        "employee_survey": EmployeeSurvey,
        "customer_survey": CustomerSurvey,
        "revenue": Revenue,
        "segments": Segments,
    }
)


def _raw_schema(table: str) -> pa.DataFrameSchema:
    typed = SCHEMAS[table].to_schema()
    return pa.DataFrameSchema(
        {
            name: pa.Column(None, nullable=True, required=column.required)
            for name, column in typed.columns.items()
        },
        name=table,
        strict=False,
    )


def check_columns(
    data: pd.DataFrame,
    *,
    table: str,
    file: str | None = None,
    sources: dict[str, str] | None = None,
) -> None:
    """Raise one InputError listing every required column the mapped table lacks.

    Parameters
    ----------
    data : pandas.DataFrame
        The table after column mapping (cells still text).
    table : {"employees", "customers", "activity", "units"}
        Which canonical table it should be.
    file : str, optional
        The file name for the message.
    sources : dict, optional
        Canonical name -> file column, as mapped (for the message).

    Examples
    --------
    >>> import pandas as pd
    >>> check_columns(pd.DataFrame({"unit_id": ["1"]}), table="units")
    >>> check_columns(  # doctest: +NORMALIZE_WHITESPACE
    ...     pd.DataFrame({"id": ["1"]}), table="employees", file="hr.csv"
    ... )
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: hr.csv: missing required columns employee_id, unit_id, hire_date,
    termination_date (the file has: id); name the file's columns in the mapping's 'employees'
    section
    """
    if table not in SCHEMAS:
        raise ValueError(f"unknown table {table!r}")
    try:
        _raw_schema(table).validate(data, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        missing = cases.loc[cases["check"].astype(str).eq("column_in_dataframe"), "failure_case"]
        missing = [str(m) for m in missing]
        if not missing:  # pragma: no cover - the raw schema checks presence only
            raise InputError(f"does not fit the {table} table: {err}", file=file) from None
        ordered = [c for c in REQUIRED[table] if c in missing] + [
            c for c in missing if c not in REQUIRED[table]
        ]
        mapped = [f"{c} (mapped from {sources[c]!r})" for c in ordered if sources and c in sources]
        has = ", ".join(str(c) for c in data.columns)
        noun = "column" if len(ordered) == 1 else "columns"
        detail = f"; mapped: {', '.join(mapped)}" if mapped else ""
        raise InputError(
            f"missing required {noun} {', '.join(ordered)} (the file has: {has}){detail}; "
            f"name the file's columns in the mapping's {table!r} section",
            file=file,
        ) from None


def check_typed(data: pd.DataFrame, *, table: str, file: str | None = None) -> pd.DataFrame:
    """Validate a cleaned canonical table against its typed schema (all problems at once).

    Returns the table unchanged; raises :class:`~linkage.errors.InputError` naming the columns and
    checks that failed. Tables produced by :mod:`linkage.clean` always pass; use this on canonical
    tables built by other means.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"unit_id": ["7", "8"], "region": ["N", "S"]})
    >>> check_typed(units, table="units").shape
    (2, 2)
    >>> check_typed(  # doctest: +NORMALIZE_WHITESPACE
    ...     pd.DataFrame({"unit_id": ["7", "7"]}), table="units", file="units.csv"
    ... )
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: units.csv: does not fit the units table: column 'unit_id' fails
    field_uniqueness (e.g. 7)
    """
    try:
        return SCHEMAS[table].validate(data, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        problems = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
            examples = ", ".join(str(v) for v in group["failure_case"].drop_duplicates().head(3))
            problems.append(f"column {column!r} fails {check} (e.g. {examples})")
        raise InputError(
            f"does not fit the {table} table: " + "; ".join(problems), file=file
        ) from None
