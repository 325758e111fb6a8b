"""linkage.simulate with a ChainSpec: surveys, segments and revenue planted around the world.

Reference values are the simulator's own planted truth (loadings, sensitivities, spend medians) and
statistics computed here with plain numpy / pandas; the existing outputs are checked unchanged
against the same spec simulated without a chain.
"""

import json

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.simulate import ChainSpec, WorldSpec, simulate, truth_latent

SPEC = WorldSpec(n_units=40, months=24, effect_staff=0.6, effect_customer=0.6, seed=11)
CHAIN = ChainSpec()


@pytest.fixture(scope="module")
def plain():
    return simulate(SPEC)


@pytest.fixture(scope="module")
def world():
    return simulate(SPEC, chain=CHAIN)


@pytest.fixture(scope="module")
def latent(world):
    return pd.concat([truth_latent(world.truth), pd.DataFrame(world.truth["chain"]["latent"])], axis=1)


def _month(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp().dt.as_unit("us")


def test_the_chain_changes_nothing_else(plain, world):
    for name in ("employees", "customers", "units", "panel"):
        pd.testing.assert_frame_equal(getattr(world, name), getattr(plain, name))
    assert {k: v for k, v in world.truth.items() if k != "chain"} == plain.truth
    assert plain.employee_survey is None and plain.revenue is None and "chain" not in plain.truth
    # activity logs and defects too
    a = simulate(SPEC.replace(n_units=6, months=8), customers="activity", defects=0.01)
    b = simulate(SPEC.replace(n_units=6, months=8), customers="activity", defects=0.01, chain=CHAIN)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.employees, b.employees)
    assert b.segments is not None and b.revenue is not None


def test_same_seed_same_chain(world):
    again = simulate(SPEC, chain=CHAIN)
    for name in ("employee_survey", "customer_survey", "segments", "revenue"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(world, name))
    other = simulate(SPEC.replace(seed=12), chain=CHAIN)
    assert not other.employee_survey.head(50).equals(world.employee_survey.head(50))


def test_employee_survey_shape_and_waves(world):
    es = world.employee_survey
    assert list(es.columns) == ["respondent_id", "unit_id", "survey_date", *CHAIN.item_names]
    assert es["respondent_id"].is_unique
    for item in CHAIN.item_names:
        assert es[item].dtype == np.int64 and es[item].between(1, 5).all()
    months = _month(es["survey_date"])
    expect = pd.date_range("2023-03-01", periods=8, freq="3MS")  # waves every 3 months from March
    assert sorted(months.unique()) == list(expect)
    assert world.truth["chain"]["survey_waves"] == [str(d.date()) for d in expect]
    # respondents never outnumber the staff at the start of the wave month; about 60 % answer
    n = es.assign(period=months).groupby(["unit_id", "period"]).size().rename("n").reset_index()
    cells = world.panel.merge(n, on=["unit_id", "period"], how="inner")
    assert (cells["n"] <= cells["employee_start"]).all()
    share = cells["n"].sum() / world.panel.loc[world.panel["period"].isin(expect), "employee_start"].sum()
    assert 0.55 < share < 0.65


