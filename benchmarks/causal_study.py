"""Simulation study of the event study against the simulator's planted events.

Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/causal_study.py             # 30 seeds
    .venv/bin/python benchmarks/causal_study.py --seeds 3              # quick look

For each seed a world with events planted (``simulate(WorldSpec(seed=s, ...),
events=EventSpec())``: manager departures and staff shocks that lower customer retention by 1.5
points for months 0-3, fading to nothing by month 8, and a programme with staggered starts that
raises it by 1 point for good) is analysed as a user would: the events are derived from the
extract as ``linkage panel --events-out`` does (:func:`linkage.panel.events.derive_events`: the
managers' termination days, months in which at least 25 % of the staff left) or read from the
programme table, and :func:`linkage.stats.events.event_study` runs with event times -6..12.
Against the truth (``truth["events"]["effects"]``, 0 before the event) it reports, per event type:

- coverage: the share of seeds whose 95 % pointwise interval covers the planted effect, at each
  event time (the minimum over event times and the mean), and the same for the simultaneous band
  over all event times at once;
- the pre-trend test's rejection rate at 5 % (the truth has no pre-trend);
- the fade test (months 1-3 against 7-12, 5 %): detected in how many seeds (the programme's
  effect lasts: there a "fade" is a false alarm);
- the mean estimate at event times 1-3 and 7-12 against the planted ones.

The simulator's units have a median of 12 staff and at least ``--min-staff`` (default 10): in a
unit of 3 one departure is also a staff shock, and its customers then carry both effects, which
no study of one event type can separate.

Measured 2026-12-04 (30 seeds, 100 units x 36 months; 74 s on 2 shared cores): manager
departures covered by the 95 % interval in 93-100 % of seeds at every event time (mean 97.7 %),
the band covers all 19 in 93 %, the pre-trend test rejects 3.3 %, the fade is detected in 100 %
(months 1-3: -1.57 points against -1.50 planted); staff shocks 90-100 % (-1.83 against -1.50:
shocks that follow a bad climate are followed by the losses the climate causes); the programme
93-100 %, a fade "detected" in 0 %. Tables in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from linkage.panel.events import derive_events
from linkage.simulate import EventSpec, WorldSpec, simulate
from linkage.stats.events import event_study

TYPES = ("manager_departure", "staff_shock", "programme")


def one_seed(seed: int, units: int, months: int, min_staff: int, pre: int, post: int) -> list[dict]:
    spec = WorldSpec(n_units=units, months=months, seed=seed, min_headcount=min_staff)
    world = simulate(spec, events=EventSpec())
    truth = world.truth["events"]["effects"]
    derived = derive_events(world.panel, world.employees, manager_role="manager")
    tables = {
        "manager_departure": derived.loc[derived["event_type"] == "manager_departure"],
        "staff_shock": derived.loc[derived["event_type"] == "staff_shock"],
        "programme": world.programme,
    }
    rows = []
    for kind in TYPES:
        res = event_study(world.panel, tables[kind], pre=pre, post=post, seed=seed)
        est = res.estimates
        planted = np.array([truth[kind][e] if e >= 0 else 0.0 for e in est["event_time"]])
        cover = (est["ci_low"] <= planted) & (planted <= est["ci_high"])
        band = bool(((est["band_low"] <= planted) & (planted <= est["band_high"])).all())
        rows.append(
            {
                "seed": seed,
                "type": kind,
                "treated": res.n_treated_units,
                "cover": cover.to_numpy(),
                "band": band,
                "pre_reject": res.pre_trend_p < 0.05,
                "fades": bool(res.fade["fades"]),
                "early": res.fade["early"],
                "late": res.fade["late"],
                "early_true": float(np.mean(truth[kind][1:4])),
                "late_true": float(np.mean(truth[kind][7 : post + 1])),
                "times": est["event_time"].to_numpy(),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--min-staff", type=int, default=10)
    ap.add_argument("--pre", type=int, default=6)
    ap.add_argument("--post", type=int, default=12)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        rows += one_seed(seed, args.units, args.months, args.min_staff, args.pre, args.post)
    runs = pd.DataFrame(rows)
    print(
        f"event study over {args.seeds} seeds, {args.units} units x {args.months} months "
        f"(at least {args.min_staff} staff), event times -{args.pre}..{args.post}, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    table = []
    for kind in TYPES:
        r = runs.loc[runs["type"] == kind]
        cover = np.vstack(r["cover"].to_numpy()).mean(axis=0)
        worst = int(np.argmin(cover))
        table.append(
            {
                "event type": kind,
                "units with event": f"{r['treated'].mean():.0f}",
                "coverage min": f"{cover.min():.0%} (t={r['times'].iloc[0][worst]})",
                "coverage mean": f"{cover.mean():.1%}",
                "band covers all": f"{r['band'].mean():.0%}",
                "pre-trend rejects": f"{r['pre_reject'].mean():.1%}",
                "fade detected": f"{r['fades'].mean():.0%}",
                "early est/true (pts)": f"{100 * r['early'].mean():+.2f} / "
                f"{100 * r['early_true'].mean():+.2f}",
                "late est/true (pts)": f"{100 * r['late'].mean():+.2f} / "
                f"{100 * r['late_true'].mean():+.2f}",
            }
        )
    print(pd.DataFrame(table).to_markdown(index=False))
    print("\ncoverage by event time:")
    by_time = pd.DataFrame(
        {
            kind: np.vstack(runs.loc[runs["type"] == kind, "cover"].to_numpy()).mean(axis=0)
            for kind in TYPES
        },
        index=pd.Index(runs["times"].iloc[0], name="event_time"),
    )
    print((100 * by_time).round(0).astype(int).T.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
