"""Figures that answer a pointer, in headless Chromium: hovering a unit of the quadrant shows its
name and figures, clicking it opens the unit explorer on it; the keyboard reaches the same links;
the unit table sorts and filters with its controls."""

import re

import pytest

from conftest import assert_no_error, open_dashboard  # tests/browser/conftest.py

pytestmark = pytest.mark.browser

READY = ".linkage-executive img[alt='Lag profile']"
POINT = ".linkage-pointed a.linkage-point"


def _tip(page, unit):
    return page.locator(f"{POINT}[data-unit='{unit}'] .linkage-tip")


def test_hover_shows_the_unit_and_click_opens_the_explorer_on_it(served, browser, screenshots):
    page = open_dashboard(browser, f"{served.url}/voila/render/executive.ipynb", READY)
    try:
        assert_no_error(page)
        points = page.locator(POINT)
        assert points.count() >= 80  # every drawn unit of the sample, small units left out
        units = points.evaluate_all("ps => ps.map(p => p.dataset.unit)")
        # a unit in the middle of the figure (its tip has room on either side)
        unit = units[len(units) // 2]
        point = page.locator(f"{POINT}[data-unit='{unit}']")
        assert not _tip(page, unit).is_visible()
        point.hover()
        _tip(page, unit).wait_for(state="visible", timeout=5_000)
        text = _tip(page, unit).inner_text()
        assert text.startswith(f"Unit {unit} (")
        assert re.search(r"employee retention \d+\.\d%, customer retention \d+\.\d%", text)
        assert re.search(r"about [\d,]+ employees and [\d,]+ customers", text)
        # the tip sits beside the point, inside the window
        box, tip = point.bounding_box(), _tip(page, unit).bounding_box()
        assert abs((tip["y"] + tip["height"] / 2) - (box["y"] + box["height"] / 2)) < 2
        assert tip["x"] >= 0 and tip["x"] + tip["width"] <= 1280
        # the point is over the drawn marker: the image's pixel under its centre is not white
        grey = page.evaluate(
            """(unit) => {
                const a = document.querySelector(`a.linkage-point[data-unit='${unit}']`);
                const img = a.parentElement.querySelector('img');
                const r = a.getBoundingClientRect(), i = img.getBoundingClientRect();
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                const sx = img.naturalWidth / i.width, sy = img.naturalHeight / i.height;
                const x = Math.round((r.left + r.width / 2 - i.left) * sx);
                const y = Math.round((r.top + r.height / 2 - i.top) * sy);
                return Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
            }""", unit)
        assert min(grey) < 235, grey
        page.screenshot(path=str(screenshots / "executive_hover.png"), full_page=True)

        # the keyboard reaches a unit too, and shows the same words
        other = units[0]
        page.locator(f"{POINT}[data-unit='{other}']").focus()
        _tip(page, other).wait_for(state="visible", timeout=5_000)
        assert page.locator(f"{POINT}[data-unit='{other}']").get_attribute("aria-label") == \
            _tip(page, other).inner_text()

        # click-through: the unit explorer opens on that unit, in this tab
        point.click()
        page.wait_for_url(re.compile(rf"/voila/render/unit_explorer\.ipynb\?unit={unit}$"),
                          timeout=30_000)
        page.wait_for_selector("img[alt='unit series']", state="visible", timeout=90_000)
        page.wait_for_function("(u) => document.querySelector('.linkage-cards').textContent"
                               ".includes('Unit ' + u)", arg=unit, timeout=30_000)
        assert page.get_by_label("Unit", exact=True).evaluate(
            "s => s.options[s.selectedIndex].text").startswith(unit)
        assert_no_error(page)
    finally:
        page.close(run_before_unload=True)


def _first_column(page):
    return page.locator(".linkage-table tbody tr td:first-child").all_inner_texts()


def _column(page, n):
    return page.locator(f".linkage-table tbody tr td:nth-child({n})").all_inner_texts()


def test_the_unit_table_sorts_and_filters(served, browser):
    page = open_dashboard(browser, f"{served.url}/voila/render/executive.ipynb", READY)
    try:
        page.get_by_text("Downloads and the unit table").click()
        page.wait_for_selector(".linkage-table table", timeout=60_000)
        ids = _first_column(page)
        assert len(ids) == 100 and ids == sorted(ids)
        headers = page.locator(".linkage-table thead th").all_inner_texts()
        col = 1 + headers.index("customer retention")

        # sort: by customer retention, descending (suppressed figures last)
        page.get_by_label("Sort by", exact=True).select_option(label="customer retention")
        page.wait_for_selector(".linkage-table th[aria-sort='ascending']:has-text('customer retention')",
                               timeout=30_000)
        page.get_by_label("Order", exact=True).select_option(label="descending")
        page.wait_for_selector(".linkage-table th[aria-sort='descending']", timeout=30_000)
        rates = _column(page, col)
        figures = [float(v.rstrip("%")) for v in rates if v.endswith("%")]
        assert len(figures) >= 80 and figures == sorted(figures, reverse=True)
        assert set(rates[len(figures):]) == {"suppressed"}

        # filter: the rows of one district, typed into the "Find" box
        find = page.get_by_label("Find", exact=True)
        find.fill("North-2")
        find.press("Enter")
        page.wait_for_function("() => /\\d+ of 100 units/.test("
                               "document.querySelector('.linkage-table-count').textContent)",
                               timeout=30_000)
        districts = _column(page, 1 + headers.index("district"))
        assert districts and set(districts) == {"North-2"}
        count = page.text_content(".linkage-table-count")
        assert count.startswith(f"{len(districts)} of 100 units")
        assert_no_error(page)
    finally:
        page.close(run_before_unload=True)
