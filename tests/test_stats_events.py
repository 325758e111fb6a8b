"""linkage.stats.events: the staggered event study against R did's published mpdta example, hand
cases of the event rows set aside, and the simulator's planted effects."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.stats.events import event_periods, event_study, twfe_event_study

REF = pathlib.Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def mpdta() -> tuple[pd.DataFrame, pd.DataFrame]:
    """R did's mpdta (500 counties x 2003-2007), as shipped by the csdid package (MIT licence,
    tests/reference/mpdta_LICENSE.txt), as a yearly panel and an events table."""
    d = pd.read_csv(REF / "mpdta.csv")
    panel = pd.DataFrame(
        {
            "unit_id": d["countyreal"].astype(str),
            "period": pd.to_datetime(d["year"].astype(str) + "-01-01"),
            "lemp": d["lemp"],
        }
    )
    first = d.drop_duplicates("countyreal")
    first = first.loc[first["first.treat"] > 0]
    events = pd.DataFrame(
        {
            "unit_id": first["countyreal"].astype(str),
            "event_date": first["first.treat"].astype(str) + "-07-01",
        }
    )
    return panel, events


def test_mpdta_dynamic_effects_match_r_did(mpdta):
    # R did 2.x, vignette "Introduction to DiD with Multiple Time Periods":
    # att_gt(yname="lemp", gname="first.treat", idname="countyreal", tname="year", xformla=~1,
    # data=mpdta) then aggte(type="dynamic"):
    # event time -3..3 estimates 0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008,
    # std. errors 0.0150, 0.0133, 0.0142, 0.0118, 0.0169, 0.0364, 0.0344;
    # overall (mean of event times 0..3) -0.0772, std. error 0.0200.
    panel, events = mpdta
    res = event_study(
        panel, events, outcome="lemp", pre=3, post=3, control="never_treated", small_cohorts=False
    )
    est = res.estimates.set_index("event_time")
    expected = [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008]
    ses = [0.0150, 0.0133, 0.0142, 0.0118, 0.0169, 0.0364, 0.0344]
    np.testing.assert_allclose(est.loc[-3:3, "estimate"], expected, atol=5e-5)
    # R's printed errors come from its multiplier bootstrap; ours are the analytic ones
    np.testing.assert_allclose(est.loc[-3:3, "se"], ses, atol=6e-4)
    assert res.post_average["estimate"] == pytest.approx(-0.0772, abs=5e-5)
    assert res.post_average["se"] == pytest.approx(0.0200, abs=5e-4)
    assert res.n_treated_units == 191 and res.n_control_units == 309  # mpdta: 309 never treated
    # the simultaneous band is wider than the pointwise interval, its critical value above 1.96
    assert res.settings["band_crit"] > 1.96
    assert (est["band_high"] - est["band_low"] > est["ci_high"] - est["ci_low"]).all()


def test_mpdta_group_time_effects_match_r_did(mpdta):
    # the library's own ATT(g, t) on mpdta against R did's att_gt (same vignette; also the csdid
    # README): g=2004 t=2004..2007 -0.0105, -0.0704, -0.1373, -0.1008; g=2006 t=2007 -0.0412;
    # g=2007 t=2007 -0.0261
    from diff_diff import CallawaySantAnna

    d = pd.read_csv(REF / "mpdta.csv")
    fit = CallawaySantAnna(control_group="never_treated", n_bootstrap=0).fit(
        d, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat"
    )
    gt = fit.group_time_effects
    for (g, t), want in {
        (2004, 2004): -0.0105,
        (2004, 2005): -0.0704,
        (2004, 2006): -0.1373,
        (2004, 2007): -0.1008,
        (2006, 2007): -0.0412,
        (2007, 2007): -0.0261,
    }.items():
        assert gt[(g, t)]["effect"] == pytest.approx(want, abs=5e-5)


def test_pre_trend_test_is_a_wald_test_of_the_pre_estimates(mpdta):
    # hand check: chi2 = b' V^-1 b over event times -3..-1 with the reported covariance
    panel, events = mpdta
    res = event_study(panel, events, outcome="lemp", pre=3, post=3, control="never_treated")
    assert res.pre_trend_dof == 3
    assert 0 < res.pre_trend_p < 1
    assert res.pre_trend_chi2 > 0


def _world(n=60, t=30, seed=3, effect=None):
    """Units with a unit level, a common month effect and noise; half get an event at a random
    month 6..20 with ``effect[e]`` added at event time e."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-01", periods=t, freq="MS")
    unit = np.repeat([f"{i:03d}" for i in range(n)], t)
    step = np.tile(np.arange(t), n)
    y = (
        0.95
        + np.repeat(rng.normal(0, 0.01, n), t)
        + np.tile(rng.normal(0, 0.005, t), n)
        + rng.normal(0, 0.004, n * t)
    )
    g = np.where(np.arange(n) < n // 2, rng.integers(6, 21, n), -1)
    gg = np.repeat(g, t)
    if effect is not None:
        e = step - gg
        for k, v in effect.items():
            y = y + np.where((gg >= 0) & (e == k), v, 0.0)
    panel = pd.DataFrame({"unit_id": unit, "period": np.tile(months, n), "customer_retention": y})
    treated = np.flatnonzero(g >= 0)
    events = pd.DataFrame(
        {
            "unit_id": [f"{i:03d}" for i in treated],
            "event_date": [months[g[i]] + pd.Timedelta(days=9) for i in treated],
        }
    )
    return panel, events


def test_recovers_a_fading_effect_and_reports_the_fade():
    # planted: -2 points at event times 0..3, 0 from 7 on (linear in between)
    effect = {0: -0.02, 1: -0.02, 2: -0.02, 3: -0.02, 4: -0.015, 5: -0.01, 6: -0.005}
    panel, events = _world(effect=effect)
    res = event_study(panel, events, pre=4, post=9)
    est = res.estimates.set_index("event_time")["estimate"]
    np.testing.assert_allclose(est.loc[1:3], -0.02, atol=0.004)
    np.testing.assert_allclose(est.loc[7:9], 0.0, atol=0.004)
    np.testing.assert_allclose(est.loc[-4:-1], 0.0, atol=0.004)
    assert res.fade["fades"] is True and res.fade["diff_p"] < 0.001
    assert res.fade["early"] == pytest.approx(-0.02, abs=0.003)
    assert res.fade["late_times"] == [7, 9]
    assert "fades" in res.text
    d = res.to_dict()
    assert {"event_type", "outcome", "method", "n_treated_units", "n_control_units",
            "estimates", "pre_trend_p", "post_average", "fade", "text"} <= set(d)
    assert set(d["estimates"][0]) >= {"event_time", "estimate", "ci_low", "ci_high", "p_val"}
    assert [r["event_time"] for r in d["estimates"]] == list(range(-4, 10))


def test_no_effect_no_fade_and_no_pre_trend():
    panel, events = _world(seed=5)
    res = event_study(panel, events, pre=4, post=9)
    assert res.post_average["ci_low"] < 0 < res.post_average["ci_high"]
    assert res.fade["fades"] is False
    assert res.pre_trend_p > 0.01


def test_short_post_window_has_no_fade_test():
    panel, events = _world(effect={0: -0.02})
    res = event_study(panel, events, pre=2, post=4)
    assert res.fade["fades"] is None and np.isnan(res.fade["diff_p"])


def test_every_event_row_is_used_or_set_aside_with_a_reason():
    panel = pd.DataFrame(
        {
            "unit_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"] * 3),
            "customer_retention": [0.9] * 11 + [np.nan],
        }
    )
    events = pd.DataFrame(
        {
            "unit_id": ["a", "a", "a", "b", "zz", None, "b", "c", "a"],
            "event_date": ["2024-02-03", "2024-02-20", "2024-04-01", "2023-12-31", "2024-02-01",
                           "2024-02-01", "not a date", "2024-03-01", "2024-05-01"],
        }
    )
    used, aside = event_periods(panel, events, outcome="customer_retention")
    assert used.to_dict("list") == {
        "unit_id": ["a"],
        "event_date": [pd.Timestamp("2024-02-03")],
        "event_step": [1],
    }
    assert {k: v for k, v in aside.items() if v} == {
        "missing_unit": 1,
        "unparseable_date": 1,
        "unit_not_in_panel": 1,
        "date_outside_panel": 2,  # b before the panel, a after its last month
        "unit_outcome_missing": 1,
        "duplicate_event": 1,  # a's second event in February
        "later_event_same_unit": 1,  # a in April
    }
    assert len(used) + sum(aside.values()) == len(events)


