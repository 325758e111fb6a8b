"""Linkage per segment and per region, corrected over the groups."""

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.stats import between_corr, lag_profile, segment_linkage
from linkage.stats.lags import holm


def _segment_world(seed=0, U=40, T=18, slopes=(0.0, 0.01, 0.0)):
    """Per-segment counts: customer retention of segment s moves with employee retention by slopes[s]."""
    rng = np.random.default_rng(seed)
    e = 0.9 + 0.04 * rng.normal(size=(U, T))
    rows = []
    for s, b in enumerate(slopes):
        start = rng.integers(40, 200, size=(U, 1)) * np.ones((1, T), dtype=int)
        p = np.clip(0.95 + b * 100 * (e - 0.9), 0.5, 1.0)
        kept = rng.binomial(start, p)
        rows.append(pd.DataFrame({"unit_id": np.repeat([f"u{i:02d}" for i in range(U)], T),
                                  "period": np.tile(pd.date_range("2023-01-01", periods=T, freq="MS"), U),
                                  "segment": f"seg{s}", "customer_start": start.ravel(),
                                  "customer_retained": kept.ravel(), "customer_retention": (kept / start).ravel()}))
    panel = pd.DataFrame({"unit_id": np.repeat([f"u{i:02d}" for i in range(U)], T),
                          "period": np.tile(pd.date_range("2023-01-01", periods=T, freq="MS"), U),
                          "employee_retention": e.ravel()})
    return pd.concat(rows, ignore_index=True), panel


def test_segments_joined_to_panel_and_adjusted_over_groups():
    seg, panel = _segment_world(1)
    before = seg.copy()
    out = segment_linkage(seg, by="segment", panel=panel, n_boot=200)
    pd.testing.assert_frame_equal(seg, before)
    w = out[out["method"] == "within_period_adjusted"].set_index("group")
    assert list(w.index) == ["(all)", "seg0", "seg1", "seg2"]
    # Holm over the three segments, not over (all)
    np.testing.assert_allclose(w.loc[["seg0", "seg1", "seg2"], "p_adj"], holm(w.loc[["seg0", "seg1", "seg2"], "p_val"]
                                                                              .to_numpy()))
    assert np.isnan(w.loc["(all)", "p_adj"])
    assert w.loc["seg1", "p_adj"] < 0.01 and w.loc["seg1", "r"] > 0.3  # the planted segment
    # each group's within r is the lag profile's on that group's rows (reuse, not a new statistic)
    sub = seg[seg["segment"] == "seg1"].merge(panel, on=["unit_id", "period"])
    ref = lag_profile(sub, lags=[0], n_boot=0, period_adjusted=True)
    assert w.loc["seg1", "r"] == pytest.approx(ref["r"].iloc[0], abs=1e-12)
    b = out[out["method"] == "between"].set_index("group")
    assert b.loc["seg1", "r"] == pytest.approx(between_corr(sub)["r"].iloc[0], abs=1e-12)
    # (all): customers of all segments summed per unit and month
    total = seg.groupby(["unit_id", "period"])[["customer_retained", "customer_start"]].sum()
    assert w.loc["(all)", "n"] == len(total)
    assert w.loc["(all)", "median_denominator"] == pytest.approx(total["customer_start"].median())


def test_null_segments_rarely_survive_the_correction():
    hits_raw = hits_adj = 0
    for seed in range(5):
        seg, panel = _segment_world(seed, U=30, T=12, slopes=(0.0,) * 8)
        out = segment_linkage(seg, by="segment", panel=panel, n_boot=0)
        w = out[(out["method"] == "within_period_adjusted") & (out["group"] != "(all)")]
        hits_raw += int((w["p_val"] < 0.05).any())
        hits_adj += int((w["p_adj"] < 0.05).any())
    assert hits_adj <= 1 and hits_adj <= hits_raw


def test_small_groups_are_warned_about():
    seg, panel = _segment_world(2, U=12, T=5)
    seg = seg.assign(customer_start=np.where(seg["segment"] == "seg2", 8, seg["customer_start"]))
    out = segment_linkage(seg, by="segment", panel=panel, n_boot=0, lag=1, period_adjusted=False)
    w = out[out["method"] == "within"].set_index("group")
    assert "periods per unit" in w.loc["seg0", "warning"]
    assert "rates are mostly noise" in w.loc["seg2", "warning"]
    assert (out["lag"][out["method"] == "within"] == 1).all()
    few = segment_linkage(seg[seg["unit_id"].isin(["u00", "u01", "u02", "u03"])], by="segment", panel=panel,
                          n_boot=0)
    assert few["warning"].str.contains("only 4 units").all()


def test_regions_of_a_panel():
    seg, panel = _segment_world(3)
    panel = panel.merge(seg[seg["segment"] == "seg1"], on=["unit_id", "period"]).assign(
        region=lambda d: np.where(d["unit_id"] < "u20", "North", "South"))
    out = segment_linkage(panel, by="region", n_boot=100, adjust="fdr_bh")
    assert set(out["group"]) == {"(all)", "North", "South"}
    assert out.loc[out["group"] == "(all)", "n_units"].iloc[0] == 40


def test_bad_input():
    seg, panel = _segment_world(0, U=5, T=4)
    with pytest.raises(InputError, match="no x column"):
        segment_linkage(seg, by="segment")
    with pytest.raises(InputError, match="no by column"):
        segment_linkage(seg, by="vertical", panel=panel)
    with pytest.raises(InputError, match="adjust"):
        segment_linkage(seg, by="segment", panel=panel, adjust="tukey", n_boot=0)
    with pytest.raises(InputError, match="more than one row"):
        segment_linkage(seg, by="segment", panel=pd.concat([panel, panel]), n_boot=0)


def test_most_sensitive_segment_stands_out_in_a_simulated_world():
    # simulator truth: small_business customers react twice as strongly to the climate
    from linkage.panel import segment_retention
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    world = simulate(WorldSpec(n_units=80, months=30, seed=1), chain=ChainSpec())
    facts = world.truth["facts"]
    seg = segment_retention(world.customers, segments=world.segments, start=facts["window_start"],
                            end=facts["window_end"])
    out = segment_linkage(seg, by="segment", panel=world.panel, lag=facts["planted_lag"], n_boot=0)
    w = out[(out["method"] == "within_period_adjusted") & (out["group"] != "(all)")].set_index("group")
    assert w["r"].idxmax() == world.truth["chain"]["most_sensitive_segment"]
    assert w.loc[["consumer", "small_business"], "p_adj"].lt(0.05).all()  # the two large segments, after Holm
