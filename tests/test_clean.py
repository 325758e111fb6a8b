"""linkage.clean: canonical typed tables, every defective row set aside with one reason."""

from __future__ import annotations

import pathlib

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from linkage.clean import (
    REASONS,
    CleanResult,
    clean_activity,
    clean_customers,
    clean_employees,
    clean_units,
    parse_dates,
)
from linkage.errors import InputError
from linkage.io import load_mapping, read_table
from linkage.io.schemas import check_typed

DATA = pathlib.Path(__file__).resolve().parent / "data"
AS_OF = "2024-06-30"


def _emp(rows, columns=("employee_id", "unit_id", "hire_date", "termination_date")):
    return pd.DataFrame(rows, columns=list(columns), dtype="str")


def _reasons(result: CleanResult) -> list[tuple[int, str]]:
    return list(zip(result.rejects["row"].tolist(), result.rejects["reason"].tolist()))


def _accounting_adds_up(result: CleanResult, n_rows: int) -> None:
    report = result.report.set_index("reason")["n"]
    assert report.sum() == n_rows
    assert report["kept"] == len(result.data)
    assert report.drop("kept").sum() == len(result.rejects)
    by_reason = result.rejects["reason"].value_counts()
    for reason, n in report.drop("kept").items():
        assert by_reason.get(reason, 0) == n


# -- the fixture export: one row of each reason -----------------------------------------------------


def test_hr_export_fixture_every_reason_once():
    mapping = load_mapping(DATA / "mapping.yaml")
    units = clean_units(read_table(DATA / "stores.csv"), mapping=mapping, source="stores.csv")
    raw = read_table(DATA / "hr_export.csv")
    result = clean_employees(raw, mapping=mapping, source="hr_export.csv", units=units,
                             as_of=AS_OF)
    # hand-counted from tests/data/hr_export.csv (13 data rows)
    assert _reasons(result) == [
        (3, "duplicate_row"),
        (4, "missing_identifier"),
        (5, "missing_date"),
        (6, "unparseable_date"),
        (7, "impossible_date"),
        (8, "end_before_start"),
        (9, "future_date"),
        (10, "unknown_unit"),
        (11, "overlapping_spell"),
    ]
    assert result.rejects["column"].tolist() == [
        "", "Employee ID", "Hire Date", "Hire Date", "Hire Date", "Termination Date", "Hire Date",
        "Cost Center", "Hire Date",
    ]
    assert result.rejects["file"].unique().tolist() == ["hr_export.csv"]
    # original cells, under the file's own column names
    assert result.rejects.loc[4, "Hire Date"] == "02/30/2022"
    assert result.rejects.loc[7, "Cost Center"] == "099"
    _accounting_adds_up(result, 13)
    data = result.data
    assert data["employee_id"].tolist() == ["E001", "E002", "E010", "E002"]  # E010 trimmed
    assert data["unit_id"].tolist() == ["007", "007", "008", "008"]
    assert data["hire_date"].tolist() == [pd.Timestamp(d) for d in
                                          ("2022-01-15", "2022-03-01", "2022-07-01", "2023-07-15")]
    assert data["termination_date"].isna().tolist() == [True, False, True, True]
    assert data["termination_type"].tolist()[1::2] == ["Voluntary", "Transfer"]
    assert data["termination_type"].isna().tolist()[::2] == [True, True]
    check_typed(data, table="employees")
    assert str(result).splitlines()[0] == "hr_export.csv: 13 rows read, 4 kept, 9 set aside"


def test_report_shape_is_stable_with_zeros():
    result = clean_employees(_emp([["a", "1", "2020-01-01", None]]), as_of=AS_OF)
    assert result.report["reason"].tolist() == [
        "kept", "duplicate_row", "missing_identifier", "missing_date", "unparseable_date",
        "impossible_date", "end_before_start", "future_date", "unknown_unit", "overlapping_spell",
    ]
    assert result.report["n"].tolist() == [1] + [0] * 9
    assert result.report["file"].unique().tolist() == ["employees"]
    assert set(result.report["reason"]) - {"kept"} <= set(REASONS)


