"""Simulation study of the whole chain's analyses against the simulator's planted chain.

Run from the repository root:

    .venv/bin/python benchmarks/chain_study.py               # 30 seeds, 100 units x 36 months
    .venv/bin/python benchmarks/chain_study.py --seeds 5     # quick look

For each seed a world with the chain planted (``simulate(WorldSpec(...), chain=ChainSpec())``) is
analysed as a user would, and the answers are compared with its truth:

- key drivers (``key_drivers``, within units, survey waves against customer retention ``lag``
  months later, relative weights and general dominance; also between units at lag 0): the rate at
  which *every* planted driver ranks above *every* unplanted item, and the mean share of
  (planted, unplanted) pairs ordered correctly;
- the chain (``chain``): for each planted link, how often the best period-adjusted lag equals the
  planted lag with the planted sign and an interval that excludes 0, and the between-unit sign;
  mediation: how often the indirect path's interval excludes 0 and the direct path's covers 0
  (revenue is planted to follow the climate only through customer retention);
- segments (``segment_linkage``): how often the most climate-sensitive segment has the largest
  within-unit r at the planted lag;
- the watchlist (``backtest``, at the planted lag, six cutoffs per world): precision and recall
  against the planted outcome (customers lost to the climate over the horizon above the unit's
  baseline by more than half a point of retention a month) and against the observed outcome, for
  the default flag (one-sided z > 1.645) and a looser one (z > 1.0), with the simulator's default
  units (median 12 staff) and larger ones (40 staff); beside them the ceiling of a list of the same
  length chosen by the planted (noise-free) staff-retention drop;
- the watchlist's operating points (``operating_points``): for the measured-effect list (``effect``),
  the forecast from staff retention alone (``forecast_staff``) and the forecast from staff retention
  and every survey item (``forecast_survey``; its weights are learnt on earlier cutoffs, nobody tells
  it which items are drivers), each variant's own rule and the top 8 / 15 / 25 / 32 / 50 % of units
  (lengths fixed in advance), against the planted and the observed outcome;
- the ranking quality (AUC against the planted outcome) of single signals: the staff drop from
  pooled counts, from empirical-Bayes shrunk rates, its z, over the last 2 periods only, survey
  items' drops and the two forecasts.

Measured 2026-11-23 (30 seeds, 100 units x 36 months, 500 resamples; 482 s on 2 shared cores):
planted drivers all above all unplanted in 100 % of seeds within units at the planted lag (relative
weights and dominance; 86.7 % between units at lag 0 with 12 staff per unit, 100 % with 40); the
three chain links recovered (planted lag, sign, CI excluding 0) in 100 %; indirect path > 0 in 100 %,
direct path's CI covering 0 in 96.7 % / 93.3 %; most sensitive segment first in 100 %. Watchlist at
the planted lag against the planted losses, 12 staff: precision 64.5 %, recall 15.5 % (z > 1.645;
base rate 31.7 %, ceiling with noise-free staff data 98.0 % / 23.5 %), z > 1.0: 56.7 % / 30.2 %;
40 staff: 79.9 % / 21.8 % and 67.6 % / 39.5 %.

Measured 2026-11-23 with the operating points (same run settings; 673 s): 12 staff, planted
outcome, precision / recall: the forecast from staff and survey flags 30.9 % of units (its rule:
predicted drop > 0.005) and catches 62.7 % of the units that go on to lose customers at 64.4 %
precision (observed outcome: 60.3 % / 53.1 %); its top 8 / 15 / 25 / 32 / 50 %: 78.3 / 19.8,
71.7 / 33.9, 66.0 / 52.0, 62.3 / 62.8, 52.8 / 83.2. From staff retention alone no list does much
better than its length allows: top 32 % 49.0 / 49.4 (effect) and 49.1 / 49.5 (forecast), top 50 %
42.9 / 67.7. AUC: staff drop 0.681, EB-shrunk 0.665, z 0.687, last 2 periods 0.672, engagement
0.759, manager_support 0.779, pay 0.505, forecast staff 0.681, forecast staff + items 0.830. 40
staff: forecast with survey 69.2 % / 69.8 % (32.0 % flagged), AUC 0.869; staff alone top 32 %
57.6 / 58.1.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

from linkage.panel import segment_retention
from linkage.simulate import ChainSpec, WorldSpec, simulate, truth_latent
from linkage.stats import backtest, chain, key_drivers, segment_linkage, shrink_rates
from linkage.stats.early_warning import operating_points, watchlist

#: list lengths (shares of units) reported as operating points; fixed in advance, not tuned
SHARES = (0.08, 0.15, 0.25, 0.32, 0.5)
#: the early-warning variants compared: (label, method, survey columns)
WATCH_VARIANTS = (("effect", "effect", None), ("forecast_staff", "forecast", None),
                  ("forecast_survey", "forecast", "all items"))


def _pairs_ok(order: list[str], planted: list[str], unplanted: list[str]) -> tuple[bool, float]:
    pos = {item: i for i, item in enumerate(order)}
    pairs = [(p, u) for p in planted for u in unplanted]
    good = [pos[p] < pos[u] for p, u in pairs]
    return all(good), float(np.mean(good))


def one_world(seed: int, *, n_units: int, months: int, n_boot: int, headcount: float) -> dict:
    spec = WorldSpec(n_units=n_units, months=months, seed=seed, headcount_median=headcount)
    world = simulate(spec, chain=ChainSpec())
    truth = world.truth
    lag = truth["facts"]["planted_lag"]
    ct = truth["chain"]
    planted = [f"es_{n}" for n in ct["planted_drivers"]]
    unplanted = [f"es_{n}" for n in ct["unplanted_items"]]
    items = planted + unplanted
    out: dict = {"seed": seed}
    panel = world.chain_panel(align="wave")
    # key drivers
    for name, kw in {"within_rw": dict(level="within", lag=lag, method="relative_weights"),
                     "within_dom": dict(level="within", lag=lag, method="dominance"),
                     "between_rw": dict(level="between", lag=0, method="relative_weights")}.items():
        res = key_drivers(panel, items=items, outcome="customer_retention", period="period", n_boot=n_boot,
                          seed=seed, **kw)
        ok, share = _pairs_ok(res["item"].tolist(), planted, unplanted)
        out[f"drivers_{name}_all"] = ok
        out[f"drivers_{name}_pairs"] = share
        out[f"drivers_{name}_sig_planted"] = float((res.set_index("item").loc[planted, "p_adj"] < 0.05).mean())
        out[f"drivers_{name}_sig_unplanted"] = float((res.set_index("item").loc[unplanted, "p_adj"] < 0.05).mean())
    # the chain
    res = chain(panel, max_lag=4, n_boot=n_boot, seed=seed)
    best = res.links[res.links["method"] == "best_lag"].set_index("link")
    between = res.links[res.links["method"] == "between"].set_index("link")
    planted_links = {f"{d['x']} -> {d['y']}": d for d in ct["links"]}
    for link in best.index:
        d = planted_links[link]
        row = best.loc[link]
        sign_ok = (np.isfinite(row["best_lag"]) and np.sign(row["r"]) == d["sign"]
                   and (row["ci_low"] > 0 if d["sign"] > 0 else row["ci_high"] < 0))
        out[f"link[{link}]_recovered"] = bool(sign_ok and row["lag"] == d["lag"])
        out[f"link[{link}]_sign"] = bool(sign_ok)
        out[f"link[{link}]_between_sign"] = bool(np.sign(between.loc[link, "r"]) == d["sign"])
    med = res.mediation.set_index("path")
    out["mediation_indirect"] = bool(med.loc["indirect", "ci_low"] > 0)
    out["mediation_direct_covers_0"] = bool(med.loc["direct", "ci_low"] <= 0 <= med.loc["direct", "ci_high"])
    # segments
    seg = segment_retention(world.customers, segments=world.segments, start=truth["facts"]["window_start"],
                            end=truth["facts"]["window_end"])
    sl = segment_linkage(seg, by="segment", panel=world.panel, lag=lag, n_boot=0)
    w = sl[(sl["method"] == "within_period_adjusted") & (sl["group"] != "(all)")].set_index("group")
    out["segment_most_sensitive_first"] = bool(w["r"].idxmax() == ct["most_sensitive_segment"])
    # the watchlist at the planted lag
    lat = truth_latent(truth)
    losses = pd.DataFrame({"unit": lat["unit_id"], "period": lat["period"],
                           "losses": ct["latent"]["climate_customer_losses"]})
    for z in (1.645, 1.0):
        for outcome, tl in (("truth", losses), ("observed", None)):
            bt = backtest(world.panel, lag=lag, n_cutoffs=6, z=z, truth_losses=tl, min_loss=0.005)
            tot = bt.iloc[-1]
            for k in ("n_flagged", "n_lost", "n_hit", "n_units"):
                out[f"watch_z{z}_{outcome}_{k}"] = int(tot[k])
            if outcome == "truth":
                out[f"watch_z{z}_oracle_n_hit"] = _oracle_hits(world, lat, bt, lag)
    # operating points: each variant's own rule and lists of fixed lengths, fitted before each cutoff;
    # the survey variant gets every item (its weights are learnt, nobody tells it the drivers)
    for name, method, survey in WATCH_VARIANTS:
        cols = items + ["es_engagement"] if survey else None
        for outcome, tl in (("truth", losses), ("observed", None)):
            op = operating_points(panel, lag=lag, n_cutoffs=6, truth_losses=tl, min_loss=0.005, method=method,
                                  survey=cols, shares=SHARES)
            for r in op.itertuples():
                for k in ("n_flagged", "n_lost", "n_hit", "n_units"):
                    out[f"op[{name}|{r.rule}|{outcome}]_{k}"] = int(getattr(r, k))
    out.update(_signal_ranks(panel, losses, lag, items + ["es_engagement"]))
    return out


#: single signals whose ranking of units is compared (AUC against the planted outcome)
SIGNALS = ("staff drop", "staff drop, EB-shrunk rates", "staff drop z", "staff drop, last 2 periods",
           "es_engagement drop", "es_manager_support drop", "es_pay drop", "forecast: staff",
           "forecast: staff + all items")


def _signal_ranks(panel, losses, lag, items, recent=3, baseline=12, min_loss=0.005, n_cutoffs=6) -> dict:
    """AUC of single early-warning signals at the back-test's cutoffs (ranking quality, any list length).

    AUC = chance that a unit that goes on to lose customers (planted outcome, as :func:`backtest`)
    ranks above one that does not. The EB variant shrinks each unit's baseline and recent staff
    retention to the units' beta-binomial prior (:func:`linkage.stats.shrink_rates`, one prior per
    window) before taking the drop.
    """
    from scipy.stats import rankdata

    units = sorted(panel["unit_id"].unique())
    per = sorted(panel["period"].unique())
    piv = {c: panel.pivot(index="unit_id", columns="period", values=c).reindex(index=units, columns=per)
           .to_numpy(float) for c in ("employee_start", "employee_retained", "customer_start", *items)}
    L = losses.pivot(index="unit", columns="period", values="losses").reindex(index=units, columns=per).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        lrate = L / np.where(piv["customer_start"] > 0, piv["customer_start"], np.nan)
    T, h = len(per), max(lag, 1)
    out: dict = {}
    for i in range(T - h - n_cutoffs + 1, T - h + 1):
        bc, rc = slice(i - recent - baseline, i - recent), slice(i - recent, i)
        lost = (np.nanmean(lrate[:, i:i + h], 1) - np.nanmean(lrate[:, bc], 1)) > min_loss
        n, k = piv["employee_start"], piv["employee_retained"]

        def rate(w, n=n, k=k):
            return np.nansum(k[:, w], 1) / np.maximum(np.nansum(n[:, w], 1), 1)

        def shrunk(w, n=n, k=k):
            df = pd.DataFrame({"k": np.nansum(k[:, w], 1), "n": np.nansum(n[:, w], 1)})
            return shrink_rates(df, numerator="k", denominator="n")["rate_shrunk"].to_numpy()

        hist = panel[panel["period"] < per[i]]
        wl_e = watchlist(hist, lag=lag, n_boot=0).table.set_index("unit").reindex(units)
        wl_s = watchlist(hist, lag=lag, n_boot=0, method="forecast").table.set_index("unit").reindex(units)
        wl_v = watchlist(hist, lag=lag, n_boot=0, method="forecast", survey=items).table.set_index("unit").reindex(units)
        with np.errstate(invalid="ignore"):
            sig = {"staff drop": rate(bc) - rate(rc), "staff drop, EB-shrunk rates": shrunk(bc) - shrunk(rc),
                   "staff drop z": wl_e["drop_z"].to_numpy(), "staff drop, last 2 periods": rate(bc) - rate(
                       slice(i - 2, i)), "forecast: staff": wl_s["predicted_drop"].to_numpy(),
                   "forecast: staff + all items": wl_v["predicted_drop"].to_numpy()}
            for it in ("es_engagement", "es_manager_support", "es_pay"):
                with warnings.catch_warnings():  # a unit without respondents in a window: NaN, ranked last
                    warnings.simplefilter("ignore", RuntimeWarning)
                    sig[f"{it} drop"] = np.nanmean(piv[it][:, bc], 1) - np.nanmean(piv[it][:, rc], 1)
        n1, n0 = lost.sum(), (~lost).sum()
        for name in SIGNALS:
            r = rankdata(np.nan_to_num(sig[name], nan=-np.inf))
            out.setdefault(f"auc[{name}]", []).append((r[lost].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _oracle_hits(world, lat, bt, lag, recent=3, baseline=12, min_loss=0.005) -> int:
    """Hits of a list of the same length chosen by the *planted* staff-retention drop (no noise).

    The ceiling for any list built from employee retention: it knows each unit's expected
    employee retention (1 - planted quit hazard) instead of the noisy observed rate.
    """
    units = sorted(lat["unit_id"].unique())
    periods = sorted(lat["period"].unique())
    grid = lambda v: np.asarray(v, dtype=float).reshape(len(units), len(periods))  # noqa: E731
    staff = grid(lat["expected_employee_retention"])
    start = grid(world.panel["customer_start"])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = grid(world.truth["chain"]["latent"]["climate_customer_losses"]) / np.where(start > 0, start, np.nan)
    hits = 0
    for row in bt.iloc[:-1].itertuples():
        i = periods.index(pd.Timestamp(row.cutoff))
        rc, bc = np.arange(i - recent, i), np.arange(i - recent - baseline, i - recent)
        oc = np.arange(i, min(i + max(lag, 1), len(periods)))
        drop = staff[:, bc].mean(1) - staff[:, rc].mean(1)
        flag = np.zeros(len(units), bool)
        flag[np.argsort(-drop)[: row.n_flagged]] = True
        lost = (np.nanmean(rate[:, oc], 1) - np.nanmean(rate[:, bc], 1)) > min_loss
        hits += int((flag & lost).sum())
    return hits


def report(rows: pd.DataFrame, label: str) -> None:
    n = len(rows)
    print(f"\n== {label}: {n} seeds ==")
    print("Key drivers: all planted above all unplanted (rate over seeds) | correctly ordered pairs (mean) | "
          "planted significant | unplanted significant (Holm)")
    for name in ("within_rw", "within_dom", "between_rw"):
        print(f"  {name:<11} {rows[f'drivers_{name}_all'].mean():6.1%}   {rows[f'drivers_{name}_pairs'].mean():6.1%}"
              f"   {rows[f'drivers_{name}_sig_planted'].mean():6.1%}   {rows[f'drivers_{name}_sig_unplanted'].mean():6.1%}")
    print("Chain links: best lag = planted lag with planted sign and CI excluding 0 | sign and CI only | "
          "between-unit sign")
    for col in [c for c in rows.columns if c.endswith("_recovered")]:
        link = col[len("link["):-len("]_recovered")]
        print(f"  {link:<42} {rows[col].mean():6.1%}   {rows[f'link[{link}]_sign'].mean():6.1%}"
              f"   {rows[f'link[{link}]_between_sign'].mean():6.1%}")
    print(f"Mediation: indirect CI > 0 in {rows['mediation_indirect'].mean():.1%}, direct CI covers 0 in "
          f"{rows['mediation_direct_covers_0'].mean():.1%}")
    print(f"Segments: most sensitive segment has the largest within r in {rows['segment_most_sensitive_first'].mean():.1%}")
    print("Watchlist back-test at the planted lag (pooled over seeds x 6 cutoffs): precision, recall (flagged / lost)")
    for z in (1.645, 1.0):
        for outcome in ("truth", "observed"):
            p = f"watch_z{z}_{outcome}_"
            hit, fl, lost, units = (rows[p + k].sum() for k in ("n_hit", "n_flagged", "n_lost", "n_units"))
            print(f"  z > {z:<5} {outcome:<8} precision {hit / fl if fl else float('nan'):6.1%}  recall "
                  f"{hit / lost if lost else float('nan'):6.1%}  ({fl} flagged, {lost} lost of {units} unit-cutoffs; "
                  f"base rate {lost / units:.1%}; a list this long can reach at most {min(fl, lost) / lost:.1%} "
                  "recall)")
            if outcome == "truth":
                oh = rows[f"watch_z{z}_oracle_n_hit"].sum()
                print(f"  z > {z:<5} ceiling  precision {oh / fl if fl else float('nan'):6.1%}  recall "
                      f"{oh / lost if lost else float('nan'):6.1%}  (same list length, chosen by the planted "
                      "staff-retention drop: what noise-free employee data would give)")
    print("Watchlist operating points at the planted lag (operating_points; pooled over seeds x 6 cutoffs; "
          "share = flagged / unit-cutoffs): precision / recall against the planted | observed outcome")
    keys = list(dict.fromkeys(c[3:].split("]")[0] for c in rows.columns if c.startswith("op[")))
    for key in [k for k in keys if k.endswith("|truth")]:
        name, rule, _ = key.split("|")
        cells = []
        for outcome in ("truth", "observed"):
            p = f"op[{name}|{rule}|{outcome}]_"
            hit, fl, lost, units = (rows[p + k].sum() for k in ("n_hit", "n_flagged", "n_lost", "n_units"))
            cells.append(f"{hit / fl if fl else float('nan'):6.1%} / {hit / lost if lost else float('nan'):6.1%}"
                         f" (base {lost / units:5.1%})")
        print(f"  {name:<16} {rule:<17} share {fl / units:5.1%}   planted {cells[0]}   observed {cells[1]}")
    print("Watchlist signals: AUC against the planted outcome (chance a unit that goes on to lose customers ranks "
          "above one that does not; 0.5 = no better than chance), mean over seeds x 6 cutoffs")
    for name in SIGNALS:
        print(f"  {name:<30} {rows[f'auc[{name}]'].mean():.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--boot", type=int, default=500)
    ap.add_argument("--only-default", action="store_true", help="only the simulator's default unit size")
    args = ap.parse_args(argv)
    print("command: .venv/bin/python benchmarks/chain_study.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"worlds: {args.units} units x {args.months} months, planted lag 2, ChainSpec() defaults, "
          f"{args.boot} unit-bootstrap resamples")
    t0 = time.perf_counter()
    for headcount, label in ((12.0, "median 12 staff per unit (simulator default)"),
                             (40.0, "median 40 staff per unit"))[: 1 if args.only_default else 2]:
        rows = pd.DataFrame([one_world(s, n_units=args.units, months=args.months, n_boot=args.boot,
                                       headcount=headcount) for s in range(args.seeds)])
        report(rows, label)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
