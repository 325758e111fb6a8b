"""linkage.simulate: person-level worlds, defects, writing, the bundled sample and the CLI.

Reference for the panel: linkage.panel.build_panel (docs/domain.md definitions) on the extracts must
give exactly the counts simulate_panel drew; for the defects: linkage.clean must set aside exactly
the rows the simulator says it planted.
"""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
import yaml

from linkage.cli import main
from linkage.errors import InputError
from linkage.panel import build_panel
from linkage.pipeline import prepare
from linkage.simulate import (
    ChainSpec,
    DEFECT_REASONS,
    EventSpec,
    RelationshipSpec,
    SAMPLE_DEFECTS,
    SAMPLE_EVENTS,
    SAMPLE_SPEC,
    WorldSpec,
    simulate,
    simulate_panel,
    write_world,
)

SPEC = WorldSpec(n_units=25, months=18, headcount_median=6, customers_per_employee=6, rehire_share=0.2, seed=7)
COUNTS = [f"{side}_{f}" for side in ("employee", "customer") for f in ("start", "joined", "left", "retained", "end")]
RATES = [f"{side}_{f}" for side in ("employee", "customer") for f in ("retention", "turnover")]


@pytest.fixture(scope="module")
def world():
    return simulate(SPEC)


@pytest.fixture(scope="module")
def fast():
    return simulate_panel(SPEC)


def _built(world, kind="spells"):
    facts = world.truth["facts"]
    if kind == "spells":
        return build_panel(world.employees, world.customers, start=facts["window_start"], end=facts["window_end"])
    return build_panel(world.employees, activity=world.customers, start=facts["window_start"],
                       end=facts["window_end"])


def test_extracts_rebuild_exactly_the_fast_panel(world, fast):
    panel, truth = fast
    built = _built(world)
    pd.testing.assert_frame_equal(built[COUNTS + RATES].reset_index(drop=True), panel[COUNTS + RATES])
    assert list(built["unit_id"]) == list(panel["unit_id"])
    # the world's own panel is the same, with the units' attributes
    pd.testing.assert_frame_equal(world.panel[COUNTS + RATES], panel[COUNTS + RATES])
    assert list(world.panel.columns[-4:]) == ["region", "district", "size_band", "opened"]
    assert world.truth["facts"] == truth["facts"]


def test_activity_log_rebuilds_the_same_panel(fast):
    activity = simulate(SPEC, customers="activity")
    built = _built(activity, "activity")
    pd.testing.assert_frame_equal(built[COUNTS + RATES].reset_index(drop=True), fast[0][COUNTS + RATES])
    log = activity.customers
    assert list(log.columns) == ["customer_id", "unit_id", "activity_date", "revenue"]
    assert (log["revenue"] > 0).all()
    # at least one visit in the month before the window, so the first month has a customer base
    assert log["activity_date"].min() < pd.Timestamp(SPEC.start + "-01")
    assert activity.truth["customers_kind"] == "activity"


def test_planted_lag_shows_in_both_outputs():
    # a stronger world: the within-unit lagged r of demeaned rates peaks at the planted lag in the
    # fast panel and in the panel built from people (they are the same counts)
    spec = WorldSpec(n_units=120, months=30, lag=3, effect_staff=0.9, effect_customer=0.9,
                     climate_persistence=0.4, seed=31)
    people = simulate(spec)
    built = _built(people)
    fast, _ = simulate_panel(spec)

    def peak(panel):
        x = panel["employee_retention"].to_numpy().reshape(-1, 30)
        y = panel["customer_retention"].to_numpy().reshape(-1, 30)
        rs = {}
        for k in range(0, 7):
            a, b = x[:, : 30 - k], y[:, k:]
            ok = ~np.isnan(a) & ~np.isnan(b)
            a = np.where(ok, a - np.nanmean(np.where(ok, a, np.nan), 1, keepdims=True), 0)
            b = np.where(ok, b - np.nanmean(np.where(ok, b, np.nan), 1, keepdims=True), 0)
            rs[k] = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
        return max(rs, key=rs.get), rs

    for panel in (built, fast):
        best, rs = peak(panel)
        assert best == 3 and rs[3] > 0


