"""The front door in headless Chromium: the server root's landing page (not Voila's file list) and
the waiting page of a server prepared for an audience (``--expect``), which turns into the dashboard
by itself once a place frees (linkage.app._voila)."""

import shutil
import time
import urllib.error
import urllib.request

import pytest

from conftest import DASHBOARDS, VoilaServer, assert_no_error, open_dashboard

pytestmark = pytest.mark.browser

ROOT = DASHBOARDS.parents[1]
EXPLORER_READY = "img[alt='unit series']"
READY = ".widget-dropdown select"


def test_root_is_a_landing_page_linking_both_dashboards(served, browser):
    page = browser.new_page()
    try:
        response = page.goto(f"{served.url}/")
        assert response.status == 200
        assert page.inner_text("h1.linkage-landing") == "Staff and customer retention"
        links = page.locator("ul.linkage-dashboards > li > a")
        assert links.all_inner_texts() == ["Executive dashboard", "Unit explorer"]
        assert [links.nth(i).get_attribute("href") for i in range(2)] == [
            "/voila/render/executive.ipynb", "/voila/render/unit_explorer.ipynb"]
        body = page.inner_text("body")
        assert ".ipynb" not in body and "voila.json" not in body  # not a file list
        # the tree listing is the landing page too
        page.goto(f"{served.url}/voila/tree")
        assert page.locator("h1.linkage-landing").count() == 1
        # the unit picker is a labelled text box: type a unit, press Enter, its explorer opens
        page.goto(f"{served.url}/")
        page.get_by_label("Open it on unit").fill("010")
        page.get_by_label("Open it on unit").press("Enter")
        page.wait_for_selector(EXPLORER_READY, state="visible", timeout=180_000)
        assert page.url.endswith("/voila/render/unit_explorer.ipynb?unit=010")
        assert "Unit 010" in page.text_content(".linkage-cards")
        assert_no_error(page)
    finally:
        page.close(run_before_unload=True)


def test_the_landing_page_starts_no_kernel(served):
    before = len(served.kernels())
    with urllib.request.urlopen(f"{served.url}/", timeout=30) as r:
        assert r.status == 200 and b"Executive dashboard" in r.read()
    assert len(served.kernels()) == before


@pytest.fixture(scope="module")
def expecting(tmp_path_factory):
    """A server told to expect one viewer of the one-dropdown page: one preheated kernel, one place,
    and the waiting page for anyone past it."""
    folder = tmp_path_factory.mktemp("expect")
    shutil.copy(ROOT / "benchmarks" / "trivial_dropdown.ipynb", folder / "page.ipynb")
    shutil.copy(DASHBOARDS / "voila.json", folder / "voila.json")  # the committed configuration
    server = VoilaServer(folder, folder / "voila.log",
                         extra=("--LinkageVoila.expect=1", "--LinkageVoila.expect_notebook=page.ipynb"))
    server.pool_filled("page.ipynb")
    yield server
    server.stop()


def _places(server):
    with urllib.request.urlopen(f"{server.url}/linkage/api/places", timeout=30) as r:
        import json

        return json.loads(r.read())


def test_past_the_places_a_waiting_page_turns_into_the_dashboard_by_itself(expecting, browser):
    log = expecting.log()
    assert "linkage: expecting 1 viewers at once" in log and "admitting up to 1 viewers" in log
    url = f"{expecting.url}/voila/render/page.ipynb"
    first = open_dashboard(browser, url, READY)
    second = browser.new_page()
    try:
        places = _places(expecting)
        assert {k: places[k] for k in ("taken", "places", "free")} == {"taken": 1, "places": 1, "free": False}
        response = second.goto(url)
        assert response.status == 503 and response.headers["retry-after"] == "15"
        heading = second.inner_text("h1.linkage-waiting")
        assert "opens by itself" in heading
        assert "1 of 1" in second.inner_text("#linkage-places")
        body = second.inner_text("body").lower()
        assert "try again" not in body and "kernel" not in body and "traceback" not in body
        assert "waits on the waiting page" in expecting.log()
        # the first viewer leaves: the waiting page loads the dashboard with nobody clicking
        first.close(run_before_unload=True)
        second.wait_for_selector(READY, state="visible", timeout=120_000)
        assert second.locator("h1.linkage-waiting").count() == 0
        second.get_by_label("Pick", exact=True).select_option(label="b")
        second.wait_for_function("() => document.querySelector('.picked').textContent === 'b'")
    finally:
        second.close(run_before_unload=True)
        if not first.is_closed():
            first.close(run_before_unload=True)


def test_the_places_answer_is_json_and_starts_no_kernel(expecting):
    deadline = time.monotonic() + 120  # the pool refills once no page is loading
    while _places(expecting)["ready"] != {"page.ipynb": 1} and time.monotonic() < deadline:
        time.sleep(0.5)
    before = len(expecting.kernels())
    try:
        places = _places(expecting)
    except urllib.error.HTTPError as err:  # pragma: no cover - shown in the failure
        raise AssertionError(err.read()) from err
    assert {"taken", "places", "free", "loading", "ready"} == set(places) and places["places"] == 1
    assert places["loading"] == 0 and places["ready"] == {"page.ipynb": 1}  # nobody loading, one kernel ready
    assert len(expecting.kernels()) == before
