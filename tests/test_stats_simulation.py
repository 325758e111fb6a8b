"""Small-but-real simulation study on linkage.simulate worlds (full version: benchmarks/simulation_study.py).

Seeds are fixed, so these tests are deterministic; the thresholds leave room for the binomial
spread of a 95 % / 5 % rate over the number of runs used here.
"""

import numpy as np
import pytest

from linkage.simulate import WorldSpec, simulate_panel
from linkage.stats import between_corr, choose_best_lag, lag_profile

DESIGN = dict(n_units=60, months=30, lag=2, seasonality=0.15)


@pytest.fixture(scope="module")
def planted():
    # the planted value: the estimator's population value for this design, from one large world
    # (4,000 units, same spec, unused seed); checked against the simulator's r_expected
    panel, truth = simulate_panel(WorldSpec(**{**DESIGN, "n_units": 4000, "seed": 777_777}))
    r = lag_profile(panel, lags=[2], n_boot=0, period_adjusted=True).r.iloc[0]
    assert r == pytest.approx(truth["facts"]["within_r_expected"], abs=0.02)
    return float(r)


def test_best_lag_signs_and_coverage(planted):
    runs = 25
    best, between_ok, within_ok, covered = 0, 0, 0, 0
    for seed in range(runs):
        panel, truth = simulate_panel(WorldSpec(**DESIGN, seed=100 + seed))
        prof = lag_profile(panel, max_lag=4, n_boot=400, seed=seed, period_adjusted=True)
        row = prof.set_index("lag").loc[2]
        best += choose_best_lag(prof) == truth["facts"]["planted_lag"]
        between_ok += np.sign(between_corr(panel).r.iloc[0]) == truth["facts"]["between_sign"]
        within_ok += np.sign(row.r) == truth["facts"]["within_sign"]
        covered += row.ci_low <= planted <= row.ci_high
    assert best >= runs - 1
    assert between_ok >= runs - 2 and within_ok == runs
    assert covered >= 21  # 95 % nominal; 21/25 = 84 %, P(fewer | 95 %) < 4 %


def test_null_worlds_rarely_show_a_lag():
    runs, flagged, flagged_plain = 40, 0, 0
    for seed in range(runs):
        panel, truth = simulate_panel(WorldSpec(**DESIGN, effect_staff=0.0, effect_customer=0.0, seed=500 + seed))
        assert truth["facts"]["null"]
        adj = lag_profile(panel, max_lag=6, n_boot=0, period_adjusted=True)
        flagged += choose_best_lag(adj) is not None
        flagged_plain += choose_best_lag(lag_profile(panel, max_lag=6, n_boot=0)) is not None
    assert flagged <= 4  # about 5 % expected: 2 of 40; 4 allows for chance
    # a shared season (0.15) alone makes the plain profile light up more often than the adjusted one
    assert flagged_plain >= flagged
