"""The bad-input corpus (``tests/data/bad``, rebuilt by its ``make_corpus.py``) through ``linkage panel``.

Every case ends in one of two ways, never a traceback or a hang:

- exit 0: a panel, and per file rows read (counted here independently from the file's bytes)
  = kept + set aside, with the set-aside reasons this table expects;
- exit 2: exactly one line on stderr naming the file and the problem.

Always: the input files' bytes are unchanged, and no written cell (nor column name) can run as a
spreadsheet formula.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import hashlib
import importlib.util
import io
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest

from linkage.cli import main

BAD = pathlib.Path(__file__).resolve().parent / "data" / "bad"
AS_OF = "2025-01-01"
TIMEOUT = 60  # seconds per case: a hang fails the test instead of stalling the suite

_spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
make_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_corpus)

GOOD = {"employees": "good_employees.csv", "customers": "good_customers.csv",
        "units": "good_units.csv"}

OK, ERR = "ok", "error"

# case -> (files replacing the good ones, expected outcome)
# ok: {file: {reason: n}} (reasons of set-aside rows; files not listed set nothing aside)
# error: (file named in the message, words of the problem)
CASES: dict[str, tuple[dict[str, str], tuple]] = {
    "good": ({}, (OK, {})),
    "good_mapping": ({"employees": "mapped_employees.csv", "mapping": "good_mapping.yaml"}, (OK, {})),
    "empty": ({"employees": "empty.csv"}, (ERR, "empty.csv", "file is empty")),
    "blank_lines": ({"customers": "blank_lines.csv"}, (ERR, "blank_lines.csv", "file is empty")),
    "binary_junk": ({"employees": "binary_junk.csv"}, (ERR, "binary_junk.csv", "binary content")),
    "binary_junk_no_nul": ({"employees": "binary_junk_no_nul.csv"},
                           (ERR, "binary_junk_no_nul.csv", "is not UTF-8 text")),
    "fake_excel": ({"employees": "fake_excel.xlsx"},
                   (ERR, "fake_excel.xlsx", "is not a readable Excel workbook")),
    "fake_parquet": ({"units": "fake_parquet.parquet"},
                     (ERR, "fake_parquet.parquet", "is not a readable Parquet file")),
    "header_only": ({"employees": "header_only.csv"}, (ERR, "header_only.csv", "no data rows")),
    "header_line_break": ({"employees": "header_line_break.csv"},
                          (ERR, "header_line_break.csv", "line break in its name")),
    "nul_bytes": ({"employees": "nul_bytes.csv"}, (ERR, "nul_bytes.csv", "binary content")),
    "missing_column": ({"employees": "missing_column.csv"},
                       (ERR, "missing_column.csv", "missing required column hire_date")),
    "misspelled_column": ({"employees": "misspelled_column.csv"},
                          (ERR, "misspelled_column.csv", "missing required column hire_date")),
    "dates_unparseable": ({"employees": "dates_unparseable.csv"},
                          (ERR, "dates_unparseable.csv",
                           "none of its 18 rows can be used: unparseable_date 18")),
    "customers_dates_unparseable": ({"customers": "customers_dates_unparseable.csv"},
                                    (ERR, "customers_dates_unparseable.csv",
                                     "none of its 30 rows can be used: unparseable_date 30")),
    # 9999-12-31 as an end date means "still employed"; as a start date it is after --as-of
    "dates_year_9999": ({"employees": "dates_year_9999.csv"},
                        (OK, {"dates_year_9999.csv": {"future_date": 9}})),
    # 2999 is on the calendar but outside 1900..2200: impossible in an HR extract
    "dates_year_2999": ({"employees": "dates_year_2999.csv"},
                        (ERR, "dates_year_2999.csv", "none of its 18 rows can be used")),
    "negative_spans": ({"employees": "negative_spans.csv"},
                       (OK, {"negative_spans.csv": {"end_before_start": 9}})),
    "absurd_spans": ({"employees": "absurd_spans.csv"},
                     (OK, {"absurd_spans.csv": {"impossible_date": 9}})),
    "formula_ids": ({"employees": "formula_ids.csv"},
                    (OK, {"formula_ids.csv": {"duplicate_row": 1, "unknown_unit": 1}})),
    "formula_header": ({"employees": "formula_header.csv"},
                       (OK, {"formula_header.csv": {"duplicate_row": 1}})),
    "formula_units": ({"units": "formula_units.csv", "employees": "formula_units_employees.csv"},
                      (OK, {"good_customers.csv": {"unknown_unit": 20}})),
    "latin1": ({"employees": "latin1.csv"}, (ERR, "latin1.csv", "is not UTF-8 text")),
    "utf16_no_bom": ({"employees": "utf16_no_bom.csv"},
                     (ERR, "utf16_no_bom.csv", "UTF-16 text without a byte-order mark")),
    "utf16be_no_bom": ({"customers": "utf16be_no_bom.csv"},
                       (ERR, "utf16be_no_bom.csv", "UTF-16 text without a byte-order mark")),
    "utf16_bom": ({"employees": "utf16_bom.csv"}, (OK, {})),
    "cp1252_smart_quotes": ({"employees": "cp1252_smart_quotes.csv"},
                            (ERR, "cp1252_smart_quotes.csv", "probably cp1252")),
    # rows written with ';' under a ',' header are one cell wide: no unit id, set aside
    "mixed_separators": ({"employees": "mixed_separators.csv"},
                         (OK, {"mixed_separators.csv": {"missing_identifier": 6}})),
    "extra_cells": ({"employees": "extra_cells.csv"},
                    (ERR, "extra_cells.csv", "line 6 has 6 cells but the header has 4")),
    "unclosed_quote": ({"employees": "unclosed_quote.csv"},
                       (ERR, "unclosed_quote.csv", "is not a readable table")),
    "mapping_invalid": ({"employees": "mapped_employees.csv", "mapping": "mapping_invalid.yaml"},
                        (ERR, "mapping_invalid.yaml", "invalid YAML")),
    "mapping_list": ({"employees": "mapped_employees.csv", "mapping": "mapping_list.yaml"},
                     (ERR, "mapping_list.yaml", "must be a dict of sections")),
    "mapping_scalar": ({"employees": "mapped_employees.csv", "mapping": "mapping_scalar.yaml"},
                       (ERR, "mapping_scalar.yaml", "must be a dict of sections")),
    "mapping_deep": ({"employees": "mapped_employees.csv", "mapping": "mapping_deep.yaml"},
                     (ERR, "mapping_deep.yaml", "nested too deeply")),
    "mapping_alias_bomb": ({"employees": "mapped_employees.csv", "mapping": "mapping_alias_bomb.yaml"},
                           (ERR, "mapping_alias_bomb.yaml", "must name a column of the file")),
    "mapping_binary": ({"employees": "mapped_employees.csv", "mapping": "mapping_binary.yaml"},
                       (ERR, "mapping_binary.yaml", "not UTF-8")),
    "mapping_absent_column": ({"employees": "mapped_employees.csv",
                               "mapping": "mapping_absent_column.yaml"},
                              (ERR, "mapped_employees.csv", "which the file does not have")),
    # generated at test time (too big, or pointless, to commit)
    "huge_cell": ({"employees": "huge_cell.csv"},
                  (ERR, "huge_cell.csv", "a cell of 10,485,760 characters")),
    # a real workbook: formulas have no cached value (read as missing), a date cell, an int unit
    "excel_formulas": ({"employees": "excel_formulas.xlsx"},
                       (OK, {"excel_formulas.xlsx": {"missing_identifier": 1, "missing_date": 1}})),
    "parquet_binary": ({"employees": "parquet_binary.parquet"},
                       (ERR, "parquet_binary.parquet, column 'employee_id'", "not text")),
    "nul_after_64kb": ({"employees": "nul_after_64kb.csv"},
                       (OK, {"nul_after_64kb.csv": {"duplicate_row": 4481, "unparseable_date": 1}})),
}


def _generated(name: str) -> bytes:
    if name == "huge_cell.csv":
        return make_corpus.huge_cell()
    if name == "nul_after_64kb.csv":  # past the 64 KB the reader sniffs, in the last row's date
        text = make_corpus._csv(make_corpus.EMP_HEADER, make_corpus._good_employees() * 250)
        cut = text.rindex("2023-")
        return (text[:cut] + "20\x0023-" + text[cut + 5:]).encode()
    if name == "excel_formulas.xlsx":
        import datetime

        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(make_corpus.EMP_HEADER)
        for row in make_corpus._good_employees():
            sheet.append([row[0], row[1], datetime.date.fromisoformat(row[2]), row[3] or None])
        sheet.append(['=HYPERLINK("http://x","click")', "001", "2023-01-01", None])
        sheet.append(["E099", "001", "=TODAY()", None])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    if name == "parquet_binary.parquet":
        buffer = io.BytesIO()
        table = pd.DataFrame({"employee_id": [b"E1", b"\xff\xfe"], "unit_id": ["001", "001"],
                              "hire_date": ["2023-01-01"] * 2, "termination_date": [None, None]})
        table.to_parquet(buffer)
        return buffer.getvalue()
    raise KeyError(name)


def _sha(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _deadline(seconds: int):
    def fail(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _data_rows(path: pathlib.Path) -> int:
    """Data rows of a text extract, counted without linkage: decode (BOM-aware), sniff the
    header's separator, count rows with any non-blank cell."""
    raw = path.read_bytes()
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        return sum(1 for r in rows[1:] if any(c is not None and str(c).strip() for c in r))
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8-sig")
    header = text.splitlines()[0]
    sep = max(",;\t", key=header.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    return sum(1 for r in rows[1:] if any(c.strip() for c in r))


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _live_formulas(path: pathlib.Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    return [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")
            and not _PLAIN_NUMBER.match(c)]


def _engines() -> list:
    """pandas, DuckDB, and Spark when it can run here (Java): the corpus goes through each."""
    import os

    spark = pytest.param("spark", marks=pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None
        or not (shutil.which("java") or os.environ.get("JAVA_HOME")),
        reason="no pyspark or no Java runtime"))
    return ["pandas", "duckdb", spark]


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the corpus (started once; the engine reuses it)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[1]").appName("linkage-bad-inputs")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield session
    session.stop()


def _run(tmp_path: pathlib.Path, files: dict[str, str], engine: str = "pandas",
         ) -> tuple[int, str, str, dict]:
    used = {**GOOD, **files}
    paths = {}
    for role, name in used.items():
        target = tmp_path / name
        if (BAD / name).exists():
            shutil.copy(BAD / name, target)
        else:
            target.write_bytes(_generated(name))
        paths[role] = target
    args = ["panel", "--employees", str(paths["employees"]), "--customers",
            str(paths["customers"]), "--units", str(paths["units"]), "--as-of", AS_OF,
            "--out", str(tmp_path / "out_panel.csv"), "--rejects", str(tmp_path / "out_rejects.csv")]
    if "mapping" in paths:
        args += ["--map", str(paths["mapping"])]
    if engine != "pandas":
        args += ["--engine", engine]
    before = {p: _sha(p) for p in paths.values()}
    out, err = io.StringIO(), io.StringIO()
    # Spark plans and compiles each query: slow on shared cores, more so for the first case
    seconds = TIMEOUT if engine != "spark" else 10 * TIMEOUT
    with _deadline(seconds), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    assert {p: _sha(p) for p in paths.values()} == before, "an input file was modified"
    return status, out.getvalue(), err.getvalue(), paths


def _report_lines(out: str) -> list[str]:
    """The cleaning report of a run's output (without the lines naming the engine)."""
    return [line for line in out.splitlines() if not line.startswith(("panel", "set-aside"))]


_REPORT = re.compile(r"^(\S.*?): ([\d,]+) rows read, ([\d,]+) kept, ([\d,]+) set aside$")


@pytest.mark.parametrize("engine", _engines())
@pytest.mark.parametrize("case", list(CASES))
def test_case(case, engine, tmp_path, request):
    files, expected = CASES[case]
    if engine == "spark":
        request.getfixturevalue("spark_session")
    status, out, err, paths = _run(tmp_path, files, engine)
    if engine != "pandas":  # every case ends exactly as on pandas: same message, files, report
        (tmp_path / "pandas").mkdir()
        want = _run(tmp_path / "pandas", files)
        assert status == want[0], err
        if status:  # (a third-party message in brackets may name the file's folder)
            assert re.sub(r" \(.*\)$", "", err.strip()) == re.sub(r" \(.*\)$", "", want[2].strip())
        assert "Traceback" not in err
        if status == 0:
            assert _report_lines(out) == _report_lines(want[1])
            for written in ("out_panel.csv", "out_rejects.csv"):
                assert (tmp_path / written).read_bytes() == (tmp_path / "pandas" / written).read_bytes()
    if expected[0] == ERR:
        _, file, problem = expected
        assert status == 2, f"expected exit 2, got {status}; stdout: {out}"
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and err.endswith("\n"), err
        assert lines[0].startswith("linkage panel: error: "), err
        assert file in lines[0] and problem in lines[0], err
        assert "Traceback" not in err
        assert not (tmp_path / "out_panel.csv").exists()
        return

    _, reasons = expected
    assert status == 0, err
    assert "Traceback" not in err
    if engine == "pandas":
        assert err == ""  # (the other engines print their steps, with times, to stderr)
    # the cleaning report: read = kept + set aside for every file, read counted independently
    report = {m[1]: tuple(int(x.replace(",", "")) for x in m.groups()[1:])
              for m in map(_REPORT.match, out.splitlines()) if m}
    assert set(report) == {p.name for role, p in paths.items() if role != "mapping"}
    rejects = pd.read_csv(tmp_path / "out_rejects.csv", dtype=str, keep_default_na=False)
    for role, path in paths.items():
        if role == "mapping":
            continue
        read, kept, aside = report[path.name]
        assert read == kept + aside
        assert read == _data_rows(path), path.name
        mine = rejects.loc[rejects["file"] == path.name]
        assert len(mine) == aside
        assert dict(collections.Counter(mine["reason"])) == reasons.get(path.name, {})
    # the panel: every unit of the units file, every count a whole number >= 0
    panel = pd.read_csv(tmp_path / "out_panel.csv", dtype={"unit_id": str})
    counts = [c for c in panel.columns if c.endswith(("_start", "_joined", "_left", "_retained",
                                                       "_end"))]
    assert len(counts) == 10 and (panel[counts] >= 0).all().all()
    assert panel["unit_id"].nunique() == report[paths["units"].name][1]
    # every kept employee spell enters the panel once: present at the first period or joining later
    first = panel["period"].eq(panel["period"].min())
    kept_employees = report[paths["employees"].name][1]
    assert panel.loc[first, "employee_start"].sum() + panel["employee_joined"].sum() == kept_employees
    for written in ("out_panel.csv", "out_rejects.csv"):
        assert not _live_formulas(tmp_path / written), written


def test_formula_strings_are_written_inert(tmp_path):
    """The attack strings reach the rejects and the panel with a leading apostrophe (OWASP)."""
    status, _, _, _ = _run(tmp_path, {"employees": "formula_ids.csv"})
    assert status == 0
    text = (tmp_path / "out_rejects.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")" in text and "'@SUM(1+1)" in text
    status, _, _, _ = _run(tmp_path, {"units": "formula_units.csv",
                                      "employees": "formula_units_employees.csv"})
    assert status == 0
    panel = pd.read_csv(tmp_path / "out_panel.csv", dtype=str)
    assert {"'=1+1", "'@SUM(1)"} <= set(panel["unit_id"])
    assert "'=HYPERLINK(\"http://x\",\"click\")" in set(panel["region"])
    status, _, _, _ = _run(tmp_path, {"employees": "formula_header.csv"})
    header = (tmp_path / "out_rejects.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "'=HYPERLINK" in header


def test_the_checks_catch_a_live_formula(tmp_path):
    """The export check itself can fail: a raw formula cell is found."""
    bad = tmp_path / "x.csv"
    bad.write_text('a,b\n1,=HYPERLINK("http://x")\n-5,ok\n')
    assert _live_formulas(bad) == ['=HYPERLINK("http://x")']


def test_committed_corpus_is_what_the_script_makes():
    made = make_corpus.corpus()
    committed = {p.name for p in BAD.iterdir() if p.is_file() and p.name != "make_corpus.py"}
    assert committed == set(made)
    for name, data in made.items():
        assert (BAD / name).read_bytes() == data, name
    assert sum(map(len, made.values())) < 100_000  # the corpus stays tiny


def test_every_committed_file_is_a_case():
    used = {name for files, _ in CASES.values() for name in files.values()} | set(GOOD.values())
    committed = {p.name for p in BAD.iterdir() if p.is_file() and p.name != "make_corpus.py"}
    assert committed <= used, committed - used


def test_a_child_process_prints_one_line_and_no_traceback(tmp_path):
    """Outside pytest too: the real command, binary junk in, one line and exit 2 out."""
    shutil.copy(BAD / "binary_junk.csv", tmp_path / "e.csv")
    shutil.copy(BAD / "good_customers.csv", tmp_path / "c.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "linkage", "panel", "--employees", str(tmp_path / "e.csv"),
         "--customers", str(tmp_path / "c.csv"), "--out", str(tmp_path / "p.csv")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "e.csv: does not look like a table" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- property-based: random damage to a good extract, through the whole command ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_GOOD_EMPLOYEES = (BAD / "good_employees.csv").read_bytes()
_DAMAGE = st.sampled_from([b",", b";", b'"', b"\n", b"\r\n", b"\x00", b"\xff", b"\xe9", b" ",
                           b"=", b"@", b"-", b"9999", b"1800-01-01", b"2024-02-30", b"NULL", b"",
                           b"\t", b"\xef\xbb\xbf", b"E001"])


@st.composite
def _damaged(draw) -> bytes:
    data = bytearray(_GOOD_EMPLOYEES)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 12))
        data[at:at + cut] = draw(_DAMAGE)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_damaged())
