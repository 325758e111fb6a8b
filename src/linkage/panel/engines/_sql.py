"""The panel as SQL: one query generator, two dialects (DuckDB and Spark SQL).

The heavy part of a panel is the customer activity log (hundreds of millions of rows). Turning it
into spells, as the pandas builder does, needs a sort of the whole log; here it needs one hash
aggregation instead. Every (customer, unit) pair gets a bit mask of the periods it is active in
(``bit_or`` of one bit per activity row, widened to ``activity_window`` bits), and a second,
small aggregation over the pairs sums those bits per unit and period:

- ``end``      = pairs whose bit of period ``m`` is set (active now);
- ``start``    = pairs whose bit of period ``m - 1`` is set (active in the previous period);
- ``retained`` = pairs with both bits set; ``joined = end - retained``; ``left = start - retained``.

These are the activity-log definitions of :mod:`linkage.panel.build`, so the counts equal the
pandas builder's exactly. Bit ``i`` of the mask is period ``lo - activity_window + i`` (activity
before that cannot make anyone active in the window); a mask word holds 62 bits and consecutive
words share one period, so that the two bits ``m - 1`` and ``m`` always sit in the same word. A
60-month window needs one word, ten years of months three.

Spells (employees, customer spells) are small: per unit, the histograms of start and end periods
come out of SQL and their cumulative sums in numpy give the five counts, as in
``linkage.panel.build._Grid.spell_counts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dialect", "DUCKDB", "SPARK", "code_expr", "bounds_sql", "spell_hist_sql",
           "activity_sql", "revenue_sql", "spell_counts", "activity_counts", "n_words", "WORD_BITS"]

#: bits used in one signed 64-bit mask word (62 keeps ``1 << 62`` positive)
WORD_BITS = 62


@dataclass(frozen=True)
class Dialect:
    """How a back-end spells the few operations that differ between SQL dialects."""

    name: str
    string: str  # the text type
    shl: str  # format with {a}, {b}: a << b
    shr: str  # a >> b

    def lshift(self, a: str, b: str) -> str:
        return self.shl.format(a=a, b=b)

    def rshift(self, a: str, b: str) -> str:
        return self.shr.format(a=a, b=b)


DUCKDB = Dialect("duckdb", "VARCHAR", "({a} << {b})", "({a} >> {b})")
SPARK = Dialect("spark", "STRING", "shiftleft({a}, {b})", "shiftright({a}, {b})")

_MONTHS = {"M": 1, "Q": 3, "Y": 12}


def code_expr(column: str, freq: str) -> str:
    """SQL for the period code of a date column (months since 1970-01, quarters, years)."""
    day = f"CAST({column} AS DATE)"
    months = f"((year({day}) - 1970) * 12 + month({day}) - 1)"
    k = _MONTHS[freq]
    return months if k == 1 else f"CAST(floor({months} / {k}) AS BIGINT)"


def bounds_sql(table: str, kind: str, freq: str, d: Dialect) -> str:
    """Row count, missing-value counts and the code range of one table (one scan); one row
    ``tbl, n, no_unit, no_id, no_start, end_before, lo, hi``."""
    if kind == "activity":
        c = code_expr("activity_date", freq)
        return (f"SELECT '{table}' AS tbl, count(*) AS n, "
                f"sum(CASE WHEN unit_id IS NULL THEN 1 ELSE 0 END) AS no_unit, "
                f"sum(CASE WHEN customer_id IS NULL THEN 1 ELSE 0 END) AS no_id, "
                f"sum(CASE WHEN activity_date IS NULL THEN 1 ELSE 0 END) AS no_start, "
                f"0 AS end_before, min({c}) AS lo, max({c}) AS hi FROM {table}")
    s_col, e_col = ("hire_date", "termination_date") if kind == "employees" else ("start_date", "end_date")
    s, e = code_expr(s_col, freq), code_expr(e_col, freq)
    return (f"SELECT '{table}' AS tbl, count(*) AS n, "
            f"sum(CASE WHEN unit_id IS NULL THEN 1 ELSE 0 END) AS no_unit, 0 AS no_id, "
            f"sum(CASE WHEN {s_col} IS NULL THEN 1 ELSE 0 END) AS no_start, "
            f"sum(CASE WHEN CAST({e_col} AS DATE) < CAST({s_col} AS DATE) THEN 1 ELSE 0 END) AS end_before, "
            f"min({s}) AS lo, greatest(max({s}), coalesce(max({e}), max({s}))) AS hi FROM {table}")


def spell_hist_sql(table: str, kind: str, freq: str, lo: int, hi: int, d: Dialect) -> str:
    """Per unit and slot, how many spells start, end, and start and end in the same period.

    Slot 0 gathers every period before ``lo``, slot ``k`` is period ``lo - 1 + k``; events after
    ``hi`` (and open ends) are left out, but every unit appears (with slot -1 if need be).
    Columns ``tbl`` (= ``table``), ``u``, ``what`` (S, E or B), ``slot``, ``n``.
    """
    s_col, e_col = ("hire_date", "termination_date") if kind == "employees" else ("start_date", "end_date")
    s, e = code_expr(s_col, freq), code_expr(e_col, freq)
    t = f"(SELECT CAST(unit_id AS {d.string}) AS u, {s} AS s, {e} AS e FROM {table})"
    return (
        f"SELECT '{table}' AS tbl, u, 'S' AS what, CASE WHEN s > {hi} THEN -1 ELSE greatest(s - {lo - 1}, 0) END "
        f"AS slot, count(*) AS n FROM {t} t1 GROUP BY 1, 2, 3, 4 "
        f"UNION ALL SELECT '{table}', u, 'E', greatest(e - {lo - 1}, 0), count(*) FROM {t} t2 "
        f"WHERE e IS NOT NULL AND e <= {hi} GROUP BY 1, 2, 3, 4 "
        f"UNION ALL SELECT '{table}', u, 'B', s - {lo - 1}, count(*) FROM {t} t3 "
        f"WHERE e = s AND s BETWEEN {lo} AND {hi} GROUP BY 1, 2, 3, 4"
    )


def n_words(n_periods: int, window: int) -> int:
    """Mask words needed for bits ``0 .. window + n_periods - 1`` with one shared bit per word."""
    top = window + n_periods - 1  # the highest bit index in use
    return max(1, -(-top // (WORD_BITS - 1)))


def activity_sql(table: str, freq: str, lo: int, hi: int, window: int, d: Dialect) -> str:
    """Per unit: the end and retained counts of every period, and the end count of ``lo - 1``.

    Columns ``u``, then ``e0 .. e{n}`` (active in period ``lo - 1 + i``) and ``r1 .. r{n}``
    (active in ``lo - 2 + i`` and ``lo - 1 + i``).
    """
    n_periods = hi - lo + 1
    base = lo - window  # bit 0
    top = window + n_periods - 1
    words = n_words(n_periods, window)
    step = WORD_BITS - 1
    c = code_expr("activity_date", freq)
    one = "CAST(1 AS BIGINT)"
    masks = []
    for j in range(words):
        off = j * step
        # activity at bit k makes bits k .. k + window - 1 active; clip them to this word
        low = f"greatest(k, {off}) - {off}"
        high = f"least(k + {window - 1}, {off + WORD_BITS - 1}, {top}) - {off}"
        bits = f"({d.lshift(one, f'{high} + 1')} - {d.lshift(one, low)})"
        masks.append(f"bit_or(CASE WHEN k + {window - 1} >= {off} AND k <= {off + WORD_BITS - 1} "
                     f"AND k + {window - 1} >= 0 AND k <= {top} THEN {bits} ELSE {one} - 1 END) AS w{j}")
    inner = (f"SELECT CAST(unit_id AS {d.string}) AS u, {' , '.join(masks)} FROM "
             f"(SELECT customer_id, unit_id, {c} - {base} AS k FROM {table}) a GROUP BY customer_id, unit_id")
    sums = []

    def bit(i: int) -> tuple[str, int]:
        j = max(0, (i - 1) // step)
        return f"w{j}", i - j * step

    for i in range(n_periods + 1):  # period lo - 1 + i has bit window - 1 + i
        b = window - 1 + i
        w, pos = bit(b) if b > 0 else ("w0", 0)
        sums.append(f"CAST(sum({d.rshift(w, pos)} & 1) AS BIGINT) AS e{i}")
        if i >= 1:  # b >= 1: bits b - 1 and b sit in the same word
            sums.append(f"CAST(sum(CASE WHEN ({d.rshift(w, pos - 1)} & 3) = 3 THEN 1 ELSE 0 END) AS BIGINT) AS r{i}")
    return f"SELECT u, {', '.join(sums)} FROM ({inner}) p GROUP BY u"


def revenue_sql(table: str, freq: str, lo: int, hi: int, d: Dialect) -> str:
    """Revenue per unit and period of the window (missing amounts add nothing)."""
    c = code_expr("activity_date", freq)
    return (f"SELECT u, k, sum(coalesce(CAST(revenue AS DOUBLE), 0.0)) AS rev FROM "
            f"(SELECT CAST(unit_id AS {d.string}) AS u, {c} AS k, revenue FROM {table}) a "
            f"WHERE k BETWEEN {lo} AND {hi} GROUP BY u, k")


def spell_counts(hist, unit_index, lo: int, n_periods: int) -> dict[str, np.ndarray]:
    """The five spell counts on the unit x period grid from the histograms of :func:`spell_hist_sql`.

    ``hist`` is a DataFrame ``u, what, slot, n`` with ``what`` in S (starts), E (ends), B (both in
    the same period).
    """
    n_units, width = len(unit_index), n_periods + 1
    out = {}
    for what in ("S", "E", "B"):
        part = hist[(hist["what"] == what) & (hist["slot"] >= 0)]
        ui = unit_index.get_indexer(part["u"].astype("str"))
        out[what] = np.bincount(ui * width + part["slot"].to_numpy(np.int64),
                                weights=part["n"].to_numpy(np.float64),
                                minlength=n_units * width).reshape(n_units, width).astype(np.int64)
    s_upto, e_upto = np.cumsum(out["S"], axis=1), np.cumsum(out["E"], axis=1)
    start = s_upto[:, :-1] - e_upto[:, :-1]
    end = s_upto[:, 1:] - e_upto[:, 1:]
    joined, left, both = out["S"][:, 1:], out["E"][:, 1:], out["B"][:, 1:]
    retained = start - (left - both)
    grids = {"start": start, "joined": joined, "left": left, "retained": retained, "end": end}
    return {k: np.ascontiguousarray(v, dtype=np.int64).ravel() for k, v in grids.items()}


def activity_counts(table, unit_index, n_periods: int) -> dict[str, np.ndarray]:
    """The five counts from the per-unit sums of :func:`activity_sql`."""
    ui = unit_index.get_indexer(table["u"].astype("str"))
    n_units = len(unit_index)
    e = np.zeros((n_units, n_periods + 1), dtype=np.int64)
    r = np.zeros((n_units, n_periods), dtype=np.int64)
    e[ui] = table[[f"e{i}" for i in range(n_periods + 1)]].to_numpy(np.int64)
    r[ui] = table[[f"r{i}" for i in range(1, n_periods + 1)]].to_numpy(np.int64)
    start, end = e[:, :-1], e[:, 1:]
    grids = {"start": start, "joined": end - r, "left": start - r, "retained": r, "end": end}
    return {k: np.ascontiguousarray(v, dtype=np.int64).ravel() for k, v in grids.items()}
