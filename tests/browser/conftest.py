"""Serve the dashboards with Voila and drive them with Playwright's Python API on Debian's Chromium.

No ``playwright install`` (it cannot download here): Chromium comes from ``/usr/bin/chromium`` (or
``$LINKAGE_CHROMIUM``). Without a Chromium the browser tests fail under ``CI=true`` and are skipped
with a reason otherwise.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

# the browser tests import the helpers below with ``from conftest import ...``
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "notebooks" / "dashboards"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
STUCK = "Executing 2 of 3"


def chromium_path() -> str | None:
    for cand in (os.environ.get("LINKAGE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and os.path.exists(cand):
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    """A Voila process serving one folder on a free port; its log is kept for assertions."""

    def __init__(self, folder: pathlib.Path, log: pathlib.Path, env: dict[str, str] | None = None,
                 extra: tuple[str, ...] = ()):
        from linkage.app.serve import voila_command

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(voila_command(folder, port=self.port, extra=extra), cwd=folder,
                                     env={**os.environ, **(env or {})}, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "is running at" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"voila did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.2)
        return False

    def wait_for_log_count(self, text: str, count: int, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return True
            time.sleep(0.2)
        return False

    def pool_filled(self, notebook: str, count: int = 1, timeout: float = 90) -> bool:
        """Wait until the preheated pool of ``notebook`` was (re)filled ``count`` times."""
        deadline = time.monotonic() + timeout
        needle = f"Kernel pool of {notebook} is filled"
        while time.monotonic() < deadline:
            if self.log().count(needle) >= count:
                return True
            time.sleep(0.2)
        return False

    def kernels(self) -> list:
        """The server's kernel processes (``psutil.Process``), pool and viewers alike."""
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        out = []
        for child in children:
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    out.append(child)
            except psutil.Error:  # gone in between
                pass
        return out

    def wait_for_kernels(self, count: int, timeout: float = 30) -> bool:
        """Wait until the server runs exactly ``count`` kernels."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.kernels()) == count:
                return True
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def open_dashboard(browser, url: str, ready: str, *, timeout: float = 60_000, retries: int = 1):
    """Open ``url`` and wait for ``ready``; retry once if Voila stops at "Executing 2 of 3"."""
    last = None
    for _ in range(retries + 1):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="commit", timeout=timeout)
        try:
            page.wait_for_selector(ready, state="visible", timeout=timeout)
            return page
        except Exception as err:  # Playwright's TimeoutError
            text = page.content()
            last = err
            page.close(run_before_unload=True)
            if STUCK not in text:
                raise
    raise AssertionError(f"page stuck at {STUCK!r} twice") from last


ERROR_TEXT = ("Traceback", "There was an error", "Error:", "Exception", ".py\", line", "SECRET")


def assert_no_error(page) -> None:
    body = page.inner_text("body")
    for needle in ERROR_TEXT:
        assert needle not in body, f"{needle!r} shown to the viewer"
    assert page.locator(".linkage-error").count() == 0


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no Chromium found (set LINKAGE_CHROMIUM or install Debian's chromium)")
        pytest.skip("no Chromium found: install Debian's chromium or set LINKAGE_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """Both dashboards served from notebooks/dashboards on the sample panel."""
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    server = VoilaServer(DASHBOARDS, log, env={"LINKAGE_PANEL": str(ROOT / "data" / "sample" / "panel.csv")})
    try:
        server.pool_filled("executive.ipynb")
        server.pool_filled("unit_explorer.ipynb")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def screenshots() -> pathlib.Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


