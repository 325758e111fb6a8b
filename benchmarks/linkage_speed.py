"""Speed of the linkage statistics against a plain loop over pingouin calls, in one process.

Run:  .venv/bin/python benchmarks/linkage_speed.py [--units 2000] [--months 60] [--boot 2000]
      [--analyse-only]

Workload: 2,000 units x 60 months, lags -6..6 (13), 2,000 unit-bootstrap resamples.

- ours: ``linkage.stats.analyse`` with its default options (three correlations, plain and
  period-adjusted lag profiles with CR2 intervals, unit-bootstrap max-t bands, Romano-Wolf p-values,
  win shares and the sample-split estimate, cross-lagged direction, business effect, text) and
  ``lag_profile`` alone; and their floor, the grid and per-unit sums of both profiles without any
  inference (``analyse() / floor`` is what the inference costs).
- baseline: what an analyst would write with pingouin: for each lag, ``pingouin.rm_corr`` on the
  lagged pairs, then again on each of the B bootstrap resamples of units, i.e. 13 x (B + 1) calls.
  One ``pingouin.rm_corr`` call on all 2,000 units takes minutes and several GB (its ANCOVA builds a
  unit-dummy design), so the baseline is timed on subsets of 50, 100, 200 and 400 units (one call
  each, best of 3), a power law ``t = a * units**b`` is fitted to those times, and the 2,000-unit
  call time and the full loop are extrapolated from it. Both the measured subset times and the
  extrapolation are printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pingouin as pg

from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import analyse, lag_pairs, lag_profile
from linkage.stats._prep import make_grid
from linkage.stats.lags import lag_stats


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
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--analyse-only", action="store_true",
                    help="time analyse() against its floor only (skip the pingouin baseline)")
    ap.add_argument("--full-pingouin", action="store_true",
                    help="also time one pingouin.rm_corr call on all units (minutes, several GB)")
    args = ap.parse_args()
    n_lags = 13

    panel, _ = simulate_panel(WorldSpec(n_units=args.units, months=args.months, seed=1))
    print(f"panel: {args.units} units x {args.months} months = {len(panel):,} rows; {n_lags} lags, "
          f"{args.boot} resamples")

    t_analyse = best_of(lambda: analyse(panel, max_lag=6, n_boot=args.boot), repeat=2)
    t_profile = best_of(lambda: lag_profile(panel, max_lag=6, n_boot=args.boot), repeat=2)
    print(f"ours: analyse() {t_analyse:.2f} s (budget 1 s); lag_profile() alone {t_profile:.2f} s")
    # the floor: the grid and the per-unit sums of both profiles, no inference at all; what the
    # calibrated inference (CR2, max-t bands, Romano-Wolf, win shares, sample split) adds on top
    grid = make_grid(panel, x="employee_retention", y="customer_retention", unit="unit_id",
                     period="period")
    lags = np.arange(-6, 7)
    t_floor = best_of(lambda: (make_grid(panel, x="employee_retention", y="customer_retention",
                                         unit="unit_id", period="period"),
                               lag_stats(grid, lags), lag_stats(grid, lags, period_adjusted=True)))
    print(f"floor: grid + lag_stats of both profiles {t_floor:.2f} s; analyse() / floor = "
          f"{t_analyse / t_floor:.1f}x")
    if args.analyse_only:
        return
    # dashboards call lag_profile on a filtered panel at every filter change: ~150 units x 36 months
    small, _ = simulate_panel(WorldSpec(n_units=150, months=36, seed=2))
    t_dash = best_of(lambda: lag_profile(small, max_lag=6, n_boot=args.boot), repeat=5)
    t_dash_adj = best_of(lambda: lag_profile(small, max_lag=6, n_boot=args.boot, period_adjusted=True), repeat=5)
    print(f"dashboard case, 150 units x 36 months: lag_profile {t_dash * 1e3:.0f} ms, period-adjusted "
          f"{t_dash_adj * 1e3:.0f} ms (budget 300 ms)")

    # baseline: one pingouin.rm_corr call (lag 1 pairs) on unit subsets
    units = panel["unit_id"].unique()
    sizes = [50, 100, 200, 400]
    call = {}
    for u in sizes:
        pairs = lag_pairs(panel[panel["unit_id"].isin(units[:u])], lag=1)
        pairs = pairs.rename(columns={"employee_retention": "x", "customer_retention": "y"})
        call[u] = best_of(lambda p=pairs: pg.rm_corr(p, x="x", y="y", subject="unit_id"), repeat=2)
        ours_sub = best_of(lambda p=panel[panel["unit_id"].isin(units[:u])]: lag_profile(p, lags=[1], n_boot=0))
        print(f"  {u:4d} units: pingouin.rm_corr {call[u] * 1e3:8.1f} ms per call; "
              f"our lag_profile for one lag, no bootstrap {ours_sub * 1e3:6.1f} ms")
    # growth rate between the two largest subsets (pingouin's unit-dummy ANCOVA grows faster than
    # linearly, so the local rate at the large end is the fairer, still conservative, extrapolation)
    b = float(np.log(call[sizes[-1]] / call[sizes[-2]]) / np.log(sizes[-1] / sizes[-2]))
    t_call = float(call[sizes[-1]] * (args.units / sizes[-1]) ** b)
    if args.full_pingouin:
        pairs = lag_pairs(panel, lag=1).rename(columns={"employee_retention": "x", "customer_retention": "y"})
        t_call = best_of(lambda: pg.rm_corr(pairs, x="x", y="y", subject="unit_id"), repeat=1)
        print(f"pingouin.rm_corr on all {args.units} units (measured): {t_call:.1f} s per call")
    else:
        print(f"pingouin call time ~ units^{b:.2f} between {sizes[-2]} and {sizes[-1]} units: {t_call:.1f} s per "
              f"call at {args.units} units (extrapolated)")
    n_calls = n_lags * (args.boot + 1)
    t_loop = n_calls * t_call
    print(f"baseline loop: {n_calls:,} calls x {t_call:.1f} s = {t_loop:,.0f} s = {t_loop / 86400:.1f} days "
          f"(extrapolated)")
    print(f"ratio baseline / ours: {t_loop / t_analyse:,.0f}x (full analyse), {t_loop / t_profile:,.0f}x "
          f"(lag_profile)")
    # a measured, not extrapolated, ratio at 100 units: the pingouin loop with 5 resamples per lag
    sub = panel[panel["unit_id"].isin(units[:100])]
    rng = np.random.default_rng(0)

    def pingouin_loop(n_boot=5):
        for k in range(-6, 7):
            pairs = lag_pairs(sub, lag=k).rename(columns={"employee_retention": "x", "customer_retention": "y"})
            pg.rm_corr(pairs, x="x", y="y", subject="unit_id")
            groups = dict(tuple(pairs.groupby("unit_id")))
            keys = list(groups)
            for _ in range(n_boot):
                pick = rng.integers(0, len(keys), len(keys))
                boot = pd.concat([groups[keys[i]].assign(unit_id=j) for j, i in enumerate(pick)])
                pg.rm_corr(boot, x="x", y="y", subject="unit_id")

    t_pl = best_of(pingouin_loop, repeat=1)
    t_ours_sub = best_of(lambda: lag_profile(sub, max_lag=6, n_boot=args.boot))
    per_resample = t_pl / (n_lags * 6)
    print(f"measured at 100 units: pingouin loop with 5 resamples per lag {t_pl:.1f} s "
          f"({per_resample * 1e3:.0f} ms per call); ours with {args.boot} resamples {t_ours_sub:.3f} s; "
          f"per-resample ratio {per_resample * n_lags * (args.boot + 1) / t_ours_sub:,.0f}x")


if __name__ == "__main__":
    main()