def test_people_are_consistent(world):
    emp = world.employees
    assert list(emp.columns) == ["employee_id", "unit_id", "hire_date", "termination_date", "termination_type"]
    ended = emp["termination_date"].notna()
    assert (emp.loc[ended, "termination_date"] > emp.loc[ended, "hire_date"]).all()
    assert emp["termination_type"].notna().eq(ended).all()
    assert set(emp.loc[ended, "termination_type"]) <= {"voluntary", "involuntary", "transfer"}
    # rehires: a person has several spells, never two at once (in any unit)
    assert emp["employee_id"].duplicated().any()
    s = emp.sort_values(["employee_id", "hire_date"])
    same = s["employee_id"].eq(s["employee_id"].shift())
    prev_end = s["termination_date"].shift()
    assert (prev_end[same].notna() & (prev_end[same] < s["hire_date"][same])).all()
    # nothing after the window, nothing before a unit opened
    end = pd.Timestamp(world.truth["facts"]["window_end"])
    assert emp["hire_date"].max() <= end and emp["termination_date"].max() <= end
    opened = emp["unit_id"].map(world.units.set_index("unit_id")["opened"])
    assert (emp["hire_date"] >= opened).all()
    cus = world.customers
    assert cus["customer_id"].is_unique
    assert (cus["end_date"].dropna() > cus.loc[cus["end_date"].notna(), "start_date"]).all()
    units = world.units
    assert units["unit_id"].is_unique and set(emp["unit_id"]) <= set(units["unit_id"])
    assert 4 <= units["region"].nunique() <= 6
    assert (units["district"].str.split("-").str[0] == units["region"]).all()


def test_same_seed_same_people():
    a = simulate(SPEC.replace(n_units=5, months=6), defects=0.05)
    b = simulate(SPEC.replace(n_units=5, months=6), defects=0.05)
    pd.testing.assert_frame_equal(a.employees, b.employees)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert a.truth == b.truth


# ---- defects ---------------------------------------------------------------------------------


def test_defect_counts_are_exact_and_removing_them_gives_the_clean_world(world):
    wanted = {"duplicate_row": 4, "end_before_start": 3, "unparseable_date": 2, "missing_identifier": 5,
              "unknown_unit": 1, "future_date": 2, "overlapping_spell": 3}
    bad = simulate(SPEC, defects=wanted)
    for name, clean in (("employees.csv", world.employees), ("customers.csv", world.customers)):
        info = bad.truth["defects"][name]
        assert info["counts"] == wanted
        table = bad.employees if name == "employees.csv" else bad.customers
        assert len(table) == info["rows_total"] == len(clean) + sum(wanted.values())
        rows = pd.DataFrame(info["rows"])
        assert rows["reason"].value_counts().to_dict() == wanted
        kept = table.drop(index=rows["row"] - 1)
        expect = clean.astype("str")
        for col in expect.columns:
            if str(clean[col].dtype).startswith("datetime64"):
                expect[col] = clean[col].dt.strftime("%Y-%m-%d").astype("str")
        key = list(expect.columns)
        pd.testing.assert_frame_equal(
            kept.sort_values(key).reset_index(drop=True), expect.sort_values(key).reset_index(drop=True),
            check_dtype=False)
    # the panel of a defective world is the clean one
    pd.testing.assert_frame_equal(bad.panel, world.panel)


def test_linkage_clean_sets_aside_exactly_the_planted_rows(tmp_path):
    spec = SPEC.replace(n_units=12, months=12)
    bad = simulate(spec, defects=0.01)
    write_world(bad, tmp_path, raw_export=True)
    result = prepare(employees=tmp_path / "raw" / "employees.csv", customers=tmp_path / "raw" / "customers.csv",
                     units=tmp_path / "raw" / "units.csv", mapping=tmp_path / "raw" / "mapping.yaml",
                     start=spec.start, end="2023-12", as_of=bad.truth["facts"]["extract_date"])
    rejects = result.rejects
    for name, info in bad.truth["defects"].items():
        theirs = rejects[rejects["file"].astype(str) == name]
        assert sorted(zip(theirs["row"].astype(int), theirs["reason"].astype(str), strict=True)) == sorted(
            (r["row"], r["reason"]) for r in info["rows"])
    pd.testing.assert_frame_equal(result.panel[COUNTS + RATES].reset_index(drop=True),
                                  bad.panel[COUNTS + RATES].reset_index(drop=True))


