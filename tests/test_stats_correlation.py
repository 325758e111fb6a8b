"""linkage.stats.correlation against pingouin (tests/reference/make_stats_reference.py) and by hand."""

import importlib.util
import json
import pathlib

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from linkage.errors import InputError
from linkage.stats import between_corr, partial_corr, pooled_corr, r_inference, rm_corr

REF_DIR = pathlib.Path(__file__).with_name("reference")
REF = json.loads((REF_DIR / "stats_reference.json").read_text())
_spec = importlib.util.spec_from_file_location("make_stats_reference", REF_DIR / "make_stats_reference.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
random_panel = _mod.random_panel

COLUMNS = ["method", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "dof"]


def test_rm_corr_matches_bland_altman_reference():
    df = pg.read_dataset("rm_corr")
    res = rm_corr(df, x="pH", y="PacO2", unit="Subject")
    assert list(res.columns) == COLUMNS
    row = res.iloc[0]
    # published rmcorr values (Bakdash & Marusich 2017; pingouin docstring): r -0.50677, dof 38
    assert row.r == pytest.approx(-0.50677, abs=5e-6)
    assert row.dof == 38
    ref = REF["bland_altman"]  # pingouin 0.7.0 rm_corr
    assert row.r == pytest.approx(ref["rm_r"], rel=1e-10)
    assert row.p_val == pytest.approx(ref["rm_p"], rel=1e-8)
    # pingouin rounds its CI to 2 decimals: [-0.71, -0.23]
    assert round(row.ci_low, 2) == ref["rm_ci"][0] and round(row.ci_high, 2) == ref["rm_ci"][1]
    assert row.n == 47 and row.n_units == 8


def test_pooled_corr_matches_bland_altman_reference():
    df = pg.read_dataset("rm_corr")
    row = pooled_corr(df, x="pH", y="PacO2", unit="Subject").iloc[0]
    assert row.r == pytest.approx(REF["bland_altman"]["pooled_r"], rel=1e-10)  # pingouin.corr: -0.065
    assert row.p_val == pytest.approx(REF["bland_altman"]["pooled_p"], rel=1e-8)
    assert row.dof == 45


@pytest.mark.parametrize("case", REF["random"], ids=lambda c: f"seed{c['seed']}")
def test_random_unbalanced_panels_match_pingouin(case):
    df = random_panel(case["seed"])
    assert len(df) == case["n"]
    rm = rm_corr(df, x="x", y="y").iloc[0]
    assert rm.r == pytest.approx(case["rm_r"], rel=1e-9)
    assert rm.dof == case["rm_dof"]
    assert rm.p_val == pytest.approx(case["rm_p"], rel=1e-7)
    po = pooled_corr(df, x="x", y="y").iloc[0]
    assert po.r == pytest.approx(case["pooled_r"], rel=1e-9)
    assert po.p_val == pytest.approx(case["pooled_p"], rel=1e-7)
    be = between_corr(df, x="x", y="y").iloc[0]
    assert be.r == pytest.approx(case["between_r"], rel=1e-9)
    assert be.p_val == pytest.approx(case["between_p"], rel=1e-7)
    assert be.n == 12 and be.dof == 10
    pc = partial_corr(df, x="x", y="y", covariates=["z", "region"]).iloc[0]
    assert pc.r == pytest.approx(case["partial_r"], rel=1e-9)
    assert pc.p_val == pytest.approx(case["partial_p"], rel=1e-7)


def test_levels_can_disagree_in_sign():
    # random_panel plants a negative unit effect link and a positive within-unit link (Simpson)
    df = random_panel(0)
    assert between_corr(df, x="x", y="y").r[0] < -0.5
    assert rm_corr(df, x="x", y="y").r[0] > 0.3


def test_between_corr_hand_worked():
    df = pd.DataFrame({"unit_id": list("aabbcc"), "x": [1, 2, 3, 4, 5, 7], "y": [1, 3, 2, 5, 4, 6]})
    # unit means: (1.5, 2), (3.5, 3.5), (6, 5); Pearson of these three points by hand:
    mx, my = np.array([1.5, 3.5, 6.0]), np.array([2.0, 3.5, 5.0])
    dx, dy = mx - mx.mean(), my - my.mean()
    expected = (dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy))
    assert between_corr(df, x="x", y="y").r[0] == pytest.approx(expected)


