"""linkage.io: reading extracts, mappings, schemas, atomic writes."""

from __future__ import annotations

import hashlib
import os
import pathlib

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.io import (
    apply_mapping,
    load_mapping,
    neutralise_formulas,
    read_table,
    validate_mapping,
    write_table,
)
from linkage.io.schemas import check_columns, check_typed

DATA = pathlib.Path(__file__).resolve().parent / "data"


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- reading ---------------------------------------------------------------------------------------


def test_bom_crlf_comma_fixture():
    raw = read_table(DATA / "hr_export.csv")
    assert list(raw.columns) == [
        "Employee ID", "Cost Center", "Hire Date", "Termination Date", "Termination Type"
    ]
    assert len(raw) == 13
    assert raw.index.tolist() == list(range(1, 14))
    assert raw.index.name == "row"
    assert raw.loc[1, "Cost Center"] == "007"  # stays a string
    assert pd.isna(raw.loc[1, "Termination Date"])  # blank cell = missing
    assert raw.loc[12, "Employee ID"] == " E010 "  # cells are not trimmed by the reader
    assert not any("\r" in str(v) for v in raw.to_numpy().ravel())


def test_semicolon_fixture():
    raw = read_table(DATA / "crm_export.csv")
    assert list(raw.columns) == ["Account ID", "Store", "Created Date", "Cancel Date"]
    assert raw.shape == (5, 4)
    assert raw.loc[4, "Account ID"] == "=SUM(A1:A9)"


def test_every_cell_is_text_or_missing():
    raw = read_table(DATA / "stores.csv")
    for column in raw.columns:
        assert pd.api.types.is_string_dtype(raw[column].dtype)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separator_sniffed_with_quoted_separators(tmp_path, sep):
    path = tmp_path / "t.csv"
    path.write_text(f'id{sep}name\n1{sep}"Smith, J; Jr"\n', encoding="utf-8")
    raw = read_table(path)
    assert raw.loc[1, "name"] == "Smith, J; Jr"


