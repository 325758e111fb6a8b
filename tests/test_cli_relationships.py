"""``linkage relationships`` on a small simulated world: JSON, privacy, bad input."""

import json

import pandas as pd
import pytest

from linkage.cli import main
from linkage.simulate import RelationshipSpec, WorldSpec, simulate, write_world


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("relationships")
    world = simulate(WorldSpec(n_units=30, months=24, seed=8), relationships=RelationshipSpec())
    write_world(world, tmp)
    rel = world.relationships
    # defects: a relationship with an employee the HR extract lacks, one overlapping another
    first = rel.iloc[0]
    bad = pd.DataFrame(
        {
            "customer_id": [first["customer_id"], first["customer_id"]],
            "employee_id": ["NOBODY", first["employee_id"]],
            "start_date": [first["start_date"], first["start_date"] + pd.Timedelta(days=1)],
            "end_date": [pd.NaT, pd.NaT],
        }
    )
    pd.concat([rel, bad]).to_csv(tmp / "relationships_bad.csv", index=False)
    cust = world.customers.copy()
    cust.loc[cust.index[:3], "served_by"] = "NOBODY"
    cust.to_csv(tmp / "customers_bad.csv", index=False)
    world.customers.drop(columns="served_by").to_csv(tmp / "customers_plain.csv", index=False)
    (tmp / "map.yaml").write_text(
        "customers: {customer_id: customer_id, unit_id: unit_id, start_date: start_date,\n"
        "            end_date: end_date, served_by: served_by}\n"
    )
    return tmp


def _run(files, capsys, *extra):
    code = main(
        [
            "relationships",
            "--employees",
            str(files / "employees.csv"),
            "--as-of",
            "2030-01-01",
            *extra,
        ]
    )
    return code, capsys.readouterr()


def test_json_with_relationships(files, capsys):
    code, out = _run(
        files,
        capsys,
        "--customers",
        str(files / "customers.csv"),
        "--relationships",
        str(files / "relationships_bad.csv"),
        "--json",
    )
    assert code == 0
    doc = json.loads(out.out)
    for key in (
        "hazard_ratio",
        "ci_low",
        "ci_high",
        "p_val",
        "customers_exposed",
        "departures",
        "customers_lost_per_departure",
        "by_months_since_departure",
        "by_relationship_length",
        "handover",
        "text",
        "settings",
    ):
        assert key in doc
    assert doc["settings"]["window"] == 6 and doc["settings"]["handover_days"] == 30
    assert [m["month"] for m in doc["by_months_since_departure"]] == [1, 2, 3, 4, 5, 6]
    assert doc["ci_low"] < doc["hazard_ratio"] < doc["ci_high"]
    # the two bad relationships are set aside and counted with their reasons
    counts = {(c["file"], c["reason"]): c["n"] for c in doc["cleaning"]}
    assert counts[("relationships_bad.csv", "unknown_employee")] == 1
    assert counts[("relationships_bad.csv", "overlapping_relationship")] == 1
    # nothing person-level leaves: no customer or employee id in the output
    assert "C0" not in out.out and "E0" not in out.out
    # every figure shown covers at least k = 5 customers and departures
    for row in doc["by_months_since_departure"] + doc["by_relationship_length"]:
        assert row["customers"] >= 5 and row["departures"] >= 5 or row["hazard_ratio"] is None


def test_served_by_with_mapping_and_unknown_employees(files, capsys):
    code, out = _run(
        files,
        capsys,
        "--customers",
        str(files / "customers_bad.csv"),
        "--map",
        str(files / "map.yaml"),
        "--window",
        "3",
        "--json",
    )
    assert code == 0
    doc = json.loads(out.out)
    counts = {(c["file"], c["reason"]): c["n"] for c in doc["cleaning"]}
    assert counts[("customers_bad.csv", "unknown_employee")] == 3
    assert doc["settings"]["source"] == "served_by" and doc["handover"] is None
    assert len(doc["by_months_since_departure"]) == 3


def test_report_text(files, capsys):
    code, out = _run(files, capsys, "--customers", str(files / "customers.csv"))
    assert code == 0
    assert "times as likely to leave" in out.out
    assert "By months since the departure" in out.out
    assert "rows read" in out.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--customers", "missing.csv"], "no such file"),
        (["--customers", "{plain}"], "has no served_by column"),
        (["--customers", "{plain}", "--relationships", "{employees}"], "relationships"),
        (["--customers", "{customers}", "--window", "0"], "--window"),
        (["--customers", "{customers}", "--min-group", "100000"], "too few to report"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, extra, message):
    names = {
        "plain": files / "customers_plain.csv",
        "employees": files / "employees.csv",
        "customers": files / "customers.csv",
    }
    args = [a.format(**{k: str(v) for k, v in names.items()}) for a in extra]
    code, out = _run(files, capsys, *args)
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.err


def test_simulate_writes_relationships(tmp_path, capsys):
    out = tmp_path / "world"
    args = ["simulate", str(out), "--units", "4", "--months", "6", "--relationships"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "relationships: hazard ratio 2 for 6 months" in text
    rel = pd.read_csv(out / "relationships.csv")
    assert list(rel.columns) == ["customer_id", "employee_id", "start_date", "end_date"]
    assert "served_by" in pd.read_csv(out / "customers.csv").columns
    assert main(["simulate", str(out), "--sample", "--relationships"]) == 2