def test_defects_on_an_activity_log_skip_the_spell_only_reasons():
    bad = simulate(SPEC.replace(n_units=5, months=6), customers="activity", defects=0.01)
    counts = bad.truth["defects"]["customers.csv"]["counts"]
    assert set(counts) == set(DEFECT_REASONS) - {"end_before_start", "overlapping_spell"}
    assert set(bad.truth["defects"]["employees.csv"]["counts"]) == set(DEFECT_REASONS)


def test_activity_log_defects_are_exactly_what_clean_activity_sets_aside():
    # the reported world: 5,183 rows per reason, where some blanked-id rows used to be copies of
    # each other and one clean visit a natural duplicate (truth said 5183/5183, the cleaner 5194/5173)
    from linkage.clean import clean_activity

    bad = simulate(WorldSpec(n_units=30, months=24, seed=0), defects=0.02, customers="activity")
    info = bad.truth["defects"]["customers.csv"]
    result = clean_activity(bad.customers, units=bad.units, as_of=bad.truth["facts"]["extract_date"])
    rejects = result.rejects
    assert rejects["reason"].astype(str).value_counts().to_dict() == info["counts"]
    assert info["counts"] == dict.fromkeys(
        ["duplicate_row", "unparseable_date", "missing_identifier", "unknown_unit", "future_date"], 5183)
    assert sorted(zip(rejects["row"].astype(int), rejects["reason"].astype(str), strict=True)) == sorted(
        (r["row"], r["reason"]) for r in info["rows"])
    assert len(result.data) == info["rows_clean"] == info["rows_total"] - sum(info["counts"].values())


def test_colliding_defects_are_recorded_as_realised():
    # a tiny table where blanked rows must collide: 3 missing identifiers copied from 3 clean rows
    # that differ only in their id; the truth then counts what a cleaner would see
    from linkage.simulate._defects import plant_defects

    table = pd.DataFrame({"customer_id": list("abcdef"), "unit_id": ["1"] * 6,
                          "activity_date": pd.to_datetime(["2024-01-05"] * 6), "revenue": [9.5] * 6})
    collided = 0
    for seed in range(5):
        frame, rows = plant_defects(np.random.default_rng(seed), table, id_col="customer_id",
                                    start_col="activity_date", end_col=None, counts={"missing_identifier": 6},
                                    known_units=np.array(["1"]), extract_date=np.datetime64("2024-06-01"),
                                    new_id_prefix="Y")
        assert len(rows) == 6
        dup_rows = sorted(r["row"] for r in rows if r["reason"] == "duplicate_row")
        assert dup_rows == sorted(int(i) + 1 for i in np.flatnonzero(frame.duplicated().to_numpy()))
        collided += len(dup_rows) > 0
    assert collided >= 1


@pytest.mark.parametrize("defects", [{"typo_row": 1}, {"duplicate_row": -1}, {"duplicate_row": 1.5}, 0.5, -0.1,
                                     True, "0.01"])
def test_bad_defects_are_input_errors(defects):
    with pytest.raises(InputError):
        simulate(SPEC.replace(n_units=3, months=4), defects=defects)


def test_bad_customers_kind_is_an_input_error():
    with pytest.raises(InputError, match="spells"):
        simulate(SPEC, customers="visits")


# ---- writing ---------------------------------------------------------------------------------


