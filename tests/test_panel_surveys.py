"""linkage.panel.surveys, .revenue, .segments, .join: the chain on the unit x period grid.

References: hand-worked tiny cases (the arithmetic is in the comments), NPS as % promoters (9-10)
minus % detractors (0-6) (Reichheld 2003), net revenue retention as defined in linkage.panel.revenue's
docstring, and linkage.panel.build_panel (docs/domain.md definitions) for the segment counts.
"""

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.panel import (
    build_panel,
    customer_survey_panel,
    employee_survey_panel,
    join_chain,
    revenue_panel,
    segment_retention,
)
from linkage.simulate import ChainSpec, WorldSpec, simulate

D = pd.to_datetime


@pytest.fixture(scope="module")
def world():
    return simulate(WorldSpec(n_units=12, months=12, seed=5), chain=ChainSpec())


# ---- employee survey -------------------------------------------------------------------------


def _es():
    # unit a: wave in Dec 2023 (before the window), Feb 2024 (2 people), May 2024; unit b: Mar 2024
    return pd.DataFrame(
        {
            "unit_id": ["a", "a", "a", "a", "b"],
            "survey_date": D(
                ["2023-12-10", "2024-02-05", "2024-02-27", "2024-05-02", "2024-03-15"]
            ),
            "engagement": [2, 4, 5, 3, 1],
            "pay": [1, np.nan, 4, 2, 5],
        }
    )


def test_employee_survey_forward_alignment_by_hand():
    out = employee_survey_panel(_es(), items=["engagement", "pay"], start="2024-01", end="2024-06")
    assert list(out.columns) == [
        "unit_id",
        "period",
        "es_engagement",
        "es_pay",
        "es_respondents",
        "es_wave",
    ]
    a = out[out["unit_id"] == "a"].set_index("period")
    # Jan: the December wave carries in (2, 1, 1 respondent); Feb-Apr: (4+5)/2 = 4.5, pay 4 (one
    # answer, NaN skipped), 2 respondents; May-Jun: 3, 2, 1
    assert a["es_engagement"].tolist() == [2.0, 4.5, 4.5, 4.5, 3.0, 3.0]
    assert a["es_pay"].tolist() == [1.0, 4.0, 4.0, 4.0, 2.0, 2.0]
    assert a["es_respondents"].tolist() == [1, 2, 2, 2, 1, 1]
    assert a["es_wave"].tolist() == list(
        D(["2023-12-01", "2024-02-01", "2024-02-01", "2024-02-01", "2024-05-01", "2024-05-01"])
    )
    b = out[out["unit_id"] == "b"].set_index("period")
    assert b["es_engagement"].isna().tolist() == [True, True, False, False, False, False]
    assert b["es_respondents"].tolist() == [0, 0, 1, 1, 1, 1]
    assert b["es_wave"].isna().sum() == 2
    assert out["es_respondents"].dtype == np.int64


def test_employee_survey_wave_alignment_and_quarters():
    out = employee_survey_panel(
        _es(), items=["engagement"], start="2024-01", end="2024-06", align="wave"
    )
    a = out[out["unit_id"] == "a"]
    assert a["es_engagement"].tolist()[:3] == [
        pytest.approx(np.nan, nan_ok=True),
        4.5,
        pytest.approx(np.nan, nan_ok=True),
    ]
    assert a["es_respondents"].tolist() == [0, 2, 0, 0, 1, 0]
    # quarterly: 2024Q1 holds Feb's two answers and nothing else for a: (4 + 5) / 2
    q = employee_survey_panel(_es(), items=["engagement"], freq="Q", start="2024Q1", end="2024Q2")
    assert q.loc[q["unit_id"] == "a", "es_engagement"].tolist() == [4.5, 3.0]
    assert q.loc[q["unit_id"] == "b", "es_engagement"].tolist() == [1.0, 1.0]


