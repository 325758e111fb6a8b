"""Defects planted on request, each an added row with exactly one defect, counted in the truth.

Every defect is an *extra* row, so setting the defective rows aside gives back the clean world
exactly. Reasons (the identifiers the cleaning step reports):

``duplicate_row``      an exact copy of a clean row (the later of the two is the planted one)
``end_before_start``   a new person whose end date is 1 to 200 days before the start date
``unparseable_date``   a new person whose start or end date is no date at all ("tbd", ...)
``missing_identifier`` a new row with an empty person or unit identifier
``unknown_unit``       a new person in a unit that is not in the units table
``future_date``        a new person whose start date is 3 to 6 years after the extract date
``overlapping_spell``  a second spell of an existing person in the same unit, starting inside
                       their existing spell (the later-starting spell is the planted one)

Activity logs take the first five only apart from ``end_before_start`` (no end date) and
``overlapping_spell`` (no spells).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError

__all__ = ["DEFECT_REASONS", "plant_defects", "defect_counts"]

DEFECT_REASONS: tuple[str, ...] = (
    "duplicate_row",
    "end_before_start",
    "unparseable_date",
    "missing_identifier",
    "unknown_unit",
    "future_date",
    "overlapping_spell",
)
_SPELL_ONLY = ("end_before_start", "overlapping_spell")
#: text that is no date at all (date-shaped but impossible dates are another reason for the cleaner)
_GARBAGE = ("unknown", "tbd", "20X3-05-01", "see file", "pending", "#VALUE!", "Jan-??")
_DAY = np.timedelta64(1, "D")


def defect_counts(defects: Any, n_rows: int, *, spells: bool) -> dict[str, int]:
    """How many rows of each defect to plant in a table of ``n_rows`` clean rows."""
    if defects is None:
        return {}
    if isinstance(defects, bool):
        raise InputError(f"defects must be a rate or a dict of counts, not {defects!r}")
    if isinstance(defects, (int, float, np.integer, np.floating)):
        rate = float(defects)
        if not 0.0 <= rate <= 0.2:
            raise InputError(
                f"a defect rate must be from 0 to 0.2, not {defects!r}", column="defects"
            )
        reasons = [r for r in DEFECT_REASONS if spells or r not in _SPELL_ONLY]
        return {r: max(1, int(round(rate * n_rows))) if rate > 0 else 0 for r in reasons}
    if isinstance(defects, dict):
        out = {}
        for reason, count in defects.items():
            if reason not in DEFECT_REASONS:
                raise InputError(
                    f"unknown defect {reason!r}; known: {', '.join(DEFECT_REASONS)}",
                    column="defects",
                )
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
                raise InputError(
                    f"the number of {reason!r} defects must be a whole number >= 0, not {count!r}",
                    column="defects",
                )
            if spells or reason not in _SPELL_ONLY:
                out[reason] = int(count)
        return out
    raise InputError(
        f"defects must be a rate or a dict of counts, not {type(defects).__name__}",
        column="defects",
    )


def _iso(values: pd.Series) -> np.ndarray:
    """Dates as ISO strings (None where missing), as an object array."""
    out = np.array(
        values.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None), dtype=object
    )
    return out


def plant_defects(
    rng: np.random.Generator,
    table: pd.DataFrame,
    *,
    id_col: str,
    start_col: str,
    end_col: str | None,
    counts: dict[str, int],
    known_units: np.ndarray,
    extract_date: np.datetime64,
    new_id_prefix: str,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Add defective rows; return the table (dates as ISO strings) and the planted rows.

    The result is shuffled; each planted row is reported as ``{"row": r, "reason": ...}`` with
    ``r`` the 1-based data row in the written file (header = row 0).
    """
    clean = table.reset_index(drop=True)
    n = len(clean)
    cols = list(clean.columns)
    date_cols = [c for c in (start_col, end_col) if c is not None]
    base: dict[str, np.ndarray] = {}
    for c in cols:
        if c in date_cols:
            base[c] = _iso(clean[c])
        elif pd.api.types.is_float_dtype(clean[c]):
            base[c] = clean[c].to_numpy(dtype=float)
        else:
            base[c] = np.array(clean[c].to_numpy(dtype=object, na_value=None), dtype=object)

    extra: dict[str, list[np.ndarray]] = {c: [] for c in cols}
    reasons: list[np.ndarray] = []
    new_serial = [0]

    def new_ids(k: int) -> np.ndarray:
        ids = [f"{new_id_prefix}{new_serial[0] + i + 1:05d}" for i in range(k)]
        new_serial[0] += k
        return np.array(ids, dtype=object)

    def template(k: int, *, distinct: bool = False) -> dict[str, np.ndarray]:
        """k fresh, clean-looking rows copied from random clean rows with new identifiers.

        ``distinct``: copy k different clean rows (when there are that many), so that rows which
        lose their new identifier cannot be copies of each other.
        """
        pick = rng.integers(0, n, size=k)
        if distinct and k <= n:
            pick = _distinct(pick, n)
        rows = {c: base[c][pick].copy() for c in cols}
        rows[id_col] = new_ids(k)
        s = np.array(pd.to_datetime(pd.Series(rows[start_col]), format="%Y-%m-%d")).astype(
            "datetime64[D]"
        )
        if end_col is not None:
            # a closed spell well inside the past: start, then end 30 to 400 days later
            end = s + rng.integers(30, 400, size=k) * _DAY
            end = np.minimum(end, extract_date - _DAY)
            s = np.minimum(s, end - _DAY)
            rows[start_col] = s.astype(str).astype(object)
            rows[end_col] = end.astype(str).astype(object)
            if "termination_type" in rows:
                rows["termination_type"] = np.full(k, "voluntary", dtype=object)
        return rows

    def add(rows: dict[str, np.ndarray], reason: str) -> None:
        k = len(rows[id_col])
        for c in cols:
            extra[c].append(rows[c])
        reasons.append(np.full(k, reason, dtype=object))

    for reason in DEFECT_REASONS:
        k = counts.get(reason, 0)
        if k == 0:
            continue
        if reason == "duplicate_row":
            pick = rng.choice(n, size=k, replace=False) if k <= n else rng.integers(0, n, size=k)
            add({c: base[c][pick].copy() for c in cols}, reason)
        elif reason == "end_before_start":
            rows = template(k)
            s = np.array(rows[end_col], dtype="datetime64[D]")  # a past date becomes the start
            rows[start_col] = s.astype(str).astype(object)
            rows[end_col] = (s - rng.integers(1, 201, size=k) * _DAY).astype(str).astype(object)
            add(rows, reason)
        elif reason == "unparseable_date":
            rows = template(k)
            garbage = np.array(_GARBAGE, dtype=object)[rng.integers(0, len(_GARBAGE), size=k)]
            which = rng.random(k) < 0.5 if end_col is not None else np.ones(k, dtype=bool)
            rows[start_col] = np.where(which, garbage, rows[start_col])
            if end_col is not None:
                rows[end_col] = np.where(which, rows[end_col], garbage)
            add(rows, reason)
        elif reason == "missing_identifier":
            rows = template(k, distinct=True)
            blank_unit = rng.random(k) < 0.5
            rows["unit_id"] = np.where(blank_unit, None, rows["unit_id"])
            rows[id_col] = np.where(blank_unit, rows[id_col], None)
            add(rows, reason)
        elif reason == "unknown_unit":
            rows = template(k)
            width = len(known_units[0])
            top = max(int(u) for u in known_units)
            rows["unit_id"] = np.array(
                [f"{top + 1 + int(i):0{width}d}" for i in rng.integers(0, 50, size=k)], dtype=object
            )
            add(rows, reason)
        elif reason == "future_date":
            rows = template(k)
            future = extract_date + rng.integers(3 * 365, 6 * 365, size=k) * _DAY
            rows[start_col] = future.astype(str).astype(object)
            if end_col is not None:
                rows[end_col] = np.full(k, None, dtype=object)
                if "termination_type" in rows:
                    rows["termination_type"] = np.full(k, None, dtype=object)
            add(rows, reason)
        elif reason == "overlapping_spell":
            s = np.array(base[start_col], dtype="datetime64[D]")
            e = np.array(
                np.where(base[end_col] == None, str(extract_date), base[end_col]),  # noqa: E711
                dtype="datetime64[D]",
            )
            eligible = np.flatnonzero((e - s) >= np.timedelta64(3, "D"))
            if eligible.size == 0:
                raise InputError(
                    "no spell is long enough to plant an overlapping spell", column="defects"
                )
            pick = rng.choice(eligible, size=k, replace=k > eligible.size)
            rows = {c: base[c][pick].copy() for c in cols}
            length = (e[pick] - s[pick]).astype(np.int64)
            new_s = s[pick] + (1 + np.floor(rng.random(k) * (length - 1)).astype(np.int64)) * _DAY
            rows[start_col] = new_s.astype(str).astype(object)
            add(rows, reason)

    if not reasons:
        out = {c: base[c] for c in cols}
        return _frame(out, cols, date_cols, clean), []
    out = {c: np.concatenate([base[c], *extra[c]]) for c in cols}
    why = np.concatenate([np.full(n, None, dtype=object), *reasons])
    order = rng.permutation(why.size)
    out = {c: v[order] for c, v in out.items()}
    why = why[order]
    frame = _frame(out, cols, date_cols, clean)
    # what a cleaner sees, duplicates first: the planted copy is whichever of two identical rows
    # comes later, and any other row identical to an earlier one (rare: two planted rows equal
    # once their identifiers are blanked) is a duplicate too, whatever else was planted in it
    why = np.where(why == "duplicate_row", None, why)
    why[frame.duplicated(keep="first").to_numpy()] = "duplicate_row"
    planted = [{"row": int(i) + 1, "reason": str(why[i])} for i in np.flatnonzero(why != None)]  # noqa: E711
    return frame, planted


def _distinct(pick: np.ndarray, n: int) -> np.ndarray:
    """Repeated picks moved to the next free row (mod ``n``), so all are different; needs
    ``len(pick) <= n``.

    Deterministic (no draws), so picks that are already distinct, and the random stream after
    them, are unchanged.

    Examples
    --------
    >>> _distinct(np.array([3, 1, 3, 3]), 5).tolist()
    [3, 1, 4, 0]
    """
    pick = pick.copy()
    dup = pd.Series(pick).duplicated().to_numpy()
    while dup.any():  # ends as len(pick) <= n; usually one round
        pick[dup] = (pick[dup] + 1) % n
        dup = pd.Series(pick).duplicated().to_numpy()
    return pick


def _frame(
    out: dict[str, np.ndarray], cols: list[str], date_cols: list[str], clean: pd.DataFrame
) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for c in cols:
        if c not in date_cols and pd.api.types.is_float_dtype(clean[c]):
            data[c] = out[c].astype(float)
        else:
            data[c] = pd.array(out[c], dtype="str")
    return pd.DataFrame(data, columns=cols)
