"""The canonical tables and their columns (no pandera here: importing this is cheap)."""

from __future__ import annotations

__all__ = ["TABLES", "CHAIN_TABLES", "REQUIRED", "OPTIONAL", "OPTIONS", "PERSON_COLUMNS"]

#: The chain's tables: surveys, revenue, segments.
CHAIN_TABLES = ("employee_survey", "customer_survey", "revenue", "segments")

#: The canonical tables, in the order they are cleaned.
TABLES = ("units", "employees", "customers", "activity", *CHAIN_TABLES)

#: Required canonical columns of each table. A customer survey also needs one of ``csat`` and
#: ``nps``; a revenue table is customer level with ``customer_id``, unit level without it; an
#: employee survey is respondent level (``survey_date``) or unit level (``period`` and
#: ``respondents`` instead: item means per unit and period).
REQUIRED: dict[str, tuple[str, ...]] = {
    "employees": ("employee_id", "unit_id", "hire_date", "termination_date"),
    "customers": ("customer_id", "unit_id", "start_date", "end_date"),
    "activity": ("customer_id", "unit_id", "activity_date"),
    "units": ("unit_id",),
    "employee_survey": ("unit_id", "survey_date"),
    "customer_survey": ("unit_id", "response_date"),
    "revenue": ("unit_id", "period", "revenue"),
    "segments": ("customer_id", "segment"),
    "relationships": ("customer_id", "employee_id", "start_date", "end_date"),
}

#: Optional canonical columns of each table (``units`` also takes any attribute column).
OPTIONAL: dict[str, tuple[str, ...]] = {
    "employees": ("termination_type", "role"),
    "customers": ("segment", "served_by"),
    "activity": ("revenue", "segment"),
    "units": (),
    "employee_survey": ("respondent_id", "period", "respondents"),
    "customer_survey": ("csat", "nps", "response_id", "customer_id"),
    "revenue": ("customer_id", "revenue_start", "revenue_retained", "revenue_retention"),
    "segments": (),
    "relationships": (),
}

#: Mapping-section keys that are settings, not columns: ``dates`` (this table's date format,
#: overriding the mapping's ``dates`` section: files from different systems write dates
#: differently), the employee survey's ``items`` (a list of file columns, or ``{item name: file
#: column}``) and answer ``scale`` ([lowest, highest]); the customer survey's ``csat_scale``.
OPTIONS: dict[str, tuple[str, ...]] = {
    "employees": ("dates",),
    "customers": ("dates",),
    "activity": ("dates",),
    "employee_survey": ("items", "scale", "dates"),
    "customer_survey": ("csat_scale", "dates"),
    "revenue": ("dates",),
    "segments": (),
    "relationships": ("dates",),
}

#: The person (or response) identifier columns of each table: what pseudonymisation replaces.
PERSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "employees": ("employee_id",),
    "customers": ("customer_id",),
    "activity": ("customer_id",),
    "employee_survey": ("respondent_id", "period", "respondents"),
    "customer_survey": ("response_id", "customer_id"),
    "revenue": ("customer_id",),
    "segments": ("customer_id",),
    "relationships": ("customer_id", "employee_id"),
}