def test_employee_survey_default_window_and_no_mutation():
    es = _es()
    before = es.copy()
    out = employee_survey_panel(es, items=["engagement"])
    pd.testing.assert_frame_equal(es, before)
    assert out["period"].min() == pd.Timestamp("2023-12-01") and out[
        "period"
    ].max() == pd.Timestamp("2024-05-01")
    assert len(out) == 2 * 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"items": []}, "items"),
        ({"items": "engagement"}, "items"),
        ({"items": ["nope"]}, "nope"),
        ({"items": ["engagement"], "align": "back"}, "align"),
        ({"items": ["engagement"], "freq": "W"}, "freq"),
    ],
)
def test_employee_survey_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        employee_survey_panel(_es(), **kwargs)


def test_employee_survey_bad_cells_name_the_row():
    es = _es()
    es.loc[3, "unit_id"] = None
    with pytest.raises(InputError) as err:
        employee_survey_panel(es, items=["engagement"])
    assert err.value.row == 4 and err.value.column == "unit_id"
    es = _es().astype({"engagement": object})
    es.loc[1, "engagement"] = "very"
    with pytest.raises(InputError, match="numbers"):
        employee_survey_panel(es, items=["engagement"])


def test_employee_survey_on_a_world_matches_a_groupby(world):
    items = list(ChainSpec().item_names)
    out = employee_survey_panel(
        world.employee_survey, items=items, start="2023-01", end="2023-12", align="wave"
    )
    es = world.employee_survey.assign(
        period=world.employee_survey["survey_date"]
        .dt.to_period("M")
        .dt.to_timestamp()
        .dt.as_unit("us")
    )
    ref = es.groupby(["unit_id", "period"])[items].mean()
    got = out.dropna(subset=["es_engagement"]).set_index(["unit_id", "period"])
    np.testing.assert_allclose(
        got[[f"es_{i}" for i in items]].to_numpy(), ref.loc[got.index].to_numpy()
    )
    assert got["es_respondents"].sum() == len(world.employee_survey)


# ---- customer survey -------------------------------------------------------------------------


def test_customer_survey_nps_by_hand():
    cs = pd.DataFrame(
        {
            "unit_id": ["a"] * 6 + ["b"] * 3,
            "response_date": D(["2024-01-02"] * 6 + ["2024-01-20"] * 3),
            "csat": [5, 4, 3, 2, 1, np.nan, 5, 5, 4],
            "nps": [10, 9, 8, 6, 0, 7, 10, 10, np.nan],
        }
    )
    out = customer_survey_panel(cs).set_index("unit_id")
    # a: 6 answers, 2 promoters (10, 9), 2 detractors (6, 0): 100 * (2 - 2) / 6 = 0; csat (5+4+3+2+1)/5 = 3
    # b: 2 answers, both promoters: 100; csat (5+5+4)/3
    assert out.loc["a", "cs_nps"] == 0.0 and out.loc["b", "cs_nps"] == 100.0
    assert out.loc["a", "cs_csat"] == 3.0 and out.loc["b", "cs_csat"] == pytest.approx(14 / 3)
    assert out.loc["a", "cs_respondents"] == 6 and out.loc["b", "cs_respondents"] == 3
    cs.loc[0, "nps"] = 9  # one promoter more of six: 100 * (2 - 2) / 6 still 0 (9 replaces 10)
    cs.loc[2, "nps"] = 9  # 8 -> 9: 3 promoters, 2 detractors of 6: 16.67
    assert customer_survey_panel(cs).set_index("unit_id").loc["a", "cs_nps"] == pytest.approx(
        100 / 6
    )
    only_csat = customer_survey_panel(cs, nps=None)
    assert "cs_nps" not in only_csat.columns and "cs_csat" in only_csat.columns


def test_customer_survey_refuses_answers_off_the_scale_and_no_question():
    cs = pd.DataFrame(
        {"unit_id": ["a"], "response_date": D(["2024-01-02"]), "csat": [5], "nps": [11]}
    )
    with pytest.raises(InputError, match="0-10"):
        customer_survey_panel(cs)
    with pytest.raises(InputError, match="at least one"):
        customer_survey_panel(cs, csat=None, nps=None)


