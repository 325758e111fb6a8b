"""Direction: numpy fixed effects against linearmodels.PanelOLS, the Dumitrescu-Hurlin test against R
plm's published example, semopy against lavaan's, the RI-CLPM and the split-panel jackknife against
planted truths, and the verdict on simulator worlds."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from linkage.errors import InputError
from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import DIRECTION_CAVEATS, cross_lagged, direction_tests, direction_verdict
from linkage.stats._fe import fe_ols
from linkage.stats._prep import make_grid
from linkage.stats._prep import Grid
from linkage.stats.direction import _lagged, cross_lag_comparison, direction_order, granger_dh
from linkage.stats.riclpm import riclpm_grid


@pytest.mark.parametrize("two_way", [False, True])
def test_fe_ols_matches_panelols_on_unbalanced_panel(two_way):
    from linearmodels import PanelOLS

    rng = np.random.default_rng(0)
    U, T = 25, 9
    X = rng.normal(size=(2, U, T))
    Y = 0.4 * X[0] - 0.2 * X[1] + 0.3 * np.arange(T)[None] + 0.1 * np.arange(U)[:, None] + rng.normal(size=(U, T))
    mask = rng.random((U, T)) > 0.2
    uu, tt = np.nonzero(mask)
    df = pd.DataFrame({"u": uu, "t": tt, "y": Y[mask], "a": X[0][mask], "b": X[1][mask]}).set_index(["u", "t"])
    ref = PanelOLS(df.y, df[["a", "b"]], entity_effects=True, time_effects=two_way).fit(
        cov_type="clustered", cluster_entity=True)
    got = fe_ols(Y, X, mask, two_way=two_way)
    assert np.allclose(got["coef"], ref.params.values, rtol=1e-9)
    assert np.allclose(got["se"], ref.std_errors.values, rtol=1e-9)
    assert np.allclose(got["p_val"], ref.pvalues.values, rtol=1e-7)
    assert np.allclose(got["ci_low"], ref.conf_int().lower.values, rtol=1e-9)
    assert got["dof"] == ref.df_resid


def test_cross_lagged_matches_panelols_on_the_sample_design():
    from linearmodels import PanelOLS

    panel, _ = simulate_panel(WorldSpec(n_units=40, months=18, seed=2))
    res = cross_lagged(panel).set_index(["outcome", "predictor"])
    grid = make_grid(panel, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    x0, y0, x1, y1, mask = _lagged(grid)
    uu, tt = np.nonzero(mask)
    d = pd.DataFrame({"u": uu, "t": tt, "y": y0[mask], "y_lag": y1[mask], "x_lag": x1[mask]}).set_index(["u", "t"])
    ref = PanelOLS(d.y, d[["y_lag", "x_lag"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True)
    row = res.loc[("customer_retention", "employee_retention")]
    assert row.coef == pytest.approx(ref.params["x_lag"], rel=1e-8)
    assert row.se == pytest.approx(ref.std_errors["x_lag"], rel=1e-8)
    # the p-value uses the lag tests' reference: t with units - 1 degrees of freedom
    assert row.p_val == pytest.approx(2 * st.t.sf(abs(ref.tstats["x_lag"]), 40 - 1), rel=1e-6)
    assert row.n == ref.nobs


def _direction(spec):
    panel, truth = simulate_panel(spec)
    res = cross_lagged(panel)
    cross = res[res.outcome != res.predictor].set_index("outcome")
    return cross, truth


def _grunfeld():
    """plm's Grunfeld data: statsmodels' copy without its eleventh firm (American Steel)."""
    import statsmodels.api as sm

    d = sm.datasets.grunfeld.load_pandas().data
    d = d[d.firm != "American Steel"].sort_values(["firm", "year"], kind="stable")
    firms = list(dict.fromkeys(sm.datasets.grunfeld.load_pandas().data.firm))[:10]
    inv = np.array([d[d.firm == f].invest.to_numpy() for f in firms])
    val = np.array([d[d.firm == f].value.to_numpy() for f in firms])
    return inv, val


def test_dumitrescu_hurlin_matches_plm_pgrangertest_on_grunfeld():
    inv, val = _grunfeld()
    # R plm's published pgrangertest output (the saved test output of its Grunfeld examples, R 4.4.3):
    # pgrangertest(inv ~ value, data = Grunfeld): Ztilde = 3.2896, p-value = 0.001003
    g1 = granger_dh(inv, val, 1)
    assert g1["z_tilde"] == pytest.approx(3.2896, abs=5e-5)
    assert g1["p_z_tilde"] == pytest.approx(0.001003, abs=5e-7)
    # ... order = 2L: Ztilde = 1.6832, p-value = 0.09234; test = "Zbar": Zbar = 2.9657, p = 0.00302
    g2 = granger_dh(inv, val, 2)
    assert g2["z_tilde"] == pytest.approx(1.6832, abs=5e-5)
    assert g2["p_z_tilde"] == pytest.approx(0.09234, abs=5e-6)
    assert g2["z_bar"] == pytest.approx(2.9657, abs=5e-5)
    assert g2["p_z_bar"] == pytest.approx(0.00302, abs=5e-6)
    # ... the firms' Chisq at order 2 (indgranger, firms 1-9; firm 10 printed only at other orders)
    plm_chisq = [1.8255237, 4.3694800, 0.7983334, 3.3069760, 11.0631807, 10.8343468, 1.3410752,
                 0.2900525, 4.4068769]
    assert np.allclose(g2["w"][:9], plm_chisq, atol=5e-7)


def test_semopy_reproduces_lavaan_political_democracy():
    """The library behind the RI-CLPM, on lavaan's published SEM example (lavaan tutorial, "A
    structural equation model": dem60 ~ ind60 1.483 (se 0.399), dem65 ~ ind60 0.572 (0.221),
    dem65 ~ dem60 0.837 (0.098))."""
    import semopy
    from semopy.examples import political_democracy as pd_

    m = semopy.Model(pd_.get_model())
    m.fit(pd_.get_data())
    est = m.inspect().query("op == '~'").set_index(["lval", "rval"])
    for (lv, rv), (b, se) in {("dem60", "ind60"): (1.483, 0.399), ("dem65", "ind60"): (0.572, 0.221),
                              ("dem65", "dem60"): (0.837, 0.098)}.items():
        assert est.loc[(lv, rv), "Estimate"] == pytest.approx(b, abs=1.5e-3)
        assert est.loc[(lv, rv), "Std. Err"] == pytest.approx(se, abs=1.5e-3)


def _var_world(n, T, *, a_x, a_y, b_yx, b_xy, rho=0.3, ri_sd=1.0, seed=0, burn=30):
    """A bivariate panel VAR(1) with correlated random intercepts (the RI-CLPM's data model):
    x(t) = RIx + wx(t), wx(t) = a_x wx(t-1) + b_xy wy(t-1) + e, and the same for y with b_yx."""
    rng = np.random.default_rng(seed)
    RI = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=n) * ri_sd
    wx = np.zeros(n)
    wy = np.zeros(n)
    X = np.empty((n, T))
    Y = np.empty((n, T))
    for t in range(-burn, T):
        ex = rng.normal(size=n)
        ey = rho * ex + np.sqrt(1 - rho**2) * rng.normal(size=n)
        wx, wy = a_x * wx + b_xy * wy + ex, a_y * wy + b_yx * wx + ey
        if t >= 0:
            X[:, t], Y[:, t] = RI[:, 0] + wx, RI[:, 1] + wy
    return Grid(values={"x": X, "y": Y}, W=np.ones((n, T)), units=np.arange(n), periods=np.arange(T),
                step="month", weighted=False, x="x", y="y")


def _within_sd(A):
    return np.sqrt(((A - A.mean(axis=1, keepdims=True)) ** 2).sum() / (A.size - A.shape[0]))


def test_riclpm_recovers_planted_cross_lags():
    g = _var_world(1500, 12, a_x=0.5, a_y=0.4, b_yx=0.25, b_xy=0.0, seed=4)
    rows = {r["quantity"]: r for r in riclpm_grid(g, waves=5)}
    # planted x -> y cross-lag 0.25 on the raw scale; the model works on x / sd_x and y / sd_y
    sx, sy = _within_sd(g.X), _within_sd(g.Y)
    truth_ec = 0.25 * sx / sy
    assert abs(rows["employees -> customers"]["estimate"] - truth_ec) < 3 * rows["employees -> customers"]["se"]
    assert abs(rows["customers -> employees"]["estimate"]) < 3 * rows["customers -> employees"]["se"]
    assert rows["difference"]["p_val"] < 1e-6 and rows["difference"]["n_units"] == 1500


def test_riclpm_refuses_too_few_units_or_periods():
    g = _var_world(20, 12, a_x=0.5, a_y=0.4, b_yx=0.2, b_xy=0.0)
    with pytest.raises(InputError, match="complete on its 6 waves"):
        riclpm_grid(g)
    with pytest.raises(InputError, match="needs 16 periods"):
        riclpm_grid(g, order=3)


def test_split_panel_jackknife_removes_nickell_bias():
    """24 periods, persistence 0.8 in x and 0.3 in y, no cross-lag either way: the fixed-effects
    cross-lags are biased apart (a false difference), the jackknife's are not."""
    g = _var_world(3000, 24, a_x=0.8, a_y=0.3, b_yx=0.0, b_xy=0.0, rho=0.5, seed=7)
    rows = pd.DataFrame(cross_lag_comparison(g, order=1)).set_index(["method", "quantity"])
    fe = rows.loc[("cross_lagged_fe", "difference")]
    spj = rows.loc[("split_panel_jackknife", "difference")]
    assert fe.p_val < 0.001  # the naive comparison finds a direction that is not there
    assert abs(spj.estimate) < 2.5 * spj.se
    assert abs(spj.estimate) < abs(fe.estimate) / 3
    assert spj.dof == 3000 - 1


def test_dumitrescu_hurlin_finds_a_planted_one_way_world_and_not_the_reverse():
    g = _var_world(200, 30, a_x=0.5, a_y=0.4, b_yx=0.3, b_xy=0.0, seed=2)
    assert granger_dh(g.Y, g.X, 1)["p_z_tilde"] < 1e-6
    assert granger_dh(g.X, g.Y, 1)["p_z_tilde"] > 0.01


def test_direction_order_follows_the_profile():
    assert [direction_order(k, 36) for k in (None, 0, 1, -2, 3, 9)] == [1, 1, 1, 2, 3, 6]
    assert direction_order(5, 8) == 2


def test_verdict_comes_from_the_difference_test_only():
    tests = pd.DataFrame([
        # one direction significant, the other not, but the difference is not: no order claimed
        {"method": "split_panel_jackknife", "quantity": "employees -> customers", "estimate": 0.10,
         "ci_low": 0.01, "ci_high": 0.19, "p_val": 0.03, "order": 1},
        {"method": "split_panel_jackknife", "quantity": "customers -> employees", "estimate": 0.04,
         "ci_low": -0.05, "ci_high": 0.13, "p_val": 0.40, "order": 1},
        {"method": "split_panel_jackknife", "quantity": "difference", "estimate": 0.06,
         "ci_low": -0.06, "ci_high": 0.18, "p_val": 0.31, "order": 1},
    ])
    v = direction_verdict(tests)
    assert v["verdict"] == "no_clear_order" and "cannot tell" in v["sentence"]
    tests.loc[2, ["p_val", "ci_low"]] = [0.01, 0.02]
    assert direction_verdict(tests)["verdict"] == "employees_lead"
    tests.loc[2, ["estimate", "ci_low", "ci_high"]] = [-0.06, -0.18, -0.02]
    v = direction_verdict(tests)
    assert v["verdict"] == "customers_lead" and "customers may drive staff" in v["sentence"]
    assert direction_verdict(tests.iloc[:0])["verdict"] == "not_tested"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (dict(lag=1, effect_staff=0.8, effect_customer=0.8, seed=5), "employees_lead"),
        (dict(effect_staff=0.0, effect_customer=0.0, reverse=1.0, seed=3), "customers_lead"),
    ],
)
def test_verdict_on_simulator_worlds(spec, expected):
    panel, truth = simulate_panel(WorldSpec(n_units=150, months=36, **spec))
    assert truth["facts"]["expected_direction"] == expected
    tests = direction_tests(panel, order=1)
    assert direction_verdict(tests)["verdict"] == expected