def test_planted_drivers_follow_the_climate_and_the_others_do_not(world, latent):
    es = world.employee_survey.assign(period=_month(world.employee_survey["survey_date"]))
    means = es.groupby(["unit_id", "period"])[list(CHAIN.item_names)].mean().reset_index()
    cells = means.merge(latent, on=["unit_id", "period"])
    r = {i: np.corrcoef(cells[i], cells["climate"])[0, 1] for i in CHAIN.item_names}
    r_other = {i: np.corrcoef(cells[i], cells["other"])[0, 1] for i in CHAIN.item_names}
    # planted loadings 0.6 > 0.45 > 0.3 (DEFAULT_ITEMS): correlations in that order, all clear
    assert r["manager_support"] > r["staffing"] > r["recognition"] > 0.3
    assert r["engagement"] > 0.3
    for item in ("pay", "facilities", "commute"):
        assert abs(r[item]) < 0.15
    # pay and facilities load on the other factor (0.6, 0.4), commute on nothing
    assert r_other["pay"] > r_other["facilities"] > 0.3 and abs(r_other["commute"]) < 0.15
    truth = world.truth["chain"]
    assert truth["planted_drivers"] == ["manager_support", "staffing", "recognition"]
    assert truth["unplanted_items"] == ["pay", "facilities", "commute"]
    # latent ICC: 0.6^2 (0.3^2 + 1) / (0.6^2 (0.3^2 + 1) + 0.5^2 + 1) = 0.3924 / 1.6424 (WorldSpec and
    # ChainSpec defaults: climate sds 0.3 and 1, other sds 0.3 and 1, halo 0.5, noise 1)
    assert truth["items"]["pay"] == {"climate_loading": 0.0, "other_loading": 0.6, "driver": False,
                                     "icc_latent": pytest.approx(0.3924 / 1.6424, abs=1e-6)}
    assert truth["items"]["commute"]["icc_latent"] == 0.0
    # the observed ICC(1) of unit-wave means (one-way ANOVA, unequal sizes) is close to the latent one
    grp = es.groupby(["unit_id", "period"]).ngroup().to_numpy()
    y = es["manager_support"].to_numpy(dtype=float)
    sizes = np.bincount(grp)
    means = np.bincount(grp, weights=y) / sizes
    msb = (sizes * (means - y.mean()) ** 2).sum() / (sizes.size - 1)
    msw = ((y - means[grp]) ** 2).sum() / (y.size - sizes.size)
    k0 = (y.size - (sizes**2).sum() / y.size) / (sizes.size - 1)
    icc1 = (msb - msw) / (msb + (k0 - 1) * msw)
    assert icc1 == pytest.approx(truth["items"]["manager_support"]["icc_latent"], abs=0.06)


def test_customer_survey(world, latent):
    cs = world.customer_survey
    assert list(cs.columns) == ["response_id", "unit_id", "response_date", "csat", "nps"]
    assert cs["csat"].between(1, 5).all() and cs["nps"].between(0, 10).all()
    cs = cs.assign(period=_month(cs["response_date"]))
    n = cs.groupby(["unit_id", "period"]).size().rename("n").reset_index()
    cells = world.panel.merge(n, on=["unit_id", "period"])
    assert (cells["n"] <= cells["customer_start"]).all()
    assert 0.025 < cells["n"].sum() / world.panel["customer_start"].sum() < 0.035
    means = cs.groupby(["unit_id", "period"])[["csat", "nps"]].mean().reset_index().merge(
        latent, on=["unit_id", "period"])
    # satisfaction follows the climate customers churn on (lag months back), not this month's
    assert np.corrcoef(means["csat"], means["customer_climate"])[0, 1] > 0.4
    assert np.corrcoef(means["nps"], means["customer_climate"])[0, 1] > 0.4
    assert (np.corrcoef(means["csat"], means["customer_climate"])[0, 1]
            > np.corrcoef(means["csat"], means["climate"])[0, 1] + 0.1)


def test_segments_cover_every_customer_and_the_sensitive_one_reacts_most(world, latent):
    from linkage.panel import build_panel

    seg = world.segments
    assert list(seg.columns) == ["customer_id", "segment"]
    assert seg["customer_id"].is_unique and set(seg["customer_id"]) == set(world.customers["customer_id"])
    shares = seg["segment"].value_counts(normalize=True)
    assert abs(shares["consumer"] - 0.6) < 0.06 and abs(shares["small_business"] - 0.3) < 0.06
    truth = world.truth["chain"]
    assert truth["most_sensitive_segment"] == "small_business"
    assert truth["segments"]["small_business"]["sensitivity"] == 2.0
    r = {}
    cust = world.customers.merge(seg, on="customer_id")
    for name in ("consumer", "small_business"):
        part = cust[cust["segment"] == name].drop(columns="segment")
        p = build_panel(world.employees, part, start="2023-01", end="2024-12").merge(latent, on=["unit_id", "period"])
        x = p["customer_retention"] - p.groupby("unit_id")["customer_retention"].transform("mean")
        y = p["customer_climate"] - p.groupby("unit_id")["customer_climate"].transform("mean")
        ok = x.notna()
        r[name] = np.corrcoef(x[ok], y[ok])[0, 1]
    assert r["small_business"] > r["consumer"] > 0.1


def test_segment_posterior_on_a_hand_made_case():
    # a segment that (almost) never churns: every customer who left in the window is in the other
    chain = ChainSpec(segments=(("stay", 0.5, 1.0, -30.0, 10.0), ("go", 0.5, 1.0, 0.0, 10.0)))
    w = simulate(WorldSpec(n_units=5, months=12, seed=3), chain=chain)
    seg = w.customers.merge(w.segments, on="customer_id")
    left = seg["end_date"].notna()
    assert (seg.loc[left, "segment"] == "go").all() and left.sum() > 10
    # those who stayed all window are more often "stay" (their likelihood favours the zero hazard)
    stayed = seg["end_date"].isna() & (seg["start_date"] < pd.Timestamp("2023-01-01"))
    assert (seg.loc[stayed, "segment"] == "stay").mean() > 0.5


