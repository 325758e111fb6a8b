"""linkage.io.read_panel / require_columns / PANEL_SCHEMA: the one panel reader."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

from linkage.app._data import default_panel_path, load_panel
from linkage.errors import InputError
from linkage.io import PANEL_SCHEMA, read_panel, require_columns, validate_panel
from linkage.io.periods import period_index, read_periods

HEAD = "unit_id,period,employee_start,employee_retained,customer_start,customer_retained"


def _csv(tmp_path: pathlib.Path, body: str, name: str = "p.csv") -> pathlib.Path:
    f = tmp_path / name
    f.write_text(HEAD + body)
    return f


def _refused(path: pathlib.Path, **kw: object) -> InputError:
    with pytest.raises(InputError) as info:
        read_panel(path, **kw)
    return info.value


def test_typed_result_csv_and_parquet(tmp_path: pathlib.Path) -> None:
    f = _csv(
        tmp_path,
        ",region,es_pay,es_respondents,es_wave,revenue\n"
        "007,2024-02-01,10,9,100,80,N,3.5,12,2024-01-01,5.5\n"
        "007,2024-01-01,10,8,50,40,,4,10,,\n",
    )
    p = read_panel(f)
    assert p["unit_id"].tolist() == ["007", "007"]  # zeros kept, sorted by period
    assert p["period"].dt.month.tolist() == [1, 2]
    assert p["employee_start"].dtype == "int64" and p["es_respondents"].dtype == "int64"
    assert p["es_pay"].dtype == "float64" and p["revenue"].dtype == "float64"
    assert pd.api.types.is_datetime64_any_dtype(p["es_wave"])
    assert p["region"].tolist() == ["(none)", "N"]
    pd.read_csv(f, dtype=str).to_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(read_panel(tmp_path / "p.parquet"), p)


def test_rates_recomputed_when_absent_and_kept_when_present(tmp_path: pathlib.Path) -> None:
    p = read_panel(_csv(tmp_path, "\na,2024-01-01,10,9,0,0\n"))
    assert p["employee_retention"].iloc[0] == pytest.approx(0.9)
    assert np.isnan(p["customer_retention"].iloc[0])  # no customers at the start: no rate
    q = read_panel(_csv(tmp_path, ",employee_retention\na,2024-01-01,10,9,5,4,0.5\n", "q.csv"))
    assert q["employee_retention"].iloc[0] == 0.5


def test_person_level_refused(tmp_path: pathlib.Path) -> None:
    err = _refused(_csv(tmp_path, ",employee_id\na,2024-01-01,10,9,5,4,x\n"))
    assert "person-level" in err.problem and err.column == "employee_id"


def test_duplicate_unit_period_refused(tmp_path: pathlib.Path) -> None:
    err = _refused(_csv(tmp_path, "\na,2024-01-01,10,9,5,4\na,2024-01-01,10,9,5,4\n"))
    assert err.problem == "two rows for the same unit and period" and err.row == 2


@pytest.mark.parametrize(
    ("row", "problem", "column"),
    [
        ("a,2024-02-01,x,9,5,4", "not a number", "employee_start"),
        ("a,2024-02-01,-1,9,5,4", "a count must be a whole number >= 0", "employee_start"),
        ("a,2024/02/01,10,9,5,4", "period is not a YYYY-MM-DD date", "period"),
    ],
)
def test_bad_cell_is_one_input_error(
    tmp_path: pathlib.Path, row: str, problem: str, column: str
) -> None:
    f = _csv(tmp_path, f"\na,2024-01-01,10,9,5,4\n{row}\n")
    err = _refused(f)
    assert (err.problem, err.file, err.row, err.column) == (problem, str(f), 2, column)


def test_missing_column_empty_file_and_format(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("unit_id,period,employee_start\na,2024-01-01,3\n")
    assert _refused(f).column == "employee_retained"
    assert _refused(f, require=(), numeric=("es_pay",)).problem.startswith(
        "the panel has no column 'es_pay' (columns: unit_id, period"
    )
    assert _refused(_csv(tmp_path, "\n", "e.csv")).problem == "the panel has no rows"
    assert _refused(tmp_path / "nope.csv").problem == "panel file not found"
    x = tmp_path / "p.txt"
    x.write_text("a")
    assert "csv or .parquet" in _refused(x).problem


def test_numeric_option_and_other_names(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "o.csv"
    f.write_text("store,month,score\ns1,2024-01-01,1.5\ns1,2024-02-01,2\n")
    p = read_panel(f, unit="store", period="month", require=(), numeric=("score",))
    assert p["score"].tolist() == [1.5, 2.0] and p["store"].dtype != "float64"


def test_pandera_failure_becomes_one_line() -> None:
    bad = pd.DataFrame(
        {
            "unit_id": ["a", "b"],
            "period": pd.to_datetime(["2024-01-01"] * 2),
            "employee_left": [1, -2],
        }
    )
    with pytest.raises(InputError) as info:
        validate_panel(bad, file="p.csv")
    err = info.value
    assert (err.file, err.row, err.column) == ("p.csv", 2, "employee_left")
    assert "\n" not in str(err) and "Traceback" not in str(err)
    twice = bad.assign(unit_id="a", period=bad["period"].iloc[0], employee_left=1)
    with pytest.raises(InputError, match="two rows for the same unit and period"):
        validate_panel(twice, file="p.csv")
    assert PANEL_SCHEMA.name == "panel"


def test_require_columns() -> None:
    t = pd.DataFrame({"a": [1]})
    require_columns(t, ["a", None])
    with pytest.raises(InputError) as info:
        require_columns(t, ["a", "b"], file="t.csv", what="employee table")
    assert info.value.problem == "the employee table has no column 'b' (columns: a)"
    assert (info.value.file, info.value.column) == ("t.csv", "b")


def test_sample_panel_reads_as_load_panel_did() -> None:
    """The sample panel, typed independently of the reader, as ``load_panel`` returned it."""
    path = default_panel_path()
    raw = pd.read_csv(path, dtype={"unit_id": str})
    counts = [
        c for c in raw.columns if c.endswith(("_start", "_joined", "_left", "_retained", "_end"))
    ]
    expected = (
        raw.assign(
            period=pd.to_datetime(raw["period"], format="%Y-%m-%d"),
            **{c: raw[c].astype("int64") for c in counts},
            **{
                c: raw[c].astype("float64")
                for c in raw.columns
                if c.endswith(("_retention", "_turnover", "revenue"))
            },
            **{
                c: raw[c].fillna("(none)").astype("str")
                for c in raw.columns
                if raw[c].dtype == object or pd.api.types.is_string_dtype(raw[c])
                if c not in ("unit_id", "period")
            },
        )
        .sort_values(["unit_id", "period"], kind="stable")
        .reset_index(drop=True)
    )
    got = read_panel(path)
    pd.testing.assert_frame_equal(got, expected, check_like=False)
    pd.testing.assert_frame_equal(load_panel(path), got)


def test_lenient_mode_reads_what_the_commands_read(tmp_path: pathlib.Path) -> None:
    """``strict=False``: ``linkage link`` / ``chain``'s reading (read_table, int or ISO periods)."""
    f = tmp_path / "l.csv"
    f.write_text("unit_id;period;x;name\na;2024;0.5;shop\na;2025;;shop\n")
    p = read_panel(f, strict=False, require=(), numeric=("x",))
    assert p["period"].tolist() == [2024, 2025] and p["period"].dtype == "int64"
    assert p["x"].iloc[0] == 0.5 and np.isnan(p["x"].iloc[1]) and p["name"].iloc[0] == "shop"
    f.write_text("unit_id,period,x\na,2024-01-01,0.5\na,Jan 24,0.1\n")
    err = _refused(f, strict=False, require=(), numeric=("x",))
    assert (err.file, err.row, err.column) == ("l.csv", 2, "period")
    f.write_text("unit_id,period,x\na,2024-01-01,lots\n")
    err = _refused(f, strict=False, require=(), numeric=("x",))
    assert (err.problem, err.row, err.column) == ("value 'lots' is not a number", 1, "x")