def test_rm_corr_is_pearson_on_demeaned_values_with_its_dof():
    df = random_panel(3)
    d = df.assign(x=df.x - df.groupby("unit_id").x.transform("mean"),
                  y=df.y - df.groupby("unit_id").y.transform("mean"))
    res = rm_corr(df, x="x", y="y").iloc[0]
    assert res.r == pytest.approx(np.corrcoef(d.x, d.y)[0, 1])
    assert res.dof == len(df) - df.unit_id.nunique() - 1


def test_missing_values_are_dropped_pairwise():
    df = random_panel(1)
    holes = df.copy()
    holes.loc[[0, 5, 9], "x"] = np.nan
    assert rm_corr(holes, x="x", y="y").r[0] == pytest.approx(rm_corr(df.drop(index=[0, 5, 9]), x="x", y="y").r[0])


def test_integer_weights_equal_repeated_rows():
    df = random_panel(2).assign(w=lambda d: (np.arange(len(d)) % 3) + 1)
    repeated = df.loc[df.index.repeat(df.w)]
    assert pooled_corr(df, x="x", y="y", weights="w").r[0] == pytest.approx(pooled_corr(repeated, x="x", y="y").r[0])
    assert rm_corr(df, x="x", y="y", weights="w").r[0] == pytest.approx(rm_corr(repeated, x="x", y="y").r[0])
    # equal weights change nothing
    assert rm_corr(df.assign(w=7.0), x="x", y="y", weights="w").r[0] == pytest.approx(rm_corr(df, x="x", y="y").r[0])


def test_partial_within_drops_unit_constant_covariates():
    df = random_panel(4)
    res = partial_corr(df, x="x", y="y", covariates=["z", "region"], level="within").iloc[0]
    assert res.covariates == "z"
    assert res.dof == len(df) - df.unit_id.nunique() - 1 - 1
    # by hand: demean everything within units, residualise on z, correlate
    g = df.groupby("unit_id")
    d = df[["x", "y", "z"]] - g[["x", "y", "z"]].transform("mean")
    rx = d.x - np.polyfit(d.z, d.x, 1)[0] * d.z
    ry = d.y - np.polyfit(d.z, d.y, 1)[0] * d.z
    assert res.r == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-10)


def test_r_inference_matches_scipy_pearsonr():
    from scipy import stats

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=30), rng.normal(size=30)
    ref = stats.pearsonr(a, b)
    p, lo, hi = r_inference(ref.statistic, 28)
    assert p == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.95)  # Fisher z, as R's cor.test
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_inputs_are_not_mutated():
    df = random_panel(0)
    before = df.copy()
    rm_corr(df, x="x", y="y", weights=None)
    partial_corr(df, x="x", y="y", covariates=["region"], level="between")
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("call", [
    lambda d: rm_corr(d, x="nope", y="y"),
    lambda d: pooled_corr(d, x="x", y="region"),
    lambda d: partial_corr(d, x="x", y="y", covariates=["x"]),
    lambda d: partial_corr(d, x="x", y="y", covariates=["nope", "z"]),
    lambda d: partial_corr(d, x="x", y="y", covariates=["z"], level="sideways"),
    lambda d: rm_corr(d.assign(unit_id="one"), x="x", y="y"),
    lambda d: between_corr(d, x="x", y="y", ci=95),
])
def test_bad_input_raises_input_error(call):
    with pytest.raises(InputError):
        call(random_panel(0))


def test_error_names_the_column():
    with pytest.raises(InputError) as err:
        rm_corr(random_panel(0), x="employee", y="y")
    assert err.value.column == "employee"
