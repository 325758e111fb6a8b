"""The executive dashboard's section "The whole chain" (linkage.app.service_chain) on the sample data."""

import base64
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from linkage.app import DashboardData, load_panel  # noqa: E402
from linkage.app import service_chain as cv  # noqa: E402
from linkage.app._render_service_chain import link_sentences  # noqa: E402
from linkage.app._service_chain_data import ChainResults, watchlist_csv  # noqa: E402
from linkage.app.service_chain import ChainView  # noqa: E402
from linkage.pipeline import CHAIN_ENV, chain_inputs  # noqa: E402
from linkage.errors import InputError  # noqa: E402

N_BOOT = 40


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("chain-cache")
    mp.setenv("LINKAGE_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def panel():
    return load_panel()


@pytest.fixture(scope="module")
def data(panel, cache_dir):
    return DashboardData(panel, n_boot=N_BOOT)


@pytest.fixture(scope="module")
def view(data):
    v = ChainView(data, sample=True)
    v.widget.selected_index = 0  # what a viewer's click does
    return v


def page_text(v: ChainView) -> str:
    return "".join(w.value for w in (v.status, v.summary, v.notes, v.chain, v.drivers, v.watchlist, v.downloads))


def csv_of(v: ChainView) -> pd.DataFrame:
    uri = re.search(r"href='data:text/csv;base64,([^']+)'", v.downloads.value).group(1)
    raw = base64.b64decode(uri).decode("utf-8")
    return pd.read_csv(pd.io.common.StringIO(raw), dtype=str, keep_default_na=False)


def test_nothing_is_computed_until_the_section_opens(data, monkeypatch):
    calls = []
    monkeypatch.setattr(cv, "chain_inputs", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(RuntimeError))
    v = ChainView(data, sample=True)
    assert v.widget.selected_index is None and v.results is None and calls == []
    assert v.widget.get_title(0).startswith("The whole chain")


def test_executive_dashboard_builds_without_computing_the_chain(panel, cache_dir, monkeypatch):
    from linkage.app.executive import ExecutiveDashboard

    monkeypatch.setattr(cv, "chain_results", lambda *a, **k: pytest.fail("chain computed at start"))
    d = DashboardData(panel, n_boot=N_BOOT)
    dash = ExecutiveDashboard(d, chain_sample=True)
    assert dash.chain_view.widget in dash.widget.children
    assert dash.chain_view.results is None


def test_sample_view_shows_links_drivers_and_watchlist_with_caveats(view):
    text = page_text(view)
    assert "Something went wrong" not in text
    for part in ("Each link of the chain", "Which survey items matter most for customer retention",
                 "Units to visit this month", "not proof that improving one step will move the next",
                 "does not show that changing one would change the other"):
        assert part in text
    # one figure per part, as data: URIs
    assert len(re.findall(r"<img class='linkage-fig'", text)) == 3
    # three links in plain words, one sentence each
    for link in ("Engagement score \u2192 employee retention", "Employee retention \u2192 customer retention",
                 "Customer retention \u2192 revenue retention"):
        assert link in view.chain.value
    assert view.results.settings["source"] == "sample"
    assert view.notes.value == ""  # nothing missing on the sample


def test_summary_cards_say_it_in_three_lines(view):
    cards = view.summary.value
    assert cards.count("class='linkage-card'") == 3
    assert "All 3 links hold within units" in cards  # every planted link's interval excludes 0 on the sample
    kd = view.results.drivers
    clear = kd.loc[kd["p_adj"] < 0.05, "item"]
    named = clear if len(clear) else kd["item"].head(2)  # few resamples here: maybe none clear after Holm
    assert ("Matter most" in cards) == bool(len(clear))
    assert all(name.removeprefix("es_").replace("_", " ").capitalize() in cards for name in named)
    n = int(view.results.watchlist["flag"].astype(bool).sum())
    assert f"{n} units to visit" in cards


def test_planted_drivers_lead_the_drivers_view(view, panel):
    from linkage.io.datasets import load_sample_chain

    truth = load_sample_chain().truth
    kd = view.results.drivers
    top = kd.sort_values("rank")["item"].head(len(truth["planted_drivers"])).str.removeprefix("es_")
    # the simulator's planted drivers (truth.json) rank above the unplanted items on the sample
    assert set(top) == set(truth["planted_drivers"])
    # reliability from respondents (ICC(1) per unit and survey month, Spearman-Brown at the unit's
    # respondents); items with a usable one are corrected as r / sqrt(reliability) (Spearman 1904)
    rel = view.results.reliability.set_index("item")["reliability"]
    usable = rel[(rel > 0) & (rel < 1)]
    assert len(usable) >= len(kd) - 1
    got = kd.set_index("item").loc[usable.index]
    np.testing.assert_allclose(got["reliability"], usable)
    np.testing.assert_allclose(got["r_corrected"], got["r"] / np.sqrt(usable))


def test_chain_links_follow_the_stats_and_the_planted_signs(view):
    from linkage.io.datasets import load_sample_chain

    links = view.results.links
    best = links[links["method"] == "best_lag"].set_index("link")
    truth_links = load_sample_chain().truth["links"]
    for t in truth_links:
        name = f"{t['x']} -> {t['y']}"
        if name in best.index:
            assert np.sign(best.loc[name, "r"]) == t["sign"]
    med = view.results.mediation.set_index("path")
    assert med.loc["indirect", "ci_low"] > 0  # planted: customer retention carries the employee effect to revenue


def test_no_person_level_ids_reach_the_page_or_the_csv(view, sample_dir):
    text = page_text(view)
    ids = pd.read_csv(sample_dir / "employee_survey.csv", dtype=str, usecols=["respondent_id"])["respondent_id"]
    responses = pd.read_csv(sample_dir / "customer_survey.csv", dtype=str, usecols=["response_id"])["response_id"]
    found = set(re.findall(r"\b[RS]\d{5}\b", text))
    assert not found & (set(ids) | set(responses))
    table = csv_of(view)
    assert not {"respondent_id", "response_id", "customer_id", "employee_id"} & set(table.columns)
    assert "respondent_id" not in chain_inputs(view.data.panel, sample=True).respondents.columns


def test_small_units_are_suppressed_in_the_table_figure_and_csv(view, panel):
    wl = view.results.watchlist
    # fewer than k = 5 people on average in the recent (3) or the baseline (12) months the figures use
    per = np.sort(panel["period"].unique())
    small = set()
    for window in (per[-3:], per[-15:-3]):
        means = panel[panel["period"].isin(window)].groupby("unit_id")[["employee_start", "customer_start"]].mean()
        small |= set(means.index[(means < 5).any(axis=1)])
    primary = set(wl.loc[wl["suppression"] == "primary", "unit"])
    assert small == primary
    if not small:
        pytest.skip("the sample has no unit below k in the recent months")
    hidden = wl[wl["suppressed"].astype(bool)]
    assert (hidden["expected_lost"] == "suppressed").all() and (hidden["recent"] == "suppressed").all()
    table = csv_of(view).set_index("unit")
    assert (table.loc[sorted(small), "expected_lost"] == "suppressed").all()
    assert (table.loc[sorted(small), "employees"] == "suppressed").all()


def test_watchlist_csv_is_ranked_and_formula_safe(view):
    table = csv_of(view)
    assert table["rank"].astype(int).tolist() == list(range(1, len(table) + 1))
    assert {"unit", "flag", "expected_lost", "expected_lost_low", "expected_lost_high"} <= set(table.columns)
    evil = pd.DataFrame({"rank": [1], "unit": ["=HYPERLINK(\"http://x\")"], "flag": [True],
                         "expected_lost": [1.5]})
    back = pd.read_csv(pd.io.common.StringIO(watchlist_csv(evil).decode()), dtype=str)
    assert back["unit"].iloc[0] == "'=HYPERLINK(\"http://x\")"  # neutralised: a leading apostrophe


def test_results_come_back_from_the_disk_cache(view, data, monkeypatch):
    monkeypatch.setattr(cv, "chain_results", lambda *a, **k: pytest.fail("recomputed despite the cache"))
    again = ChainView(data, sample=True)
    again.widget.selected_index = 0
    assert again.watchlist.value == view.watchlist.value
    assert again.chain.value == view.chain.value


def test_cache_round_trip_keeps_numbers_and_suppressed_cells(view):
    back = ChainResults.from_bytes(view.results.to_bytes())
    a, b = view.results.watchlist, back.watchlist
    assert b["unit"].tolist() == a["unit"].tolist()
    for x, y in zip(a["expected_lost"], b["expected_lost"], strict=True):
        assert x == y if isinstance(x, str) else y == pytest.approx(x)
    assert back.texts == view.results.texts


def test_panel_without_surveys_says_what_is_missing_and_still_lists_units(panel, cache_dir):
    d = DashboardData(panel, n_boot=N_BOOT)
    v = ChainView(d, sample=False, env={})
    v.widget.selected_index = 0
    assert "What is missing" in v.notes.value and "No employee survey" in v.notes.value
    assert "No revenue" in v.notes.value
    assert v.results.links["link"].unique().tolist() == ["employee_retention -> customer_retention"]
    assert v.results.drivers.empty and "Needs at least two employee-survey items" in v.drivers.value
    assert "Units to visit this month" in v.watchlist.value
    assert "Revenue at risk" not in v.watchlist.value


def test_chain_files_named_by_environment_variables(panel, sample_dir, tmp_path):
    # the sample's respondent-level surveys for ten units (cleaning every row would take seconds)
    units = sorted(panel["unit_id"].unique())[:10]
    env = {CHAIN_ENV["revenue"]: str(sample_dir / "unit_revenue.csv")}
    for name in ("employee_survey", "customer_survey"):
        rows = pd.read_csv(sample_dir / f"{name}.csv", dtype=str)
        rows[rows["unit_id"].isin(units)].to_csv(tmp_path / f"{name}.csv", index=False)
        env[CHAIN_ENV[name]] = str(tmp_path / f"{name}.csv")
    small = panel[panel["unit_id"].isin(units)].reset_index(drop=True)
    got = chain_inputs(small, env=env)
    ref = chain_inputs(panel, sample=True).panel
    ref = ref[ref["unit_id"].isin(units)].reset_index(drop=True)
    assert got.source == "files" and got.missing == []
    cols = ["es_engagement", "es_pay", "es_respondents", "cs_csat", "cs_nps", "revenue_retention"]
    pd.testing.assert_frame_equal(got.panel[cols], ref[cols])
    assert "respondent_id" not in got.respondents.columns and set(got.respondents["unit_id"]) == set(units)
    with pytest.raises(InputError):
        chain_inputs(panel, env={CHAIN_ENV["revenue"]: str(sample_dir / "no_such_file.csv")})


def test_chain_columns_already_in_the_panel_are_used(panel):
    joined = chain_inputs(panel, sample=True).panel
    as_text = joined.assign(es_pay=joined["es_pay"].astype(str))  # a panel file read as text
    got = chain_inputs(as_text, env={})
    assert got.source == "panel" and got.has("es_pay") and got.panel["es_pay"].dtype.kind == "f"
    assert got.missing and "respondent-level" in got.missing[0]


def test_a_failure_shows_a_neutral_line(data, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret /path/to/file detail")

    monkeypatch.setattr(cv, "chain_inputs", boom)
    v = ChainView(data, sample=True)
    v.widget.selected_index = 0
    assert "Something went wrong" in v.status.value and "secret" not in page_text(v)


def test_bad_chain_data_says_why_in_one_line(data, monkeypatch):
    def bad(*a, **k):
        raise InputError("the employee survey shares no unit_id, period with the panel")

    monkeypatch.setattr(cv, "chain_inputs", bad)
    v = ChainView(data, sample=True)
    v.widget.selected_index = 0
    assert "shares no unit_id, period" in v.notes.value and v.status.value == ""


def test_link_sentences_words():
    t = pd.DataFrame({"link": ["employee_retention -> customer_retention"] * 2, "method": ["between", "best_lag"],
                      "lag": [0, 0], "r": [0.02, 0.05], "ci_low": [-0.2, -0.01], "ci_high": [0.24, 0.11],
                      "p_adj": [np.nan, 0.3], "best_lag": [np.nan, np.nan]})
    (s,) = link_sentences(t)
    assert s.startswith("Employee retention \u2192 customer retention: no clear link") and "between" not in s
    neg = t.assign(r=[-0.4, -0.35], ci_low=[-0.6, -0.45], ci_high=[-0.2, -0.25], p_adj=[np.nan, 0.001],
                   lag=[0, 1], best_lag=1.0)
    (s,) = link_sentences(neg)
    assert "moderate, clear link" in s and "negative" in s and "1 month later" in s and "opposite" in s


def test_report_gains_the_chain_section_when_asked(panel, cache_dir, sample_dir):
    from linkage.app.report import build_report

    import inspect

    assert inspect.signature(build_report).parameters["chain"].default is False  # off unless asked
    text = build_report(sample_dir / "panel.csv", n_boot=N_BOOT, chain=True)
    assert text.count("data:image/png;base64,") == 6  # the three executive figures and the chain's three
    for part in ("The whole chain", "Each link of the chain", "Units to visit this month", "not proof"):
        assert part in text
    assert not re.findall(r"\bR\d{5}\b", text)  # no respondent id
    assert "http" not in text.split("<body>")[1]


def test_a_short_panel_keeps_the_chain_and_says_why_there_is_no_list(panel, cache_dir):
    recent = panel[panel["period"] >= panel["period"].max() - pd.DateOffset(months=9)]  # 10 months < 3 + 12
    v = ChainView(DashboardData(recent.reset_index(drop=True), n_boot=N_BOOT), env={})
    v.widget.selected_index = 0
    assert v.status.value == "" and "Employee retention \u2192 customer retention" in v.chain.value
    assert "No list:" in v.watchlist.value and "fewer than recent + baseline" in v.watchlist.value
    assert v.downloads.value == "" and "No list:" in v.summary.value
