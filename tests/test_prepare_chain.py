"""prepare() and ``linkage panel`` with the chain's files: surveys, revenue, segments.

References: the documented way of joining the sample's chain files (notebook 05_chain, section 1:
``join_chain(panel, employee_survey=employee_survey_panel(..., align="forward"),
customer_survey=customer_survey_panel(...), revenue=unit_revenue)``), ``segment_retention`` on the
sample's customers and segments, the cleaning contract (rows read = kept + set aside, one reason
per row) on hand-planted defects, and a hand-worked net revenue retention (docs/design.md).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

from linkage.cli import main
from linkage.errors import InputError
from linkage.io.datasets import load_sample_chain, load_sample_panel
from linkage.panel import (
    customer_survey_panel,
    employee_survey_panel,
    join_chain,
    segment_retention,
)
from linkage.pipeline import prepare

SAMPLE = pathlib.Path(__file__).resolve().parents[1] / "data" / "sample"
AS_OF = "2026-01-01"  # the sample's extract date (truth.json facts.extract_date)
WINDOW = ("--start", "2023-01", "--end", "2025-12")  # the sample panel's window
CHAIN_FILES = ("employee_survey.csv", "customer_survey.csv", "unit_revenue.csv", "customer_segments.csv")


def _read_panel(path: pathlib.Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"unit_id": "str"}, parse_dates=["period", "es_wave", "cs_wave"])


def _one_error(capsys) -> str:
    printed = capsys.readouterr()
    lines = printed.err.splitlines()
    assert printed.out == "" and len(lines) == 1 and "Traceback" not in printed.err
    return lines[0]


# ---- the sample through the CLI -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_chain")
    args = ["panel", "--employees", str(SAMPLE / "employees.csv"), "--customers", str(SAMPLE / "customers.csv"),
            "--units", str(SAMPLE / "units.csv"),
            "--employee-survey", str(SAMPLE / "employee_survey.csv"),
            "--customer-survey", str(SAMPLE / "customer_survey.csv"),
            "--revenue", str(SAMPLE / "unit_revenue.csv"), "--segments", str(SAMPLE / "customer_segments.csv"),
            "--as-of", AS_OF, *WINDOW, "--out", str(out / "panel.csv"), "--rejects", str(out / "rejects.csv"),
            "--segments-out", str(out / "segments.csv")]
    return _quiet_main(args), out


def test_sample_chain_columns_are_the_documented_join(sample_run):
    printed, out = sample_run
    got = _read_panel(out / "panel.csv")
    panel = load_sample_panel()
    sample = load_sample_chain()
    window = {"start": panel["period"].min(), "end": panel["period"].max()}
    items = [c for c in sample.employee_survey.columns if c not in ("respondent_id", "unit_id", "survey_date")]
    expected = join_chain(panel,
                          employee_survey=employee_survey_panel(sample.employee_survey, items=items,
                                                                align="forward", **window),
                          customer_survey=customer_survey_panel(sample.customer_survey, **window),
                          revenue=sample.unit_revenue)
    chain = [c for c in expected.columns if c not in panel.columns]
    assert len(chain) == 7 + 2 + 4 + 4  # 7 items + es_respondents, es_wave; cs_*; revenue_*
    assert list(got.columns) == list(expected.columns)
    for frame in (got, expected):
        for col in ("period", "es_wave", "cs_wave"):
            frame[col] = frame[col].astype("datetime64[us]")
    pd.testing.assert_frame_equal(got[["unit_id", "period", *chain]], expected[["unit_id", "period", *chain]],
                                  check_exact=False, rtol=1e-12)
    # the retention columns are the sample panel's
    retention = [c for c in panel.columns if c.startswith(("employee_", "customer_"))]
    pd.testing.assert_frame_equal(got[retention], panel[retention])
    assert "employee survey items (every numeric column the mapping does not take, aligned forward): " \
           "engagement, manager_support, staffing, recognition, pay, facilities, commute" in printed


def test_sample_report_accounts_for_every_chain_row(sample_run):
    printed, out = sample_run
    for name in CHAIN_FILES:
        n = len((SAMPLE / name).read_text(encoding="utf-8").splitlines()) - 1
        assert f"{name}: {n:,} rows read, {n:,} kept, 0 set aside" in printed
    assert pd.read_csv(out / "rejects.csv").empty


def test_sample_segments_are_segment_retention(sample_run):
    printed, out = sample_run
    got = pd.read_csv(out / "segments.csv", dtype={"unit_id": "str", "segment": "str"}, parse_dates=["period"])
    customers = pd.read_csv(SAMPLE / "customers.csv", dtype="str", keep_default_na=False)
    customers = customers.assign(start_date=pd.to_datetime(customers["start_date"]),
                                 end_date=pd.to_datetime(customers["end_date"].replace("", None)))
    expected = segment_retention(customers, segments=load_sample_chain().segments,
                                 start="2023-01", end="2025-12")
    got["period"] = got["period"].astype("datetime64[us]")
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert "segments: 3 segments" in printed
    # summed over segments the counts are the panel's
    panel = load_sample_panel().set_index(["unit_id", "period"])
    sums = got.groupby(["unit_id", "period"])["customer_start"].sum()
    assert (sums.to_numpy() == panel["customer_start"].to_numpy()).all()


# ---- planted defects in a small copy --------------------------------------------------------------


def _small_copy(folder: pathlib.Path, units: tuple[str, ...] = ("001", "002", "003")) -> dict[str, pd.DataFrame]:
    """The sample's files for a few units (text, as a user's export)."""
    tables = {}
    for name in ("employees.csv", "customers.csv", "units.csv", "employee_survey.csv", "customer_survey.csv",
                 "unit_revenue.csv"):
        table = pd.read_csv(SAMPLE / name, dtype="str", keep_default_na=False)
        tables[name] = table.loc[table["unit_id"].isin(units)].reset_index(drop=True)
    seg = pd.read_csv(SAMPLE / "customer_segments.csv", dtype="str", keep_default_na=False)
    tables["customer_segments.csv"] = seg.loc[seg["customer_id"].isin(tables["customers.csv"]["customer_id"])]
    return tables


def _append(table: pd.DataFrame, rows: list[dict[str, str]]) -> tuple[pd.DataFrame, list[int]]:
    """Append rows (cells default to the first row's); return the table and their file row numbers."""
    base = table.iloc[0].to_dict()
    new = pd.DataFrame([{**base, **row} for row in rows], columns=table.columns)
    start = len(table) + 1
    return pd.concat([table, new], ignore_index=True), list(range(start, start + len(rows)))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A small copy of the sample with planted defects, and one CLI run over it (never modified)."""
    tmp_path = tmp_path_factory.mktemp("planted")
    tables = _small_copy(tmp_path)
    es = tables["employee_survey.csv"]
    first = es.iloc[0].to_dict()
    es, es_rows = _append(es, [
        first,  # duplicate_row
        {"respondent_id": "X1", "unit_id": ""},  # missing_identifier
        {"respondent_id": "X2", "survey_date": "soon"},  # unparseable_date
        {"respondent_id": "X3", "survey_date": "2023-02-30"},  # impossible_date
        {"respondent_id": "X4", "engagement": "lots"},  # unparseable_number
        {"respondent_id": "X5", "pay": "6"},  # out_of_scale
        {"respondent_id": "X6", **{c: "" for c in es.columns[3:]}},  # empty_response
        {"respondent_id": "X7", "survey_date": "2027-01-01"},  # future_date
        {"respondent_id": "X8", "unit_id": "999"},  # unknown_unit
        {"respondent_id": first["respondent_id"], "engagement": "1"},  # duplicate_response
    ])
    tables["employee_survey.csv"] = es
    cs, cs_rows = _append(tables["customer_survey.csv"], [
        {"response_id": "Y1", "nps": "11"},  # out_of_scale
        {"response_id": "Y2", "response_date": ""},  # missing_date
        {"response_id": "Y3", "csat": "", "nps": ""},  # empty_response
    ])
    tables["customer_survey.csv"] = cs
    rev, rev_rows = _append(tables["unit_revenue.csv"], [
        {"revenue": "1.0"},  # duplicate_period: unit 001, 2023-01 again
        {"period": "2030-01-01", "revenue": ""},  # missing_number (before future_date)
        {"period": "2023-01-01", "unit_id": "777"},  # unknown_unit
    ])
    tables["unit_revenue.csv"] = rev
    seg = tables["customer_segments.csv"].reset_index(drop=True)
    seg, seg_rows = _append(seg, [
        {"segment": "enterprise"},  # duplicate_customer (the first customer again)
        {"customer_id": "C99999", "segment": " "},  # missing_segment
        {"customer_id": "", "segment": "consumer"},  # missing_identifier
    ])
    tables["customer_segments.csv"] = seg
    for name, table in tables.items():
        table.to_csv(tmp_path / name, index=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    run = tmp_path / "run"
    run.mkdir()
    printed = _quiet_main(_cli(tmp_path, "--out", str(run / "p.csv"), "--rejects", str(run / "r.csv"),
                               "--segments-out", str(run / "s.csv")))
    expected = {
        "employee_survey.csv": list(zip(es_rows, ["duplicate_row", "missing_identifier", "unparseable_date",
                                                  "impossible_date", "unparseable_number", "out_of_scale",
                                                  "empty_response", "future_date", "unknown_unit",
                                                  "duplicate_response"], strict=True)),
        "customer_survey.csv": list(zip(cs_rows, ["out_of_scale", "missing_date", "empty_response"], strict=True)),
        "unit_revenue.csv": list(zip(rev_rows, ["duplicate_period", "missing_number", "unknown_unit"], strict=True)),
        "customer_segments.csv": list(zip(seg_rows, ["duplicate_customer", "missing_segment",
                                                     "missing_identifier"], strict=True)),
    }
    return tmp_path, tables, expected, printed, before


@pytest.fixture()
def copy(planted, tmp_path):
    """A copy of the planted files a test may change."""
    for name in planted[1]:
        (tmp_path / name).write_bytes((planted[0] / name).read_bytes())
    return tmp_path, planted[1]


def _quiet_main(args: list[str]) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return buffer.getvalue()


def _cli(folder: pathlib.Path, *extra: str) -> list[str]:
    return ["panel", "--employees", str(folder / "employees.csv"), "--customers", str(folder / "customers.csv"),
            "--units", str(folder / "units.csv"), "--employee-survey", str(folder / "employee_survey.csv"),
            "--customer-survey", str(folder / "customer_survey.csv"), "--revenue", str(folder / "unit_revenue.csv"),
            "--segments", str(folder / "customer_segments.csv"), "--as-of", AS_OF, *WINDOW, *extra]


def test_planted_defects_are_set_aside_and_counted(planted):
    folder, tables, expected, printed, _ = planted
    folder = folder / "run"
    rejects = pd.read_csv(folder / "r.csv", dtype="str", keep_default_na=False)
    for name, rows in expected.items():
        part = rejects.loc[rejects["file"].eq(name)]
        assert list(zip(part["row"].astype(int), part["reason"], strict=True)) == rows
        n = len(tables[name])
        assert f"{name}: {n:,} rows read, {n - len(rows):,} kept, {len(rows):,} set aside" in printed
    # the planted rows do not reach the panel: unit 001's first wave has the sample's answers only
    panel = _read_panel(folder / "p.csv")
    sample = load_sample_chain().employee_survey
    wave = sample.loc[sample["unit_id"].eq("001") & sample["survey_date"].dt.to_period("M").eq(
        pd.Period(tables["employee_survey.csv"]["survey_date"].iloc[0][:7], "M"))]
    row = panel.loc[panel["unit_id"].eq("001") & panel["es_wave"].eq(panel["es_wave"].dropna().min())].iloc[0]
    assert row["es_respondents"] == len(wave)
    assert row["es_engagement"] == pytest.approx(wave["engagement"].mean(), rel=1e-12)
    segs = pd.read_csv(folder / "s.csv", dtype={"unit_id": "str"})
    assert set(segs["unit_id"]) == {"001", "002", "003"}


def test_survey_align_wave_gives_each_wave_its_own_period(planted, tmp_path, capsys):
    folder = planted[0]
    assert main(_cli(folder, "--survey-align", "wave", "--out", str(tmp_path / "w.csv"))) == 0
    panel = _read_panel(tmp_path / "w.csv")
    has = panel["es_wave"].notna()
    assert has.any() and (panel.loc[has, "es_wave"] == panel.loc[has, "period"]).all()
    assert (panel.loc[~has, "es_respondents"] == 0).all() and panel.loc[~has, "es_engagement"].isna().all()
    assert "aligned wave" in capsys.readouterr().out


# ---- mappings and bad inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(("yaml", "message"), [
    ("employee_survey: {unit_id: Store}\n",
     "employee_survey.csv, column 'Store': the mapping takes employee_survey.unit_id from column 'Store', "
     "which the file does not have"),
    ("employee_survey: {items: [engagment, pay]}\n",
     "employee_survey.csv, column 'engagment': the mapping takes employee_survey.engagment from column "
     "'engagment', which the file does not have (did you mean 'engagement'?)"),
    ("employee_survey: {survey_dat: Date}\n",
     "map.yaml: unknown column 'survey_dat' in section 'employee_survey' (did you mean 'survey_date'?)"),
    ("customer_survey: {nps: Recommend}\n",
     "customer_survey.csv, column 'Recommend': the mapping takes customer_survey.nps from column 'Recommend'"),
    ("revenue: {period: Month}\n", "unit_revenue.csv, column 'Month': the mapping takes revenue.period"),
    ("segments: {segment: Tier}\n", "customer_segments.csv, column 'Tier': the mapping takes segments.segment"),
    ("employee_survey: {scale: [5, 1]}\n", "map.yaml: section 'employee_survey': scale must be [lowest, highest]"),
])
def test_mapping_naming_an_absent_survey_column_is_one_line_exit_2(planted, tmp_path, capsys, yaml, message):
    folder = planted[0]
    (tmp_path / "map.yaml").write_text(yaml)
    status = main(_cli(folder, "--map", str(tmp_path / "map.yaml"), "--out", str(tmp_path / "p.csv")))
    assert status == 2
    assert _one_error(capsys).startswith("linkage panel: error: " + message)
    assert not (tmp_path / "p.csv").exists()


def test_mapped_survey_with_explicit_items_and_scale(tmp_path):
    employees = pd.DataFrame({"employee_id": ["a", "b"], "unit_id": ["s1", "s2"],
                              "hire_date": ["2023-01-01"] * 2, "termination_date": ["", ""]})
    customers = pd.DataFrame({"customer_id": ["x"], "unit_id": ["s1"], "start_date": ["2023-01-01"],
                              "end_date": [""]})
    survey = pd.DataFrame({"Store": ["s1", "s1", "s2"], "When": ["02/03/2024", "02/20/2024", "02/11/2024"],
                           "Q1 I am engaged": ["7", "6", "1"], "Q2 Pay": ["2", "3", "4"],
                           "Tenure years": ["12", "30", "8"]})
    mapping = {"employee_survey": {"unit_id": "Store", "survey_date": "When", "scale": [1, 7],
                                   "items": {"engagement": "Q1 I am engaged", "pay": "Q2 Pay"}},
               "dates": {"format": "%m/%d/%Y"}}
    result = prepare(employees=employees, customers=customers, employee_survey=survey, mapping=mapping,
                     start="2024-01", end="2024-03", as_of="2024-06-30")
    assert result.items == ("engagement", "pay")
    s1 = result.panel.set_index(["unit_id", result.panel["period"].dt.strftime("%Y-%m")])
    assert s1.loc[("s1", "2024-02"), "es_engagement"] == 6.5  # (7 + 6) / 2 on the 1-7 scale
    assert s1.loc[("s1", "2024-03"), "es_pay"] == 2.5  # carried forward
    assert s1.loc[("s2", "2024-01"), "es_respondents"] == 0
    # without items: 'Tenure years' looks numeric but is off the scale -> refused, not silently an item
    auto = {"employee_survey": {"unit_id": "Store", "survey_date": "When", "scale": [1, 7]},
            "dates": {"format": "%m/%d/%Y"}}
    with pytest.raises(InputError, match="column 'Tenure years': looks numeric but most of its values are off "
                                         "the 1-7 answer scale"):
        prepare(employees=employees, customers=customers, employee_survey=survey, mapping=auto,
                as_of="2024-06-30")


def test_customer_level_revenue_by_hand():
    # design.md: a spends 100 then 120, b 50 then leaves, c arrives in February:
    # revenue 150, revenue_start 150 (January's), retained 120, net revenue retention 0.8
    employees = pd.DataFrame({"employee_id": ["e"], "unit_id": ["s1"], "hire_date": ["2023-01-01"],
                              "termination_date": [""]})
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "unit_id": ["s1"] * 3,
                              "start_date": ["2023-06-01", "2023-06-01", "2024-02-03"],
                              "end_date": ["", "2024-02-10", ""]})
    revenue = pd.DataFrame({"Account": ["a", "a", "b", "c", "a"], "Store": ["s1"] * 5,
                            "Invoice date": ["2024-01-05", "2024-02-05", "2024-01-20", "2024-02-10", "2024-02-05"],
                            "Amount": ["100", "120", "50", "30", "120"]})  # the last row: an exact copy
    segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["retail", "b2b"]})
    mapping = {"revenue": {"customer_id": "Account", "unit_id": "Store", "period": "Invoice date",
                           "revenue": "Amount"}}
    result = prepare(employees=employees, customers=customers, revenue=revenue, segments=segments,
                     mapping=mapping, start="2024-02", end="2024-02", as_of="2024-06-30")
    row = result.panel.iloc[0]
    assert (row["revenue"], row["revenue_start"], row["revenue_retained"]) == (150.0, 150.0, 120.0)
    assert row["revenue_retention"] == pytest.approx(0.8)
    assert result.rejects["reason"].tolist() == ["duplicate_row"]
    seg = result.segments.set_index("segment")
    assert seg.loc["(no segment)", "customer_joined"] == 1  # c has no segment: counted, not lost
    assert seg["customer_start"].sum() == row["customer_start"] == 2
    assert seg.loc["b2b", "customer_left"] == 1


def test_unit_revenue_finer_than_the_panel_is_an_error(planted, tmp_path, capsys):
    assert main(_cli(planted[0], "--freq", "Q", "--out", str(tmp_path / "q.csv"))) == 2
    assert "unit_revenue.csv, column 'period': has " in _one_error(capsys)


def test_pseudonymised_survey_and_segment_ids(planted, tmp_path, monkeypatch):
    folder = planted[0]
    monkeypatch.setenv("LINKAGE_PSEUDONYM_KEY", "a test key of at least sixteen bytes")
    _quiet_main(_cli(folder, "--pseudonymise", "--out", str(tmp_path / "p.csv"), "--rejects",
                     str(tmp_path / "r.csv"), "--segments-out", str(tmp_path / "s.csv")))
    rejects = pd.read_csv(tmp_path / "r.csv", dtype="str", keep_default_na=False)
    for column in ("respondent_id", "response_id", "customer_id"):
        ids = rejects[column].loc[rejects[column].ne("")]
        assert len(ids) and ids.str.startswith("p_").all()
    plain = pd.read_csv(folder / "run" / "r.csv", dtype="str", keep_default_na=False)
    assert rejects[["file", "row", "reason"]].equals(plain[["file", "row", "reason"]])
    # segments still match the (pseudonymised) customers: the same per-segment counts
    a, b = pd.read_csv(tmp_path / "s.csv"), pd.read_csv(folder / "run" / "s.csv")
    pd.testing.assert_frame_equal(a, b)
    assert not (a["segment"] == "(no segment)").any()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), pd.read_csv(folder / "run" / "p.csv"))


def test_segments_out_needs_segments(planted, tmp_path, capsys):
    folder = planted[0]
    args = ["panel", "--employees", str(folder / "employees.csv"), "--customers", str(folder / "customers.csv"),
            "--as-of", AS_OF, "--out", str(tmp_path / "p.csv"), "--segments-out", str(tmp_path / "s.csv")]
    assert main(args) == 2
    assert "no segments to write" in _one_error(capsys)
    assert not (tmp_path / "p.csv").exists()
    assert main([*args[:-2], "--segments-out", str(tmp_path / "p.csv")]) == 2
    assert "--out and --segments-out name the same file" in _one_error(capsys)
    assert main([*args[:-2], "--segments-out", str(folder / "customers.csv")]) == 2
    assert "refusing to overwrite an input file" in _one_error(capsys)


def test_survey_none_of_whose_rows_can_be_used(copy, capsys):
    folder, tables = copy
    es = tables["employee_survey.csv"].assign(survey_date="never")
    es.to_csv(folder / "employee_survey.csv", index=False)
    assert main(_cli(folder, "--out", str(folder / "p.csv"))) == 2
    assert _one_error(capsys).startswith("linkage panel: error: employee_survey.csv: none of its ")


def test_inputs_untouched(planted):
    folder, before = planted[0], planted[4]
    assert {n: (folder / n).read_bytes() for n in before} == before
    assert np.isfinite(_read_panel(folder / "run" / "p.csv")["revenue_retention"]).any()


def _people() -> tuple[pd.DataFrame, pd.DataFrame]:
    employees = pd.DataFrame({"employee_id": ["e"], "unit_id": ["s1"], "hire_date": ["2023-01-01"],
                              "termination_date": [""]})
    customers = pd.DataFrame({"Account": ["a", "b", "c"], "unit_id": ["s1"] * 3,
                              "start_date": ["2023-06-01", "2023-06-01", "2023-06-01"],
                              "end_date": ["", "2024-02-10", ""], "Vertical": ["retail", "retail", " "]})
    return employees, customers


def test_segment_column_on_the_customers():
    employees, customers = _people()
    mapping = {"customers": {"customer_id": "Account", "segment": "Vertical"}}
    result = prepare(employees=employees, customers=customers, mapping=mapping, start="2024-02", end="2024-02",
                     as_of="2024-06-30")
    seg = result.segments.set_index("segment")
    # a and b are retail (b leaves in February), c has a blank vertical: "(no segment)", still counted
    assert seg.loc["retail", ["customer_start", "customer_left"]].tolist() == [2, 1]
    assert seg.loc["(no segment)", "customer_start"] == 1
    assert seg["customer_start"].sum() == result.panel["customer_start"].iloc[0] == 3
    no_segments = prepare(employees=employees, customers=customers.drop(columns="Vertical"),
                          mapping={"customers": {"customer_id": "Account"}}, as_of="2024-06-30")
    assert no_segments.segments is None and no_segments.items == ()


def test_unit_revenue_retention_computed_when_absent():
    employees, customers = _people()
    revenue = pd.DataFrame({"unit_id": ["s1", "s1", "s1"], "period": ["2024-01", "2024-02", "2024-03"],
                            "revenue": ["100", "90", "0"], "revenue_start": ["80", "100", "0"],
                            "revenue_retained": ["76", "85", "0"]})
    result = prepare(employees=employees, customers=customers, revenue=revenue,
                     mapping={"customers": {"customer_id": "Account"}}, start="2024-01", end="2024-04",
                     as_of="2024-06-30")
    got = result.panel["revenue_retention"].to_numpy()
    np.testing.assert_allclose(got[:2], [76 / 80, 85 / 100])  # retained / start
    assert np.isnan(got[2]) and np.isnan(got[3])  # start 0: NaN; April: no row
    only = prepare(employees=employees, customers=customers, revenue=revenue[["unit_id", "period", "revenue"]],
                   mapping={"customers": {"customer_id": "Account"}}, start="2024-01", end="2024-02",
                   as_of="2024-06-30")
    assert only.panel["revenue"].tolist() == [100.0, 90.0] and "revenue_retention" not in only.panel


def test_reserved_item_names():
    employees, customers = _people()
    survey = pd.DataFrame({"unit_id": ["s1"], "survey_date": ["2024-01-05"], "Q1": ["3"]})
    with pytest.raises(InputError, match="an item may not be called 'wave'"):
        prepare(employees=employees, customers=customers, employee_survey=survey,
                mapping={"customers": {"customer_id": "Account"}, "employee_survey": {"items": {"wave": "Q1"}}},
                as_of="2024-06-30")


def test_a_section_can_have_its_own_date_format(tmp_path):
    (tmp_path / "hr.csv").write_text("employee_id,unit_id,hire_date,termination_date\ne,s1,01/02/2023,\n")
    (tmp_path / "crm.csv").write_text("customer_id,unit_id,start_date,end_date\nc,s1,01/02/2023,\n")
    (tmp_path / "pulse.csv").write_text("Store;Datum;engagement\ns1;03.02.2024;4\ns1;13.02.2024;2\n")
    (tmp_path / "map.yaml").write_text(
        'employee_survey: {unit_id: Store, survey_date: Datum, dates: {format: "%d.%m.%Y"}}\n'
        'dates: {format: "%m/%d/%Y"}\n')
    result = prepare(employees=tmp_path / "hr.csv", customers=tmp_path / "crm.csv",
                     employee_survey=tmp_path / "pulse.csv", mapping=tmp_path / "map.yaml",
                     start="2024-02", end="2024-02", as_of="2024-06-30")
    assert result.report.n_set_aside == 0
    assert result.panel[["es_engagement", "es_respondents"]].iloc[0].tolist() == [3.0, 2]
    (tmp_path / "map.yaml").write_text('employee_survey: {dates: "%d.%m.%Y"}\n')
    with pytest.raises(InputError, match="map.yaml: section 'employee_survey': dates must be"):
        prepare(employees=tmp_path / "hr.csv", customers=tmp_path / "crm.csv", mapping=tmp_path / "map.yaml")


def test_unit_level_survey_means_with_respondent_counts():
    # the sample's respondents averaged by unit and month by hand (pandas groupby) give the same
    # es_ columns as the respondent-level file
    employees, customers = _people()
    sample = load_sample_chain().employee_survey
    sample = sample.loc[sample["unit_id"].isin(["001", "002"])]
    items = ["engagement", "pay"]
    month = sample["survey_date"].dt.to_period("M").dt.to_timestamp()
    means = sample.groupby(["unit_id", month])[items].mean().reset_index()
    means["respondents"] = sample.groupby(["unit_id", month]).size().to_numpy()
    means = means.rename(columns={"survey_date": "period"}).astype("str")  # text, as a file gives it
    means.loc[len(means)] = ["001", "2023-03-01", "4", "4", "4"]  # duplicate_period
    means.loc[len(means)] = ["002", "2023-07-01", "3.5", "3", ""]  # missing_number: no count
    means.loc[len(means)] = ["002", "2023-08-01", "5.5", "3", "2"]  # out_of_scale: a mean above 5
    employees = pd.DataFrame({"employee_id": ["e", "f"], "unit_id": ["001", "002"],
                              "hire_date": ["2020-01-01"] * 2, "termination_date": ["", ""]})
    customers = customers.assign(unit_id="001")
    common = {"employees": employees, "customers": customers, "start": "2023-01", "end": "2024-06",
              "as_of": AS_OF}
    mapping = {"customers": {"customer_id": "Account"}, "employee_survey": {"items": items}}
    got = prepare(employee_survey=means, mapping=mapping, **common)
    assert got.rejects["reason"].tolist() == ["duplicate_period", "missing_number", "out_of_scale"]
    # with their ids: two respondents giving the same answers on the same day are not duplicates
    want = prepare(employee_survey=sample[["respondent_id", "unit_id", "survey_date", *items]].astype("str"),
                   mapping=mapping, **common)
    cols = ["es_engagement", "es_pay", "es_respondents", "es_wave"]
    assert got.panel["es_respondents"].max() > 1
    pd.testing.assert_frame_equal(got.panel[cols], want.panel[cols], check_exact=False, rtol=1e-12)
