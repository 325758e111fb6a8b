"""linkage.simulate: the latent model, the fast panel, and the truth it plants.

Reference values here are the simulator's own planted truth (WorldSpec parameters) and statistics
computed in the tests with plain numpy (unit-demeaned Pearson r, as rmcorr defines it: Bakdash &
Marusich 2017; equivalently pingouin.rm_corr).
"""

import json

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.simulate import SCENARIOS, WorldSpec, scenario, simulate_panel, truth_latent

PANEL_COLUMNS = [
    "unit_id", "period",
    "employee_start", "employee_joined", "employee_left", "employee_retained", "employee_end",
    "employee_retention", "employee_turnover",
    "customer_start", "customer_joined", "customer_left", "customer_retained", "customer_end",
    "customer_retention", "customer_turnover",
    "region",
]


def within_r(panel: pd.DataFrame, lag: int, *, months: int, period_adjusted: bool = False) -> float:
    """rmcorr-style r of employee retention at t with customer retention at t + lag (plain numpy)."""
    x = panel["employee_retention"].to_numpy().reshape(-1, months)
    y = panel["customer_retention"].to_numpy().reshape(-1, months)
    if lag >= 0:
        x, y = x[:, : months - lag], y[:, lag:]
    else:
        x, y = x[:, -lag:], y[:, : months + lag]
    ok = ~np.isnan(x) & ~np.isnan(y)
    n = ok.sum(axis=1, keepdims=True)
    xd = np.where(ok, x - np.where(ok, x, 0).sum(1, keepdims=True) / np.maximum(n, 1), 0.0)
    yd = np.where(ok, y - np.where(ok, y, 0).sum(1, keepdims=True) / np.maximum(n, 1), 0.0)
    if period_adjusted:  # subtract each period's mean deviation (two-way demeaning)
        xd = np.where(ok, xd - xd.sum(0) / np.maximum(ok.sum(0), 1), 0.0)
        yd = np.where(ok, yd - yd.sum(0) / np.maximum(ok.sum(0), 1), 0.0)
    return float((xd * yd).sum() / np.sqrt((xd**2).sum() * (yd**2).sum()))


def between_r(panel: pd.DataFrame) -> float:
    means = panel.groupby("unit_id")[["employee_retention", "customer_retention"]].mean()
    return float(np.corrcoef(means["employee_retention"], means["customer_retention"])[0, 1])


def profile(panel, months, lags=range(-6, 7), **kw):
    return {k: within_r(panel, k, months=months, **kw) for k in lags}


# ---- spec ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"n_units": 1}, "n_units"),
        ({"months": 2}, "months"),
        ({"lag": -1}, "lag"),
        ({"lag": 25}, "lag"),
        ({"lag": 1.5}, "lag"),
        ({"lag": True}, "lag"),
        ({"start": "2023-13"}, "start"),
        ({"start": "Jan 2023"}, "start"),
        ({"climate_persistence": 1.0}, "climate_persistence"),
        ({"staff_quit_rate": 0.0}, "staff_quit_rate"),
        ({"customer_churn_rate": 0.7}, "customer_churn_rate"),
        ({"effect_staff": float("nan")}, "effect_staff"),
        ({"confound": "strong"}, "confound"),
        ({"n_regions": 3}, "n_regions"),
        ({"n_regions": 7}, "n_regions"),
        ({"hire_fill": 0.0}, "hire_fill"),
        ({"seed": -1}, "seed"),
        ({"headcount_sigma": -0.1}, "headcount_sigma"),
    ],
)
def test_spec_rejects_out_of_range(changes, column):
    with pytest.raises(InputError) as err:
        WorldSpec(**changes)
    assert err.value.column == column
    assert err.value.file == "WorldSpec"


