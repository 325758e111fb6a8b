"""build_panel on the bundled sample world against a plain per-period pandas reference.

The reference (tests/panel_reference.py) applies the docs/domain.md sentences as boolean masks on
the dates, one period at a time, and sums them per unit with ``groupby``: a second computation,
independent of the package's period codes and histograms, on realistic data (3,000 employee and
29,000 customer spells).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.panel import build_panel, rollup
from tests.panel_reference import COUNTS, reference_spells


@pytest.fixture(scope="module")
def world(sample_dir):
    read = lambda name, dates: pd.read_csv(sample_dir / name, dtype={"unit_id": "str"},  # noqa: E731
                                           parse_dates=dates)
    return (read("employees.csv", ["hire_date", "termination_date"]),
            read("customers.csv", ["start_date", "end_date"]),
            read("units.csv", ["opened"]))


@pytest.mark.parametrize(("freq", "step"), [("M", pd.offsets.MonthBegin(1)),
                                           ("Q", pd.offsets.QuarterBegin(1, startingMonth=1))])
def test_sample_panel_equals_the_plain_reference(world, freq, step):
    employees, customers, units = world
    panel = build_panel(employees, customers, units=units, freq=freq, start="2022-01", end="2024-06")
    starts = pd.date_range("2022-01-01", "2024-06-01", freq=step)
    bounds = [(m, m + step - pd.Timedelta(days=1)) for m in starts]
    assert panel["period"].drop_duplicates().tolist() == list(starts)
    unit_ids = sorted(units["unit_id"])
    assert panel["unit_id"].drop_duplicates().tolist() == unit_ids
    for side, table, s_col, e_col in (("employee", employees, "hire_date", "termination_date"),
                                      ("customer", customers, "start_date", "end_date")):
        ref = reference_spells(table, s_col, e_col, unit_ids, bounds)
        for c in COUNTS:
            np.testing.assert_array_equal(panel[f"{side}_{c}"].to_numpy(), ref[c].to_numpy(), err_msg=c)
    assert panel["employee_start"].sum() > 1000 and panel["customer_left"].sum() > 1000  # not vacuous
    by_region = rollup(panel, by="region")
    assert by_region.groupby("period")["customer_end"].sum().tolist() == \
        panel.groupby("period")["customer_end"].sum().tolist()
