"""Dashboards under load: the viewer cap and its busy page, kernels freed by closed and abandoned
tabs, and a stalled page that recovers by itself (linkage.app._voila and its page template)."""

import shutil
import time
import urllib.error
import urllib.request

import nbformat
import pytest

from conftest import DASHBOARDS, VoilaServer, open_dashboard

pytestmark = pytest.mark.browser

ROOT = DASHBOARDS.parents[1]
READY = ".widget-dropdown select"

# a cell that stalls the way Voila's "Executing x of y" pages do, the first time it runs only: the
# kernel tells the server it is idle (iopub status) but never sends the cell's reply, so the
# server's executor waits for good and the page stops after the cells before it
STALL_ONCE = '''import pathlib, time
marker = pathlib.Path("stalled-once")
if not marker.exists():
    marker.write_text("stalled")
    kernel = get_ipython().kernel
    kernel.session.send(kernel.iopub_socket, "status", {"execution_state": "idle"},
                        parent=kernel.get_parent("shell"), ident=kernel._topic("status"))
    time.sleep(600)
'''


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """One server for the module: the one-dropdown page and a page that stalls once, at most 2
    viewers, culling after 15 s idle (checked every 3 s). Its pool holds one kernel per page."""
    folder = tmp_path_factory.mktemp("load")
    shutil.copy(ROOT / "benchmarks" / "trivial_dropdown.ipynb", folder / "page.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        "import ipywidgets as widgets", STALL_ONCE, "widgets.Dropdown(options=['a', 'b'], description='Pick')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "stall.ipynb")
    shutil.copy(DASHBOARDS / "voila.json", folder / "voila.json")  # the committed configuration
    server = VoilaServer(folder, folder / "voila.log",
                         extra=("--LinkageVoila.max_viewers=2", "--MappingKernelManager.cull_idle_timeout=15",
                                "--MappingKernelManager.cull_interval=3"))
    server.pool_filled("page.ipynb")
    server.pool_filled("stall.ipynb")
    time.sleep(16)  # the preheated kernels sit idle longer than the cull timeout before a viewer comes
    yield server
    server.stop()


POOL = 2  # kernels the server keeps preheated: one per notebook


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_viewer_past_the_cap_gets_busy_page_then_gets_in_after_one_closes(capped, browser):
    url = f"{capped.url}/voila/render/page.ipynb"
    assert capped.wait_for_kernels(POOL)  # the preheated pool only
    # the first viewer gets a preheated kernel idle for longer than the cull timeout: handed over,
    # its idle time starts again, so the culler leaves it to the page (no watchdog to rescue it)
    first = open_dashboard(browser, url + "?linkage_watchdog=0", READY)
    first_kernel = first.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    second = open_dashboard(browser, url, READY)
    try:
        assert capped.wait_for_kernels(POOL + 2)  # two viewers and the refilled pool
        # the third viewer: HTTP 503, Retry-After, plain words, no kernel started for it
        status, headers, body = _get(url)
        assert status == 503 and headers["Retry-After"] == "60"
        assert "The dashboard is busy, please try again in a minute" in body
        assert "Traceback" not in body and "kernel" not in body.lower()
        third = browser.new_page()
        response = third.goto(url)
        assert response.status == 503
        assert "busy" in third.inner_text("h1.linkage-busy")
        third.close()
        assert len(capped.kernels()) == POOL + 2
        assert "answered 503" in capped.log()
        assert f"({first_kernel}) with 0 connections" not in capped.log()
        # one viewer leaves: its tab's beacon frees the kernel and the next viewer gets in
        first.close(run_before_unload=True)
        assert capped.wait_for_kernels(POOL + 1)
        fourth = open_dashboard(browser, url, READY)
        fourth.get_by_label("Pick", exact=True).select_option(label="c")
        fourth.wait_for_function("() => document.querySelector('.picked').textContent === 'c'")
        fourth.close(run_before_unload=True)
    finally:
        second.close(run_before_unload=True)
    assert capped.wait_for_kernels(POOL, timeout=20), capped.log()[-2000:]  # back to the pool alone


