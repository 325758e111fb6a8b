"""Cost of "which way it runs" in the executive dashboard's kernel, against what it already does.

Run:  nice -n 10 .venv/bin/python benchmarks/dashboard_direction.py [--units 1000] [--months 60]

For each panel (the bundled sample, then simulator panels of ``--units`` x ``--months``), in one
process, with and without the direction verdicts (``DashboardData.direction`` replaced by a
constant for the baseline):

- kernel start, cache warm: ``DashboardData(panel)`` + ``precompute()`` reading a figure cache
  that ``linkage dashboard`` warmed before serving (what a Voila kernel does before its first page);
- kernel start, no cache: the same computed from scratch (``LINKAGE_CACHE=off``: a notebook user
  with no warmed cache), and the whole ``executive_dashboard`` build (figures drawn) beside it;
- a filter change to a group (the default range, precomputed): the headline sentences
  (``headline_sentences``), direction included; the budget is 0.3 s kernel-side;
- a new period range (computed lazily when asked): each group's direction verdict, against the
  lag profile (its unit bootstrap) the same change computes anyway.

Prints seconds (best of ``--repeat``) and ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from unittest import mock

import pandas as pd

from linkage.app import DashboardData, Selection, executive_dashboard, load_panel
from linkage.app._render import headline_sentences
from linkage.simulate import WorldSpec, simulate_panel

STUB = {"verdict": "too_few_units", "p_val": None, "n_units": 0, "min_units": 5, "n_periods": 0,
        "short": False, "step": "month"}


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def start(panel, n_boot: int, stub: bool, build: Callable = DashboardData) -> object:
    def go() -> object:
        if build is DashboardData:
            d = DashboardData(panel, n_boot=n_boot)
            d.precompute()
            return d
        return build(panel, n_boot=n_boot)

    if stub:
        with mock.patch.object(DashboardData, "direction", lambda self, sel: STUB):
            return go()
    return go()


def pair(panel, n_boot: int, repeat: int, build: Callable = DashboardData) -> str:
    base = best_of(lambda: start(panel, n_boot, True, build), repeat)
    new = best_of(lambda: start(panel, n_boot, False, build), repeat)
    return (f"{base:7.3f} s without direction, {new:7.3f} s with it "
            f"({new - base:+.3f} s, {new / base:.2f} x)")


def run(name: str, panel, n_boot: int, repeat: int) -> None:
    n = len(pd.unique(panel["period"]))
    print(f"{name}: {panel['unit_id'].nunique()} units x {n} periods, n_boot {n_boot}")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LINKAGE_CACHE"] = cache
        start(panel, n_boot, False)  # what linkage dashboard's warm-up leaves on disk
        start(panel, n_boot, True)
        print(f"  kernel start, cache warm:        {pair(panel, n_boot, repeat)}")
    os.environ["LINKAGE_CACHE"] = "off"
    print(f"  kernel start, no cache:          {pair(panel, n_boot, repeat)}")
    start(panel, n_boot, False, executive_dashboard)  # this process's first figures (fonts, frames)
    print(f"  whole dashboard build, no cache: {pair(panel, n_boot, repeat, executive_dashboard)}")
    d = start(panel, n_boot, False)
    attr = d.default_attribute()
    groups = [Selection(attr, v) for v in d.values[attr]] if attr else [Selection()]
    change = max(best_of(lambda s=s: headline_sentences(d, s), repeat) for s in groups)
    lo, hi = 1, n - 2  # a range nothing precomputed
    fresh = [Selection(s.attribute, s.value, d.periods[lo], d.periods[hi]) for s in groups]

    def profiles() -> None:
        d._profiles.clear()
        for s in fresh:
            d.profile(s)

    def directions() -> None:
        d._directions.clear()
        for s in fresh:
            d.direction(s)  # the profiles are cached by the call before

    t_prof = best_of(profiles, repeat)
    t_direc = best_of(directions, repeat)
    g = len(fresh)
    print(f"  filter change to a group:        {change:7.3f} s headline sentences (slowest of {g})")
    print(f"  new range, per group:            {t_direc / g:7.3f} s direction, "
          f"{t_prof / g:7.3f} s lag profile ({t_direc / t_prof:.2f} x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, nargs="*", default=[1000])
    ap.add_argument("--months", type=int, nargs="*", default=[60])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    run("sample", load_panel(), args.n_boot, args.repeat)
    for u in args.units:
        for m in args.months:
            panel, _ = simulate_panel(WorldSpec(n_units=u, months=m, lag=2, seed=1))
            run("simulator", panel, args.n_boot, args.repeat)


if __name__ == "__main__":
    main()
