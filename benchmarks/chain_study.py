"""Simulation study of the whole chain's analyses against the simulator's planted chain.

Run from the repository root:

    .venv/bin/python benchmarks/chain_study.py               # 30 seeds, 100 units x 36 months
    .venv/bin/python benchmarks/chain_study.py --seeds 5     # quick look
    .venv/bin/python benchmarks/chain_study.py --coverage    # the new intervals, 200 worlds each

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

Coverage (``--coverage``; 200 planted worlds per check, 500 resamples; 135 s), measured 2026-12-04:
corrected relative weights (80 units, 4 waves of 2-6 respondents, reliability estimated from the
answers, truth = the weights of the latent window means) 95.5 / 94.0 / 87.5 % for true weights
0.458 / 0.261 / 0.081 (the raw weights' intervals: 58.5 / 86.0 / 88.5 %); mediation sensitivity at
the planted rho 92.0 % (60 units x 24 months; the naive interval at rho = 0 never covers); back-test
precision 95.5 % and recall 98.0 % against a 20,000-unit world of the same kind; calibration's
observed drop per bin 99.5-100 % against each bin's expected drop given its units (conservative
there: the interval is built for the population of units).
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


# -- coverage of the new intervals (--coverage) -------------------------------------------------

def _drivers_world(seed: int, n_units: int = 80, waves: int = 4, n_boot: int = 200) -> dict:
    """Respondent answers in waves, an outcome of the units' window-mean climate; the corrected
    weights' intervals against the weights of the latent (noise-free) window means."""
    from linkage.stats import survey_reliability
    from linkage.stats.drivers import relative_weights

    rng = np.random.default_rng([seed, 71])
    p = 3
    s_u = 0.15 * (np.full((p, p), 0.5) + 0.5 * np.eye(p))  # lasting levels, correlated
    s_w = 0.15 * (np.full((p, p), 0.3) + 0.7 * np.eye(p))  # wave-to-wave change, correlated
    beta = np.array([0.5, 0.3, 0.0])
    s_y = 0.15
    u = rng.multivariate_normal(np.zeros(p), s_u, size=n_units)
    w = rng.multivariate_normal(np.zeros(p), s_w, size=(n_units, waves))
    n = rng.integers(2, 7, size=(n_units, waves))
    unit = np.repeat(np.repeat(np.arange(n_units), waves), n.ravel())
    wave = np.repeat(np.tile(np.arange(waves), n_units), n.ravel())
    answers = u[unit] + w[unit, wave] + rng.normal(size=(len(unit), p))
    items = [f"es_q{j}" for j in range(p)]
    resp = pd.DataFrame(answers, columns=items).assign(
        unit_id=unit.astype(str), survey_date=[f"2024-{3 * k + 1:02d}-10" for k in wave]
    )
    means = resp.groupby("unit_id")[items].mean()
    climate = u + w.mean(axis=1)
    y = pd.Series(climate @ beta + rng.normal(0, s_y, n_units), index=np.arange(n_units).astype(str))
    df = means.assign(y=y.reindex(means.index).to_numpy()).reset_index()
    rel = survey_reliability(resp, items=items).set_index("item")["reliability"]
    out = key_drivers(df, items=items, outcome="y", reliability=rel.to_dict(), n_boot=n_boot,
                      seed=seed).set_index("item").loc[items]
    cov_t = s_u + s_w / waves
    cov_ty = cov_t @ beta
    sd_y = np.sqrt(beta @ cov_t @ beta + s_y**2)
    d = np.sqrt(np.diag(cov_t))
    full = np.block([[cov_t / np.outer(d, d), (cov_ty / (d * sd_y))[:, None]],
                     [(cov_ty / (d * sd_y))[None, :], np.ones((1, 1))]])
    truth = relative_weights(full)
    row = {}
    for j, it in enumerate(items):
        row[f"cover_corrected[{j}]"] = out.loc[it, "ci_low_corrected"] <= truth[j] <= out.loc[it, "ci_high_corrected"]
        row[f"cover_raw[{j}]"] = out.loc[it, "ci_low"] <= truth[j] <= out.loc[it, "ci_high"]
        row[f"bias_corrected[{j}]"] = out.loc[it, "weight_corrected"] - truth[j]
        row[f"bias_raw[{j}]"] = out.loc[it, "weight"] - truth[j]
        row[f"truth[{j}]"] = truth[j]
    return row