def test_event_types_are_chosen_and_counted():
    panel, events = _world(effect={0: -0.02})
    both = pd.concat(
        [events.assign(event_type="manager_departure"), events.assign(event_type="staff_shock")]
    )
    with pytest.raises(InputError, match="several event types"):
        event_study(panel, both, pre=2, post=3)
    res = event_study(panel, both, event_type="staff_shock", pre=2, post=3)
    assert res.event_type == "staff_shock" and res.set_aside["other_type"] == len(events)
    assert res.n_events_read == len(both)
    assert res.n_events_used + sum(res.set_aside.values()) == res.n_events_read
    with pytest.raises(InputError, match="no event of type 'programme'"):
        event_study(panel, both, event_type="programme")


def test_bad_settings_and_unusable_events_are_input_errors():
    panel, events = _world()
    with pytest.raises(InputError, match="pre must be"):
        event_study(panel, events, pre=0)
    with pytest.raises(InputError, match="column 'event_date'"):
        event_study(panel, events.rename(columns={"event_date": "when"}))
    outside = events.assign(event_date="2030-01-01")
    with pytest.raises(InputError, match="no usable event.*date_outside_panel"):
        event_study(panel, outside)
    yearly = panel.assign(period=np.tile(np.arange(30), 60))
    with pytest.raises(InputError, match="need a panel of months"):
        event_study(yearly, events)