def test_spec_is_frozen_normalised_and_round_trips():
    spec = WorldSpec(n_units=np.int64(7), effect_staff=1, seed=3)
    assert spec.n_units == 7 and type(spec.n_units) is int
    assert spec.effect_staff == 1.0 and type(spec.effect_staff) is float
    with pytest.raises(AttributeError):
        spec.lag = 4  # frozen
    assert WorldSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(InputError, match="no parameter 'effect'"):
        spec.replace(effect=1.0)
    with pytest.raises(InputError, match="no parameter"):
        WorldSpec.from_dict({"units": 3})


def test_simulate_panel_rejects_a_non_spec():
    with pytest.raises(InputError, match="WorldSpec"):
        simulate_panel({"n_units": 3})


# ---- panel shape and accounting --------------------------------------------------------------


def test_panel_columns_types_and_accounting():
    panel, truth = simulate_panel(WorldSpec(n_units=30, months=24, headcount_median=4, seed=5))
    assert list(panel.columns) == PANEL_COLUMNS
    assert len(panel) == 30 * 24
    assert str(panel["unit_id"].dtype) == "str" and panel["unit_id"].str.fullmatch(r"\d{3}").all()
    assert str(panel["period"].dtype).startswith("datetime64")
    assert panel["period"].dt.day.eq(1).all()
    assert panel.sort_values(["unit_id", "period"]).index.equals(panel.index)
    for side in ("employee", "customer"):
        c = {f: panel[f"{side}_{f}"] for f in ("start", "joined", "left", "retained", "end")}
        assert all(str(v.dtype) == "int64" for v in c.values())
        assert (c["retained"] == c["start"] - c["left"]).all()
        assert (c["end"] == c["retained"] + c["joined"]).all()
        assert (c["retained"] >= 0).all() and (c["retained"] <= c["start"]).all()
        # next period's start is this period's end, unit by unit
        same_unit = panel["unit_id"].eq(panel["unit_id"].shift(-1))
        assert (c["start"].shift(-1)[same_unit] == c["end"][same_unit]).all()
        rate = panel[f"{side}_retention"]
        zero = c["start"] == 0
        assert rate[zero].isna().all()
        np.testing.assert_allclose(rate[~zero], (c["retained"] / c["start"])[~zero])
        avg = (c["start"] + c["end"]) / 2
        np.testing.assert_allclose(panel[f"{side}_turnover"][avg > 0], (c["left"] / avg)[avg > 0])
    # tiny units exist with this spec, and they make NaN rates possible, never 0/0 = 0 or 1
    assert panel["employee_start"].min() <= 2
    assert truth["facts"]["window_start"] == "2023-01-01"
    assert truth["facts"]["window_end"] == "2024-12-31"


def test_same_seed_same_world_other_seed_other_world():
    a, ta = simulate_panel(WorldSpec(n_units=10, months=12, seed=11))
    b, tb = simulate_panel(WorldSpec(n_units=10, months=12, seed=11))
    c, _ = simulate_panel(WorldSpec(n_units=10, months=12, seed=12))
    pd.testing.assert_frame_equal(a, b)
    assert json.dumps(ta) == json.dumps(tb)
    assert not a["customer_left"].equals(c["customer_left"])


def test_truth_is_strict_json_and_its_latent_table_lines_up():
    spec = WorldSpec(n_units=8, months=10, seed=2)
    panel, truth = simulate_panel(spec)
    json.dumps(truth, allow_nan=False)
    assert truth["spec"] == spec.to_dict()
    latent = truth_latent(truth)
    assert list(latent[["unit_id", "period"]].itertuples(index=False)) == list(
        panel[["unit_id", "period"]].itertuples(index=False))
    assert latent["staff_hazard"].between(0, 1).all()
    np.testing.assert_allclose(latent["expected_employee_retention"], 1 - latent["staff_hazard"], atol=2e-6)
    with pytest.raises(InputError, match="latent"):
        truth_latent({"facts": {}})


# ---- planted truth shows in the panel --------------------------------------------------------