def test_property_damaged_extract_ends_in_a_panel_or_one_line(tmp_path, content):
    """Whatever the damage: exit 0 with every row accounted for (read = kept + set aside, the
    rejects file holding the set-aside rows) or exit 2 with one line naming the file; the input is
    never changed and no exported cell is a live formula."""
    folder = tmp_path / f"case_{hashlib.sha256(content).hexdigest()[:12]}"
    folder.mkdir(exist_ok=True)
    target = folder / "damaged.csv"
    target.write_bytes(content)
    for name in ("good_customers.csv", "good_units.csv"):
        shutil.copy(BAD / name, folder / name)
    args = ["panel", "--employees", str(target), "--customers", str(folder / "good_customers.csv"),
            "--units", str(folder / "good_units.csv"), "--as-of", AS_OF,
            "--out", str(folder / "p.csv"), "--rejects", str(folder / "r.csv")]
    out, err = io.StringIO(), io.StringIO()
    with _deadline(TIMEOUT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    assert target.read_bytes() == content
    if status == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("linkage panel: error: ")
        assert "damaged.csv" in lines[0] or "good_" in lines[0]
        return
    assert status == 0, err.getvalue()
    report = {m[1]: tuple(int(x.replace(",", "")) for x in m.groups()[1:])
              for m in map(_REPORT.match, out.getvalue().splitlines()) if m}
    read, kept, aside = report["damaged.csv"]
    assert read == kept + aside and kept > 0
    rejects = pd.read_csv(folder / "r.csv", dtype=str, keep_default_na=False)
    assert (rejects["file"] == "damaged.csv").sum() == aside
    for written in ("p.csv", "r.csv"):
        assert not _live_formulas(folder / written)
