"""Time the simulator against a plain per-unit loop, in the same process.

``simulate_panel`` draws each month's counts for all units at once (a loop over months only). The
reference draws the same model the way one would write it first: a Python loop over units and
months with scalar binomial draws. Both use the latent hazards of the same world; the reference's
counts are checked to have the same means before timings are printed. Also reported: worlds per
minute for simulation studies, and ``simulate`` (people) for the sample size and a big world.

Run:  .venv/bin/python benchmarks/simulate_speed.py [--worlds 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from linkage.simulate import WorldSpec, simulate, simulate_panel
from linkage.simulate._model import draw_counts, latent_model, streams


def reference_counts(spec: WorldSpec, lat, rng: np.random.Generator) -> np.ndarray:
    """Employee and customer leavers, unit by unit and month by month (the plain loop)."""
    n, t = spec.n_units, spec.months
    left = np.zeros((2, n, t), dtype=np.int64)
    for side, (target, hazard, fill) in enumerate((
        (lat.headcount_target, lat.staff_hazard, spec.hire_fill),
        (lat.customers_target, lat.customer_hazard, spec.acquisition_fill),
    )):
        for i in range(n):
            stock = int(target[i])
            for j in range(t):
                gone = int(rng.binomial(stock, hazard[i, j]))
                retained = stock - gone
                joined = int(rng.binomial(max(int(target[i]) - retained, 0), fill))
                left[side, i, j] = gone
                stock = retained + joined
    return left


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    spec = WorldSpec(n_units=100, months=36, seed=1)
    lat = latent_model(spec, streams(spec)[0])
    ref_left = reference_counts(spec, lat, np.random.default_rng(0))
    panel, _ = simulate_panel(spec)
    ours = panel["employee_left"].mean(), panel["customer_left"].mean()
    theirs = ref_left[0].mean(), ref_left[1].mean()
    assert abs(ours[0] - theirs[0]) < 0.1 * theirs[0] and abs(ours[1] - theirs[1]) < 0.1 * theirs[1], (ours, theirs)

    for units in (100, 2000):
        big = spec.replace(n_units=units)
        big_lat = latent_model(big, streams(big)[0])
        t_ref = best_of(lambda: reference_counts(big, big_lat, np.random.default_rng(0)), args.repeat)
        t_ours = best_of(lambda: draw_counts(big, big_lat, np.random.default_rng(0)), args.repeat)
        print(f"counts for {units} units x 36 months: draw_counts {t_ours * 1e3:8.1f} ms, "
              f"plain per-unit loop {t_ref * 1e3:8.1f} ms, ratio loop / ours {t_ref / t_ours:6.1f}x")
    t_full = best_of(lambda: simulate_panel(spec), args.repeat)
    print(f"simulate_panel, 100 units x 36 months (latent model, counts, panel, truth): {t_full * 1e3:.1f} ms")

    t0 = time.perf_counter()
    for seed in range(args.worlds):
        simulate_panel(spec.replace(seed=seed))
    per = (time.perf_counter() - t0) / args.worlds
    print(f"{args.worlds} worlds of 100 x 36: {per * 1e3:.1f} ms each, {60 / per:,.0f} worlds per minute")

    for label, big, kind in (
        ("sample size, spells      ", WorldSpec(n_units=100, months=36, customers_per_employee=10.0), "spells"),
        ("sample size, activity log", WorldSpec(n_units=100, months=36, customers_per_employee=10.0), "activity"),
        ("2,000 units x 60 months  ", WorldSpec(n_units=2000, months=60), "spells"),
    ):
        t0 = time.perf_counter()
        world = simulate(big, customers=kind)
        dt = time.perf_counter() - t0
        print(f"simulate ({label}): {dt:6.2f} s  {world!r}")


if __name__ == "__main__":
    main()
