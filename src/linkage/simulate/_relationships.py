"""Customers served by an employee: who owns each customer, handovers, and the planted effect.

The world's customer spells and employee spells are drawn first (and stay exactly as they are);
this module then decides which employee serves each customer, on a generator of its own, so that
customers leave more often in the months after their own employee leaves.

The planted model: a customer's monthly hazard of leaving is multiplied by ``hazard_ratio`` in
months 1..``months`` after the month in which the employee who served them left (by
``quick_hazard_ratio`` when a new owner took over within ``quick_days``); where the windows of
two departures overlap, the later one applies. Since the spells are fixed, the effect is planted
through the choice of owner: each customer's owner is drawn among the employees of its unit
active on the day the relationship starts (the customer's start, or the handover day), with
probability proportional to the likelihood ratio of the customer's own months under that owner's
departure (``hazard_ratio`` for a month the customer left in, ``(1 - h * hazard_ratio) / (1 - h)``
for a month it stayed, ``h`` the unit's monthly hazard that month). That is the owner's
distribution given the customer's history under the planted model, so customers whose employee
left go on to leave at ``hazard_ratio`` times the rate of the others in the same unit and month.

A departing employee's book is handed over after a delay drawn once per departure: with
probability ``quick_share`` within ``quick_days`` (1 to ``quick_days`` days), else 45 to 120 days;
each customer then gets a new owner among the unit's employees on that day (drawn the same way).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from linkage.simulate._model import Latent
from linkage.simulate._spec import real_field, whole_field

__all__ = ["RelationshipSpec", "relationship_tables", "RELATIONSHIP_STREAM"]

#: the spawn key of the generator the relationships draw on: ``default_rng([seed, 15])``
RELATIONSHIP_STREAM = 15
_DAY = np.timedelta64(1, "D")
_SLOW_DAYS = (45, 120)


@dataclass(frozen=True)
class RelationshipSpec:
    """Parameters of who serves whom (validated on creation).

    Parameters
    ----------
    hazard_ratio : float, default 2.0
        Multiplier of a customer's monthly hazard of leaving in the ``months`` months after their
        own employee left (1.0: no effect), when the handover was slow.
    quick_hazard_ratio : float, default 1.3
        The multiplier when a new owner took over within ``quick_days`` (a quick handover
        softens the loss; equal to ``hazard_ratio``: it does not).
    months : int, default 6
        Months after the departure month that the effect lasts (1 to 24).
    quick_share : float, default 0.5
        Share of departures whose book is handed over within ``quick_days``.
    quick_days : int, default 28
        The longest quick handover, in days (1 to 44; slow handovers take 45 to 120 days).

    Examples
    --------
    >>> RelationshipSpec().hazard_ratio, RelationshipSpec(months=3).months
    (2.0, 3)
    """

    hazard_ratio: float = 2.0
    quick_hazard_ratio: float = 1.3
    months: int = 6
    quick_share: float = 0.5
    quick_days: int = 28

    def __post_init__(self) -> None:
        real_field(self, "hazard_ratio", 0.1, 10.0)
        real_field(self, "quick_hazard_ratio", 0.1, 10.0)
        whole_field(self, "months", 1, 24)
        real_field(self, "quick_share", 0.0, 1.0)
        whole_field(self, "quick_days", 1, 44)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain (JSON-serialisable) dict."""
        return dataclasses.asdict(self)


