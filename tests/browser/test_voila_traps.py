"""Voila 0.5 traps, each shown in a served page: callback tracebacks, closed tabs, stuck pages."""

import shutil

import nbformat
import pytest

from conftest import DASHBOARDS, STUCK, VoilaServer, open_dashboard

pytestmark = pytest.mark.browser

CALLBACKS = '''import ipywidgets as widgets
from linkage.app import guarded

status = widgets.HTML()
safe = widgets.Button(description="guarded")


def fail(_):
    raise RuntimeError("SECRET detail from /srv/internal.py")


safe.on_click(guarded(status)(fail))
widgets.VBox([safe, status])
'''


@pytest.fixture(scope="module")
def trap_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traps")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CALLBACKS)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "callbacks.ipynb")
    shutil.copy(DASHBOARDS / "voila.json", folder / "voila.json")  # the committed configuration
    server = VoilaServer(folder, folder / "voila.log")
    server.pool_filled("callbacks.ipynb")
    yield server
    server.stop()


def test_callback_exception_shows_a_neutral_line_not_the_traceback(trap_server, browser):
    page = open_dashboard(browser, f"{trap_server.url}/voila/render/callbacks.ipynb", "text=guarded")
    try:
        page.get_by_role("button", name="guarded", exact=True).click()
        page.wait_for_selector(".linkage-error", timeout=20_000)
        body = page.inner_text("body")
        assert "Something went wrong" in body
        assert "SECRET" not in body and "Traceback" not in body and "internal.py" not in body
        # the detail went to the server's log instead, with the reference shown in the page
        ref = page.inner_text(".linkage-error").split("ref ")[1].rstrip(")")
        assert trap_server.wait_for_log(ref) and "SECRET detail" in trap_server.log()
    finally:
        page.close(run_before_unload=True)


def test_closed_tab_frees_its_kernel(served, browser):
    # https://github.com/voila-dashboards/voila/issues/1458:
    # Voila's own beacon is refused for a missing _xsrf cookie; the dashboards
    # set the cookie and send the beacon on pagehide too (linkage.app._safe.SHUTDOWN_FIX)
    before = served.log().count("Kernel shutdown")
    page = open_dashboard(browser, f"{served.url}/voila/render/unit_explorer.ipynb", "img[alt='unit series']")
    kernel = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    page.close(run_before_unload=True)
    assert served.wait_for_log_count("Kernel shutdown", before + 1, timeout=20)
    assert f"Kernel shutdown: {kernel}" in served.log()
    assert "'_xsrf' argument missing" not in served.log()


def test_stuck_page_is_retried_once(browser, monkeypatch):
    # a page that never gets past "Executing 2 of 3" is reopened once, then reported
    html = f"<div id='loading_text'>{STUCK}</div>"
    calls = []
    real_new_page = browser.new_page

    def new_page(**kwargs):
        page = real_new_page(**kwargs)
        calls.append(page)
        page.route("**/*", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        return page

    monkeypatch.setattr(browser, "new_page", new_page)
    with pytest.raises(AssertionError, match="stuck"):
        open_dashboard(browser, "http://127.0.0.1:9/voila/render/x.ipynb", "img.never", timeout=1_000)
    assert len(calls) == 2
