"""Small-group suppression for every figure that leaves the library for people.

A figure computed from fewer than ``k`` people is not shown: its cells read ``"suppressed"`` (never
0 or blank). Because a table's total is often published too (a region's total, the company's), one
suppressed row could be recovered by subtracting the others from the total; so within each group that
sums to a total, further rows are suppressed (complementary suppression) until at least two rows are
hidden and the hidden rows together cover at least ``k`` people.

Dashboards, downloads and the static report all pass their tables through :func:`suppress`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from linkage.errors import InputError

__all__ = ["SUPPRESSED", "suppress"]

#: The text shown in place of a suppressed figure.
SUPPRESSED = "suppressed"


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def suppress(
    table: pd.DataFrame,
    *,
    count_cols: str | Sequence[str],
    k: int = 5,
    value_cols: str | Sequence[str] | None = None,
    groups: str | Sequence[str] | None = None,
    label: str = SUPPRESSED,
) -> pd.DataFrame:
    """Hide figures computed from fewer than ``k`` people, and their complements.

    Parameters
    ----------
    table : DataFrame
        One row per published group (unit, unit x period, region ...). Not modified.
    count_cols : str or list of str
        Columns holding how many people each row's figures come from (e.g. ``employee_start``,
        ``customer_start``). A row is primarily suppressed when any of them is below ``k``.
    k : int, default 5
        Minimum number of people behind a figure that is shown.
    value_cols : str or list of str, optional
        Columns blanked out in suppressed rows. Default: every numeric column (counts and rates), so
        labels such as ``unit_id`` or ``region`` stay readable.
    groups : str or list of str, optional
        Columns whose combinations form the sets of rows that add up to a published total (e.g.
        ``"region"``). Default: the whole table is one such set.
    label : str, default "suppressed"
        What suppressed cells read.

    Returns
    -------
    DataFrame
        A copy of ``table`` in which the ``value_cols`` of suppressed rows hold ``label`` (those
        columns become object dtype), plus a boolean column ``suppressed`` and a string column
        ``suppression`` that reads ``"primary"`` (fewer than ``k`` people), ``"complementary"`` (hidden
        so that a primary one cannot be recovered from a total) or ``""``.

    Raises
    ------
    InputError
        If a named column is missing, a count column is not numeric, or ``k < 1``.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkage.privacy import suppress
    >>> t = pd.DataFrame({"unit_id": ["a", "b", "c", "d"], "people": [3, 40, 12, 25],
    ...                   "retention": [0.67, 0.90, 0.75, 0.88]})
    >>> out = suppress(t, count_cols="people", k=5)
    >>> out["retention"].tolist()
    ['suppressed', 0.9, 'suppressed', 0.88]
    >>> out["suppression"].tolist()
    ['primary', '', 'complementary', '']
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(table).__name__}", file="table")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a whole number of people >= 1, got {k!r}", file="table")
    counts = _as_list(count_cols)
    if not counts:
        raise InputError("name at least one count column", file="table")
    group_cols = _as_list(groups)
    for col in [*counts, *group_cols, *_as_list(value_cols)]:
        if col not in table.columns:
            raise InputError("column not found", file="table", column=col)
    for col in counts:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise InputError("a count column must be numeric", file="table", column=col)
    reserved = {"suppressed", "suppression"} & set(table.columns)
    if reserved:
        raise InputError("column name is reserved for the suppression flags", file="table",
                         column=sorted(reserved)[0])
    if value_cols is None:
        values = [c for c in table.columns
                  if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
                  and c not in group_cols]
    else:
        values = _as_list(value_cols)

    out = table.copy()
    n = len(out)
    if n == 0:
        out["suppressed"] = pd.Series([], dtype=bool, index=out.index)
        out["suppression"] = pd.Series([], dtype="str", index=out.index)
        return out

    # the row's governing head count: the smallest of its count columns (missing = 0 people)
    people = out[counts].apply(pd.to_numeric).fillna(0).min(axis=1).to_numpy(dtype=float)
    primary = people < k

    # complementary suppression, vectorised: within each group, order the rows by head count and
    # hide the smallest unsuppressed rows until >= 2 rows are hidden and they cover >= k people
    pos = np.arange(n)
    gkey = (out[group_cols].astype(str).agg("\x1f".join, axis=1).to_numpy()
            if group_cols else np.zeros(n, dtype=int))
    gcodes = pd.factorize(pd.Series(gkey))[0]
    frame = pd.DataFrame({"g": gcodes, "people": people, "primary": primary, "pos": pos})
    gstats = pd.DataFrame({
        "n_prim": frame.groupby("g")["primary"].sum(),
        "sum_prim": (frame["people"] * frame["primary"]).groupby(frame["g"]).sum(),
    })
    cand = frame.loc[~frame["primary"]].sort_values(["g", "people", "pos"], kind="stable")
    cand = cand.join(gstats, on="g")
    rank = cand.groupby("g").cumcount()                    # 0 for the smallest unsuppressed row
    cum_before = cand.groupby("g")["people"].cumsum() - cand["people"]
    hidden_before = cand["n_prim"] + rank                  # rows hidden before this one is considered
    people_before = cand["sum_prim"] + cum_before
    need = (cand["n_prim"] > 0) & ((hidden_before < 2) | (people_before < k))
    secondary = np.zeros(n, dtype=bool)
    secondary[cand.loc[need, "pos"].to_numpy()] = True

    hide = primary | secondary
    for col in values:
        col_values = out[col].astype(object)
        col_values[hide] = label
        out[col] = col_values
    out["suppressed"] = hide
    out["suppression"] = np.where(primary, "primary", np.where(secondary, "complementary", ""))
    out["suppression"] = out["suppression"].astype("str")
    return out
