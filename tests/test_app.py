"""Dashboard logic without a browser: panel loading, precomputed figures, widgets, report, CLI."""

import logging
import pathlib
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from linkage.app import ALL, DashboardData, Selection, executive_dashboard, load_panel, unit_explorer  # noqa: E402
from linkage.app import _render  # noqa: E402
from linkage.app._render import link_words  # noqa: E402
from linkage.app.explorer import unit_from_query  # noqa: E402
from linkage.app.report import build_report, write_report  # noqa: E402
from linkage.cli import main  # noqa: E402
from linkage.errors import InputError  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PANEL = ROOT / "data" / "sample" / "panel.csv"
N_BOOT = 200


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # one cache for the module (figures drawn once), never the user's ~/.cache
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path_factory.getbasetemp() / "linkage-cache"))


@pytest.fixture(scope="module")
def panel():
    return load_panel(PANEL)


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LINKAGE_CACHE", str(tmp_path_factory.getbasetemp() / "linkage-cache"))
    d = executive_dashboard(PANEL, n_boot=N_BOOT)
    yield d
    mp.undo()


# ---- load_panel --------------------------------------------------------------------------------

def test_load_panel_types_and_keeps_leading_zeros(panel):
    assert panel["unit_id"].iloc[0] == "001"
    assert str(panel["employee_start"].dtype) == "int64"
    assert pd.api.types.is_datetime64_any_dtype(panel["period"])
    assert panel["region"].nunique() == 5