def test_a_fractional_count_is_refused_not_truncated(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text(
        "unit_id,period,employee_start,employee_retained,customer_start,customer_retained\n"
        "a,2024-01-01,10,9,100,80\n"
        "a,2024-02-01,10,2.5,100,80\n"
    )
    with pytest.raises(InputError) as err:
        read_panel(f)
    assert (err.value.file, err.value.row, err.value.column) == (str(f), 2, "employee_retained")
    assert "whole number" in err.value.problem


# ---- period inference (linkage.io.periods), shared by read_panel and linkage.stats ----------


@pytest.mark.parametrize(
    ("values", "codes", "step"),
    [
        (["2022-01-31", "2022-02-28", "2022-04-30"], [0, 1, 3], "month"),  # month-end
        (["2022-01-15", "2022-02-15", "2022-04-15"], [0, 1, 3], "month"),  # mid-month
        (["2022-01", "2022-02", "2022-04"], [0, 1, 3], "month"),
        (["2022-03-31", "2022-06-30", "2022-12-31"], [0, 1, 3], "quarter"),  # quarter-end
        (["2022-Q1", "2022-Q2", "2022-Q4"], [0, 1, 3], "quarter"),
        (["2022Q1", "2022q2", "2022 Q4"], [0, 1, 3], "quarter"),
        (["2020-12-31", "2021-12-31", "2023-12-31"], [0, 1, 3], "year"),  # year-end
        ([1.0, 2.0, 4.0], [0, 1, 3], "period"),
        (["1.0", "2.0", "4.0"], [0, 1, 3], "period"),
        (["2024-01-03", "2024-01-10", "2024-01-24"], [0, 1, 3], "week"),
    ],
)
def test_period_index_infers_the_step(values: list, codes: list[int], step: str) -> None:
    got, name = period_index(values)
    assert got.tolist() == codes and name == step


def test_quarter_end_and_quarter_text_read_as_the_quarters_first_day() -> None:
    ends = read_periods(["2022-03-31", "2022-06-30"]).values
    text = read_periods(["2022-Q1", "2022-Q2"]).values
    assert ends.dt.strftime("%Y-%m-%d").tolist() == ["2022-01-01", "2022-04-01"]
    assert text.dt.strftime("%Y-%m-%d").tolist() == ["2022-01-01", "2022-04-01"]


@pytest.mark.parametrize(
    "values",
    [
        pd.date_range("2022-01-01", periods=12, freq="10D"),  # 10 days apart
        pd.to_datetime(["2022-01-01", "2022-01-31", "2022-02-01", "2022-02-28"]),  # start and end
    ],
)
def test_irregular_periods_are_one_error_naming_the_column(values: pd.DatetimeIndex) -> None:
    with pytest.raises(InputError) as err:
        period_index(values, column="month", file="p.csv")
    assert (err.value.file, err.value.column) == ("p.csv", "month")
    assert "fit no month, quarter or year" in err.value.problem


def test_read_panel_maps_any_date_in_a_month_to_the_month(tmp_path: pathlib.Path) -> None:
    head = "unit_id,period,employee_start,employee_retained,customer_start,customer_retained\n"
    rows = "a,{},10,9,5,4\na,{},10,8,5,5\n"
    got = {}
    for name, (d1, d2) in {
        "start": ("2022-01-01", "2022-02-01"),
        "end": ("2022-01-31", "2022-02-28"),
        "mid": ("2022-01-15", "2022-02-15"),
        "month": ("2022-01", "2022-02"),
    }.items():
        f = tmp_path / f"{name}.csv"
        f.write_text(head + rows.format(d1, d2))
        got[name] = read_panel(f)
        lenient = read_panel(f, strict=False, require=())
        assert lenient["period"].tolist() == got[name]["period"].tolist()
    for name in ("end", "mid", "month"):
        pd.testing.assert_frame_equal(got[name], got["start"])


def test_read_panel_refuses_irregular_dates_naming_file_and_column(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "ten.csv"
    f.write_text("unit_id,period,x\na,2022-01-01,1\na,2022-01-11,2\na,2022-01-21,3\n")
    for strict in (True, False):
        err = _refused(f, strict=strict, require=(), numeric=("x",))
        assert err.column == "period" and err.file.endswith("ten.csv")
        assert "10 days apart" in err.problem
