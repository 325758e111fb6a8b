"""Scoped dashboards without a browser: the scopes file and its errors, the filter, a kernel's
scope from the server's file, the server's refusals and kernel binding, the CLI's one-line errors.
Served behaviour (two people side by side, a refused one, no kernel started) is in
tests/browser/test_scopes.py; the privacy search of scoped outputs in tests/test_privacy_outputs.py.
"""

import json
import shutil
import threading
import time

import numpy as np
import pandas as pd
import pytest

from linkage.app import DashboardData, Selection, load_panel
from linkage.app import _scopes, _voila
from linkage.app._scopes import SCOPE_DIR_ENV, Scope, kernel_scope, load_scopes, restrict
from linkage.app._voila import ViewerScopes
from linkage.app.serve import prepare_scopes
from linkage.cli import main as cli_main
from linkage.errors import InputError
from linkage.io.datasets import sample_path

GOOD = "users:\n  alice: {region: [North]}\n  carol: {region: [North, East], size_band: [large]}\n  bob: all\n"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return load_panel(sample_path("panel.csv"))


def _write(tmp_path, text: str):
    path = tmp_path / "scopes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_scopes_file_read(tmp_path, panel):
    scopes = load_scopes(_write(tmp_path, GOOD), panel)
    assert scopes["alice"] == Scope("alice", {"region": ("North",)})
    assert scopes["bob"].allowed is None
    carol = restrict(panel, scopes["carol"])
    # hand check: the sample's large units of North or East, counted with pandas alone
    raw = pd.read_csv(sample_path("panel.csv"), dtype={"unit_id": str})
    expected = set(raw.loc[raw["region"].isin(["North", "East"]) & (raw["size_band"] == "large"),
                           "unit_id"])
    assert set(carol["unit_id"]) == expected and 0 < len(expected) < 37
    assert len(restrict(panel, scopes["bob"])) == len(panel)


@pytest.mark.parametrize("text, words", [
    ("users:\n  alice: North\n", ["entry users.alice", "'all'"]),
    ("users:\n  alice: {region: []}\n", ["entry users.alice.region", "list"]),
    ("users:\n  alice: {region: [Nowhere]}\n", ["entry users.alice.region", "'Nowhere'"]),
    ("users:\n  alice: {colour: [red]}\n", ["entry users.alice.colour", "no unit attribute"]),
    ("users:\n  alice: {period: ['2023-01-01']}\n", ["entry users.alice.period"]),
    ("users:\n  alice: {region: [North], district: [South-1]}\n", ["entry users.alice:", "no unit"]),
    ("users:\n  alice: {region: [North}\n", ["not valid YAML", "line 2"]),
    ("people:\n  alice: all\n", ["one section 'users:'"]),
    ("users: {}\n", ["no person listed"]),
    ("users:\n  alice: {unit_id: [001]}\n", ["no unit has unit_id '1'", "quote"]),
    ("users:\n  ' alice': all\n", ["entry users.' alice'"]),
])
def test_bad_scopes_file_names_file_and_entry(tmp_path, panel, text, words):
    with pytest.raises(InputError) as err:
        load_scopes(_write(tmp_path, text), panel)
    message = str(err.value)
    assert message.startswith("scopes.yaml: ") and "\n" not in message
    for word in words:
        assert word in message, message