def _write(tmp_path, text, name="p.csv"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


HEADER = "unit_id,period,employee_start,employee_retained,customer_start,customer_retained\n"


def test_load_panel_refuses_person_level_rows(tmp_path):
    f = _write(tmp_path, "employee_id,unit_id,hire_date\nE1,001,2024-01-01\n")
    with pytest.raises(InputError) as err:
        load_panel(f)
    assert err.value.column == "employee_id" and "person-level" in err.value.problem


@pytest.mark.parametrize("body, row, column", [
    ("001,2024-13-01,10,9,100,90\n", 1, "period"),
    ("001,2024-01-01,10,9,100,90\n002,2024-01-01,ten,9,100,90\n", 2, "employee_start"),
    ("001,2024-01-01,-1,0,100,90\n", 1, "employee_start"),
])
def test_load_panel_names_row_and_column(tmp_path, body, row, column):
    with pytest.raises(InputError) as err:
        load_panel(_write(tmp_path, HEADER + body))
    assert (err.value.row, err.value.column) == (row, column)


def test_load_panel_missing_column_and_file(tmp_path):
    with pytest.raises(InputError) as err:
        load_panel(_write(tmp_path, "unit_id,period\n001,2024-01-01\n"))
    assert err.value.column == "employee_start"
    with pytest.raises(InputError, match="not found"):
        load_panel(tmp_path / "nope.csv")


# ---- figures and sentences ---------------------------------------------------------------------

def test_headline_is_ratio_of_sums_over_last_three_months_and_a_year_earlier(dash, panel):
    h = dash.data.headline(Selection(attribute="region", value="North"))
    north = panel[panel["region"] == "North"]
    last = north[north["period"] >= "2025-10-01"]
    ago = north[(north["period"] >= "2024-10-01") & (north["period"] <= "2024-12-01")]
    assert h["employee_now"] == pytest.approx(last["employee_retained"].sum() / last["employee_start"].sum())
    assert h["customer_year_ago"] == pytest.approx(ago["customer_retained"].sum() / ago["customer_start"].sum())


def test_headline_link_is_the_period_adjusted_lag_profile_of_linkage_stats(dash, panel):
    from linkage.stats import lag_profile

    prof = lag_profile(panel, max_lag=dash.data.max_lag, n_boot=N_BOOT, seed=0, period_adjusted=True)
    h = dash.data.headline(Selection(lag=2))
    assert h["r"] == pytest.approx(prof.loc[prof["lag"] == 2, "r"].iloc[0])
    # the simulator planted the link at lag 2 (data/sample/truth.json: "lag": 2)
    assert dash.data.best_lag == 2


def test_unit_table_suppresses_small_units(dash, panel):
    t = dash.data.unit_table(Selection(attribute="region"))
    raw = dash.data.unit_table(Selection(attribute="region"), suppressed=False)
    small = raw["employees"] < 5
    assert small.any()
    assert (t.loc[small.to_numpy(), "employee_retention"] == "suppressed").all()
    shown = t.loc[~t["suppressed"], "employees"].astype(float)
    assert (shown >= 5).all()
    # complementary: every region with a hidden unit hides at least two
    hidden = t.groupby("region")["suppressed"].sum()
    assert ((hidden == 0) | (hidden >= 2)).all()


@pytest.mark.parametrize("args, words", [
    ((0.32, 0.2, 0.43, 0.001, 2), ("Moderate link", "2 months later", "unlikely to be chance")),
    ((0.05, -0.02, 0.12, 0.4, 1), ("No clear link", "could well be chance")),
    ((-0.2, -0.3, -0.1, 0.01, 0), ("Weak link", "fewer of its customers")),
    ((0.2, 0.1, 0.3, 0.01, -1), ("customers lead",)),
    ((np.nan, np.nan, np.nan, np.nan, 0), ("Not enough data",)),
])
def test_link_words(args, words):
    text = link_words(*args)
    for w in words:
        assert w in text


# ---- the executive dashboard's widgets ---------------------------------------------------------

def _src(html):
    return re.search(r"src='([^']+)'", html).group(1)


def test_region_filter_changes_headline_and_every_figure(dash):
    before = (dash.headline.value, _src(dash.trends.value), _src(dash.quadrants.value), _src(dash.lag_plot.value))
    dash.value.value = "North"
    after = (dash.headline.value, _src(dash.trends.value), _src(dash.quadrants.value), _src(dash.lag_plot.value))
    assert all(a != b for a, b in zip(before, after))
    assert "region North" in dash.title.value
    dash.value.value = ALL


def test_lag_filter_changes_link_and_lag_plot_only(dash):
    trends, headline, lag = dash.trends.value, dash.headline.value, dash.lag_plot.value
    dash.lag.value = dash.lag.value - 1
    assert dash.trends.value == trends
    assert dash.headline.value != headline and dash.lag_plot.value != lag
    dash.lag.value = dash.lag.value + 1
    assert dash.lag_plot.value == lag  # back to the cached figure


def test_period_filter_moves_the_headline_months(dash):
    dash.periods.index = (0, 23)
    assert "Dec 2024" in dash.headline.value
    dash.periods.index = (0, len(dash.periods.options) - 1)


def test_attribute_filter_resets_values(dash):
    dash.attribute.value = "size_band"
    assert dash.value.options[0] == ALL and "small" in dash.value.options
    assert dash.value.value == ALL
    dash.attribute.value = "region"


def test_downloads_are_data_uris_with_suppressed_table(dash):
    import base64

    dash.table_box.selected_index = 0

    href = re.search(r"download='linkage_units.csv' href='([^']+)'", dash.downloads.value).group(1)
    csv = base64.b64decode(href.split(",", 1)[1]).decode()
    assert csv.startswith("unit_id,region,district,size_band,employees")
    assert "suppressed" in csv


def test_callback_error_shows_a_neutral_line_and_logs_the_detail(dash, monkeypatch):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("linkage.app").addHandler(handler)

    def boom(*a, **k):
        raise RuntimeError("SECRET internal detail /srv/path.py")

    monkeypatch.setattr("linkage.app.executive.headline_sentences", boom)
    try:
        old = dash.headline.value
        dash.value.value = "South"
        assert "Something went wrong" in dash.status.value
        assert "SECRET" not in dash.status.value and "Traceback" not in dash.status.value
        assert dash.headline.value == old
        assert records and "SECRET" in str(records[-1].exc_info[1])
        ref = re.search(r"ref ([0-9a-f]{8})", dash.status.value).group(1)
        assert ref in records[-1].getMessage()
    finally:
        logging.getLogger("linkage.app").removeHandler(handler)
        monkeypatch.undo()
    dash.value.value = ALL
    assert dash.status.value == ""  # cleared by the next good update


def test_figures_come_from_the_shared_disk_cache(dash, monkeypatch):
    # a second dashboard on the same panel draws nothing: every first figure is on disk
    def no_drawing(*a, **k):
        raise AssertionError("drew a figure that was cached")

    for name in ("trends_png", "quadrants_drawn", "lag_png"):
        monkeypatch.setattr(f"linkage.app.executive.{name}", no_drawing)
    other = executive_dashboard(PANEL, n_boot=N_BOOT)
    assert _src(other.trends.value) == _src(dash.trends.value)


def test_frames_of_every_value_are_drawn_before_the_first_viewer(dash):
    # a viewer who picks a region, then a period range nobody drew, meets a frame already built
    # in this kernel (the trend grid of that region): only the data is drawn at the change
    from linkage.app import _blit

    sel = dash.selection()
    trends = {k for k in _blit._LAYOUTS if isinstance(k, tuple) and k[0] == "trends"}
    assert {("trends", dash.data.fingerprint, sel.attribute, v) for v in dash.value.options} <= trends
    dash.value.value = dash.value.options[2]
    n_layouts = len(_blit._LAYOUTS)
    lo, hi = dash.periods.index
    dash.periods.index = (lo, hi - 2)
    assert len(_blit._LAYOUTS) == n_layouts  # no figure built from scratch
    dash.periods.index = (lo, hi)
    dash.value.value = ALL


def test_dashboard_kernels_run_blas_on_one_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    from linkage.app import _kernel

    monkeypatch.setattr(_kernel, "_LIMITS", None)
    _kernel.one_blas_thread()
    try:
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}
    finally:
        _kernel._LIMITS.restore_original_limits()
        monkeypatch.setattr(_kernel, "_LIMITS", None)


