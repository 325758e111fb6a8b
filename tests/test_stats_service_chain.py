"""The chain link by link and the within-unit mediation."""

import json

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.stats import chain, mediation
from linkage.stats.service_chain import DEFAULT_LINKS


def _world(seed=0, U=60, T=24, lag_ec=2, a=0.6, b=0.7, direct=0.0):
    """engagement -> employee retention (same period) -> customer retention (lag_ec later) -> revenue."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(U, T + lag_ec))
    e = 0.8 * g + rng.normal(size=(U, T + lag_ec)) + rng.normal(size=(U, 1))
    c = a * e[:, :T] + rng.normal(size=(U, T)) + rng.normal(size=(U, 1))
    r = b * c + direct * e[:, :T] + rng.normal(size=(U, T))
    e, g = (
        e[:, lag_ec:],
        g[:, lag_ec:],
    )  # customer retention at t follows employee retention at t - lag_ec
    return pd.DataFrame(
        {
            "unit_id": np.repeat([f"u{i:02d}" for i in range(U)], T),
            "period": np.tile(pd.date_range("2022-01-01", periods=T, freq="MS"), U),
            "es_engagement": g.ravel(),
            "employee_retention": e.ravel(),
            "customer_retention": c.ravel(),
            "revenue_retention": r.ravel(),
        }
    )


def test_mediation_paths_are_pingouins_and_ols_on_demeaned_rows():
    df = _world(1, lag_ec=0, direct=0.2)
    med = mediation(df, n_boot=200, period_adjusted=False).set_index("path")
    # reference: OLS by numpy on the unit-demeaned rows (pingouin's paths are these regressions)
    d = (
        df[["employee_retention", "customer_retention", "revenue_retention"]]
        .groupby(df["unit_id"])
        .transform(lambda s: s - s.mean())
        .to_numpy()
    )
    x, m, y = d.T
    a = (x @ m) / (x @ x)
    bd = np.linalg.lstsq(np.column_stack([m, x]), y, rcond=None)[0]
    assert med.loc["a", "coef"] == pytest.approx(a, rel=1e-9)
    assert med.loc["b", "coef"] == pytest.approx(bd[0], rel=1e-9)
    assert med.loc["direct", "coef"] == pytest.approx(bd[1], rel=1e-9)
    assert med.loc["total", "coef"] == pytest.approx((x @ y) / (x @ x), rel=1e-9)
    assert med.loc["total", "coef"] == pytest.approx(
        med.loc["direct", "coef"] + med.loc["indirect", "coef"]
    )
    # planted: a = 0.6, b = 0.7 (indirect 0.42), direct 0.2
    assert med.loc["indirect", "ci_low"] < 0.42 < med.loc["indirect", "ci_high"]
    assert med.loc["direct", "ci_low"] < 0.2 < med.loc["direct", "ci_high"]
    assert med.loc["indirect", "p_val"] < 0.01
    assert (med["n"] == len(df)).all() and (med["n_units"] == 60).all()


def test_mediation_aligns_lags_and_finds_no_indirect_path_when_none():
    df = _world(2, lag_ec=2)
    med = mediation(df, lag_xm=2, n_boot=300).set_index("path")
    assert med.loc["a", "ci_low"] < 0.6 < med.loc["a", "ci_high"]
    assert med["n"].iloc[0] == 60 * 22  # 24 months minus the 2-month lag
    unaligned = mediation(df, n_boot=0).set_index("path")
    assert (
        abs(unaligned.loc["a", "coef"]) < 0.1
    )  # at lag 0 employees and customers are unrelated here
    null = df.assign(revenue_retention=np.random.default_rng(9).normal(size=len(df)))
    nm = mediation(null, lag_xm=2, n_boot=300).set_index("path")
    assert nm.loc["indirect", "ci_low"] < 0 < nm.loc["indirect", "ci_high"]


def test_mediation_bootstrap_resamples_units():
    # units with a shared shock in all their months: the unit bootstrap widens the interval of a,
    # where resampling rows would not; check against a direct loop over resampled units
    df = _world(3, U=30, T=12, lag_ec=0)
    out = mediation(df, n_boot=400, seed=5, period_adjusted=False).set_index("path")
    from linkage.stats import unit_resample_counts

    W = unit_resample_counts(30, 400, 5)
    units = np.array(sorted(df["unit_id"].unique()))
    d = df.assign(
        **{
            c: df.groupby("unit_id")[c].transform(lambda s: s - s.mean())
            for c in ["employee_retention", "customer_retention"]
        }
    )
    slopes = []
    for w in W[:15]:  # the first 15 resamples, rebuilt by hand
        rows = pd.concat(
            [d[d["unit_id"] == u] for u, k in zip(units, w, strict=True) for _ in range(int(k))]
        )
        x, m = rows["employee_retention"].to_numpy(), rows["customer_retention"].to_numpy()
        slopes.append((x @ m) / (x @ x))
    Sxm = (
        d.groupby("unit_id")
        .apply(lambda g: (g.employee_retention * g.customer_retention).sum())
        .loc[units]
    )
    Sxx = d.groupby("unit_id").apply(lambda g: (g.employee_retention**2).sum()).loc[units]
    np.testing.assert_allclose(
        (W[:15] @ Sxm.to_numpy()) / (W[:15] @ Sxx.to_numpy()), slopes, rtol=1e-10
    )
    assert out.loc["a", "ci_low"] < out.loc["a", "coef"] < out.loc["a", "ci_high"]


def test_chain_recovers_links_signs_and_lags():
    df = _world(4, U=80, T=30, lag_ec=2)
    before = df.copy()
    res = chain(df, max_lag=3, n_boot=300)
    pd.testing.assert_frame_equal(df, before)
    best = res.links[res.links["method"] == "best_lag"].set_index("link")
    assert best["lag"].tolist() == [0, 2, 0]
    assert (best["r"] > 0).all() and (best["ci_low"] > 0).all()
    assert set(res.links["method"]) == {"between", "within", "best_lag"}
    assert list(res.links["link"].unique()) == [f"{x} -> {y}" for x, y in DEFAULT_LINKS]
    med = res.mediation.set_index("path")
    assert res.settings["mediation"] == [
        "employee_retention",
        "customer_retention",
        "revenue_retention",
    ]
    assert med.loc["indirect", "ci_low"] > 0  # aligned at the found lag 2
    assert "not show that changing employee retention" in res.text
    d = json.loads(json.dumps(res.to_dict()))
    assert len(d["links"]) == 9 and d["mediation"][3]["path"] == "indirect"
    assert "<table" in res._repr_html_()


def test_chain_bad_input():
    df = _world(0, U=10, T=8)
    with pytest.raises(InputError, match="no y column 'revenue'"):
        chain(df, links=[("customer_retention", "revenue")], n_boot=0)
    with pytest.raises(InputError, match="pair"):
        chain(df, links=["employee_retention"], n_boot=0)
    with pytest.raises(InputError, match="whole number"):
        mediation(df, lag_xm=-1)
    with pytest.raises(InputError, match="three different"):
        mediation(df, y="employee_retention")


def test_chain_on_a_simulated_world_recovers_planted_links():
    # simulator truth: truth["chain"]["links"] (sign and lag of each planted link) and full mediation
    # of the last link by customer retention (no direct path planted)
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    world = simulate(WorldSpec(n_units=80, months=30, seed=2), chain=ChainSpec())
    planted = {f"{d['x']} -> {d['y']}": d for d in world.truth["chain"]["links"]}
    res = chain(world.chain_panel(align="wave"), max_lag=3, n_boot=300)
    best = res.links[res.links["method"] == "best_lag"].set_index("link")
    for link, row in best.iterrows():
        assert row["lag"] == planted[link]["lag"] and np.isfinite(row["best_lag"])
        assert np.sign(row["r"]) == planted[link]["sign"] and row["ci_low"] > 0
    med = res.mediation.set_index("path")
    assert med.loc["indirect", "ci_low"] > 0
    assert med.loc["direct", "ci_low"] < 0 < med.loc["direct", "ci_high"]


def test_a_negative_best_lag_is_stated_not_silently_zeroed():
    # m moves two months before x (m(t) drives x(t + 2)) and y follows m: the best lag of x -> m is
    # -2. The mediation keeps the chain's order (x first) at lag 0 for that link and says so.
    rng = np.random.default_rng(3)
    units, months = 40, 30
    m = rng.normal(size=(units, months + 2))
    x = np.roll(m, 2, axis=1) + 0.3 * rng.normal(size=m.shape)  # x(t) = m(t - 2) + noise
    y = m + 0.5 * rng.normal(size=m.shape)
    cut = slice(2, months + 2)
    data = pd.DataFrame(
        {
            "unit_id": np.repeat([f"u{i:02d}" for i in range(units)], months),
            "period": np.tile(pd.date_range("2022-01-01", periods=months, freq="MS"), units),
            "x": x[:, cut].ravel(),
            "m": m[:, cut].ravel(),
            "y": y[:, cut].ravel(),
        }
    )
    res = chain(data, links=[("x", "m"), ("m", "y")], max_lag=3, n_boot=50, seed=0)
    best = res.links.set_index(["link", "method"]).loc[("x -> m", "best_lag"), "lag"]
    assert best == -2
    assert res.settings["mediation_lags"] == {"x_to_m": 0, "m_to_y": 0}
    stated = [w for w in res.warnings if w.startswith("x -> m: its best lag is -2")]
    assert stated and "does not test the reverse order" in stated[0]
    assert "its best lag is -2" in res.text


def test_survey_lags_are_measured_on_wave_months_by_default():
    # simulator truth (linkage.simulate._service_chain): the engagement survey measures the
    # climate of its wave month, which moves staff quits that month (lag 0) and customer churn
    # spec.lag = 2 months later. The panel carries each quarterly wave forward (the panel's own
    # default); measured as if fresh the lags shift towards negative values (here -1 and 1).
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    world = simulate(WorldSpec(n_units=100, months=36, seed=3, lag=2), chain=ChainSpec())
    panel = world.chain_panel(align="forward")
    links = [("es_engagement", "employee_retention"), ("es_engagement", "customer_retention")]
    planted = {(d["x"], d["y"]): d["lag"] for d in world.truth["chain"]["links"]}
    assert [planted[pair] for pair in links] == [0, 2]
    lags = {}
    for align in ("wave", "forward"):
        res = chain(panel, links=links, max_lag=4, n_boot=200, mediate=False, survey_align=align)
        best = res.links[res.links["method"] == "best_lag"]
        lags[align] = best["lag"].tolist()
        assert res.settings["survey_measured_on"] == align
        assert res.settings["survey_carried_rows"]["es_wave"] > 0
    assert lags["wave"] == [0, 2]
    assert all(f < w for f, w in zip(lags["forward"], lags["wave"], strict=True))
    default = chain(panel, links=links, max_lag=4, n_boot=0, mediate=False)
    assert default.settings["survey_measured_on"] == "wave"
    assert "measured on the months the waves measured" in default.text
    # no survey in the links: nothing to align, and the settings say so
    middle = [("employee_retention", "customer_retention")]
    plain = chain(panel, links=middle, max_lag=2, n_boot=0, mediate=False)
    assert plain.settings["survey_measured_on"] is None
    with pytest.raises(InputError, match="survey_align"):
        chain(panel, links=links, n_boot=0, survey_align="fresh")


def _confounded(seed, U=300, T=24, rho_u=0.6):
    # x -> m (a = 0.5) -> y (b = 0.4), and an unmeasured u driving m and y: the errors of m and y
    # correlate at rho_u^2 = 0.36 (each error has variance 1)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(U, T))
    u = rng.normal(size=(U, T))
    rest = np.sqrt(1 - rho_u**2)
    m = 0.5 * x + rho_u * u + rest * rng.normal(size=(U, T))
    y = 0.4 * m + rho_u * u + rest * rng.normal(size=(U, T))
    return pd.DataFrame(
        {
            "unit_id": np.repeat(np.arange(U), T).astype(str),
            "period": np.tile(np.arange(T), U),
            "employee_retention": x.ravel(),
            "customer_retention": m.ravel(),
            "revenue_retention": y.ravel(),
        }
    )


def test_mediation_sensitivity_against_its_closed_form_and_planted_truth():
    from linkage.stats.service_chain import mediation_sensitivity

    df = _confounded(4)
    sens = mediation_sensitivity(df, rhos=[-0.3, 0.0, 0.36, 0.6], n_boot=200)
    t = sens.table.set_index("rho")
    # at rho = 0 it is the mediation's own indirect effect (the no-confounder assumption)
    med = mediation(df, n_boot=0).set_index("path")
    assert t.loc[0.0, "acme"] == pytest.approx(med.loc["indirect", "coef"], rel=1e-9)
    # naive: a (b + cov(e_m, e_y) / var(e_m)) = 0.5 * 0.76; at the planted rho, a * b = 0.2
    assert t.loc[0.0, "acme"] == pytest.approx(0.38, abs=0.03)
    assert t.loc[0.36, "acme"] == pytest.approx(0.2, abs=0.03)
    assert t.loc[0.36, "ci_low"] < 0.2 < t.loc[0.36, "ci_high"]
    # the indirect effect vanishes at rho~, the correlation of the errors of m ~ x and y ~ x
    at_zero = mediation_sensitivity(df, rhos=[sens.rho_at_zero], n_boot=0).table["acme"].iloc[0]
    assert abs(at_zero) < 1e-9
    # R^2 products: rho^2 and rho^2 (1 - R^2_M)(1 - R^2_Y), as R mediation::medsens prints them
    # (its published JOBS II example and R^2 against statsmodels: test_stats_mediation_sensitivity)
    assert t.loc[0.6, "r2_star_prod"] == pytest.approx(0.36)
    expected = 0.36 * (1 - sens.r2_m) * (1 - sens.r2_y)
    assert t.loc[0.6, "r2_tilde_prod"] == pytest.approx(expected)
    assert sens.r2_star_at_zero == pytest.approx(sens.rho_at_zero**2)
    with pytest.raises(InputError, match="rhos"):
        mediation_sensitivity(df, rhos=[1.0], n_boot=0)


def test_chain_reports_the_mediation_sensitivity():
    df = _confounded(5, U=60, T=20)
    res = chain(df, links=DEFAULT_LINKS[1:], max_lag=1, n_boot=100)
    doc = res.to_dict()["mediation_sensitivity"]
    assert doc["rho_at_zero"] == pytest.approx(res.sensitivity.rho_at_zero)
    assert "Imai, Keele & Yamamoto" in doc["method"] and len(doc["grid"]) == 37
    assert "would explain the indirect path away" in res.text