# -- each reason on a tiny table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([["a", "1", "2020-01-01", None], ["a", "1", "2020-01-01", None]], [(2, "duplicate_row")]),
        ([["a", "1", "2020-01-01", None], ["  ", "1", "2020-01-01", None]],
         [(2, "missing_identifier")]),
        ([["a", None, "2020-01-01", None]], [(1, "missing_identifier")]),
        ([["a", "1", None, "2021-01-01"]], [(1, "missing_date")]),
        ([["a", "1", "2020-01-01", "later"]], [(1, "unparseable_date")]),
        ([["a", "1", "2021-13-01", None]], [(1, "impossible_date")]),
        ([["a", "1", "1850-01-01", None]], [(1, "impossible_date")]),
        ([["a", "1", "2020-02-01", "2020-01-31"]], [(1, "end_before_start")]),
        ([["a", "1", "2020-02-01", "2024-07-01"]], [(1, "future_date")]),
        ([["a", "1", "2020-01-01", None], ["a", "1", "2021-01-01", None]],
         [(2, "overlapping_spell")]),
    ],
)
def test_each_reason(rows, expected):
    result = clean_employees(_emp(rows), as_of=AS_OF)
    assert _reasons(result) == expected
    _accounting_adds_up(result, len(rows))


def test_duplicates_are_judged_on_trimmed_cells():
    raw = pd.DataFrame({"customer_id": ["c", " c "], "unit_id": ["1", "1 "],
                        "activity_date": ["2024-01-05", "2024-01-05"], "revenue": ["2", "2"]})
    assert _reasons(clean_activity(raw, as_of=AS_OF)) == [(2, "duplicate_row")]


def test_first_reason_wins():
    # missing id and a bad date: reported once, as the earlier reason in REASONS
    result = clean_employees(_emp([[None, "1", "soon", None]]), as_of=AS_OF)
    assert _reasons(result) == [(1, "missing_identifier")]


def test_unknown_unit_only_with_a_units_table():
    raw = _emp([["a", "1", "2020-01-01", None], ["b", "2", "2020-01-01", None]])
    assert len(clean_employees(raw, as_of=AS_OF).data) == 2
    units = pd.DataFrame({"unit_id": [" 1 "]})  # trimmed like the extract
    result = clean_employees(raw, units=units, as_of=AS_OF)
    assert _reasons(result) == [(2, "unknown_unit")]


def test_same_day_end_is_not_before_start_and_as_of_day_is_not_future():
    result = clean_employees(_emp([["a", "1", "2020-01-01", "2020-01-01"],
                                   ["b", "1", "2024-06-30", None]]), as_of=AS_OF)
    assert len(result.data) == 2