def test_revenue_rows_are_the_active_customer_months(world):
    rev = world.revenue
    assert list(rev.columns) == ["customer_id", "unit_id", "period", "revenue"]
    assert (rev["revenue"] > 0).all() and not rev.duplicated(["customer_id", "period"]).any()
    n = rev.groupby(["unit_id", "period"]).size()
    panel = world.panel.set_index(["unit_id", "period"])
    # active in m = at the end of m (docs/domain.md): the rows per unit-month are customer_end ...
    assert (n.reindex(panel.index, fill_value=0) == panel["customer_end"]).all()
    # ... and the month before the window has the first month's customer_start
    first = panel.xs(pd.Timestamp("2023-01-01"), level="period")["customer_start"]
    before = n.xs(pd.Timestamp("2022-12-01"), level="period").reindex(first.index, fill_value=0)
    assert (before == first).all()
    # spend medians by segment: 30, 120, 600 (DEFAULT_SEGMENTS), times the customer's level
    med = rev.merge(world.segments, on="customer_id").groupby("segment")["revenue"].median()
    assert med["consumer"] == pytest.approx(30, rel=0.15)
    assert med["small_business"] == pytest.approx(120, rel=0.15)
    assert med["enterprise"] == pytest.approx(600, rel=0.2)


def test_truth_links_losses_and_json(world):
    truth = world.truth["chain"]
    links = {(li["x"], li["y"]): li for li in truth["links"]}
    assert links[("employee_retention", "customer_retention")] == {
        "x": "employee_retention", "y": "customer_retention", "lag": SPEC.lag, "sign": 1}
    assert links[("es_engagement", "employee_retention")]["sign"] == 1
    assert links[("customer_retention", "revenue_retention")]["sign"] == 1
    lat = truth_latent(world.truth)
    start = world.panel["customer_start"].to_numpy()
    expected = np.array(truth["latent"]["expected_customer_losses"])
    np.testing.assert_allclose(expected, start * lat["customer_hazard"].to_numpy(), atol=2e-3)
    excess = np.array(truth["latent"]["climate_customer_losses"])
    climate = np.array(truth["latent"]["customer_climate"])
    # the climate's share of the losses is positive where the climate customers feel is bad
    assert np.corrcoef(excess, climate)[0, 1] < -0.6
    assert excess[climate < -1].mean() > 0 > excess[climate > 1].mean()
    assert json.loads(json.dumps(truth)) == truth
    assert ChainSpec.from_dict(truth["spec"]) == CHAIN


def test_null_world_plants_no_links():
    w = simulate(SPEC.replace(n_units=6, months=8, effect_staff=0.0, effect_customer=0.0), chain=CHAIN)
    links = {(li["x"], li["y"]): li["sign"] for li in w.truth["chain"]["links"]}
    assert links[("employee_retention", "customer_retention")] == 0
    assert links[("es_engagement", "employee_retention")] == 0
    assert links[("cs_csat", "customer_retention")] == 0


@pytest.mark.parametrize(("changes", "column"), [
    ({"survey_every": 0}, "survey_every"),
    ({"survey_every": 2.5}, "survey_every"),
    ({"survey_response": 1.5}, "survey_response"),
    ({"cs_response": -0.1}, "cs_response"),
    ({"items": (("pay", 0.0, 0.5),)}, "items"),
    ({"items": (("engagement", 0.5, 0.0), ("two words", 0.1, 0.0))}, "items"),
    ({"segments": (("a", 0.0, 1.0, 0.0, 10.0),)}, "segments"),
    ({"segments": (("a", 0.5, 1.0, 0.0, 10.0), ("a", 0.5, 1.0, 0.0, 10.0))}, "segments"),
])
def test_bad_chain_specs_are_input_errors(changes, column):
    with pytest.raises(InputError) as err:
        ChainSpec(**changes)
    assert err.value.column == column


def test_chain_must_be_a_chainspec():
    with pytest.raises(InputError, match="ChainSpec"):
        simulate(SPEC.replace(n_units=3, months=4), chain={"survey_every": 3})
    with pytest.raises(InputError, match="no parameter"):
        CHAIN.replace(survey_waves=2)


