"""Early-warning list and its back-test."""

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.simulate import ChainSpec, WorldSpec, simulate, truth_latent
from linkage.stats import backtest, business_effect, watchlist


def _dips(seed=1, U=60, T=30, dip_units=5, lag=1):
    rng = np.random.default_rng(seed)
    p = 0.95 + 0.02 * rng.normal(size=(U, T))
    p[:dip_units, -3:] -= 0.08
    staff = np.full((U, T), 200)
    kept = rng.binomial(staff, np.clip(p, 0, 1))
    e = kept / staff
    c = np.clip(0.97 + 0.5 * (np.roll(e, lag, axis=1) - 0.95) + 0.005 * rng.normal(size=(U, T)), 0, 1)
    return pd.DataFrame({"unit_id": np.repeat([f"s{i:02d}" for i in range(U)], T),
                         "period": np.tile(pd.date_range("2022-01-01", periods=T, freq="MS"), U),
                         "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
                         "employee_retention": e.ravel(), "customer_start": 400,
                         "customer_retention": c.ravel(), "revenue": 400 * 50.0})


def test_hand_worked_rates_drop_and_expected_loss():
    df = _dips(2)
    wl = watchlist(df, lag=1, recent=3, baseline=12, n_boot=300).set_index("unit")
    u = df[df["unit_id"] == "s00"]
    base = u["employee_retained"].iloc[-15:-3].sum() / u["employee_start"].iloc[-15:-3].sum()
    now = u["employee_retained"].iloc[-3:].sum() / u["employee_start"].iloc[-3:].sum()
    kb, kr = u["employee_retained"].iloc[-15:-3].sum(), u["employee_retained"].iloc[-3:].sum()
    p = (kb + kr + 0.5) / (200 * 15 + 1)
    # quasi-binomial dispersion over all units' baseline months (Pearson chi2 / dof)
    piv = lambda c: df.pivot(index="unit_id", columns="period", values=c).iloc[:, -15:-3].to_numpy()  # noqa: E731
    N, K = piv("employee_start"), piv("employee_retained")
    pu = K.sum(1) / N.sum(1)
    phi = max(1.0, (N * (K / N - pu[:, None]) ** 2 / (pu * (1 - pu))[:, None]).sum() / (N.shape[0] * 11))
    assert phi > 1.5  # the planted month-to-month noise (sd 0.02) is well above binomial
    z = (base - now) / np.sqrt(phi * p * (1 - p) * (1 / (200 * 12) + 1 / (200 * 3)))
    row = wl.loc["s00"]
    assert row["baseline"] == pytest.approx(base) and row["recent"] == pytest.approx(now)
    assert row["drop_z"] == pytest.approx(z)
    # the effect is business_effect's period-adjusted within-unit slope at the lag (reused, not refitted)
    eff = business_effect(df, lag=1, n_boot=300, seed=0)
    assert row["slope"] == pytest.approx(eff["slope"].iloc[0])
    assert row["expected_lost"] == pytest.approx(eff["slope"].iloc[0] * (base - now) * 400 * 3)
    assert row["expected_lost_low"] == pytest.approx(eff["ci_low"].iloc[0] * (base - now) * 400 * 3)
    assert row["revenue_at_risk"] is np.nan or np.isnan(row["revenue_at_risk"])  # no revenue column asked for
    assert row["expected_from"] == pd.Timestamp("2024-05-01") and row["expected_to"] == pd.Timestamp("2024-07-01")
    withrev = watchlist(df, lag=1, revenue="revenue", n_boot=0).set_index("unit")
    assert withrev.loc["s00", "revenue_at_risk"] == pytest.approx(withrev.loc["s00", "expected_lost"] * 50.0)


def test_planted_dips_are_flagged_and_ranked_first():
    df = _dips(1)
    before = df.copy()
    wl = watchlist(df, n_boot=200)
    pd.testing.assert_frame_equal(df, before)
    assert wl["lag"].iloc[0] == 1 and wl.attrs["lag_found"]
    assert set(wl["unit"].head(5)) == {f"s0{i}" for i in range(5)}
    assert wl.loc[wl["unit"].isin([f"s0{i}" for i in range(5)]), "flag"].all()
    assert wl["flag"].sum() <= 7  # few false alarms among 55 steady units at one-sided 5 %
    assert wl["rank"].tolist() == list(range(1, 61))
    assert (wl["expected_lost_low"] <= wl["expected_lost"]).all() and (wl["expected_lost"] <= wl["expected_lost_high"]).all()


def test_without_customer_counts_ranks_by_the_drop():
    df = _dips(5).drop(columns=["customer_start"])
    wl = watchlist(df, lag=1, n_boot=0)
    assert wl["expected_lost"].isna().all()
    assert wl["drop_z"].is_monotonic_decreasing and set(wl["unit"].head(5)) == {f"s0{i}" for i in range(5)}


def test_as_of_ignores_later_periods():
    df = _dips(3)
    cut = pd.Timestamp("2023-12-01")
    a = watchlist(df, as_of=cut, lag=1, n_boot=0)
    b = watchlist(df[df["period"] <= cut], lag=1, n_boot=0)
    pd.testing.assert_frame_equal(a, b)


def test_backtest_counts_by_hand():
    df = _dips(4, U=40, T=30, dip_units=6)
    periods = pd.date_range("2022-01-01", periods=30, freq="MS")
    bt = backtest(df, cutoffs=[periods[29]], lag=1, min_loss=0.02)
    wl = watchlist(df[df["period"] < periods[29]], lag=1, n_boot=0).set_index("unit")
    cr = df.pivot(index="unit_id", columns="period", values="customer_retention")
    lost = (cr.iloc[:, 14:26].mean(axis=1) - cr.iloc[:, 29]) > 0.02  # no counts: mean rates
    hit = (wl["flag"].reindex(lost.index) & lost).sum()
    row = bt.iloc[0]
    assert (row["n_flagged"], row["n_lost"], row["n_hit"]) == (wl["flag"].sum(), lost.sum(), hit)
    assert row["precision"] == pytest.approx(hit / wl["flag"].sum())
    assert bt.iloc[-1]["cutoff"] == "all"


def test_backtest_on_a_simulated_world_beats_the_base_rate():
    # planted truth: customers lost to the climate (simulator), at the planted lag 2
    world = simulate(WorldSpec(n_units=100, months=36, seed=3, headcount_median=25), chain=ChainSpec())
    lat = truth_latent(world.truth)
    truth = pd.DataFrame({"unit": lat["unit_id"], "period": lat["period"],
                          "losses": world.truth["chain"]["latent"]["climate_customer_losses"]})
    bt = backtest(world.panel, n_cutoffs=6, truth_losses=truth, min_loss=0.005)
    total = bt.iloc[-1]
    assert total["lag"] == world.truth["facts"]["planted_lag"] and total["outcome"] == "truth"
    base_rate = total["n_lost"] / total["n_units"]
    assert total["precision"] > base_rate + 0.15


def test_bad_input():
    df = _dips(0, U=10, T=10)
    with pytest.raises(InputError, match="fewer than recent"):
        watchlist(df, recent=3, baseline=12)
    with pytest.raises(InputError, match="lag must be"):
        watchlist(df, lag=-1, baseline=4)
    with pytest.raises(InputError, match="no revenue column"):
        watchlist(df, revenue="sales", baseline=4)
    with pytest.raises(InputError, match="not a period"):
        backtest(df, cutoffs=[pd.Timestamp("1999-01-01")], baseline=4, lag=1)