def _sensitivity_world(seed: int, n_units: int = 60, months: int = 24, n_boot: int = 200) -> dict:
    """x -> m -> y (a = 0.5, b = 0.4) with an unmeasured u in m and y (error correlation 0.36):
    the sensitivity interval at the planted rho against a * b, and the naive one at rho = 0."""
    from linkage.stats.service_chain import mediation_sensitivity

    rng = np.random.default_rng([seed, 72])
    shape = (n_units, months)
    x, u = rng.normal(size=shape), rng.normal(size=shape)
    m = 0.5 * x + 0.6 * u + 0.8 * rng.normal(size=shape)
    y = 0.4 * m + 0.6 * u + 0.8 * rng.normal(size=shape)
    df = pd.DataFrame({"unit_id": np.repeat(np.arange(n_units), months).astype(str),
                       "period": np.tile(np.arange(months), n_units),
                       "employee_retention": x.ravel(), "customer_retention": m.ravel(),
                       "revenue_retention": y.ravel()})
    t = mediation_sensitivity(df, rhos=[0.0, 0.36], n_boot=n_boot, seed=seed).table.set_index("rho")
    return {"cover_at_planted_rho": t.loc[0.36, "ci_low"] <= 0.2 <= t.loc[0.36, "ci_high"],
            "naive_covers_truth": t.loc[0.0, "ci_low"] <= 0.2 <= t.loc[0.0, "ci_high"],
            "acme_at_planted_rho": t.loc[0.36, "acme"]}


def _calibration_world(seed: int, n_units: int = 80, n_boot: int = 200) -> dict:
    """The calibration table's intervals (observed drop per bin) against each bin's expected drop
    given the staff data (the planted customer-retention probabilities, fed in as the truth)."""
    from linkage.stats.early_warning import calibration

    panel, cp = _backtest_panel(seed, n_units, with_probability=True)
    kw = {"cutoffs": _CUTS, "lag": 1, "min_loss": 0.02, "n_bins": 4, "n_boot": n_boot, "seed": seed}
    cal = calibration(panel, **kw)
    expected = pd.DataFrame({"unit": panel["unit_id"], "period": panel["period"],
                             "losses": (1 - cp.ravel()) * panel["customer_start"]})
    truth = calibration(panel, truth_losses=expected, **{**kw, "n_boot": 0})
    hit = (cal["ci_low"] <= truth["observed"]) & (truth["observed"] <= cal["ci_high"])
    return {f"cover_bin[{b}]": bool(h) for b, h in zip(cal["bin"], hit, strict=True)}