# ---- revenue ---------------------------------------------------------------------------------


def test_revenue_retention_by_hand():
    # unit a: x spends 100 (Jan), 60 + 60 in two invoices (Feb), nothing in Mar; y 50, 0 rows, 40;
    # z arrives in Feb with 30 and stays (30 in Mar). unit b: x moves there in Mar (20).
    rev = pd.DataFrame(
        {
            "customer_id": ["x", "x", "x", "y", "y", "z", "z", "x"],
            "unit_id": ["a", "a", "a", "a", "a", "a", "a", "b"],
            "period": D(
                [
                    "2024-01-01",
                    "2024-02-03",
                    "2024-02-20",
                    "2024-01-01",
                    "2024-03-01",
                    "2024-02-01",
                    "2024-03-01",
                    "2024-03-01",
                ]
            ),
            "revenue": [100.0, 60.0, 60.0, 50.0, 40.0, 30.0, 30.0, 20.0],
        }
    )
    out = revenue_panel(rev, start="2024-02", end="2024-03").set_index(["unit_id", "period"])
    a_feb, a_mar = (
        out.loc[("a", pd.Timestamp("2024-02-01"))],
        out.loc[("a", pd.Timestamp("2024-03-01"))],
    )
    # Feb at a: revenue 120 + 30 = 150; start = Jan revenue 150; retained = x's 120 (y gone): 0.8
    assert (a_feb["revenue"], a_feb["revenue_start"], a_feb["revenue_retained"]) == (
        150.0,
        150.0,
        120.0,
    )
    assert a_feb["revenue_retention"] == pytest.approx(0.8)
    # Mar at a: revenue y 40 (back) + z 30 = 70; start 150 (Feb); retained: z only (x left a, y was
    # not active in Feb) = 30: 0.2
    assert (a_mar["revenue"], a_mar["revenue_start"], a_mar["revenue_retained"]) == (
        70.0,
        150.0,
        30.0,
    )
    b_feb, b_mar = (
        out.loc[("b", pd.Timestamp("2024-02-01"))],
        out.loc[("b", pd.Timestamp("2024-03-01"))],
    )
    assert (
        b_mar["revenue"] == 20.0
        and b_mar["revenue_start"] == 0.0
        and np.isnan(b_mar["revenue_retention"])
    )
    assert b_feb["revenue"] == 0.0
    # an activity log gives the same (the date column is named as the caller says)
    act = rev.rename(columns={"period": "activity_date"})
    pd.testing.assert_frame_equal(
        revenue_panel(act, date="activity_date", start="2024-02", end="2024-03"), out.reset_index()
    )


def test_revenue_on_a_world_follows_the_customers(world):
    out = revenue_panel(world.revenue, start="2023-01", end="2023-12")
    panel = world.panel
    assert list(out["unit_id"]) == list(panel["unit_id"])
    # revenue_start is last month's revenue; the month before the window is in the revenue table
    prev = out.groupby("unit_id")["revenue"].shift()
    np.testing.assert_allclose(out["revenue_start"][prev.notna()], prev.dropna())
    ref = world.revenue.assign(
        unit_period=world.revenue["unit_id"] + world.revenue["period"].astype(str)
    )
    total = ref.groupby("unit_period")["revenue"].sum()
    key = out["unit_id"] + out["period"].astype(str)
    np.testing.assert_allclose(out["revenue"], total.reindex(key).fillna(0).to_numpy())
    # units that keep more customers keep more revenue (a unit-month level relation)
    r = np.corrcoef(out["revenue_retention"], panel["customer_retention"])[0, 1]
    assert r > 0.2
    assert (out["revenue_retained"] <= out["revenue"] + 1e-9).all()


def test_revenue_refuses_missing_amounts():
    rev = pd.DataFrame(
        {"customer_id": ["x"], "unit_id": ["a"], "period": D(["2024-01-01"]), "revenue": [np.nan]}
    )
    with pytest.raises(InputError, match="revenue"):
        revenue_panel(rev)


# ---- segments --------------------------------------------------------------------------------


