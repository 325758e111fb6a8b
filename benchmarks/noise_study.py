"""Simulation study of the noise correction (linkage.stats.noise_corrected) against planted truth.

Run:  nice -n 10 .venv/bin/python benchmarks/noise_study.py [--seeds 30] [--boot 1000]
      [--units 100] [--months 36] [--sizes 8 12 16 20 30 50]

The simulator (linkage.simulate) plants a latent monthly quit hazard and churn hazard per unit;
the observed retention rates are binomial draws from the start counts at ``1 - hazard``. The
*latent slope* of a world is the within-unit slope (unit and period effects removed) of the
expected customer retention ``1 - customer_hazard`` at t + 2 on the expected employee retention
``1 - staff_hazard`` at t, over the same unit-months as the observed pairs (the truth's latent
table, ``linkage.simulate.truth_latent``). That is what a noise correction promises to recover:
the slope the rates would show without sampling noise.

For each median headcount (the simulator's ``headcount_median``; customers are about 10 per
employee) and each seed, one world of ``--units`` units x ``--months`` months (planted lag 2,
seasonality 0.15, defaults otherwise) is drawn, and at the planted lag the study records the raw
slope; the default corrected slope (``moments``: units weighted by the precision of their
noise-free variance, second-order bias-corrected ratio) with its default 95 % interval (Fieller,
unit-clustered) and with the unit-bootstrap percentile interval (``moments_bootstrap``); the same
without the weights (``unweighted``, ``weighted=False``); the plain ratio of unweighted sums, raw
slope / reliability (``plain_ratio``, the earlier default, point only); SIMEX with its bootstrap
interval; the slope of empirical-Bayes shrunk rates (``eb_shrunk``: ``shrink_rates`` by month on
both sides, for comparison); and the latent slope. It prints, per size and method, the mean
estimated reliability of employee retention, the mean ratio estimate / latent over the seeds (1 =
unbiased; the target is within 10 %), its Monte Carlo error (sd / sqrt(seeds)), the median ratio,
the coverage of the latent slope by the 95 % interval with its Monte Carlo error (sqrt(c (1 - c) /
seeds)), the mean difference of r from the latent r, the share of worlds whose interval had no
bound on a side, the share where the correction was undefined, and the share whose corrected r
was capped at +/-1.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from linkage.simulate import WorldSpec, simulate_panel, truth_latent
from linkage.stats import lag_profile, shrink_rates
from linkage.stats.lags import lag_stats
from linkage.stats.noise import noise_corrected
from linkage.stats._prep import make_grid

DESIGN = dict(months=36, lag=2, seasonality=0.15)


def latent_slope(panel: pd.DataFrame, truth: dict, lag: int) -> tuple[float, float]:
    """Within-unit, period-adjusted slope and r of the latent rates, on the observed cells."""
    lat = truth_latent(truth)
    frame = pd.DataFrame(
        {
            "unit_id": panel["unit_id"].to_numpy(),
            "period": panel["period"].to_numpy(),
            # the latent rate where the observed one exists (a unit-month with no staff has none)
            "ex": np.where(panel["employee_retention"].notna(), lat["expected_employee_retention"], np.nan),
            "ey": np.where(panel["customer_retention"].notna(), lat["expected_customer_retention"], np.nan),
        }
    )
    grid = make_grid(frame, x="ex", y="ey", unit="unit_id", period="period")
    st = lag_stats(grid, np.array([lag]), period_adjusted=True)
    return float(st.slope[0]), float(st.r[0])


def one_world(size: float, seed: int, units: int, months: int, n_boot: int) -> list[dict]:
    spec = WorldSpec(**{**DESIGN, "months": months}, n_units=units, headcount_median=size, seed=seed)
    panel, truth = simulate_panel(spec)
    lag = truth["facts"]["planted_lag"]
    b_lat, r_lat = latent_slope(panel, truth, lag)
    # empirical-Bayes shrinkage of both rates towards each month's overall rate (shrink_rates, a
    # beta-binomial prior fitted across units), then the slope of the shrunk rates
    shrunk = panel.assign(**{
        f"{side}_retention": shrink_rates(panel, numerator=f"{side}_retained",
                                          denominator=f"{side}_start", by="period")["rate_shrunk"]
        .where(panel[f"{side}_retention"].notna())
        for side in ("employee", "customer")
    })
    eb = lag_profile(shrunk, lags=[lag], n_boot=0, period_adjusted=True).iloc[0]
    rows = [{"size": size, "seed": seed, "latent": b_lat, "r_latent": r_lat, "method": "eb_shrunk",
             "est": eb["slope"], "r": eb["r"], "lo": np.nan, "hi": np.nan, "undefined": False,
             "reliability_x": np.nan, "median_staff": float(panel["employee_start"].median())}]
    for method in ("moments", "simex"):
        # the default interval: Fieller with the method of moments, bootstrap with SIMEX
        out = noise_corrected(panel, lags=[lag], method=method, n_boot=n_boot, seed=seed).iloc[0]
        base = {"size": size, "seed": seed, "latent": b_lat, "r_latent": r_lat,
                "reliability_x": out["reliability_x"]}
        if method == "moments":
            rows.append({**base, "method": "raw", "est": out["slope"], "r": out["r"],
                         "lo": np.nan, "hi": np.nan, "undefined": False,
                         "median_staff": float(panel["employee_start"].median())})
            # the plain ratio (unweighted units, no second-order term): raw slope / reliability
            plain = out["slope"] / out["reliability_x"] if out["reliability_x"] > 0 else np.nan
            rows.append({**base, "method": "plain_ratio", "est": plain, "r": np.nan,
                         "lo": np.nan, "hi": np.nan, "undefined": bool(np.isnan(plain)),
                         "median_staff": float(panel["employee_start"].median())})
            uw = noise_corrected(panel, lags=[lag], weighted=False, n_boot=0, seed=seed).iloc[0]
            rows.append({**base, "method": "unweighted", "est": uw["slope_corrected"],
                         "r": uw["r_corrected"], "lo": uw["slope_ci_low"], "hi": uw["slope_ci_high"],
                         "undefined": bool(np.isnan(uw["slope_corrected"])),
                         "median_staff": float(panel["employee_start"].median())})
        if method == "moments":  # the same estimate with the bootstrap percentile interval
            fl = noise_corrected(panel, lags=[lag], interval="bootstrap", n_boot=n_boot,
                                 seed=seed).iloc[0]
            rows.append({**base, "method": "moments_bootstrap", "est": fl["slope_corrected"],
                         "r": fl["r_corrected"], "lo": fl["slope_ci_low"], "hi": fl["slope_ci_high"],
                         "undefined": bool(np.isnan(fl["slope_corrected"])),
                         "median_staff": float(panel["employee_start"].median())})
        rows.append({**base, "method": method, "est": out["slope_corrected"],
                     "r": out["r_corrected"], "lo": out["slope_ci_low"], "hi": out["slope_ci_high"],
                     "undefined": bool(np.isnan(out["slope_corrected"])),
                     "median_staff": float(panel["employee_start"].median())})
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (size, method), g in df.groupby(["size", "method"], sort=True):
        ok = g[~g.undefined]
        ratio = ok.est / ok.latent
        R = len(ratio)
        # a NaN bound is an unbounded side (resamples ran into an undefined correction)
        lo, hi = ok.lo.fillna(-np.inf), ok.hi.fillna(np.inf)
        point_only = method in ("raw", "eb_shrunk", "plain_ratio")
        cover = ((lo <= ok.latent) & (ok.latent <= hi)).mean() if not point_only else np.nan
        capped = (ok.r.abs() >= 1).mean() if method not in ("raw", "eb_shrunk", "plain_ratio") else np.nan
        out.append({
            "median_staff": g.median_staff.median(),
            "size": size,
            "method": method,
            "worlds": len(g),
            "reliability_x": g.reliability_x.mean(),
            "mean_ratio": ratio.mean(),
            "mc_err": ratio.std(ddof=1) / np.sqrt(R) if R > 1 else np.nan,
            "median_ratio": ratio.median(),
            "coverage": cover,
            "cov_mc_err": np.sqrt(cover * (1 - cover) / R) if not point_only else np.nan,
            "r_minus_latent": (ok.r - ok.r_latent).mean(),
            "unbounded": (ok.lo.isna() | ok.hi.isna()).mean() if not point_only else np.nan,
            "undefined": g.undefined.mean(),
            "r_capped": capped,
        })
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--sizes", type=float, nargs="+", default=[8, 12, 16, 20, 30, 50])
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = [
        row
        for size in args.sizes
        for seed in range(1, args.seeds + 1)
        for row in one_world(size, seed, args.units, args.months, args.boot)
    ]
    table = summarise(pd.DataFrame(rows))
    print(f"{args.seeds} seeds x {len(args.sizes)} sizes, {args.units} units x {args.months} months, "
          f"{args.boot} unit resamples, planted lag 2 ({time.perf_counter() - t0:.0f} s)")
    print("ratio = estimated / latent within-unit slope (period-adjusted); coverage of the latent "
          "slope by the 95 % interval")
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
