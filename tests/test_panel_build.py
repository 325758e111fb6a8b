"""linkage.panel.build_panel: hand-worked boundary cases, an independent slow oracle, invariants.

The oracle below is written straight from the sentences of docs/domain.md ("Definitions"), with
plain Python dates and loops over units, periods and spells; it shares no code with the package.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.panel import PANEL_COLUMNS, build_panel

D = dt.date
SIDES = ("employee", "customer")
COUNTS = ("start", "joined", "left", "retained", "end")


# ---------------------------------------------------------------------------------------------
# the oracle: docs/domain.md, sentence by sentence
def _months(freq):
    return {"M": 1, "Q": 3, "Y": 12}[freq]


def _add_months(day: dt.date, k: int) -> dt.date:
    n = day.year * 12 + day.month - 1 + k
    return D(n // 12, n % 12 + 1, 1)


def _period_of(day: dt.date, freq: str) -> dt.date:
    """First day of the calendar period holding ``day``."""
    size = _months(freq)
    return D(day.year, (day.month - 1) // size * size + 1, 1)


def _periods(first: dt.date, last: dt.date, freq: str):
    """[(m_start, m_end)] from the period of ``first`` to the period of ``last``."""
    out, m_start = [], _period_of(first, freq)
    while m_start <= last:
        nxt = _add_months(m_start, _months(freq))
        out.append((m_start, nxt - dt.timedelta(days=1)))
        m_start = nxt
    return out


def _spell_row(spells, m_start, m_end):
    """The five counts and two rates of docs/domain.md for spells [(s, e or None)] in one period."""
    at_start = [(s, e) for s, e in spells if s < m_start and (e is None or e >= m_start)]
    retained = [(s, e) for s, e in at_start if e is None or e > m_end]
    at_end = [(s, e) for s, e in spells if s <= m_end and (e is None or e > m_end)]
    left = [(s, e) for s, e in spells if e is not None and m_start <= e <= m_end]
    joined = [(s, e) for s, e in spells if m_start <= s <= m_end]
    row = {"start": len(at_start), "joined": len(joined), "left": len(left),
           "retained": len(retained), "end": len(at_end)}
    row["retention"] = row["retained"] / row["start"] if row["start"] else float("nan")
    avg = (row["start"] + row["end"]) / 2
    row["turnover"] = row["left"] / avg if avg else float("nan")
    return row


def _activity_spells(activity, unit, m_start, m_end, freq, window):
    """Activity log -> per-period rows via 'active in m-1' / 'active in m' (docs/domain.md)."""
    size = _months(freq)
    prev_start, prev_end = _add_months(m_start, -size), m_start - dt.timedelta(days=1)

    def active(lo_start, hi_end, days):
        lower = _add_months(lo_start, -size * (window - 1))
        return any(lower <= d <= hi_end for d in days)

    by_customer: dict[str, list] = {}
    for c, u, d in activity:
        if u == unit:
            by_customer.setdefault(c, []).append(d)
    before = {c for c, days in by_customer.items() if active(prev_start, prev_end, days)}
    now = {c for c, days in by_customer.items() if active(m_start, m_end, days)}
    row = {"start": len(before), "joined": len(now - before), "left": len(before - now),
           "retained": len(before & now), "end": len(now)}
    row["retention"] = row["retained"] / row["start"] if row["start"] else float("nan")
    avg = (row["start"] + row["end"]) / 2
    row["turnover"] = row["left"] / avg if avg else float("nan")
    return row


def oracle(employees, customers=None, activity=None, units=(), freq="M", start=None, end=None, window=1):
    """employees / customers: [(unit, s, e)]; activity: [(customer, unit, date)]; dates as dt.date."""
    all_dates = [d for _, s, e in employees + (customers or []) for d in (s, e) if d is not None]
    all_dates += [d for _, _, d in activity or []]
    first = start if start is not None else min(all_dates)
    last = end if end is not None else max(all_dates)
    unit_ids = sorted({u for u, _, _ in employees + (customers or [])}
                      | {u for _, u, _ in activity or []} | set(units))
    rows = []
    for u in unit_ids:
        for m_start, m_end in _periods(first, last, freq):
            row = {"unit_id": u, "period": pd.Timestamp(m_start)}
            emp = _spell_row([(s, e) for uu, s, e in employees if uu == u], m_start, m_end)
            row.update({f"employee_{k}": v for k, v in emp.items()})
            if activity is not None:
                cus = _activity_spells(activity, u, m_start, m_end, freq, window)
            else:
                cus = _spell_row([(s, e) for uu, s, e in customers or [] if uu == u], m_start, m_end)
            row.update({f"customer_{k}": v for k, v in cus.items()})
            rows.append(row)
    out = pd.DataFrame(rows, columns=list(PANEL_COLUMNS))
    out["unit_id"] = out["unit_id"].astype("str")
    out["period"] = out["period"].astype("datetime64[us]")
    for col in out.columns[2:]:
        out[col] = out[col].astype("float64" if col.endswith(("retention", "turnover")) else "int64")
    return out


# ---------------------------------------------------------------------------------------------
# helpers to make canonical tables from tuples
def emp_table(spells, ids=None):
    return pd.DataFrame({
        "employee_id": ids or [f"e{i}" for i in range(len(spells))],
        "unit_id": pd.Series([u for u, _, _ in spells], dtype="str"),
        "hire_date": pd.to_datetime(pd.Series([s for _, s, _ in spells], dtype="object")),
        "termination_date": pd.to_datetime(pd.Series([e for _, _, e in spells], dtype="object")),
    })


def cus_table(spells):
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(len(spells))],
        "unit_id": pd.Series([u for u, _, _ in spells], dtype="str"),
        "start_date": pd.to_datetime(pd.Series([s for _, s, _ in spells], dtype="object")),
        "end_date": pd.to_datetime(pd.Series([e for _, _, e in spells], dtype="object")),
    })


def act_table(rows, revenue=None):
    out = pd.DataFrame({
        "customer_id": pd.Series([c for c, _, _ in rows], dtype="str"),
        "unit_id": pd.Series([u for _, u, _ in rows], dtype="str"),
        "activity_date": pd.to_datetime(pd.Series([d for _, _, d in rows], dtype="object")),
    })
    if revenue is not None:
        out["revenue"] = revenue
    return out


def cell(panel, unit, period, side="employee"):
    """{count: value} of one unit-period row."""
    row = panel[(panel["unit_id"] == unit) & (panel["period"] == pd.Timestamp(period))]
    assert len(row) == 1, row
    r = row.iloc[0]
    return {k: r[f"{side}_{k}"] for k in (*COUNTS, "retention", "turnover")}


def counts(panel, unit, period, side="employee"):
    c = cell(panel, unit, period, side)
    return tuple(int(c[k]) for k in COUNTS)  # (start, joined, left, retained, end)


# ---------------------------------------------------------------------------------------------
# hand-worked boundaries (each expected tuple is (start, joined, left, retained, end), worked by hand
# from the docs/domain.md sentences)
def test_hired_on_the_first_of_the_month_joins_that_month_and_is_at_start_the_next():
    p = build_panel(emp_table([("u", D(2024, 3, 1), None)]), start="2024-02", end="2024-04")
    assert counts(p, "u", "2024-02-01") == (0, 0, 0, 0, 0)
    assert counts(p, "u", "2024-03-01") == (0, 1, 0, 0, 1)
    assert counts(p, "u", "2024-04-01") == (1, 0, 0, 1, 1)


def test_left_on_the_last_day_leaves_that_month_and_is_not_at_its_end():
    p = build_panel(emp_table([("u", D(2023, 1, 9), D(2024, 3, 31))]), start="2024-03", end="2024-04")
    assert counts(p, "u", "2024-03-01") == (1, 0, 1, 0, 0)
    assert counts(p, "u", "2024-04-01") == (0, 0, 0, 0, 0)
    c = cell(p, "u", "2024-03-01")
    assert c["retention"] == 0.0 and c["turnover"] == 2.0  # 1 / ((1 + 0) / 2)


def test_left_on_the_first_day_was_at_start_and_left():
    # e >= m_start: at start; e <= m_end: not at end, not retained
    p = build_panel(emp_table([("u", D(2023, 1, 9), D(2024, 3, 1))]), start="2024-02", end="2024-03")
    assert counts(p, "u", "2024-02-01") == (1, 0, 0, 1, 1)
    assert counts(p, "u", "2024-03-01") == (1, 0, 1, 0, 0)


def test_left_and_rehired_in_the_same_month_counts_both_spells():
    p = build_panel(emp_table([("u", D(2023, 5, 2), D(2024, 3, 10)), ("u", D(2024, 3, 20), None)],
                              ids=["a", "a"]), start="2024-03", end="2024-04")
    assert counts(p, "u", "2024-03-01") == (1, 1, 1, 0, 1)
    assert counts(p, "u", "2024-04-01") == (1, 0, 0, 1, 1)


def test_left_and_rehired_months_later_leaves_a_gap():
    p = build_panel(emp_table([("u", D(2024, 1, 5), D(2024, 2, 10)), ("u", D(2024, 4, 1), None)],
                              ids=["a", "a"]), start="2024-01", end="2024-04")
    assert [counts(p, "u", f"2024-0{m}-01") for m in (1, 2, 3, 4)] == [
        (0, 1, 0, 0, 1), (1, 0, 1, 0, 0), (0, 0, 0, 0, 0), (0, 1, 0, 0, 1)]


def test_hired_and_left_in_the_same_month_joins_and_leaves_only():
    p = build_panel(emp_table([("u", D(2024, 3, 5), D(2024, 3, 20)), ("u", D(2024, 3, 7), D(2024, 3, 7))]),
                    start="2024-03", end="2024-03")
    assert counts(p, "u", "2024-03-01") == (0, 2, 2, 0, 0)
    c = cell(p, "u", "2024-03-01")
    assert np.isnan(c["retention"]) and np.isnan(c["turnover"])  # both denominators are 0


def test_open_spells_run_to_the_end_of_the_window():
    p = build_panel(emp_table([("u", D(2020, 6, 30), None)]), start="2024-11", end="2025-01")
    assert [counts(p, "u", d) for d in ("2024-11-01", "2024-12-01", "2025-01-01")] == [(1, 0, 0, 1, 1)] * 3


def test_spells_before_and_after_the_window_count_nowhere_but_their_unit_stays():
    spells = [("u", D(2020, 1, 1), D(2023, 12, 31)), ("u", D(2024, 3, 1), None), ("v", D(2019, 1, 1), None)]
    p = build_panel(emp_table(spells), start="2024-01", end="2024-02")
    assert len(p) == 4 and p["unit_id"].tolist() == ["u", "u", "v", "v"]
    assert counts(p, "u", "2024-01-01") == (0, 0, 0, 0, 0)
    assert counts(p, "u", "2024-02-01") == (0, 0, 0, 0, 0)
    assert counts(p, "v", "2024-01-01") == (1, 0, 0, 1, 1)


def test_empty_periods_are_explicit_rows_with_zero_counts_and_nan_rates():
    p = build_panel(emp_table([("u", D(2024, 1, 3), D(2024, 1, 9)), ("u", D(2024, 4, 3), None)]))
    assert p["period"].tolist() == list(pd.date_range("2024-01-01", "2024-04-01", freq="MS"))
    gap = p[p["period"].isin(pd.to_datetime(["2024-02-01", "2024-03-01"]))]
    assert (gap[[f"employee_{c}" for c in COUNTS]] == 0).all().all()
    assert gap[["employee_retention", "employee_turnover", "customer_retention"]].isna().all().all()


def test_zero_start_gives_nan_retention_but_a_turnover():
    # start 0, joined 2, one leaves: retention NaN (no one at start), turnover 1 / ((0 + 1) / 2) = 2
    p = build_panel(emp_table([("u", D(2024, 3, 5), D(2024, 3, 20)), ("u", D(2024, 3, 7), None)]),
                    start="2024-03", end="2024-03")
    c = cell(p, "u", "2024-03-01")
    assert np.isnan(c["retention"]) and c["turnover"] == 2.0


def test_quarterly_bounds():
    spells = [("u", D(2024, 3, 31), D(2024, 4, 1)),   # joins in Q1, leaves on the first day of Q2
              ("u", D(2024, 1, 1), D(2024, 6, 30)),   # joins on Q1's first day, leaves Q2's last
              ("u", D(2023, 12, 31), None)]           # at start of Q1
    p = build_panel(emp_table(spells), freq="Q", start="2024-01", end="2024-09")
    assert p["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]))
    assert counts(p, "u", "2024-01-01") == (1, 2, 0, 1, 3)
    assert counts(p, "u", "2024-04-01") == (3, 0, 2, 1, 1)
    assert counts(p, "u", "2024-07-01") == (1, 0, 0, 1, 1)
    assert cell(p, "u", "2024-04-01")["turnover"] == 1.0  # 2 / ((3 + 1) / 2)


def test_yearly_bounds():
    spells = [("u", D(2023, 12, 31), D(2024, 1, 1)), ("u", D(2023, 1, 1), D(2023, 12, 31))]
    p = build_panel(emp_table(spells), freq="Y")
    assert p["period"].tolist() == list(pd.to_datetime(["2023-01-01", "2024-01-01"]))
    assert counts(p, "u", "2023-01-01") == (0, 2, 1, 0, 1)
    assert counts(p, "u", "2024-01-01") == (1, 0, 1, 0, 0)


def test_default_window_runs_from_the_first_to_the_latest_date_on_either_side():
    emp = emp_table([("u", D(2024, 2, 15), D(2024, 5, 2))])
    cus = cus_table([("u", D(2024, 3, 1), D(2024, 7, 31))])
    p = build_panel(emp, cus)
    assert p["period"].min() == pd.Timestamp("2024-02-01")
    assert p["period"].max() == pd.Timestamp("2024-07-01")
    p = build_panel(emp, cus, freq="Q")
    assert p["period"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]))


def test_window_bounds_are_read_at_their_own_resolution():
    emp = emp_table([("u", D(2020, 1, 1), None)])
    p = build_panel(emp, start="2023-11", end="2024")
    assert p["period"].min() == pd.Timestamp("2023-11-01")
    assert p["period"].max() == pd.Timestamp("2024-12-01")
    p = build_panel(emp, freq="Q", start=pd.Timestamp("2024-05-20"), end=pd.Period("2024-08", "M"))
    assert p["period"].tolist() == list(pd.to_datetime(["2024-04-01", "2024-07-01"]))


def test_activity_log_active_in_previous_and_current_period():
    rows = [("x", "u", D(2024, 1, 31)), ("x", "u", D(2024, 2, 1)), ("x", "u", D(2024, 2, 20)),
            ("y", "u", D(2024, 2, 10)), ("x", "u", D(2024, 4, 5))]
    p = build_panel(emp_table([]), activity=act_table(rows))
    side = "customer"
    assert counts(p, "u", "2024-01-01", side) == (0, 1, 0, 0, 1)
    assert counts(p, "u", "2024-02-01", side) == (1, 1, 0, 1, 2)
    assert counts(p, "u", "2024-03-01", side) == (2, 0, 2, 0, 0)
    assert counts(p, "u", "2024-04-01", side) == (0, 1, 0, 0, 1)
    assert cell(p, "u", "2024-02-01", side)["retention"] == 1.0


def test_activity_window_of_three_periods():
    # activity in Jan and Apr: active Jan..Mar and Apr..Jun with window 3 -> one unbroken run
    rows = [("x", "u", D(2024, 1, 15)), ("x", "u", D(2024, 4, 2)), ("y", "u", D(2024, 2, 1))]
    p = build_panel(emp_table([]), activity=act_table(rows), start="2024-01", end="2024-08",
                    activity_window=3)
    got = [counts(p, "u", f"2024-0{m}-01", "customer") for m in range(1, 9)]
    assert got == [(0, 1, 0, 0, 1), (1, 1, 0, 1, 2), (2, 0, 0, 2, 2), (2, 0, 0, 2, 2),
                   (2, 0, 1, 1, 1), (1, 0, 0, 1, 1), (1, 0, 1, 0, 0), (0, 0, 0, 0, 0)]


def test_activity_before_the_window_counts_in_its_first_period():
    rows = [("x", "u", D(2023, 12, 28)), ("x", "u", D(2024, 1, 3))]
    p = build_panel(emp_table([]), activity=act_table(rows), start="2024-01")
    assert counts(p, "u", "2024-01-01", "customer") == (1, 0, 0, 1, 1)


def test_activity_customer_in_two_units_counts_in_each_and_revenue_is_summed():
    rows = [("x", "u", D(2024, 1, 3)), ("x", "v", D(2024, 1, 4)), ("x", "u", D(2024, 1, 20))]
    p = build_panel(emp_table([]), act_table(rows, revenue=[1.5, 2.0, np.nan]))
    assert list(p.columns) == [*PANEL_COLUMNS, "customer_revenue"]
    assert p["customer_end"].tolist() == [1, 1]
    assert p["customer_revenue"].tolist() == [1.5, 2.0]  # a missing amount adds nothing


def test_columns_dtypes_order_and_unit_attributes():
    units = pd.DataFrame({"unit_id": ["007", "b"], "region": ["N", "S"]})
    p = build_panel(emp_table([("007", D(2024, 1, 2), None), ("z", D(2024, 2, 2), None)]),
                    cus_table([("b", D(2024, 1, 9), None)]), units=units)
    assert list(p.columns) == [*PANEL_COLUMNS, "region"]
    assert p["unit_id"].tolist() == ["007", "007", "b", "b", "z", "z"]
    assert p["region"].iloc[:4].tolist() == ["N", "N", "S", "S"] and p["region"].iloc[4:].isna().all()
    assert p["unit_id"].dtype == "str" and p["period"].dtype.kind == "M"
    for side in SIDES:
        assert all(p[f"{side}_{c}"].dtype == np.int64 for c in COUNTS)
        assert p[f"{side}_retention"].dtype == np.float64 and p[f"{side}_turnover"].dtype == np.float64


def test_no_customer_table_gives_zero_customer_counts_and_nan_rates():
    p = build_panel(emp_table([("u", D(2024, 1, 2), None)]))
    assert (p["customer_end"] == 0).all() and p["customer_retention"].isna().all()


def test_activity_log_passed_as_customers_is_recognised():
    rows = [("x", "u", D(2024, 1, 3))]
    a = build_panel(emp_table([]), act_table(rows))
    b = build_panel(emp_table([]), activity=act_table(rows))
    pd.testing.assert_frame_equal(a, b)


def test_no_data_and_no_window_gives_an_empty_panel_with_the_columns():
    p = build_panel(emp_table([]))
    assert len(p) == 0 and list(p.columns) == list(PANEL_COLUMNS)


def test_units_table_alone_with_a_window_gives_zero_rows():
    p = build_panel(emp_table([]), units=pd.DataFrame({"unit_id": ["a"]}), start="2024-01", end="2024-02")
    assert len(p) == 2 and (p["employee_start"] == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq": "W"}, "freq must be"),
        ({"start": "2024-05", "end": "2024-01"}, "starts .* after it"),
        ({"start": "not a date"}, "start='not a date' is not a date"),
        ({"activity_window": 0}, "activity_window"),
        ({"units": pd.DataFrame({"unit_id": ["u", "u"]})}, "units, row 2, column 'unit_id'.*more than once"),
        ({"units": pd.DataFrame({"unit_id": ["u"], "period": [1]})}, "name of a panel column"),
        ({"customers": pd.DataFrame({"customer_id": []}), "activity": act_table([])}, "not both"),
        ({"customers": pd.DataFrame({"customer_id": ["c"], "unit_id": ["u"]})}, "customers, column 'start_date': the customers table has no column"),
    ],
)
def test_unusable_arguments_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        build_panel(emp_table([("u", D(2024, 1, 2), None)]), **kwargs)


def test_unusable_rows_raise_input_error_naming_row_and_column():
    bad = emp_table([("u", D(2024, 1, 2), None), ("u", D(2024, 3, 2), D(2024, 2, 1))])
    with pytest.raises(InputError, match=r"employees, row 2, column 'termination_date'"):
        build_panel(bad)
    bad = emp_table([("u", D(2024, 1, 2), None), (None, D(2024, 3, 2), None)])
    with pytest.raises(InputError, match=r"employees, row 2, column 'unit_id'"):
        build_panel(bad)
    bad = emp_table([("u", None, None)])
    with pytest.raises(InputError, match=r"employees, row 1, column 'hire_date'"):
        build_panel(bad)
    with pytest.raises(InputError, match=r"employees, column 'hire_date': the employees table has no column 'hire_date'"):
        build_panel(pd.DataFrame({"employee_id": [], "unit_id": [], "termination_date": []}))


# ---------------------------------------------------------------------------------------------
# hypothesis: cell by cell against the oracle, and the invariants
UNITS = ["u1", "u2", "007"]
days = st.dates(min_value=D(2019, 10, 1), max_value=D(2021, 6, 30))


@st.composite
def spells(draw, max_size=14):
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        s = draw(days)
        length = draw(st.one_of(st.none(), st.integers(0, 500)))
        out.append((draw(st.sampled_from(UNITS)), s, None if length is None else s + dt.timedelta(days=length)))
    return out


@st.composite
def windows(draw):
    if draw(st.booleans()):
        return None, None
    a = draw(st.dates(min_value=D(2019, 6, 1), max_value=D(2022, 6, 1)))
    b = draw(st.dates(min_value=a, max_value=D(2022, 12, 31)))
    return D(a.year, a.month, 1), b


def _window_kwargs(window):
    a, b = window
    return {} if a is None else {"start": f"{a:%Y-%m}", "end": f"{b:%Y-%m}"}


def _oracle_window(window):
    a, b = window
    if a is None:
        return {}
    return {"start": a, "end": D(b.year, b.month, 1)}


SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(emp=spells(), cus=spells(), freq=st.sampled_from(["M", "Q", "Y"]), window=windows())
def test_spells_match_the_oracle_cell_by_cell(emp, cus, freq, window):
    if not emp and not cus:
        return
    got = build_panel(emp_table(emp), cus_table(cus), freq=freq, **_window_kwargs(window))
    want = oracle(emp, cus, freq=freq, **_oracle_window(window))
    pd.testing.assert_frame_equal(got, want)


@st.composite
def activity_rows(draw):
    n = draw(st.integers(1, 25))
    return [(draw(st.sampled_from(["x", "y", "z", "w"])), draw(st.sampled_from(UNITS)), draw(days))
            for _ in range(n)]


@SETTINGS
@given(emp=spells(max_size=4), act=activity_rows(), freq=st.sampled_from(["M", "Q"]),
       window=windows(), activity_window=st.integers(1, 4))
def test_activity_log_matches_the_oracle_cell_by_cell(emp, act, freq, window, activity_window):
    got = build_panel(emp_table(emp), activity=act_table(act), freq=freq,
                      activity_window=activity_window, **_window_kwargs(window))
    want = oracle(emp, activity=act, freq=freq, window=activity_window, **_oracle_window(window))
    pd.testing.assert_frame_equal(got, want)


def _left_among_at_start(spells, panel):
    """Per panel row: spells at start of the period that left in it (plain Python)."""
    out = []
    for u, p in zip(panel["unit_id"], panel["period"]):
        m_start = p.date()
        m_end = (p + pd.offsets.MonthEnd(0)).date()
        out.append(sum(1 for uu, s, e in spells if uu == u and s < m_start and e is not None
                       and m_start <= e <= m_end))
    return np.array(out, dtype=np.int64)


@SETTINGS
@given(emp=spells(), cus=spells(), seed=st.integers(0, 2**32 - 1))
def test_invariants_and_row_order_and_no_mutation(emp, cus, seed):
    if not emp:
        return
    e_tab, c_tab = emp_table(emp), cus_table(cus)
    e_copy, c_copy = copy.deepcopy(e_tab), copy.deepcopy(c_tab)
    panel = build_panel(e_tab, c_tab)
    pd.testing.assert_frame_equal(e_tab, e_copy)
    pd.testing.assert_frame_equal(c_tab, c_copy)
    for side in SIDES:
        c = {k: panel[f"{side}_{k}"].to_numpy() for k in COUNTS}
        assert (c["retained"] <= c["start"]).all()
        assert (c["start"] + c["joined"] - c["left"] == c["end"]).all()
        assert (c["retained"] >= 0).all() and (c["end"] >= 0).all()
    left_at_start = _left_among_at_start(emp, panel)
    assert (panel["employee_retained"].to_numpy() + left_at_start == panel["employee_start"].to_numpy()).all()
    rng = np.random.default_rng(seed)
    shuffled = build_panel(e_tab.iloc[rng.permutation(len(e_tab))], c_tab.iloc[rng.permutation(len(c_tab))])
    pd.testing.assert_frame_equal(panel, shuffled)


@SETTINGS
@given(act=activity_rows(), activity_window=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_activity_invariants_and_row_order(act, activity_window, seed):
    a_tab = act_table(act, revenue=np.arange(len(act), dtype=float))
    a_copy = copy.deepcopy(a_tab)
    panel = build_panel(emp_table([]), activity=a_tab, activity_window=activity_window)
    pd.testing.assert_frame_equal(a_tab, a_copy)
    c = {k: panel[f"customer_{k}"].to_numpy() for k in COUNTS}
    assert (c["retained"] + c["left"] == c["start"]).all()   # everyone who leaves was active before
    assert (c["retained"] + c["joined"] == c["end"]).all()
    assert panel["customer_revenue"].sum() == pytest.approx(a_tab["revenue"].sum())
    shuffled = a_tab.iloc[np.random.default_rng(seed).permutation(len(a_tab))]
    pd.testing.assert_frame_equal(panel, build_panel(emp_table([]), activity=shuffled,
                                                     activity_window=activity_window))


def test_iso_date_strings_are_read_and_other_text_is_refused():
    emp = pd.DataFrame({"employee_id": ["a"], "unit_id": ["u"], "hire_date": ["2024-01-05"],
                        "termination_date": [None]})
    assert build_panel(emp, end="2024-02")["employee_end"].tolist() == [1, 1]
    with pytest.raises(InputError, match="employees, column 'hire_date': does not hold dates"):
        build_panel(emp.assign(hire_date=["last Tuesday"]))
