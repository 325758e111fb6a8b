"""Simulation study of the direction comparison: false verdicts on worlds without a direction,
recovery of a planted one, for the naive fixed-effects and the split-panel jackknife comparison.

Run:  nice -n 10 .venv/bin/python benchmarks/direction_study.py [--worlds 400] [--sim-worlds 100]
      [--riclpm-worlds 100]

Worlds (documented here; numpy, one draw for all worlds of a cell):

- VAR worlds: a bivariate panel VAR(1) with correlated unit intercepts (the random-intercept
  cross-lagged model's data model): ``wx(t) = a_x wx(t-1) + b_xy wy(t-1) + e_x``, ``wy(t) = a_y
  wy(t-1) + b_yx wx(t-1) + e_y``, innovations correlated 0.5, observed = intercept + w, 30 burn-in
  periods. "null" cells plant no cross-lag (b = 0 both ways) or equal ones (0.15 both ways, equal
  persistence: the standardised cross-lags are equal); persistence equal (0.5, 0.5) or unequal
  (x 0.8, y 0.3: Nickell's bias then differs between the directions). "one-way" cells plant
  b_yx = 0.2 (employees lead) or b_xy = 0.2 (customers lead).
- simulator worlds (:func:`linkage.simulate.simulate_panel`, monthly retention rates of units
  with binomial noise, shared seasonality): the default null (no planted effect), employees
  lead (lag 1, effects 0.8) and customers lead (the world of workshop 5: the climate drives
  customers only, effect 0.8, and customer churn raises staff quits a month later, reverse 1.5).

For each world :func:`linkage.stats.direction.cross_lag_comparison` (order 1, unit and period
fixed effects) gives the difference of the standardised cross-lags with a unit-clustered t test
on units - 1 degrees of freedom; a verdict is "employees lead" / "customers lead" when p < 0.05.
The stationary RI-CLPM (:func:`linkage.stats.riclpm`, 6 waves, Wald test of the difference at
5 %) is run on three VAR cells (100 units x 24 periods: null with unequal persistence, employees
lead, customers lead; ``--riclpm-worlds`` each), in a second table.

Printed per cell: the share of worlds with a direction verdict (null cells: false verdicts,
target <= 5 %) or with the planted one (one-way cells: recovery), for each estimator, with the
Monte Carlo standard error; the old rule ("one cross-lag significant, the other not") is printed
beside it for the record.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats._prep import Grid, make_grid
from linkage.stats.direction import cross_lag_comparison
from linkage.stats.riclpm import riclpm_grid


def var_worlds(n_worlds, n, T, *, a_x, a_y, b_yx, b_xy, rho=0.5, seed=0, burn=30):
    """(worlds, units, periods) arrays X, Y of the VAR world (vectorised over worlds)."""
    rng = np.random.default_rng(seed)
    shape = (n_worlds, n)
    ri = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=shape)
    wx = np.zeros(shape)
    wy = np.zeros(shape)
    X = np.empty((n_worlds, n, T))
    Y = np.empty((n_worlds, n, T))
    for t in range(-burn, T):
        ex = rng.normal(size=shape)
        ey = rho * ex + np.sqrt(1 - rho**2) * rng.normal(size=shape)
        wx, wy = a_x * wx + b_xy * wy + ex, a_y * wy + b_yx * wx + ey
        if t >= 0:
            X[..., t], Y[..., t] = ri[..., 0] + wx, ri[..., 1] + wy
    return X, Y


def grid_of(X, Y):
    n, T = X.shape
    return Grid(values={"x": X, "y": Y}, W=np.ones((n, T)), units=np.arange(n),
                periods=np.arange(T), step="month", weighted=False, x="x", y="y")


def verdicts(grid, alpha=0.05):
    """Verdict per estimator: +1 employees lead, -1 customers lead, 0 none; and the old rule."""
    rows = pd.DataFrame(cross_lag_comparison(grid, order=1)).set_index(["method", "quantity"])
    out = {}
    for m in ("cross_lagged_fe", "split_panel_jackknife"):
        d = rows.loc[(m, "difference")]
        out[m] = 0 if not d.p_val < alpha else int(np.sign(d.estimate))
    ec = rows.loc[("cross_lagged_fe", "employees -> customers"), "p_val"] < alpha
    ce = rows.loc[("cross_lagged_fe", "customers -> employees"), "p_val"] < alpha
    out["old_rule"] = 1 if ec and not ce else -1 if ce and not ec else 0
    return out


def summarise(name, kind, planted, vs, n, T):
    k = len(vs)
    row = {"world": name, "units": n, "periods": T, "worlds": k}
    for m, label in (("cross_lagged_fe", "FE naive"), ("split_panel_jackknife", "SPJ"),
                     ("old_rule", "old rule")):
        v = np.array([x[m] for x in vs])
        rate = float((v != 0).mean()) if kind == "null" else float((v == planted).mean())
        row[label] = rate
        row[label + " mcse"] = float(np.sqrt(rate * (1 - rate) / k))
    row["reads"] = "false verdicts" if kind == "null" else "recovery"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=400)
    ap.add_argument("--sim-worlds", type=int, default=100)
    ap.add_argument("--riclpm-worlds", type=int, default=100)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cells = [
        ("null, equal persistence", "null", 0, dict(a_x=0.5, a_y=0.5, b_yx=0.0, b_xy=0.0)),
        ("null, unequal persistence", "null", 0, dict(a_x=0.8, a_y=0.3, b_yx=0.0, b_xy=0.0)),
        ("null, equal cross-lags 0.15", "null", 0, dict(a_x=0.5, a_y=0.5, b_yx=0.15, b_xy=0.15)),
        ("employees lead 0.2", "oneway", 1, dict(a_x=0.5, a_y=0.5, b_yx=0.2, b_xy=0.0)),
        ("customers lead 0.2", "oneway", -1, dict(a_x=0.8, a_y=0.3, b_yx=0.0, b_xy=0.2)),
    ]
    rows = []
    for n, T in ((30, 24), (100, 12), (100, 24), (100, 36)):
        for i, (name, kind, planted, par) in enumerate(cells):
            X, Y = var_worlds(args.worlds, n, T, seed=1000 * i + n + T, **par)
            vs = [verdicts(grid_of(X[w], Y[w])) for w in range(args.worlds)]
            rows.append(summarise(name, kind, planted, vs, n, T))
    sims = [
        ("simulator null", "null", 0, dict(effect_staff=0.0, effect_customer=0.0)),
        ("simulator employees lead", "oneway", 1, dict(lag=1, effect_staff=0.8, effect_customer=0.8)),
        ("simulator customers lead", "oneway", -1, dict(effect_staff=0.0, effect_customer=0.8,
                                                        reverse=1.5, reverse_lag=1)),
    ]
    for name, kind, planted, par in sims:
        vs = []
        for s in range(args.sim_worlds):
            panel, _ = simulate_panel(WorldSpec(n_units=100, months=36, seed=10_000 + s, **par))
            g = make_grid(panel, x="employee_retention", y="customer_retention", unit="unit_id",
                          period="period")
            vs.append(verdicts(g))
        rows.append(summarise(name, kind, planted, vs, 100, 36))
    tab = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    ri_rows = []
    for i in (1, 3, 4):
        name, kind, planted, par = cells[i]
        X, Y = var_worlds(args.riclpm_worlds, 100, 24, seed=7000 + i, **par)
        v = []
        for w in range(args.riclpm_worlds):
            d = riclpm_grid(grid_of(X[w], Y[w]))[2]
            v.append(0 if not d["p_val"] < 0.05 else int(np.sign(d["estimate"])))
        v = np.array(v)
        rate = float((v != 0).mean()) if kind == "null" else float((v == planted).mean())
        ri_rows.append({"world": name, "units": 100, "periods": 24, "worlds": len(v),
                        "RI-CLPM": rate, "mcse": float(np.sqrt(rate * (1 - rate) / len(v))),
                        "reads": "false verdicts" if kind == "null" else "recovery"})
    print()
    print(pd.DataFrame(ri_rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
