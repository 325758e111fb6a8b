"""Key drivers (relative weights, dominance) and unit-mean reliability (ICC)."""

import warnings
from itertools import combinations, permutations
from math import factorial

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from linkage.errors import InputError
from linkage.stats import key_drivers, unit_reliability
from linkage.stats.drivers import dominance_weights, relative_weights

# mtcars (R datasets; Henderson & Velleman 1981): mpg, cyl, disp, hp, gear
MTCARS = np.array(
    [
        [21.0, 6, 160.0, 110, 4],
        [21.0, 6, 160.0, 110, 4],
        [22.8, 4, 108.0, 93, 4],
        [21.4, 6, 258.0, 110, 3],
        [18.7, 8, 360.0, 175, 3],
        [18.1, 6, 225.0, 105, 3],
        [14.3, 8, 360.0, 245, 3],
        [24.4, 4, 146.7, 62, 4],
        [22.8, 4, 140.8, 95, 4],
        [19.2, 6, 167.6, 123, 4],
        [17.8, 6, 167.6, 123, 4],
        [16.4, 8, 275.8, 180, 3],
        [17.3, 8, 275.8, 180, 3],
        [15.2, 8, 275.8, 180, 3],
        [10.4, 8, 472.0, 205, 3],
        [10.4, 8, 460.0, 215, 3],
        [14.7, 8, 440.0, 230, 3],
        [32.4, 4, 78.7, 66, 4],
        [30.4, 4, 75.7, 52, 4],
        [33.9, 4, 71.1, 65, 4],
        [21.5, 4, 120.1, 97, 3],
        [15.5, 8, 318.0, 150, 3],
        [15.2, 8, 304.0, 150, 3],
        [13.3, 8, 350.0, 245, 3],
        [19.2, 8, 400.0, 175, 3],
        [27.3, 4, 79.0, 66, 4],
        [26.0, 4, 120.3, 91, 5],
        [30.4, 4, 95.1, 113, 5],
        [15.8, 8, 351.0, 264, 5],
        [19.7, 6, 145.0, 175, 5],
        [15.0, 8, 301.0, 335, 5],
        [21.4, 4, 121.0, 109, 4],
    ]
)


def _mtcars() -> pd.DataFrame:
    df = pd.DataFrame(MTCARS, columns=["mpg", "cyl", "disp", "hp", "gear"])
    return df.assign(unit_id=[f"car{i:02d}" for i in range(len(df))])


def test_relative_weights_match_rwa_readme_mtcars():
    # R package rwa (martinctc/rwa README): rwa(mtcars, "mpg", c("cyl","disp","hp","gear"))
    # Raw.RelWeight 0.2284797 0.2221469 0.2321744 0.0963886, rsquare 0.7791896
    df = _mtcars()
    corr = np.corrcoef(df[["cyl", "disp", "hp", "gear", "mpg"]].to_numpy().T)
    np.testing.assert_allclose(
        relative_weights(corr), [0.2284797, 0.2221469, 0.2321744, 0.0963886], atol=5e-8
    )
    out = key_drivers(df, items=["cyl", "disp", "hp", "gear"], outcome="mpg", n_boot=0)
    assert out["item"].tolist() == ["hp", "cyl", "disp", "gear"]
    assert out["r2"].iloc[0] == pytest.approx(0.7791896, abs=5e-8)
    assert out.set_index("item").loc["gear", "share"] == pytest.approx(
        0.1237037, abs=5e-7
    )  # rwa: 12.37037 %


def _r2(X, y):
    X1 = np.column_stack([np.ones(len(y)), X])
    beta, *_ = np.linalg.lstsq(X1, y, rcond=None)
    e = y - X1 @ beta
    return 1 - (e @ e) / ((y - y.mean()) @ (y - y.mean()))