def test_cli_bad_scopes_is_one_line_and_exit_2(tmp_path, capsys):
    path = _write(tmp_path, "users:\n  alice: {region: [Nowhere]}\n")
    assert cli_main(["dashboard", "--scopes", str(path), "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scopes.yaml" in err[0] and "users.alice.region" in err[0]


def test_cli_header_without_scopes_and_scopes_off_loopback_exit_2(tmp_path, capsys):
    assert cli_main(["dashboard", "--user-header", "X-User", "--no-browser", "--no-warm"]) == 2
    assert "--scopes" in capsys.readouterr().err
    path = _write(tmp_path, GOOD)
    assert cli_main(["dashboard", "--scopes", str(path), "--ip", "0.0.0.0", "--no-browser",
                     "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "127.0.0.1" in err[0]
    assert cli_main(["dashboard", "--scopes", str(path), "--user-header", "X User:",
                     "--no-browser", "--no-warm"]) == 2
    assert "header" in capsys.readouterr().err


def test_the_server_and_the_kernels_name_the_same_folder():
    assert _voila.SCOPE_DIR_ENV == SCOPE_DIR_ENV == "LINKAGE_SCOPE_DIR"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """This process as a scoped dashboard kernel whose scope the server wrote."""
    kernel_id = "0f0e0d0c-0b0a-4909-8807-060504030201"
    monkeypatch.setenv(SCOPE_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("VOILA_KERNEL_ID", kernel_id)
    (tmp_path / f"{kernel_id}.json").write_text(
        json.dumps({"user": "alice", "scope": {"region": ["North"]}}), encoding="utf-8")
    yield tmp_path
    _scopes._KERNEL_SCOPE.clear()


def test_a_scoped_kernel_holds_only_its_units_and_computes_from_them(kernel, panel):
    raw = pd.read_csv(sample_path("panel.csv"), dtype={"unit_id": str}, parse_dates=["period"])
    north = raw.loc[raw["region"] == "North"]
    # both ways the dashboards get the panel are filtered: a file read, a frame handed over
    assert set(load_panel(sample_path("panel.csv"))["unit_id"]) == set(north["unit_id"])
    d = DashboardData(panel, n_boot=50)
    assert set(d.units) == set(north["unit_id"]) and len(d.units) == 17
    assert "region" not in d.attributes  # one value left: nothing to split by
    assert all(v.startswith("North-") for v in d.values["district"])
    # totals from the scope alone: the last 3 periods' retention, summed by hand with pandas
    h = d.headline(Selection())
    last = north.loc[north["period"] >= sorted(north["period"].unique())[-3]]
    assert h["employee_now"] == pytest.approx(
        last["employee_retained"].sum() / last["employee_start"].sum())
    assert h["n_units"] <= 17
    # small-group suppression within the scope: every small North unit reads "suppressed"
    table = d.unit_table(Selection())
    assert set(table["unit_id"]) <= set(north["unit_id"])
    means = north.groupby("unit_id")[["employee_start", "customer_start"]].mean()
    small = set(means.index[(means < 5).any(axis=1)])
    assert small, "the North region has units below k = 5"
    shown = table.loc[table["unit_id"].isin(small), "employee_retention"]
    assert (shown.astype(str) == "suppressed").all()


def test_a_kernel_without_its_scope_shows_nothing(tmp_path, monkeypatch, panel):
    monkeypatch.setenv(SCOPE_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    with pytest.raises(InputError, match="no viewer's scope"):
        DashboardData(panel)
    env = {SCOPE_DIR_ENV: str(tmp_path), "VOILA_KERNEL_ID": "aaaa-bbbb"}
    with pytest.raises(InputError, match="no viewer's scope arrived"):
        kernel_scope(env, timeout=0.2)
    (tmp_path / "aaaa-bbbb.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read"):
        kernel_scope(env, timeout=0.2)
    _scopes._KERNEL_SCOPE.clear()


def test_a_preheated_kernel_waits_for_its_scope(tmp_path):
    env = {SCOPE_DIR_ENV: str(tmp_path), "VOILA_KERNEL_ID": "cccc-dddd", "VOILA_PREHEAT": "True"}

    def arrive():
        time.sleep(0.3)
        (tmp_path / "cccc-dddd.json").write_text(
            json.dumps({"user": "bob", "scope": None}), encoding="utf-8")

    threading.Thread(target=arrive).start()
    start = time.monotonic()
    assert kernel_scope(env) == Scope("bob")
    assert time.monotonic() - start >= 0.25
    _scopes._KERNEL_SCOPE.clear()


def test_unscoped_kernels_are_untouched(monkeypatch, panel):
    monkeypatch.delenv(SCOPE_DIR_ENV, raising=False)
    assert kernel_scope() is None
    assert len(DashboardData(panel, n_boot=20).units) == 100


def test_server_refuses_and_binds_kernels(tmp_path, panel):
    folder, args = prepare_scopes(_write(tmp_path, GOOD), panel, user_header="X-Forwarded-User")
    assert args == ["--LinkageVoila.user_header=X-Forwarded-User"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    live = {"11111111-2222-3333-4444-555555555555"}
    scopes = ViewerScopes(folder, "X-Forwarded-User", kernels=lambda: live)
    page = "/voila/render/executive.ipynb"
    kid = next(iter(live))
    assert scopes.refusal(page, {}, "127.0.0.1") == "no person"
    assert scopes.refusal(page, {"X-Forwarded-User": "mallory"}, "127.0.0.1") == "unknown person"
    # a request that gets a kernel binds it to its person and writes their scope
    assert scopes.refusal(page, {"X-Forwarded-User": "alice"}, "127.0.0.1") is None
    scopes.claimed(kid)
    scopes.claimed("99999999-2222-3333-4444-555555555555")  # a second one in the same request
    written = json.loads((folder / f"{kid}.json").read_text())
    assert written == {"user": "alice", "scope": {"region": ["North"]}}
    assert scopes.owners == {kid: "alice"}
    channels = f"/api/kernels/{kid}/channels"
    assert scopes.refusal(channels, {"X-Forwarded-User": "carol"}, "127.0.0.1") == (
        "another person's kernel")
    assert scopes.refusal(channels, {"X-Forwarded-User": "bob"}, "127.0.0.1") is not None
    assert scopes.refusal(channels, {"X-Forwarded-User": "alice"}, "127.0.0.1") is None
    # a preheated kernel's wait: from this machine without the header only
    query = f"/voila/query/{kid}"
    assert scopes.refusal(query, {}, "127.0.0.1") is None
    assert scopes.refusal(query, {"X-Forwarded-User": "alice"}, "127.0.0.1") is not None
    assert scopes.refusal(query, {}, "10.0.0.7") is not None
    # a kernel gone (culled, closed) loses its file at the next claim
    live.clear()
    assert scopes.refusal(page, {"X-Forwarded-User": "bob"}, "127.0.0.1") is None
    scopes.claimed("77777777-2222-3333-4444-555555555555")
    assert not (folder / f"{kid}.json").exists() and kid not in scopes.owners
    shutil.rmtree(folder)


def test_chain_respondents_are_only_the_panels_units(panel):
    from linkage.pipeline import chain_inputs

    north = restrict(panel, Scope("alice", {"region": ("North",)}))
    inputs = chain_inputs(north, sample=True)
    assert set(inputs.respondents["unit_id"]) <= set(north["unit_id"])
    assert set(inputs.panel["unit_id"]) == set(north["unit_id"])
    assert np.isfinite(inputs.panel["employee_start"]).all()


def test_the_server_warms_what_a_scoped_kernel_reads(tmp_path, monkeypatch, panel):
    """warm_scope draws on the panel restricted in the server; the kernel restricts its own read:
    the same rows, so the same cache key (the scoped viewer's first page comes from the cache)."""
    north = Scope("alice", {"region": ("North",)})
    monkeypatch.delenv(SCOPE_DIR_ENV, raising=False)
    server_side = DashboardData(restrict(panel, north), n_boot=50).fingerprint
    assert DashboardData(panel, n_boot=50).fingerprint != server_side  # the key tells them apart
    kernel_id = "12345678-aaaa-bbbb-cccc-1234567890ab"
    (tmp_path / f"{kernel_id}.json").write_text(json.dumps(north.to_json()), encoding="utf-8")
    monkeypatch.setenv(SCOPE_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("VOILA_KERNEL_ID", kernel_id)
    try:
        kernel_side = DashboardData(load_panel(sample_path("panel.csv")), n_boot=50).fingerprint
    finally:
        _scopes._KERNEL_SCOPE.clear()
    assert kernel_side == server_side


def test_widget_messages_cannot_reach_outside_the_scope(kernel, panel):
    """A viewer can send any widget state through the page's websocket (what ``set_state``
    receives): the scoped kernel's widgets only hold the scope, so nothing else can be picked."""
    from traitlets import TraitError

    from linkage.app.executive import ExecutiveDashboard
    from linkage.app.explorer import UnitExplorer

    data = DashboardData(panel, n_boot=50)
    dash = ExecutiveDashboard(data)
    assert "region" not in dash.attribute.options
    for widget, state in ((dash.value, {"index": len(dash.value.options)}),
                          (dash.attribute, {"index": 99})):
        with pytest.raises(TraitError):
            widget.set_state(state)
    with pytest.raises(TraitError):
        dash.value.value = "South"
    explorer = UnitExplorer(data, unit="001")  # unit 001 is Central's: the first of hers instead
    assert explorer.unit.value in data.units and explorer.unit.value != "001"
    with pytest.raises(TraitError):
        explorer.unit.value = "001"
    north = set(panel.loc[panel["region"] == "North", "unit_id"])
    assert {u for _, u in explorer.unit.options} == north


def test_a_scoped_viewers_links_and_table_hold_only_their_units(kernel, panel):
    """The quadrant's links (hover text, explorer links) and the sorted, filtered unit table of a
    scoped kernel: only the scope's units, small ones suppressed (no link at all)."""
    import re

    from traitlets import TraitError

    from linkage.app.executive import ExecutiveDashboard

    north = set(panel.loc[panel["region"] == "North", "unit_id"])
    dash = ExecutiveDashboard(DashboardData(panel, n_boot=50))
    linked = set(re.findall(r"href='unit_explorer\.ipynb\?unit=(\w+)'", dash.quadrants.value))
    table = dash.data.unit_table(dash.selection())
    small = set(table.loc[table["suppressed"], "unit_id"])
    assert linked and small and linked <= north - small
    assert set(re.findall(r"data-unit='(\w+)'", dash.quadrants.value)) == linked
    dash.table_box.selected_index = 0
    first = re.compile(r"<tr>\s*<td>(\d{3})</td>")  # a row's first cell: its unit
    assert set(first.findall(dash.table.value)) == north
    for text in ("South", "0", ""):  # no text can find what the kernel does not hold
        dash.table_find.value = text
        assert set(first.findall(dash.table.value)) <= north
    with pytest.raises(TraitError):  # the sort is over the table's columns only
        dash.table_sort.set_state({"index": len(dash.table_sort.options)})


def test_a_scoped_page_says_whose_view_it_is(kernel, panel):
    from linkage.app import ExecutiveDashboard

    dash = ExecutiveDashboard(DashboardData(panel, n_boot=50))
    assert "Your view: region North only" in dash.title.value
    assert "computed from these units alone" in dash.title.value


def test_an_unscoped_page_names_no_viewer(monkeypatch, panel):
    from linkage.app import ExecutiveDashboard

    monkeypatch.delenv(SCOPE_DIR_ENV, raising=False)
    dash = ExecutiveDashboard(DashboardData(panel, n_boot=50))
    assert "Your view" not in dash.title.value