def test_employees_lead_in_a_world_where_they_do():
    cross, truth = _direction(WorldSpec(n_units=150, months=36, lag=1, effect_staff=0.8, effect_customer=0.8,
                                        seed=5))
    assert truth["facts"]["expected_direction"] == "employees_lead"
    assert cross.loc["customer_retention", "p_val"] < 0.01
    assert cross.loc["customer_retention", "std_coef"] > 0
    assert cross.loc["customer_retention", "std_coef"] > abs(cross.loc["employee_retention", "std_coef"])


def test_columns_and_caveats():
    panel, _ = simulate_panel(WorldSpec(n_units=20, months=12, seed=1))
    res = cross_lagged(panel, time_effects=False)
    assert list(res.columns) == ["method", "outcome", "predictor", "lag", "coef", "se", "ci_low", "ci_high",
                                 "p_val", "std_coef", "std_ci_low", "std_ci_high", "n", "n_units"]
    assert len(res) == 4 and (res.ci_low < res.coef).all() and (res.coef < res.ci_high).all()
    assert any("Nickell" in c for c in DIRECTION_CAVEATS) and any("causation" in c for c in DIRECTION_CAVEATS)


def test_too_short_panel_raises():
    df = pd.DataFrame({"unit_id": ["a", "b", "c"], "period": [1, 1, 1], "employee_retention": [0.9, 0.8, 0.7],
                       "customer_retention": [0.9, 0.8, 0.7]})
    with pytest.raises(InputError, match="consecutive periods"):
        cross_lagged(df)