def test_dominance_equals_brute_force_shapley_on_mtcars():
    # independent definition: LMG / Shapley value, the average over all p! orderings of the R^2 gain
    # when the item enters, each R^2 from its own least-squares fit on the raw data
    df = _mtcars()
    cols = ["cyl", "disp", "hp", "gear"]
    X, y = df[cols].to_numpy(), df["mpg"].to_numpy()
    r2 = {(): 0.0}
    for k in range(1, 5):
        for s in combinations(range(4), k):
            r2[s] = _r2(X[:, list(s)], y)
    shap = np.zeros(4)
    for order in permutations(range(4)):
        for i, j in enumerate(order):
            shap[j] += r2[tuple(sorted(order[: i + 1]))] - r2[tuple(sorted(order[:i]))]
    shap /= factorial(4)
    corr = np.corrcoef(np.column_stack([X, y]).T)
    np.testing.assert_allclose(dominance_weights(corr), shap, atol=1e-10)
    assert dominance_weights(corr).sum() == pytest.approx(r2[(0, 1, 2, 3)], abs=1e-10)
    out = key_drivers(df, items=cols, outcome="mpg", method="dominance", n_boot=0)
    np.testing.assert_allclose(out.set_index("item").loc[cols, "weight"], shap, atol=1e-10)


def test_stacked_weights_equal_one_at_a_time():
    rng = np.random.default_rng(0)
    stack = np.stack(
        [np.corrcoef(rng.normal(size=(4, 40)) + rng.normal(size=40)) for _ in range(5)]
    )
    for f in (relative_weights, dominance_weights):
        together = f(stack)
        np.testing.assert_allclose(together, np.stack([f(c) for c in stack]), atol=1e-12)