def test_future_default_is_today():
    tomorrow = (pd.Timestamp.today().normalize() + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    result = clean_employees(_emp([["a", "1", tomorrow, None], ["b", "1", "2020-01-01", None]]))
    assert _reasons(result) == [(1, "future_date")]


def test_open_end_placeholder_9999():
    result = clean_employees(_emp([["a", "1", "2020-01-01", "9999-12-31"]]), as_of=AS_OF)
    assert len(result.data) == 1 and pd.isna(result.data["termination_date"].iloc[0])


# -- overlapping spells -------------------------------------------------------------------------------


def test_overlap_keeps_the_earliest_and_judges_later_spells_against_kept_ones():
    rows = [
        ["a", "1", "2020-06-01", "2020-12-31"],  # B: overlaps A -> set aside
        ["a", "1", "2020-01-01", "2020-08-31"],  # A: earliest, kept
        ["a", "1", "2020-10-01", "2021-03-31"],  # C: overlaps only B (set aside) -> kept
        ["a", "1", "2021-03-31", None],          # D: starts the day C ends: no overlap
        ["a", "2", "2020-06-01", None],          # another unit: not an overlap
        ["b", "1", "2020-06-01", None],          # another person
        ["a", "1", "2021-03-31", "2021-04-30"],  # E: same start as D, ends first -> kept
    ]
    result = clean_employees(_emp(rows), as_of=AS_OF)
    # D and E start on the same day: the one ending first counts as the earliest
    assert _reasons(result) == [(1, "overlapping_spell"), (4, "overlapping_spell")]


def test_overlap_open_spell_swallows_later_ones():
    rows = [["a", "1", "2020-01-01", None], ["a", "1", "2022-01-01", "2022-02-01"],
            ["a", "1", "2023-01-01", None]]
    result = clean_employees(_emp(rows), as_of=AS_OF)
    assert _reasons(result) == [(2, "overlapping_spell"), (3, "overlapping_spell")]


def test_customers_overlap_and_units():
    raw = pd.DataFrame({"customer_id": ["c", "c", "d"], "unit_id": ["1", "1", "9"],
                        "start_date": ["2020-01-01", "2020-02-01", "2020-01-01"],
                        "end_date": ["2020-03-01", None, None]})
    result = clean_customers(raw, units=pd.DataFrame({"unit_id": ["1"]}), as_of=AS_OF)
    assert _reasons(result) == [(2, "overlapping_spell"), (3, "unknown_unit")]
    check_typed(result.data, table="customers")


# -- activity and units ---------------------------------------------------------------------------------


def test_activity_reasons_and_types():
    raw = pd.DataFrame({
        "customer_id": ["c", "c", "c", None, "d", "e"],
        "unit_id": ["1", "1", "1", "1", "1", "1"],
        "activity_date": ["2024-01-05", "2024-01-05", "2024-01-06", "2024-01-07", "2030-01-01",
                          "2024-01-09"],
        "revenue": ["10", "10", "1e2", "3", "4", "five"],
    })
    result = clean_activity(raw, as_of=AS_OF)
    assert _reasons(result) == [(2, "duplicate_row"), (4, "missing_identifier"),
                                (5, "future_date"), (6, "unparseable_number")]
    assert result.data["revenue"].tolist() == [10.0, 100.0]
    assert result.data["revenue"].dtype == np.float64
    check_typed(result.data, table="activity")
    assert "end_before_start" not in result.report["reason"].tolist()


def test_unit_date_attributes():
    raw = pd.DataFrame({"unit_id": ["1", "2"], "opened": ["2019-05-01", "long ago"],
                        "closed": ["03/04/2020", None]})
    data = clean_units(raw).data  # no date order given: US-style 'closed' stays as it is
    assert data["opened"].tolist() == ["2019-05-01", "long ago"]
    assert data["closed"].tolist()[0] == "03/04/2020"
    data = clean_units(raw, mapping={"dates": {"format": "%m/%d/%Y"}}).data
    assert data["closed"].tolist()[0] == "2020-03-04"


def test_units_duplicates_and_attributes():
    raw = pd.DataFrame({"unit_id": ["007", "008", "007", None, "009", "009"],
                        "region": [" North ", "South", "West", "East", "North", "North"]})
    result = clean_units(raw)
    assert _reasons(result) == [(3, "duplicate_unit"), (4, "missing_identifier"),
                                (6, "duplicate_row")]
    assert result.data["unit_id"].tolist() == ["007", "008", "009"]
    assert result.data["region"].tolist() == ["North", "South", "North"]
    check_typed(result.data, table="units")


# -- dates ----------------------------------------------------------------------------------------------


def test_us_dates_need_an_order():
    raw = _emp([["a", "1", "01/31/2020", None], ["b", "1", "02/01/2020", None]])
    with pytest.raises(InputError) as info:
        clean_employees(raw, source="hr.csv", as_of=AS_OF)
    assert (info.value.file, info.value.column) == ("hr.csv", "hire_date")
    assert "dayfirst" in str(info.value)
    us = clean_employees(raw, date_format="%m/%d/%Y", as_of=AS_OF).data["hire_date"]
    assert us.tolist() == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-01")]
    month_first = clean_employees(raw, dayfirst=False, as_of=AS_OF).data["hire_date"]
    assert month_first.equals(us)
    day_first = clean_employees(raw, dayfirst=True, as_of=AS_OF)
    assert _reasons(day_first) == [(1, "impossible_date")]  # there is no month 31
    assert day_first.data["hire_date"].tolist() == [pd.Timestamp("2020-01-02")]


def test_mapping_dates_section_and_argument_precedence():
    raw = _emp([["a", "1", "03/04/2020", None]])
    by_mapping = clean_employees(raw, mapping={"dates": {"dayfirst": True}}, as_of=AS_OF)
    assert by_mapping.data["hire_date"].iloc[0] == pd.Timestamp("2020-04-03")
    overridden = clean_employees(raw, mapping={"dates": {"dayfirst": True}},
                                 date_format="%m/%d/%Y", as_of=AS_OF)
    assert overridden.data["hire_date"].iloc[0] == pd.Timestamp("2020-03-04")


def test_parse_dates_forms():
    text = pd.Series(["2024-01-31", "2024-01-31 13:45:00", "2024-01-31T08:00:00Z", "2024/01/31",
                      "20240131", "31 Jan 2024", "January 31, 2024", "31-Jan-2024", "2024-02-30",
                      "2024-13-01", "0001-01-01", "tbd", "#VALUE!", None, "  "])
    dates, status = parse_dates(text)
    assert dates.iloc[:8].tolist() == [pd.Timestamp("2024-01-31")] * 8
    assert status.tolist() == [0] * 8 + [3, 3, 3, 2, 2, 1, 1]


def test_typed_dates_pass_through():
    raw = pd.DataFrame({"employee_id": ["a"], "unit_id": [7],
                        "hire_date": pd.to_datetime(["2020-01-01 10:30"]),
                        "termination_date": pd.to_datetime([None])})
    result = clean_employees(raw, as_of=AS_OF)
    assert result.data["unit_id"].tolist() == ["7"]
    assert result.data["hire_date"].iloc[0] == pd.Timestamp("2020-01-01")


# -- inputs ---------------------------------------------------------------------------------------------


def test_mapping_as_a_bare_section_and_unmapped_columns_pass_through():
    raw = pd.DataFrame({"ID": ["a"], "Store": ["007"], "Start": ["2020-01-01"], "End": [None],
                        "Grade": ["B"]})
    result = clean_employees(raw, mapping={"employee_id": "ID", "unit_id": "Store",
                                           "hire_date": "Start", "termination_date": "End"},
                             as_of=AS_OF)
    assert list(result.data.columns) == ["employee_id", "unit_id", "hire_date",
                                         "termination_date", "Grade"]


def test_missing_columns_and_absent_mapped_columns_raise():
    with pytest.raises(InputError, match="missing required columns hire_date, termination_date"):
        clean_employees(pd.DataFrame({"employee_id": ["a"], "unit_id": ["1"]}), source="hr.csv")
    with pytest.raises(InputError) as info:
        clean_employees(pd.DataFrame({"x": ["a"]}), mapping={"employee_id": "ID"},
                        source="hr.csv")
    assert (info.value.file, info.value.column) == ("hr.csv", "ID")


def test_path_input_and_row_numbers_from_the_file(tmp_path):
    path = tmp_path / "emp.csv"
    path.write_text("employee_id,unit_id,hire_date,termination_date\n"
                    "a,1,2020-01-01,\n\nb,1,nope,\n", encoding="utf-8")
    result = clean_employees(path, as_of=AS_OF)
    assert _reasons(result) == [(3, "unparseable_date")]  # the blank line is row 2
    assert result.report["file"].iloc[0] == "emp.csv"


def test_inputs_are_not_mutated():
    raw = _emp([["a ", "1", "2020-01-01", None], ["a ", "1", "2020-01-01", None]])
    before = raw.copy()
    units = pd.DataFrame({"unit_id": ["1"]})
    clean_employees(raw, units=units, as_of=AS_OF)
    pd.testing.assert_frame_equal(raw, before)
    pd.testing.assert_frame_equal(units, pd.DataFrame({"unit_id": ["1"]}))


def test_reserved_column_names_in_the_extract_are_kept_apart():
    raw = _emp([["a", "1", "soon", None, "x"]],
               columns=("employee_id", "unit_id", "hire_date", "termination_date", "reason"))
    result = clean_employees(raw, as_of=AS_OF)
    assert result.rejects["reason"].tolist() == ["unparseable_date"]
    assert result.rejects["reason (original)"].tolist() == ["x"]


def test_clean_result_is_frozen_and_readable():
    result = clean_employees(_emp([["a", "1", "2020-01-01", None]]), as_of=AS_OF)
    with pytest.raises(AttributeError):
        result.data = None  # type: ignore[misc]
    assert repr(result) == "CleanResult(employees: 1 rows read, 1 kept, 0 set aside)"


# -- the simulator's planted defects ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["spells", "activity"])
def test_planted_defects_are_found_row_by_row(kind):
    from linkage.simulate import WorldSpec, simulate

    world = simulate(WorldSpec(n_units=6, months=12, seed=3), customers=kind,
                     defects={"duplicate_row": 4, "end_before_start": 3, "unparseable_date": 5,
                              "missing_identifier": 2, "unknown_unit": 3, "future_date": 2,
                              "overlapping_spell": 4})
    as_of = world.truth["facts"]["extract_date"]
    units = clean_units(world.units)
    cleaners = {"employees.csv": (clean_employees, world.employees),
                "customers.csv": (clean_customers if kind == "spells" else clean_activity,
                                  world.customers)}
    for file, (clean, raw) in cleaners.items():
        truth = world.truth["defects"][file]
        result = clean(raw, units=units, as_of=as_of, source=file)
        planted = sorted((d["row"], d["reason"]) for d in truth["rows"])
        assert sorted(_reasons(result)) == planted, file
        _accounting_adds_up(result, truth["rows_total"])
        if kind == "spells":
            # the planted counts, reason by reason (activity logs: see the report to the lead)
            counts = result.report.set_index("reason")["n"]
            for reason, n in truth["counts"].items():
                assert counts[reason] == n, (file, reason)
            assert len(result.data) == truth["rows_clean"]


# -- properties -------------------------------------------------------------------------------------


_ids = st.sampled_from(["a", "b", " a", "", None])
_units = st.sampled_from(["1", "2", "3", None])
_dates = st.one_of(
    st.dates(min_value=pd.Timestamp("2019-01-01").date(),
             max_value=pd.Timestamp("2025-12-31").date()).map(lambda d: d.isoformat()),
    st.sampled_from([None, "", "soon", "2021-02-30", "2021-06-15"]),
)
_rows = st.lists(st.tuples(_ids, _units, _dates, _dates), min_size=0, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, seed=st.integers(0, 2**16))
def test_property_accounting_and_row_order(rows, seed):
    raw = _emp(rows)
    units = pd.DataFrame({"unit_id": ["1", "2"]})
    result = clean_employees(raw, units=units, as_of=AS_OF)
    _accounting_adds_up(result, len(rows))
    assert result.rejects["row"].is_unique
    assert set(result.rejects["row"]).isdisjoint(
        set(range(1, len(rows) + 1)) - set(result.rejects["row"])
    )
    assert len(result.data) + len(result.rejects) == len(rows)

    shuffled = raw.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    again = clean_employees(shuffled, units=units, as_of=AS_OF)

    def kept(r: CleanResult) -> list:
        return sorted(map(tuple, r.data.astype("str").to_numpy().tolist()))

    assert kept(again) == kept(result)
    assert again.report["n"].tolist() == result.report["n"].tolist()

    # cleaning is idempotent: the kept table has nothing left to set aside
    twice = clean_employees(result.data, units=units, as_of=AS_OF)
    assert len(twice.rejects) == 0
    pd.testing.assert_frame_equal(twice.data, result.data)
