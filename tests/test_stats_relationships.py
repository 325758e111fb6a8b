"""The relationship hazard: reference values, a hand-worked case, the simulator's planted truth."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from linkage.clean import clean_relationships
from linkage.errors import InputError
from linkage.simulate import RelationshipSpec, WorldSpec, simulate
from linkage.stats import RelationshipResult, relationship_hazard
from linkage.stats.relationships import conditional_poisson

# Doll and Hill's British doctors: deaths and person-years of smokers (first of each pair) and
# non-smokers by age group 35-44 ... 75-84 (Breslow & Day 1987, Statistical Methods in Cancer
# Research vol. II, table 2.2; Stata's dataset dollhill3).
DEATHS = np.array([32, 2, 104, 12, 206, 28, 186, 28, 102, 31])
PYEARS = np.array([52407, 18790, 43248, 10673, 28612, 5710, 12663, 2585, 5317, 1462])
AGE = np.repeat(np.arange(5), 2)
SMOKES = np.tile([1.0, 0.0], 5)


def test_doll_hill_rate_ratio_matches_the_published_poisson_fit():
    # Stata manual, [R] poisson: `poisson deaths smokes i.agecat, exposure(pyears) irr` gives the
    # smoking incidence-rate ratio 1.425519 (coefficient 0.3545356)
    beta, _ = conditional_poisson(AGE, SMOKES[:, None], PYEARS, DEATHS, np.arange(10))
    assert beta[0] == pytest.approx(0.3545356, abs=1e-6)
    assert np.exp(beta[0]) == pytest.approx(1.425519, abs=1e-6)


def test_doll_hill_same_as_statsmodels_poisson_with_age_dummies():
    # the reference implementation: statsmodels' Poisson GLM, one dummy per age group, offset
    x = np.column_stack([SMOKES, pd.get_dummies(AGE).to_numpy(float)])
    fit = sm.GLM(DEATHS, x, family=sm.families.Poisson(), offset=np.log(PYEARS)).fit()
    beta, _ = conditional_poisson(AGE, SMOKES[:, None], PYEARS, DEATHS, np.arange(10))
    assert beta[0] == pytest.approx(fit.params[0], abs=1e-8)


def test_cluster_covariance_matches_statsmodels():
    # strata nested in clusters; statsmodels' cluster-robust GLM without its small-sample factor,
    # times G / (G - 1)
    rng = np.random.default_rng(3)
    n_clusters, per = 25, 8
    stratum = np.repeat(np.arange(n_clusters * per), 3)
    cluster = stratum // per
    x = np.column_stack([np.tile([0.0, 1.0, 0.0], n_clusters * per), np.tile([0, 0, 1.0], 200)])
    at_risk = rng.integers(20, 60, size=stratum.size).astype(float)
    lam = np.exp(rng.normal(-3, 0.3, size=n_clusters * per))[stratum]
    events = rng.poisson(at_risk * lam * np.exp(x @ np.array([0.5, -0.2])))
    beta, cov = conditional_poisson(stratum, x, at_risk, events, cluster)
    dummies = pd.get_dummies(stratum).to_numpy(float)
    fit = sm.GLM(
        events, np.column_stack([x, dummies]), family=sm.families.Poisson(), offset=np.log(at_risk)
    ).fit(cov_type="cluster", cov_kwds={"groups": cluster, "use_correction": False})
    np.testing.assert_allclose(beta, fit.params[:2], atol=1e-7)
    g = n_clusters
    np.testing.assert_allclose(cov, fit.cov_params()[:2, :2] * g / (g - 1), rtol=1e-5)


def _tiny():
    """One unit: e1 serves c01-c10 and leaves on 2023-01-15, e2 serves c11-c30 and stays; in
    February 2 of e1's customers and 1 of e2's leave."""
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(1, 31)],
            "unit_id": "u1",
            "start_date": pd.Timestamp("2022-01-01"),
            "end_date": pd.NaT,
            "served_by": ["e1"] * 10 + ["e2"] * 20,
        }
    )
    customers.loc[[0, 1, 10], "end_date"] = pd.Timestamp("2023-02-10")
    employees = pd.DataFrame(
        {
            "employee_id": ["e1", "e2"],
            "unit_id": "u1",
            "hire_date": pd.Timestamp("2020-01-01"),
            "termination_date": [pd.Timestamp("2023-01-15"), pd.NaT],
        }
    )
    return employees, customers


def test_hand_worked_single_month():
    # exposed: 2 lost of 10 at risk, the others 1 of 20: rate ratio (2/10) / (1/20) = 4; the
    # month's hazard without the effect is 3 / (20 + 4 * 10) = 0.05, so the exposed would have
    # lost 10 * 0.05 = 0.5: 1.5 extra customers for the one departure
    employees, customers = _tiny()
    res = relationship_hazard(
        employees, customers, window=1, start="2023-02-01", end="2023-02-01", k=1
    )
    assert isinstance(res, RelationshipResult)
    assert res.hazard_ratio == pytest.approx(4.0)
    assert res.customers_lost_per_departure["estimate"] == pytest.approx(1.5)
    assert (res.customers_exposed, res.departures, res.customers_at_risk) == (10, 1, 30)
    assert res.handover is None  # served_by alone does not say when a new owner took over
    assert res.by_relationship_length["length"].tolist() == ["1 to 3 years"]


def test_privacy_small_groups():
    employees, customers = _tiny()
    with pytest.raises(InputError, match="too few to report"):
        relationship_hazard(employees, customers, window=1, start="2023-02-01", end="2023-02-01")
    with pytest.raises(InputError, match="served_by"):
        relationship_hazard(employees, customers.drop(columns="served_by"))


@pytest.fixture(scope="module")
def planted():
    spec = WorldSpec(n_units=60, months=24, seed=11)
    plain = simulate(spec)
    world = simulate(spec, relationships=RelationshipSpec(hazard_ratio=2.0, quick_hazard_ratio=2.0))
    return plain, world


def test_relationships_leave_the_world_unchanged(planted):
    plain, world = planted
    assert world.customers.drop(columns="served_by").equals(plain.customers)
    assert world.employees.equals(plain.employees)
    assert world.panel.equals(plain.panel)
    rel = world.relationships
    assert set(rel["employee_id"]) <= set(world.employees["employee_id"])
    assert set(world.customers["served_by"].dropna()) <= set(world.employees["employee_id"])
    # one owner at a time: cleaning sets no relationship aside
    cleaned = clean_relationships(rel, employees=world.employees, as_of="2030-01-01")
    assert cleaned.n_kept == len(rel)
    assert world.truth["relationships"]["planted"]["hazard_ratio"] == 2.0


def test_recovers_the_planted_hazard_ratio(planted):
    # the simulator plants 2.0 for 6 months after the departure month
    _, world = planted
    res = relationship_hazard(world.employees, world.customers, relationships=world.relationships)
    assert res.ci_low < 2.0 < res.ci_high
    assert res.hazard_ratio == pytest.approx(2.0, rel=0.1)
    months = res.by_months_since_departure
    assert months["month"].tolist() == [1, 2, 3, 4, 5, 6]
    assert (months["customers"] >= 5).all() and (months["hazard_ratio"] > 1.3).all()
    assert res.handover is not None and res.handover["diff_p"] > 0.001
    doc = res.to_dict()
    for key in ("hazard_ratio", "ci_low", "ci_high", "p_val", "customers_exposed", "departures"):
        assert isinstance(doc[key], (int, float))
    assert set(doc["customers_lost_per_departure"]) == {"estimate", "ci_low", "ci_high"}
    assert doc["customers_lost_per_departure"]["estimate"] > 0


def test_null_world_shows_no_effect():
    world = simulate(
        WorldSpec(n_units=40, months=24, seed=12),
        relationships=RelationshipSpec(hazard_ratio=1.0, quick_hazard_ratio=1.0),
    )
    res = relationship_hazard(world.employees, world.customers, relationships=world.relationships)
    assert res.ci_low < 1.0 < res.ci_high
    assert "no clear difference" in res.text


def test_quick_handover_softens():
    world = simulate(
        WorldSpec(n_units=60, months=24, seed=13),
        relationships=RelationshipSpec(hazard_ratio=2.5, quick_hazard_ratio=1.0),
    )
    res = relationship_hazard(world.employees, world.customers, relationships=world.relationships)
    assert res.handover is not None
    assert res.handover["quick"]["ci_low"] < 1.0 < res.handover["quick"]["ci_high"]
    assert res.handover["slow"]["ci_low"] < 2.5 < res.handover["slow"]["ci_high"]
    assert res.handover["diff_p"] < 0.001
    assert "a quick handover softens the loss" in res.text


def test_bad_settings():
    employees, customers = _tiny()
    with pytest.raises(InputError, match="window"):
        relationship_hazard(employees, customers, window=0)
    with pytest.raises(InputError, match="handover_days"):
        relationship_hazard(employees, customers, handover_days=-1)


def test_groups_below_k_are_suppressed(planted):
    _, world = planted
    full = relationship_hazard(world.employees, world.customers, relationships=world.relationships)
    lengths = full.by_relationship_length
    smallest = int(lengths[["customers", "departures"]].min(axis=1).min())
    k = smallest + 1
    assert k <= min(full.customers_exposed, full.departures)
    res = relationship_hazard(
        world.employees, world.customers, relationships=world.relationships, k=k
    )
    for table in (res.by_relationship_length, res.by_months_since_departure):
        small = (table["customers"] < k) | (table["departures"] < k)
        assert small.any() or table is res.by_months_since_departure
        assert table.loc[small, ["hazard_ratio", "ci_low", "ci_high"]].isna().all().all()
        assert table.loc[~small, "hazard_ratio"].notna().all()
    assert res.hazard_ratio == pytest.approx(full.hazard_ratio)
