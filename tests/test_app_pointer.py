"""Figures that answer a pointer, without a browser: the quadrant's links (where, to what, saying
what) and the unit table's sort and filter. Served behaviour (hover, click-through, the table's
controls in Chromium) is in tests/browser/test_pointer.py."""

import io
import pathlib
import re
from urllib.parse import parse_qs, urlsplit

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from linkage.app import ALL, DashboardData, Selection, executive_dashboard, load_panel  # noqa: E402
from linkage.app import _blit, _render  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PANEL = ROOT / "data" / "sample" / "panel.csv"
N_BOOT = 50
LINK = re.compile(r"<a class='linkage-point[^>]*href='([^']+)'[^>]*>(.*?)</a>", re.S)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path_factory.getbasetemp() / "pointer-cache"))


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LINKAGE_CACHE", str(tmp_path_factory.getbasetemp() / "pointer-cache"))
    d = executive_dashboard(PANEL, n_boot=N_BOOT)
    yield d
    mp.undo()


def links(html: str) -> dict[str, str]:
    """``{unit: text shown on hover}`` of the quadrant's links (units from their href)."""
    out = {}
    for href, inner in LINK.findall(html):
        url = urlsplit(href)
        assert url.path == "unit_explorer.ipynb" and not url.scheme and not url.netloc
        out[parse_qs(url.query)["unit"][0]] = re.sub(r"<[^>]+>", "", inner)
    return out


def drawn_units(table: pd.DataFrame) -> set[str]:
    """Units the quadrant draws: not suppressed, both retention rates known."""
    shown = table.loc[~table["suppressed"]]
    ok = (pd.to_numeric(shown["employee_retention"]).notna()
          & pd.to_numeric(shown["customer_retention"]).notna())
    return set(shown.loc[ok, "unit_id"])


def test_every_drawn_unit_is_a_link_and_no_suppressed_one(dash):
    table = dash.data.unit_table(dash.selection())
    small = set(table.loc[table["suppressed"], "unit_id"])
    assert len(small) >= 4  # the sample has small units: the test sees suppression at work
    got = links(dash.quadrants.value)
    assert set(got) == drawn_units(table) and len(got) >= 80
    # a suppressed unit is nowhere in the figure's HTML: no link, no text, no data attribute
    html = dash.quadrants.value.split("base64,", 1)[0] + dash.quadrants.value.split("'/>", 1)[1]
    for unit in small:
        assert not re.search(rf"(?<![\w.]){unit}(?![\w.%])", html), unit


def test_hover_text_names_the_unit_and_its_figures(dash):
    table = dash.data.unit_table(dash.selection()).set_index("unit_id")
    got = links(dash.quadrants.value)
    unit = sorted(got)[0]
    row = table.loc[unit]
    region = str(row["region"])  # the default attribute: region
    text = got[unit]
    assert text.startswith(f"Unit {unit} ({region}): ")
    assert f"employee retention {100 * row['employee_retention']:.1f}%" in text
    assert f"customer retention {100 * row['customer_retention']:.1f}%" in text
    assert f"about {row['employees']:,.0f} employees and {row['customers']:,.0f} customers" in text
    # screen readers get the same words as the link's name
    assert f"aria-label='Unit {unit} ({region}): " in dash.quadrants.value


def test_areas_land_on_the_drawn_points(dash):
    sel = dash.selection()
    png, areas = _render.quadrants_drawn(dash.data, sel)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    h, w, _ = image.shape
    # by hand: the axes span 14 %..97 % of the width and 12 %..92 % of the height
    # (subplots_adjust in quadrants_drawn), between the limits the frame was drawn at
    ax = _blit._LAYOUTS["quadrants"][0].axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    ex = 0.14 + 0.83 * (areas["employee_retention"] - x0) / (x1 - x0)
    ey = 1 - (0.12 + 0.80 * (areas["customer_retention"] - y0) / (y1 - y0))
    np.testing.assert_allclose(areas["x"], ex, atol=1 / w)
    np.testing.assert_allclose(areas["y"], ey, atol=1 / h)
    # and in the image: every centre is on a marker (grey, or a median line over it), not on
    # the white plot background; a marker's radius is its size in pixels
    px = image[np.round(areas["y"] * h).astype(int), np.round(areas["x"] * w).astype(int)]
    assert (px.min(axis=1) < 235).all()
    assert ((areas["r"] >= np.sqrt(20) / 2) & (areas["r"] <= np.sqrt(200) / 2 + 1e-9)).all()


def test_areas_are_cached_beside_the_figure(dash, monkeypatch):
    # a second dashboard on the same panel draws nothing: figure and areas come from disk
    def no_drawing(*a, **k):
        raise AssertionError("drew a figure that was cached")

    for name in ("trends_png", "quadrants_drawn", "lag_png"):
        monkeypatch.setattr(f"linkage.app.executive.{name}", no_drawing)
    other = executive_dashboard(PANEL, n_boot=N_BOOT)
    assert other.quadrants.value == dash.quadrants.value
    sel = dash.selection()
    pd.testing.assert_frame_equal(other.quadrant_areas(sel), dash.quadrant_areas(sel))


