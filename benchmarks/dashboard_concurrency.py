"""Concurrent viewers of the executive dashboard: how many hold, what each costs, what happens past the cap.

One server, as ``linkage dashboard`` runs it (``linkage.app.serve.voila_command``: Voila through
``linkage.app._voila`` with the committed ``voila.json``, preheated pool, figure cache warmed first),
with a viewer cap of ``--cap``. For N = 1, 2, 4, 8, ... (up to ``--max-n``) N headless Chromium
viewers (one browser context each, the flags of ``tests/browser/conftest.py``) open the dashboard at
the same moment; every admitted viewer then changes the region filter and waits for the redrawn
trend figure, all at once again. Printed per N:

- viewers admitted, and those answered "busy" (HTTP 503, past the cap);
- time to interactive (navigation to the lag profile figure visible), median and max;
- filter round-trip (region change to the redrawn trends figure), median and max;
- kernels live (viewers + the preheated pool), memory per kernel (RSS and USS, the memory the
  kernel alone holds, from psutil), all kernels together, and the Voila server's RSS;
- failures (an admitted page not interactive within ``--timeout``, or its filter not answered).

After each N the pages close (``run_before_unload``, the way a tab closes) and the script waits for
the kernels to fall back to the pool. The ramp stops at the first N with a failure or a median over
budget (``--tti-budget``, ``--trip-budget``); if it stopped before passing the cap, one more round
of cap + 2 viewers shows what the viewers past it get. The browsers run on the same machine as the server, so
the CPU they use is CPU the kernels do not get: figures here are a lower bound of what a server
whose viewers sit elsewhere holds.

With ``--expect N`` the server is told the audience as ``linkage dashboard --expect N`` does (a
preheated pool sized to it, bounded by memory; past the cap the waiting page, which turns into the
dashboard by itself: such a viewer's time to interactive includes the wait).

Usage: ``.venv/bin/python benchmarks/dashboard_concurrency.py [--cap 8] [--max-n 16] [--expect 8]``
"""

from __future__ import annotations

import argparse
import asyncio
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
NOTEBOOK = "executive.ipynb"
READY = "img[alt='Lag profile']"
TRENDS = "img[alt='Trends by group']"


def _mb(n: float) -> str:
    return f"{n / 1024**2:.0f}"


def memory(server: VoilaServer) -> dict[str, float]:
    """Kernels live, their RSS and USS (median, max, sum), and the server's RSS, in bytes."""
    import psutil

    rss, uss = [], []
    for proc in server.kernels():
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss.append(info.rss)
        uss.append(info.uss)
    try:
        server_rss = psutil.Process(server.proc.pid).memory_info().rss
    except psutil.Error:
        server_rss = float("nan")
    nan = float("nan")
    return {"kernels": len(rss), "rss_median": statistics.median(rss) if rss else nan,
            "rss_max": max(rss, default=nan), "uss_median": statistics.median(uss) if uss else nan,
            "uss_sum": sum(uss), "rss_sum": sum(rss), "server_rss": server_rss}


