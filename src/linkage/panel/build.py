"""The unit x period panel: head counts, joiners, leavers, retention and turnover on both sides.

Definitions (docs/domain.md), for a spell with start ``s`` and end ``e`` (``e`` empty while open)
and a period ``m = [m_start, m_end]``:

=========  ===========================================================
at start   ``s < m_start`` and (``e`` empty or ``e >= m_start``)
retained   at start, and (``e`` empty or ``e > m_end``)
at end     ``s <= m_end`` and (``e`` empty or ``e > m_end``)
left       ``e`` within ``[m_start, m_end]``
joined     ``s`` within ``[m_start, m_end]``
retention  retained / at start (NaN when at start is 0)
turnover   left / ((at start + at end) / 2) (NaN when that is 0)
=========  ===========================================================

How it is computed: every date becomes an integer period code (:mod:`linkage.panel.periods`), so
each definition says "the spell counts in the periods ``m`` of a range": at start for
``code(s) < m <= code(e)``, retained for ``code(s) < m < code(e)``, at end for
``code(s) <= m < code(e)``, joined at ``m == code(s)`` and left at ``m == code(e)``. Two
``np.bincount`` histograms over the unit x period grid (starts and ends per cell, everything before
the window in one extra column) and their ``cumsum`` give all five counts (see
``UnitPeriodGrid.spell_counts``). No loop runs over units, spells or rows.

An activity log is first turned into such spells, one per (customer, unit) and uninterrupted run
of active periods: active from the period of its first activity in the run to ``activity_window -
1`` periods after its last one, then "ended" (left) in the first inactive period. With those
spells the same five rules give exactly: at start = active in the previous period, at end = active
now, retained = active in both, joined = active now and not before, left = active before and not
now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io import require_columns
from linkage.panel._inputs import as_frame, dates, first_bad, text_column, window_periods
from linkage.panel.periods import (
    MISSING,
    DateLike,
    bound_code,
    date_codes,
    normalize_freq,
    period_starts,
)

__all__ = ["build_panel", "PANEL_COLUMNS", "COUNT_FIELDS", "RATE_FIELDS"]

#: the count columns of each side, in panel order (prefixed ``employee_`` / ``customer_``)
COUNT_FIELDS: tuple[str, ...] = ("start", "joined", "left", "retained", "end")
#: the rate columns of each side, in panel order
RATE_FIELDS: tuple[str, ...] = ("retention", "turnover")
#: the panel's fixed columns, in order (then ``customer_revenue`` if any, then unit attributes)
PANEL_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "period",
    *(
        f"{side}_{field}"
        for side in ("employee", "customer")
        for field in (*COUNT_FIELDS, *RATE_FIELDS)
    ),
)

_EMPLOYEE_COLUMNS = ("employee_id", "unit_id", "hire_date", "termination_date")
_SPELL_COLUMNS = ("customer_id", "unit_id", "start_date", "end_date")
_ACTIVITY_COLUMNS = ("customer_id", "unit_id", "activity_date")


def build_panel(
    employees: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    activity: pd.DataFrame | None = None,
    units: pd.DataFrame | None = None,
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    activity_window: int = 1,
) -> pd.DataFrame:
    """Build the unit x period retention panel from employee and customer spells or activity.

    Parameters
    ----------
    employees : pandas.DataFrame
        Employment spells with the canonical columns ``employee_id``, ``unit_id``, ``hire_date``,
        ``termination_date`` (NaT while employed); extra columns are ignored.
    customers : pandas.DataFrame, optional
        Customer spells: ``customer_id``, ``unit_id``, ``start_date``, ``end_date`` (NaT while
        active). A table with ``activity_date`` and no ``start_date`` is taken as an activity log,
        as if passed as ``activity``.
    activity : pandas.DataFrame, optional
        Customer activity log instead of spells: ``customer_id``, ``unit_id``, ``activity_date``,
        optional ``revenue``. A customer is counted per unit it is active in.
    units : pandas.DataFrame, optional
        ``unit_id`` (unique) plus attributes (``region``, ...), joined onto every row. Its units
        get rows even when they have no spells at all.
    freq : {"M", "Q", "Y"}, default "M"
        Calendar months, quarters or years.
    start, end : str, pandas.Timestamp, pandas.Period or date, optional
        First and last period of the window. A string is read as a period at its own resolution
        (``"2023"``, ``"2023-06"``, ``"2023Q2"``, ``"2023-06-15"``): the window starts with the
        period holding its first day and ends with the period holding its last day. By default the
        window starts with the period of the earliest date in the data (the first hire, customer
        start or activity) and ends with the period of the latest date in the data (any hire,
        termination, customer start or end, or activity). Spells and activity outside the window
        still count where they reach into it.
    activity_window : int, default 1
        For an activity log: a customer is active in a period when it has activity in that period
        or in the ``activity_window - 1`` periods before it.

    Returns
    -------
    pandas.DataFrame
        One row per unit x period of the window, every unit (from the data and from ``units``)
        with every period, sorted by ``unit_id, period``; columns in this order:

        - ``unit_id`` (str), ``period`` (datetime64, the first day of the period);
        - ``employee_start``, ``employee_joined``, ``employee_left``, ``employee_retained``,
          ``employee_end`` (int64) and ``employee_retention``, ``employee_turnover`` (float64,
          NaN when the denominator is 0), as defined in the module docstring;
        - the same seven ``customer_*`` columns (zero counts and NaN rates when no customer table
          is given). From an activity log ``customer_start`` = active in the previous period,
          ``customer_end`` = active in this one, ``customer_retained`` = both,
          ``customer_joined`` = now and not before, ``customer_left`` = before and not now;
        - ``customer_revenue`` (float64, revenue of the activity dated in the period) when the
          activity log has a ``revenue`` column;
        - the attribute columns of ``units`` (missing for units absent from it).

    Raises
    ------
    InputError
        For an unknown ``freq``, a window that starts after it ends, a table without its canonical
        columns, a missing ``unit_id`` or start date, an end date before its start date, both
        ``customers`` and ``activity`` given, or a ``units`` table with repeated units. (Rows are
        not otherwise checked: clean raw extracts with :mod:`linkage.clean` first.)

    See Also
    --------
    linkage.panel.rollup : the same counts summed over units of a region (or any attribute).

    Examples
    --------
    One store, three employees in the first quarter of 2024: one hired before the window who
    leaves on the last day of February, one hired on 1 February, one hired and gone in March.

    >>> emp = pd.DataFrame({
    ...     "employee_id": ["a", "b", "c"], "unit_id": ["s1", "s1", "s1"],
    ...     "hire_date": pd.to_datetime(["2023-06-15", "2024-02-01", "2024-03-04"]),
    ...     "termination_date": pd.to_datetime(["2024-02-29", None, "2024-03-20"])})
    >>> panel = build_panel(emp, start="2024-01", end="2024-03")
    >>> short = lambda p, side: p.set_index("period").filter(like=side).rename(
    ...     columns=lambda c: c.removeprefix(side))
    >>> short(panel, "employee_")  # doctest: +NORMALIZE_WHITESPACE
                start  joined  left  retained  end  retention  turnover
    period
    2024-01-01      1       0     0         1    1        1.0       0.0
    2024-02-01      1       1     1         0    1        0.0       1.0
    2024-03-01      1       1     1         1    1        1.0       1.0

    Customers from an activity log (with revenue), active for two months after each visit:

    >>> act = pd.DataFrame({
    ...     "customer_id": ["x", "x", "y"], "unit_id": ["s1", "s1", "s1"],
    ...     "activity_date": pd.to_datetime(["2024-01-10", "2024-03-02", "2024-02-20"]),
    ...     "revenue": [10.0, 5.0, 2.5]})
    >>> panel = build_panel(emp, activity=act, start="2024-01", end="2024-04", activity_window=2)
    >>> short(panel, "customer_")  # doctest: +NORMALIZE_WHITESPACE
                start  joined  left  retained  end  retention  turnover  revenue
    period
    2024-01-01      0       1     0         0    1        NaN  0.000000     10.0
    2024-02-01      1       1     0         1    2        1.0  0.000000      2.5
    2024-03-01      2       0     0         2    2        1.0  0.000000      5.0
    2024-04-01      2       0     1         1    1        0.5  0.666667      0.0
    """
    freq = normalize_freq(freq)
    activity_window = window_periods(activity_window)

    _require_table(employees, _EMPLOYEE_COLUMNS, "employees")
    if customers is not None:
        if not isinstance(customers, pd.DataFrame):
            raise InputError(
                f"must be a pandas DataFrame, not {type(customers).__name__}", file="customers"
            )
        if "start_date" not in customers.columns and "activity_date" in customers.columns:
            if activity is not None:
                raise InputError("give customers either as spells or as an activity log, not both")
            customers, activity = None, customers
    if customers is not None and activity is not None:
        raise InputError(
            "give customers either as spells (customers=) or as an activity log (activity=), "
            "not both"
        )
    if customers is not None:
        _require_table(customers, _SPELL_COLUMNS, "customers")
    if activity is not None:
        _require_table(activity, _ACTIVITY_COLUMNS, "activity")
    if units is not None:
        _require_table(units, ("unit_id",), "units")

    # ---- dates to period codes --------------------------------------------------------------
    emp_unit = text_column(employees, "unit_id", "employees")
    emp_s, emp_e, emp_span = spell_codes(
        employees, "hire_date", "termination_date", "employees", freq
    )
    spans = [emp_span]
    if customers is not None:
        cus_unit = text_column(customers, "unit_id", "customers")
        cus_s, cus_e, cus_span = spell_codes(customers, "start_date", "end_date", "customers", freq)
        spans.append(cus_span)
    if activity is not None:
        act_unit = text_column(activity, "unit_id", "activity")
        act_dates = dates(activity, "activity_date", "activity")
        first_bad(act_dates.isna().to_numpy(), "have no activity_date", "activity", "activity_date")
        first_bad(
            activity["customer_id"].isna().to_numpy(),
            "have no customer_id",
            "activity",
            "customer_id",
        )
        act_codes = date_codes(act_dates, freq)
        spans.append((act_codes.min(), act_codes.max()) if len(act_codes) else None)

    # ---- the window ---------------------------------------------------------------------------
    lo, _, n_periods = window_bounds(spans, start, end, freq)

    # ---- units: every unit of the data and of the units table, sorted ---------------------------
    unit_sources = [emp_unit]
    if customers is not None:
        unit_sources.append(cus_unit)
    if activity is not None:
        unit_sources.append(act_unit)
    attrs = None
    if units is not None:
        unit_col, attrs = unit_attributes(units)
        unit_sources.append(unit_col)
    coded = [pd.factorize(u) for u in unit_sources]
    all_units = pd.Index(
        pd.concat([pd.Series(uniq, dtype="str") for _, uniq in coded], ignore_index=True)
    )
    unit_index = pd.Index(all_units.unique(), dtype="str").sort_values()
    n_units = len(unit_index)
    unit_codes = [unit_index.get_indexer(uniq)[codes] for codes, uniq in coded]

    # ---- counts on the unit x period grid -------------------------------------------------------
    grid = UnitPeriodGrid(n_units, n_periods, lo)
    counts = {"employee": grid.spell_counts(unit_codes[0], emp_s, emp_e)}
    k = 1
    revenue = None
    if customers is not None:
        counts["customer"] = grid.spell_counts(unit_codes[k], cus_s, cus_e)
        k += 1
    elif activity is not None:
        cust = pd.factorize(activity["customer_id"])[0].astype(np.int64)
        s_run, e_run, u_run = activity_spells(
            cust, unit_codes[k], act_codes, activity_window, n_units
        )
        counts["customer"] = grid.spell_counts(u_run, s_run, e_run)
        if "revenue" in activity.columns:
            revenue = grid.sums(unit_codes[k], act_codes, _revenue(activity))
        k += 1
    else:
        counts["customer"] = {
            f: np.zeros(n_units * n_periods, dtype=np.int64) for f in COUNT_FIELDS
        }

    return assemble_panel(unit_index, lo, n_periods, freq, counts, revenue, attrs)


# --------------------------------------------------------------------------------------------------
class UnitPeriodGrid:
    """A unit x period grid (periods ``lo .. lo + n_periods - 1``), flattened unit-major."""

    def __init__(self, n_units: int, n_periods: int, lo: int) -> None:
        self.n_units, self.n_periods, self.lo = n_units, n_periods, int(lo)
        self.hi = self.lo + n_periods - 1

    def points(self, unit: np.ndarray, code: np.ndarray) -> np.ndarray:
        """How many of the events at period ``code`` fall in each cell."""
        ok = (code >= self.lo) & (code <= self.hi)
        return np.bincount(
            unit[ok] * self.n_periods + (code[ok] - self.lo),
            minlength=self.n_units * self.n_periods,
        ).astype(np.int64)

    def sums(self, unit: np.ndarray, code: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Sum of ``weights`` of the events at period ``code`` in each cell (float64)."""
        ok = (code >= self.lo) & (code <= self.hi)
        return np.bincount(
            unit[ok] * self.n_periods + (code[ok] - self.lo),
            weights=weights[ok],
            minlength=self.n_units * self.n_periods,
        ).astype(np.float64)

    def cumulative(self, unit: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per unit, events at each period of the window and events up to each period.

        Returns ``(at, upto)`` of shapes (units, periods) and (units, periods + 1): ``at[:, k]``
        counts events at period ``lo + k``, ``upto[:, k]`` events at periods ``<= lo - 1 + k``.
        """
        width = self.n_periods + 1
        ok = code <= self.hi
        slot = np.maximum(code[ok] - (self.lo - 1), 0)  # slot 0 gathers everything before lo
        hist = np.bincount(unit[ok] * width + slot, minlength=self.n_units * width)
        hist = hist.reshape(self.n_units, width)
        return hist[:, 1:], np.cumsum(hist, axis=1)

    def spell_counts(self, unit: np.ndarray, s: np.ndarray, e: np.ndarray) -> dict[str, np.ndarray]:
        """The five counts of spells with start period ``s`` and end period ``e >= s`` (open: > hi).

        With ``S(m) = #{s <= m}`` and ``E(m) = #{e <= m}`` per unit (and ``e >= s``):
        at start ``#{s < m <= e} = S(m-1) - E(m-1)``; at end ``#{s <= m < e} = S(m) - E(m)``;
        joined ``#{s == m}``; left ``#{e == m}``; retained = at start minus those of them who
        left, i.e. ``start - (left - #{s == e == m})``.
        """
        unit = np.asarray(unit, dtype=np.int64)
        joined, s_upto = self.cumulative(unit, s)
        left, e_upto = self.cumulative(unit, e)
        start = s_upto[:, :-1] - e_upto[:, :-1]
        end = s_upto[:, 1:] - e_upto[:, 1:]
        same = s == e
        in_and_out = self.points(unit[same], s[same]).reshape(self.n_units, self.n_periods)
        retained = start - (left - in_and_out)
        grids = {"start": start, "joined": joined, "left": left, "retained": retained, "end": end}
        return {k: np.ascontiguousarray(v, dtype=np.int64).ravel() for k, v in grids.items()}


# ---- shared with linkage.panel.engines: the window, the units table, the assembly ---------------
def window_bounds(
    spans: Iterable[tuple[int, int] | None],
    start: DateLike | None,
    end: DateLike | None,
    freq: str,
) -> tuple[int, int, int]:
    """``(lo, hi, n_periods)`` of the window: ``start`` / ``end`` if given, else the data's range.

    ``spans`` holds the ``(lo, hi)`` period codes of each table (``None`` for an empty one). With
    no bound and no data the window is empty: ``(0, 0, 0)``. One given bound and no data: the
    window is that one period.
    """
    known = [sp for sp in spans if sp is not None]
    data_lo = min(sp[0] for sp in known) if known else None
    data_hi = max(sp[1] for sp in known) if known else None
    lo = bound_code(start, freq, side="start", name="start") if start is not None else data_lo
    hi = bound_code(end, freq, side="end", name="end") if end is not None else data_hi
    if lo is None:
        if hi is None:
            return 0, 0, 0
        lo = hi
    elif hi is None:
        hi = lo
    if lo > hi:
        raise InputError(
            f"the window starts ({period_starts([lo], freq)[0].astype('datetime64[D]')}) after it "
            f"ends ({period_starts([hi], freq)[0].astype('datetime64[D]')}); check start= and end="
            " (by default the window ends with the latest date in the data)"
        )
    return lo, hi, int(hi - lo + 1)


def unit_attributes(units: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The checked ``unit_id`` column of a units table (str) and its attributes indexed by it."""
    _require_table(units, ("unit_id",), "units")
    unit_col = text_column(units, "unit_id", "units")
    if unit_col.duplicated().any():
        first = int(np.flatnonzero(unit_col.duplicated().to_numpy())[0])
        raise InputError(
            f"unit {unit_col.iloc[first]!r} appears more than once",
            file="units",
            row=first + 1,
            column="unit_id",
        )
    attr_names = [c for c in units.columns if c != "unit_id"]
    clash = [c for c in attr_names if c in PANEL_COLUMNS or c == "customer_revenue"]
    if clash:
        raise InputError(
            f"attribute column {clash[0]!r} has the name of a panel column",
            file="units",
            column=clash[0],
        )
    attrs = units[attr_names].set_axis(pd.Index(unit_col.to_numpy(), name="unit_id"), axis=0)
    return unit_col, attrs


def assemble_panel(
    unit_index: pd.Index,
    lo: int,
    n_periods: int,
    freq: str,
    counts: dict[str, dict[str, np.ndarray]],
    revenue: np.ndarray | None,
    attrs: pd.DataFrame | None,
) -> pd.DataFrame:
    """The panel from the flat (unit-major) counts of both sides, revenue and unit attributes."""
    n_units = len(unit_index)
    columns: dict[str, object] = {
        "unit_id": unit_index.take(np.repeat(np.arange(n_units), n_periods)),
        "period": np.tile(period_starts(np.arange(lo, lo + n_periods), freq), n_units),
    }
    for side in ("employee", "customer"):
        c = counts[side]
        for field in COUNT_FIELDS:
            columns[f"{side}_{field}"] = c[field]
        columns[f"{side}_retention"] = ratio(c["retained"], c["start"])
        columns[f"{side}_turnover"] = ratio(c["left"], (c["start"] + c["end"]) / 2.0)
    if revenue is not None:
        columns["customer_revenue"] = revenue
    panel = pd.DataFrame(columns)
    panel["unit_id"] = panel["unit_id"].astype("str")
    if attrs is not None and len(attrs.columns):
        rows = attrs.reindex(unit_index).take(np.repeat(np.arange(n_units), n_periods))
        panel = pd.concat([panel, rows.reset_index(drop=True)], axis=1)
    return panel


def activity_spells(
    cust: np.ndarray, unit: np.ndarray, codes: np.ndarray, window: int, n_units: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn activity into spells: one per (customer, unit) and run of consecutive active periods.

    Activity at period ``a`` makes the pair active in ``a .. a + window - 1``. Sorted by pair and
    period, a new run begins where the pair changes or the gap to the previous activity exceeds
    ``window`` periods. A run from activity ``a_first`` to ``a_last`` is the spell that starts in
    ``a_first`` and ends (the customer is first inactive) in ``a_last + window``.
    """
    pair = cust * n_units + unit
    if len(pair) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    span = int(codes.max() - codes.min()) + 1
    if int(pair.max()) < np.iinfo(np.int64).max // (2 * span):  # one int64 key sorts faster
        order = np.argsort(pair * span + (codes - codes.min()))
    else:
        order = np.lexsort((codes, pair))
    pair, codes = pair[order], codes[order]
    new_pair = np.r_[True, pair[1:] != pair[:-1]]
    new_run = new_pair | np.r_[True, np.diff(codes) > window]
    starts = np.flatnonzero(new_run)
    ends = np.r_[starts[1:], len(pair)] - 1
    return codes[starts], codes[ends] + window, pair[starts] % n_units


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, NaN where ``den`` is 0."""
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _require_table(table: object, columns: Sequence[str], name: str) -> None:
    require_columns(
        as_frame(table, name),
        columns,
        file=name,
        what=f"{name} table",
        hint=canonical_hint(columns),
    )


def canonical_hint(columns: Sequence[str]) -> str:
    """What a missing panel input column means, for :func:`linkage.io.require_columns`."""
    return (
        f"the panel needs the canonical columns {', '.join(columns)} "
        "(map your export's names with linkage.clean)"
    )


def spell_codes(
    table: pd.DataFrame, start_col: str, end_col: str, name: str, freq: str
) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """Period codes of spell starts and ends, and the (min, max) code of all their dates (None
    when there are none). An open end gets a code after every period of any window."""
    s_dates = dates(table, start_col, name)
    e_dates = dates(table, end_col, name)
    first_bad(s_dates.isna().to_numpy(), f"have no {start_col}", name, start_col)
    before = (e_dates < s_dates).to_numpy()
    first_bad(before, f"end ({end_col}) before they start ({start_col})", name, end_col)
    s = date_codes(s_dates, freq)
    e = date_codes(e_dates, freq)
    open_ = e == MISSING
    if len(s) == 0:
        return s, e, None
    span = (int(s.min()), int(max(s.max(), e[~open_].max() if (~open_).any() else s.max())))
    # an open spell ends after every period of any window: beyond the largest code in play
    e = np.where(open_, np.iinfo(np.int64).max // 4, e)
    return s, e, span


def _revenue(activity: pd.DataFrame) -> np.ndarray:
    """The activity log's revenue as float64, missing amounts as 0 (they add nothing)."""
    try:
        values = pd.to_numeric(activity["revenue"]).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"does not hold numbers ({exc})", file="activity", column="revenue"
        ) from None
    return np.nan_to_num(values, nan=0.0)