def _backtest_panel(seed: int, n_units: int, months: int = 36, with_probability: bool = False):
    """Staff dips in 10 % of the units before each of three cutoffs; customers follow a month
    later (the world of ``backtest``'s example)."""
    rng = np.random.default_rng([seed, 73])
    p = 0.95 + 0.01 * rng.normal(size=(n_units, months))
    for t0 in (24, 28, 32):
        p[rng.choice(n_units, n_units // 10, replace=False), t0 - 3:t0] -= 0.06
    staff = rng.integers(20, 200, size=(n_units, 1)) * np.ones((1, months), dtype=int)
    kept = rng.binomial(staff, np.clip(p, 0, 1))
    cs = np.full((n_units, months), 500)
    cp = np.clip(0.97 + 0.6 * (np.roll(kept / staff, 1, axis=1) - 0.95), 0, 1)
    ckept = rng.binomial(cs, cp)
    panel = pd.DataFrame({
        "unit_id": np.repeat([f"s{i:05d}" for i in range(n_units)], months),
        "period": np.tile(pd.date_range("2021-01-01", periods=months, freq="MS"), n_units),
        "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
        "employee_retention": (kept / staff).ravel(), "customer_start": cs.ravel(),
        "customer_retained": ckept.ravel(), "customer_retention": (ckept / cs).ravel()})
    return (panel, cp) if with_probability else panel


_CUTS = pd.date_range("2021-01-01", periods=36, freq="MS")[[24, 28, 32]]


def _backtest_world(seed: int, truth: dict, n_units: int = 80, n_boot: int = 200) -> dict:
    """The back-test's unit-bootstrap intervals (and a naive binomial one over unit-cutoffs)
    against the rule's precision and recall in a very large world of the same kind."""
    bt = backtest(_backtest_panel(seed, n_units), cutoffs=_CUTS, lag=1, min_loss=0.02,
                  n_boot=n_boot, seed=seed).iloc[-1]
    row = {}
    for name, den in (("precision", "n_flagged"), ("recall", "n_lost")):
        est, n = bt[name], bt[den]
        row[f"cover_{name}"] = bt[f"{name}_ci_low"] <= truth[name] <= bt[f"{name}_ci_high"]
        half = 1.96 * np.sqrt(est * (1 - est) / n) if n else np.nan
        row[f"naive_cover_{name}"] = est - half <= truth[name] <= est + half
    return row


def coverage(worlds: int, n_boot: int) -> None:
    """Coverage of the new intervals over ``worlds`` planted worlds each, with Monte Carlo error."""
    def line(label: str, hits: pd.Series) -> None:
        v = hits.astype(float)
        se = np.sqrt(v.mean() * (1 - v.mean()) / len(v))
        print(f"  {label:<58} {v.mean():6.1%}  (MC error {se:.1%}, {len(v)} worlds)")

    print(f"\nCoverage of nominal 95 % intervals, {n_boot} unit-bootstrap resamples each")
    t0 = time.perf_counter()
    d = pd.DataFrame([_drivers_world(s, n_boot=n_boot) for s in range(worlds)])
    print("corrected driver weights (80 units, 4 waves of 2-6 respondents, 3 correlated items; "
          "truth: weights of the latent window means; reliability estimated per world):")
    for j in range(3):
        line(f"item {j} (true weight {d[f'truth[{j}]'].mean():.3f}) corrected", d[f"cover_corrected[{j}]"])
        line(f"item {j} raw weight's interval, same truth", d[f"cover_raw[{j}]"])
        print(f"    mean error: corrected {d[f'bias_corrected[{j}]'].mean():+.4f}, raw "
              f"{d[f'bias_raw[{j}]'].mean():+.4f}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    m = pd.DataFrame([_sensitivity_world(s, n_boot=n_boot) for s in range(worlds)])
    print("mediation sensitivity (60 units x 24 months, a * b = 0.2, error correlation 0.36 "
          "planted):")
    line("ACME(rho = 0.36) interval covers 0.2", m["cover_at_planted_rho"])
    line("naive ACME(rho = 0) interval covers 0.2", m["naive_covers_truth"])
    print(f"    mean ACME at the planted rho {m['acme_at_planted_rho'].mean():.4f} (truth 0.2)")
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    ref = backtest(_backtest_panel(10_000, 20_000), cutoffs=_CUTS, lag=1, min_loss=0.02,
                   n_boot=0).iloc[-1]
    truth = {"precision": ref["precision"], "recall": ref["recall"]}
    b = pd.DataFrame([_backtest_world(s, truth, n_boot=n_boot) for s in range(worlds)])
    print(f"back-test, three overlapping cutoffs (80 units; truth from one world of 20,000 units: "
          f"precision {truth['precision']:.3f}, recall {truth['recall']:.3f}):")
    for name in ("precision", "recall"):
        line(f"{name}: unit bootstrap (units resampled)", b[f"cover_{name}"])
        line(f"{name}: naive binomial over unit-cutoffs", b[f"naive_cover_{name}"])
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    c = pd.DataFrame([_calibration_world(s, n_boot=n_boot) for s in range(worlds)])
    print("calibration, 4 bins of the predicted drop (same worlds; truth: each bin's expected drop "
          "given the staff data, from the planted probabilities):")
    for col in c.columns:
        line(f"observed drop, {col.replace('cover_', '')}", c[col])
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coverage", action="store_true",
                    help="only the coverage of the corrected driver weights', mediation "
                    "sensitivity's and back-test's intervals")
    ap.add_argument("--worlds", type=int, default=200, help="worlds per coverage check")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--boot", type=int, default=500)
    ap.add_argument("--only-default", action="store_true", help="only the simulator's default unit size")
    args = ap.parse_args(argv)
    print("command: .venv/bin/python benchmarks/chain_study.py " + " ".join(sys.argv[1:] if argv is None else argv))
    if args.coverage:
        t0 = time.perf_counter()
        coverage(args.worlds, args.boot)
        print(f"\n{time.perf_counter() - t0:.0f} s")
        return 0
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