def test_closed_and_abandoned_tabs_free_their_kernels(capped, browser):
    url = f"{capped.url}/voila/render/page.ipynb"
    assert capped.wait_for_kernels(POOL, timeout=30)
    closed = open_dashboard(browser, url, READY)
    # a tab whose goodbye never arrives (browser crash, lost network, a laptop lid closed)
    abandoned = open_dashboard(browser, url, READY)
    kernel = abandoned.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    assert capped.wait_for_kernels(POOL + 2)
    closed.close(run_before_unload=True)  # the beacon: freed at once
    assert capped.wait_for_kernels(POOL + 1, timeout=10)
    abandoned.evaluate("navigator.sendBeacon = () => true")
    abandoned.close(run_before_unload=True)
    # kernel culling (idle 15 s here, 120 s in voila.json) frees it
    assert capped.wait_for_kernels(POOL, timeout=45), capped.log()[-2000:]
    assert f"Culling 'idle' kernel 'python3' ({kernel})" in capped.log()


def test_stalled_page_reloads_itself_once_and_frees_the_stuck_kernel(capped, browser):
    page = browser.new_page()
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    try:
        # the first kernel stalls at cell 2 of 3 with the kernel idle; after 4 s without progress
        # (12 s by default; 4 here, well before this server's quick culling takes the kernel) the page
        # shuts that kernel down and reloads, and the reloaded page is served by a healthy kernel
        page.goto(f"{capped.url}/voila/render/stall.ipynb?linkage_watchdog=4", wait_until="commit")
        try:
            page.wait_for_selector(READY, state="visible", timeout=60_000)
        except Exception:
            print(capped.log()[-6000:], navigations, page.evaluate("JSON.stringify(window.__linkageWatchdog)"))
            raise
        assert len(navigations) == 2
        page.wait_for_function("() => window.__linkageWatchdog && window.__linkageWatchdog.state === 'done'",
                               timeout=10_000)
        used = [line.split()[-3] for line in capped.log().splitlines()
                if "Using pre-heated kernel" in line and line.endswith("stall.ipynb")]
        assert len(used) == 2  # the stalled kernel, then a healthy one
        assert capped.wait_for_log(f"Kernel shutdown: {used[0]}", timeout=10)
    finally:
        page.close(run_before_unload=True)


def test_a_page_whose_kernel_is_busy_is_not_reloaded(tmp_path, browser):
    # a crowded server runs the notebook slowly: the page sees no new output for longer than the
    # watchdog's 6 x S while its kernel works; reloading it would only lose the page its place.
    # No preheated pool here, so the page streams while its kernel runs the slow cell.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        "import ipywidgets as widgets", "import time\ntime.sleep(10)",
        "widgets.Dropdown(options=['a', 'b'], description='Pick')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "slow.ipynb")
    shutil.copy(DASHBOARDS / "voila.json", tmp_path / "voila.json")
    server = VoilaServer(tmp_path, tmp_path / "voila.log", extra=("--VoilaConfiguration.preheat_kernel=False",))
    page = browser.new_page()
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    try:
        # S = 1: idle rule after 1 s, the 6 s rule long before the 10 s cell ends
        page.goto(f"{server.url}/voila/render/slow.ipynb?linkage_watchdog=1", wait_until="commit")
        page.wait_for_selector(READY, state="visible", timeout=90_000)
        page.wait_for_function("() => window.__linkageWatchdog && window.__linkageWatchdog.state === 'done'",
                               timeout=10_000)
        assert len(navigations) == 1, navigations
        assert page.evaluate("window.__linkageWatchdog.reloads") == 0
    finally:
        page.close(run_before_unload=True)
        server.stop()