def test_twfe_is_biased_under_staggered_timing_with_dynamic_effects():
    # effects that grow with event time and every unit treated eventually: the plain two-way
    # fixed-effects event study uses already-treated units as controls and its post
    # coefficients fall short of the planted ones; the group-time estimator recovers them
    effect = {k: -0.002 * (k + 1) for k in range(0, 30)}
    rng = np.random.default_rng(11)
    n, t = 80, 30
    months = pd.date_range("2021-01-01", periods=t, freq="MS")
    g = rng.integers(5, 26, n)
    step = np.tile(np.arange(t), n)
    e = step - np.repeat(g, t)
    y = 0.95 + rng.normal(0, 0.002, n * t) + np.where(e >= 0, -0.002 * (e + 1), 0.0)
    panel = pd.DataFrame(
        {"unit_id": np.repeat([f"u{i}" for i in range(n)], t), "period": np.tile(months, n),
         "customer_retention": y}
    )
    events = pd.DataFrame({"unit_id": [f"u{i}" for i in range(n)], "event_date": months[g]})
    twfe = twfe_event_study(panel, events, pre=3, post=4).set_index("event_time")["estimate"]
    cs = event_study(panel, events, pre=3, post=4).estimates.set_index("event_time")["estimate"]
    truth = pd.Series({k: effect[k] for k in range(5)})
    assert np.abs(cs.loc[0:4] - truth).max() < 0.002
    assert np.abs(twfe.loc[0:4] - truth).max() > 2 * np.abs(cs.loc[0:4] - truth).max()


def test_small_cohort_correction_by_hand():
    # two cohorts at period 3 (units 0, 1) and period 4 (units 2, 3, 4), one never-treated unit;
    # event time 0: the change from the period before the event to its period
    from linkage.stats.events import small_cohort_correction

    y = np.array(
        [
            [0.0, 0.0, 1.0, 0.0],  # cohort 3: change 1
            [0.0, 0.0, 3.0, 0.0],  # cohort 3: change 3 -> deviations -1, +1
            [0.0, 0.0, 0.0, 2.0],  # cohort 4: change 2
            [0.0, 0.0, 0.0, 4.0],  # cohort 4: change 4
            [0.0, 0.0, 0.0, 6.0],  # cohort 4: change 6 -> deviations -2, 0, +2
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    cohort = np.array([3, 3, 4, 4, 4, 0])
    # weights 2/5 and 3/5; library part: (2/5)^2 / 2^2 * 2 + (3/5)^2 / 3^2 * 8 = 0.08 + 0.32
    # pooled variance: (2 + 8) / (1 + 2) = 10/3; corrected: ((2/5)^2 / 2 + (3/5)^2 / 3) * 10/3
    corrected = (0.16 / 2 + 0.36 / 3) * 10 / 3
    out = small_cohort_correction(y, cohort, np.array([0]))
    assert out[0, 0] == pytest.approx(corrected - 0.40)  # 2/3 - 2/5
    # a cohort of one unit alone gives no within-cohort spread: nothing to pool, no correction
    assert small_cohort_correction(y[[0, 5]], np.array([3, 0]), np.array([0]))[0, 0] == 0.0


def test_small_cohort_correction_is_small_with_large_cohorts(mpdta):
    # mpdta's cohorts hold 20 to 131 counties: the correction moves the errors by under 3 %
    panel, events = mpdta
    a = event_study(panel, events, outcome="lemp", pre=3, post=3, control="never_treated")
    b = event_study(
        panel, events, outcome="lemp", pre=3, post=3, control="never_treated", small_cohorts=False
    )
    ratio = a.estimates["se"] / b.estimates["se"]
    assert ((ratio >= 1.0) & (ratio < 1.03)).all()
    np.testing.assert_allclose(a.estimates["estimate"], b.estimates["estimate"])


def test_effects_in_words_never_read_minus_zero():
    """A late effect of -0.0001 (the sample's manager departures, months 7-12) reads "0.0 points",
    not "-0.0 points"; signs stay on effects that round to something."""
    from linkage.stats.events import _points

    assert _points(-0.0001, "customer_retention") == "0.0 points"
    assert _points(0.0004, "customer_retention") == "0.0 points"
    assert _points(-0.0163, "customer_retention") == "-1.6 points"
    assert _points(0.005, "customer_retention") == "+0.5 points"
