"""The executive dashboard's section "When someone leaves" (linkage.app.events_view) and its inputs:
on the sample its figures are those of event_study and relationship_hazard called directly; it
shows no person; scoped viewers get their own units' event study and no whole-company finding;
small groups are not shown; bad files are one line and exit 2 (dashboard and report); the report's
section carries the relationship finding and its months table.
The sample's derived files (events.csv, relationships.json) are checked against the functions that
make them."""

import html
import json
import re

import pandas as pd
import pytest

from linkage.app import DashboardData, load_panel
from linkage.app import _scopes
from linkage.app._events_data import (
    EVENTS_ENV,
    RelationshipFinding,
    event_studies,
    events_inputs,
    read_events,
    read_relationships,
)
from linkage.app._render_events import relationship_sentence, relationship_table_html
from linkage.app._scopes import SCOPE_DIR_ENV, restrict, Scope
from linkage.app.events_view import NO_INPUTS, SCOPED_NOTE, EventsView
from linkage.clean import clean_customers, clean_employees
from linkage.cli import main as cli_main
from linkage.errors import InputError
from linkage.io.datasets import sample_path
from linkage.panel.events import derive_events
from linkage.stats import relationship_hazard
from linkage.stats.events import event_study
from linkage.words import interval


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    # each test computes the section itself (the dashboards' disk cache is per test)
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    for var in EVENTS_ENV.values():
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return load_panel(sample_path("panel.csv"))


@pytest.fixture(scope="module")
def sample_events() -> pd.DataFrame:
    return read_events(sample_path("events.csv"))


@pytest.fixture(scope="module")
def direct_hazard():
    """relationship_hazard on the sample's extracts (their served_by), default settings."""
    employees = clean_employees(sample_path("employees.csv"), as_of="2026-01-01")
    customers = clean_customers(sample_path("customers.csv"), as_of="2026-01-01", employees=employees)
    return relationship_hazard(employees.data, customers.data)


def opened(data: DashboardData, **kwargs) -> EventsView:
    view = EventsView(data, **kwargs)
    assert view.html is None  # nothing computed before the section is opened
    view.widget.selected_index = 0
    assert view.html is not None
    return view


def page_text(view: EventsView) -> str:
    """What the section shows in words: its HTML without the images' data, entities resolved."""
    raw = "".join(view.html.values())
    return html.unescape(re.sub(r'src="data:[^"]*"', "", raw))


