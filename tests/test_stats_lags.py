"""Lag alignment (hand-worked), the exact unit bootstrap, period adjustment and the best-lag rule."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from linkage.errors import InputError
from linkage.stats import choose_best_lag, lag_pairs, lag_profile, rm_corr, unit_resample_counts
from linkage.stats._prep import make_grid
from linkage.stats.bootstrap import boot_correlations, percentile_ci
from linkage.stats.lags import holm, lag_stats


def _panel(rows):
    return pd.DataFrame(rows, columns=["unit_id", "period", "employee_retention", "customer_retention"])


MONTHS = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"])


def test_positive_lag_moves_y_forward():
    # x at t with y at t + 1: unit a's pairs are (1, 20), (2, 30), (3, 40)
    df = _panel([("a", MONTHS[i], float(i + 1), 10.0 * (i +1)) for i in range(4)])
    got = lag_pairs(df, lag=1)
    assert got[["employee_retention", "customer_retention"]].values.tolist() == [[1, 20], [2, 30], [3, 40]]
    assert list(got["period"]) == list(MONTHS[:3])
    assert list(got["period_y"]) == list(MONTHS[1:4])
    # negative lag: customers lead: x at t with y at t - 1
    got = lag_pairs(df, lag=-1)
    assert got[["employee_retention", "customer_retention"]].values.tolist() == [[2, 10], [3, 20], [4, 30]]


def test_gap_in_periods_is_not_a_shift():
    # unit b has no row for March: February's partner one month later does not exist,
    # and April must not be paired with February
    df = _panel([("b", MONTHS[0], 1.0, 10.0), ("b", MONTHS[1], 2.0, 20.0), ("b", MONTHS[3], 4.0, 40.0),
                 ("b", MONTHS[4], 5.0, 50.0)])
    got = lag_pairs(df, lag=1)
    assert got[["employee_retention", "customer_retention"]].values.tolist() == [[1, 20], [4, 50]]
    got = lag_pairs(df, lag=2)
    assert got[["employee_retention", "customer_retention"]].values.tolist() == [[2, 40]]


def test_unit_that_starts_late_and_missing_values():
    df = _panel([("a", MONTHS[0], 1.0, 10.0), ("a", MONTHS[1], 2.0, np.nan), ("a", MONTHS[2], 3.0, 30.0),
                 ("z", MONTHS[2], 7.0, 70.0), ("z", MONTHS[3], 8.0, 80.0)])
    got = lag_pairs(df, lag=1)
    # a: (1, NaN) dropped, (2, 30) kept; z starts in March: (7, 80)
    assert got[["unit_id", "employee_retention", "customer_retention"]].values.tolist() == [
        ["a", 2.0, 30.0], ["z", 7.0, 80.0]]
    assert list(got["period"]) == [MONTHS[1], MONTHS[2]]


def test_integer_years_and_quarters_as_periods():
    years = pd.DataFrame({"unit_id": ["a"] * 3, "period": [2012, 2013, 2015], "employee_retention": [1.0, 2, 3],
                          "customer_retention": [4.0, 5, 6]})
    assert lag_pairs(years, lag=1)[["employee_retention", "customer_retention"]].values.tolist() == [[1, 5]]
    quarters = years.assign(period=pd.to_datetime(["2024-01-01", "2024-04-01", "2024-10-01"]))
    assert lag_pairs(quarters, lag=1)[["employee_retention", "customer_retention"]].values.tolist() == [[1, 5]]
    assert make_grid(quarters, x="employee_retention", y="customer_retention", unit="unit_id",
                     period="period").step == "quarter"


def _world(seed=0, n_units=30, n_periods=20, lag=2, effect=0.6, season=0.0):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n_units, n_periods)) + season * np.sin(np.arange(n_periods))[None]
    c = effect * np.roll(e, lag, axis=1) + rng.normal(size=(n_units, n_periods)) + rng.normal(size=(n_units, 1))
    c = c + season * np.sin(np.arange(n_periods))[None]
    df = pd.DataFrame({"unit_id": np.repeat([f"u{i}" for i in range(n_units)], n_periods),
                       "period": np.tile(np.arange(n_periods), n_units),
                       "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    return df.sample(frac=0.9, random_state=seed).reset_index(drop=True)  # unbalanced, shuffled rows


def test_each_lag_is_rmcorr_on_its_pairs():
    df = _world(1)
    prof = lag_profile(df, max_lag=3, n_boot=0, p_method="t")
    for k in (-3, 0, 2):
        pairs = lag_pairs(df, lag=k)
        ref = rm_corr(pairs).iloc[0]
        row = prof.set_index("lag").loc[k]
        assert row.r == pytest.approx(ref.r, rel=1e-12)
        assert row.dof == ref.dof and row.n == ref.n and row.p_val == pytest.approx(ref.p_val, rel=1e-9)


def test_lag_sign_symmetry():
    df = _world(2)
    swapped = df.rename(columns={"employee_retention": "customer_retention",
                                 "customer_retention": "employee_retention"})
    a = lag_profile(df, max_lag=3, n_boot=0).set_index("lag").r
    b = lag_profile(swapped, max_lag=3, n_boot=0).set_index("lag").r
    assert np.allclose(a.values, b.loc[-a.index].values)


def test_bootstrap_is_exactly_the_resampled_rmcorr():
    df = _world(3, n_units=8, n_periods=10)
    grid = make_grid(df, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    stats = lag_stats(grid, np.array([0, 2]))
    W = unit_resample_counts(grid.n_units, 5, rng=11)
    boot = boot_correlations(W, stats.Cxx, stats.Cyy, stats.Cxy)
    for b in range(5):
        # rebuild the resampled panel explicitly: each draw of a unit is a new unit
        picks = np.repeat(np.arange(grid.n_units), W[b].astype(int))
        parts = [lag_pairs(df[df.unit_id == grid.units[u]], lag=2).assign(unit_id=f"copy{i}")
                 for i, u in enumerate(picks)]
        explicit = rm_corr(pd.concat(parts, ignore_index=True)).r[0]
        assert boot[b, 1] == pytest.approx(explicit, rel=1e-10)


def test_resample_counts_are_uniform_multinomial():
    W = unit_resample_counts(50, 4000, rng=0)
    assert W.shape == (4000, 50) and np.all(W.sum(axis=1) == 50)
    assert W.mean() == pytest.approx(1.0)
    assert W.var() == pytest.approx(1 - 1 / 50, rel=0.02)  # multinomial variance n p (1 - p)
    assert np.array_equal(W, unit_resample_counts(50, 4000, rng=0))  # seeded


def test_percentile_ci():
    lo, hi = percentile_ci(np.arange(1001.0)[:, None], ci=0.95)
    assert (lo[0], hi[0]) == pytest.approx((25.0, 975.0))


def test_profile_detects_planted_lag_with_ci():
    df = _world(4, n_units=60, n_periods=24, lag=2, effect=0.6)
    prof = lag_profile(df, max_lag=4, n_boot=400, seed=1)
    assert list(prof.columns) == ["method", "lag", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "p_adj",
                                  "dof", "slope", "band_low", "band_high", "win_share", "p_method", "ci_method",
                                  "p_adj_method"]
    best = choose_best_lag(prof)
    assert best == 2
    row = prof.set_index("lag").loc[2]
    assert row.ci_low < row.r < row.ci_high and row.ci_low > 0.3
    # the simultaneous band holds every lag's r and is wider than the pointwise interval
    assert (prof.band_low < prof.r).all() and (prof.r < prof.band_high).all()
    assert (prof.band_high - prof.band_low > prof.ci_high - prof.ci_low).all()
    assert row.band_low > 0.2 and row.win_share > 0.9 and prof.win_share.sum() == pytest.approx(1.0)
    assert prof.p_method.iloc[0].startswith("CR2") and prof.p_adj_method.iloc[0].startswith("Romano-Wolf")


def test_seed_reproducible_and_changes_with_seed():
    df = _world(5)
    a, b = lag_profile(df, max_lag=1, n_boot=200, seed=3), lag_profile(df, max_lag=1, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = lag_profile(df, max_lag=1, n_boot=200, seed=4)
    assert not np.allclose(a.band_low, c.band_low)
    pd.testing.assert_series_equal(a.ci_low, c.ci_low)  # the CR2 interval needs no resamples


def test_period_adjustment_matches_two_way_fixed_effects():
    from linearmodels import PanelOLS

    df = _world(6, season=2.0)
    pairs = lag_pairs(df, lag=1)
    pairs["t"] = pairs["period"].astype(int)
    fe = PanelOLS(pairs.set_index(["unit_id", "t"]).customer_retention,
                  pairs.set_index(["unit_id", "t"])[["employee_retention"]],
                  entity_effects=True, time_effects=True).fit()
    row = lag_profile(df, lags=[1], n_boot=0, period_adjusted=True, p_method="t").iloc[0]
    assert row.slope == pytest.approx(fe.params.iloc[0], rel=1e-8)
    assert row.dof == fe.df_resid
    # the t-test of r on dof equals the unadjusted FE t-test of the slope
    t = row.r * np.sqrt(row.dof / (1 - row.r**2))
    assert t == pytest.approx(fe.tstats.iloc[0], rel=1e-6)


def test_shared_calendar_fakes_a_link_until_period_adjusted():
    df = _world(7, n_units=40, n_periods=24, effect=0.0, season=3.0)
    plain = lag_profile(df, max_lag=2, n_boot=0)
    adjusted = lag_profile(df, max_lag=2, n_boot=0, period_adjusted=True)
    assert (plain.p_adj < 0.05).any()
    assert choose_best_lag(adjusted) is None


def test_holm_matches_statsmodels():
    p = np.random.default_rng(0).uniform(0, 0.2, size=13)
    assert np.allclose(holm(p), multipletests(p, method="holm")[1])


def test_adjust_none_and_bonferroni():
    df = _world(8)
    none = lag_profile(df, max_lag=2, n_boot=0, adjust="none")
    bonf = lag_profile(df, max_lag=2, n_boot=0, adjust="bonferroni")
    assert np.allclose(none.p_adj, none.p_val)
    assert np.allclose(bonf.p_adj, np.minimum(bonf.p_val * 5, 1))


def test_best_lag_rule():
    prof = pd.DataFrame({"lag": [-2, -1, 0, 1, 2], "r": [0.9, -0.4, 0.4, 0.2, -0.3],
                         "p_adj": [0.2, 0.01, 0.001, 0.001, 0.04]})
    # -2 has the largest |r| but is not significant; -1 and 0 tie on |r|: the lag nearer 0 wins
    assert choose_best_lag(prof) == 0
    assert choose_best_lag(prof, alpha=1e-4) is None


@pytest.mark.parametrize("kwargs", [{"max_lag": -1}, {"max_lag": 1.5}, {"lags": []}, {"ci": 1.5},
                                    {"adjust": "magic"}, {"n_boot": -1}])
def test_bad_arguments(kwargs):
    with pytest.raises(InputError):
        lag_profile(_world(0), **kwargs)


def test_duplicate_unit_period_rows_are_refused():
    df = _world(0)
    with pytest.raises(InputError, match="more than one row") as err:
        lag_profile(pd.concat([df, df.iloc[:1]], ignore_index=True))
    assert err.value.row == len(df) + 1 and err.value.column == "period"


def test_input_not_mutated():
    df = _world(0)
    before = df.copy()
    lag_profile(df, max_lag=1, n_boot=10, period_adjusted=True)
    pd.testing.assert_frame_equal(df, before)


def test_cluster_p_value_matches_statsmodels_cluster_robust_ols():
    import statsmodels.api as sm

    df = _world(9, n_units=25, n_periods=12)
    pairs = lag_pairs(df, lag=1)
    g = pairs.groupby("unit_id")
    dx = pairs.employee_retention - g.employee_retention.transform("mean")
    dy = pairs.customer_retention - g.customer_retention.transform("mean")
    # OLS through the origin on unit-demeaned pairs, errors clustered by unit, t on G - 1 dof;
    # statsmodels' correction G/(G-1) * (N-1)/(N-K) is G/(G-1) with K = 1
    ref = sm.OLS(dy.to_numpy(), dx.to_numpy()[:, None]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(pairs.unit_id)[0]}, use_t=True)
    row = lag_profile(df, lags=[1], n_boot=0, p_method="cluster").iloc[0]
    assert row.slope == pytest.approx(ref.params[0], rel=1e-10)
    assert row.p_val == pytest.approx(ref.pvalues[0], rel=1e-8)
    assert row.dof == 24


def test_p_method_t_is_rmcorr_and_bad_p_method_raises():
    df = _world(10)
    t = lag_profile(df, lags=[0], n_boot=0, p_method="t").iloc[0]
    assert t.p_val == pytest.approx(rm_corr(df).p_val[0], rel=1e-9)
    with pytest.raises(InputError):
        lag_profile(df, lags=[0], n_boot=0, p_method="z")


@pytest.mark.parametrize("values, steps, name", [
    (["1", "2", "4"], [0, 1, 3], "period"),                      # whole numbers read from a CSV
    ([2012, 2013, 2015], [0, 1, 3], "period"),                   # years as integers
    (["2023-01", "2023-02", "2023-04"], [0, 1, 3], "month"),
    (["2024-01-01", "2024-04-01", "2024-10-01"], [0, 1, 3], "quarter"),
    (pd.to_datetime(["2020-01-01", "2021-01-01", "2023-01-01"]), [0, 1, 3], "year"),
    (pd.to_datetime(["2024-01-03", "2024-01-10", "2024-01-24"]), [0, 1, 3], "week"),
])
def test_period_steps(values, steps, name):
    from linkage.stats._prep import period_steps

    got, step = period_steps(pd.DataFrame({"p": values}), "p")
    assert got.tolist() == steps and step == name


def test_bad_period_raises():
    from linkage.stats._prep import period_steps

    with pytest.raises(InputError) as err:
        period_steps(pd.DataFrame({"p": ["soon", "later"]}), "p", file="panel.csv")
    assert str(err.value).startswith("panel.csv, row 1, column 'p'")
    with pytest.raises(InputError):
        period_steps(pd.DataFrame({"p": [1.5, 2.0]}), "p")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariance_to_unit_and_period_effects(seed):
    # unit offsets cannot move a within-unit profile; period offsets (shared trends, seasons)
    # cannot move the period-adjusted one, even on an unbalanced panel
    df = _world(seed, n_units=20, n_periods=15)
    rng = np.random.default_rng(seed)
    unit_shift = pd.Series(rng.normal(0, 5, 20), index=[f"u{i}" for i in range(20)])
    period_shift = pd.Series(rng.normal(0, 5, 15))
    shifted_u = df.assign(employee_retention=df.employee_retention + df.unit_id.map(unit_shift),
                          customer_retention=df.customer_retention - 2 * df.unit_id.map(unit_shift))
    shifted_t = df.assign(employee_retention=df.employee_retention + df.period.map(period_shift),
                          customer_retention=df.customer_retention + 3 * df.period.map(period_shift))
    base = lag_profile(df, max_lag=3, n_boot=50)
    pd.testing.assert_frame_equal(lag_profile(shifted_u, max_lag=3, n_boot=50), base, rtol=1e-9)
    adj = lag_profile(df, max_lag=3, n_boot=50, period_adjusted=True)
    pd.testing.assert_frame_equal(lag_profile(shifted_t, max_lag=3, n_boot=50, period_adjusted=True), adj,
                                  rtol=1e-7)
    assert not np.allclose(lag_profile(shifted_t, max_lag=3, n_boot=0).r, base.r)


def test_wild_cluster_bootstrap_equals_explicit_sign_flips():
    import statsmodels.api as sm

    df = _world(11, n_units=12, n_periods=10, effect=0.3)
    B, seed = 40, 5
    row = lag_profile(df, lags=[1], n_boot=B, seed=seed, p_method="wild").iloc[0]
    pairs = lag_pairs(df, lag=1)
    g = pairs.groupby("unit_id")
    dx = (pairs.employee_retention - g.employee_retention.transform("mean")).to_numpy()
    dy = (pairs.customer_retention - g.customer_retention.transform("mean")).to_numpy()
    codes = pd.factorize(pairs.unit_id, sort=True)[0]

    def t_of(y):
        fit = sm.OLS(y, dx[:, None]).fit(cov_type="cluster", cov_kwds={"groups": codes})
        return fit.tvalues[0]

    # the same Webb draws as the library: one weight per unit (grid order = sorted unit ids), Webb's
    # (2014) six points +/- sqrt(3/2), +/- 1, +/- sqrt(1/2)
    webb = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
    V = webb[np.random.default_rng([seed, 1]).integers(0, 6, size=(B, 12))]
    t_obs = t_of(dy)
    exceed = sum(abs(t_of(V[b][codes] * dy)) >= abs(t_obs) for b in range(B))
    assert row.p_val == pytest.approx((1 + exceed) / (B + 1))


def test_wild_and_clustered_agree_with_many_units():
    df = _world(12, n_units=150, n_periods=12, effect=0.08)
    wild = lag_profile(df, lags=[2], n_boot=4000, p_method="wild").p_val.iloc[0]
    clus = lag_profile(df, lags=[2], n_boot=0, p_method="cluster").p_val.iloc[0]
    assert 0.0005 < clus < 0.5
    assert wild == pytest.approx(clus, rel=0.35)


def _naive_pairs(df, k):
    """The definition, written the slow obvious way: merge y on (unit, period + k)."""
    left = df[["unit_id", "period", "employee_retention"]]
    right = df[["unit_id", "period", "customer_retention"]].assign(period=df["period"] - k)
    out = left.merge(right, on=["unit_id", "period"]).dropna()
    return out.sort_values(["unit_id", "period"]).reset_index(drop=True)


def test_lag_pairs_equal_the_naive_merge_on_random_ragged_panels():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(st.integers(0, 10_000), st.integers(-4, 4))
    def check(seed, k):
        rng = np.random.default_rng(seed)
        n_units, n_periods = rng.integers(1, 6), rng.integers(1, 12)
        rows = [(f"u{u}", 2000 + t) for u in range(n_units) for t in range(n_periods) if rng.random() < 0.7]
        if not rows:
            return
        df = pd.DataFrame(rows, columns=["unit_id", "period"])
        df["employee_retention"] = np.where(rng.random(len(df)) < 0.1, np.nan, rng.normal(size=len(df)))
        df["customer_retention"] = np.where(rng.random(len(df)) < 0.1, np.nan, rng.normal(size=len(df)))
        df = df.sample(frac=1.0, random_state=seed)  # row order must not matter
        got = lag_pairs(df, lag=k)[["unit_id", "period", "employee_retention", "customer_retention"]]
        want = _naive_pairs(df, k)
        assert got["unit_id"].tolist() == want["unit_id"].tolist()
        assert got["period"].tolist() == want["period"].tolist()
        assert np.allclose(got["employee_retention"], want["employee_retention"])
        assert np.allclose(got["customer_retention"], want["customer_retention"])

    check()


@pytest.mark.parametrize("period_adjusted", [False, True])
def test_n_boot_zero_gives_the_profile_with_nan_intervals(period_adjusted):
    # n_boot=0 once crashed with a reshape error (reshape(0, -1) of an empty bootstrap)
    rng = np.random.default_rng(5)
    e = rng.normal(size=(30, 20))
    c = np.roll(e, 1, axis=1) + rng.normal(size=(30, 20))
    df = pd.DataFrame({"unit_id": np.repeat(np.arange(30), 20).astype(str), "period": np.tile(np.arange(20), 30),
                       "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    none = lag_profile(df, max_lag=2, n_boot=0, period_adjusted=period_adjusted)
    boot = lag_profile(df, max_lag=2, n_boot=200, period_adjusted=period_adjusted)
    assert none["lag"].tolist() == [-2, -1, 0, 1, 2]
    family = ["band_low", "band_high", "win_share"]
    assert none[family].isna().all().all()
    assert boot[family].notna().all().all()
    # without resamples Romano-Wolf falls back to Holm, and says so
    assert set(none.p_adj_method) == {"holm"} and set(boot.p_adj_method) != {"holm"}
    assert np.allclose(none.p_adj, holm(none.p_val.to_numpy()))
    # everything else is the same as with resamples
    cols = ["n", "n_units", "r", "ci_low", "ci_high", "p_val", "dof", "slope"]
    pd.testing.assert_frame_equal(none[cols], boot[cols])
    with pytest.raises(InputError, match="n_boot >= 1"):
        lag_profile(df, max_lag=2, n_boot=0, p_method="wild")
    with pytest.raises(InputError, match=">= 0"):
        lag_profile(df, max_lag=2, n_boot=-1)


# ---- the same periods written differently give the same analysis; lags beyond the data ------


@pytest.fixture(scope="module")
def lead_world() -> pd.DataFrame:
    from linkage.simulate import WorldSpec, simulate

    return simulate(WorldSpec(n_units=40, months=24, lag=2, seed=2)).panel  # a 2-month lead


def test_month_end_mid_month_and_text_months_give_the_same_analysis(lead_world):
    from linkage.stats import analyse

    start = lead_world
    forms = {
        "end": start.assign(period=start["period"] + pd.offsets.MonthEnd(0)),
        "mid": start.assign(period=start["period"] + pd.Timedelta(days=14)),
        "text": start.assign(period=start["period"].dt.strftime("%Y-%m")),
    }
    want = analyse(start, max_lag=3, n_boot=50, seed=1).to_dict()
    assert want["best_lag"] == 2 and want["settings"]["step"] == "month"
    for name, data in forms.items():
        assert analyse(data, max_lag=3, n_boot=50, seed=1).to_dict() == want, name


def test_quarter_ends_count_in_quarters():
    df = _world(8)
    quarters = pd.date_range("2020-03-31", periods=df["period"].nunique(), freq="QE")
    q = df.assign(period=quarters[df["period"].to_numpy()])
    grid = make_grid(q, x="employee_retention", y="customer_retention", unit="unit_id",
                     period="period")
    assert grid.step == "quarter" and grid.X.shape[1] == df["period"].nunique()


@pytest.mark.parametrize("max_lag", [500, 23])
def test_max_lag_beyond_the_data_is_an_error(lead_world, max_lag):
    from linkage.stats import analyse

    with pytest.raises(InputError, match=f"max_lag {max_lag} is beyond the data: 24 periods allow "
                                         "lags up to 22"):
        analyse(lead_world, max_lag=max_lag, n_boot=0)
    with pytest.raises(InputError, match="beyond the data"):
        lag_profile(lead_world, max_lag=max_lag, n_boot=0)


def test_the_largest_lag_the_data_allow_still_runs(lead_world):
    assert len(lag_profile(lead_world, lags=[-22, 22], n_boot=0)) == 2


def test_a_lag_with_no_pairs_is_an_error():
    from linkage.stats import analyse

    # x only in periods 0-3, y only in periods 4-7: lag 0 pairs nothing
    df = _world(6)
    df = df[df["period"] < 8].copy()
    df.loc[df["period"] >= 4, "employee_retention"] = np.nan
    df.loc[df["period"] < 4, "customer_retention"] = np.nan
    with pytest.raises(InputError, match="has no pairs"):
        analyse(df, max_lag=2, n_boot=0)
    with pytest.raises(InputError, match="has no pairs"):
        lag_profile(df, lags=[0], n_boot=0)


# ---- the calibrated default (CR2, Bell-McCaffrey) and the lags as a family ----------------------


def _explicit_cr2(df, lag):
    """CR2 variance and Bell-McCaffrey dof of the within slope, the long way: the full regression on
    unit dummies and x, the adjustment matrices (I - H_gg)^(-1/2) by eigen-decomposition
    (pseudo-inverse: with absorbed unit effects I - H_gg is singular; Pustejovsky & Tipton 2018),
    and the dof as (tr G'G)^2 / tr((G'G)^2) with the columns g_g = (I - H)_g A_g X_g c (Bell &
    McCaffrey 2002; Imbens & Kolesar 2016)."""
    pairs = lag_pairs(df, lag=lag)
    codes = pd.factorize(pairs.unit_id, sort=True)[0]
    G, N = codes.max() + 1, len(pairs)
    X = np.column_stack([np.eye(G)[codes], pairs.employee_retention.to_numpy()])
    y = pairs.customer_retention.to_numpy()
    XtXi = np.linalg.pinv(X.T @ X)
    e = y - X @ (XtXi @ X.T @ y)
    M = np.eye(N) - X @ XtXi @ X.T
    c = XtXi[G]  # the slope's row
    var, cols = 0.0, []
    for g in range(G):
        idx = np.flatnonzero(codes == g)
        w, v = np.linalg.eigh(M[np.ix_(idx, idx)])
        A = v @ np.diag(np.where(w > 1e-10, 1 / np.sqrt(np.maximum(w, 1e-10)), 0.0)) @ v.T
        var += float(c @ X[idx].T @ A @ e[idx]) ** 2
        cols.append(M[:, idx] @ A @ X[idx] @ c)
    GtG = np.array(cols) @ np.array(cols).T
    return np.sqrt(var), np.trace(GtG) ** 2 / np.trace(GtG @ GtG)


@pytest.mark.parametrize("seed, lag", [(20, 0), (21, 2)])
def test_cr2_slope_interval_and_dof_equal_the_explicit_matrices(seed, lag):
    from scipy import stats as st

    df = _world(seed, n_units=9, n_periods=8, effect=0.4)
    se, dof = _explicit_cr2(df, lag)
    row = lag_profile(df, lags=[lag], n_boot=0).iloc[0]
    assert row.dof == pytest.approx(dof, rel=1e-8)
    lo, hi = row.slope - st.t.ppf(0.975, dof) * se, row.slope + st.t.ppf(0.975, dof) * se
    from linkage.stats.lags import cr2_inference

    grid = make_grid(df, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    inf = cr2_inference(lag_stats(grid, np.array([lag])), 0.95)
    assert (inf.slope_low[0], inf.slope_high[0]) == pytest.approx((lo, hi), rel=1e-8)


def test_cr2_r_interval_and_p_agree_by_construction():
    df = _world(22, n_units=25, n_periods=12, effect=0.15)
    prof = lag_profile(df, max_lag=4, n_boot=0)
    excludes = (prof.ci_low > 0) | (prof.ci_high < 0)
    assert (excludes == (prof.p_val < 0.05)).all()
    assert ((prof.ci_low < prof.r) & (prof.r < prof.ci_high)).all()


def test_romano_wolf_equals_the_step_down_written_out():
    from linkage.stats.lags import romano_wolf

    rng = np.random.default_rng(0)
    t_obs = np.abs(rng.normal(size=6)) * 2
    t_star = np.abs(rng.normal(size=(300, 6)))
    got = romano_wolf(t_obs, t_star)
    order = np.argsort(-t_obs)
    want, running = np.empty(6), 0.0
    for j, k in enumerate(order):
        rest = order[j:]
        p = (1 + (t_star[:, rest].max(axis=1) >= t_obs[k]).sum()) / 301
        running = max(running, p)
        want[k] = running
    assert np.allclose(got, want)


def test_band_excluding_zero_means_an_adjusted_p_below_alpha():
    for seed in range(6):
        df = _world(30 + seed, n_units=20, n_periods=14, effect=0.2 * (seed % 3))
        prof = lag_profile(df, max_lag=3, n_boot=300, seed=seed)
        outside = (prof.band_low > 0) | (prof.band_high < 0)
        assert (prof.p_adj[outside] < 0.05).all()
        # the largest statistic: its band excludes 0 exactly when its adjusted p is below 0.05
        top = (np.arctanh(prof.r) / (prof.band_high.map(np.arctanh) - prof.band_low.map(np.arctanh))).abs().idxmax()
        assert bool(outside[top]) == bool(prof.p_adj[top] < 0.05)


def test_split_estimate_uses_units_not_used_to_choose_the_lag():
    from linkage.stats.lags import cr2_inference, split_estimate

    df = _world(40, n_units=80, n_periods=20, lag=2, effect=0.5)
    grid = make_grid(df, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    stats = lag_stats(grid, np.arange(-3, 4))
    out = split_estimate(stats, 0.95, seed=1)
    assert out["lag"] == 2 and out["n_units"] == 40
    # rebuild the second half by hand: r and interval there
    perm = np.random.default_rng(1).permutation(np.flatnonzero((stats.Cxx > 0).any(axis=1)))
    half = np.sort(perm[40:])
    sub = grid.units[half]
    g2 = make_grid(df[df.unit_id.isin(sub)], x="employee_retention", y="customer_retention", unit="unit_id",
                   period="period")
    s2 = lag_stats(g2, np.array([2]))
    inf = cr2_inference(s2, 0.95)
    assert out["r"] == pytest.approx(s2.r[0], rel=1e-10)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((inf.ci_low[0], inf.ci_high[0]), rel=1e-8)
    # too few units to split: nothing, said so
    small = lag_stats(make_grid(_world(41, n_units=5), x="employee_retention", y="customer_retention",
                                unit="unit_id", period="period"), np.array([0, 1]))
    assert split_estimate(small, 0.95, seed=0)["lag"] is None


def test_split_estimate_gives_the_slope_of_the_other_half_too():
    from linkage.stats.lags import cr2_inference, split_estimate

    df = _world(42, n_units=60, n_periods=18, lag=1, effect=0.5)
    grid = make_grid(df, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    stats = lag_stats(grid, np.arange(-2, 3))
    out = split_estimate(stats, 0.95, seed=3)
    perm = np.random.default_rng(3).permutation(np.flatnonzero((stats.Cxx > 0).any(axis=1)))
    g2 = make_grid(df[df.unit_id.isin(grid.units[np.sort(perm[30:])])], x="employee_retention",
                   y="customer_retention", unit="unit_id", period="period")
    s2 = lag_stats(g2, np.array([out["lag"]]))
    inf = cr2_inference(s2, 0.95)
    assert out["lag"] == 1
    assert out["slope"] == pytest.approx(s2.slope[0], rel=1e-10)
    assert (out["slope_low"], out["slope_high"]) == pytest.approx((inf.slope_low[0], inf.slope_high[0]), rel=1e-8)