def _month(dates: np.ndarray) -> np.ndarray:
    """Month numbers (months since 1970-01) of datetime64 dates; NaT gives a huge number."""
    out = dates.astype("datetime64[M]").astype(np.int64)
    return np.where(np.isnat(dates), np.iinfo(np.int64).max // 4, out)


def _books(
    rng: np.random.Generator,
    *,
    js: np.ndarray,
    cs: np.ndarray,
    e_term: np.ndarray,
    e_hire: np.ndarray,
    e_term_far: np.ndarray,
    es: np.ndarray,
    e_dep_month: np.ndarray,
    e_ratio: np.ndarray,
    delay: np.ndarray,
    c_start: np.ndarray,
    c_end_far: np.ndarray,
    c_first: np.ndarray,
    c_end_month: np.ndarray,
    h: np.ndarray,
    w0: int,
    k: int,
    sweeps: int,
) -> np.ndarray:
    """One unit's books: ``member[i, c]`` when customer ``cs[c]`` was in the book of the
    departing employee ``js[i]`` (departures in date order).

    Each membership is drawn from its distribution given the customer's history and its other
    memberships (Gibbs sampling: a first pass in date order, then ``sweeps`` more): prior odds
    1 / (headcount - 1) that a customer active on the day was the leaver's, times the likelihood
    ratio of the customer's months in the departure's window (up to the next membership's window,
    since the later departure applies), against the window of the previous membership (or none).
    A customer in a book is handed over ``delay`` days later and cannot be in another book before.
    """
    n_d, n_c = js.size, cs.size
    t = h.size
    member = np.zeros((n_d, n_c), dtype=bool)
    d_day = e_term[js]
    dm = e_dep_month[js]
    hand = d_day + delay[js] * _DAY
    active = (c_start[cs][None, :] < d_day[:, None]) & (c_end_far[cs][None, :] > d_day[:, None])
    headcount = np.array(
        [int(((e_hire[es] <= d) & (e_term_far[es] >= d)).sum()) for d in d_day], dtype=float
    )
    prior_odds = 1.0 / np.maximum(headcount - 1.0, 1.0)
    first_m = c_first[cs]
    end_m = c_end_month[cs]
    idx = np.arange(n_d)[:, None]
    for sweep in range(sweeps + 1):
        for i in range(n_d):
            # the customer's memberships before and after this one
            before = member[:i]
            after = member[i + 1 :]
            has_prev = before.any(axis=0)
            prev = np.where(has_prev, np.where(before, idx[:i], -1).max(axis=0, initial=-1), 0)
            has_next = after.any(axis=0)
            nxt = np.where(
                has_next, np.where(after, idx[i + 1 :], n_d).min(axis=0, initial=n_d), n_d - 1
            )
            ok = active[i] & (~has_prev | (hand[prev] <= d_day[i]))
            ok &= ~has_next | (hand[i] <= d_day[nxt])
            if sweep == 0:
                ok &= ~has_next  # the first pass knows only the past
            prev_last = np.where(has_prev, dm[prev] + k, -(10**9))
            prev_ratio = np.where(has_prev, e_ratio[js[prev]], 1.0)
            stop = np.where(has_next, dm[nxt], 10**9)  # the next window takes over after this
            r = e_ratio[js[i]]
            lr = np.zeros(n_c)
            for s in range(1, k + 1):
                m = dm[i] + s
                inwin = (m >= np.maximum(w0, first_m)) & (m < w0 + t) & (m <= end_m) & (m <= stop)
                if not inwin.any():
                    continue
                hm = h[min(max(m - w0, 0), t - 1)]
                old = np.where(m <= prev_last, prev_ratio, 1.0)
                term = np.where(
                    m == end_m,
                    np.log(r / old),
                    np.log((1 - min(hm * r, 0.99)) / (1 - np.minimum(hm * old, 0.99))),
                )
                lr += np.where(inwin, term, 0.0)
            odds = prior_odds[i] * np.exp(lr)
            member[i] = ok & (rng.random(n_c) < odds / (1 + odds))
    return member


def relationship_tables(
    spec: RelationshipSpec,
    seed: int,
    lat: Latent,
    employees: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    sweeps: int = 3,
) -> tuple[pd.Series, pd.DataFrame, dict[str, Any]]:
    """Owners for a world's customer spells: ``served_by``, the relationship table, the truth.

    Parameters
    ----------
    spec : RelationshipSpec
        The planted effect and handover behaviour.
    seed : int
        The world's seed (the generator is ``default_rng([seed, RELATIONSHIP_STREAM])``).
    lat : Latent
        The world's latent model (units, months, monthly customer hazards).
    employees, customers : pandas.DataFrame
        The clean employee spells and customer spells of the world.
    sweeps : int, default 3
        Gibbs sweeps over the books after the first draw in date order.

    Returns
    -------
    served_by : pandas.Series
        The employee who served each customer spell first (the account's opener), aligned with
        ``customers``; missing when nobody in its unit could serve it. (The owner at the end
        would be a biased link: a customer still served by an employee who left is one who left
        before the handover.)
    relationships : pandas.DataFrame
        ``customer_id, employee_id, start_date, end_date`` (end NaT while it lasts), sorted.
    truth : dict
        The spec, the window, the share of quick handovers and the counts realised.
    """
    rng = np.random.default_rng([seed, RELATIONSHIP_STREAM])
    unit_index = {u: i for i, u in enumerate(lat.unit_id.astype(str))}
    n_units = len(unit_index)
    w0 = int(lat.months[0].astype(np.int64))
    t = lat.months.size
    k = spec.months

    e_unit = employees["unit_id"].map(unit_index).to_numpy(dtype=np.int64)
    e_hire = employees["hire_date"].to_numpy().astype("datetime64[D]")
    e_term = employees["termination_date"].to_numpy().astype("datetime64[D]")
    n_emp = len(employees)
    ended = ~np.isnat(e_term)
    quick = ended & (rng.random(n_emp) < spec.quick_share)
    delay = np.where(
        quick,
        rng.integers(1, spec.quick_days + 1, size=n_emp),
        rng.integers(_SLOW_DAYS[0], _SLOW_DAYS[1] + 1, size=n_emp),
    )
    e_ratio = np.where(quick, spec.quick_hazard_ratio, spec.hazard_ratio)
    e_dep_month = _month(e_term)
    far = np.datetime64("2200-01-01")
    e_term_far = np.where(ended, e_term, far)

    c_unit = customers["unit_id"].map(unit_index).to_numpy(dtype=np.int64)
    c_start = customers["start_date"].to_numpy().astype("datetime64[D]")
    c_end = customers["end_date"].to_numpy().astype("datetime64[D]")
    c_end_far = np.where(np.isnat(c_end), far, c_end)
    c_end_month = _month(c_end)
    c_first = _month(c_start) + 1  # at risk from the month after the start
    n_cus = len(customers)

    # the hazard of customers whose employee stayed: the unit's hazard over the mean multiplier
    # of its customers (a share q of them exposed), so that the planted model keeps the world's
    # own monthly hazards
    first_day = lat.months.astype("datetime64[D]")
    staff = np.zeros((n_units, t))
    gone = np.zeros((n_units, t))
    for j in range(t):
        staff[:, j] = np.bincount(
            e_unit,
            weights=(e_hire < first_day[j]) & (e_term_far >= first_day[j]),
            minlength=n_units,
        )
        gone[:, j] = np.bincount(e_unit, weights=ended & (e_dep_month == w0 + j), minlength=n_units)
    share = np.divide(gone, staff, out=np.zeros_like(gone), where=staff > 0)
    q = np.zeros((n_units, t))
    for s in range(1, k + 1):
        q[:, s:] += share[:, : t - s]
    mean_ratio = spec.quick_share * spec.quick_hazard_ratio + (1 - spec.quick_share) * (
        spec.hazard_ratio
    )
    h0 = lat.customer_hazard / (1 + np.minimum(q, 1.0) * (mean_ratio - 1))

    by_unit_c = np.argsort(c_unit, kind="stable")
    c_lo = np.searchsorted(c_unit[by_unit_c], np.arange(n_units))
    c_hi = np.searchsorted(c_unit[by_unit_c], np.arange(n_units), side="right")
    by_unit_e = np.argsort(e_unit, kind="stable")
    e_lo = np.searchsorted(e_unit[by_unit_e], np.arange(n_units))
    e_hi = np.searchsorted(e_unit[by_unit_e], np.arange(n_units), side="right")

    mem_c: list[np.ndarray] = []
    mem_e: list[np.ndarray] = []
    deps = np.flatnonzero(ended)
    deps = deps[np.lexsort((e_term[deps], e_unit[deps]))]
    d_lo = np.searchsorted(e_unit[deps], np.arange(n_units))
    d_hi = np.searchsorted(e_unit[deps], np.arange(n_units), side="right")
    for u in range(n_units):
        js = deps[d_lo[u] : d_hi[u]]
        cs = by_unit_c[c_lo[u] : c_hi[u]]
        if js.size == 0 or cs.size == 0:
            continue
        member = _books(
            rng,
            js=js,
            cs=cs,
            e_term=e_term,
            e_hire=e_hire,
            e_term_far=e_term_far,
            es=by_unit_e[e_lo[u] : e_hi[u]],
            e_dep_month=e_dep_month,
            e_ratio=e_ratio,
            delay=delay,
            c_start=c_start,
            c_end_far=c_end_far,
            c_first=c_first,
            c_end_month=c_end_month,
            h=h0[u],
            w0=w0,
            k=k,
            sweeps=sweeps,
        )
        rows, cols = np.nonzero(member)
        mem_e.append(js[rows])
        mem_c.append(cs[cols])

    # relationships: each book membership is a relationship from the customer's previous
    # handover (or start; not before the employee's hire) to the departure; the gaps are
    # filled by employees at random, who hand the customer on the day before they leave (a
    # reassignment, not a departure the customer lived through)
    mc = np.concatenate(mem_c) if mem_c else np.zeros(0, dtype=np.int64)
    me = np.concatenate(mem_e) if mem_e else np.zeros(0, dtype=np.int64)
    order = np.lexsort((e_term[me], mc))
    mc, me = mc[order], me[order]
    new_cust = np.ones(mc.size, dtype=bool)
    new_cust[1:] = mc[1:] != mc[:-1]
    prev_handover = np.empty(mc.size, dtype="datetime64[D]")
    prev_handover[new_cust] = c_start[mc[new_cust]]
    later = np.flatnonzero(~new_cust)
    prev_handover[later] = e_term[me[later - 1]] + delay[me[later - 1]] * _DAY
    m_start = np.maximum(prev_handover, e_hire[me])
    rows_c = [mc]
    rows_e = [me]
    rows_s = [m_start]
    rows_end = [e_term[me]]
    # gaps: before a membership whose employee came later, and after the last one
    gap_c = [mc[m_start > prev_handover]]
    gap_a = [prev_handover[m_start > prev_handover]]
    gap_b = [m_start[m_start > prev_handover]]
    last_hand = np.full(n_cus, np.datetime64("NaT"), dtype="datetime64[D]")
    last_idx = np.flatnonzero(np.r_[new_cust[1:], True]) if mc.size else np.zeros(0, np.int64)
    last_hand[mc[last_idx]] = e_term[me[last_idx]] + delay[me[last_idx]] * _DAY
    tail_a = np.where(np.isnat(last_hand), c_start, last_hand)
    open_tail = tail_a < c_end_far
    gap_c.append(np.flatnonzero(open_tail))
    gap_a.append(tail_a[open_tail])
    gap_b.append(c_end_far[open_tail])
    gc, ga, gb = np.concatenate(gap_c), np.concatenate(gap_a), np.concatenate(gap_b)
    for _round in range(50):
        if gc.size == 0:
            break
        u = c_unit[gc]
        counts = e_hi[u] - e_lo[u]
        pos = np.repeat(np.arange(gc.size), counts)
        offs = np.arange(pos.size) - np.repeat(np.cumsum(counts) - counts, counts)
        pe = by_unit_e[np.repeat(e_lo[u], counts) + offs]
        a = ga[pos]
        active = (e_hire[pe] <= a) & (e_term_far[pe] > a)
        # who serves the gap: someone employed on its first day, at random (until the gap ends
        # or the day before they leave), else the next hire
        key = np.where(active, 2e9 + rng.random(pos.size), -e_hire[pe].astype(np.int64))
        key = key.astype(float)
        best = np.lexsort((-key, pos))
        first = np.ones(best.size, dtype=bool)
        first[1:] = pos[best][1:] != pos[best][:-1]
        gi, ge = pos[best][first], pe[best][first]
        is_active = active[best][first]
        is_stay = is_active & (e_term_far[ge] > gb[gi])
        nc_, na, nb = [], [], []
        # stays: one relationship to the gap's end (open when the customer is still active)
        sel = is_stay
        rows_c.append(gc[gi[sel]])
        rows_e.append(ge[sel])
        rows_s.append(ga[gi[sel]])
        rows_end.append(np.where(gb[gi[sel]] == far, np.datetime64("NaT"), gb[gi[sel]]))
        # active but leaving: serves until the day before, then the gap goes on
        sel = is_active & ~is_stay
        rows_c.append(gc[gi[sel]])
        rows_e.append(ge[sel])
        rows_s.append(ga[gi[sel]])
        rows_end.append(e_term[ge[sel]] - _DAY)
        nc_.append(gc[gi[sel]])
        na.append(e_term[ge[sel]])
        nb.append(gb[gi[sel]])
        # nobody employed yet: the gap starts at the next hire
        sel = ~is_active & (e_hire[ge] > ga[gi])
        nc_.append(gc[gi[sel]])
        na.append(e_hire[ge[sel]])
        nb.append(gb[gi[sel]])
        gc, ga, gb = np.concatenate(nc_), np.concatenate(na), np.concatenate(nb)
        keep = ga < gb
        gc, ga, gb = gc[keep], ga[keep], gb[keep]

    rc = np.concatenate(rows_c)
    re_ = np.concatenate(rows_e)
    rs = np.concatenate(rows_s)
    rend = np.concatenate(rows_end)
    cust_ids = customers["customer_id"].to_numpy(dtype=object)
    emp_ids = employees["employee_id"].to_numpy(dtype=object)
    rel = pd.DataFrame(
        {
            "customer_id": pd.array(cust_ids[rc], dtype="str"),
            "employee_id": pd.array(emp_ids[re_], dtype="str"),
            "start_date": pd.DatetimeIndex(rs).as_unit("us"),
            "end_date": pd.DatetimeIndex(rend).as_unit("us"),
        }
    )
    first_order = np.lexsort((rs, rc))
    first_rows = (
        first_order[np.r_[True, rc[first_order][1:] != rc[first_order][:-1]]]
        if rc.size
        else first_order
    )
    served = np.full(n_cus, None, dtype=object)
    served[rc[first_rows]] = emp_ids[re_[first_rows]]
    rel = rel.iloc[np.lexsort((rs, rc))].reset_index(drop=True)
    served_by = pd.Series(pd.array(served, dtype="str"), index=customers.index, name="served_by")
    truth = {
        "spec": spec.to_dict(),
        "stream": RELATIONSHIP_STREAM,
        "planted": {
            "hazard_ratio": spec.hazard_ratio,
            "quick_hazard_ratio": spec.quick_hazard_ratio,
            "months": spec.months,
            "quick_days": spec.quick_days,
            "slow_days": list(_SLOW_DAYS),
        },
        "relationships": len(rel),
        "departures": int(ended.sum()),
        "quick_handovers": int(quick.sum()),
        "customers_in_departing_books": int(np.unique(mc).size),
        "customers_without_owner": int(n_cus - np.unique(rc).size),
    }
    return served_by, rel, truth
