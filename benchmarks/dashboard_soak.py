"""Load a served dashboard many times in a row and count the pages that never become interactive.

Voila 0.5 sometimes leaves a page on "Executing x of y" for good
(https://github.com/voila-dashboards/voila/issues/1395,
https://github.com/voila-dashboards/voila/issues/1446). This script serves one notebook
(``trivial``: one ipywidgets dropdown, ``benchmarks/trivial_dropdown.ipynb``; ``executive``: the
executive dashboard on the sample panel) the way ``linkage dashboard`` does
(``linkage.app.serve.voila_command``, the committed ``voila.json``), then, ``--loads`` times: opens
the page in headless Chromium, waits up to ``--timeout`` seconds for its control, changes a filter
and waits for the page to show the change (a dropdown's echo, or a redrawn figure), and closes the
tab the way a viewer does (``run_before_unload``). A load counts as

- ``interactive``: control visible and the filter change shown, with no reload;
- ``recovered``: the page's own watchdog reloaded it once (the ``linkage`` Voila template, ``linkage.app._voila``) and then it
  was interactive;
- ``stuck``: never interactive within the timeout (what the page showed, how many cells arrived and
  the server log around it are printed).

Usage::

    .venv/bin/python benchmarks/dashboard_soak.py --loads 100 --notebook executive
    .venv/bin/python benchmarks/dashboard_soak.py --loads 300 --notebook trivial --no-watchdog
    .venv/bin/python benchmarks/dashboard_soak.py --loads 30 --notebook trivial --no-watchdog \
        --cull-idle 6 --settle 8 --no-claim-fix     # the cause: kernels culled under loading pages

``--no-watchdog`` opens the pages with the watchdog switched off (``?linkage_watchdog=0``), to count
how often Voila itself stalls.
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
NOTEBOOKS = {
    "trivial": (ROOT / "benchmarks" / "trivial_dropdown.ipynb", ".widget-dropdown select"),
    "executive": (ROOT / "notebooks" / "dashboards" / "executive.ipynb", "img[alt='Lag profile']"),
}


def _change_filter(page, notebook: str, i: int, timeout: float) -> None:
    """Change one filter and wait until the page shows the change (raises on timeout)."""
    if notebook == "trivial":
        want = "b" if i % 2 == 0 else "c"
        page.get_by_label("Pick", exact=True).select_option(label=want)
        page.wait_for_function("(w) => { const e = document.querySelector('.picked');"
                               " return e && e.textContent === w; }", arg=want, timeout=timeout)
        return
    sel = "img[alt='Trends by group']"
    old = page.get_attribute(sel, "src")
    show = page.get_by_label("Show", exact=True)
    n = show.locator("option").count()
    show.select_option(index=1 + i % max(n - 1, 1))
    page.wait_for_function("([s, old]) => { const e = document.querySelector(s);"
                           " return e && e.getAttribute('src') !== old; }", arg=[sel, old],
                           timeout=timeout)


def _diagnose(page, server: VoilaServer, log_from: int) -> str:
    try:
        text = page.evaluate("() => { const e = document.getElementById('loading_text');"
                             " return e ? e.textContent : '(no spinner)'; }")
        cells = page.locator("[cell-index]").count()
        finished = page.evaluate("() => !!document.getElementById('rendered_cells') &&"
                                 " document.getElementById('rendered_cells').style.display !== 'none'")
        html = len(page.content())
    except Exception as err:  # noqa: BLE001 - a diagnostic must not stop the soak
        return f"(page unreadable: {err})"
    tail = server.log()[log_from:][-1500:]
    return (f"spinner {text!r}, {cells} cell(s) arrived, cells shown {finished}, {html} bytes\n"
            f"--- server log since this load ---\n{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=100)
    parser.add_argument("--notebook", choices=sorted(NOTEBOOKS), default="executive")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds a load may take to become interactive (default 60)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to wait between loads (default 0: back to back)")
    parser.add_argument("--no-watchdog", dest="watchdog", action="store_false",
                        help="open the pages with the watchdog off (count Voila's own stalls)")
    parser.add_argument("--cull-idle", type=float, default=None, metavar="S",
                        help="serve with kernel culling after S idle seconds, checked every S/4 "
                             "(default: voila.json's 120 s, every 30 s)")
    parser.add_argument("--no-claim-fix", dest="claim_fix", action="store_false",
                        help="serve with LinkageVoila.claim_resets_idle=False: a preheated "
                             "kernel keeps its idle time when handed to a page (reproduces the "
                             "pages whose kernel is culled while they load)")
    args = parser.parse_args()
    chromium = chromium_path()
    if chromium is None:
        print("no Chromium found; set LINKAGE_CHROMIUM", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    source, ready = NOTEBOOKS[args.notebook]
    name = source.name
    work = pathlib.Path(tempfile.mkdtemp(prefix="linkage-soak-"))
    shutil.copy(source, work / name)
    shutil.copy(ROOT / "notebooks" / "dashboards" / "voila.json", work / "voila.json")
    env = {"LINKAGE_PANEL": str(PANEL), "LINKAGE_CACHE": str(work / "cache"),
           "LINKAGE_MAX_VIEWERS": "4"}
    if args.notebook == "executive":
        subprocess.run([sys.executable, "-c", "from linkage.app.serve import warm_cache; import pathlib;"
                        f" warm_cache(pathlib.Path({str(PANEL)!r}))"], env={**os.environ, **env},
                       check=True)
    extra: list[str] = []
    if args.cull_idle is not None:
        extra += [f"--MappingKernelManager.cull_idle_timeout={int(args.cull_idle)}",
                  f"--MappingKernelManager.cull_interval={max(1, int(args.cull_idle // 4))}"]
    if not args.claim_fix:
        extra.append("--LinkageVoila.claim_resets_idle=False")
    server = VoilaServer(work, work / "voila.log", env=env, extra=tuple(extra))
    query = "" if args.watchdog else "?linkage_watchdog=0"
    outcome = {"interactive": 0, "recovered": 0, "stuck": 0}
    tti: list[float] = []
    stuck_notes: list[str] = []
    t_start = time.perf_counter()
    try:
        server.pool_filled(name)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            for i in range(args.loads):
                log_from = len(server.log())
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                navigations = []
                page.on("framenavigated", lambda f, page=page: navigations.append(f.url)
                        if f == page.main_frame else None)
                start = time.perf_counter()
                try:
                    page.goto(f"{server.url}/voila/render/{name}{query}", wait_until="commit")
                    page.wait_for_selector(ready, state="visible", timeout=args.timeout * 1000)
                    _change_filter(page, args.notebook, i, timeout=30_000)
                except Exception as err:  # noqa: BLE001 - Playwright's TimeoutError: a stuck load
                    outcome["stuck"] += 1
                    note = f"load {i + 1}: {type(err).__name__}: {str(err).splitlines()[0]}\n" \
                           f"{_diagnose(page, server, log_from)}"
                    stuck_notes.append(note)
                    print(note, flush=True)
                else:
                    tti.append(time.perf_counter() - start)
                    reloaded = len(navigations) > 1
                    outcome["recovered" if reloaded else "interactive"] += 1
                    print(f"load {i + 1}: {'recovered after a reload, ' if reloaded else ''}"
                          f"interactive in {tti[-1]:.2f} s", flush=True)
                page.close(run_before_unload=True)
                if args.settle:
                    time.sleep(args.settle)
            browser.close()
    finally:
        server.stop()
        log = server.log()
        keep = pathlib.Path(tempfile.gettempdir()) / f"{work.name}.voila.log"
        keep.write_text(log, encoding="utf-8")
        print(f"server log kept in {keep}")
        shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - t_start
    print(f"\n{args.loads} consecutive loads of {name} ({'watchdog on' if args.watchdog else 'watchdog off'},"
          f" claim fix {'on' if args.claim_fix else 'off'}, culling "
          f"{'voila.json' if args.cull_idle is None else f'after {args.cull_idle:.0f} s idle'},"
          f" settle {args.settle:.0f} s, timeout {args.timeout:.0f} s) in {wall:.0f} s")
    print(f"interactive first time: {outcome['interactive']}   recovered by the page's reload: "
          f"{outcome['recovered']}   stuck: {outcome['stuck']}")
    if tti:
        print(f"load to interactive (incl. one filter change): median {statistics.median(tti):.2f} s, "
              f"max {max(tti):.2f} s")
    print(f"server log: {log.count('Kernel shutdown')} kernel shutdowns, "
          f"{log.count('Culling')} culling lines, {log.count('Traceback')} tracebacks, "
          f"{log.count('Kernel does not exist')} requests for a kernel already gone")
    return 0 if outcome["stuck"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