def test_customers_lead_in_a_reverse_world():
    cross, truth = _direction(WorldSpec(n_units=150, months=36, effect_staff=0.0, effect_customer=0.0,
                                        reverse=1.0, seed=3))
    assert truth["facts"]["expected_direction"] == "customers_lead"
    assert cross.loc["employee_retention", "p_val"] < 0.01 and cross.loc["employee_retention", "std_coef"] > 0
    assert cross.loc["customer_retention", "p_val"] > 0.05


def test_analyse_takes_the_lag_order_from_the_profile_and_states_the_verdict():
    import json

    from linkage.stats import analyse

    panel, truth = simulate_panel(WorldSpec(n_units=150, months=36, lag=2, seed=11))
    res = analyse(panel, max_lag=3, n_boot=200, riclpm=True)
    assert res.best_lag == truth["facts"]["planted_lag"] == 2
    assert res.settings["direction_order"] == 2 and set(res.direction["lag"]) == {1, 2}
    assert res.settings["riclpm_model"].startswith("stationary RI-CLPM over the 6 most recent months 2 apart")
    assert set(res.direction_tests["method"]) == {
        "cross_lagged_fe", "split_panel_jackknife", "dumitrescu_hurlin_zbar_tilde", "dumitrescu_hurlin_zbar",
        "riclpm_stationary"}
    v = res.direction_verdict
    assert v["verdict"] == truth["facts"]["expected_direction"] == "employees_lead"
    assert v["sentence"] in res.text and "over 2 months" in v["sentence"]
    # the JSON of linkage link --json carries the table and the verdict beside `direction`
    d = json.loads(json.dumps(res.to_dict()))
    assert len(d["direction"]) == 8 and d["direction_verdict"]["verdict"] == "employees_lead"
    spj = [r for r in d["direction_tests"] if r["method"] == "split_panel_jackknife"]
    assert spj[2]["quantity"] == "difference" and spj[2]["dof"] == 149
    assert spj[2]["estimate"] == pytest.approx(v["difference"])


