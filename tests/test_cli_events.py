"""Events end to end: the simulator's planted events, ``linkage panel --events-out`` and
``linkage events`` (report, JSON, bad input: one line and exit 2)."""

import json
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from linkage.cli import main
from linkage.errors import InputError
from linkage.panel.events import derive_events
from linkage.simulate import EventSpec, WorldSpec, simulate, write_world
from linkage.stats.events import event_study

BAD = pathlib.Path(__file__).resolve().parent / "data" / "bad"
SPEC = WorldSpec(n_units=60, months=30, seed=3, min_headcount=10)


@pytest.fixture(scope="module")
def world():
    return simulate(SPEC, events=EventSpec())


@pytest.fixture(scope="module")
def files(tmp_path_factory, world):
    tmp = tmp_path_factory.mktemp("events")
    write_world(world, tmp / "w")
    assert main([
        "panel", "--employees", str(tmp / "w" / "employees.csv"),
        "--customers", str(tmp / "w" / "customers.csv"), "--units", str(tmp / "w" / "units.csv"),
        "--start", "2023-01", "--end", "2025-06", "--as-of", "2026-01-01",
        "--out", str(tmp / "panel.csv"), "--events-out", str(tmp / "events.csv"),
        "--manager-role", "manager",
    ]) == 0
    return tmp


def test_simulator_plants_roles_programme_and_truth(world):
    emp = world.employees
    assert list(emp.columns)[-1] == "role"
    managers = emp.loc[emp["role"] == "manager"]
    assert managers["unit_id"].is_unique and len(managers) == SPEC.n_units
    truth = world.truth["events"]
    gone = managers.dropna(subset=["termination_date"])
    assert len(gone) == len(truth["manager_departures"])
    assert truth["effects"]["manager_departure"][:9] == pytest.approx(
        [-0.015] * 4 + [-0.012, -0.009, -0.006, -0.003, 0.0]
    )
    # late: the mean of event times 7-12 (-0.3 points at 7, nothing after)
    assert truth["fade"]["manager_departure"] == pytest.approx({"early": -0.015, "late": -0.0005})
    prog = world.programme
    assert list(prog.columns) == ["unit_id", "event_date", "event_type"]
    assert len(prog) == truth["programme_units"] > 0
    assert (prog["event_type"] == "programme").all()


def test_simulate_command_with_events(tmp_path, capsys):
    assert main(["simulate", str(tmp_path), "--units", "8", "--months", "12", "--events"]) == 0
    assert "manager departures (role 'manager')" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "employees.csv")["role"].eq("manager").sum() <= 8
    assert list(pd.read_csv(tmp_path / "programme.csv").columns) == [
        "unit_id", "event_date", "event_type"
    ]
    assert "events" in json.loads((tmp_path / "truth.json").read_text())


def test_without_events_the_world_is_unchanged(world):
    # the events draw on a stream of their own: a world simulated without them is the world of
    # before (figures pinned on worlds without events rest on this), and has no role column or
    # programme
    plain = simulate(SPEC)
    again = simulate(SPEC)
    assert "role" not in plain.employees.columns and plain.programme is None
    pd.testing.assert_frame_equal(plain.employees, again.employees)
    pd.testing.assert_frame_equal(plain.panel, again.panel)
    assert "events" not in plain.truth
    assert world.units.equals(plain.units)  # the latent world (units, climate) is shared


def test_event_study_recovers_the_planted_departure_effect(world):
    derived = derive_events(world.panel, world.employees, manager_role="manager")
    deps = derived.loc[derived["event_type"] == "manager_departure"]
    res = event_study(world.panel, deps, pre=6, post=12)
    truth = world.truth["events"]["effects"]["manager_departure"]
    est = res.estimates.set_index("event_time")
    covered = [est.loc[e, "ci_low"] <= truth[e] <= est.loc[e, "ci_high"] for e in range(13)]
    assert sum(covered) >= 11  # 95 % intervals; benchmarks/causal_study.py has the rates
    assert res.fade["early"] == pytest.approx(-0.015, abs=0.006)
    assert res.fade["fades"] is True


