"""Small-group suppression: primary (< k people) and complementary (no recovery from a total)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.privacy import SUPPRESSED, suppress


def _table():
    return pd.DataFrame({
        "unit_id": ["a", "b", "c", "d", "e", "f"],
        "region": ["N", "N", "N", "S", "S", "S"],
        "employees": [3, 40, 12, 25, 30, 8],
        "retention": [0.67, 0.90, 0.75, 0.88, 0.93, 0.50],
    })


def test_primary_cells_read_suppressed_not_zero_or_blank():
    out = suppress(_table(), count_cols="employees", k=5)
    row = out.loc[out["unit_id"] == "a"].iloc[0]
    assert row["retention"] == SUPPRESSED
    assert row["employees"] == SUPPRESSED
    assert row["unit_id"] == "a"  # labels stay readable
    assert row["suppression"] == "primary"


def test_input_not_mutated():
    t = _table()
    before = t.copy()
    suppress(t, count_cols="employees", groups="region")
    pd.testing.assert_frame_equal(t, before)


def test_complementary_within_each_group_is_the_smallest_other_row():
    # region N: a (3) primary, so c (12, the smallest other) is hidden too; region S untouched
    out = suppress(_table(), count_cols="employees", k=5, groups="region")
    assert out["suppression"].tolist() == ["primary", "", "complementary", "", "", ""]
    assert out["suppressed"].tolist() == [True, False, True, False, False, False]


def test_complement_keeps_hiding_until_hidden_rows_cover_k_people():
    # two primaries of 1 and 2 people: total minus the rest would reveal a figure from 3 < 5 people
    t = pd.DataFrame({"u": list("abcd"), "n": [1, 2, 50, 60]})
    out = suppress(t, count_cols="n", k=5)
    assert out["suppression"].tolist() == ["primary", "primary", "complementary", ""]


def test_no_recovery_by_subtraction_from_the_total():
    rng = np.random.default_rng(7)
    t = pd.DataFrame({"g": rng.integers(0, 5, 200).astype(str), "n": rng.integers(0, 30, 200)})
    out = suppress(t, count_cols="n", k=5, groups="g")
    hidden = out.groupby("g").apply(
        lambda d: pd.Series({"hidden": d["suppressed"].sum(),
                             "people": t.loc[d.index[d["suppressed"]], "n"].sum(),
                             "rows": len(d)}), include_groups=False)
    has = hidden["hidden"] > 0
    # every group with a hidden row hides >= 2 rows (or all of them) covering >= k people (or all)
    assert ((hidden.loc[has, "hidden"] >= 2) | (hidden.loc[has, "hidden"] == hidden.loc[has, "rows"])).all()
    totals = t.groupby("g")["n"].sum()
    assert ((hidden.loc[has, "people"] >= 5) | (hidden.loc[has, "people"] == totals[has])).all()


def test_several_count_columns_use_the_smallest():
    t = pd.DataFrame({"u": ["a", "b", "c"], "employees": [50, 60, 70], "customers": [900, 2, 800],
                      "r": [0.1, 0.2, 0.3]})
    out = suppress(t, count_cols=["employees", "customers"])
    assert out["suppression"].tolist() == ["complementary", "primary", ""]  # a: min(50, 900) < c: min(70, 800)


def test_nothing_small_nothing_hidden():
    t = _table().assign(employees=[10, 20, 30, 40, 50, 60])
    out = suppress(t, count_cols="employees", groups="region")
    assert not out["suppressed"].any()
    assert out["retention"].tolist() == t["retention"].tolist()


def test_empty_table():
    out = suppress(_table().iloc[:0], count_cols="employees")
    assert len(out) == 0 and "suppressed" in out


@pytest.mark.parametrize("kwargs, column", [
    ({"count_cols": "nope"}, "nope"),
    ({"count_cols": "unit_id"}, "unit_id"),
    ({"count_cols": "employees", "groups": "zone"}, "zone"),
])
def test_bad_columns_raise_input_error(kwargs, column):
    with pytest.raises(InputError) as err:
        suppress(_table(), **kwargs)
    assert err.value.column == column


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_raises(k):
    with pytest.raises(InputError):
        suppress(_table(), count_cols="employees", k=k)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=30), st.integers(1, 10))
def test_property_no_small_figure_shown_and_none_recoverable(counts, k):
    t = pd.DataFrame({"n": counts, "v": np.arange(len(counts), dtype=float)})
    out = suppress(t, count_cols="n", k=k)
    small = t["n"] < k
    assert out.loc[small, "suppressed"].all()
    hid = out["suppressed"]
    if hid.any():
        assert hid.sum() >= 2 or hid.all()
        assert t.loc[hid, "n"].sum() >= k or hid.all()
    assert (out.loc[hid, "v"] == SUPPRESSED).all()
    assert (out.loc[~hid, "v"] != SUPPRESSED).all()


def _oracle(people, groups, k):
    """The complementary rule, one group at a time in plain Python."""
    hide = [p < k for p in people]
    for g in set(groups):
        rows = [i for i in range(len(people)) if groups[i] == g]
        prim = [i for i in rows if hide[i]]
        if not prim:
            continue
        n_hidden, covered = len(prim), sum(people[i] for i in prim)
        for i in sorted((i for i in rows if not hide[i]), key=lambda i: (people[i], i)):
            if n_hidden >= 2 and covered >= k:
                break
            hide[i] = True
            n_hidden, covered = n_hidden + 1, covered + people[i]
    return hide


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("abc")), min_size=1, max_size=25),
       st.integers(1, 8))
def test_grouped_suppression_equals_a_plain_loop(rows, k):
    people, groups = [p for p, _ in rows], [g for _, g in rows]
    t = pd.DataFrame({"people": people, "region": groups, "rate": [0.5] * len(rows)})
    out = suppress(t, count_cols="people", k=k, groups="region")
    assert out["suppressed"].tolist() == _oracle(people, groups, k)