def test_areas_follow_the_filters(dash):
    dash.value.value = "North"
    try:
        north = set(dash.data.unit_attrs.index[dash.data.unit_attrs["region"] == "North"])
        got = set(links(dash.quadrants.value))
        assert got and got <= north
        assert got == drawn_units(dash.data.unit_table(dash.selection()))
    finally:
        dash.value.value = ALL


def test_a_smaller_panel_holds_only_its_units(tmp_path, monkeypatch):
    # what a scoped viewer's kernel holds is a panel of their units: its links are those units
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    panel = load_panel(PANEL)
    east = panel.loc[panel["region"] == "East"]
    d = executive_dashboard(east, n_boot=N_BOOT)
    got = links(d.quadrants.value)
    assert got and set(got) <= set(east["unit_id"])
    assert set(got) == drawn_units(d.data.unit_table(d.selection()))


# ---- the unit table ------------------------------------------------------------------------------

def _rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1]
    return [re.findall(r"<td>(.*?)</td>", tr, re.S) for tr in body.split("</tr>")[:-1]]


def test_table_view_sorts_numbers_as_numbers_and_suppressed_last():
    t = pd.DataFrame({"unit_id": ["001", "002", "010", "003"],
                      "region": ["North", "south", "North", "East"],
                      "employees": [9.5, 100.0, "suppressed", 12.0],
                      "quadrant": ["b", "a", "suppressed", "c"]})
    assert _render.table_view(t, by="employees")["unit_id"].tolist() == ["001", "003", "002", "010"]
    assert _render.table_view(t, by="employees", descending=True)["unit_id"].tolist() == [
        "002", "003", "001", "010"]
    assert _render.table_view(t, by="region")["unit_id"].tolist() == ["003", "001", "010", "002"]
    assert _render.table_view(t, by="unit_id", descending=True)["unit_id"].tolist() == [
        "010", "003", "002", "001"]
    # the text filter reads ids, attributes and quadrants, in any case; never the figures
    assert _render.table_view(t, find=" NORTH")["unit_id"].tolist() == ["001", "010"]
    assert _render.table_view(t, find="00")["unit_id"].tolist() == ["001", "002", "003"]
    assert _render.table_view(t, find="100").empty and _render.table_view(t, find="9.5").empty
    assert _render.table_view(t, find="suppressed")["unit_id"].tolist() == ["010"]


def test_the_table_sorts_and_filters_with_its_controls(dash):
    dash.table_box.selected_index = 0
    try:
        table = dash.data.unit_table(dash.selection())
        rows = _rows(dash.table.value)
        assert [r[0] for r in rows] == sorted(table["unit_id"])
        assert "<th aria-sort='ascending'>unit id</th>" in dash.table.value
        dash.table_sort.value = "customer_retention"
        dash.table_order.value = True
        rows = _rows(dash.table.value)
        rates = [r[7] for r in rows]
        figures = [float(v.rstrip("%")) for v in rates if v.endswith("%")]
        assert figures == sorted(figures, reverse=True) and len(figures) >= 80
        assert rates[len(figures):] == ["suppressed"] * (len(rates) - len(figures))
        assert "<th aria-sort='descending'>customer retention</th>" in dash.table.value
        dash.table_find.value = "North-2"
        rows = _rows(dash.table.value)
        north2 = table.loc[table["district"] == "North-2", "unit_id"]
        assert sorted(r[0] for r in rows) == sorted(north2) and 0 < len(rows) < len(table)
        assert f"{len(rows)} of {len(table)} units" in dash.table.value
        # the filters above still apply: another region holds no North-2 unit
        dash.value.value = "South"
        assert _rows(dash.table.value) == [] and "0 of " in dash.table.value
        assert dash.status.value == ""
    finally:
        dash.value.value = ALL
        dash.table_find.value = ""
        dash.table_sort.value = "unit_id"
        dash.table_order.value = False
        dash.table_box.selected_index = None


def test_the_table_is_not_built_while_its_section_is_closed(dash):
    dash.table_box.selected_index = None
    before = dash.table.value
    dash.table_sort.value = "employees"
    assert dash.table.value == before
    dash.table_sort.value = "unit_id"


def test_unit_names_and_areas_round_trip():
    d = DashboardData(load_panel(PANEL), n_boot=N_BOOT)
    sel = Selection()
    assert _render.unit_name(d, "001") == f"001 ({d.unit_attrs.at['001', 'region']})"
    assert _render.areas_from_bytes(_render.areas_to_bytes(
        _render.quadrants_drawn(d, sel)[1])).columns.tolist() == list(_render.AREA_COLUMNS)