def test_dashboard_does_not_mutate_a_panel_frame(panel):
    frame = panel.copy()
    d = DashboardData(frame, n_boot=N_BOOT)
    d.unit_table(Selection(attribute="region"))
    pd.testing.assert_frame_equal(frame, panel)


# ---- unit explorer -----------------------------------------------------------------------------

def test_unit_from_query_accepts_only_known_units():
    assert unit_from_query("?unit=010", ["001", "010"]) == "010"
    assert unit_from_query("unit=999", ["001"]) is None
    assert unit_from_query("", ["001"]) is None
    assert unit_from_query(None, ["001"]) is None


def test_unit_explorer_peers_and_standing():
    ex = unit_explorer(PANEL, unit="010", n_boot=N_BOOT)
    assert "Unit 010" in ex.summary.value and "of its 20 peers" in ex.summary.value
    old = ex.series.value
    ex.unit.value = "002"
    assert ex.series.value != old and "Unit 002" in ex.summary.value
    ex.peers.value = "__all__"
    assert "of its 99 peers" in ex.summary.value
    assert ex.status.value == ""


def test_unit_explorer_reads_the_query_string(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "unit=005")
    monkeypatch.setattr("linkage.app.explorer._query_string", lambda: "unit=005")
    ex = unit_explorer(PANEL, n_boot=N_BOOT)
    assert ex.unit.value == "005"


# ---- report and CLI ----------------------------------------------------------------------------

def test_report_is_self_contained_and_suppressed(tmp_path):
    out = write_report(PANEL, tmp_path / "report.html", n_boot=N_BOOT)
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3
    body = text.split("<body>", 1)[1]
    assert "http://" not in body and "https://" not in body and "<script" not in body
    assert "suppressed" in body and "Read with care" in body
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_report_and_dashboard_carry_no_person_identifiers(dash, tmp_path):
    # the sample's people are E00001... and C00001...: none may reach a page, a download or a report
    text = build_report(PANEL, n_boot=N_BOOT)
    dash.table_box.selected_index = 0
    pages = [text, dash.downloads.value, dash.table.value, dash.headline.value]
    for page in pages:
        assert re.search(r"\b[EC]\d{5}\b", page) is None


def test_report_refuses_to_overwrite_the_panel_and_other_suffixes(tmp_path):
    panel_copy = tmp_path / "panel.html"
    panel_copy.write_bytes(PANEL.read_bytes())
    with pytest.raises(InputError, match="overwrite"):
        write_report(panel_copy, panel_copy)
    with pytest.raises(InputError, match=".html"):
        write_report(PANEL, tmp_path / "report.pdf")


