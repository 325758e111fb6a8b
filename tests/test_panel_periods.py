"""linkage.panel.periods: dates to period codes and window bounds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.panel.periods import MISSING, bound_code, date_codes, normalize_freq, period_starts


@pytest.mark.parametrize(("alias", "freq"), [("M", "M"), ("ms", "M"), ("month", "M"), ("QE", "Q"),
                                             ("quarterly", "Q"), ("A", "Y"), ("YS", "Y")])
def test_freq_aliases(alias, freq):
    assert normalize_freq(alias) == freq


@pytest.mark.parametrize("bad", ["W", "D", "", None, 3])
def test_bad_freq_raises(bad):
    with pytest.raises(InputError, match="freq must be"):
        normalize_freq(bad)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       st.sampled_from(["M", "Q", "Y"]))
def test_a_date_lies_in_the_period_its_code_starts(day, freq):
    code = date_codes(pd.to_datetime([day]), freq)
    first = pd.Timestamp(period_starts(code, freq)[0]).date()
    nxt = pd.Timestamp(period_starts(code + 1, freq)[0]).date()
    assert first <= day < nxt
    assert first.day == 1 and (first.month - 1) % {"M": 1, "Q": 3, "Y": 12}[freq] == 0


def test_time_of_day_and_time_zone_do_not_move_a_date():
    naive = pd.to_datetime(["2024-01-31 23:59:59", "2024-02-01 00:00:00"])
    assert date_codes(naive, "M").tolist() == [648, 649]  # (2024 - 1970) * 12 + 0 and + 1
    aware = naive.tz_localize("America/New_York")
    assert date_codes(aware, "M").tolist() == [648, 649]


def test_missing_dates_get_the_missing_code_and_other_resolutions_agree():
    d = np.array(["2024-03-05", "NaT"], dtype="datetime64[s]")
    assert date_codes(d, "Q").tolist() == [(2024 - 1970) * 4, MISSING]
    assert date_codes(d.astype("datetime64[ns]"), "Q").tolist() == [(2024 - 1970) * 4, MISSING]


@pytest.mark.parametrize(
    ("value", "freq", "side", "expected"),
    [
        ("2023-06", "M", "start", "2023-06-01"),
        ("2023-06", "M", "end", "2023-06-01"),
        ("2023", "M", "start", "2023-01-01"),
        ("2023", "M", "end", "2023-12-01"),
        ("2023Q2", "M", "end", "2023-06-01"),
        ("2023-05", "Q", "start", "2023-04-01"),
        ("2023-06-30", "Y", "end", "2023-01-01"),
        (pd.Timestamp("2023-06-30 18:00"), "M", "start", "2023-06-01"),
        (dt.date(2023, 6, 30), "Q", "end", "2023-04-01"),
        (pd.Period("2023-02", "M"), "Q", "end", "2023-01-01"),
    ],
)
def test_bounds_are_read_at_their_own_resolution(value, freq, side, expected):
    code = bound_code(value, freq, side=side, name=side)
    assert pd.Timestamp(period_starts([code], freq)[0]) == pd.Timestamp(expected)


@pytest.mark.parametrize("bad", ["2023-13", "soon", 2023.5, [2023]])
def test_bad_bounds_raise_input_error(bad):
    with pytest.raises(InputError, match="is not a date or period"):
        bound_code(bad, "M", side="start", name="start")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_large_arrays_take_the_day_table_path_and_agree_with_numpy_calendar(unit):
    rng = np.random.default_rng(7)
    seconds = rng.integers(-20 * 365 * 86400, 60 * 365 * 86400, 30_000)  # 1950 .. 2030, any time
    d = seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]")
    d[::97] = np.datetime64("NaT")
    want = d.astype("datetime64[M]").astype(np.int64)  # numpy's own calendar
    for freq, size in (("M", 1), ("Q", 3), ("Y", 12)):
        got = date_codes(d, freq)
        ok = ~np.isnat(d)
        assert (got[ok] == np.floor_divide(want[ok], size)).all()
        assert (got[~ok] == MISSING).all()
