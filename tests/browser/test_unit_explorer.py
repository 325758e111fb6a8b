"""The unit explorer in headless Chromium: ?unit=ID opens that unit, the pickers redraw it."""

import pytest

from conftest import assert_no_error, open_dashboard  # tests/browser/conftest.py

pytestmark = pytest.mark.browser

READY = "img[alt='unit series']"


def _dropdown(page, label):
    return page.get_by_label(label, exact=True)


def _select_starting(select, prefix):
    """Pick the option whose label starts with ``prefix`` (ipywidgets writes spaces as nbsp)."""
    labels = select.locator("option").all_inner_texts()
    select.select_option(index=next(i for i, t in enumerate(labels) if t.startswith(prefix)))


def test_unit_from_url_and_pickers(served, browser, screenshots):
    page = open_dashboard(browser, f"{served.url}/voila/render/unit_explorer.ipynb?unit=010", READY)
    try:
        page.wait_for_selector("img[alt='unit standing']")
        assert_no_error(page)
        assert "Unit 010" in page.text_content(".linkage-cards")
        assert _dropdown(page, "Unit").evaluate("s => s.options[s.selectedIndex].text").startswith("010")
        page.screenshot(path=str(screenshots / "unit_explorer.png"), full_page=True)

        old_src = page.get_attribute(READY, "src")
        _select_starting(_dropdown(page, "Unit"), "002")
        page.wait_for_function("(old) => document.querySelector(\"img[alt='unit series']\")"
                               ".getAttribute('src') !== old", arg=old_src, timeout=30_000)
        page.wait_for_function("() => document.querySelector('.linkage-cards').textContent"
                               ".includes('Unit 002')", timeout=30_000)

        old_text = page.text_content(".linkage-cards")
        _select_starting(_dropdown(page, "Compare with"), "all")
        page.wait_for_function("(old) => document.querySelector('.linkage-cards').textContent !== old",
                               arg=old_text, timeout=30_000)
        assert "of its 99 peers" in page.text_content(".linkage-cards")
        assert_no_error(page)
    finally:
        page.close(run_before_unload=True)


def test_unknown_unit_in_url_is_named_not_evaluated_and_the_units_are_offered(served, browser):
    page = open_dashboard(browser, f"{served.url}/voila/render/unit_explorer.ipynb?unit=__import__('os')",
                          READY)
    try:
        assert_no_error(page)
        notice = page.locator(".linkage-notice[role='alert']")
        notice.wait_for(state="visible", timeout=30_000)
        text = notice.inner_text()
        assert "There is no unit \u201c__import__('os')\u201d in this panel." in text
        assert "Showing unit 001 instead" in text
        assert "Unit 001" in page.text_content(".linkage-cards")
        links = page.locator(".linkage-unit-list a")
        assert links.count() == 100  # every unit of the sample panel, by its id and region
        assert links.nth(1).inner_text().startswith("002")
        # one of the offered units, followed: its explorer, and no notice any more
        links.nth(1).click()
        page.wait_for_url("**/unit_explorer.ipynb?unit=002", timeout=30_000)
        page.wait_for_function("() => document.querySelector('.linkage-cards') && document"
                               ".querySelector('.linkage-cards').textContent.includes('Unit 002')",
                               timeout=60_000)
        assert page.locator(".linkage-notice").count() == 0
        assert_no_error(page)
    finally:
        page.close(run_before_unload=True)


def test_picking_a_unit_clears_the_unknown_unit_notice(served, browser):
    page = open_dashboard(browser, f"{served.url}/voila/render/unit_explorer.ipynb?unit=999", READY)
    try:
        page.locator(".linkage-notice").wait_for(state="visible", timeout=30_000)
        assert "\u201c999\u201d" in page.inner_text(".linkage-notice")
        _select_starting(_dropdown(page, "Unit"), "003")
        page.wait_for_function("() => !document.querySelector('.linkage-notice')", timeout=30_000)
        page.wait_for_function("() => document.querySelector('.linkage-cards').textContent"
                               ".includes('Unit 003')", timeout=30_000)
    finally:
        page.close(run_before_unload=True)