def test_icc_matches_pingouin_balanced():
    # reference: pingouin 0.7.0 intraclass_corr (it calls dropna(inplace=True), deprecated in pandas 3.1)
    rng = np.random.default_rng(4)
    units = np.repeat([f"u{i}" for i in range(12)], 5)
    level = np.repeat(rng.normal(size=12), 5)
    df = pd.DataFrame(
        {
            "unit_id": units,
            "rater": np.tile(np.arange(5), 12),
            "es_a": level + rng.normal(size=60),
            "es_b": 0.3 * level + rng.normal(size=60),
        }
    )
    ours = unit_reliability(df, items=["es_a", "es_b"]).set_index("item")
    for item in ("es_a", "es_b"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.dropna")
            ref = pg.intraclass_corr(df, targets="unit_id", raters="rater", ratings=item).set_index(
                "Type"
            )
        assert ours.loc[item, "icc1"] == pytest.approx(ref.loc["ICC(1,1)", "ICC"], abs=1e-10)
        assert ours.loc[item, "icck"] == pytest.approx(ref.loc["ICC(1,k)", "ICC"], abs=1e-10)
        assert ours.loc[item, "f"] == pytest.approx(ref.loc["ICC(1,1)", "F"], abs=1e-10)
        assert ours.loc[item, "p_val"] == pytest.approx(ref.loc["ICC(1,1)", "pval"], rel=1e-8)
    assert ours.loc["es_a", "k"] == 5


def test_icc_unbalanced_hand_worked():
    # groups (1, 3) and (4, 6, 8): means 2 and 6, grand 4.4; SSB = 2*5.76 + 3*2.56 = 19.2, MSB = 19.2;
    # SSW = 2 + 8 = 10 on 3 dof, MSW = 10/3; k0 = (5 - 13/5) / 1 = 2.4
    df = pd.DataFrame({"unit_id": ["a", "a", "b", "b", "b"], "q": [1.0, 3.0, 4.0, 6.0, 8.0]})
    row = unit_reliability(df, items=["q"]).iloc[0]
    msb, msw, k0 = 19.2, 10 / 3, 2.4
    assert row["k"] == pytest.approx(k0)
    assert row["icc1"] == pytest.approx((msb - msw) / (msb + (k0 - 1) * msw))
    assert row["icck"] == pytest.approx((msb - msw) / msb)


def _survey_world(seed, n_units=150):
    """Unit means of 6 correlated items; the outcome depends on es_a and es_b only."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n_units)
    items = {f"es_{c}": 0.7 * common + rng.normal(size=n_units) for c in "abcdef"}
    df = pd.DataFrame({"unit_id": [f"{i:03d}" for i in range(n_units)], **items})
    df["customer_retention"] = 0.5 * df["es_a"] + 0.4 * df["es_b"] + rng.normal(size=n_units)
    return df


def test_planted_drivers_rank_first_with_significance():
    df = _survey_world(1)
    items = [f"es_{c}" for c in "abcdef"]
    before = df.copy()
    for method in ("relative_weights", "dominance"):
        out = key_drivers(
            df, items=items, outcome="customer_retention", method=method, n_boot=400, seed=2
        )
        assert set(out["item"].iloc[:2]) == {"es_a", "es_b"}
        assert (out["p_adj"].iloc[:2] < 0.05).all()
        assert (out["ci_low"] <= out["weight"]).all() and (out["weight"] <= out["ci_high"]).all()
        assert out["rank"].tolist() == list(range(1, 7))
    pd.testing.assert_frame_equal(df, before)


def test_unplanted_items_rarely_significant():
    # a null outcome: no item should survive Holm in most seeds (random-variable comparison)
    hits = 0
    for seed in range(6):
        df = _survey_world(seed, n_units=80)
        df["customer_retention"] = np.random.default_rng(100 + seed).normal(size=len(df))
        out = key_drivers(
            df,
            items=[f"es_{c}" for c in "abcd"],
            outcome="customer_retention",
            n_boot=300,
            seed=seed,
        )
        hits += int((out["p_adj"] < 0.05).any())
    assert hits <= 1


def test_within_level_uses_changes_inside_units():
    # between units es_a and the outcome are linked; within units only es_b moves the outcome
    rng = np.random.default_rng(3)
    U, T = 60, 12
    lvl = np.repeat(rng.normal(size=U), T)
    a = lvl + 0.5 * rng.normal(size=U * T)
    b = rng.normal(size=U * T)
    df = pd.DataFrame(
        {
            "unit_id": np.repeat(np.arange(U), T).astype(str),
            "es_a": a,
            "es_b": b,
            "y": 2 * lvl + 0.8 * b + 0.5 * rng.normal(size=U * T),
        }
    )
    between = key_drivers(df, items=["es_a", "es_b"], outcome="y", n_boot=0)
    within = key_drivers(df, items=["es_a", "es_b"], outcome="y", level="within", n_boot=0)
    assert between["item"].iloc[0] == "es_a" and within["item"].iloc[0] == "es_b"
    assert between["n"].iloc[0] == U and within["n"].iloc[0] == U * T


def test_disattenuated_correlations_beside_uncorrected():
    df = _survey_world(5)
    out = key_drivers(
        df,
        items=["es_a", "es_b"],
        outcome="customer_retention",
        n_boot=0,
        reliability={"es_a": 0.64},
        outcome_reliability=0.81,
    ).set_index("item")
    assert out.loc["es_a", "r_corrected"] == pytest.approx(out.loc["es_a", "r"] / (0.8 * 0.9))
    assert out.loc["es_b", "r_corrected"] == pytest.approx(out.loc["es_b", "r"] / 0.9)


def test_unreliable_items_are_not_corrected_and_overshoots_are_capped():
    df = _survey_world(5)
    base = key_drivers(df, items=["es_a", "es_b"], outcome="customer_retention", n_boot=0)
    r_a = float(base.set_index("item").loc["es_a", "r"])
    tiny = (abs(r_a) / 2) ** 2  # sqrt(tiny) = |r| / 2: the correction would double r, past 1
    out = key_drivers(
        df,
        items=["es_a", "es_b"],
        outcome="customer_retention",
        n_boot=0,
        reliability={"es_a": tiny, "es_b": float("nan")},
    ).set_index("item")
    assert (
        out.loc["es_a", "r_corrected"] == np.sign(r_a) and out.loc["es_a", "correction"] == "capped"
    )
    assert (
        np.isnan(out.loc["es_b", "r_corrected"]) and out.loc["es_b", "correction"] == "unreliable"
    )
    assert (base["correction"] == "").all()
    # a reliability at or below 0 is unreliable too, never taken as perfect
    neg = key_drivers(
        df,
        items=["es_a", "es_b"],
        outcome="customer_retention",
        n_boot=0,
        reliability={"es_a": -0.2},
    ).set_index("item")
    assert (
        np.isnan(neg.loc["es_a", "r_corrected"]) and neg.loc["es_a", "correction"] == "unreliable"
    )


def test_bad_input_raises_input_error():
    df = _survey_world(0, n_units=30)
    with pytest.raises(InputError, match="no item column"):
        key_drivers(df, items=["es_a", "es_zz"], outcome="customer_retention")
    with pytest.raises(InputError, match="method"):
        key_drivers(df, items=["es_a"], outcome="customer_retention", method="shapley")
    with pytest.raises(InputError, match="too few"):
        key_drivers(df.head(5), items=["es_a", "es_b", "es_c"], outcome="customer_retention")
    with pytest.raises(InputError, match="does not vary"):
        key_drivers(df.assign(es_c=1.0), items=["es_a", "es_c"], outcome="customer_retention")
    with pytest.raises(InputError, match="reliability"):
        key_drivers(
            df, items=["es_a"], outcome="customer_retention", reliability={"es_a": 1.5}, n_boot=0
        )
    with pytest.raises(InputError, match="at least 2 units"):
        unit_reliability(pd.DataFrame({"unit_id": ["a", "a"], "q": [1.0, 2.0]}), items=["q"])


def test_lag_pairs_items_with_the_outcome_later():
    # the outcome follows es_b two periods (6 period units: a quarter apart) later; matched by period value
    rng = np.random.default_rng(8)
    U, T = 50, 10
    b = rng.normal(size=(U, T))
    a = rng.normal(size=(U, T))
    y = np.full((U, T), np.nan)
    y[:, 2:] = b[:, :-2] + 0.3 * rng.normal(size=(U, T - 2))
    df = pd.DataFrame(
        {
            "unit_id": np.repeat(np.arange(U), T).astype(str),
            "period": np.tile(np.arange(T) * 3, U),
            "es_a": a.ravel(),
            "es_b": b.ravel(),
            "y": y.ravel(),
        }
    )
    df = df[df["period"] != 9]  # a missing period: its partner rows drop out instead of shifting
    out = key_drivers(
        df, items=["es_a", "es_b"], outcome="y", period="period", lag=2, level="within", n_boot=0
    )
    assert out["item"].iloc[0] == "es_b" and out["r2"].iloc[0] > 0.8
    assert out["n"].iloc[0] == U * (
        T - 2 - 2
    )  # pairs (t, t+2) with neither end at the missing period
    with pytest.raises(InputError, match="period"):
        key_drivers(df, items=["es_a"], outcome="y", lag=1)


def test_planted_drivers_rank_above_unplanted_in_simulated_worlds():
    # simulator truth (linkage.simulate.ChainSpec): manager_support, staffing, recognition drive the
    # climate customers churn on; pay, facilities, commute do not. Survey waves against customer
    # retention at the planted lag, within units. benchmarks/chain_study.py runs many seeds.
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    wins = 0
    for seed in (0, 1):
        world = simulate(WorldSpec(n_units=80, months=30, seed=seed), chain=ChainSpec())
        ct = world.truth["chain"]
        planted = [f"es_{n}" for n in ct["planted_drivers"]]
        unplanted = [f"es_{n}" for n in ct["unplanted_items"]]
        out = key_drivers(
            world.chain_panel(align="wave"),
            items=planted + unplanted,
            outcome="customer_retention",
            period="period",
            lag=world.truth["facts"]["planted_lag"],
            level="within",
            n_boot=200,
            seed=seed,
        )
        wins += set(out["item"].iloc[:3]) == set(planted)
        assert (out.set_index("item").loc[unplanted, "p_adj"] > 0.05).all()
    assert wins == 2


def test_a_lag_beyond_the_data_is_an_error_not_too_few_units():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"unit_id": np.repeat(np.arange(30), 12), "period": np.tile(np.arange(12), 30)}
    )
    df = df.assign(
        a=rng.normal(size=len(df)), b=rng.normal(size=len(df)), y=rng.normal(size=len(df))
    )
    with pytest.raises(
        InputError, match="lag 500 is beyond the data: 12 periods allow lags up to 10"
    ):
        key_drivers(df, items=["a", "b"], outcome="y", period="period", lag=500, n_boot=0)
    assert (
        len(key_drivers(df, items=["a", "b"], outcome="y", period="period", lag=10, n_boot=0)) == 2
    )


def test_corrected_weights_recover_the_latent_weights():
    # planted: three latent unit means (correlation 0.4 between each pair) and an outcome
    # y = 0.5 t1 + 0.3 t2 + noise; observed items are the latent ones plus noise of known
    # reliability 0.6, 0.8, 0.5. The weights of the latent correlation matrix are the truth
    # (relative_weights, checked against R's rwa above); the raw weights are attenuated, the
    # corrected ones recover the truth and their unit-bootstrap interval covers it.
    from linkage.stats.drivers import relative_weights

    rng = np.random.default_rng(8)
    U = 3000
    R = np.full((3, 3), 0.4) + 0.6 * np.eye(3)
    t = rng.multivariate_normal(np.zeros(3), R, size=U)
    beta = np.array([0.5, 0.3, 0.0])
    y = t @ beta + rng.normal(0, 0.8, U)
    rel = np.array([0.6, 0.8, 0.5])
    obs = t + rng.normal(size=(U, 3)) * np.sqrt(1 / rel - 1)
    items = ["es_a", "es_b", "es_c"]
    df = pd.DataFrame(obs, columns=items).assign(unit_id=np.arange(U).astype(str), y=y)
    cov_ty = R @ beta
    var_y = beta @ R @ beta + 0.64
    full = np.block([[R, cov_ty[:, None] / np.sqrt(var_y)], [cov_ty / np.sqrt(var_y), 1.0]])
    truth = relative_weights(full)
    out = key_drivers(
        df, items=items, outcome="y", reliability=dict(zip(items, rel, strict=True)), n_boot=300
    ).set_index("item")
    got = out.loc[items, "weight_corrected"].to_numpy()
    np.testing.assert_allclose(got, truth, atol=0.03)
    # attenuated: the raw R^2 and the strongest item's raw weight fall well short of the truth
    assert out["r2"].iloc[0] < truth.sum() - 0.05 and out.loc["es_a", "weight"] < truth[0] - 0.05
    lo, hi = out.loc[items, "ci_low_corrected"], out.loc[items, "ci_high_corrected"]
    assert ((lo.to_numpy() <= truth) & (truth <= hi.to_numpy())).all()
    assert out["r2_corrected"].iloc[0] == pytest.approx(truth.sum(), abs=0.03)


def test_corrected_weights_need_a_usable_reliability_for_every_item():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "y"]).assign(
        unit_id=np.arange(60).astype(str)
    )
    none = key_drivers(df, items=["a", "b"], outcome="y", n_boot=0)
    assert none["weight_corrected"].isna().all() and np.isnan(none["r2_corrected"].iloc[0])
    bad = key_drivers(df, items=["a", "b"], outcome="y", n_boot=20, reliability={"a": np.nan})
    assert bad["weight_corrected"].isna().all() and bad["ci_low_corrected"].isna().all()
    ok = key_drivers(df, items=["a", "b"], outcome="y", n_boot=20, reliability={"a": 0.7})
    assert ok["weight_corrected"].notna().all() and ok["ci_low_corrected"].notna().all()


def test_disattenuate_matrix_keeps_a_valid_correlation_matrix():
    from linkage.stats.drivers import disattenuate_matrix

    # 0.6 / sqrt(0.4 * 0.5) = 1.34: the corrected matrix is not a correlation matrix; it is moved
    # to the nearest positive definite one with a unit diagonal
    c = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.2], [0.3, 0.2, 1.0]])
    out = disattenuate_matrix(c, np.array([0.4, 0.5, 0.9]))
    np.testing.assert_allclose(np.diag(out), 1.0)
    assert np.linalg.eigvalsh(out).min() > 0 and np.abs(out[~np.eye(3, dtype=bool)]).max() < 1
    # a valid corrected matrix is left as Spearman's formula gives it
    ok = disattenuate_matrix(c, np.array([0.9, 0.9, 0.9]))
    np.testing.assert_allclose(ok[0, 1], 0.6 / 0.9)


def test_key_drivers_use_survey_figures_on_wave_months():
    # simulator world, quarterly waves carried forward: by default the items count only in the
    # months their waves measured, exactly as on the panel built with align="wave"
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    world = simulate(WorldSpec(n_units=40, months=24, seed=1), chain=ChainSpec())
    items = ["es_manager_support", "es_staffing", "es_pay"]
    kw = {
        "items": items,
        "outcome": "customer_retention",
        "period": "period",
        "lag": 2,
        "level": "within",
        "n_boot": 0,
    }
    forward = key_drivers(world.chain_panel(align="forward"), **kw)
    wave = key_drivers(world.chain_panel(align="wave"), **kw)
    pd.testing.assert_frame_equal(forward, wave)
    as_if_fresh = key_drivers(world.chain_panel(align="forward"), survey_align="forward", **kw)
    assert as_if_fresh["n"].iloc[0] > 2.5 * wave["n"].iloc[0]  # every carried month counted
    with pytest.raises(InputError, match="survey_align"):
        key_drivers(world.chain_panel(), survey_align="fresh", **kw)
