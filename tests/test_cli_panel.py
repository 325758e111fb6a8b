"""``linkage panel``: report printed, panel and rejects written, bad input = one line and exit 2."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from linkage.cli import main

DATA = pathlib.Path(__file__).resolve().parent / "data"


@pytest.fixture()
def inputs(tmp_path):
    """Copies of the fixture extracts (so a failing test can never touch tests/data)."""
    for name in ("hr_export.csv", "crm_export.csv", "stores.csv", "mapping.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _args(folder: pathlib.Path, *extra: str) -> list[str]:
    return ["panel", "--employees", str(folder / "hr_export.csv"),
            "--customers", str(folder / "crm_export.csv"), "--units", str(folder / "stores.csv"),
            "--map", str(folder / "mapping.yaml"), "--as-of", "2024-06-30", *extra]


def test_panel_and_rejects_written(inputs, capsys):
    out, rejects = inputs / "panel.csv", inputs / "rejects.csv"
    status = main(_args(inputs, "--freq", "Q", "--start", "2023-01", "--end", "2023-12",
                        "--out", str(out), "--rejects", str(rejects)))
    printed = capsys.readouterr()
    assert status == 0 and printed.err == ""
    assert "hr_export.csv: 13 rows read, 4 kept, 9 set aside" in printed.out
    assert "crm_export.csv: 5 rows read, 4 kept, 1 set aside" in printed.out
    assert "panel: 2 units x 4 periods" in printed.out
    panel = pd.read_csv(out, dtype=str)
    assert panel["period"].unique().tolist() == ["2023-01-01", "2023-04-01", "2023-07-01",
                                                 "2023-10-01"]
    assert panel["unit_id"].unique().tolist() == ["007", "008"]
    assert panel.columns[:2].tolist() == ["unit_id", "period"]
    rows = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert len(rows) == 10
    assert rows.columns[:4].tolist() == ["file", "row", "reason", "column"]
    assert rows["file"].value_counts().to_dict() == {"hr_export.csv": 9, "crm_export.csv": 1}
    # the CRM row with a spreadsheet formula as its account id is neutralised in the export
    crm = rows.loc[rows["file"].eq("crm_export.csv")].iloc[0]
    assert (crm["row"], crm["reason"], crm["Account ID"]) == ("4", "end_before_start",
                                                              "'=SUM(A1:A9)")


def test_parquet_output(inputs, capsys):
    out = inputs / "panel.parquet"
    assert main(_args(inputs, "--out", str(out))) == 0
    panel = pd.read_parquet(out)
    assert pd.api.types.is_datetime64_any_dtype(panel["period"])
    capsys.readouterr()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: (f / "hr_export.csv").unlink(), "hr_export.csv: file not found"),
        (lambda f: (f / "hr_export.csv").write_bytes(b""), "hr_export.csv: file is empty"),
        (lambda f: (f / "stores.csv").write_bytes(b"\x00\x01\x02binary"),
         "stores.csv: does not look like a table"),
        (lambda f: (f / "mapping.yaml").write_text("employees: {employee_id: [x\n"),
         "mapping.yaml, row 2: invalid YAML"),
        (lambda f: _edit(f / "mapping.yaml", "employee_id: Employee ID", "employee_id: Badge"),
         "hr_export.csv, column 'Badge': the mapping takes employees.employee_id from column"),
        (lambda f: _edit(f / "mapping.yaml", ", termination_date: Termination Date", ""),
         "hr_export.csv: missing required column termination_date (the file has: "),
        (lambda f: (f / "crm_export.csv").write_text("Account ID;Store\nA1;007\n"),
         "crm_export.csv, column 'Created Date': the mapping takes customers.start_date from"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(inputs, capsys, change, message):
    change(inputs)
    status = main(_args(inputs, "--out", str(inputs / "panel.csv")))
    printed = capsys.readouterr()
    assert status == 2
    assert printed.out == ""
    lines = printed.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("linkage panel: error: " + message)
    assert "Traceback" not in printed.err
    assert not (inputs / "panel.csv").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--start", "2023"], "--start '2023' is not a month (use YYYY-MM)"),
        (["--as-of", "30/06/2024"], "--as-of '30/06/2024' is not a date (use YYYY-MM-DD)"),
    ],
)
def test_bad_options(inputs, capsys, extra, message):
    assert main(_args(inputs, *extra, "--out", str(inputs / "p.csv"))) == 2
    assert capsys.readouterr().err == f"linkage panel: error: {message}\n"


def test_refuses_to_overwrite_inputs(inputs, capsys):
    before = (inputs / "hr_export.csv").read_bytes()
    assert main(_args(inputs, "--out", str(inputs / "hr_export.csv"))) == 2
    err = capsys.readouterr().err
    assert err == ("linkage panel: error: " + str(inputs / "hr_export.csv")
                   + ": refusing to overwrite an input file of this command\n")
    assert (inputs / "hr_export.csv").read_bytes() == before
    assert main(_args(inputs, "--out", str(inputs / "a.csv"), "--rejects",
                      str(inputs / "a.csv"))) == 2
    assert "same file" in capsys.readouterr().err


def test_needs_customers_or_activity(inputs, capsys):
    args = ["panel", "--employees", str(inputs / "hr_export.csv"), "--out",
            str(inputs / "p.csv")]
    assert main(args) == 2
    assert "--customers" in capsys.readouterr().err


def test_inputs_unchanged_after_a_run(inputs, capsys):
    names = ("hr_export.csv", "crm_export.csv", "stores.csv", "mapping.yaml")
    before = {n: (inputs / n).read_bytes() for n in names}
    assert main(_args(inputs, "--out", str(inputs / "p.csv"), "--rejects",
                      str(inputs / "r.csv"))) == 0
    assert {n: (inputs / n).read_bytes() for n in names} == before
    capsys.readouterr()


def test_subprocess_exit_code_and_no_traceback(inputs):
    (inputs / "crm_export.csv").write_bytes(b"Account ID;Store\n")
    proc = subprocess.run(
        [sys.executable, "-m", "linkage", *_args(inputs, "--out", str(inputs / "p.csv"))],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "linkage panel: error: crm_export.csv: has a header but no data rows\n"


def test_activity_log_with_window(tmp_path, capsys):
    (tmp_path / "emp.csv").write_text(
        "employee_id,unit_id,hire_date,termination_date\na,1,2023-01-01,\n")
    (tmp_path / "visits.csv").write_text(
        "customer_id,unit_id,activity_date,revenue\n"
        "x,1,2023-01-05,10\nx,1,2023-03-05,5\nx,1,2023-03-05,5\n")
    out = tmp_path / "p.csv"
    args = ["panel", "--employees", str(tmp_path / "emp.csv"), "--activity",
            str(tmp_path / "visits.csv"), "--as-of", "2023-12-31", "--start", "2023-01",
            "--end", "2023-04", "--out", str(out)]
    assert main([*args, "--activity-window", "2"]) == 0
    assert "visits.csv: 3 rows read, 2 kept, 1 set aside" in capsys.readouterr().out
    panel = pd.read_csv(out)
    # window 2: a visit keeps the customer active that month and the next: Jan-Feb, Mar-Apr
    assert panel["customer_end"].tolist() == [1, 1, 1, 1]
    assert panel["customer_revenue"].tolist() == [10.0, 0.0, 5.0, 0.0]
    assert main([*args, "--activity-window", "1"]) == 0
    assert pd.read_csv(out)["customer_end"].tolist() == [1, 0, 1, 0]
    capsys.readouterr()


def test_outputs_checked_before_any_work(inputs, capsys):
    assert main(_args(inputs, "--out", str(inputs / "p.csv"), "--rejects",
                      str(inputs / "nowhere" / "r.csv"))) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (inputs / "p.csv").exists()  # the panel was not written either
    assert main(_args(inputs, "--out", str(inputs / "p.xlsx"))) == 2
    assert "can only write .csv or .parquet" in capsys.readouterr().err


def test_help_lists_every_reason(capsys):
    from linkage.clean import REASONS

    with pytest.raises(SystemExit) as info:
        main(["panel", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for reason in REASONS:
        assert reason in text


def test_help_lists_the_chain_options_and_reasons(capsys):
    from linkage.clean import CHAIN_REASONS

    with pytest.raises(SystemExit):
        main(["panel", "--help"])
    text = capsys.readouterr().out
    for option in ("--employee-survey", "--customer-survey", "--revenue", "--segments", "--survey-align",
                   "--segments-out"):
        assert option in text
    for reason in CHAIN_REASONS:
        assert reason in text


def test_engines_refuse_the_chain_files(inputs, capsys):
    assert main(_args(inputs, "--engine", "duckdb", "--employee-survey", str(inputs / "stores.csv"),
                      "--out", str(inputs / "p.csv"))) == 2
    assert "--employee-survey needs the pandas engine" in capsys.readouterr().err
    args = ["panel", "--employees", str(inputs / "hr_export.csv"), "--customers", str(inputs / "crm_export.csv"),
            "--engine", "duckdb", "--revenue", str(inputs / "stores.csv"), "--out", str(inputs / "p.csv")]
    assert main(args) == 2
    assert capsys.readouterr().err == ("linkage panel: error: --revenue needs the pandas engine; --engine "
                                       "duckdb builds the panel from employees, customers or activity, "
                                       "and units\n")
