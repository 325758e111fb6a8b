"""The canonical tables and their columns (no pandera here: importing this is cheap)."""

from __future__ import annotations

__all__ = ["TABLES", "REQUIRED", "OPTIONAL"]

#: The canonical tables, in the order they are cleaned.
TABLES = ("units", "employees", "customers", "activity")

#: Required canonical columns of each table.
REQUIRED: dict[str, tuple[str, ...]] = {
    "employees": ("employee_id", "unit_id", "hire_date", "termination_date"),
    "customers": ("customer_id", "unit_id", "start_date", "end_date"),
    "activity": ("customer_id", "unit_id", "activity_date"),
    "units": ("unit_id",),
}

#: Optional canonical columns of each table (``units`` also takes any attribute column).
OPTIONAL: dict[str, tuple[str, ...]] = {
    "employees": ("termination_type",),
    "customers": (),
    "activity": ("revenue",),
    "units": (),
}