def table_rows(text: str) -> list[list[str]]:
    """The cells of the first HTML table in ``text``, row by row (header first)."""
    body = text.split("<table", 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


# -- the sample's derived files ----------------------------------------------------------------


def test_sample_events_are_what_linkage_panel_derives_from_its_hr_extract(panel, sample_events):
    employees = pd.read_csv(sample_path("employees.csv"), dtype=str)
    derived = derive_events(panel, employees, manager_role="manager")
    pd.testing.assert_frame_equal(sample_events, derived, check_dtype=False)
    assert list(pd.read_csv(sample_path("events.csv")).columns) == ["unit_id", "event_date", "event_type"]
    # the manager departures are those the simulator planted (truth.json)
    planted = json.loads(sample_path("truth.json").read_text(encoding="utf-8"))["events"]
    departures = sample_events.loc[sample_events["event_type"] == "manager_departure"]
    assert sorted(zip(departures["unit_id"], departures["event_date"].dt.strftime("%Y-%m-%d"))) == sorted(
        (d["unit_id"], d["event_date"]) for d in planted["manager_departures"])
    assert set(sample_events["event_type"]) == {"manager_departure", "staff_shock"}


def test_sample_relationships_json_is_relationship_hazard_of_its_served_by(direct_hazard):
    body = json.loads(sample_path("relationships.json").read_text(encoding="utf-8"))
    ours = direct_hazard.to_dict()
    for key in ("hazard_ratio", "ci_low", "ci_high", "p_val", "customers_exposed", "departures"):
        assert body[key] == pytest.approx(ours[key], rel=1e-12), key
    for got, want in zip(body["by_months_since_departure"], ours["by_months_since_departure"], strict=True):
        assert got == pytest.approx(want, rel=1e-12)
    assert body["settings"]["window"] == 6 and body["settings"]["k"] == 5


# -- the section on the sample -------------------------------------------------------------------


def test_section_numbers_are_event_study_and_relationship_hazard_called_directly(
        panel, sample_events, direct_hazard):
    view = opened(DashboardData(panel, n_boot=20), sample=True, env={}, whole_company=True)
    text = page_text(view)
    # the event studies: manager departures, then staff shocks, of the sample (event_study's own
    # words: pre-trend, the average after, the fade), every event time shown (each reaches at
    # least 17 units >= k = 5)
    parts = event_studies(panel, sample_events)
    assert [p.event_type for p in parts] == ["manager_departure", "staff_shock"]
    assert text.index("after a manager departure") < text.index("after a staff shock")
    for part in parts:
        direct = event_study(panel, sample_events, event_type=part.event_type, seed=0)
        assert direct.text in text
        assert "fades" in direct.text and "moved alike" in direct.text  # planted fade, flat pre-trend
        assert direct.estimates["n_treated"].min() >= 5
        assert f'alt="Event study of {part.event_type}"' in view.studies.value
        pd.testing.assert_frame_equal(part.study.estimates, direct.estimates)
    assert view.studies.value.count("data:image/png;base64,") == 2
    # the relationship finding: relationship_hazard's figures in words
    r = direct_hazard
    lost = r.customers_lost_per_departure
    assert (
        f"Customers whose own employee left were {r.hazard_ratio:.2f} times as likely to leave in "
        f"the next 6 months ({interval(r.ci_low, r.ci_high)}, p < 0.001)"
    ) in text
    assert f"about {lost['estimate']:.1f} customers lost per departing employee" in text
    assert interval(lost["ci_low"], lost["ci_high"], digits=1) in text
    assert f"{r.customers_exposed:,} customers whose employee left and {r.departures:,} departures" in text
    assert "1.27 times as likely" in text  # 1.2681 (relationships.json), pinned
    months = table_rows(view.relationships.value)
    assert months[0][:2] == ["Months since the departure", "Hazard ratio"]
    assert [int(row[0]) for row in months[1:]] == [1, 2, 3, 4, 5, 6]
    assert [float(row[1]) for row in months[1:]] == pytest.approx(
        r.by_months_since_departure["hazard_ratio"].round(2).tolist())
    assert "Read with care" in view.notes.value and "parallel trends" in text


def test_section_shows_no_person_identifier(panel):
    view = opened(DashboardData(panel, n_boot=20), sample=True, env={}, whole_company=True)
    ids = set()
    for name, col in (("employees.csv", "employee_id"), ("customers.csv", "customer_id")):
        ids |= set(pd.read_csv(sample_path(name), dtype=str)[col])
    ids |= set(pd.read_csv(sample_path("customers.csv"), dtype=str)["served_by"].dropna())
    words = set(re.findall(r"[A-Za-z0-9]+", page_text(view)))
    assert len(ids) > 30_000 and words and not (words & ids)
    assert not re.search(r"\b[EC]\d{5}\b", "".join(view.html.values()))  # nor inside the images' data


def test_the_section_is_computed_once_and_then_read_from_the_cache(panel, monkeypatch):
    from linkage.app import events_view

    first = opened(DashboardData(panel, n_boot=20), sample=True, env={}, whole_company=True)

    def no_computing(*a, **k):
        raise AssertionError("computed what the cache holds")

    monkeypatch.setattr(events_view, "event_studies", no_computing)
    again = opened(DashboardData(panel, n_boot=20), sample=True, env={}, whole_company=True)
    assert again.html == first.html


def test_without_inputs_the_section_says_what_to_give(panel):
    view = opened(DashboardData(panel, n_boot=20), sample=False, env={}, whole_company=True)
    assert html.unescape(view.notes.value).count(NO_INPUTS) == 1
    assert view.studies.value == view.relationships.value == ""


def test_the_executive_dashboard_carries_the_section_closed(panel):
    from linkage.app.executive import ExecutiveDashboard

    dash = ExecutiveDashboard(DashboardData(panel, n_boot=20), chain_sample=True)
    assert dash.events_view.widget in dash.widget.children
    assert dash.events_view.widget.selected_index is None and dash.events_view.html is None


# -- scoped viewers and small groups --------------------------------------------------------------


def test_a_scoped_viewer_gets_their_units_event_study_and_no_company_finding(panel, sample_events):
    central = restrict(panel, Scope("dana", {"region": ("Central",)}))
    view = opened(DashboardData(central, n_boot=20), sample=True, env={}, whole_company=False)
    text = page_text(view)
    inside = set(central["unit_id"])
    direct = event_study(central, sample_events.loc[sample_events["unit_id"].isin(inside)],
                         event_type="manager_departure")
    assert direct.text in text and direct.n_treated_units >= 5
    assert SCOPED_NOTE in text and "times as likely" not in text and "per departing" not in text
    # the events of units outside the scope are not counted anywhere (not even as set aside)
    assert direct.set_aside["unit_not_in_panel"] == 0


def test_the_scope_the_server_wrote_decides_who_sees_the_company_finding(panel, tmp_path, monkeypatch):
    monkeypatch.setenv(SCOPE_DIR_ENV, str(tmp_path))
    for kernel_id, user, scope, shown in (
        ("1a1a-0001", "bob", None, True),
        ("1a1a-0002", "alice", {"region": ["North"]}, False),
    ):
        monkeypatch.setenv("VOILA_KERNEL_ID", kernel_id)
        (tmp_path / f"{kernel_id}.json").write_text(json.dumps({"user": user, "scope": scope}))
        view = opened(DashboardData(panel, n_boot=20), sample=True, env={})
        assert view.whole_company is shown
        assert ("times as likely to leave" in page_text(view)) is shown, user
    _scopes._KERNEL_SCOPE.clear()


def test_no_event_time_estimate_from_fewer_than_k_units(panel, sample_events):
    # k = 48: of the sample's 53 manager departures, event times -6 and 5..12 reach 29 to 47
    # units and are blanked; its 26 units with a staff shock are too few for a study
    view = opened(DashboardData(panel, n_boot=20, k=48), sample=True, env={}, whole_company=True)
    part, shocks = event_studies(panel, sample_events, k=48)
    assert shocks.study is None and "Fewer than 48 units in this view had a staff shock" in shocks.note
    est = part.study.estimates
    small = est["n_treated"] < 48
    assert est.loc[small, "event_time"].tolist() == [-6, *range(5, 13)]
    assert est.loc[small, ["estimate", "ci_low", "band_high", "p_val"]].isna().all().all()
    assert est.loc[~small, "estimate"].notna().all()
    assert "Not shown: event times " + ", ".join(str(t) for t in est.loc[small, "event_time"]) in page_text(view)
    # fewer than k units with the event: no study at all
    north = restrict(panel, Scope("erin", {"region": ("North",)}))  # 4 units with a staff shock
    view = opened(DashboardData(north, n_boot=20), sample=True, env={}, whole_company=False)
    assert "Fewer than 5 units in this view had a staff shock: not shown." in page_text(view)
    # its 7 units whose manager left are shown
    assert view.studies.value.count("<img") == 1
    assert 'alt="Event study of manager_departure"' in view.studies.value


def test_small_groups_of_the_relationship_finding_are_suppressed():
    finding = read_relationships(sample_path("relationships.json"))
    # departures by month since the departure: 1511, 1456, 1407, 1354, 1304, 1252 (the sample)
    shown = finding.shown(1400)
    assert shown.by_month["hazard_ratio"].isna().tolist() == [False] * 3 + [True] * 3
    table = relationship_table_html(shown)
    assert table.count("suppressed") == 6  # ratio and interval of months 4, 5, 6
    assert finding.shown(2000) is None  # 1511 departures in all


# -- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("unit,event_date\n001,2024-01-01\n", "events.csv, column 'unit_id': the event table has no column 'unit_id'"),
    ("unit_id,event_date,employee_id\n001,2024-01-01,E00001\n", "events.csv, column 'employee_id': holds person-level"),
    ("unit_id,event_date\n001,2024-01-01\n002,Jan 5\n", "events.csv, row 2, column 'event_date': not a date"),
    ("unit_id,event_date\n001,2024-01-01\n,2024-02-01\n", "events.csv, row 2, column 'unit_id': no unit"),
])
def test_bad_event_tables(tmp_path, text, message):
    path = tmp_path / "events.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_events(path)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(("text", "message"), [
    ("{\"hazard_ratio\": 1.2,\n oops}", "rel.json, row 2: not JSON"),
    ("[1, 2]", "rel.json: not the --json output"),
    ("{\"settings\": {\"window\": 6}, \"by_months_since_departure\": []}", "rel.json, column 'hazard_ratio': needs a number"),
    ("{\"settings\": {\"window\": 6}, \"by_months_since_departure\": [{\"month\": 1}]}",
     "rel.json, row 1, column 'hazard_ratio': needs a number"),
])
def test_bad_relationship_findings(tmp_path, text, message):
    path = tmp_path / "rel.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_relationships(path)
    assert str(err.value).startswith(message)


