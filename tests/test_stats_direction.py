"""Cross-lagged direction: numpy fixed effects against linearmodels.PanelOLS, and planted directions."""

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import DIRECTION_CAVEATS, cross_lagged
from linkage.stats._fe import fe_ols
from linkage.stats._prep import make_grid
from linkage.stats.direction import _lagged


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
    assert row.p_val == pytest.approx(ref.pvalues["x_lag"], rel=1e-6)
    assert row.n == ref.nobs


def _direction(spec):
    panel, truth = simulate_panel(spec)
    res = cross_lagged(panel)
    cross = res[res.outcome != res.predictor].set_index("outcome")
    return cross, truth


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