def test_segment_retention_by_hand_and_activity():
    cus = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "unit_id": ["s1", "s1", "s1", "s2"],
            "start_date": D(["2023-05-01", "2023-07-01", "2023-09-09", "2024-01-10"]),
            "end_date": D(["2024-01-15", None, "2024-02-02", None]),
        }
    )
    seg = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "segment": ["retail", "retail", "b2b", "b2b"]}
    )
    out = segment_retention(cus, segments=seg, start="2024-01", end="2024-02")
    assert list(out.columns[:3]) == ["unit_id", "period", "segment"]
    assert len(out) == 2 * 2 * 2  # every unit x period x segment
    s1 = out[out["unit_id"] == "s1"].set_index(["period", "segment"])
    # Jan, retail: a and b at start, a leaves: 0.5; b2b: c at start and stays in Jan: 1.0
    assert s1.loc[(pd.Timestamp("2024-01-01"), "retail"), "customer_retention"] == 0.5
    assert s1.loc[(pd.Timestamp("2024-01-01"), "b2b"), "customer_retention"] == 1.0
    # Feb, b2b: c leaves: 0.0; retail: b stays: 1.0
    assert s1.loc[(pd.Timestamp("2024-02-01"), "b2b"), "customer_retention"] == 0.0
    s2 = out[out["unit_id"] == "s2"].set_index(["period", "segment"])
    assert s2.loc[(pd.Timestamp("2024-01-01"), "b2b"), "customer_joined"] == 1
    assert np.isnan(s2.loc[(pd.Timestamp("2024-01-01"), "b2b"), "customer_retention"])
    # the segment as a column of the customers gives the same
    same = segment_retention(cus.merge(seg, on="customer_id"), start="2024-01", end="2024-02")
    pd.testing.assert_frame_equal(same, out)


def test_segments_sum_to_the_panel(world):
    out = segment_retention(
        world.customers, segments=world.segments, start="2023-01", end="2023-12"
    )
    summed = out.groupby(["unit_id", "period"], sort=True)[
        ["customer_start", "customer_joined", "customer_left", "customer_retained", "customer_end"]
    ].sum()
    panel = world.panel.set_index(["unit_id", "period"])
    for col in summed.columns:
        assert (summed[col].to_numpy() == panel[col].to_numpy()).all(), col
    # per segment, the counts are build_panel's on that segment's customers alone
    one = world.customers.merge(world.segments, on="customer_id")
    part = one[one["segment"] == "enterprise"].drop(columns="segment")
    ref = build_panel(world.employees, part, start="2023-01", end="2023-12")
    got = out[out["segment"] == "enterprise"].reset_index(drop=True)
    for col in ("customer_start", "customer_left", "customer_retained", "customer_retention"):
        np.testing.assert_array_equal(got[col].to_numpy(), ref[col].to_numpy())


def test_segments_from_an_activity_log():
    w = simulate(WorldSpec(n_units=5, months=6, seed=2), customers="activity", chain=ChainSpec())
    out = segment_retention(w.customers, segments=w.segments, start="2023-01", end="2023-06")
    summed = out.groupby(["unit_id", "period"])[["customer_start", "customer_retained"]].sum()
    assert (summed["customer_start"].to_numpy() == w.panel["customer_start"].to_numpy()).all()
    assert (summed["customer_retained"].to_numpy() == w.panel["customer_retained"].to_numpy()).all()


def test_segment_problems_are_input_errors():
    cus = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "unit_id": ["s1", "s1"],
            "start_date": D(["2023-05-01", "2023-07-01"]),
            "end_date": D([None, None]),
        }
    )
    with pytest.raises(InputError, match="segment"):
        segment_retention(cus, segments=pd.DataFrame({"customer_id": ["a"], "segment": ["x"]}))
    with pytest.raises(InputError, match="repeat"):
        segment_retention(
            cus, segments=pd.DataFrame({"customer_id": ["a", "a", "b"], "segment": ["x", "y", "x"]})
        )
    with pytest.raises(InputError, match="segment"):
        segment_retention(cus)


