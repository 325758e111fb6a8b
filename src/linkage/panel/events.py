"""Events derived from the HR extract: manager departures and staff shocks, unit by unit.

:func:`derive_events` turns the cleaned employee spells and the panel built from them into an
event table ``unit_id, event_date, event_type`` for :func:`linkage.stats.events.event_study`
(``linkage panel ... --events-out events.csv``). Only units, dates and types leave it: no person.

- ``manager_departure``: the end of a spell whose ``role`` is the manager role; ``event_date`` is
  its termination date (the day, as in the extract).
- ``staff_shock``: a period in which at least ``shock_share`` of the staff at its start left
  (``employee_left / employee_start``, the panel's own counts); ``event_date`` is the first day
  of that period.
"""

from __future__ import annotations

import pandas as pd

from linkage.errors import InputError
from linkage.io import require_columns

__all__ = ["EVENT_COLUMNS", "derive_events"]

#: the columns of an event table
EVENT_COLUMNS = ("unit_id", "event_date", "event_type")


def derive_events(
    panel: pd.DataFrame,
    employees: pd.DataFrame | None = None,
    *,
    manager_role: str | None = None,
    shock_share: float = 0.25,
) -> pd.DataFrame:
    """Manager departures and staff shocks as an event table.

    Parameters
    ----------
    panel : pandas.DataFrame
        The retention panel (``unit_id``, ``period``, ``employee_start``, ``employee_left``).
    employees : pandas.DataFrame, optional
        The cleaned employee spells with a ``role`` column (needed with ``manager_role``).
    manager_role : str, optional
        The ``role`` value of managers; without it no manager departure is derived.
    shock_share : float, default 0.25
        A period is a staff shock when at least this share of its starting staff left.

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` (str), ``event_date`` (datetime64), ``event_type`` (``manager_departure`` or
        ``staff_shock``), sorted by type, unit and date. Departures outside the panel's periods
        are kept (the event study sets them aside with their reason).

    Raises
    ------
    InputError
        A ``shock_share`` outside (0, 1], or ``manager_role`` without a ``role`` column, or a
        role that no spell has.

    Examples
    --------
    >>> panel = pd.DataFrame({"unit_id": ["a", "a", "b", "b"],
    ...                       "period": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2),
    ...                       "employee_start": [4, 4, 10, 10], "employee_left": [0, 1, 2, 0]})
    >>> staff = pd.DataFrame({"employee_id": ["e1", "e2"], "unit_id": ["a", "b"],
    ...                       "termination_date": pd.to_datetime(["2024-02-11", None]),
    ...                       "role": ["Store Manager", "Store Manager"]})
    >>> derive_events(panel, staff, manager_role="Store Manager")
      unit_id event_date         event_type
    0       a 2024-02-11  manager_departure
    1       a 2024-02-01        staff_shock
    """
    if not 0 < shock_share <= 1:
        raise InputError(
            f"the shock share must be in (0, 1], not {shock_share!r}", column="shock_share"
        )
    require_columns(panel, ["unit_id", "period", "employee_start", "employee_left"], what="panel")
    parts = []
    if manager_role is not None:
        if employees is None or "role" not in employees.columns:
            raise InputError(
                "no role column on the employees: map one as 'role' in the mapping's employees "
                "section to find manager departures",
                file="employees",
                column="role",
            )
        roles = employees["role"].astype("string").str.strip()
        if not roles.eq(manager_role).any():
            seen = ", ".join(sorted(roles.dropna().unique().tolist())[:8])
            raise InputError(
                f"no spell has the role {manager_role!r} (roles seen: {seen})",
                file="employees",
                column="role",
            )
        left = employees.loc[
            roles.eq(manager_role).fillna(False).to_numpy(dtype=bool)
            & employees["termination_date"].notna().to_numpy()
        ]
        parts.append(
            pd.DataFrame(
                {
                    "unit_id": left["unit_id"].astype(str).to_numpy(),
                    "event_date": pd.to_datetime(left["termination_date"]).to_numpy(),
                    "event_type": "manager_departure",
                }
            )
        )
    start = panel["employee_start"].astype(float)
    share = panel["employee_left"].astype(float) / start.where(start > 0)
    shocks = panel.loc[share.ge(shock_share).fillna(False).to_numpy(dtype=bool)]
    parts.append(
        pd.DataFrame(
            {
                "unit_id": shocks["unit_id"].astype(str).to_numpy(),
                "event_date": pd.to_datetime(shocks["period"]).to_numpy(),
                "event_type": "staff_shock",
            }
        )
    )
    out = pd.concat(parts, ignore_index=True)
    out["unit_id"] = out["unit_id"].astype("str")
    out["event_date"] = pd.to_datetime(out["event_date"])
    return out.sort_values(
        ["event_type", "unit_id", "event_date"], kind="stable", ignore_index=True
    )