def pool_ready(server: VoilaServer) -> int:
    """Preheated kernels of the notebook ready to hand out (``/linkage/api/places``)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{server.url}/linkage/api/places", timeout=10) as r:
            return int(json.load(r).get("ready", {}).get(NOTEBOOK, 0))
    except OSError:
        return 0


def wait_idle(server: VoilaServer, timeout: float, quiet: float = 0.05, pool: int = 0) -> float:
    """Wait until ``pool`` preheated kernels are ready and the server's kernels have been idle
    (less than ``quiet`` of a CPU together) for two seconds: the refilled pool has run its
    notebooks. Returns the seconds waited."""
    import psutil

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if pool_ready(server) < pool:
            time.sleep(1)
            continue
        procs = server.kernels()
        for proc in procs:
            try:
                proc.cpu_percent(None)
            except psutil.Error:
                pass
        time.sleep(2)
        used = 0.0
        for proc in procs:
            try:
                used += proc.cpu_percent(None) / 100
            except psutil.Error:
                pass
        if used < quiet and len(server.kernels()) == len(procs):
            break
    return time.perf_counter() - t0


async def viewer(browser, url: str, i: int, timeout: float, start_gate: asyncio.Event,
                 change_gate: asyncio.Event, ready_count: list[int], waiting: list[int],
                 opened: list[int]) -> dict:
    """One viewer: open, wait until interactive, then (with the others) change the region."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("about:blank")
    opened[0] += 1
    out: dict = {"i": i}
    try:
        await start_gate.wait()
        t0 = time.perf_counter()
        response = await page.goto(url, wait_until="commit", timeout=timeout * 1000)
        out["status"] = response.status if response else None
        out["commit"] = time.perf_counter() - t0
        if out["status"] == 503:
            out["busy_text"] = (await page.inner_text("body"))[:80]
            if await page.locator("h1.linkage-waiting").count() == 0:
                out["busy"] = True  # the busy page: the viewer is turned away
                return out
            out["waited"] = True  # the waiting page: it turns into the dashboard by itself
            waiting[0] += 1  # once an admitted viewer is done and closes the page
        await page.wait_for_selector(READY, state="visible", timeout=timeout * 1000)
        out["tti"] = time.perf_counter() - t0
        ready_count[0] += 1
        await change_gate.wait()
        old = await page.get_attribute(TRENDS, "src")
        show = page.get_by_label("Show", exact=True)
        n = await show.locator("option").count()
        t1 = time.perf_counter()
        await show.select_option(index=1 + i % max(n - 1, 1))
        await page.wait_for_function("([s, old]) => { const e = document.querySelector(s);"
                                     " return e && e.getAttribute('src') !== old; }",
                                     arg=[TRENDS, old], timeout=timeout * 1000)
        out["trip"] = time.perf_counter() - t1
        if waiting[0]:  # someone waits for a place: leave, the way a viewer closes the tab
            await page.close(run_before_unload=True)
    except Exception as err:  # noqa: BLE001 - Playwright's TimeoutError: counted as a failure
        out["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    finally:
        out["page"], out["context"] = page, context
    return out


async def run_n(browser, server: VoilaServer, n: int, timeout: float) -> tuple[list[dict], dict]:
    url = f"{server.url}/voila/render/{NOTEBOOK}"
    start_gate, change_gate = asyncio.Event(), asyncio.Event()
    ready, waiting = [0], [0]
    opened = [0]
    tasks = [asyncio.create_task(viewer(browser, url, i, timeout, start_gate, change_gate, ready,
                                        waiting, opened)) for i in range(n)]
    while opened[0] < n:  # every viewer's browser tab is open: now all at once
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    start_gate.set()
    # the filter changes go together once every admitted page is interactive (or has failed)
    deadline = time.perf_counter() + timeout + 5
    while time.perf_counter() < deadline:
        done = sum(t.done() for t in tasks)
        if ready[0] + done + waiting[0] >= n:
            break
        await asyncio.sleep(0.2)
    mem_open = memory(server)  # every admitted viewer's kernel, before the filter changes
    change_gate.set()
    results = await asyncio.gather(*tasks)
    mem = memory(server)
    mem["kernels_open"] = mem_open["kernels"]
    for r in results:
        try:
            await r["page"].close(run_before_unload=True)
            await r["context"].close()
        except Exception:  # noqa: BLE001 - already gone
            pass
    return results, mem


def _stats(xs: list[float]) -> str:
    if not xs:
        return "      -       -"
    return f"{statistics.median(xs):6.2f}s {max(xs):6.2f}s"


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    work = pathlib.Path(tempfile.mkdtemp(prefix="linkage-concurrency-"))
    shutil.copy(ROOT / "notebooks" / "dashboards" / NOTEBOOK, work / NOTEBOOK)
    shutil.copy(ROOT / "notebooks" / "dashboards" / "voila.json", work / "voila.json")
    env = {"LINKAGE_PANEL": str(PANEL), "LINKAGE_CACHE": str(work / "cache")}
    subprocess.run([sys.executable, "-c", "from linkage.app.serve import warm_cache; import pathlib;"
                    f" warm_cache(pathlib.Path({str(PANEL)!r}))"], env={**os.environ, **env}, check=True)
    extra = [f"--LinkageVoila.max_viewers={args.cap}"]
    if args.expect:
        extra.append(f"--LinkageVoila.expect={args.expect}")
    if args.page_slots is not None:
        extra.append(f"--LinkageVoila.page_slots={args.page_slots}")
    if args.fill_delay is not None:
        extra.append(f"--LinkageVoila.expect_fill_delay={args.fill_delay}")
    server = VoilaServer(work, work / "voila.log", env=env, extra=tuple(extra))
    rows = []
    try:
        if not server.pool_filled(NOTEBOOK, timeout=300):
            raise RuntimeError("pool not filled")
        wait_idle(server, timeout=300)  # let the preheated kernels finish running the notebook
        plan = [line for line in server.log().splitlines() if "linkage: expecting" in line]
        if plan:
            print(plan[0].split("linkage: ", 1)[1], flush=True)
        pool = len(server.kernels())
        base = memory(server)
        print(f"idle server: {pool} preheated kernel(s), kernel RSS {_mb(base['rss_median'])} MB "
              f"(USS {_mb(base['uss_median'])} MB), server RSS {_mb(base['server_rss'])} MB; "
              f"cap {args.cap} viewers; {os.cpu_count()} CPUs shared with other work", flush=True)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=CHROMIUM_ARGS)

            async def one_round(n: int) -> tuple[bool, bool]:
                """N viewers at once; returns (failed or over budget, someone got the busy page)."""
                results, mem = await run_n(browser, server, n, args.timeout)
                admitted = [r for r in results if not r.get("busy")]
                busy = [r for r in results if r.get("busy")]
                waited = [r for r in results if r.get("waited")]
                fails = [r for r in admitted if "error" in r]
                tti = [r["tti"] for r in admitted if "tti" in r]
                trip = [r["trip"] for r in admitted if "trip" in r]
                rows.append((n, len(admitted), len(busy), tti, trip, mem, fails, len(waited)))
                print(f"N={n:2d}: admitted {len(admitted)} ({len(waited)} after the waiting page), "
                      f"busy (503) {len(busy)}, failed {len(fails)}; "
                      f"TTI median/max {_stats(tti)}; filter {_stats(trip)}; kernels {mem['kernels_open']} "
                      f"(RSS median {_mb(mem['rss_median'])} MB, max {_mb(mem['rss_max'])} MB; USS median "
                      f"{_mb(mem['uss_median'])} MB; all kernels RSS {_mb(mem['rss_sum'])} MB); "
                      f"server RSS {_mb(mem['server_rss'])} MB", flush=True)
                print("    each viewer's time to interactive (first answer from the server): "
                      + ", ".join(f"{r['tti']:.1f} ({r['commit']:.1f})"
                                  for r in sorted(admitted, key=lambda r: r.get("tti", 1e9))
                                  if "tti" in r) + " s", flush=True)
                for r in fails:
                    print(f"    viewer {r['i']}: {r['error']}")
                if busy:
                    print(f"    past the cap: HTTP {busy[0]['status']}, page says {busy[0]['busy_text']!r}")
                if not server.wait_for_kernels(pool, timeout=90):
                    print(f"    kernels did not fall back to the pool: {len(server.kernels())} live")
                else:
                    print(f"    pages closed: kernels back to {pool} (the pool)", flush=True)
                settled = wait_idle(server, timeout=240, pool=pool)
                print(f"    pool warmed up again after {settled:.0f} s", flush=True)
                over = bool((tti and statistics.median(tti) > args.tti_budget) or
                            (trip and statistics.median(trip) > args.trip_budget))
                time.sleep(args.settle)
                return bool(fails) or over, bool(busy)

            past_cap_shown = False
            ramp = args.ns or [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= args.max_n]
            for n in ramp:
                stop, busy = await one_round(n)
                past_cap_shown = past_cap_shown or busy
                if stop:
                    print("    ramp stops: failures or over budget")
                    break
            if not past_cap_shown:
                print(f"past the cap: {args.cap + 2} viewers at once against a cap of {args.cap}")
                await one_round(args.cap + 2)
            await browser.close()
    finally:
        server.stop()
        log = server.log()
        keep = pathlib.Path(tempfile.gettempdir()) / f"{work.name}.voila.log"
        keep.write_text(log, encoding="utf-8")
        print(f"server log kept in {keep}")
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'N':>3s} {'in':>3s} {'busy':>4s} {'fail':>4s} {'TTI med':>8s} {'TTI max':>8s} "
          f"{'filter med':>10s} {'filter max':>10s} {'kernels':>7s} {'RSS/kernel':>10s} "
          f"{'USS/kernel':>10s} {'server':>7s} {'waited':>6s}")
    for n, a, b, tti, trip, mem, fails, waited in rows:
        med = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"  # noqa: E731
        mx = lambda xs: f"{max(xs):.2f}" if xs else "-"  # noqa: E731
        print(f"{n:3d} {a:3d} {b:4d} {len(fails):4d} {med(tti):>8s} {mx(tti):>8s} {med(trip):>10s} "
              f"{mx(trip):>10s} {mem['kernels_open']:7d} {_mb(mem['rss_median']):>7s} MB "
              f"{_mb(mem['uss_median']):>7s} MB {_mb(mem['server_rss']):>4s} MB {waited:6d}")
    print(f"budget: TTI median <= {args.tti_budget:.0f} s, filter median <= {args.trip_budget:.1f} s; "
          f"server log: {log.count('answered 503')} busy answers, {log.count('Traceback')} tracebacks")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=8, help="viewer cap of the server (default 8)")
    parser.add_argument("--expect", type=int, default=0,
                        help="serve as 'linkage dashboard --expect N' does: a preheated pool of up "
                        "to N kernels and the waiting page past the cap (default 0: not told)")
    parser.add_argument("--page-slots", type=int, default=None,
                        help="pages let through to load at once (default: the server's own, the "
                        "machine's CPUs; 0: all at once)")
    parser.add_argument("--fill-delay", type=float, default=None,
                        help="with --expect: seconds before the pool refills (default: the "
                        "server's own)")
    parser.add_argument("--ns", type=int, nargs="+", default=None,
                        help="the crowds to try, in order (default 1, 2, 4, ... up to --max-n)")
    parser.add_argument("--max-n", type=int, default=16, help="largest N tried (default 16)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a viewer may wait for the page or a filter (default 120)")
    parser.add_argument("--tti-budget", type=float, default=20.0,
                        help="stop when the median time to interactive exceeds this (default 20 s)")
    parser.add_argument("--trip-budget", type=float, default=2.0,
                        help="stop when the median filter round-trip exceeds this (default 2 s)")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds between rounds, for the pool to refill (default 10)")
    args = parser.parse_args()
    if chromium_path() is None:
        print("no Chromium found; set LINKAGE_CHROMIUM", file=sys.stderr)
        return 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
