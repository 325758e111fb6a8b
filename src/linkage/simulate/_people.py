"""Person-level extracts that realise the model's unit x month counts exactly.

Month by month (a loop over months, vectorised over people): of the spells active in a unit at the
start of the month, exactly ``left`` chosen at random end on a uniform day of the month; exactly
``joined`` new spells start on a uniform day of the month (for employees a share of them are
rehires of people who left in an earlier month). Nobody leaves in the month they joined, so the
definitions of docs/domain.md give back the counts the model drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.simulate._model import Latent

__all__ = ["Spells", "realise_spells", "activity_log", "TERMINATION_TYPES"]

#: termination types and their shares among leavers
TERMINATION_TYPES: tuple[tuple[str, float], ...] = (
    ("voluntary", 0.78),
    ("involuntary", 0.17),
    ("transfer", 0.05),
)
_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Spells:
    """Spells as arrays: person index, unit index, start and end dates (end NaT while open)."""

    person: np.ndarray
    unit: np.ndarray
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D]


def _month_bounds(months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = months.astype("datetime64[D]")
    days = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    return first, days


def _uniform_day(
    rng: np.random.Generator, first: np.datetime64, days: int, size: int
) -> np.ndarray:
    return first + rng.integers(0, days, size=size) * _DAY


def realise_spells(
    rng: np.random.Generator,
    lat: Latent,
    start: np.ndarray,
    left: np.ndarray,
    joined: np.ndarray,
    *,
    base_hazard: float,
    rehire_share: float = 0.0,
) -> Spells:
    """Spells whose unit x month counts are exactly ``start``, ``left``, ``joined`` (N x T)."""
    n, t = start.shape
    firsts, days = _month_bounds(lat.months)
    window_start = firsts[0]
    n0 = int(start[:, 0].sum())
    cap = n0 + int(joined.sum())
    person = np.empty(cap, dtype=np.int64)
    unit = np.empty(cap, dtype=np.int64)
    s_date = np.empty(cap, dtype="datetime64[D]")
    e_date = np.full(cap, np.datetime64("NaT"), dtype="datetime64[D]")

    # the stock at the window's start, hired a geometric number of months before (not before
    # opening)
    unit[:n0] = np.repeat(np.arange(n), start[:, 0])
    person[:n0] = np.arange(n0)
    tenure = rng.exponential(30.44 / base_hazard, size=n0).astype(np.int64) + 1
    s_date[:n0] = np.maximum(window_start - tenure * _DAY, lat.opened[unit[:n0]])
    used, next_person = n0, n0
    active = np.arange(n0)
    employed = np.zeros(cap, dtype=bool)  # by person index
    employed[:n0] = True
    gone = np.zeros(cap, dtype=bool)  # left earlier, not employed now: may be rehired

    for j in range(t):
        # leavers: exactly left[i, j] of the unit's active spells, chosen at random
        a_unit = unit[active]
        # sort by unit, at random within a unit (one float key: faster than lexsort; measured
        # figures: benchmarks/README.md)
        order = np.argsort(
            a_unit + 0.5 * rng.random(active.size)
        )  # 0.5: never rounds up to unit + 1
        sorted_units = a_unit[order]
        first_pos = np.searchsorted(sorted_units, np.arange(n))
        rank = np.arange(active.size) - first_pos[sorted_units]
        leave = np.zeros(active.size, dtype=bool)
        leave[order] = rank < left[sorted_units, j]
        leavers = active[leave]
        e_date[leavers] = _uniform_day(rng, firsts[j], days[j], leavers.size)

        # joiners: exactly joined[i, j] new spells, some of them rehires from earlier leavers
        m = int(joined[:, j].sum())
        new = np.arange(used, used + m)
        unit[new] = np.repeat(np.arange(n), joined[:, j])
        s_date[new] = _uniform_day(rng, firsts[j], days[j], m)
        n_rehire = int(rng.binomial(m, rehire_share)) if rehire_share > 0 else 0
        pool = np.flatnonzero(gone)
        n_rehire = min(n_rehire, pool.size)
        who = np.empty(m, dtype=np.int64)
        if n_rehire:
            slots = rng.choice(m, size=n_rehire, replace=False)
            back = rng.choice(pool, size=n_rehire, replace=False)
            who[slots] = back
            fresh = np.ones(m, dtype=bool)
            fresh[slots] = False
        else:
            fresh = np.ones(m, dtype=bool)
        n_fresh = int(fresh.sum())
        who[fresh] = np.arange(next_person, next_person + n_fresh)
        next_person += n_fresh
        person[new] = who
        gone[who] = False
        employed[who] = True
        # this month's leavers may come back from next month on
        employed[person[leavers]] = False
        gone[person[leavers]] = True
        used += m
        active = np.concatenate([active[~leave], new])

    return Spells(person=person[:used], unit=unit[:used], start=s_date[:used], end=e_date[:used])


def person_ids(prefix: str, n: int) -> np.ndarray:
    """Identifiers ``prefix`` + zero-padded 1..n (at least 5 digits), so text order = number
    order."""
    width = max(5, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def spells_table(
    spells: Spells,
    lat: Latent,
    *,
    id_col: str,
    prefix: str,
    start_col: str,
    end_col: str,
) -> pd.DataFrame:
    """Spells as a canonical table sorted by identifier and start date."""
    ids = person_ids(prefix, int(spells.person.max(initial=-1)) + 1)
    order = np.lexsort((spells.start, spells.person))
    return pd.DataFrame(
        {
            id_col: pd.array(ids[spells.person[order]], dtype="str"),
            "unit_id": pd.array(lat.unit_id.astype(str)[spells.unit[order]], dtype="str"),
            start_col: pd.DatetimeIndex(spells.start[order]).as_unit("us"),
            end_col: pd.DatetimeIndex(spells.end[order]).as_unit("us"),
        }
    )


def termination_types(rng: np.random.Generator, ended: np.ndarray) -> pd.Series:
    """A termination type for each ended spell (missing for open ones)."""
    names = np.array([name for name, _ in TERMINATION_TYPES], dtype=object)
    shares = np.array([share for _, share in TERMINATION_TYPES])
    pick = names[rng.choice(names.size, size=ended.size, p=shares / shares.sum())]
    types = np.full(ended.size, None, dtype=object)  # open spells have no termination type
    types[ended] = pick[ended]
    return pd.Series(pd.array(types, dtype="str"))


def activity_log(
    rng: np.random.Generator,
    spells: Spells,
    lat: Latent,
    *,
    visits_extra: float = 0.5,
    revenue_median: float = 25.0,
) -> pd.DataFrame:
    """Visits with revenue: at least one in every month a customer is active.

    A customer spell from ``s`` to ``e`` is active in the months from the month of ``s`` to the
    month before the month of ``e`` (or to the last month), and at least from the month before the
    window, so that an activity log gives the same panel as the spells (active in ``m - 1`` = at
    the start of ``m``). Visits per active month: ``1 + Poisson(visits_extra)``, on uniform days
    (not before ``s``); revenue lognormal around ``revenue_median``, in cents.
    """
    months = lat.months
    t = months.size
    first_m = months[0] - 1  # the month before the window
    s_month = np.maximum(spells.start.astype("datetime64[M]"), first_m)
    e_month = np.where(
        np.isnat(spells.end), months[-1] + 1, spells.end.astype("datetime64[M]")
    )  # exclusive
    rel_s = (s_month - first_m).astype(np.int64)
    n_months = np.maximum((e_month - first_m).astype(np.int64) - rel_s, 0)
    n_months = np.minimum(n_months, t + 1 - rel_s)
    cm_spell = np.repeat(np.arange(n_months.size), n_months)
    offset = np.arange(cm_spell.size) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    cm_month = first_m + rel_s[cm_spell] + offset
    visits = 1 + rng.poisson(visits_extra, size=cm_spell.size)
    v_spell = np.repeat(cm_spell, visits)
    v_month = np.repeat(cm_month, visits)
    lo = np.maximum(v_month.astype("datetime64[D]"), spells.start[v_spell])
    hi = (v_month + 1).astype("datetime64[D]")  # exclusive
    span = (hi - lo).astype(np.int64)
    date = lo + np.floor(rng.random(v_spell.size) * span).astype(np.int64) * _DAY
    revenue = np.round(revenue_median * np.exp(0.6 * rng.standard_normal(v_spell.size)), 2)
    n_people = int(spells.person.max(initial=-1)) + 1
    ids = person_ids("C", n_people)
    v_person = spells.person[v_spell]
    order = np.lexsort((date, v_person))
    revenue = revenue[order]
    log = pd.DataFrame(
        {
            "customer_id": pd.array(ids[v_person[order]], dtype="str"),
            "unit_id": pd.array(lat.unit_id.astype(str)[spells.unit[v_spell[order]]], dtype="str"),
            "activity_date": pd.DatetimeIndex(date[order]).as_unit("us"),
        }
    )
    # two visits of a customer on one day with the same revenue would be an exact duplicate row,
    # which a cleaner sets aside: the later one costs a cent more (about 1 visit in 300,000)
    dup = log.assign(revenue=revenue).duplicated().to_numpy()
    while dup.any():
        revenue[dup] = np.round(revenue[dup] + 0.01, 2)
        dup = log.assign(revenue=revenue).duplicated().to_numpy()
    log["revenue"] = revenue
    return log
