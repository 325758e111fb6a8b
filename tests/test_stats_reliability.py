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
from linkage.stats.reliability import variance_components

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _tiny():
    # 3 units x 2 months, 2 answers per unit x month, each pair mean +- 1:
    #   group means 7, 5 (a); 3, 1 (b); 4, 4 (c); grand mean 4
    #   SSB = 2 * (9 + 1 + 1 + 9 + 0 + 0) = 40 on 5 dof -> MSB = 8
    #   SSW = 12 * 1 = 12 on 12 - 6 = 6 dof -> MSW = 2
    #   ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW) = 6 / (8 + 2) = 0.6 (k = 2)
    #   pooled between (a unit's 4 answers): 4 * 0.6 / (1 + 3 * 0.6) = 2.4 / 2.8 = 6/7
    #   pooled within (one month's 2 answers): 2 * 0.6 / (1 + 0.6) = 0.75
    # nested (units, unit-months, answers): unit means 6, 2, 4
    #   SSU = 4 * (4 + 4 + 0) = 32 on 2 dof -> MSU = 16
    #   SSW = 2 * (1 + 1 + 1 + 1 + 0 + 0) = 8 on 3 dof -> MSW = 8/3; MSE = 2
    #   var_wave = (8/3 - 2) / 2 = 1/3; var_unit = (16 - 8/3) / 4 = 10/3
    #   between (2 waves, 4 answers): window mean (10/3 + 1/6) / (10/3 + 1/6 + 2/4) = 7/8,
    #   lasting level (10/3) / 4 = 5/6
    #   within (one wave against the unit, 2 answers): (1/3) / (1/3 + 1) = 1/4
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
    assert b["k_means"] == 4 and b["reliability_pooled"] == pytest.approx(6 / 7)
    assert w["k_means"] == 2 and w["reliability_pooled"] == pytest.approx(0.75)
    assert b["waves"] == 2 and w["waves"] == 1
    assert b["var_unit"] == pytest.approx(10 / 3) and b["var_wave"] == pytest.approx(1 / 3)
    assert b["var_respondent"] == pytest.approx(2.0)
    assert b["reliability"] == pytest.approx(7 / 8) and w["reliability"] == pytest.approx(0.25)
    assert b["reliability_lasting"] == pytest.approx(5 / 6) and np.isnan(w["reliability_lasting"])


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
    assert not bool(good["unreliable"]) and good["reliability"] == pytest.approx(7 / 8)


# Pastes (Davies & Goldsmith 1972, sec. 6.5; lme4's ``Pastes``): 10 delivery batches x 3 casks x
# 2 assays, read here as 10 units x 3 survey months x 2 respondents
PASTES = [
    *(62.8, 62.6, 60.1, 62.3, 62.7, 63.1, 60.0, 61.4, 57.5, 56.9, 61.1, 58.9),
    *(58.7, 57.5, 63.9, 63.1, 65.4, 63.7, 57.1, 56.4, 56.9, 58.6, 64.7, 64.5),
    *(55.1, 55.1, 54.7, 54.2, 58.8, 57.5, 63.4, 64.9, 59.3, 58.1, 60.5, 60.0),
    *(62.5, 62.6, 61.0, 58.7, 56.9, 57.7, 59.2, 59.4, 65.2, 66.0, 64.8, 64.1),
    *(54.8, 54.8, 64.0, 64.0, 57.7, 56.8, 58.3, 59.3, 59.2, 59.2, 58.9, 56.6),
]


def _pastes():
    return pd.DataFrame(
        {
            "unit_id": np.repeat(list("ABCDEFGHIJ"), 6),
            "survey_date": np.tile(np.repeat(["2024-01-15", "2024-04-15", "2024-07-15"], 2), 10),
            "strength": PASTES,
        }
    )


