"""linkage.panel.rollup: regions from summed counts, equal to the panel built with region as unit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.panel import PANEL_COLUMNS, build_panel, rollup

D = dt.date
REGION = {"u1": "N", "u2": "N", "u3": "S", "u4": "S", "u5": "W"}
UNITS = pd.DataFrame({"unit_id": list(REGION), "region": list(REGION.values()),
                      "district": ["d1", "d2", "d3", "d3", "d4"]})


def _emp(rows):
    return pd.DataFrame({
        "employee_id": [f"e{i}" for i in range(len(rows))],
        "unit_id": pd.Series([u for u, _, _ in rows], dtype="str"),
        "hire_date": pd.to_datetime(pd.Series([s for _, s, _ in rows], dtype="object")),
        "termination_date": pd.to_datetime(pd.Series([e for _, _, e in rows], dtype="object")),
    })


def _act(rows):
    return pd.DataFrame({
        "customer_id": pd.Series([c for c, _, _ in rows], dtype="str"),
        "unit_id": pd.Series([u for _, u, _ in rows], dtype="str"),
        "activity_date": pd.to_datetime(pd.Series([d for _, _, d in rows], dtype="object")),
        "revenue": np.arange(len(rows), dtype=float),
    })


def test_rates_come_from_summed_counts_not_averaged_rates():
    # u1: 1 at start, leaves; u2: 9 at start, all stay. Region N: 9 / 10 retained (mean of rates: 0.5)
    rows = [("u1", D(2023, 1, 1), D(2024, 1, 15))] + [("u2", D(2023, 1, 1), None)] * 9
    panel = build_panel(_emp(rows), units=UNITS, start="2024-01", end="2024-01")
    out = rollup(panel, by="region")
    north = out[out["region"] == "N"].iloc[0]
    assert north["employee_start"] == 10 and north["employee_retained"] == 9
    assert north["employee_retention"] == pytest.approx(0.9)
    assert north["employee_turnover"] == pytest.approx(1 / ((10 + 9) / 2))
    assert out["region"].tolist() == ["N", "S", "W"]
    assert np.isnan(out.loc[out["region"] == "S", "employee_retention"]).all()


def test_columns_follow_the_panel_with_by_in_place_of_unit_id():
    panel = build_panel(_emp([("u1", D(2024, 1, 1), None)]), _act([("x", "u3", D(2024, 2, 2))]), units=UNITS)
    out = rollup(panel, by=["region", "district"])
    assert list(out.columns) == ["region", "district", *PANEL_COLUMNS[1:], "customer_revenue"]
    assert len(out) == 4 * 2  # (N, d1), (N, d2), (S, d3), (W, d4) x 2 months


def test_units_without_the_attribute_keep_their_counts_in_a_missing_group():
    panel = build_panel(_emp([("u1", D(2024, 1, 1), None), ("zz", D(2024, 1, 1), None)]), units=UNITS)
    out = rollup(panel, by="region")
    assert out["employee_end"].sum() == panel["employee_end"].sum()
    assert out["region"].isna().sum() == 1


def test_bad_arguments_raise_input_error():
    panel = build_panel(_emp([("u1", D(2024, 1, 1), None)]), units=UNITS)
    with pytest.raises(InputError, match="has no column 'size_band'"):
        rollup(panel, by="size_band")
    with pytest.raises(InputError, match="cannot be 'period'"):
        rollup(panel, by="period")
    with pytest.raises(InputError, match="has no column 'employee_left'"):
        rollup(panel.drop(columns="employee_left"), by="region")


days = st.dates(min_value=D(2020, 1, 1), max_value=D(2021, 6, 30))


@st.composite
def spells(draw):
    out = []
    for _ in range(draw(st.integers(1, 15))):
        s = draw(days)
        n = draw(st.one_of(st.none(), st.integers(0, 300)))
        out.append((draw(st.sampled_from(list(REGION))), s, None if n is None else s + dt.timedelta(days=n)))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emp=spells(), act=st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from(list(REGION)), days),
                                  min_size=1, max_size=20),
       freq=st.sampled_from(["M", "Q"]))
def test_rollup_equals_the_panel_built_with_the_attribute_as_unit(emp, act, freq):
    panel = build_panel(_emp(emp), activity=_act(act), units=UNITS, freq=freq)
    got = rollup(panel, by="region")
    # customers counted per unit: give each (customer, unit) its own id so a region's count is a sum
    act = [(c + u, u, d) for c, u, d in act]
    as_region = lambda t: t.assign(unit_id=t["unit_id"].map(REGION).astype("str"))  # noqa: E731
    want = build_panel(as_region(_emp(emp)), activity=as_region(_act(act)), freq=freq,
                       units=pd.DataFrame({"unit_id": sorted(set(REGION.values()))}),
                       start=panel["period"].min(), end=panel["period"].max())
    pd.testing.assert_frame_equal(got, want.rename(columns={"unit_id": "region"}))