def test_write_world_canonical_and_raw(tmp_path, world):
    write_world(world, tmp_path / "a", raw_export=True)
    write_world(world, tmp_path / "b", raw_export=True)
    for path in sorted((tmp_path / "a").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    a = tmp_path / "a"
    emp = pd.read_csv(a / "employees.csv", dtype=str, keep_default_na=False)
    assert list(emp.columns) == list(world.employees.columns)
    assert emp["unit_id"].str.fullmatch(r"\d{3}").all()  # "007" stays "007"
    assert json.loads((a / "truth.json").read_text())["facts"] == world.truth["facts"]
    raw = (a / "raw" / "employees.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfEmployee ID,Cost Center,Hire Date,Termination Date") and b"\r\n" in raw
    assert (a / "raw" / "customers.csv").read_text().startswith("Account ID;Store;Created Date;Cancel Date\n")
    mapping = yaml.safe_load((a / "raw" / "mapping.yaml").read_text())
    assert mapping["employees"]["unit_id"] == "Cost Center"
    assert mapping["customers"] == {"customer_id": "Account ID", "unit_id": "Store",
                                    "start_date": "Created Date", "end_date": "Cancel Date"}
    assert mapping["dates"] == {"format": "%m/%d/%Y"}
    first = pd.read_csv(a / "raw" / "employees.csv", dtype=str, encoding="utf-8-sig", nrows=3)
    assert pd.to_datetime(first["Hire Date"], format="%m/%d/%Y").notna().all()


def test_write_world_refuses_a_file_and_a_non_world(tmp_path, world):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_world(world, tmp_path / "f")
    with pytest.raises(InputError, match="World"):
        write_world({"employees": None}, tmp_path)


# ---- the bundled sample ----------------------------------------------------------------------


def test_sample_rebuilds_byte_identical(tmp_path, sample_dir):
    # what 'make sample' runs: write_sample, then relationships.json (the statistics on top)
    assert main(["simulate", str(tmp_path), "--sample"]) == 0
    ours = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    bundled = sorted(p.relative_to(sample_dir) for p in sample_dir.rglob("*") if p.is_file())
    assert ours == bundled
    for rel in ours:
        assert (tmp_path / rel).read_bytes() == (sample_dir / rel).read_bytes(), rel


def test_sample_is_small_and_its_panel_is_build_panel_of_its_extracts(sample_dir):
    size = sum(p.stat().st_size for p in sample_dir.rglob("*") if p.is_file())
    assert size < 6_000_000  # the raw export carries the chain too (README examples run on it)
    truth = json.loads((sample_dir / "truth.json").read_text())
    assert truth["spec"] == SAMPLE_SPEC.to_dict()
    assert {k: v["counts"] for k, v in truth["defects"].items()} == {
        "raw/employees.csv": SAMPLE_DEFECTS, "raw/customers.csv": SAMPLE_DEFECTS}
    read = {name: pd.read_csv(sample_dir / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
            for name in ("employees", "customers", "units", "panel")}
    for name, cols in (("employees", ("hire_date", "termination_date")), ("customers", ("start_date", "end_date"))):
        for col in cols:
            read[name][col] = pd.to_datetime(read[name][col], format="%Y-%m-%d")
    built = build_panel(read["employees"], read["customers"], units=read["units"], start="2023-01", end="2025-12")
    panel = read["panel"]
    assert list(built.columns) == list(panel.columns)
    assert len(panel) == SAMPLE_SPEC.n_units * SAMPLE_SPEC.months
    for col in COUNTS:
        assert (built[col].to_numpy() == panel[col].astype("int64").to_numpy()).all()
    assert truth["facts"]["planted_lag"] == 2 and truth["facts"]["within_sign"] == 1


def test_events_combine_with_the_chain_relationships_and_defects():
    # the chain and the relationships are drawn on streams of their own: adding them to a world
    # with events leaves its people, panel, programme and planted events as they were; defects
    # are planted in the extracts only
    spec = WorldSpec(n_units=8, months=12, seed=3)
    alone = simulate(spec, events=EventSpec())
    every = simulate(spec, events=EventSpec(), chain=ChainSpec(), relationships=RelationshipSpec())
    assert every.employees.equals(alone.employees) and every.panel.equals(alone.panel)
    assert every.customers.drop(columns="served_by").equals(alone.customers)
    assert every.programme.equals(alone.programme) and every.truth["events"] == alone.truth["events"]
    assert every.employee_survey is not None and every.relationships is not None
    broken = simulate(spec, events=EventSpec(), defects={"duplicate_row": 2})
    assert broken.truth["events"] == alone.truth["events"] and "role" in broken.employees.columns


def test_sample_events_are_planted_alike_in_the_canonical_and_the_raw_extracts(sample_dir, tmp_path, capsys):
    # write_sample plants SAMPLE_EVENTS: the role column (raw: "Job Title", mapped as role), the
    # programme table and truth["events"]; 'linkage panel --events-out --manager-role manager'
    # on the raw export (defects and all) derives the bundled events.csv byte for byte
    truth = json.loads((sample_dir / "truth.json").read_text())["events"]
    assert truth["spec"]["manager_departure_share"] == SAMPLE_EVENTS.manager_departure_share
    assert truth["planted_staff_shocks"] == 0 and truth["manager_role"] == "manager"
    employees = pd.read_csv(sample_dir / "employees.csv", dtype=str)
    managers = employees.loc[employees["role"] == "manager"]
    assert set(employees["role"]) == {"manager", "staff"} and managers["unit_id"].is_unique
    planted = {(d["unit_id"], d["event_date"]) for d in truth["manager_departures"]}
    left = managers.dropna(subset=["termination_date"])
    assert set(zip(left["unit_id"], left["termination_date"])) == planted and len(planted) == 53
    programme = pd.read_csv(sample_dir / "programme.csv", dtype=str)
    assert list(programme.columns) == ["unit_id", "event_date", "event_type"]
    assert len(programme) == truth["programme_units"] == 52 and set(programme["event_type"]) == {"programme"}
    mapping = yaml.safe_load((sample_dir / "raw" / "mapping.yaml").read_text())
    assert mapping["employees"]["role"] == "Job Title"
    raw = pd.read_csv(sample_dir / "raw" / "employees.csv", dtype=str, encoding="utf-8-sig")
    assert raw["Job Title"].eq("manager").sum() >= len(managers)  # defects may copy a manager's row
    events = sample_dir / "events.csv"
    shocks = pd.read_csv(events, dtype=str).query("event_type == 'staff_shock'")
    assert sorted(zip(shocks["unit_id"], shocks["event_date"])) == sorted(
        (r["unit_id"], r["month"]) for r in truth["staff_shocks"])
    s = sample_dir / "raw"
    assert main(["panel", "--employees", str(s / "employees.csv"), "--customers", str(s / "customers.csv"),
                 "--units", str(s / "units.csv"), "--map", str(s / "mapping.yaml"), "--as-of", "2026-01-01",
                 "--start", "2023-01", "--end", "2025-12", "--out", str(tmp_path / "panel.csv"),
                 "--events-out", str(tmp_path / "events.csv"), "--manager-role", "manager"]) == 0
    assert "events: manager_departure 53, staff_shock 52" in capsys.readouterr().out
    assert (tmp_path / "events.csv").read_bytes() == events.read_bytes()


# ---- CLI -------------------------------------------------------------------------------------


def test_cli_simulate_writes_a_world(tmp_path, capsys):
    out = tmp_path / "w"
    status = main(["simulate", str(out), "--units", "6", "--months", "8", "--lag", "1", "--effect", "0.7",
                   "--confound", "0.5", "--seasonality", "0.2", "--reverse", "0.3", "--seed", "4",
                   "--defects", "0.02", "--raw-export"])
    assert status == 0
    truth = json.loads((out / "truth.json").read_text())
    spec = truth["spec"]
    assert (spec["n_units"], spec["months"], spec["lag"], spec["seed"]) == (6, 8, 1, 4)
    assert spec["effect_staff"] == spec["effect_customer"] == 0.7
    assert (spec["confound"], spec["seasonality"], spec["reverse"]) == (0.5, 0.2, 0.3)
    assert truth["defects"]["employees.csv"]["counts"]["duplicate_row"] >= 1
    assert (out / "raw" / "mapping.yaml").is_file() and (out / "panel.csv").is_file()
    said = capsys.readouterr().out
    assert "planted: lag 1" in said and "defects in employees.csv" in said


def test_cli_simulate_activity(tmp_path):
    assert main(["simulate", str(tmp_path), "--units", "3", "--months", "4", "--customers", "activity"]) == 0
    assert pd.read_csv(tmp_path / "customers.csv", nrows=1).columns.tolist() == [
        "customer_id", "unit_id", "activity_date", "revenue"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--lag", "30"], "--lag"),
    (["--units", "1"], "--units"),
    (["--effect", "9"], "--effect"),
    (["--start", "2023-1"], "--start"),
    (["--defects", "0.9"], "defect rate"),
    (["--sample", "--seed", "3"], "--seed"),
])
def test_cli_simulate_bad_options_exit_2(tmp_path, capsys, argv, message):
    assert main(["simulate", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("linkage simulate: error:") and message in err and "\n" not in err


def test_cli_simulate_sample(tmp_path, sample_dir):
    assert main(["simulate", str(tmp_path), "--sample"]) == 0
    assert (tmp_path / "panel.csv").read_bytes() == (sample_dir / "panel.csv").read_bytes()
    assert (tmp_path / "raw" / "customers.csv").read_bytes() == (sample_dir / "raw" / "customers.csv").read_bytes()


def test_sample_dir_is_where_the_makefile_writes(sample_dir):
    assert sample_dir == pathlib.Path(__file__).resolve().parents[1] / "data" / "sample"