def test_order_two_and_the_comparison_match_panelols():
    """Order 2: the coefficients are PanelOLS's; the comparison's clustered covariance (built from the
    units' influence, times G / (G - 1)) is PanelOLS's with group_debias=True, debiased=False, which
    also multiplies by (n - 1) / (n - absorbed effects): here 640 rows, 40 units + 16 periods - 1."""
    from linearmodels import PanelOLS

    panel, _ = simulate_panel(WorldSpec(n_units=40, months=18, seed=2))
    grid = make_grid(panel, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    res = cross_lagged(panel, order=2)
    assert len(res) == 8 and list(res.lag[:4]) == [1, 2, 1, 2]
    yy, xx = grid.Y, grid.X
    T = yy.shape[1]
    cols = {"y": yy[:, 2:], "y1": yy[:, 1 : T - 1], "y2": yy[:, : T - 2], "x1": xx[:, 1 : T - 1],
            "x2": xx[:, : T - 2]}
    ok = np.all([np.isfinite(v) for v in cols.values()], axis=0)
    uu, tt = np.nonzero(ok)
    d = pd.DataFrame({"u": uu, "t": tt, **{k: v[ok] for k, v in cols.items()}}).set_index(["u", "t"])
    ref = PanelOLS(d.y, d[["y1", "y2", "x1", "x2"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=False, group_debias=True)
    got = res[res.outcome == "customer_retention"]
    assert np.allclose(got.coef, ref.params.values, rtol=1e-8)
    rows = pd.DataFrame(cross_lag_comparison(grid, order=2)).set_index(["method", "quantity"])
    ec = rows.loc[("cross_lagged_fe", "employees -> customers")]
    # the estimate is (b_x1 + b_x2) * sd(x) / sd(y), a fixed scale: compare scale-free ratios
    V = ref.cov.loc[["x1", "x2"], ["x1", "x2"]].to_numpy()
    b = ref.params["x1"] + ref.params["x2"]
    assert ec.se / ec.estimate == pytest.approx(np.sqrt(V.sum() * (640 - 55) / (640 - 1)) / b, rel=1e-8)


def test_linkage_link_json_carries_the_direction_and_the_opt_in_riclpm(tmp_path, capsys):
    import json

    from linkage.cli import main

    panel, _ = simulate_panel(WorldSpec(n_units=60, months=24, lag=1, seed=4))
    panel.to_csv(tmp_path / "panel.csv", index=False)
    assert main(["link", str(tmp_path / "panel.csv"), "--json", "--boot", "100", "--max-lag", "2",
                 "--riclpm"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["settings"]["riclpm"] is True and d["direction_verdict"]["method"] == "split_panel_jackknife"
    assert {r["method"] for r in d["direction_tests"]} >= {"split_panel_jackknife", "riclpm_stationary"}
    assert main(["link", str(tmp_path / "panel.csv"), "--boot", "100", "--max-lag", "2"]) == 0
    out = capsys.readouterr().out
    assert "Which way it runs" in out and "Verdict (split-panel jackknife difference)" in out
