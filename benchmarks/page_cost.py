"""What one page load costs, and who pays: the viewer's browser, the Voila server, the kernel.

One server as ``linkage dashboard`` runs it (``linkage.app.serve.voila_command``, the committed
``voila.json``, preheated kernels warmed up and idle), one headless Chromium (the flags of
``tests/browser/conftest.py``, a fresh browser context per load, as a new viewer has). For the
executive dashboard and for ``benchmarks/trivial_dropdown.ipynb`` (one dropdown: what any Voila page
costs), ``--loads`` page loads one after the other; per load, the CPU seconds (user + system, from
psutil) used by the browser's processes, the server process and the kernels from navigation until
the page is interactive. Printed: the medians per page and the executive page's costs as ratios of
the trivial page's, measured in the same run.

Why it matters: on a machine whose CPUs serve both the server and the viewers' browsers (a meeting
room, a test), N pages arriving together need N times the sum of these seconds of CPU, so it is
the share of each part that says which lever helps (a cheaper kernel, a cheaper page, or pages
loading in turns: ``linkage.app._voila.PagePacer``).

Usage: ``.venv/bin/python benchmarks/page_cost.py [--loads 5]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM_ARGS, VoilaServer, chromium_path  # noqa: E402

PANEL = ROOT / "data" / "sample" / "panel.csv"
PAGES = {
    "trivial_dropdown.ipynb": (ROOT / "benchmarks" / "trivial_dropdown.ipynb", "select"),
    "executive.ipynb": (ROOT / "notebooks" / "dashboards" / "executive.ipynb",
                        "img[alt='Lag profile']"),
}


def cpu_seconds(procs) -> float:
    import psutil

    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def browser_procs():
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]


def wait_quiet(server: VoilaServer, timeout: float = 300) -> None:
    """Until the kernels have used less than 5 % of a CPU together for two seconds."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        procs = server.kernels()
        before = cpu_seconds(procs)
        time.sleep(2)
        if cpu_seconds(procs) - before < 0.1 and len(server.kernels()) == len(procs):
            return


def measure(name: str, loads: int) -> list[dict]:
    import psutil
    from playwright.sync_api import sync_playwright

    source, ready = PAGES[name]
    work = pathlib.Path(tempfile.mkdtemp(prefix="linkage-page-cost-"))
    shutil.copy(source, work / name)
    shutil.copy(ROOT / "notebooks" / "dashboards" / "voila.json", work / "voila.json")
    env = {"LINKAGE_PANEL": str(PANEL), "LINKAGE_CACHE": str(work / "cache")}
    subprocess.run([sys.executable, "-c", "from linkage.app.serve import warm_cache; import pathlib;"
                    f" warm_cache(pathlib.Path({str(PANEL)!r}))"], env={**os.environ, **env}, check=True)
    server = VoilaServer(work, work / "voila.log", env=env)
    rows = []
    try:
        server.pool_filled(name, timeout=300)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                        args=CHROMIUM_ARGS)
            for _ in range(loads):
                wait_quiet(server)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto("about:blank")
                server_proc = psutil.Process(server.proc.pid)
                kernels = server.kernels()
                b0, s0, k0 = cpu_seconds(browser_procs()), cpu_seconds([server_proc]), cpu_seconds(kernels)
                t0 = time.perf_counter()
                page.goto(f"{server.url}/voila/render/{name}", wait_until="commit")
                page.wait_for_selector(ready, state="visible", timeout=120_000)
                wall = time.perf_counter() - t0
                # the kernel that served the page is among those preheated before it came
                rows.append({"wall": wall, "browser": cpu_seconds(browser_procs()) - b0,
                             "server": cpu_seconds([server_proc]) - s0,
                             "kernel": cpu_seconds(kernels) - k0})
                page.close(run_before_unload=True)
                context.close()
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="page loads per page (default 5)")
    args = parser.parse_args()
    if chromium_path() is None:
        print("no Chromium found; set LINKAGE_CHROMIUM", file=sys.stderr)
        return 1
    medians = {}
    print(f"{'page':24s} {'wall':>6s} {'browser':>8s} {'server':>7s} {'kernel':>7s} {'all CPU':>8s}")
    for name in PAGES:
        rows = measure(name, args.loads)
        med = {k: statistics.median(r[k] for r in rows) for k in ("wall", "browser", "server", "kernel")}
        med["all"] = med["browser"] + med["server"] + med["kernel"]
        medians[name] = med
        print(f"{name:24s} {med['wall']:5.2f}s {med['browser']:7.2f}s {med['server']:6.2f}s "
              f"{med['kernel']:6.2f}s {med['all']:7.2f}s", flush=True)
    base, dash = medians["trivial_dropdown.ipynb"], medians["executive.ipynb"]
    print("executive / trivial: " + ", ".join(
        f"{k} {dash[k] / base[k]:.2f}x" for k in ("wall", "browser", "all") if base[k] > 0))
    share = {k: dash[k] / dash["all"] for k in ("browser", "server", "kernel")}
    print("executive page's CPU: " + ", ".join(f"{k} {v:.0%}" for k, v in share.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
