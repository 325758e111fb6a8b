"""Time ``linkage.panel.build_panel`` against a plain pandas reference, in the same process.

The world: 2,000 units x 60 months, 200,000 employee spells, ~3,000,000 customer spells and an
activity log of ~3,000,000 rows, drawn with numpy from a fixed seed. The reference is what one
would write by hand: a loop over the periods with boolean masks on the dates (the docs/domain.md
sentences verbatim) and a ``groupby`` per period; for spells it is the one tests/test_panel_sample.py
checks against (tests/panel_reference.py). Both results are checked to be equal before the
timings are printed.

Run:  .venv/bin/python benchmarks/panel_build.py [--scale 0.1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
import pandas as pd

from linkage.panel import build_panel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.panel_reference import COUNTS, reference_spells  # noqa: E402  (the test's reference)


def make_world(scale: float = 1.0, seed: int = 2024):
    """Employee spells, customer spells and an activity log over 2019-01 .. 2023-12 (60 months)."""
    rng = np.random.default_rng(seed)
    n_units = max(10, int(2_000 * scale))
    n_emp, n_cus = int(200_000 * scale), int(3_000_000 * scale)
    n_act_customers, per_customer = int(300_000 * scale), 10
    unit_names = np.array([f"U{i:05d}" for i in range(n_units)], dtype=object)
    first, last = np.datetime64("2019-01-01"), np.datetime64("2023-12-31")
    span = int((last - first).astype(int))

    def spells(n, mean_days):
        # starts from 3 years before the window to its end; about 15 % still open at the data's end
        start = first - np.timedelta64(3 * 365, "D") + rng.integers(0, span + 3 * 365, n).astype("timedelta64[D]")
        length = rng.exponential(mean_days, n).astype(np.int64).astype("timedelta64[D]")
        end = start + length
        end = np.where(end > last, np.datetime64("NaT"), end)
        unit = unit_names[rng.integers(0, n_units, n)]
        return unit, start.astype("datetime64[us]"), end.astype("datetime64[us]")

    u, s, e = spells(n_emp, 700)
    employees = pd.DataFrame({"employee_id": pd.Series(np.arange(n_emp)).astype("str"),
                              "unit_id": pd.Series(u, dtype="str"), "hire_date": s, "termination_date": e})
    u, s, e = spells(n_cus, 900)
    customers = pd.DataFrame({"customer_id": pd.Series(np.arange(n_cus)).astype("str"),
                              "unit_id": pd.Series(u, dtype="str"), "start_date": s, "end_date": e})
    # activity: each customer belongs to one unit, visits at random days over a random stretch
    cust = np.repeat(np.arange(n_act_customers), per_customer)
    home = rng.integers(0, n_units, n_act_customers)
    begin = rng.integers(0, span, n_act_customers)
    day = np.minimum(begin[cust] + rng.exponential(200, len(cust)).astype(np.int64), span)
    cust_names = pd.Series(np.arange(n_act_customers)).astype("str").to_numpy()
    activity = pd.DataFrame({
        "customer_id": pd.Series(cust_names[cust], dtype="str"),
        "unit_id": pd.Series(unit_names[home[cust]], dtype="str"),
        "activity_date": (first + day.astype("timedelta64[D]")).astype("datetime64[us]"),
        "revenue": rng.gamma(2.0, 20.0, len(cust)),
    })
    return employees, customers, activity


def _periods(lo: pd.Timestamp, hi: pd.Timestamp):
    return list(pd.date_range(lo, hi, freq="MS"))


def reference_activity(activity, units, periods, window=1):
    """Plain pandas: for each month, the (customer, unit) pairs active then and the month before."""
    month = activity["activity_date"].dt.to_period("M")
    pairs = activity[["customer_id", "unit_id"]]

    def active(m):  # pairs with activity in the `window` months up to m
        mask = (month > m - window) & (month <= m)
        return pairs[mask].drop_duplicates()

    frames = []
    for m_start in periods:
        m = pd.Period(m_start, "M")
        now, before = active(m), active(m - 1)
        both = now.merge(before, on=["customer_id", "unit_id"])
        g = pd.DataFrame({
            "start": before.groupby("unit_id").size(),
            "end": now.groupby("unit_id").size(),
            "retained": both.groupby("unit_id").size(),
        }).reindex(units, fill_value=0).fillna(0).astype("int64")
        g["joined"] = g["end"] - g["retained"]
        g["left"] = g["start"] - g["retained"]
        frames.append(g[list(COUNTS)].assign(period=m_start).rename_axis("unit_id").reset_index())
    return pd.concat(frames, ignore_index=True).sort_values(["unit_id", "period"], ignore_index=True)


def _check(panel, ref, side):
    for c in COUNTS:
        got, want = panel[f"{side}_{c}"].to_numpy(), ref[c].to_numpy()
        if not np.array_equal(got, want):
            raise SystemExit(f"MISMATCH {side}_{c}: {int((got != want).sum())} cells differ")


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help="build_panel runs; the best counts")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    employees, customers, activity = make_world(args.scale)
    print(f"world: {employees['unit_id'].nunique():,} units, {len(employees):,} employee spells, "
          f"{len(customers):,} customer spells, {len(activity):,} activity rows "
          f"(made in {time.perf_counter() - t0:.1f} s)")
    window = dict(start="2019-01", end="2023-12")

    t_spells, panel = _best(lambda: build_panel(employees, customers, **window), args.repeat)
    t_act, panel_act = _best(lambda: build_panel(employees, activity=activity, **window), args.repeat)
    t_act3, panel_act3 = _best(lambda: build_panel(employees, activity=activity, activity_window=3, **window),
                               args.repeat)
    units = panel["unit_id"].drop_duplicates().to_numpy()
    periods = _periods(panel["period"].min(), panel["period"].max())
    bounds = [(m, m + pd.offsets.MonthEnd(0)) for m in periods]
    print(f"panel: {len(panel):,} rows = {len(units):,} units x {len(periods)} months")

    t0 = time.perf_counter()
    ref_emp = reference_spells(employees, "hire_date", "termination_date", units, bounds)
    ref_cus = reference_spells(customers, "start_date", "end_date", units, bounds)
    t_ref_spells = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_act = reference_activity(activity, units, periods)
    t_ref_act = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_act3 = reference_activity(activity, units, periods, window=3)
    t_ref_act3 = time.perf_counter() - t0
    _check(panel, ref_emp, "employee")
    _check(panel, ref_cus, "customer")
    _check(panel_act, ref_act, "customer")
    _check(panel_act3, ref_act3, "customer")
    print("results: build_panel equals the reference in every cell")

    print(f"{'case':<44}{'build_panel s':>14}{'reference s':>13}{'speed-up':>10}")
    print(f"{'employee + customer spells':<44}{t_spells:>14.2f}{t_ref_spells:>13.2f}{t_ref_spells / t_spells:>9.1f}x")
    print(f"{'employee spells + customer activity log':<44}{t_act:>14.2f}{t_ref_act:>13.2f}"
          f"{t_ref_act / t_act:>9.1f}x")
    print(f"{'  the same, activity_window=3':<44}{t_act3:>14.2f}{t_ref_act3:>13.2f}"
          f"{t_ref_act3 / t_act3:>9.1f}x")


if __name__ == "__main__":
    main()