def test_missing_tokens_and_blank_rows_keep_numbering(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\nid,end\n1,NULL\n\n2,  \n3,2024-01-01\n\n", encoding="utf-8")
    raw = read_table(path)
    # the blank line between rows 1 and 2 still counts as a row of the file (numbers match
    # what a user sees when counting data lines), blank rows are not returned
    assert raw.index.tolist() == [1, 3, 4]
    assert raw["end"].isna().tolist() == [True, True, False]


def test_header_names_trimmed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(" id , name \n1,a\n", encoding="utf-8")
    assert list(read_table(path).columns) == ["id", "name"]


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("id,name\r\n1,Zoë\r\n".encode("utf-16"))
    assert read_table(path).loc[1, "name"] == "Zoë"


def test_excel(tmp_path):
    path = tmp_path / "stores.xlsx"
    pd.DataFrame(
        {
            "Store": [7, 8],
            "Opened": pd.to_datetime(["2020-01-31", "2021-06-01"]),
            "Size": [1.5, np.nan],
            "Code": ["007", "08"],  # text cells: leading zeros kept
            "Seen": pd.to_datetime(["2020-01-31 10:30:00", "2020-02-01 00:00:00"]),
        }
    ).to_excel(path, index=False)
    raw = read_table(path)
    assert raw["Store"].tolist() == ["7", "8"]
    assert raw["Code"].tolist() == ["007", "08"]
    assert raw["Seen"].tolist() == ["2020-01-31 10:30:00", "2020-02-01"]
    assert raw["Opened"].tolist() == ["2020-01-31", "2021-06-01"]
    assert raw.loc[1, "Size"] == "1.5" and pd.isna(raw.loc[2, "Size"])
    assert raw.index.tolist() == [1, 2]


def test_excel_saved_as_csv_is_still_read(tmp_path):
    path = tmp_path / "looks_like.csv"
    pd.DataFrame({"id": ["a"]}).to_excel(path, index=False, engine="openpyxl")
    assert read_table(path)["id"].tolist() == ["a"]


def test_parquet(tmp_path):
    path = tmp_path / "emp.parquet"
    pd.DataFrame(
        {
            "unit_id": [7.0, np.nan, 9.0],  # integral floats (ints with a gap) print as ints
            "hire_date": pd.to_datetime(["2024-01-31", None, "2023-05-01"]),
            "name": ["a", None, "c"],
        }
    ).to_parquet(path)
    raw = read_table(path)
    assert raw.index.tolist() == [1, 3]  # the all-missing row 2 is skipped, numbering kept
    assert raw["unit_id"].tolist() == ["7", "9"]
    assert raw["hire_date"].tolist() == ["2024-01-31", "2023-05-01"]


def test_parquet_date_columns_read_as_the_text_of_each_date(tmp_path):
    """Parquet DATE columns (one date object per cell in pandas) are turned into text by Arrow,
    which must give what ``str()`` of each date gives, with gaps kept as missing."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    days = [dt.date(2024, 1, 31), None, dt.date(850, 1, 2), dt.date(1, 1, 1), dt.date(9999, 12, 31)]
    path = tmp_path / "dates.parquet"
    pq.write_table(
        pa.table(
            {
                "employee_id": ["e1", "e2", "e3", "e4", "e5"],
                "hire_date": pa.array(days, pa.date32()),
                "termination_date": pa.array(days[::-1], pa.date64()),
            }
        ),
        path,
    )
    raw = read_table(path)
    kept = [str(d) for d in days if d is not None]
    assert raw["hire_date"].dropna().tolist() == kept
    assert raw["hire_date"].isna().tolist() == [False, True, False, False, False]
    assert raw["termination_date"].dropna().tolist() == kept[::-1]
    assert raw["termination_date"].isna().tolist() == [False, False, False, True, False]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "file is empty"),
        (b"  \r\n\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, ".xls"),
        (b"id,name\r\n", "no data rows"),
        (b"id,name\n1,a\n2,b,c\n", "line 3 has 3 cells but the header has 2"),
        (b"id,id\n1,2\n", "'id' appears twice"),
        (b"id,,x\n1,2,3\n", "column 2 of the header has no name"),
        (b"id,name\n1,Jos\xe9\n", "encoding='cp1252'"),
        (b"PAR1 not really parquet", "not a readable Parquet file"),
        (b"PK\x03\x04 not really a workbook", "not a readable Excel workbook"),
        ("id,name\n1,a\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        ("id,name\n1,a\n".encode("utf-16-be"), "encoding='utf-16-be'"),
        (b'"i\nd",name\n1,a\n', "line break in its name"),
        (b"id," + b"n" * 2000 + b"\n1,a\n", "column 2 of the header is 2,000 characters long"),
        (b"id,name\n1,a\n2," + b"x" * 40_000 + b"\n",
         "row 2, column 'name': a cell of 40,000 characters"),
    ],
)
def test_unusable_files_raise_input_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "extract.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match="extract.csv") as info:
        read_table(path)
    assert problem in str(info.value)
    assert info.value.file == "extract.csv"
    assert path.read_bytes() == content  # never modified


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"^gone.csv: file not found$"):
        read_table(tmp_path / "gone.csv")
    with pytest.raises(InputError, match="is a folder"):
        read_table(tmp_path)


def test_encoding_argument_reads_cp1252(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"id,name\n1,Jos\xe9\n")
    assert read_table(path, encoding="cp1252").loc[1, "name"] == "José"


def test_name_is_used_in_messages(tmp_path):
    with pytest.raises(InputError, match=r"^HR extract: file not found"):
        read_table(tmp_path / "x.csv", name="HR extract")


def test_reading_never_changes_the_files(tmp_path):
    xlsx = tmp_path / "t.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(xlsx, index=False)
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(pq)
    paths = [*sorted(DATA.glob("*.csv")), xlsx, pq]
    before = {p: (_digest(p), p.stat().st_mtime_ns) for p in paths}
    for p in paths:
        read_table(p)
    assert {p: (_digest(p), p.stat().st_mtime_ns) for p in paths} == before


# -- mappings --------------------------------------------------------------------------------------


def test_load_mapping_fixture():
    mapping = load_mapping(DATA / "mapping.yaml")
    assert mapping["employees"]["hire_date"] == "Hire Date"
    assert mapping["units"] == {"unit_id": "Store", "region": "Region"}
    assert mapping["dates"] == {"format": "%m/%d/%Y"}
    assert mapping["activity"] == {}


@pytest.mark.parametrize(
    "text, problem",
    [
        ("employees: {employee_id: [unclosed\n", "invalid YAML"),
        ("", "mapping file is empty"),
        ("- a\n- b\n", "must be a dict of sections"),
        ("employes: {employee_id: ID}\n", "unknown section 'employes' (did you mean 'employees'?)"),
        ("employees: {hire: Hire Date}\n", "unknown column 'hire' in section 'employees'"),
        ("employees: [ID, Store]\n", "section 'employees' must map names to names"),
        ("employees: {employee_id: {a: b}}\n", "must name a column of the file"),
        ("dates: {format: '%m/%d/%Y', dayfirst: true}\n", "section 'dates' must be either"),
        ("dates: {dayfirst: maybe}\n", "section 'dates' must be either"),
        ("dates: {format: mm/dd/yyyy}\n", "section 'dates' must be either"),
        ("dates: {format: %m/%d/%Y}\n", 'put the date format in quotes: format: "%m/%d/%Y"'),
    ],
)
def test_bad_mappings(tmp_path, text, problem):
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_mapping(path)
    assert str(info.value).startswith("map.yaml")
    assert problem in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("units: {unit_id: Store}\nemployees: {employee_id: [x\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_mapping(path)
    assert info.value.row is not None and info.value.row >= 2


def test_missing_mapping_file(tmp_path):
    with pytest.raises(InputError, match=r"^nomap.yaml: mapping file not found$"):
        load_mapping(tmp_path / "nomap.yaml")


def test_mapping_accepts_dayfirst_and_units_attributes():
    mapping = validate_mapping({"units": {"unit_id": "Branch", "district": "Area"},
                                "dates": {"dayfirst": True}})
    assert mapping["dates"] == {"dayfirst": True}
    assert mapping["units"]["district"] == "Area"


def test_apply_mapping_renames_and_keeps_unmapped_columns():
    raw = read_table(DATA / "stores.csv")
    table, sources = apply_mapping(raw, {"unit_id": "Store", "region": "Region"}, table="units")
    assert list(table.columns) == ["unit_id", "region", "Manager"]
    assert sources == {"unit_id": "Store", "region": "Region", "Manager": "Manager"}
    assert list(raw.columns) == ["Store", "Region", "Manager"]  # input untouched
    assert table.index.equals(raw.index)


def test_mapping_naming_an_absent_column():
    raw = read_table(DATA / "stores.csv")
    with pytest.raises(InputError) as info:
        apply_mapping(raw, {"unit_id": "store"}, table="units", file="stores.csv")
    err = info.value
    assert (err.file, err.column) == ("stores.csv", "store")
    assert "did you mean 'Store'?" in str(err)
    assert str(err).startswith("stores.csv, column 'store': ")


def test_mapping_clash_with_an_unmapped_canonical_column():
    raw = pd.DataFrame({"unit_id": ["1"], "Store": ["2"]})
    with pytest.raises(InputError, match="rename one of them"):
        apply_mapping(raw, {"unit_id": "Store"}, table="units", file="u.csv")


# -- schemas ---------------------------------------------------------------------------------------


def test_check_columns_reports_every_missing_column_at_once():
    with pytest.raises(InputError) as info:
        check_columns(pd.DataFrame({"employee_id": ["a"], "x": ["1"]}), table="employees",
                      file="hr.csv")
    message = str(info.value)
    assert message.startswith("hr.csv: missing required columns unit_id, hire_date, "
                              "termination_date")
    assert "the file has: employee_id, x" in message


def test_check_columns_optional_columns_are_optional():
    check_columns(pd.DataFrame({c: ["a"] for c in ("customer_id", "unit_id", "activity_date")}),
                  table="activity")


def test_check_typed_catches_wrong_types_all_at_once():
    bad = pd.DataFrame({"employee_id": ["a"], "unit_id": ["1"], "hire_date": ["2024-01-01"],
                        "termination_date": [3]})
    with pytest.raises(InputError) as info:
        check_typed(bad, table="employees", file="emp")
    assert "hire_date" in str(info.value) and "termination_date" in str(info.value)


# -- writing ---------------------------------------------------------------------------------------


def test_neutralise_formulas():
    table = pd.DataFrame({
        "text": ["=1+1", "+A1", "-A1", "@SUM(A1)", "\tx", "\rx", "-5", "+1.5e3", "a=b", None],
        "n": np.arange(10) - 5,
    })
    out = neutralise_formulas(table)
    assert out["text"].tolist()[:8] == ["'=1+1", "'+A1", "'-A1", "'@SUM(A1)", "'\tx", "'\rx",
                                        "-5", "+1.5e3"]
    assert out["text"].iloc[8] == "a=b" and pd.isna(out["text"].iloc[9])
    assert out["n"].tolist() == table["n"].tolist()
    assert table["text"].iloc[0] == "=1+1"  # input untouched


def test_write_csv_is_atomic_and_formats_dates(tmp_path):
    path = tmp_path / "panel.csv"
    path.write_text("old\n")
    table = pd.DataFrame({"unit_id": ["007"], "period": pd.to_datetime(["2024-03-01"]),
                          "x": [0.5]})
    write_table(table, path)
    assert path.read_text() == "unit_id,period,x\n007,2024-03-01,0.5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv"]  # no temp file left


def test_write_csv_neutralises_formula_column_names(tmp_path):
    table = pd.DataFrame({"=HYPERLINK(\"x\")": ["a"], "-3": [1], "@x": ["b"]})
    path = write_table(table, tmp_path / "out.csv")
    assert path.read_text().splitlines()[0] == "\"'=HYPERLINK(\"\"x\"\")\",-3,'@x"
    assert list(table.columns)[0] == "=HYPERLINK(\"x\")"  # input untouched


def test_cell_limit_is_the_spreadsheet_cell_limit(tmp_path):
    from linkage.io._read import MAX_CELL_CHARS

    path = tmp_path / "big.csv"
    path.write_text("id,note\n1," + "y" * MAX_CELL_CHARS + "\n")
    assert read_table(path)["note"].str.len().tolist() == [MAX_CELL_CHARS]


def test_write_parquet_round_trip(tmp_path):
    table = pd.DataFrame({"unit_id": ["007"], "period": pd.to_datetime(["2024-03-01"])})
    path = write_table(table, tmp_path / "panel.parquet")
    back = pd.read_parquet(path)
    assert back["unit_id"].tolist() == ["007"]
    assert back["period"].iloc[0] == pd.Timestamp("2024-03-01")


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "panel.parquet"
    path.write_bytes(b"old")
    unwritable = pd.DataFrame({"x": [object()]})
    with pytest.raises(Exception):
        write_table(unwritable, path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["panel.parquet"]


def test_write_refuses_inputs_and_bad_targets(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    table = pd.DataFrame({"a": [2]})
    with pytest.raises(InputError, match="refusing to overwrite an input file"):
        write_table(table, tmp_path / "." / "in.csv", protect=[str(source)])
    assert source.read_text() == "a\n1\n"
    with pytest.raises(InputError, match="can only write .csv or .parquet"):
        write_table(table, tmp_path / "out.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        write_table(table, tmp_path / "nowhere" / "out.csv")


def test_written_file_respects_umask(tmp_path):
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- properties ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_cells = st.text(alphabet=st.sampled_from(list('ab1;,"\t \r\n=é\x00')), max_size=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=64),
    st.lists(st.lists(_cells, min_size=1, max_size=4), min_size=0, max_size=5).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
))
def test_property_any_bytes_give_a_table_or_an_input_error(tmp_path, content):
    """Whatever the file holds, reading it returns a table of strings or raises InputError
    (never another exception), and never changes the file."""
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        table = read_table(path)
    except InputError as err:
        assert err.file == "fuzz.csv"
    else:
        assert len(table) > 0 and table.index.name == "row"
        assert all(pd.api.types.is_string_dtype(table[c].dtype) for c in table.columns)
    assert path.read_bytes() == content


def test_apply_mapping_with_non_text_column_labels():
    raw = pd.DataFrame({0: ["a"], 1: ["7"]})
    table, sources = apply_mapping(raw, {"unit_id": "1"}, table="units")
    assert table["unit_id"].tolist() == ["7"] and sources["0"] == "0"


def test_trailing_separators_are_tolerated_only_when_blank(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b;;\r\n1;2;;\r\n3;4;;\r\n", encoding="utf-8")
    assert read_table(path).to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}
    path.write_text("a,b,\n1,2,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="t.csv: column 3 of the header has no name"):
        read_table(path)


def test_parquet_column_of_bytes_that_are_not_text(tmp_path):
    path = tmp_path / "ids.parquet"
    pd.DataFrame({"id": [b"E1", b"\xff\xfe"], "unit_id": ["1", "2"]}).to_parquet(path)
    with pytest.raises(InputError, match=r"^ids.parquet, column 'id': holds values that are not "
                       r"text \(UnicodeDecodeError\)$"):
        read_table(path)
    pd.DataFrame({"id": [b"E1", b"E2"], "unit_id": ["1", "2"]}).to_parquet(path)
    assert read_table(path)["id"].tolist() == ["E1", "E2"]  # UTF-8 bytes are text


def test_hostile_mappings_fail_fast_on_one_line(tmp_path):
    """A mapping far too big, nested too deeply, or an alias bomb (9**6 cells if expanded) whose
    value ends up in the message: one short line each."""
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(InputError, match="big.yaml: mapping file is 1,100,003 bytes"):
        load_mapping(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("units: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(InputError, match="nested too deeply"):
        load_mapping(deep)
    bomb = tmp_path / "bomb.yaml"
    lines = ["z0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"z{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 7)]
    bomb.write_text("dates: {" + ", ".join(lines[:-1]) + ", format: *a5}\n")
    with pytest.raises(InputError) as info:
        load_mapping(bomb)
    assert len(str(info.value)) < 400 and "\n" not in str(info.value)
