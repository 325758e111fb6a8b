"""survey_reliability: one reliability of unit survey means for the CLI, dashboard and notebooks."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.cli import main
from linkage.errors import InputError
from linkage.panel import employee_survey_panel, join_chain
from linkage.stats import drivers as _drivers
from linkage.stats import spearman_brown, survey_reliability, unit_reliability

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _tiny():
    # 3 units x 2 months, 2 answers per unit x month, each pair mean +- 1:
    #   group means 7, 5 (a); 3, 1 (b); 4, 4 (c); grand mean 4
    #   SSB = 2 * (9 + 1 + 1 + 9 + 0 + 0) = 40 on 5 dof -> MSB = 8
    #   SSW = 12 * 1 = 12 on 12 - 6 = 6 dof -> MSW = 2
    #   ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW) = 6 / (8 + 2) = 0.6 (k = 2)
    #   between (a unit's 4 answers): 4 * 0.6 / (1 + 3 * 0.6) = 2.4 / 2.8 = 6/7
    #   within (one month's 2 answers): 2 * 0.6 / (1 + 0.6) = 0.75
    dates = ["2024-01-05", "2024-01-09", "2024-02-03", "2024-02-07"] * 3
    return pd.DataFrame(
        {
            "unit_id": list("aaaabbbbcccc"),
            "survey_date": dates,
            "q": [8, 6, 6, 4, 4, 2, 2, 0, 5, 3, 5, 3],
        }
    )


def test_hand_worked_between_and_within():
    b = survey_reliability(_tiny(), items=["q"]).iloc[0]
    w = survey_reliability(_tiny(), items=["q"], level="within").iloc[0]
    assert b["icc1"] == pytest.approx(0.6) and w["icc1"] == b["icc1"]
    assert (b["n"], b["n_units"], b["k"]) == (12, 6, 2)
    assert b["k_means"] == 4 and b["reliability"] == pytest.approx(6 / 7)
    assert w["k_means"] == 2 and w["reliability"] == pytest.approx(0.75)


def test_without_dates_groups_by_unit():
    got = survey_reliability(_tiny(), items=["q"], wave=None).iloc[0]
    ref = unit_reliability(_tiny(), items=["q"]).iloc[0]
    assert got["icc1"] == ref["icc1"] and got["reliability"] == pytest.approx(ref["icck"])


def test_panel_counts_each_wave_once():
    # a unit's two waves carried forward over four periods: 2 + 2 respondents, not 2 * 4
    panel = pd.DataFrame(
        {
            "unit_id": list("aaaabbbbcccc"),
            "es_wave": ["2024-01", "2024-01", "2024-02", "2024-02"] * 3,
            "es_respondents": 2,
        }
    )
    b = survey_reliability(_tiny(), items=["q"], panel=panel).iloc[0]
    w = survey_reliability(_tiny(), items=["q"], panel=panel, level="within").iloc[0]
    assert b["k_means"] == 4 and w["k_means"] == 2


def test_spearman_brown_reference_values():
    # Shrout & Fleiss (1979), 6 targets x 4 judges: BMS = 11.24, WMS = 6.26;
    # ICC(1,1) = 4.98 / (11.24 + 3 * 6.26), ICC(1,4) = 4.98 / 11.24
    assert spearman_brown(4.98 / (11.24 + 3 * 6.26), 4) == pytest.approx(4.98 / 11.24)
    assert round(float(spearman_brown(0.727273, 3)), 3) == 0.889  # unit_reliability's example
    np.testing.assert_allclose(spearman_brown([0.2, 0.5], [1, 1]), [0.2, 0.5])


def test_drivers_module_reexports_the_same_functions():
    assert _drivers.spearman_brown is spearman_brown
    assert _drivers.unit_reliability is unit_reliability


def test_bad_level():
    with pytest.raises(InputError, match="level"):
        survey_reliability(_tiny(), items=["q"], level="pooled")


@pytest.mark.parametrize("level", ["between", "within"])
def test_cli_and_direct_call_agree_on_the_sample(tmp_path, capsys, level):
    answers = pd.read_csv(f"{SAMPLE}/employee_survey.csv", dtype={"unit_id": str})
    base = pd.read_csv(f"{SAMPLE}/panel.csv", dtype={"unit_id": str}, parse_dates=["period"])
    items = ["engagement", "manager_support", "staffing", "pay"]
    es = employee_survey_panel(
        answers.assign(survey_date=pd.to_datetime(answers["survey_date"])),
        items=items,
        align="forward",
        start="2023-01",
        end="2025-12",
    )
    panel = join_chain(base, employee_survey=es)
    panel.to_csv(tmp_path / "panel.csv", index=False)
    es_items = [f"es_{i}" for i in items]
    assert (
        main(
            [
                "drivers",
                str(tmp_path / "panel.csv"),
                "--items",
                ",".join(es_items),
                "--respondents",
                f"{SAMPLE}/employee_survey.csv",
                "--level",
                level,
                "--boot",
                "0",
                "--json",
            ]
        )
        == 0
    )
    cli = pd.DataFrame(json.loads(capsys.readouterr().out)["reliability"])
    direct = survey_reliability(
        answers.rename(columns=dict(zip(items, es_items, strict=True))),
        items=es_items,
        panel=panel,
        level=level,
    )
    assert list(cli.columns) == list(direct.columns)
    assert cli["item"].tolist() == es_items
    for col in ("icc1", "k", "k_means", "reliability"):
        assert cli[col].tolist() == direct[col].tolist()


def test_an_icc_at_or_below_zero_is_unreliable_never_perfect():
    # 3 units x 1 month, 2 answers each, every unit mean 3: MSB = 0, MSW = (8 + 2 + 0) / 3,
    # ICC(1) = (0 - MSW) / (0 + MSW) = -1. Spearman-Brown of it would be meaningless (and for
    # ICC(1) = -0.02 at k = 96 it would give 2.13): the reliability is NaN and flagged.
    data = pd.DataFrame(
        {
            "unit_id": list("aabbcc"),
            "survey_date": ["2024-01-05"] * 6,
            "q": [1, 5, 2, 4, 3, 3],
        }
    )
    row = survey_reliability(data, items=["q"]).iloc[0]
    assert row["icc1"] == pytest.approx(-1.0)
    assert bool(row["unreliable"]) and np.isnan(row["reliability"])
    good = survey_reliability(_tiny(), items=["q"]).iloc[0]
    assert not bool(good["unreliable"]) and good["reliability"] == pytest.approx(6 / 7)
