"""linkage.pipeline.prepare: extracts (files or DataFrames) to the panel in one call."""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest

from linkage.clean import clean_customers, clean_employees, clean_units
from linkage.errors import InputError
from linkage.io import load_mapping, read_table
from linkage.panel import build_panel
from linkage.pipeline import CleaningReport, Prepared, prepare

DATA = pathlib.Path(__file__).resolve().parent / "data"
AS_OF = "2024-06-30"


def _fixture(**kwargs) -> Prepared:
    return prepare(employees=DATA / "hr_export.csv", customers=DATA / "crm_export.csv",
                   units=DATA / "stores.csv", mapping=DATA / "mapping.yaml", as_of=AS_OF,
                   **kwargs)


def test_fixture_files_to_panel():
    result = _fixture(start="2023-01", end="2023-06")
    assert isinstance(result.report, CleaningReport)
    table = result.report.table
    assert table["file"].unique().tolist() == ["stores.csv", "hr_export.csv", "crm_export.csv"]
    per_file = table.groupby("file", sort=False)["n"].sum()
    assert per_file.tolist() == [2, 13, 5]  # rows in the fixture files
    kept = table.loc[table["reason"].eq("kept")].set_index("file")["n"]
    assert kept.to_dict() == {"stores.csv": 2, "hr_export.csv": 4, "crm_export.csv": 4}
    assert result.report.n_read == 20 and result.report.n_set_aside == 10
    assert len(result.rejects) == 10
    assert result.rejects.groupby("file", sort=False).size().to_dict() == {
        "hr_export.csv": 9, "crm_export.csv": 1}
    panel = result.panel
    assert panel["unit_id"].unique().tolist() == ["007", "008"]
    assert panel["period"].dt.strftime("%Y-%m").unique().tolist() == [
        "2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]
    assert {"region", "Manager"} <= set(panel.columns)


def test_panel_equals_build_panel_on_the_cleaned_tables():
    mapping = load_mapping(DATA / "mapping.yaml")
    units = clean_units(read_table(DATA / "stores.csv"), mapping=mapping)
    emp = clean_employees(read_table(DATA / "hr_export.csv"), mapping=mapping, units=units,
                          as_of=AS_OF)
    cus = clean_customers(read_table(DATA / "crm_export.csv"), mapping=mapping, units=units,
                          as_of=AS_OF)
    expected = build_panel(emp.data, cus.data, units=units.data, freq="Q")
    pd.testing.assert_frame_equal(_fixture(freq="Q").panel, expected)


def test_hand_counted_panel_cells():
    # unit 007 in 2023 Q2: E001 (open since 2022-01-15) and E002 (left 2023-06-30) at start;
    # E002 leaves in the quarter; customers A1 (open) and A2 (ended 2023-03-31, before Q2)
    panel = _fixture(freq="Q", start="2023-04", end="2023-06").panel.set_index("unit_id")
    row = panel.loc["007"]
    assert (row["employee_start"], row["employee_left"], row["employee_retained"],
            row["employee_end"]) == (2, 1, 1, 1)
    assert row["employee_retention"] == 0.5
    assert (row["customer_start"], row["customer_end"]) == (1, 1)


def test_report_text():
    text = str(_fixture().report)
    lines = text.splitlines()
    assert lines[0] == "stores.csv: 2 rows read, 2 kept, 0 set aside"
    assert lines[1] == "hr_export.csv: 13 rows read, 4 kept, 9 set aside"
    assert "  overlapping_spell       1" in lines
    assert lines[-2:] == ["crm_export.csv: 5 rows read, 4 kept, 1 set aside",
                          "  end_before_start        1"]
    assert "<table" in _fixture().report._repr_html_()


def test_dataframes_in_and_activity_log():
    employees = pd.DataFrame({"employee_id": ["a", "b"], "unit_id": ["1", "1"],
                              "hire_date": ["2023-01-01", "2023-02-10"],
                              "termination_date": ["2023-03-15", None]})
    activity = pd.DataFrame({"customer_id": ["x", "x", "y", "y"], "unit_id": ["1"] * 4,
                             "activity_date": ["2023-01-05", "2023-02-05", "2023-02-06",
                                               "2023-02-06"],
                             "revenue": [1.0, 2.0, 3.0, 3.0]})
    result = prepare(employees=employees, activity=activity, as_of=AS_OF,
                     start="2023-01", end="2023-03")
    assert result.report.table["file"].unique().tolist() == ["employees", "activity"]
    assert result.rejects["reason"].tolist() == ["duplicate_row"]
    panel = result.panel
    assert panel["customer_end"].tolist() == [1, 2, 0]
    assert panel["customer_revenue"].tolist() == [1.0, 5.0, 0.0]
    assert "Prepared(panel: 1 units x 3 periods" in repr(result)


def test_mapping_as_dict_and_bad_inputs():
    with pytest.raises(InputError, match="not both"):
        prepare(employees=DATA / "hr_export.csv", customers=DATA / "crm_export.csv",
                activity=DATA / "crm_export.csv")
    with pytest.raises(InputError, match=r"^missing.csv: file not found$"):
        prepare(employees=DATA / "missing.csv")
    with pytest.raises(InputError, match="unknown section"):
        prepare(employees=DATA / "hr_export.csv", mapping={"staff": {}})
    with pytest.raises(InputError) as info:
        prepare(employees=DATA / "hr_export.csv", mapping={"employees": {"employee_id": "Emp"}})
    assert (info.value.file, info.value.column) == ("hr_export.csv", "Emp")


def test_sample_canonical_extracts_have_no_defects(sample_dir):
    result = prepare(employees=sample_dir / "employees.csv", customers=sample_dir / "customers.csv",
                     units=sample_dir / "units.csv", as_of="2026-01-01")
    assert result.report.n_set_aside == 0
    assert result.panel["unit_id"].nunique() == read_table(sample_dir / "units.csv").shape[0]


def test_sample_raw_export_gives_the_sample_panel_and_the_planted_defects(sample_dir, tmp_path):
    """The raw export (US dates, BOM, CRLF, semicolons, planted defects) with its mapping gives,
    after cleaning, exactly the panel the simulator wrote from the clean world."""
    import json

    from linkage.io import write_table

    truth = json.loads((sample_dir / "truth.json").read_text())
    raw = sample_dir / "raw"
    result = prepare(employees=raw / "employees.csv", customers=raw / "customers.csv",
                     units=raw / "units.csv", mapping=raw / "mapping.yaml",
                     as_of=truth["facts"]["extract_date"], start="2023-01", end="2025-12")
    out = write_table(result.panel, tmp_path / "panel.csv")
    assert out.read_bytes() == (sample_dir / "panel.csv").read_bytes()
    table = result.report.table
    for name in ("employees.csv", "customers.csv"):
        planted = truth["defects"][f"raw/{name}"]
        counts = table.loc[table["file"].eq(name)].set_index("reason")["n"]
        assert counts.sum() == planted["rows_total"]
        assert counts["kept"] == planted["rows_clean"]
        for reason, n in planted["counts"].items():
            assert counts[reason] == n, (name, reason)
        rejects = result.rejects.loc[result.rejects["file"].eq(name)]
        assert sorted(zip(rejects["row"], rejects["reason"])) == sorted(
            (d["row"], d["reason"]) for d in planted["rows"])


def test_excel_and_parquet_extracts_give_the_same_result(tmp_path):
    """The same extracts saved as .xlsx and .parquet (as a user's tools would) clean and build
    exactly like the CSV files."""
    hr = read_table(DATA / "hr_export.csv")
    stores = read_table(DATA / "stores.csv")
    hr.to_excel(tmp_path / "hr_export.xlsx", index=False)
    stores.to_parquet(tmp_path / "stores.parquet", index=False)
    kwargs = dict(customers=DATA / "crm_export.csv", mapping=DATA / "mapping.yaml", as_of=AS_OF)
    expected = prepare(employees=DATA / "hr_export.csv", units=DATA / "stores.csv", **kwargs)
    got = prepare(employees=tmp_path / "hr_export.xlsx", units=tmp_path / "stores.parquet",
                  **kwargs)
    pd.testing.assert_frame_equal(got.panel, expected.panel)
    assert got.report.table["n"].tolist() == expected.report.table["n"].tolist()
    assert got.rejects[["row", "reason"]].equals(expected.rejects[["row", "reason"]])


def test_a_person_extract_with_no_usable_row_is_an_error():
    """All rows set aside gives no panel of zeros but an error naming the file and why."""
    employees = pd.DataFrame({"employee_id": ["a", "b"], "unit_id": ["1", "1"],
                              "hire_date": ["soon", "2024-02-30"], "termination_date": ["", ""]})
    with pytest.raises(InputError, match=r"^employees: none of its 2 rows can be used: "
                       r"unparseable_date 1, impossible_date 1 \(first: row 1, column "
                       r"'hire_date'\)$"):
        prepare(employees=employees, as_of="2024-06-30")