@pytest.mark.parametrize(("lag", "seed"), [(0, 1), (2, 2), (3, 3), (5, 4)])
def test_planted_lag_is_the_peak_of_the_within_unit_profile(lag, seed):
    spec = WorldSpec(n_units=150, months=36, lag=lag, effect_staff=0.8, effect_customer=0.8,
                     climate_persistence=0.4, seed=seed)
    panel, truth = simulate_panel(spec)
    prof = profile(panel, 36)
    best = max(prof, key=prof.get)
    assert best == lag == truth["facts"]["planted_lag"]
    assert prof[lag] > 0 and truth["facts"]["within_sign"] == 1
    # the truth's expected observed r is where the observed r lands (binomial noise included)
    assert prof[lag] == pytest.approx(truth["facts"]["within_r_expected"], abs=0.06)


def test_negative_effects_plant_a_negative_within_link():
    spec = WorldSpec(n_units=150, months=36, lag=1, effect_staff=0.8, effect_customer=-0.8, seed=9)
    panel, truth = simulate_panel(spec)
    prof = profile(panel, 36)
    assert min(prof, key=prof.get) == 1 and prof[1] < -0.05
    assert truth["facts"]["within_sign"] == -1


def test_expected_within_r_is_unbiased_over_seeds():
    # mean observed within-unit r at the planted lag over 40 worlds vs the truth's expectation
    obs, exp = [], []
    for seed in range(40):
        panel, truth = simulate_panel(WorldSpec(n_units=60, months=24, seed=seed))
        obs.append(within_r(panel, 2, months=24))
        exp.append(truth["facts"]["within_r_expected"])
    se = np.std(obs) / np.sqrt(len(obs))
    assert abs(np.mean(obs) - np.mean(exp)) < 4 * se + 0.01
    assert 0.1 < np.mean(exp) < 0.35


@pytest.mark.parametrize("period_adjusted", [False, True])
def test_expected_within_r_of_the_sample_spec_is_the_mean_observed_r(period_adjusted):
    # the bundled sample shows 0.295 at lag 2 against within_r_expected 0.230: one high draw of the
    # binomial noise, not a biased formula. Reference: the mean over seeds of the observed r (plain
    # numpy rmcorr) minus the truth's expectation, paired per world (sd 0.021 per world over 150
    # seeds, so 16 worlds give a standard error of about 0.005)
    from linkage.simulate import SAMPLE_SPEC

    key = "within_r_expected_period_adjusted" if period_adjusted else "within_r_expected"
    diff, exp = [], []
    for seed in range(16):
        panel, truth = simulate_panel(SAMPLE_SPEC.replace(seed=seed))
        obs = within_r(panel, SAMPLE_SPEC.lag, months=SAMPLE_SPEC.months, period_adjusted=period_adjusted)
        exp.append(truth["facts"][key])
        diff.append(obs - truth["facts"][key])
    assert abs(np.mean(diff)) < 0.015
    assert 0.15 < np.mean(exp) < 0.35 and np.std(diff) < 0.04
    # the latent r (no binomial noise) is far higher: the expectation must allow for the noise
    assert truth["facts"]["within_r_latent"] > np.mean(exp) + 0.4


def test_zero_effects_give_a_true_null():
    spec = WorldSpec(n_units=200, months=36, effect_staff=0.0, effect_customer=0.0, confound=0.0, seed=21)
    panel, truth = simulate_panel(spec)
    facts = truth["facts"]
    assert facts["null"] is True and facts["expected_direction"] == "none"
    assert facts["within_sign"] == 0 and facts["within_r_expected"] == 0.0
    assert all(p["r_latent"] == 0.0 for p in truth["lag_profile"])
    n = len(panel) - 200  # about N - units observations
    for k, r in profile(panel, 36).items():
        assert abs(r) < 3.5 / np.sqrt(n), (k, r)
    # the latent hazards of the two sides are independent: employees do not depend on customers
    again, _ = simulate_panel(spec.replace(customer_churn_rate=0.2, shock_sd=1.0))
    pd.testing.assert_series_equal(again["employee_left"], panel["employee_left"])


