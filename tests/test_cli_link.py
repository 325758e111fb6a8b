"""``linkage link``: the panel read by ``linkage.io.read_panel``, the JSON stating its settings."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from linkage.cli import main
from linkage.io import read_panel
from linkage.simulate import WorldSpec, simulate
from linkage.stats import analyse

ARGS = ["--max-lag", "1", "--boot", "40", "--seed", "3", "--json"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate(WorldSpec(n_units=20, months=12, seed=1)).panel


def _link(capsys: pytest.CaptureFixture[str], path: pathlib.Path, *extra: str) -> dict:
    assert main(["link", str(path), *ARGS, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_settings_are_stated(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel.to_csv(tmp_path / "p.csv", index=False)
    s = _link(capsys, tmp_path / "p.csv")["settings"]
    assert (s["x"], s["y"], s["unit"], s["period"], s["step"]) == (
        "employee_retention",
        "customer_retention",
        "unit_id",
        "period",
        "month",
    )
    assert (s["min_lag"], s["max_lag"], s["n_boot"], s["seed"], s["ci"]) == (-1, 1, 40, 3, 0.95)
    assert s["survey_align"] is None and s["customer_survey_align"] is None


def test_periods_it_did_not_parse_before_give_the_same_json(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``link`` used to hand the period text to ``linkage.stats``; read_panel parses it first."""
    panel.to_csv(tmp_path / "dates.csv", index=False)
    text = panel.assign(period=panel["period"].dt.strftime("%Y-%m"))
    text.to_csv(tmp_path / "months.csv", index=False)
    text.to_csv(tmp_path / "semicolon.csv", index=False, sep=";")
    want = _link(capsys, tmp_path / "dates.csv")
    assert _link(capsys, tmp_path / "months.csv") == want
    assert _link(capsys, tmp_path / "semicolon.csv") == want
    direct = analyse(panel, max_lag=1, n_boot=40, seed=3).to_dict()
    assert {k: v for k, v in want.items() if k != "settings"} == {
        k: v for k, v in json.loads(json.dumps(direct)).items() if k != "settings"
    }