def test_panel_events_out_holds_no_person(files, world):
    ev = pd.read_csv(files / "events.csv", dtype=str)
    assert list(ev.columns) == ["unit_id", "event_date", "event_type"]
    assert set(ev["event_type"]) == {"manager_departure", "staff_shock"}
    deps = ev.loc[ev["event_type"] == "manager_departure"]
    truth = pd.DataFrame(world.truth["events"]["manager_departures"])
    assert sorted(zip(deps["unit_id"], deps["event_date"], strict=True)) == sorted(
        zip(truth["unit_id"], truth["event_date"], strict=True)
    )
    shocks = ev.loc[ev["event_type"] == "staff_shock"]
    assert len(shocks) == len(world.truth["events"]["staff_shocks"])
    assert not ev.apply(lambda c: c.str.startswith("E0")).any().any()  # no employee id


def test_role_mapped_in_the_yaml_map(tmp_path, files, capsys):
    emp = pd.read_csv(files / "w" / "employees.csv", dtype=str).rename(
        columns={"role": "Job Title"}
    )
    emp["Job Title"] = emp["Job Title"].replace({"manager": "Store Manager"})
    emp.to_csv(tmp_path / "hr.csv", index=False)
    (tmp_path / "map.yaml").write_text("employees:\n  role: Job Title\n")
    args = [
        "panel", "--employees", str(tmp_path / "hr.csv"),
        "--customers", str(files / "w" / "customers.csv"), "--map", str(tmp_path / "map.yaml"),
        "--start", "2023-01", "--end", "2025-06", "--as-of", "2026-01-01",
        "--out", str(tmp_path / "p.csv"), "--events-out", str(tmp_path / "ev.csv"),
    ]
    assert main([*args, "--manager-role", "Store Manager"]) == 0
    assert "manager_departure" in capsys.readouterr().out
    ev = pd.read_csv(tmp_path / "ev.csv", dtype=str)
    assert (ev["event_type"] == "manager_departure").sum() == len(
        pd.read_csv(files / "events.csv").query("event_type == 'manager_departure'")
    )
    # a role no spell has, and --manager-role without --events-out: one line, exit 2
    assert main([*args, "--manager-role", "Boss"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no spell has the role 'Boss'" in err
    assert main([*args[:-2], "--manager-role", "Store Manager"]) == 2
    assert "--manager-role needs --events-out" in capsys.readouterr().err
    assert main([*args, "--shock-share", "1.5"]) == 2
    assert "--shock-share" in capsys.readouterr().err


def test_events_json(files, capsys):
    assert main(["events", str(files / "panel.csv"), "--events", str(files / "events.csv"),
                 "--type", "manager_departure", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("event_type", "outcome", "method", "n_treated_units", "n_control_units",
                "estimates", "pre_trend_p", "post_average", "fade", "text", "settings"):
        assert key in doc
    assert doc["event_type"] == "manager_departure" and doc["outcome"] == "customer_retention"
    assert [e["event_time"] for e in doc["estimates"]] == list(range(-6, 13))
    assert set(doc["estimates"][0]) >= {"event_time", "estimate", "ci_low", "ci_high", "p_val"}
    assert set(doc["post_average"]) >= {"estimate", "ci_low", "ci_high"}
    assert set(doc["fade"]) >= {"early", "late", "diff_p"}
    assert doc["events_used"] + sum(doc["set_aside"].values()) == doc["events_read"]
    assert doc["post_average"]["estimate"] < 0


def test_events_report_and_programme_file(files, capsys):
    assert main(["events", str(files / "panel.csv"), "--events",
                 str(files / "w" / "programme.csv"), "--pre", "3", "--post", "8"]) == 0
    out = capsys.readouterr().out
    assert "Event study: programme on customer_retention" in out
    assert "pre-trend test" in out and "fade:" in out and "units:" in out


def test_events_set_aside_rows_are_counted(tmp_path, files, capsys):
    ev = pd.read_csv(files / "w" / "programme.csv", dtype=str)
    extra = pd.DataFrame(
        {"unit_id": ["999", ev["unit_id"].iloc[0], None],
         "event_date": ["2024-01-05", "2031-01-01", "2024-01-05"],
         "event_type": "programme"}
    )
    pd.concat([ev, extra]).to_csv(tmp_path / "ev.csv", index=False)
    assert main(["events", str(files / "panel.csv"), "--events", str(tmp_path / "ev.csv"),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    aside = {k: v for k, v in doc["set_aside"].items() if v}
    assert aside["unit_not_in_panel"] == 1 and aside["missing_unit"] == 1
    assert aside["date_outside_panel"] == 1
    assert doc["events_read"] == len(ev) + 3


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "empty.csv"),  # an empty file from the bad-input corpus
        ("unit_id,when\n001,2024-01-01\n", "column 'event_date'"),
        ("unit_id,event_date\n999,2024-01-01\n001,2040-01-01\n", "no usable event"),
        ("unit_id,event_date,event_type\n001,2024-01-01,a\n002,2024-02-01,b\n",
         "several event types"),
    ],
)
def test_unusable_events_file_is_one_line_and_exit_2(tmp_path, files, capsys, content, words):
    path = BAD / "empty.csv" if content is None else tmp_path / "ev.csv"
    if content is not None:
        path.write_text(content)
    assert main(["events", str(files / "panel.csv"), "--events", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_binary_events_file_and_missing_outcome(files, capsys):
    assert main(["events", str(files / "panel.csv"), "--events", str(BAD / "binary_junk.csv")]) == 2
    assert "binary_junk.csv" in capsys.readouterr().err
    assert main(["events", str(files / "panel.csv"), "--events", str(files / "events.csv"),
                 "--type", "staff_shock", "--outcome", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_derive_events_checks():
    panel = pd.DataFrame({"unit_id": ["a"], "period": pd.to_datetime(["2024-01-01"]),
                          "employee_start": [0], "employee_left": [0]})
    assert derive_events(panel).empty  # no staff at the start: no shock, no division by 0
    with pytest.raises(InputError, match="no role column"):
        derive_events(panel, pd.DataFrame({"unit_id": ["a"]}), manager_role="manager")
    with pytest.raises(InputError, match="shock share"):
        derive_events(panel, shock_share=0)
    assert np.isclose(EventSpec().shock_share, 0.25)
    with pytest.raises(InputError, match="manager_departure_share"):
        EventSpec(manager_departure_share=2)


def test_report_section_when_someone_leaves(tmp_path, files, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(files / "panel.csv"), "--out", str(out), "--n-boot", "50",
                 "--events", str(files / "events.csv"), "--type", "manager_departure"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<h2>When someone leaves: manager departure</h2>" in text
    section = text.split("When someone leaves")[1]
    assert "data:image/png;base64," in section and "parallel trends" in section
    words = re.sub(r'src="data:[^"]*"', "", section)
    assert not re.search(r"E\d{5}", words)  # no employee identifier
    capsys.readouterr()
    assert main(["report", str(files / "panel.csv"), "--out", str(out), "--type", "x"]) == 2
    assert "--type needs --events" in capsys.readouterr().err
    # several types and no --type: the one the dashboard shows first (manager departures)
    assert main(["report", str(files / "panel.csv"), "--out", str(out),
                 "--events", str(files / "events.csv")]) == 0
    assert "<h2>When someone leaves: manager departure</h2>" in out.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(files / "panel.csv"), "--out", str(out),
                 "--events", str(files / "events.csv"), "--type", "boss_left"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no event of type 'boss_left'" in err[0]