def test_variance_components_reproduce_the_published_pastes_fit():
    # lme4 (Bates, "lme4: Mixed-effects modeling with R", ch. 2), REML fit of
    # strength ~ 1 + (1 | sample) + (1 | batch): sample (cask in batch) variance 8.434, batch 1.657,
    # residual 0.678. In a balanced design the ANOVA estimates are the REML ones.
    got = variance_components(_pastes(), items=["strength"]).iloc[0]
    assert (got["n"], got["n_units"], got["n_waves"]) == (60, 10, 30)
    assert round(got["var_wave"], 3) == 8.434
    assert round(got["var_unit"], 3) == 1.657
    assert round(got["var_respondent"], 3) == 0.678
    assert got["truncated"] == ""


def test_variance_components_match_statsmodels_mixedlm_unbalanced():
    # unbalanced answers (units answer different numbers of respondents per wave): the ANOVA
    # method of moments differs from REML, but both estimate the same components; on a large
    # world they agree closely
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    rows = []
    for u in range(60):
        level = rng.normal(0, 0.6)
        for w in range(4):
            change = rng.normal(0, 0.4)
            for _ in range(int(rng.integers(3, 12))):
                rows.append((f"u{u}", f"2024-{3 * w + 1:02d}-10", level + change + rng.normal()))
    df = pd.DataFrame(rows, columns=["unit_id", "survey_date", "q"])
    got = variance_components(df, items=["q"]).iloc[0]
    vc = {"wave": "0 + C(survey_date)"}
    model = smf.mixedlm("q ~ 1", df, groups="unit_id", re_formula="1", vc_formula=vc)
    fit = model.fit(reml=True)
    assert got["var_unit"] == pytest.approx(float(fit.cov_re.iloc[0, 0]), rel=0.1)
    assert got["var_wave"] == pytest.approx(float(fit.vcomp[0]), rel=0.1)
    assert got["var_respondent"] == pytest.approx(float(fit.scale), rel=0.02)


def test_between_reliability_does_not_count_wave_change_as_true_score():
    # planted: lasting unit level var 0.25, wave-to-wave change var 0.25, respondents var 1,
    # 4 waves of 10: the window mean's reliability is 0.3125 / (0.3125 + 1 / 40) = 0.926, the
    # lasting level's 0.25 / 0.3375 = 0.741; the pooled ICC(1) (0.5 / 1.5 = 1/3 in truth) stepped
    # up to 40 answers says 0.952, and for one wave's change (truth 0.25 / 0.35 = 0.714) 0.833
    rng = np.random.default_rng(11)
    U, W, n = 400, 4, 10
    unit = rng.normal(0, 0.5, U)[:, None, None]
    wave = rng.normal(0, 0.5, (U, W, 1))
    y = unit + wave + rng.normal(0, 1, (U, W, n))
    df = pd.DataFrame(
        {
            "unit_id": np.repeat(np.arange(U), W * n).astype(str),
            "survey_date": np.tile(np.repeat([f"2024-{m:02d}-02" for m in (1, 4, 7, 10)], n), U),
            "q": y.ravel(),
        }
    )
    row = survey_reliability(df, items=["q"]).iloc[0]
    assert row["reliability"] == pytest.approx(0.3125 / (0.3125 + 1 / 40), abs=0.02)
    assert row["reliability_lasting"] == pytest.approx(0.25 / 0.3375, abs=0.03)
    assert row["reliability_pooled"] == pytest.approx(40 / 3 / (1 + 39 / 3), abs=0.02)
    within = survey_reliability(df, items=["q"], level="within").iloc[0]
    assert within["reliability"] == pytest.approx(0.25 / (0.25 + 1 / 10), abs=0.04)
    assert within["reliability_pooled"] == pytest.approx(10 / 3 / (1 + 9 / 3), abs=0.03)


def test_variance_components_need_two_waves():
    one_month = _pastes().assign(survey_date="2024-01-15")
    with pytest.raises(InputError, match="two months"):
        variance_components(one_month, items=["strength"])
