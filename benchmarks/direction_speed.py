"""Cost of the direction analysis inside ``analyse``, against ``analyse`` without it, in one process.

Run:  nice -n 10 .venv/bin/python benchmarks/direction_speed.py [--units 2000] [--months 60]

Workload: a simulator panel of 2,000 units x 60 months (planted lag 2, so the direction models
run at lag order 2). Times (best of 3; the RI-CLPM once per repeat as well):

- baseline: ``analyse(..., n_boot=2000)`` as a user runs it (it includes the direction tests);
- the direction part alone (as ``analyse`` runs it): cross-lagged fixed effects, the split-panel jackknife comparison and
  the Dumitrescu-Hurlin tests (``cross_lagged_grid`` + ``direction_tests_grid``);
- the RI-CLPM alone (``riclpm_grid``, semopy, 6 waves), the opt-in part: ``analyse(...,
  riclpm=True)`` costs the baseline plus this.
"""

from __future__ import annotations

import argparse
import time

from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import analyse
from linkage.stats._prep import make_grid
from linkage.stats.direction import cross_lagged_grid, direction_tests_grid, full_fits
from linkage.stats.riclpm import riclpm_grid


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--months", type=int, default=60)
    args = ap.parse_args()
    panel, _ = simulate_panel(WorldSpec(n_units=args.units, months=args.months, lag=2, seed=1))
    kw = dict(x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    grid = make_grid(panel, **kw)

    base = best_of(lambda: analyse(panel, n_boot=2000))

    def direction() -> None:
        fits = full_fits(grid, order=2)
        cross_lagged_grid(grid, x=kw["x"], y=kw["y"], period="period", time_effects=True,
                          ci=0.95, order=2, fits=fits)
        direction_tests_grid(grid, order=2, fits=fits)

    d = best_of(direction)
    r = best_of(lambda: riclpm_grid(grid, order=2))
    print(f"{args.units} units x {args.months} months")
    print(f"analyse (default, direction tests included): {base:.2f} s")
    print(f"direction tests alone:                       {d:.2f} s  ({d / base:.2f} x analyse)")
    print(f"RI-CLPM alone (opt-in):                      {r:.2f} s  ({r / base:.2f} x analyse)")
    print(f"analyse with riclpm=True (estimate):         {base + r:.2f} s")


if __name__ == "__main__":
    main()