# ---- the join --------------------------------------------------------------------------------


def test_join_chain_on_a_world(world):
    items = list(ChainSpec().item_names)
    es = employee_survey_panel(world.employee_survey, items=items, start="2023-01", end="2023-12")
    cs = customer_survey_panel(world.customer_survey, start="2023-01", end="2023-12")
    rv = revenue_panel(world.revenue)  # its own window (from Dec 2022): extra periods are left out
    panel = world.panel
    before = panel.copy()
    out = join_chain(panel, employee_survey=es, customer_survey=cs, revenue=rv)
    pd.testing.assert_frame_equal(panel, before)
    pd.testing.assert_frame_equal(out[panel.columns], panel)
    assert list(out.columns[len(panel.columns) :]) == [
        *(f"es_{i}" for i in items),
        "es_respondents",
        "es_wave",
        "cs_csat",
        "cs_nps",
        "cs_respondents",
        "cs_wave",
        "revenue",
        "revenue_start",
        "revenue_retained",
        "revenue_retention",
    ]
    assert out["es_respondents"].dtype == np.int64 and out["cs_respondents"].dtype == np.int64
    # waves in March, June, ...: Jan-Feb have no survey in force, March on do
    assert out.loc[out["period"] < "2023-03-01", "es_engagement"].isna().all()
    assert out.loc[out["period"] >= "2023-03-01", "es_engagement"].notna().all()
    assert out["revenue_retention"].notna().all()


def test_join_chain_by_hand_and_its_errors():
    panel = pd.DataFrame(
        {
            "unit_id": ["a", "a", "b"],
            "period": D(["2024-01-01", "2024-02-01", "2024-01-01"]),
            "x": [1, 2, 3],
        }
    )
    rv = pd.DataFrame(
        {"unit_id": ["b", "a"], "period": D(["2024-01-01", "2024-02-01"]), "revenue": [5.0, 7.0]}
    )
    out = join_chain(panel, revenue=rv)
    assert out["revenue"].tolist()[1:] == [7.0, 5.0] and np.isnan(out["revenue"].iloc[0])
    with pytest.raises(InputError, match="already has"):
        join_chain(panel, revenue=rv.rename(columns={"revenue": "x"}))
    with pytest.raises(InputError, match="repeats"):
        join_chain(panel, revenue=pd.concat([rv, rv]))
    with pytest.raises(InputError, match="shares no"):
        join_chain(panel, revenue=rv.assign(period=D(["2030-01-01", "2030-02-01"])))
    with pytest.raises(InputError, match="period"):
        join_chain(panel, revenue=rv.drop(columns="period"))


def test_on_wave_months_equals_wave_alignment(world):
    # a forward-aligned panel with the carried months set aside is the wave-aligned panel
    from linkage.panel.surveys import on_wave_months

    items = list(ChainSpec().item_names)
    window = {"start": "2023-01", "end": "2025-12"}
    forward = employee_survey_panel(world.employee_survey, items=items, align="forward", **window)
    wave = employee_survey_panel(world.employee_survey, items=items, align="wave", **window)
    fresh, dropped = on_wave_months(forward)
    pd.testing.assert_frame_equal(fresh, wave, check_dtype=False)
    carried = int((forward["es_wave"].notna() & (forward["es_wave"] != forward["period"])).sum())
    assert dropped == {"es_wave": carried} and carried > 0
    # already wave-aligned: unchanged, nothing set aside
    again, none = on_wave_months(wave)
    pd.testing.assert_frame_equal(again, wave)
    assert none == {"es_wave": 0}
    # month-end period dates match their waves' first days
    month_end = forward.assign(period=forward["period"] + pd.offsets.MonthEnd(0))
    assert on_wave_months(month_end)[1] == dropped
    with pytest.raises(InputError, match="period is not a date"):
        on_wave_months(forward.assign(period="soon"))
    with pytest.raises(InputError, match="wave is not a date"):
        on_wave_months(forward.assign(es_wave="Q1"))
