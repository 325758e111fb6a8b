"""Simulation study of ``relationship_hazard``: does its interval cover the planted hazard ratio?

Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/relationships_study.py              # 30 seeds
    nice -n 10 .venv/bin/python benchmarks/relationships_study.py --seeds 5    # quick look

Each seed simulates a world (``WorldSpec(n_units=40, months=24)``, customers linked to the
employees who serve them by ``RelationshipSpec``) in three conditions, and analyses it as a user
would, from the extracts (employees, customers, relationship table):

- ``effect``: customers leave at 2.0 times the rate of their unit's other customers in the 6
  months after their own employee left, whatever the handover (``quick_hazard_ratio=2.0``);
- ``handover``: 2.0 after a slow handover, 1.3 after one within 28 days (the quick and slow
  ratios are estimated apart, ``--handover-days 30``);
- ``null``: no effect (1.0).

For each it prints the mean estimate, the share of seeds whose 95 % interval covers the planted
ratio (the promise: at least 90 %), the mean width of the interval (on the log scale), and the
mean estimate from ``served_by`` alone (each customer's first employee, no dates: what a CRM
field without history gives).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from linkage.simulate import RelationshipSpec, WorldSpec, simulate
from linkage.stats import relationship_hazard

CONDITIONS = {
    "effect": RelationshipSpec(hazard_ratio=2.0, quick_hazard_ratio=2.0),
    "handover": RelationshipSpec(hazard_ratio=2.0, quick_hazard_ratio=1.3),
    "null": RelationshipSpec(hazard_ratio=1.0, quick_hazard_ratio=1.0),
}


def _covers(lo: float, hi: float, value: float) -> bool:
    return bool(lo <= value <= hi)


def one(seed: int, name: str, spec: RelationshipSpec, units: int, months: int) -> list[dict]:
    world = simulate(WorldSpec(n_units=units, months=months, seed=seed), relationships=spec)
    res = relationship_hazard(world.employees, world.customers, relationships=world.relationships)
    served = relationship_hazard(world.employees, world.customers)
    rows = []
    targets = []
    if name != "handover":  # with two planted ratios the pooled one has no single target
        targets.append(("all", spec.hazard_ratio, res.hazard_ratio, res.ci_low, res.ci_high))
    elif res.handover is not None:
        for part, planted in (("slow", spec.hazard_ratio), ("quick", spec.quick_hazard_ratio)):
            h = res.handover[part]
            targets.append((part, planted, h["hazard_ratio"], h["ci_low"], h["ci_high"]))
    for part, planted, est, lo, hi in targets:
        rows.append(
            {
                "condition": name,
                "estimate_of": part,
                "seed": seed,
                "planted": planted,
                "estimate": est,
                "covers": _covers(lo, hi, planted),
                "log_width": float(np.log(hi) - np.log(lo)),
                "served_by_estimate": served.hazard_ratio,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for name, spec in CONDITIONS.items():
        for seed in range(args.seeds):
            rows += one(seed, name, spec, args.units, args.months)
    data = pd.DataFrame(rows)
    table = (
        data.groupby(["condition", "estimate_of"], sort=False)
        .agg(
            planted=("planted", "first"),
            mean_estimate=("estimate", "mean"),
            coverage=("covers", "mean"),
            mean_log_width=("log_width", "mean"),
            served_by_mean=("served_by_estimate", "mean"),
            seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    pd.set_option("display.width", 120)
    print(
        f"relationship_hazard, {args.seeds} seeds, {args.units} units x {args.months} months "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
