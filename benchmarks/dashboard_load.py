"""Time to interactive and filter round-trips of the dashboards, against a one-dropdown page.

All three notebooks (executive, unit explorer, ``trivial_dropdown.ipynb``) are served by ONE Voila
process from a temporary folder holding copies of them and the committed ``voila.json`` (preheated
kernels, pool of 1), on the sample panel, with a fresh figure cache warmed first the way
``linkage dashboard`` does. Before every load all pools are refilled and given ``--settle`` seconds
to finish running their notebooks, so each load is served the same way (by an idle preheated kernel). Headless Chromium (``/usr/bin/chromium``).

- time to interactive: navigation start to the page's controls and figures visible;
- round-trip: a filter change to the changed figure or text in the page (the executive's unit
  table too: a "Sort by" change and a text typed into "Find", once its section is open).

Prints medians (and the first load), and ratios against the trivial page.
Usage: ``.venv/bin/python benchmarks/dashboard_load.py [--loads N]``
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
READY = {
    "trivial_dropdown.ipynb": ".widget-dropdown select",
    "executive.ipynb": "img[alt='Lag profile']",
    "unit_explorer.ipynb": "img[alt='unit standing']",
}


def _changed(page, selector: str, attr: str | None, old: str, timeout: float = 30_000) -> None:
    js = ("([s, a, old]) => { const e = document.querySelector(s);"
          " return e && (a ? e.getAttribute(a) : e.textContent) !== old; }")
    page.wait_for_function(js, arg=[selector, attr, old], timeout=timeout)


def _get(page, selector: str, attr: str | None) -> str:
    return page.get_attribute(selector, attr) if attr else page.text_content(selector)


def _timed(page, action, selector, attr, *more: str) -> float:
    """Seconds from ``action`` to ``selector`` (and every selector in ``more``) changed."""
    sels = (selector, *more)
    old = [_get(page, s, attr) for s in sels]
    t0 = time.perf_counter()
    action()
    for s, o in zip(sels, old):
        _changed(page, s, attr, o)
    return time.perf_counter() - t0


def _select_index(page, label: str, index: int):
    return lambda: page.get_by_label(label, exact=True).select_option(index=index)


def _press(page, slider_text: str, handle: str, key: str):
    def act():
        h = page.locator(".widget-slider, .widget-hslider").filter(has_text=slider_text).locator(handle)
        h.focus()
        h.press(key)
    return act


def filter_trips(page, notebook: str, i: int) -> dict[str, float]:
    """One change of each filter; returns seconds per filter."""
    if notebook == "trivial_dropdown.ipynb":
        return {"dropdown": _timed(page, _select_index(page, "Pick", 1 + i % 2), ".picked", None)}
    if notebook == "unit_explorer.ipynb":
        return {"unit": _timed(page, _select_index(page, "Unit", 1 + i), "img[alt='unit series']", "src"),
                "peers": _timed(page, _select_index(page, "Compare with", 3 if i % 2 == 0 else 2),
                                ".linkage-cards", None)}
    out = {}
    out["region"] = _timed(page, _select_index(page, "Show", 1 + i % 5), "img[alt='Trends by group']", "src")
    out["lag"] = _timed(page, _press(page, "Employees lead by", ".noUi-handle-lower",
                                     "ArrowLeft" if i % 2 else "ArrowRight"), "img[alt='Lag profile']", "src")
    # a period change updates all three figures: timed to the last of them (the lag profile)
    figs = ("img[alt='Trends by group']", "src", "img[alt='Units in quadrants']",
            "img[alt='Lag profile']")
    out["period"] = _timed(page, _press(page, "Periods", ".noUi-handle-upper", "ArrowLeft"), *figs)
    # one more step: a range no warm-up drew (computed in the callback)
    out["period (cold range)"] = _timed(page, _press(page, "Periods", ".noUi-handle-upper", "ArrowLeft"),
                                        *figs)
    # another attribute ("Split by"), then one of its values, then a range: the grid of every
    # district comes from the background warm-up's disk cache; its frames are drawn by the kernel
    # after the figures are sent, while the viewer reads them (a second, here) before the next pick
    out["split by"] = _timed(page, _select_index(page, "Split by", 1 + i % 2), "img[alt='Trends by group']", "src")
    page.wait_for_timeout(1000)
    out["split by: value"] = _timed(page, _select_index(page, "Show", 1 + i % 3), "img[alt='Trends by group']", "src")
    page.wait_for_timeout(1000)
    out["split by: range"] = _timed(page, _press(page, "Periods", ".noUi-handle-upper", "ArrowLeft"), *figs)
    # the unit table (built when its section opens): a sort, then a text typed into "Find"
    page.get_by_text("Downloads and the unit table").click()
    page.wait_for_selector(".linkage-table table", timeout=30_000)
    page.wait_for_timeout(500)
    out["table sort"] = _timed(page, _select_index(page, "Sort by", 5 + i % 2), ".linkage-table", None)
    find = page.get_by_label("Find", exact=True)
    out["table find"] = _timed(page, lambda: find.fill("North" if i % 2 else "South"),
                               ".linkage-table", None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="page loads per notebook (default 5)")
    parser.add_argument("--warm-units", action="store_true",
                        help="also draw the executive figures of the plausible period ranges, of "
                             "every value of the other attributes and every unit's figures first "
                             "(the state `linkage dashboard` reaches "
                             "after its background warm-up)")
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds to wait after the pools are refilled, for their preheated "
                             "notebooks to finish running (default 8)")
    args = parser.parse_args()
    chromium = chromium_path()
    if chromium is None:
        print("no Chromium found; set LINKAGE_CHROMIUM", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    work = pathlib.Path(tempfile.mkdtemp(prefix="linkage-bench-"))
    for name in ("executive.ipynb", "unit_explorer.ipynb", "voila.json"):
        shutil.copy(ROOT / "notebooks" / "dashboards" / name, work / name)
    shutil.copy(ROOT / "benchmarks" / "trivial_dropdown.ipynb", work / "trivial_dropdown.ipynb")
    env = {"LINKAGE_PANEL": str(PANEL), "LINKAGE_CACHE": str(work / "cache")}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from linkage.app.serve import warm_cache; import pathlib, sys;"
                    f" warm_cache(pathlib.Path({str(PANEL)!r}))"], env={**os.environ, **env}, check=True)
    print(f"cache warmed in {time.perf_counter() - t0:.1f} s (what `linkage dashboard` does before serving)")
    if args.warm_units:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from linkage.app.serve import warm_attributes, warm_ranges, warm_units;"
                        f" import pathlib; p = pathlib.Path({str(PANEL)!r}); warm_ranges(p); warm_attributes(p);"
                        " warm_units(p)"],
                       env={**os.environ, **env}, check=True)
        print(f"plausible ranges and unit figures warmed in {time.perf_counter() - t0:.1f} s (what "
              "`linkage dashboard` does in the background once Voila is up)")
    server = VoilaServer(work, work / "voila.log", env=env)
    tti: dict[str, list[float]] = {n: [] for n in READY}
    trips: dict[str, dict[str, list[float]]] = {n: {} for n in READY}
    fills = {n: 1 for n in READY}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            for i in range(args.loads):
                for nb in READY:  # interleaved, so load on the machine hits every page alike
                    # every pool refilled and its preheated notebook run to its end (a refill
                    # still executing would compete for the CPU with the page being timed)
                    for other in READY:
                        if not server.pool_filled(other, fills[other], timeout=180):
                            raise RuntimeError(f"pool of {other} not refilled")
                    time.sleep(args.settle)
                    fills[nb] += 1
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    start = time.perf_counter()
                    page.goto(f"{server.url}/voila/render/{nb}", wait_until="commit")
                    page.wait_for_selector(READY[nb], state="visible", timeout=90_000)
                    tti[nb].append(time.perf_counter() - start)
                    print(f"load {i + 1}: {nb} interactive in {tti[nb][-1]:.2f} s", flush=True)
                    for k, v in filter_trips(page, nb, i).items():
                        trips[nb].setdefault(k, []).append(v)
                    page.close(run_before_unload=True)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(tti["trivial_dropdown.ipynb"])
    base_trip = statistics.median(trips["trivial_dropdown.ipynb"]["dropdown"])
    print(f"\n{args.loads} loads each, preheated kernels (pool 1), same Voila, same browser")
    print(f"{'page':28s} {'TTI median':>10s} {'first':>7s} {'ratio':>6s}   target <= 1.20")
    for nb, ts in tti.items():
        print(f"{nb:28s} {statistics.median(ts):9.2f}s {ts[0]:6.2f}s {statistics.median(ts) / base:6.2f}")
    print(f"\n{'filter round-trip':28s} {'median':>10s} {'max':>7s} {'ratio':>6s}   target < 0.30 s")
    for nb, d in trips.items():
        for k, ts in d.items():
            print(f"{nb + ' ' + k:28s} {statistics.median(ts):9.3f}s {max(ts):6.3f}s "
                  f"{statistics.median(ts) / base_trip:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