def test_confound_makes_between_and_within_differ_in_sign():
    spec = WorldSpec(n_units=200, months=36, confound=1.0, seed=8)
    panel, truth = simulate_panel(spec)
    assert within_r(panel, spec.lag, months=36) > 0.05
    assert between_r(panel) < -0.2
    assert truth["facts"]["between_sign"] == -1 and truth["facts"]["within_sign"] == 1
    # and without the confound, better units keep both: between is positive
    plain, truth0 = simulate_panel(spec.replace(confound=0.0))
    assert between_r(plain) > 0.2 and truth0["facts"]["between_sign"] == 1


def test_shared_seasonality_fakes_a_link_that_period_adjustment_removes():
    spec = WorldSpec(n_units=150, months=36, effect_staff=0.0, effect_customer=0.0, seasonality=0.8, seed=4)
    panel, truth = simulate_panel(spec)
    assert within_r(panel, 0, months=36) > 0.1  # the shared calendar alone
    assert abs(within_r(panel, 0, months=36, period_adjusted=True)) < 0.05
    lag0 = next(p for p in truth["lag_profile"] if p["lag"] == 0)
    assert lag0["r_latent"] > 0.8 and abs(lag0["r_latent_period_adjusted"]) < 0.05  # not 0: logistic scale differs by unit
    assert truth["facts"]["null"] is True  # no causal link was planted


def test_reverse_effect_makes_customers_lead():
    spec = WorldSpec(n_units=150, months=36, effect_staff=0.0, effect_customer=0.0, shock_sd=0.8,
                     reverse=1.0, reverse_lag=1, seed=6)
    panel, truth = simulate_panel(spec)
    prof = profile(panel, 36)
    assert max(prof, key=prof.get) == -1  # customers at t, employees at t + 1
    assert truth["facts"]["expected_direction"] == "customers_lead"
    both = simulate_panel(spec.replace(effect_staff=0.5, effect_customer=0.5))[1]
    assert both["facts"]["expected_direction"] == "both"


# ---- teaching scenarios ----------------------------------------------------------------------


def _scenario_checks(name, panel, facts):
    prof = profile(panel, 36)
    adj = profile(panel, 36, period_adjusted=True)
    best = max(prof, key=prof.get)
    small = 4 / np.sqrt(len(panel) - 100)  # about 4 standard errors of r under no link (13 lags)
    if name == "chain":
        assert best == 2 and between_r(panel) > 0.2 and (facts["between_sign"], facts["within_sign"]) == (1, 1)
    elif name == "null":
        assert all(abs(r) < small for r in prof.values()) and facts["null"]
    elif name == "ecological":
        assert between_r(panel) > 0.5 and all(abs(r) < small for r in prof.values())
        assert (facts["between_sign"], facts["within_sign"], facts["null"]) == (1, 0, True)
    elif name == "simpson":
        assert between_r(panel) < -0.2 and prof[2] > small and best == 2
        assert (facts["between_sign"], facts["within_sign"]) == (-1, 1)
    elif name == "seasonality":
        assert prof[0] > 0.1 and abs(adj[0]) < small and facts["null"]
        assert facts["within_r_expected_period_adjusted"] == pytest.approx(0, abs=0.01)
    elif name == "tiny_units":
        assert facts["within_r_expected"] < 0.1 and prof[2] == pytest.approx(facts["within_r_expected"], abs=0.05)
    elif name == "reverse":
        assert best == -1 and facts["expected_direction"] == "customers_lead" and facts["within_sign"] == 0


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_shows_its_pitfall(name):
    spec = scenario(name, seed=3)
    assert spec == WorldSpec().replace(**SCENARIOS[name][1], seed=3)
    panel, truth = simulate_panel(spec)
    _scenario_checks(name, panel, truth["facts"])


def test_unknown_scenario_is_an_input_error():
    with pytest.raises(InputError, match="simpson"):
        scenario("simson")
    with pytest.raises(InputError, match="no parameter"):
        scenario("null", effect=1.0)