def test_a_finding_of_no_difference_reads_so():
    finding = read_relationships(sample_path("relationships.json"))
    flat = RelationshipFinding(**{**finding.__dict__, "hazard_ratio": 1.02, "ci_low": 0.9, "ci_high": 1.15})
    assert "about as likely to leave (1.02 times the rate; no clear difference)" in relationship_sentence(flat)


@pytest.mark.parametrize("flag", ["--events", "--relationships"])
def test_cli_dashboard_bad_section_file_is_one_line_and_exit_2(tmp_path, capsys, flag):
    bad = tmp_path / ("bad.csv" if flag == "--events" else "bad.json")
    bad.write_text("unit_id,event_date\n001,2024-13-01\n" if flag == "--events" else "{\"settings\": 3}")
    assert cli_main(["dashboard", flag, str(bad), "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and bad.name in err[0]
    assert ("row 1, column 'event_date'" if flag == "--events" else "column 'settings'") in err[0]
    assert cli_main(["dashboard", flag, str(tmp_path / "none.csv"), "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.csv: file not found" in err[0]


def test_serve_hands_the_section_files_to_the_kernels_and_the_warm_up(tmp_path, monkeypatch):
    from linkage.app import serve as serve_module
    from linkage.app.serve import serve

    seen = {}

    class FakeVoila:
        def __init__(self, cmd, cwd, env):
            seen["voila"] = env

        def wait(self):
            return 0

    monkeypatch.setattr(serve_module.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(serve_module, "_background_warm", lambda path, env: seen.update(warm=env))
    monkeypatch.setattr(serve_module.signal, "signal", lambda *a: None)
    monkeypatch.setattr(serve_module, "warm_cache", lambda path: None)
    monkeypatch.setenv(EVENTS_ENV["relationships"], "stray.json")  # only the flags name them
    events = sample_path("events.csv")
    assert serve(open_browser=False, events=events) == 0
    for env in (seen["voila"], seen["warm"]):
        assert env[EVENTS_ENV["events"]] == str(events.resolve())
        assert EVENTS_ENV["relationships"] not in env
        assert events_inputs(env=env).source == "files"


# -- the report ----------------------------------------------------------------------------------


def test_report_adds_the_relationship_finding_and_its_months(tmp_path, direct_hazard, capsys):
    out = tmp_path / "report.html"
    assert cli_main(["report", str(sample_path("panel.csv")), "--out", str(out), "--n-boot", "20",
                     "--events", str(sample_path("events.csv")),
                     "--relationships", str(sample_path("relationships.json"))]) == 0
    text = out.read_text(encoding="utf-8")
    section = html.unescape(re.sub(r'src="data:[^"]*"', "", text.split("<h2>When someone leaves")[1]))
    # the file holds two types: the report shows the one the dashboard shows first
    assert section.startswith(": manager departure</h2>")
    assert relationship_sentence(read_relationships(sample_path("relationships.json"))) in section
    assert f"{direct_hazard.hazard_ratio:.2f} times as likely to leave" in section
    months = table_rows(text.split("Do customers follow")[1])
    assert [float(row[1]) for row in months[1:]] == pytest.approx(
        direct_hazard.by_months_since_departure["hazard_ratio"].round(2).tolist())
    assert "data:image/png;base64," in text.split("When someone leaves")[1]
    assert not re.search(r"\b[EC]\d{5}\b", section)
    capsys.readouterr()
    bad = tmp_path / "rel.json"
    bad.write_text("{}")
    assert cli_main(["report", str(sample_path("panel.csv")), "--out", str(out),
                     "--relationships", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rel.json" in err[0] and "settings" in err[0]


# -- a panel of one's own: linkage panel --events-out, two event types ----------------------------


@pytest.fixture(scope="module")
def own_files(tmp_path_factory):
    """A simulated world with manager departures, its panel and the events 'linkage panel
    --events-out' derives (manager_departure and staff_shock)."""
    from linkage.simulate import EventSpec, WorldSpec, simulate, write_world

    tmp = tmp_path_factory.mktemp("own")
    world = simulate(WorldSpec(n_units=40, months=24, seed=3, min_headcount=10), events=EventSpec())
    write_world(world, tmp / "w")
    assert cli_main([
        "panel", "--employees", str(tmp / "w" / "employees.csv"),
        "--customers", str(tmp / "w" / "customers.csv"), "--units", str(tmp / "w" / "units.csv"),
        "--start", "2023-01", "--end", "2024-12", "--as-of", "2026-01-01",
        "--out", str(tmp / "panel.csv"), "--events-out", str(tmp / "events.csv"),
        "--manager-role", "manager",
    ]) == 0
    return tmp


def test_each_event_type_of_linkage_panel_events_out_gets_its_study(own_files, monkeypatch):
    from linkage.app.serve import warm_events

    monkeypatch.setenv(EVENTS_ENV["events"], str(own_files / "events.csv"))
    panel_file = own_files / "panel.csv"
    own = load_panel(panel_file)
    events = read_events(own_files / "events.csv")
    assert set(events["event_type"]) == {"manager_departure", "staff_shock"}
    warm_events(panel_file)  # what linkage dashboard's background helper does
    from linkage.app import events_view

    def no_computing(*a, **k):
        raise AssertionError("computed what the warm-up left in the cache")

    monkeypatch.setattr(events_view, "event_studies", no_computing)
    view = opened(DashboardData(own))  # as warm_events built it (same n_boot: same disk cache)
    text = page_text(view)
    first = text.index("after a manager departure")
    assert first < text.index("after a staff shock")  # manager departures first
    for kind in ("manager_departure", "staff_shock"):
        direct = event_study(own, events.loc[events["event_type"] == kind], event_type=kind)
        assert direct.n_treated_units >= 5 and direct.text in text, kind  # 27 and 10 units
    assert "times as likely" not in text and SCOPED_NOTE not in text  # no relationship file given
