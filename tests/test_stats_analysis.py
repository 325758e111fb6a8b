"""analyse() / LinkageResult and the `linkage link` command."""

import json

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from linkage.cli import main
from linkage.errors import InputError
from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import LinkageResult, analyse, lag_profile, rm_corr


@pytest.fixture(scope="module")
def world():
    return simulate_panel(WorldSpec(n_units=60, months=30, lag=2, seed=11))


@pytest.fixture(scope="module")
def result(world):
    panel, _ = world
    return analyse(panel, max_lag=4, n_boot=300, covariates=["employee_start", "region"])


def test_result_parts(result, world):
    panel, truth = world
    assert isinstance(result, LinkageResult)
    assert list(result.correlations.method) == ["pooled", "between", "rm_corr"]
    assert result.correlations.loc[2, "r"] == pytest.approx(rm_corr(panel).r[0])
    assert list(result.lags.lag) == list(range(-4, 5))
    assert result.best_lag == truth["facts"]["planted_lag"]
    assert list(result.partial.method) == ["partial_pooled", "partial_between", "partial_within"]
    assert result.effect.loc[0, "lag"] == result.best_lag and result.effect.loc[0, "slope"] > 0
    assert np.isfinite(result.effect.loc[0, "customers_per_year"])
    assert set(result.summary.columns) == {"method", "lag", "n", "n_units", "r", "ci_low", "ci_high", "p_val",
                                           "p_adj", "dof"}
    with pytest.raises(AttributeError):
        result.best_lag = 3  # frozen


def test_lag_tables_equal_lag_profile(result, world):
    panel, _ = world
    pd.testing.assert_frame_equal(result.lags, lag_profile(panel, max_lag=4, n_boot=300))
    pd.testing.assert_frame_equal(result.lags_period_adjusted,
                                  lag_profile(panel, max_lag=4, n_boot=300, period_adjusted=True))


def test_text_states_level_direction_and_caveat(result):
    text = result.text
    assert "units" in text and "not people" in text
    assert "Which way it runs" in text and result.direction_verdict["sentence"] in text
    assert "caveat" in text.lower() and "observational" in text
    assert "customers a year" in text
    assert "median employee_start" in text  # the sample world's units are small: warned
    assert result.warnings and result.warnings[0] in text


def test_to_dict_is_the_issue_3_json(result):
    d = json.loads(json.dumps(result.to_dict()))
    for key in ("pooled", "between", "within"):
        assert {"r", "ci_low", "ci_high", "p_val", "n"} <= set(d[key])
    assert d["within"]["r"] == pytest.approx(result.correlations.r[2])
    for key in ("lags", "lags_period_adjusted"):
        assert len(d[key]) == 9
        assert all({"lag", "r", "ci_low", "ci_high", "p_val", "p_adj", "n"} <= set(row) for row in d[key])
    assert d["lags"][4]["r"] == pytest.approx(d["within"]["r"])  # lag 0 is the plain rmcorr
    assert d["best_lag"] == result.best_lag
    assert d["text"] == result.text and d["warnings"] == list(result.warnings)


def test_html_and_repr(result):
    html = result._repr_html_()
    assert "<table" in html and "Lag profile" in html and "not people" in html
    assert "best_lag=2" in repr(result)


def test_null_world_finds_no_lag():
    panel, truth = simulate_panel(WorldSpec(n_units=80, months=30, effect_staff=0.0, effect_customer=0.0,
                                            seed=4))
    assert truth["facts"]["null"]
    res = analyse(panel, max_lag=3, n_boot=200)
    assert res.best_lag is None
    assert "No lag stands out" in res.effect.sentence[0]
    assert "no lag from -3 to 3" in res.text


def test_weights_change_the_estimate_but_not_the_shape(world):
    panel, _ = world
    res = analyse(panel, max_lag=1, n_boot=100, weights="customer_start")
    assert res.settings["weights"] == "customer_start"
    assert res.correlations.r[2] != pytest.approx(analyse(panel, max_lag=1, n_boot=100).correlations.r[2])


def test_few_units_warn():
    df = pg.read_dataset("rm_corr").assign(period=lambda d: d.groupby("Subject").cumcount())
    res = analyse(df, x="pH", y="PacO2", unit="Subject", period="period", max_lag=1, n_boot=200)
    assert res.correlations.r[2] == pytest.approx(-0.50677, abs=5e-6)
    assert any("Only 8 units" in w for w in res.warnings)