def test_whole_number_periods_written_as_decimals(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    years = panel.assign(period=panel.groupby("unit_id").cumcount() + 2000)
    years.to_csv(tmp_path / "years.csv", index=False)
    years.assign(period=years["period"].astype(float)).to_csv(tmp_path / "dec.csv", index=False)
    assert "2000.0" in (tmp_path / "dec.csv").read_text()
    want = _link(capsys, tmp_path / "years.csv")
    assert want["settings"]["step"] == "period"
    assert _link(capsys, tmp_path / "dec.csv") == want
    got = read_panel(tmp_path / "dec.csv", strict=False, require=())
    assert got["period"].dtype == "int64" and got["period"].min() == 2000


def test_small_denominators_still_warned(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the rates' *_start columns stay numbers, so the small-denominator warning still shows
    small = panel.assign(employee_start=np.minimum(panel["employee_start"], 8))
    small.to_csv(tmp_path / "small.csv", index=False)
    doc = _link(capsys, tmp_path / "small.csv")
    assert any("median employee_start" in w for w in doc["warnings"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--x", "nope"], "panel.csv, column 'nope': the panel has no column 'nope'"),
        (["--period", "region"], "column 'region': period is neither"),
        (["--boot", "-1"], "--boot must be >= 0"),
        (["--boot", "20", "--ci", "1.5"], "ci must be between 0 and 1"),
        (["--boot", "20", "--weights", "nosuch"], "nosuch"),
        (["--boot", "20", "--covariates", "employee_start,nosuch"], "nosuch"),
    ],
)
def test_bad_input_is_one_line(
    panel: pd.DataFrame,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
) -> None:
    panel.to_csv(tmp_path / "panel.csv", index=False)
    assert main(["link", str(tmp_path / "panel.csv"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_month_end_dates_give_the_json_of_month_start_dates(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = simulate(WorldSpec(n_units=40, months=24, lag=2, seed=2)).panel  # a 2-month lead
    world.to_csv(tmp_path / "start.csv", index=False)
    ends = world.assign(period=world["period"] + pd.offsets.MonthEnd(0))
    ends.to_csv(tmp_path / "end.csv", index=False)
    assert "2023-01-31" in (tmp_path / "end.csv").read_text()
    argv = ["--max-lag", "3", "--boot", "40", "--seed", "3", "--json"]
    assert main(["link", str(tmp_path / "start.csv"), *argv]) == 0
    want = json.loads(capsys.readouterr().out)
    assert main(["link", str(tmp_path / "end.csv"), *argv]) == 0
    assert json.loads(capsys.readouterr().out) == want
    assert want["best_lag"] == 2 and want["settings"]["step"] == "month"


@pytest.mark.parametrize(
    ("command", "argv", "needle"),
    [
        ("link", ["--max-lag", "500"], "max_lag 500 is beyond the data: 36 periods allow lags up"),
        ("chain", ["--max-lag", "500"], "max_lag 500 is beyond the data"),
        ("watchlist", ["--max-lag", "500"], "max_lag 500 is beyond the data"),
        ("watchlist", ["--lag", "500"], "lag 500 is beyond the data"),
    ],
)
def test_a_lag_beyond_the_data_is_one_line_and_exit_2(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    argv: list[str],
    needle: str,
) -> None:
    months36 = simulate(WorldSpec(n_units=20, months=36, seed=1)).panel
    months36.to_csv(tmp_path / "p.csv", index=False)
    assert main([command, str(tmp_path / "p.csv"), *argv]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.err.count("\n") == 1 and not captured.out


def test_ten_day_periods_are_refused_in_one_line(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = panel.assign(period=pd.Timestamp("2024-01-01")
                        + pd.to_timedelta(10 * panel.groupby("unit_id").cumcount(), unit="D"))
    days.to_csv(tmp_path / "days.csv", index=False)
    assert main(["link", str(tmp_path / "days.csv"), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "days.csv, column 'period': period dates are 10 days apart" in err
    assert err.count("\n") == 1


def test_inference_options_reach_analyse_and_the_json_names_them(
    panel: pd.DataFrame, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel.to_csv(tmp_path / "p.csv", index=False)
    extra = ["--p-method", "t", "--ci", "0.9", "--adjust", "bonferroni"]
    extra += ["--weights", "customer_start", "--covariates", "employee_start"]
    doc = _link(capsys, tmp_path / "p.csv", *extra)
    s = doc["settings"]
    assert (s["p_method"], s["ci"], s["adjust"], s["weights"], s["covariates"]) == (
        "t",
        0.9,
        "bonferroni",
        "customer_start",
        ["employee_start"],
    )
    direct = analyse(
        read_panel(tmp_path / "p.csv"),
        max_lag=1,
        n_boot=40,
        seed=3,
        p_method="t",
        ci=0.9,
        adjust="bonferroni",
        weights="customer_start",
        covariates=["employee_start"],
    ).to_dict()
    assert doc["lags"] == direct["lags"] and doc["within"] == direct["within"]
    assert doc["partial"] == direct["partial"]


def test_p_method_t_makes_within_exactly_rmcorr_and_the_default_is_calibrated(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pingouin as pg

    # Bland & Altman (1995), the rmcorr reference: r = -0.50677, dof 38, p = 0.00085,
    # 95 % CI -0.71 to -0.23 (Bakdash & Marusich 2017; pingouin.rm_corr)
    df = pg.read_dataset("rm_corr").assign(visit=lambda d: 2000 + d.groupby("Subject").cumcount())
    df.to_csv(tmp_path / "bland.csv", index=False)
    base = ["link", str(tmp_path / "bland.csv"), "--x", "pH", "--y", "PacO2", "--unit", "Subject",
            "--period", "visit", "--max-lag", "1", "--boot", "200", "--json"]
    assert main([*base, "--p-method", "t"]) == 0
    t = json.loads(capsys.readouterr().out)["within"]
    assert t["r"] == pytest.approx(-0.50677, abs=5e-6) and t["dof"] == 38
    assert t["p_val"] == pytest.approx(0.00085, abs=5e-6)
    assert (round(t["ci_low"], 2), round(t["ci_high"], 2)) == (-0.71, -0.23)
    assert t["p_method"].startswith("rmcorr t-test") and t["ci_method"] == t["p_method"]
    assert main(base) == 0
    doc = json.loads(capsys.readouterr().out)
    w = doc["within"]
    assert w["r"] == t["r"] and w["p_method"].startswith("CR2") and w["ci_method"] == w["p_method"]
    # one procedure: the interval excludes 0 exactly when p < 0.05, and the text says so
    assert (w["ci_high"] < 0) == (w["p_val"] < 0.05)
    said = "no clear link" in doc["text"].split("Within a unit")[1].split("\n\n")[0]
    assert said == (w["p_val"] >= 0.05)
    assert doc["pooled"]["p_method"].startswith("t-test") and "naive" in doc["pooled"]["p_method"]
    assert doc["lag_procedures"]["p_adj"].startswith("Romano-Wolf")
    assert {"band_low", "band_high", "win_share"} <= set(doc["lags"][0])
    assert doc["settings"]["p_method"] == "cr2" and doc["settings"]["adjust"] == "romano-wolf"
    assert any("fewer than 15" in x for x in doc["warnings"])  # 8 subjects
