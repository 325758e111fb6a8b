"""What the section "When someone leaves" reads and computes: unit-level events and an aggregate
relationship finding, never person-level rows.

- :func:`read_events`: the event table ``linkage panel --events-out`` writes (``unit_id``,
  ``event_date``, ``event_type``); a file that is not one is an :class:`InputError` naming the
  file, row and column.
- :func:`read_relationships`: the ``--json`` output of ``linkage relationships`` (already
  aggregated and suppressed below its ``k``) as a :class:`RelationshipFinding`; only its figures
  are read.
- :func:`events_inputs`: the files of :data:`EVENTS_ENV` (set by ``linkage dashboard --events
  --relationships``), else the sample's ``events.csv`` and ``relationships.json`` when the
  dashboard runs on the sample panel.
- :func:`event_studies`: one :func:`linkage.stats.events.event_study` of customer retention per
  event type, on the panel's units only (a scoped viewer's panel holds only their units).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io import read_table, require_columns
from linkage.stats.events import EventStudy, event_study

__all__ = [
    "EVENTS_ENV",
    "EVENT_TYPES",
    "PERSON_COLUMNS",
    "RelationshipFinding",
    "EventsInputs",
    "StudyPart",
    "read_events",
    "read_relationships",
    "events_inputs",
    "event_type_order",
    "event_studies",
    "blank_small",
]

#: Environment variables naming the section's files (set by ``linkage dashboard``).
EVENTS_ENV = {"events": "LINKAGE_EVENTS", "relationships": "LINKAGE_RELATIONSHIPS"}
#: Event types in the order the section shows them (others follow, sorted).
EVENT_TYPES = ("manager_departure", "staff_shock")
#: Columns only a person-level table carries: an event table with one of them is refused.
PERSON_COLUMNS = (
    "employee_id",
    "customer_id",
    "served_by",
    "hire_date",
    "termination_date",
    "start_date",
    "end_date",
    "name",
    "email",
)


def read_events(path: str | os.PathLike[str], *, name: str | None = None) -> pd.DataFrame:
    """Read an event table as ``linkage panel --events-out`` writes it.

    Parameters
    ----------
    path : path
        CSV, Parquet or Excel with ``unit_id``, ``event_date`` (a day, ``YYYY-MM-DD``) and
        optionally ``event_type`` (default ``"event"``).
    name : str, optional
        The file's name in messages (default: its file name).

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` (str), ``event_date`` (datetime64), ``event_type`` (str), in file order.

    Raises
    ------
    InputError
        A missing or unreadable file, a missing column, a person-level column (``employee_id``,
        ``customer_id``, ...), no row, a row without a unit or with a date that is not a day.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "events.csv"
    >>> _ = f.write_text("unit_id,event_date,event_type\\n007,2024-03-01,staff_shock\\n")
    >>> read_events(f).iloc[0].tolist()
    ['007', Timestamp('2024-03-01 00:00:00'), 'staff_shock']
    >>> _ = f.write_text("unit_id,event_date\\n007,31/02/2024\\n")
    >>> read_events(f)
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: events.csv, row 1, column 'event_date': not a date (YYYY-MM-DD): ...
    """
    label = name or pathlib.Path(path).name
    if not pathlib.Path(path).is_file():
        raise InputError("file not found", file=label)
    raw = read_table(path, name=label)
    person = [c for c in raw.columns if str(c).strip().lower() in PERSON_COLUMNS]
    if person:
        raise InputError(
            "holds person-level columns; the dashboard takes unit-level events only "
            "(unit_id, event_date, event_type, as 'linkage panel --events-out' writes them)",
            file=label,
            column=str(person[0]),
        )
    require_columns(raw, ["unit_id", "event_date"], file=label, what="event table")
    if raw.empty:
        raise InputError("has no event row", file=label)
    unit = raw["unit_id"].astype("string").str.strip()
    if unit.isna().any() or unit.eq("").any():
        bad = raw.index[(unit.isna() | unit.eq("")).to_numpy(dtype=bool)][0]
        raise InputError("no unit", file=label, row=int(bad), column="unit_id")
    text = raw["event_date"].astype("string").str.strip()
    dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if dates.isna().any():
        bad = raw.index[dates.isna().to_numpy()][0]
        raise InputError(
            f"not a date (YYYY-MM-DD): {text.loc[bad]!r}",
            file=label,
            row=int(bad),
            column="event_date",
        )
    kind = (
        raw["event_type"].astype("string").str.strip().fillna("event")
        if "event_type" in raw.columns
        else pd.Series("event", index=raw.index, dtype="string")
    )
    return pd.DataFrame(
        {
            "unit_id": unit.astype(str).to_numpy(),
            "event_date": pd.DatetimeIndex(dates),
            "event_type": kind.astype(str).to_numpy(),
        }
    )


@dataclass(frozen=True)
class RelationshipFinding:
    """The figures of ``linkage relationships --json`` that the section shows (nothing else).

    Attributes
    ----------
    hazard_ratio, ci_low, ci_high, p_val : float
        Customers' monthly hazard of leaving after their own employee left, over that of
        customers of the same unit and month whose employee stayed (95% interval).
    window : int
        Months after the departure a customer counts as exposed.
    customers_exposed, departures : int
    lost, lost_low, lost_high : float
        Extra customers lost per departing employee, with its interval.
    by_month : pandas.DataFrame
        ``month, hazard_ratio, ci_low, ci_high, customers, departures`` (NaN: suppressed).
    k : int
        The smallest group behind a figure the file was written with.
    """

    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_val: float
    window: int
    customers_exposed: int
    departures: int
    lost: float
    lost_low: float
    lost_high: float
    by_month: pd.DataFrame = field(repr=False)
    k: int = 5

    @classmethod
    def from_dict(cls, body: Any, *, file: str = "relationships") -> RelationshipFinding:
        """Read the ``--json`` output of ``linkage relationships`` (a dict); anything else raises
        :class:`InputError` naming the file and the field."""
        if not isinstance(body, dict):
            raise InputError(
                "not the --json output of 'linkage relationships' (a JSON object)", file=file
            )

        def number(
            where: Mapping[str, Any],
            key: str,
            label: str,
            *,
            row: int | None = None,
            missing: bool = False,
        ) -> float:
            value = where.get(key) if isinstance(where, Mapping) else None
            if value is None and missing and isinstance(where, Mapping) and key in where:
                return float("nan")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(
                    f"needs a number, not {value!r} (is this the --json output of "
                    "'linkage relationships'?)",
                    file=file,
                    row=row,
                    column=label,
                )
            return float(value)

        def count(where: Mapping[str, Any], key: str, label: str, *, row: int | None = None) -> int:
            value = number(where, key, label, row=row)
            if value < 0 or value != int(value):
                raise InputError(
                    f"needs a whole number >= 0, not {value!r}", file=file, row=row, column=label
                )
            return int(value)

        settings = body.get("settings")
        if not isinstance(settings, dict):
            raise InputError("has no settings object", file=file, column="settings")
        lost = body.get("customers_lost_per_departure")
        if not isinstance(lost, dict):
            lost = {}
        rows = body.get("by_months_since_departure")
        if not isinstance(rows, list):
            raise InputError(
                "needs a list of months", file=file, column="by_months_since_departure"
            )
        table = []
        for i, r in enumerate(rows, start=1):
            if not isinstance(r, dict):
                raise InputError(
                    "not a month's figures", file=file, row=i, column="by_months_since_departure"
                )
            table.append(
                {
                    "month": count(r, "month", "month", row=i),
                    **{
                        key: number(r, key, key, row=i, missing=True)
                        for key in ("hazard_ratio", "ci_low", "ci_high")
                    },
                    "customers": count(r, "customers", "customers", row=i),
                    "departures": count(r, "departures", "departures", row=i),
                }
            )
        finding = cls(
            hazard_ratio=number(body, "hazard_ratio", "hazard_ratio"),
            ci_low=number(body, "ci_low", "ci_low"),
            ci_high=number(body, "ci_high", "ci_high"),
            p_val=number(body, "p_val", "p_val"),
            window=count(settings, "window", "settings.window"),
            customers_exposed=count(body, "customers_exposed", "customers_exposed"),
            departures=count(body, "departures", "departures"),
            lost=number(lost, "estimate", "customers_lost_per_departure.estimate"),
            lost_low=number(lost, "ci_low", "customers_lost_per_departure.ci_low"),
            lost_high=number(lost, "ci_high", "customers_lost_per_departure.ci_high"),
            by_month=pd.DataFrame(
                table,
                columns=["month", "hazard_ratio", "ci_low", "ci_high", "customers", "departures"],
            ),
            k=count(settings, "k", "settings.k") if "k" in settings else 5,
        )
        for key in ("hazard_ratio", "ci_low", "ci_high"):
            if not (math.isfinite(getattr(finding, key)) and getattr(finding, key) > 0):
                raise InputError("a hazard ratio is a number above 0", file=file, column=key)
        if finding.window < 1:
            raise InputError("the window is at least 1 month", file=file, column="settings.window")
        return finding

    def shown(self, k: int) -> RelationshipFinding | None:
        """The finding as a viewer may see it at ``k`` (the larger of ``k`` and the file's own):
        None when fewer than that many customers or departures are behind it; months below it
        suppressed (NaN)."""
        k = max(int(k), self.k)
        if self.customers_exposed < k or self.departures < k:
            return None
        small = (self.by_month["customers"] < k) | (self.by_month["departures"] < k)
        table = self.by_month.copy()
        table.loc[small, ["hazard_ratio", "ci_low", "ci_high"]] = np.nan
        return dataclasses.replace(self, by_month=table, k=k)

    def key(self) -> str:
        """The figures as text (what a cache key hashes)."""
        head = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        head.pop("by_month")
        return json.dumps(head, sort_keys=True, default=str) + self.by_month.to_csv(index=False)


def read_relationships(
    path: str | os.PathLike[str], *, name: str | None = None
) -> RelationshipFinding:
    """Read the ``--json`` output of ``linkage relationships`` (:class:`RelationshipFinding`).

    Raises
    ------
    InputError
        A missing file, text that is not JSON (naming the line as the row), or a JSON object
        without the figures (naming the field as the column).

    Examples
    --------
    >>> from linkage.io.datasets import sample_path
    >>> f = read_relationships(sample_path("relationships.json"))
    >>> f.window, bool(f.ci_low > 1)
    (6, True)
    """
    label = name or pathlib.Path(path).name
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError("file not found", file=label)
    try:
        body = json.loads(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file (JSON expected)", file=label) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", file=label, row=err.lineno) from None
    return RelationshipFinding.from_dict(body, file=label)


@dataclass(frozen=True)
class EventsInputs:
    """The section's inputs: the event table (None: none given) and the relationship finding
    (None: none given); ``source`` is ``"files"``, ``"sample"`` or ``"none"``."""

    events: pd.DataFrame | None
    relationships: RelationshipFinding | None
    source: str


def events_inputs(*, sample: bool = False, env: Mapping[str, str] | None = None) -> EventsInputs:
    """The files named in :data:`EVENTS_ENV` (``env``, default ``os.environ``); without any, the
    sample's ``events.csv`` (manager departures and staff shocks derived from its HR extract, as
    ``linkage panel --events-out --manager-role manager`` writes them) and ``relationships.json``
    (``linkage relationships --json`` of its ``served_by``) when ``sample``.

    Raises
    ------
    InputError
        A named file that cannot be read (:func:`read_events`, :func:`read_relationships`).

    Examples
    --------
    >>> inputs = events_inputs(sample=True, env={})
    >>> inputs.source, sorted(inputs.events["event_type"].unique())
    ('sample', ['manager_departure', 'staff_shock'])
    """
    env = os.environ if env is None else env
    events_file = env.get(EVENTS_ENV["events"]) or None
    rel_file = env.get(EVENTS_ENV["relationships"]) or None
    if events_file or rel_file:
        return EventsInputs(
            events=read_events(events_file) if events_file else None,
            relationships=read_relationships(rel_file) if rel_file else None,
            source="files",
        )
    if sample:
        from linkage.io.datasets import sample_path

        return EventsInputs(
            events=read_events(sample_path("events.csv")),
            relationships=read_relationships(sample_path("relationships.json")),
            source="sample",
        )
    return EventsInputs(events=None, relationships=None, source="none")


def event_type_order(events: pd.DataFrame) -> list[str]:
    """The event types of ``events`` in the order the section shows them: those of
    :data:`EVENT_TYPES` first (manager departures, then staff shocks), the others sorted. The
    first is the report's default when the table holds several.

    Examples
    --------
    >>> from linkage.io.datasets import sample_path
    >>> event_type_order(read_events(sample_path("events.csv")))
    ['manager_departure', 'staff_shock']
    """
    present = [str(t) for t in events["event_type"].unique()] if "event_type" in events else []
    order = [t for t in EVENT_TYPES if t in present]
    return order + sorted(t for t in present if t not in EVENT_TYPES)


@dataclass(frozen=True)
class StudyPart:
    """One event type's part of the section: the study (None when not shown) and why not."""

    event_type: str
    study: EventStudy | None
    note: str = ""


def event_studies(
    panel: pd.DataFrame,
    events: pd.DataFrame,
    *,
    k: int = 5,
    seed: int = 0,
    outcome: str = "customer_retention",
) -> list[StudyPart]:
    """An event study of ``outcome`` per event type, on the panel's units only.

    Events of units outside the panel are dropped before the study (a scoped viewer's panel
    holds only their units, and the set-aside counts must not tell them how many events other
    units had). A type that fewer than ``k`` of the panel's units have is not studied; in a
    study, event times reached by fewer than ``k`` units are blanked (NaN), and a study with
    fewer than ``k`` treated units is not shown.

    Examples
    --------
    >>> from linkage.io.datasets import load_sample_panel
    >>> parts = event_studies(load_sample_panel(), events_inputs(sample=True, env={}).events)
    >>> [(p.event_type, p.study.n_treated_units) for p in parts]
    [('manager_departure', 53), ('staff_shock', 26)]
    """
    mine = events.loc[events["unit_id"].isin(set(panel["unit_id"].astype(str)))]
    parts = []
    for kind in event_type_order(events):
        rows = mine.loc[mine["event_type"] == kind]
        what = kind.replace("_", " ")
        if rows["unit_id"].nunique() < k:
            parts.append(
                StudyPart(kind, None, f"Fewer than {k} units in this view had a {what}: not shown.")
            )
            continue
        try:
            study = event_study(panel, rows, outcome=outcome, event_type=kind, seed=seed)
        except InputError as err:
            parts.append(StudyPart(kind, None, f"No event study of the {what}: {err.problem}"))
            continue
        if study.n_treated_units < k:
            parts.append(
                StudyPart(
                    kind, None, f"Fewer than {k} units in this view had a usable {what}: not shown."
                )
            )
            continue
        parts.append(StudyPart(kind, blank_small(study, k)))
    return parts


def blank_small(study: EventStudy, k: int) -> EventStudy:
    """The study with the estimates of event times fewer than ``k`` units reach blanked (NaN):
    what a page may show.

    Examples
    --------
    >>> from linkage.io.datasets import load_sample_panel
    >>> panel = load_sample_panel()
    >>> events = events_inputs(sample=True, env={}).events
    >>> study = event_study(panel, events, event_type="manager_departure")
    >>> shown = blank_small(study, 35).estimates  # event times 10-12 reach 29 to 34 units
    >>> shown.loc[shown["estimate"].isna(), "event_time"].tolist()
    [10, 11, 12]
    """
    est = study.estimates.copy()
    small = est["n_treated"].fillna(0).to_numpy() < k
    est.loc[small, [c for c in est.columns if c not in ("event_time", "n_treated")]] = np.nan
    return dataclasses.replace(study, estimates=est)