def test_bad_column_raises():
    with pytest.raises(InputError) as err:
        analyse(pd.DataFrame({"unit_id": ["a"], "period": [1], "employee_retention": [1.0]}))
    assert err.value.column == "customer_retention"


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_json(tmp_path, world, capsys):
    panel, _ = world
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    assert main(["link", str(path), "--max-lag", "2", "--boot", "200", "--seed", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"pooled", "between", "within", "lags", "lags_period_adjusted", "best_lag"} <= set(d)
    assert [row["lag"] for row in d["lags"]] == [-2, -1, 0, 1, 2]
    assert d["best_lag"] == 2
    direct = analyse(panel, max_lag=2, n_boot=200, seed=1).to_dict()
    # the CSV round trip changes nothing: same numbers as analyse() on the DataFrame
    assert [row["r"] for row in d["lags"]] == pytest.approx([row["r"] for row in direct["lags"]], rel=1e-9)
    assert [row["ci_low"] for row in d["lags"]] == pytest.approx([row["ci_low"] for row in direct["lags"]],
                                                                rel=1e-9)


def test_cli_report_on_any_panel(tmp_path, capsys):
    df = pg.read_dataset("rm_corr").assign(visit=lambda d: 2000 + d.groupby("Subject").cumcount())
    path = tmp_path / "bland.csv"
    df.to_csv(path, index=False)
    code = main(["link", str(path), "--x", "pH", "--y", "PacO2", "--unit", "Subject", "--period", "visit",
                 "--max-lag", "1", "--boot", "100"])
    out = capsys.readouterr().out
    assert code == 0
    assert "rm_corr" in out and "-0.507" in out and "Lag profile" in out


@pytest.mark.parametrize("argv, needle", [
    (["--x", "nope"], "column 'nope'"),
    (["--period", "region"], "column 'region'"),
    (["--y", "region"], "column 'region'"),
])
def test_cli_bad_columns_exit_2(tmp_path, world, capsys, argv, needle):
    panel, _ = world
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    assert main(["link", str(path), *argv, "--boot", "10"]) == 2
    err = capsys.readouterr().err
    assert "panel.csv" in err and needle in err and len(err.strip().splitlines()) == 1


def test_text_flags_simpsons_paradox():
    rng = np.random.default_rng(0)
    U, T = 40, 12
    level = rng.normal(size=(U, 1))
    x = level + 0.5 * rng.normal(size=(U, T))
    y = -3 * level + 0.8 * (x - level) + 0.5 * rng.normal(size=(U, T))  # between negative, within positive
    df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str), "period": np.tile(np.arange(T), U),
                       "employee_retention": x.ravel(), "customer_retention": y.ravel()})
    res = analyse(df, max_lag=1, n_boot=100)
    assert res.correlations.r[1] < 0 < res.correlations.r[2]
    assert "Simpson" in res.text
    assert "Simpson" not in analyse(df.assign(customer_retention=y.ravel() + 6 * np.repeat(level, T).ravel()),
                                    max_lag=1, n_boot=100).text


def test_warnings_follow_the_procedure_and_the_number_of_units():
    panel, _ = simulate_panel(WorldSpec(n_units=30, months=18, seed=2))
    res = analyse(panel, max_lag=1, n_boot=200)
    assert res.settings["p_method"] == "cr2" and not any("p_method=" in w for w in res.warnings)
    clus = analyse(panel, max_lag=1, n_boot=200, p_method="cluster")
    assert any("run liberal" in w and "p_method='cr2'" in w for w in clus.warnings)
    t = analyse(panel, max_lag=1, n_boot=200, p_method="t")
    assert any("rmcorr's t-test" in w and "7-13 %" in w for w in t.warnings)
    wild = analyse(panel, max_lag=1, n_boot=200, p_method="wild")
    assert wild.settings["p_method"] == "wild"
    assert (wild.lags.p_val >= 1 / 201).all()
    # below 15 units the output says how far it can be trusted, with the measured figures
    few = panel[panel.unit_id.isin(sorted(panel.unit_id.unique())[:10])]
    small = analyse(few, max_lag=1, n_boot=200)
    assert any("fewer than 15" in w and "4.0-5.1 %" in w for w in small.warnings)
    assert not any("fewer than 15" in w for w in res.warnings)


def test_business_effect_rejects_a_ci_outside_0_1():
    import pandas as pd

    from linkage.errors import InputError
    from linkage.stats import business_effect

    panel = pd.DataFrame({"unit_id": ["a"] * 4 + ["b"] * 4, "period": list(range(4)) * 2,
                          "employee_retention": [0.9, 0.8, 0.95, 0.85, 0.7, 0.75, 0.8, 0.9],
                          "customer_retention": [0.5, 0.6, 0.55, 0.65, 0.4, 0.45, 0.5, 0.6]})
    with pytest.raises(InputError, match="ci"):
        business_effect(panel, lag=0, n_boot=10, ci=95)


def test_best_lag_comes_with_its_family_and_a_selection_free_estimate(result, world):
    _, truth = world
    planted = truth["facts"]["planted_lag"]
    row = result.lags_period_adjusted.set_index("lag").loc[planted]
    assert row.band_low > 0 and row.p_adj < 0.05 and row.win_share > 0.5
    split = result.best_lag_split
    assert split["lag"] == planted and split["n_units"] == 30 and split["ci_low"] < split["r"] < split["ci_high"]
    d = json.loads(json.dumps(result.to_dict()))
    assert d["best_lag_split"]["lag"] == planted
    assert d["lag_procedures"]["band"].startswith("simultaneous")
    assert "overstates" in result.text and "selection effect" in result.text
    # the effect's interval is the CR2 slope interval at the best lag, not a percentile one
    from linkage.stats._prep import make_grid
    from linkage.stats.lags import cr2_inference, lag_stats

    panel, _ = world
    grid = make_grid(panel, x="employee_retention", y="customer_retention", unit="unit_id", period="period")
    inf = cr2_inference(lag_stats(grid, np.array([planted]), period_adjusted=True), 0.95)
    eff = result.effect.iloc[0]
    assert (eff.ci_low, eff.ci_high) == pytest.approx((inf.slope_low[0], inf.slope_high[0]), rel=1e-9)


def test_null_world_has_no_best_lag_and_no_split():
    panel, _ = simulate_panel(WorldSpec(n_units=50, months=24, effect_staff=0.0, effect_customer=0.0, seed=8))
    res = analyse(panel, max_lag=3, n_boot=300)
    assert res.best_lag is None and res.best_lag_split == {}
    assert res.to_dict()["best_lag_split"] is None