# ---- writing, the sample, the CLI ------------------------------------------------------------


def test_write_world_writes_the_chain_files(tmp_path, world, plain):
    from linkage.simulate import write_world

    names = {p.name for p in write_world(world, tmp_path / "a")}
    assert {"employee_survey.csv", "customer_survey.csv", "customer_segments.csv", "revenue.csv"} <= names
    assert not {"employee_survey.csv", "revenue.csv"} & {p.name for p in write_world(plain, tmp_path / "b")}
    back = pd.read_csv(tmp_path / "a" / "employee_survey.csv", dtype={"unit_id": str})
    assert back["unit_id"].str.fullmatch(r"\d{3}").all()
    assert back[list(CHAIN.item_names)].to_numpy().tolist() == world.employee_survey[
        list(CHAIN.item_names)].to_numpy().tolist()
    rev = pd.read_csv(tmp_path / "a" / "revenue.csv")
    assert list(rev.columns) == ["customer_id", "unit_id", "period", "revenue"] and len(rev) == len(world.revenue)


def test_chain_panel_joins_the_world(world):
    panel = world.chain_panel()
    pd.testing.assert_frame_equal(panel[world.panel.columns], world.panel)
    assert {"es_engagement", "es_respondents", "cs_nps", "revenue_retention"} <= set(panel.columns)
    wave = world.chain_panel(align="wave")
    assert wave["es_engagement"].notna().sum() < panel["es_engagement"].notna().sum()
    with pytest.raises(InputError, match="no chain"):
        simulate(SPEC.replace(n_units=3, months=4)).chain_panel()


def test_the_sample_carries_the_chain(sample_dir):
    from linkage.io.datasets import load_sample_chain, load_sample_panel
    from linkage.panel import customer_survey_panel, employee_survey_panel, join_chain
    from linkage.simulate import SAMPLE_CHAIN

    chain = load_sample_chain()
    truth = json.loads((sample_dir / "truth.json").read_text())["chain"]
    assert truth["spec"] == SAMPLE_CHAIN.to_dict() and chain.truth == truth
    assert set(chain.segments["customer_id"]) == set(
        pd.read_csv(sample_dir / "customers.csv", usecols=["customer_id"])["customer_id"])
    panel = load_sample_panel()
    items = list(SAMPLE_CHAIN.item_names)
    joined = join_chain(
        panel,
        employee_survey=employee_survey_panel(chain.employee_survey, items=items, start="2023-01", end="2025-12"),
        customer_survey=customer_survey_panel(chain.customer_survey, start="2023-01", end="2025-12"),
        revenue=chain.unit_revenue)
    assert len(joined) == len(panel) and joined["revenue_retention"].notna().all()
    # the sample's revenue file is revenue_panel of the world's customer-month revenue (to the cent)
    assert (chain.unit_revenue[["unit_id", "period"]].to_numpy() == panel[["unit_id", "period"]].to_numpy()).all()
    # the sample's planted drivers relate to customer retention 2 months on, the others do not
    nxt = joined.groupby("unit_id")["customer_retention"].shift(-2)
    r = {i: joined[f"es_{i}"].corr(nxt) for i in items}
    assert min(r[i] for i in truth["planted_drivers"]) > max(abs(r[i]) for i in truth["unplanted_items"])


def test_cli_simulate_chain(tmp_path, capsys):
    from linkage.cli import main

    assert main(["simulate", str(tmp_path), "--units", "4", "--months", "6", "--chain"]) == 0
    assert (tmp_path / "employee_survey.csv").is_file() and (tmp_path / "customer_segments.csv").is_file()
    assert "chain" in json.loads((tmp_path / "truth.json").read_text())
    assert "survey drivers manager_support" in capsys.readouterr().out
    assert main(["simulate", str(tmp_path / "s"), "--sample", "--chain"]) == 2
    assert "--chain" in capsys.readouterr().err


def test_a_chain_without_respondents_still_joins():
    w = simulate(WorldSpec(n_units=3, months=3, lag=0, seed=1),
                 chain=ChainSpec(survey_response=0, cs_response=0, survey_every=6))
    assert len(w.employee_survey) == 0 and len(w.customer_survey) == 0
    assert w.truth["chain"]["survey_waves"] == []
    panel = w.chain_panel()
    assert panel["es_engagement"].isna().all() and (panel["es_respondents"] == 0).all()
    assert panel["cs_respondents"].dtype == np.int64 and panel["revenue"].notna().all()