def test_cli_report_and_errors(tmp_path, capsys):
    assert main(["report", str(PANEL), "--out", str(tmp_path / "r.html"), "--n-boot", str(N_BOOT)]) == 0
    assert (tmp_path / "r.html").is_file()
    assert main(["report", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "missing.csv: panel file not found" in err and "Traceback" not in err


def test_cli_dashboard_fails_early_on_a_bad_panel(tmp_path, capsys):
    bad = _write(tmp_path, "employee_id,unit_id\nE1,001\n")
    assert main(["dashboard", "--panel", str(bad), "--no-browser", "--no-warm"]) == 2
    assert "person-level" in capsys.readouterr().err


def test_voila_config_is_hardened():
    import json

    cfg = json.loads((ROOT / "notebooks" / "dashboards" / "voila.json").read_text())
    vc = cfg["VoilaConfiguration"]
    assert vc["strip_sources"] is True and vc["show_tracebacks"] is False and vc["preheat_kernel"] is True
    assert cfg["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert cfg["Voila"]["ip"] == "127.0.0.1"


def test_dashboard_notebooks_are_thin():
    import nbformat

    for name in ("executive.ipynb", "unit_explorer.ipynb"):
        nb = nbformat.read(ROOT / "notebooks" / "dashboards" / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", [])
        assert all(not c.outputs for c in code)
        assert not any(re.search(r"^\s*(def|class) ", c.source, re.M) for c in code)
        assert sum(len(c.source.splitlines()) for c in code) <= 10


def test_render_png_is_a_png(dash):
    b = _render.lag_png(dash.data, Selection())
    assert b[:8] == b"\x89PNG\r\n\x1a\n"


def test_plausible_ranges_are_one_step_and_whole_years():
    from linkage.app.serve import plausible_ranges

    r = plausible_ranges(36)
    assert r[:2] == [(0, 34), (1, 35)]
    assert (0, 35) not in r and (0, 11) in r and (24, 35) in r
    assert plausible_ranges(4) == [(0, 2), (1, 3)]


def _six_units(tmp_path, monkeypatch):
    """Six units over four months with a region and a size band; the disk cache in tmp_path."""
    rows = [f"{u:03d},2024-{m:02d}-01,{10 + u},{9 + (u + m) % 2},{100 + u},{90 + (u * m) % 7},"
            f"{'N' if u % 2 else 'S'},{'big' if u < 3 else 'small'}" for u in range(6) for m in range(1, 5)]
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    return _write(tmp_path, "unit_id,period,employee_start,employee_retained,customer_start,"
                  "customer_retained,region,size_band\n" + "\n".join(rows) + "\n")


def _forbid_drawing(monkeypatch):
    def no_drawing(*a, **k):
        raise AssertionError("drew a figure that the warm-up should have drawn")

    for name in ("trends_png", "quadrants_drawn", "lag_png"):
        monkeypatch.setattr(f"linkage.app.executive.{name}", no_drawing)


def test_warmed_one_step_ranges_draw_nothing_in_the_callback(tmp_path, monkeypatch):
    from linkage.app.serve import warm_ranges

    f = _six_units(tmp_path, monkeypatch)
    warm_ranges(f, n_boot=N_BOOT)
    d = executive_dashboard(f, n_boot=N_BOOT)
    d.value.value = "N"
    d.lag.value = d.lag.value + (1 if d.lag.value < d.lag.max else -1)
    _forbid_drawing(monkeypatch)
    lo, hi = d.periods.index
    d.periods.index = (lo, hi - 1)
    assert d.status.value == ""
    d.periods.index = (lo + 1, hi)
    assert d.status.value == ""


def test_warmed_attributes_draw_nothing_in_the_callback_then_frames_follow(tmp_path, monkeypatch):
    from linkage.app import _blit
    from linkage.app.serve import warm_attributes

    f = _six_units(tmp_path, monkeypatch)
    warm_attributes(f, n_boot=N_BOOT)
    d = executive_dashboard(f, n_boot=N_BOOT)
    assert d.attribute.value == "region"
    _forbid_drawing(monkeypatch)
    d.attribute.value = "size_band"
    d.value.value = "big"
    assert d.status.value == ""
    # after sending the figures, the kernel drew the frames of the groups it was shown
    trends = {k[2:] for k in _blit._LAYOUTS if isinstance(k, tuple) and k[0] == "trends"}
    assert {("size_band", ALL), ("size_band", "big")} <= trends


def test_period_change_sends_the_trends_before_the_lag_profile_is_drawn(dash, monkeypatch):
    d = dash
    trends, lag = d.trends.value, d.lag_plot.value

    def boom(*a, **k):
        raise RuntimeError("lag profile failed")

    monkeypatch.setattr("linkage.app.executive.lag_png", boom)
    lo, hi = d.periods.index
    d.periods.index = (lo + 2, hi - 2)  # a range nothing has drawn
    assert d.trends.value != trends  # already shown
    assert d.lag_plot.value == lag  # not replaced by anything broken
    assert d.status.value != ""  # the neutral line
    monkeypatch.undo()
    d.periods.index = (lo, hi)
    assert d.status.value == ""


@pytest.mark.parametrize("value, lo, hi", [(ALL, 0, 35), ("North", 3, 20), ("South", 30, 30), (ALL, 12, 23)])
def test_unit_table_range_sums_equal_a_direct_groupby(dash, panel, value, lo, hi):
    # the cumulative-sum differences against a plain groupby of the rows in the range
    d = dash.data
    sel = Selection(attribute="region", value=value, start=d.periods[lo], end=d.periods[hi])
    t = d.unit_table(sel, suppressed=False).set_index("unit_id")
    rows = panel.loc[panel["period"].between(d.periods[lo], d.periods[hi])]
    if value != ALL:
        rows = rows.loc[rows["region"] == value]
    g = rows.groupby("unit_id")[["employee_start", "employee_retained", "customer_start",
                                 "customer_retained"]].agg(["sum", "mean"])
    assert sorted(t.index) == sorted(g.index)
    g = g.loc[t.index]
    np.testing.assert_allclose(t["employee_retention"],
                               g[("employee_retained", "sum")] / g[("employee_start", "sum")], rtol=1e-12)
    np.testing.assert_allclose(t["customer_retention"],
                               g[("customer_retained", "sum")] / g[("customer_start", "sum")], rtol=1e-12)
    np.testing.assert_allclose(t["employees"], g[("employee_start", "mean")].round(1), rtol=1e-12)
    np.testing.assert_allclose(t["customers"], g[("customer_start", "mean")].round(1), rtol=1e-12)
    assert (t["region"] == value).all() or value == ALL


def test_trends_show_every_period_with_the_unchosen_ones_greyed(dash):
    import io

    from PIL import Image

    def grey_share(b: bytes) -> float:
        px = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=int)
        # the shade over white: #d9d9d9 at alpha 0.55 -> about (232, 232, 232)
        return float((np.abs(px - 232).max(axis=2) <= 2).mean())

    d = dash.data
    whole = _render.trends_png(d, Selection(attribute="region"))
    part = _render.trends_png(d, Selection(attribute="region", start=d.periods[6], end=d.periods[20]))
    assert grey_share(whole) < 0.01 < grey_share(part)


def test_load_panel_types_the_chain_columns(tmp_path):
    # a join_chain panel (linkage.panel.join_chain): survey means and revenue are numbers with their
    # decimals, respondents whole counts, waves dates; other columns stay unit attributes
    f = _write(tmp_path, "unit_id,period,employee_start,employee_retained,customer_start,"
               "customer_retained,es_engagement,es_respondents,es_wave,cs_nps,revenue,revenue_start,"
               "revenue_retained,revenue_retention,region\n"
               "001,2024-01-01,10,9,100,90,3.75,8,2024-01-01,12.5,1234.56,1100.25,1000.10,0.909,N\n"
               "001,2024-02-01,10,9,100,90,,0,,,,,,,N\n")
    p = load_panel(f)
    assert p["revenue_start"].tolist()[0] == 1100.25 and p["revenue"].dtype == "float64"
    assert p["es_engagement"].dtype == "float64" and np.isnan(p["es_engagement"].iloc[1])
    assert p["es_respondents"].dtype == "int64" and p["cs_nps"].iloc[0] == 12.5
    assert str(p["es_wave"].dtype).startswith("datetime64") and p["region"].tolist() == ["N", "N"]
