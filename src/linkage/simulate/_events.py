"""Events planted in a simulated world: manager departures, staff shocks, a programme.

:class:`EventSpec` (``simulate(spec, events=EventSpec())``) redraws the world's unit x month counts
on a random stream of its own (``numpy.random.default_rng([seed, 14])``) with three kinds of
event, and records what it planted in ``truth["events"]``. Without it nothing here runs and every
output of the simulator is what it always was.

- **Manager departures.** Each unit has one manager. In a share ``manager_departure_share`` of
  the units the manager leaves in a month drawn uniformly from the window's second month on
  (independently of the unit's climate, so who leaves when is as good as random here, unlike in
  real data); the month then has at least one leaver, and one of that month's leavers is the
  manager. In the other units the manager is an employee whose spell stays open to the end.
  ``World.employees`` gains ``role``: ``manager_role`` for the manager, ``"staff"`` otherwise.
- **Staff shocks.** In a share ``shock_unit_share`` of the units, a month drawn uniformly (from
  the second month on) loses ``ceil(shock_size * start)`` of its staff (at least). Every month in
  which at least ``shock_share`` of the staff at its start left, planted or not, is a staff
  shock, as ``linkage panel --events-out`` derives it from the extract.
- **Effects on customers.** Event time 0 is the event's month. At event time ``e`` a manager
  departure adds ``departure_effect[e]`` to the monthly customer churn probability of its unit
  (so customer retention moves by minus that), a staff shock ``shock_effect[e]``, both fading to
  nothing; a **programme** started in a share ``programme_share`` of the units (staggered: a
  start month drawn uniformly from ``programme_window``) lowers churn by ``programme_effect``
  from its start on, for good. Effects of several events add up.

Customers are drawn after the employees with the shifted churn probabilities (the draw of
:func:`linkage.simulate._model.draw_counts`), so the panel carries the planted effects exactly
in expectation: ``truth["events"]["effects"][type][e]`` is the change in expected customer
retention at event time ``e`` (a proportion: -0.015 is -1.5 points).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.simulate._model import Counts, Latent, draw_counts
from linkage.simulate._spec import WorldSpec

__all__ = [
    "EventSpec",
    "EVENTS_STREAM",
    "PlantedEvents",
    "plant_events",
    "assign_roles",
    "programme_table",
    "events_truth",
]

#: the second entropy word of the events' random stream: ``default_rng([seed, EVENTS_STREAM])``
EVENTS_STREAM = 14

#: -1.5 points for event times 0-3, fading linearly to nothing by event time 8
FADING = (0.015, 0.015, 0.015, 0.015, 0.012, 0.009, 0.006, 0.003)


@dataclass(frozen=True)
class EventSpec:
    """What :func:`linkage.simulate.simulate` plants as events (see :mod:`this module
    <linkage.simulate._events>`).

    Parameters
    ----------
    manager_departure_share : float, default 0.6
        Share of units whose manager leaves within the window.
    departure_effect : tuple of float, default -1.5 points for months 0-3, gone by month 8
        Extra monthly customer churn probability at event times 0, 1, ... (later: 0).
    shock_unit_share : float, default 0.3
        Share of units with a planted staff shock.
    shock_size : float, default 0.35
        Share of the staff at the start of the shock month who leave (at least).
    shock_effect : tuple of float
        As ``departure_effect``, for a staff shock.
    shock_share : float, default 0.25
        A month with at least this share of its starting staff leaving is a staff shock.
    programme_share : float, default 0.5
        Share of units that start the programme.
    programme_window : tuple of int, default (6, -6)
        Start months are drawn uniformly from this range of months of the window (0-based; a
        negative end counts from the window's end).
    programme_effect : float, default 0.01
        Lower monthly customer churn probability from the programme's start on (+1 point of
        retention, lasting).
    programme_profile : tuple of float, optional
        Instead of a lasting effect, the programme lowers churn by ``programme_profile[e]`` at
        event time ``e`` and by nothing after the profile's end (a fix that fades).
    manager_role : str, default "manager"
        The ``role`` value of managers.
    """

    manager_departure_share: float = 0.6
    departure_effect: tuple[float, ...] = FADING
    shock_unit_share: float = 0.3
    shock_size: float = 0.35
    shock_effect: tuple[float, ...] = FADING
    shock_share: float = 0.25
    programme_share: float = 0.5
    programme_window: tuple[int, int] = (6, -6)
    programme_effect: float = 0.01
    programme_profile: tuple[float, ...] | None = None
    manager_role: str = "manager"

    def __post_init__(self) -> None:
        for name in ("manager_departure_share", "shock_unit_share", "programme_share"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise InputError(f"{name} must be between 0 and 1, not {v!r}", column=name)
        for name in ("shock_size", "shock_share"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise InputError(f"{name} must be in (0, 1], not {v!r}", column=name)
        for name in ("departure_effect", "shock_effect", "programme_profile"):
            v = getattr(self, name)
            if v is None and name == "programme_profile":
                continue
            if not all(isinstance(x, (int, float)) and abs(x) < 0.5 for x in v):
                raise InputError(f"{name} must be churn shifts below 0.5, not {v!r}", column=name)
            object.__setattr__(self, name, tuple(float(x) for x in v))
        if not isinstance(self.programme_effect, (int, float)) or abs(self.programme_effect) >= 0.5:
            raise InputError(
                f"programme_effect must be below 0.5, not {self.programme_effect!r}",
                column="programme_effect",
            )
        if not self.manager_role or not isinstance(self.manager_role, str):
            raise InputError("manager_role must be a non-empty text", column="manager_role")


@dataclass(frozen=True)
class PlantedEvents:
    """The redrawn counts and the events as unit x month arrays (N x T)."""

    counts: Counts
    departure_month: np.ndarray  # (N,) month index of the manager's departure, -1 for none
    planted_shock_month: np.ndarray  # (N,) month of the planted shock, -1 for none
    shock: np.ndarray  # (N, T) bool: every month with >= shock_share of the staff leaving
    programme_month: np.ndarray  # (N,) programme start month, -1 for none
    churn_shift: np.ndarray  # (N, T) what the events added to the customer churn probability


def _profile(effect: tuple[float, ...], months_since: np.ndarray) -> np.ndarray:
    """``effect[e]`` at event time ``e`` (0 before the event and past the profile's end)."""
    prof = np.zeros(months_since.shape)
    for e, v in enumerate(effect):
        prof[months_since == e] = v
    return prof


def _draw_staff(
    spec: WorldSpec,
    lat: Latent,
    rng: np.random.Generator,
    forced: np.ndarray,
    shock: np.ndarray,
    size: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The staff counts of :func:`draw_counts` with at least ``forced`` leavers and, in a
    ``shock`` month, at least ``ceil(size * start)``."""
    n, t = spec.n_units, spec.months
    start, left, joined = (np.zeros((n, t), dtype=np.int64) for _ in range(3))
    target = lat.headcount_target
    stock = target.copy()
    for j in range(t):
        start[:, j] = stock
        drawn = rng.binomial(stock, lat.staff_hazard[:, j])
        floor = np.where(shock[:, j], np.ceil(size * stock).astype(np.int64), forced[:, j])
        left[:, j] = np.minimum(np.maximum(drawn, floor), stock)
        retained = stock - left[:, j]
        joined[:, j] = rng.binomial(np.maximum(target - retained, 0), spec.hire_fill)
        stock = retained + joined[:, j]
    return start, left, joined


def plant_events(
    events: EventSpec, spec: WorldSpec, lat: Latent, rng: np.random.Generator
) -> PlantedEvents:
    """Draw the events and the world's counts with them (see the module's docstring)."""
    n, t = spec.n_units, spec.months
    if t < 3:
        raise InputError("events need a window of at least 3 months", column="months")
    # the events' timing first, so it does not depend on the counts
    departs = rng.random(n) < events.manager_departure_share
    departure_month = np.where(departs, rng.integers(1, t, n), -1)
    shocked = rng.random(n) < events.shock_unit_share
    planted_shock_month = np.where(shocked, rng.integers(1, t, n), -1)
    lo, hi = events.programme_window
    lo, hi = (lo if lo >= 0 else t + lo), (hi if hi >= 0 else t + hi)
    lo, hi = max(1, min(lo, t - 1)), max(1, min(hi, t - 1))
    if hi < lo:
        lo, hi = hi, lo
    programme = rng.random(n) < events.programme_share
    programme_month = np.where(programme, rng.integers(lo, hi + 1, n), -1)

    months = np.arange(t)
    forced = (months[None, :] == departure_month[:, None]) & (departure_month[:, None] >= 0)
    planted = (months[None, :] == planted_shock_month[:, None]) & (
        planted_shock_month[:, None] >= 0
    )
    e_start, e_left, e_joined = _draw_staff(
        spec, lat, rng, forced.astype(np.int64), planted, events.shock_size
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(e_start > 0, e_left / np.where(e_start > 0, e_start, 1), 0.0)
    shock = (e_start > 0) & (share >= events.shock_share)

    shift = np.zeros((n, t))
    since = months[None, :] - departure_month[:, None]
    shift += np.where(departure_month[:, None] >= 0, _profile(events.departure_effect, since), 0.0)
    for j in range(t):  # every shock month adds its own fading profile
        hit = shock[:, j]
        if hit.any():
            shift[hit] += _profile(events.shock_effect, months[None, :] - j)[0]
    started = (programme_month[:, None] >= 0) & (months[None, :] >= programme_month[:, None])
    if events.programme_profile is None:
        shift -= np.where(started, events.programme_effect, 0.0)
    else:
        since_start = months[None, :] - programme_month[:, None]
        shift -= np.where(started, _profile(events.programme_profile, since_start), 0.0)
    hazard = np.clip(lat.customer_hazard + shift, 1e-6, 1 - 1e-6)
    drawn = draw_counts(spec, dataclasses.replace(lat, customer_hazard=hazard), rng)
    counts = Counts(
        employee_start=e_start,
        employee_left=e_left,
        employee_joined=e_joined,
        customer_start=drawn.customer_start,
        customer_left=drawn.customer_left,
        customer_joined=drawn.customer_joined,
    )
    return PlantedEvents(
        counts=counts,
        departure_month=departure_month,
        planted_shock_month=planted_shock_month,
        shock=shock,
        programme_month=programme_month,
        churn_shift=hazard - lat.customer_hazard,
    )


def assign_roles(
    employees: pd.DataFrame,
    planted: PlantedEvents,
    lat: Latent,
    events: EventSpec,
    rng: np.random.Generator,
) -> tuple[pd.Series, pd.DataFrame]:
    """The ``role`` of each employee spell and the managers' departures.

    A unit whose manager leaves in month m: one of the spells ending in m (there is one: the
    month's leavers were forced to at least 1) is the manager's. Otherwise one spell open at the
    window's end, when the unit has one. Returns the roles (``manager_role`` / ``"staff"``) and
    ``unit_id, event_date`` (the managers' termination days).
    """
    role = np.full(len(employees), "staff", dtype=object)
    units = employees["unit_id"].astype(str).to_numpy()
    end = employees["termination_date"]
    first = pd.Timestamp(lat.months[0].astype("datetime64[D]"))
    ended = end.notna().to_numpy()
    steps = np.full(len(employees), -1, dtype=np.int64)
    steps[ended] = (
        (end[ended].dt.year - first.year) * 12 + end[ended].dt.month - first.month
    ).to_numpy()
    departures = []
    for i, unit in enumerate(lat.unit_id.astype(str)):
        m = int(planted.departure_month[i])
        if m >= 0:
            pool = np.flatnonzero((units == unit) & (steps == m))
        else:
            pool = np.flatnonzero((units == unit) & ~ended)
        if pool.size == 0:
            continue
        pick = int(rng.choice(pool))
        role[pick] = events.manager_role
        if m >= 0:
            departures.append((unit, end.iloc[pick]))
    table = pd.DataFrame(departures, columns=["unit_id", "event_date"])
    table["unit_id"] = table["unit_id"].astype("str")
    return pd.Series(pd.array(role, dtype="str")), table


def _month_day(rng: np.random.Generator, month: np.datetime64) -> np.datetime64:
    first = month.astype("datetime64[D]")
    days = int(((month + 1).astype("datetime64[D]") - first).astype(np.int64))
    return first + np.timedelta64(int(rng.integers(0, days)), "D")


def programme_table(planted: PlantedEvents, lat: Latent, rng: np.random.Generator) -> pd.DataFrame:
    """``unit_id, event_date, event_type`` (``programme``), one row per unit that started it."""
    rows = [
        (unit, _month_day(rng, lat.months[m]))
        for unit, m in zip(lat.unit_id.astype(str), planted.programme_month, strict=True)
        if m >= 0
    ]
    return pd.DataFrame(
        {
            "unit_id": pd.array([u for u, _ in rows], dtype="str"),
            "event_date": pd.DatetimeIndex([d for _, d in rows]).as_unit("us"),
            "event_type": pd.array(["programme"] * len(rows), dtype="str"),
        }
    )


def events_truth(
    events: EventSpec,
    planted: PlantedEvents,
    lat: Latent,
    departures: pd.DataFrame,
    *,
    horizon: int = 24,
) -> dict[str, Any]:
    """``truth["events"]``: the spec, the effect of each event type by event time (a change in
    customer retention, as a proportion), the fade planted, and the events."""

    def by_time(effect: tuple[float, ...]) -> list[float]:
        return [-(effect[e] if e < len(effect) else 0.0) for e in range(horizon + 1)]

    dep, shock = by_time(events.departure_effect), by_time(events.shock_effect)
    if events.programme_profile is None:
        programme = [events.programme_effect] * (horizon + 1)
    else:
        programme = [-v for v in by_time(events.programme_profile)]
    months = lat.months.astype("datetime64[D]").astype(str)
    shock_rows = [
        {"unit_id": u, "month": months[j]}
        for u, j in zip(
            *(lat.unit_id.astype(str)[np.nonzero(planted.shock)[0]], np.nonzero(planted.shock)[1]),
            strict=True,
        )
    ]
    return {
        "spec": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(events).items()
        },
        "stream": ["seed", EVENTS_STREAM],
        "effect_unit": "change in customer retention (proportion; -0.015 is -1.5 points)",
        "event_time_0": "the month that holds the event date",
        "effects": {
            "manager_departure": dep,
            "staff_shock": shock,
            "programme": programme,
        },
        "fade": {
            "manager_departure": {
                "early": float(np.mean(dep[1:4])),
                "late": float(np.mean(dep[7:13])),
            },
            "staff_shock": {
                "early": float(np.mean(shock[1:4])),
                "late": float(np.mean(shock[7:13])),
            },
            "programme": {
                "early": float(np.mean(programme[1:4])),
                "late": float(np.mean(programme[7:13])),
            },
        },
        "manager_role": events.manager_role,
        "shock_share": events.shock_share,
        "manager_departures": [
            {"unit_id": u, "event_date": pd.Timestamp(d).date().isoformat()}
            for u, d in zip(departures["unit_id"], departures["event_date"], strict=True)
        ],
        "staff_shocks": shock_rows,
        "planted_staff_shocks": int((planted.planted_shock_month >= 0).sum()),
        "programme_units": int((planted.programme_month >= 0).sum()),
    }
