"""The executive dashboard in headless Chromium: loads, no errors, every filter redraws, tabs free kernels."""

import re
import time

import pytest

from conftest import assert_no_error, open_dashboard  # tests/browser/conftest.py

pytestmark = pytest.mark.browser

READY = ".linkage-executive img.linkage-fig"
IMG = {"trends": "img[alt='Trends by group']", "quadrants": "img[alt='Units in quadrants']",
       "lag": "img[alt='Lag profile']"}


def _src(page, which):
    return page.get_attribute(IMG[which], "src")


def _headline(page):
    return page.inner_text(".linkage-cards")


def _wait_changed(page, which, old, timeout=30_000):
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel);"
                           " return i && i.getAttribute('src') !== old; }",
                           arg=[IMG[which], old], timeout=timeout)


def _wait_text_changed(page, old, timeout=30_000):
    page.wait_for_function("(old) => document.querySelector('.linkage-cards').innerText !== old",
                           arg=old, timeout=timeout)


def _dropdown(page, label):
    return page.get_by_label(label, exact=True)


def _slider(page, label):
    return page.locator(".widget-slider, .widget-hslider").filter(has_text=label)


def test_executive_dashboard_filters_redraw(served, browser, screenshots):
    page = open_dashboard(browser, f"{served.url}/voila/render/executive.ipynb", READY)
    try:
        page.wait_for_selector(IMG["lag"], timeout=30_000)
        assert_no_error(page)
        text = _headline(page)
        assert re.search(r"Employee retention \d+\.\d% a month", text)
        assert re.search(r"Customer retention \d+\.\d% a month", text)
        assert "link" in text.lower() and "interval" in text
        assert "Which way it runs: " in text and "difference test p" in text
        assert page.locator("text=Read with care").count() == 1
        page.screenshot(path=str(screenshots / "executive.png"), full_page=True)

        # region: headline and every figure change
        old = {k: _src(page, k) for k in IMG}
        old_text = _headline(page)
        options = _dropdown(page, "Show").locator("option").all_inner_texts()
        _dropdown(page, "Show").select_option(label=options[1])
        _wait_changed(page, "trends", old["trends"])
        _wait_changed(page, "quadrants", old["quadrants"])
        _wait_changed(page, "lag", old["lag"])
        _wait_text_changed(page, old_text)
        assert options[1] in page.inner_text(".linkage-scope")
        page.screenshot(path=str(screenshots / "executive_region.png"), full_page=True)

        # lag: the link sentence and the ringed lag change
        old_lag, old_text = _src(page, "lag"), _headline(page)
        handle = _slider(page, "Employees lead by").locator(".noUi-handle-lower")
        handle.focus()
        handle.press("ArrowRight")
        _wait_changed(page, "lag", old_lag)
        _wait_text_changed(page, old_text)

        # period range: trends and quadrants redraw, the headline's months move
        old = {k: _src(page, k) for k in IMG}
        old_text = _headline(page)
        upper = _slider(page, "Periods").locator(".noUi-handle-upper")
        upper.focus()
        for _ in range(6):
            upper.press("ArrowLeft")
        _wait_changed(page, "trends", old["trends"])
        _wait_changed(page, "quadrants", old["quadrants"])
        _wait_text_changed(page, old_text)

        # split by another attribute: the "Show" options follow it, the trends redraw
        old_trends = _src(page, "trends")
        _dropdown(page, "Split by").select_option(label="size_band")
        _wait_changed(page, "trends", old_trends)
        assert "small" in " ".join(_dropdown(page, "Show").locator("option").all_inner_texts()) or \
            len(_dropdown(page, "Show").locator("option").all_inner_texts()) >= 2
        assert_no_error(page)

        # downloads: the unit table is there, with small groups suppressed not blank
        page.locator(".widget-accordion, .jupyter-widget-Accordion, .lm-AccordionPanel").first.locator(
            "text=Downloads and the unit table").click()
        page.wait_for_selector(".linkage-downloads a[download='linkage_units.csv']", state="attached")
        href = page.get_attribute(".linkage-downloads a[download='linkage_units.csv']", "href")
        assert href.startswith("data:text/csv;base64,")
        page.screenshot(path=str(screenshots / "executive_filters.png"), full_page=True)
    finally:
        kernel_lines = served.log().count("Kernel shutdown")
        page.close(run_before_unload=True)
    # https://github.com/voila-dashboards/voila/issues/1458:
    # the page's shutdown beacon is accepted and the kernel goes
    assert served.wait_for_log_count("Kernel shutdown", kernel_lines + 1, timeout=20), served.log()[-2000:]
    assert "_xsrf' argument missing" not in served.log()


def test_section_when_someone_leaves_opens_with_its_figure(served, browser, screenshots):
    # closed at start (computed only when opened); opening it shows the event-time picture and the
    # relationship finding in words (the sample's manager departures, staff shocks and served_by)
    page = open_dashboard(browser, f"{served.url}/voila/render/executive.ipynb", READY)
    try:
        assert page.locator("img[alt^='Event study of']").count() == 0
        page.get_by_text("When someone leaves").click()
        page.wait_for_selector("img[alt='Event study of staff_shock']", state="visible", timeout=120_000)
        text = page.inner_text(".linkage-events")
        assert "Computing the event studies" not in text
        # manager departures first, then staff shocks
        assert text.index("after a manager departure") < text.index("after a staff shock")
        assert re.search(r"times as likely to leave in the next 6 months", text)
        assert "customers lost per departing employee" in text
        for kind in ("manager_departure", "staff_shock"):
            src = page.get_attribute(f"img[alt='Event study of {kind}']", "src")
            assert src.startswith("data:image/png;base64,")
        assert_no_error(page)
        page.screenshot(path=str(screenshots / "executive_events.png"), full_page=True)
    finally:
        page.close(run_before_unload=True)
