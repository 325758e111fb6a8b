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

What the engine pays for is the pass over the log, so it makes one and does little per row:

- no date arithmetic per row: a small calendar (one row per day of the data's range, built in SQL
  by :func:`calendar_sql`) holds each day's period code and mask words, and the log is joined to
  it on the date (a broadcast of a few thousand rows, cheaper than ``year``/``month`` per row);
- revenue per unit and period comes out of the same pass, not from a second scan
  (:func:`pairs_sql`);
- one aggregate per row and grouping (each one is a pass of scattered updates over a hash table
  of a million pairs).

Spells (employees, customer spells) are small: per unit, the histograms of start and end periods
come out of SQL and their cumulative sums in numpy give the five counts, as in
``linkage.panel.build.UnitPeriodGrid.spell_counts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Dialect",
    "DUCKDB",
    "SPARK",
    "Days",
    "calendar_days",
    "code_expr",
    "bounds_sql",
    "spell_hist_sql",
    "calendar_sql",
    "pairs_sql",
    "activity_sql",
    "revenue_sql",
    "spell_counts",
    "activity_counts",
    "unit_codes",
    "n_words",
    "WORD_BITS",
    "MAX_DAYS",
]

#: bits used in one signed 64-bit mask word (62 keeps ``1 << 62`` positive)
WORD_BITS = 62
#: the longest calendar joined to an activity log; past it (a log spanning centuries, say a
#: mistyped year 2202) dates are clamped into a calendar of the window instead
MAX_DAYS = 100_000


@dataclass(frozen=True)
class Dialect:
    """How a back-end spells the few operations that differ between SQL dialects."""

    name: str
    string: str  # the text type
    shl: str  # format with {a}, {b}: a << b
    shr: str  # a >> b
    days: str  # format with {first}, {n}: a query of one DATE column ``cal_day``, n days from first
    keep: str  # format with {name}, {sql}: keep a query's result as a table for a few queries
    drop: str  # format with {name}: drop it (and uncache it)
    fanout: bool  # a materialised CTE read by two queries is one pass (DuckDB), not two (Spark)

    def lshift(self, a: str, b: str) -> str:
        return self.shl.format(a=a, b=b)

    def rshift(self, a: str, b: str) -> str:
        return self.shr.format(a=a, b=b)


DUCKDB = Dialect(
    "duckdb",
    "VARCHAR",
    "({a} << {b})",
    "({a} >> {b})",
    "SELECT CAST(DATE '{first}' + CAST(range AS INTEGER) AS DATE) AS cal_day FROM range({n})",
    "CREATE OR REPLACE TEMP TABLE {name} AS {sql}",
    "DROP TABLE IF EXISTS {name}",
    True,
)
SPARK = Dialect(
    "spark",
    "STRING",
    "shiftleft({a}, {b})",
    "shiftright({a}, {b})",
    "SELECT date_add(DATE'{first}', CAST(id AS INT)) AS cal_day FROM range({n})",
    "CACHE TABLE {name} AS {sql}",
    "DROP VIEW IF EXISTS {name}",
    False,
)

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
        return (
            f"SELECT '{table}' AS tbl, count(*) AS n, "
            f"sum(CASE WHEN unit_id IS NULL THEN 1 ELSE 0 END) AS no_unit, "
            f"sum(CASE WHEN customer_id IS NULL THEN 1 ELSE 0 END) AS no_id, "
            f"sum(CASE WHEN activity_date IS NULL THEN 1 ELSE 0 END) AS no_start, "
            f"0 AS end_before, min({c}) AS lo, max({c}) AS hi FROM {table}"
        )
    s_col, e_col = (
        ("hire_date", "termination_date") if kind == "employees" else ("start_date", "end_date")
    )
    s, e = code_expr(s_col, freq), code_expr(e_col, freq)
    return (
        f"SELECT '{table}' AS tbl, count(*) AS n, "
        f"sum(CASE WHEN unit_id IS NULL THEN 1 ELSE 0 END) AS no_unit, 0 AS no_id, "
        f"sum(CASE WHEN {s_col} IS NULL THEN 1 ELSE 0 END) AS no_start, "
        f"sum(CASE WHEN CAST({e_col} AS DATE) < CAST({s_col} AS DATE) THEN 1 ELSE 0 END) "
        "AS end_before, "
        f"min({s}) AS lo, greatest(max({s}), coalesce(max({e}), max({s}))) AS hi FROM {table}"
    )


def spell_hist_sql(table: str, kind: str, freq: str, lo: int, hi: int, d: Dialect) -> str:
    """Per unit and slot, how many spells start, end, and start and end in the same period.

    Slot 0 gathers every period before ``lo``, slot ``k`` is period ``lo - 1 + k``; events after
    ``hi`` (and open ends) are left out, but every unit appears (with slot -1 if need be).
    Columns ``tbl`` (= ``table``), ``u``, ``what`` (S, E or B), ``slot``, ``n``.
    """
    s_col, e_col = (
        ("hire_date", "termination_date") if kind == "employees" else ("start_date", "end_date")
    )
    s, e = code_expr(s_col, freq), code_expr(e_col, freq)
    codes = f"SELECT CAST(unit_id AS {d.string}) AS u, {s} AS s, {e} AS e FROM {table}"
    # DuckDB: one read of the table feeding the three counts; Spark: three reads (a CTE is inlined)
    t, head = (
        ("t", f"SELECT * FROM (WITH t AS MATERIALIZED ({codes}) ")
        if d.fanout
        else (f"({codes})", "")
    )
    return (
        f"{head}SELECT '{table}' AS tbl, u, 'S' AS what, "
        f"CASE WHEN s > {hi} THEN -1 ELSE greatest(s - {lo - 1}, 0) "
        f"END AS slot, count(*) AS n FROM {t} t1 GROUP BY 1, 2, 3, 4 "
        f"UNION ALL SELECT '{table}', u, 'E', greatest(e - {lo - 1}, 0), count(*) FROM {t} t2 "
        f"WHERE e IS NOT NULL AND e <= {hi} GROUP BY 1, 2, 3, 4 "
        f"UNION ALL SELECT '{table}', u, 'B', s - {lo - 1}, count(*) FROM {t} t3 "
        f"WHERE e = s AND s BETWEEN {lo} AND {hi} GROUP BY 1, 2, 3, 4{')' if d.fanout else ''}"
    )


def n_words(n_periods: int, window: int) -> int:
    """Mask words needed for bits ``0 .. window + n_periods - 1`` with one shared bit per word."""
    top = window + n_periods - 1  # the highest bit index in use
    return max(1, -(-top // (WORD_BITS - 1)))


@dataclass(frozen=True)
class Days:
    """The calendar an activity log is joined to: ``n`` days from ``first`` (an ISO date).

    With ``clamp``, every date is first clamped into the calendar, whose first and last days then
    lie outside the periods that count (so no row is lost to the join whatever its date).
    """

    first: str
    n: int
    clamp: bool = False

    @property
    def last(self) -> str:
        return str(np.datetime64(self.first, "D") + np.timedelta64(self.n - 1, "D"))


def _period_day(code: int, freq: str) -> np.datetime64:
    """The first day of period ``code``."""
    return np.datetime64(int(code) * _MONTHS[freq], "M").astype("datetime64[D]")


def calendar_days(
    data_lo: int | None, data_hi: int | None, lo: int, hi: int, window: int, freq: str
) -> Days:
    """The calendar for an activity log whose dates fall in periods ``data_lo .. data_hi``.

    It covers the data's periods, day by day, and two more days at each end (a date read through
    another time zone than the range's stays in), so that every row joins; when that is more than
    :data:`MAX_DAYS` days (or the range is unknown), the window's periods ``lo - window .. hi``
    plus one outside day at each end, and dates are clamped into it.
    """
    if data_lo is not None and data_hi is not None:
        margin = np.timedelta64(2, "D")
        first, stop = _period_day(data_lo, freq) - margin, _period_day(data_hi + 1, freq) + margin
        n = int((stop - first) // np.timedelta64(1, "D"))
        if 0 < n <= MAX_DAYS:
            return Days(str(first), n)
    first = _period_day(lo - window, freq) - np.timedelta64(1, "D")
    stop = _period_day(hi + 1, freq) + np.timedelta64(1, "D")
    return Days(str(first), int((stop - first) // np.timedelta64(1, "D")), clamp=True)


def _join(table: str, days: Days, freq: str, lo: int, hi: int, window: int, d: Dialect) -> str:
    """``{table} a JOIN (calendar) c ON <the date> = c.cal_day``."""
    key = "CAST(a.activity_date AS DATE)"
    if days.clamp:
        key = f"greatest(least({key}, DATE '{days.last}'), DATE '{days.first}')"
    return f"{table} a JOIN ({calendar_sql(days, freq, lo, hi, window, d)}) c ON {key} = c.cal_day"


def calendar_sql(days: Days, freq: str, lo: int, hi: int, window: int, d: Dialect) -> str:
    """One row per day of ``days``: ``cal_day``, ``cal_p`` (its period code when in ``lo .. hi``,
    else NULL) and the mask words ``cal_w0 ..`` an activity on that day contributes.

    Bit ``i`` of the mask is period ``lo - window + i``; an activity in period ``p`` sets the bits
    of ``p .. p + window - 1``, clipped to the bits in use and to each word.
    """
    n_periods = hi - lo + 1
    base = lo - window  # bit 0
    top = window + n_periods - 1
    step = WORD_BITS - 1
    one = "CAST(1 AS BIGINT)"
    masks = []
    for j in range(n_words(n_periods, window)):
        off = j * step
        # activity at bit k makes bits k .. k + window - 1 active; clip them to this word
        low = f"greatest(k, {off}) - {off}"
        high = f"least(k + {window - 1}, {off + WORD_BITS - 1}, {top}) - {off}"
        bits = f"({d.lshift(one, f'{high} + 1')} - {d.lshift(one, low)})"
        masks.append(
            f"CASE WHEN k + {window - 1} >= {off} AND k <= {off + WORD_BITS - 1} "
            f"AND k + {window - 1} >= 0 AND k <= {top} THEN {bits} ELSE {one} - 1 END AS cal_w{j}"
        )
    code = code_expr("cal_day", freq)
    return (
        f"SELECT cal_day, CASE WHEN p BETWEEN {lo} AND {hi} THEN p END AS cal_p, "
        f"{', '.join(masks)} FROM "
        f"(SELECT cal_day, p, p - {base} AS k FROM (SELECT cal_day, {code} AS p FROM "
        f"({d.days.format(first=days.first, n=days.n)}) t0) t1) t2"
    )


def pairs_sql(
    table: str, freq: str, lo: int, hi: int, window: int, d: Dialect, days: Days, revenue: bool
) -> str:
    """The one pass over an activity log: a bit mask per (customer, unit), and revenue per unit
    and period.

    Rows ``uid``, ``w0 ..`` (the mask words of one customer at one unit); with ``revenue`` the
    same pass also gives one row per unit and period code ``p`` (NULL outside the window) with its
    revenue ``rev``, and ``g`` tells them apart (0: masks, 1: revenue). DuckDB feeds the joined
    rows to both aggregations at once (a materialised CTE with two consumers streams, it is not
    stored), each with only its own aggregate; Spark gets the same as ``GROUPING SETS`` (its
    ``Expand``), as a CTE there would be computed twice.
    """
    words = n_words(hi - lo + 1, window)
    join = _join(table, days, freq, lo, hi, window, d)
    if not revenue:
        masks = ", ".join(f"bit_or(c.cal_w{j}) AS w{j}" for j in range(words))
        return f"SELECT a.unit_id AS uid, {masks} FROM {join} GROUP BY a.customer_id, a.unit_id"
    if d.fanout:
        cal = ", ".join(f"c.cal_w{j} AS m{j}" for j in range(words))
        masks = ", ".join(f"bit_or(m{j}) AS w{j}" for j in range(words))
        nulls = ", ".join(f"CAST(NULL AS BIGINT) AS w{j}" for j in range(words))
        return (
            "WITH j AS MATERIALIZED (SELECT a.customer_id AS cid, a.unit_id AS uid, "
            f"c.cal_p AS p, {cal}, "
            f"a.revenue AS r FROM {join}) "
            f"SELECT uid, CAST(NULL AS BIGINT) AS p, 0 AS g, {masks}, CAST(NULL AS DOUBLE) AS rev "
            f"FROM j GROUP BY cid, uid UNION ALL "
            f"SELECT uid, CAST(p AS BIGINT) AS p, 1 AS g, {nulls}, sum(CAST(r AS DOUBLE)) AS rev "
            f"FROM j GROUP BY uid, p"
        )
    masks = ", ".join(f"bit_or(c.cal_w{j}) AS w{j}" for j in range(words))
    return (
        f"SELECT a.unit_id AS uid, c.cal_p AS p, GROUPING(a.customer_id) AS g, {masks}, "
        f"sum(CAST(a.revenue AS DOUBLE)) AS rev FROM {join} "
        f"GROUP BY GROUPING SETS ((a.customer_id, a.unit_id), (a.unit_id, c.cal_p))"
    )


def activity_sql(pairs: str, n_periods: int, window: int, d: Dialect, revenue: bool) -> str:
    """Per unit, how many pairs have each bit of each mask word set, and each two neighbouring
    bits, from the masks of :func:`pairs_sql` (a table name or a parenthesised query).

    Two bits are counted by one sum (bits ``l`` and ``l + 31`` of a word, as the low and high
    31-bit halves of one 64-bit sum; a unit would need 2**31 pairs to carry from one into the
    other), so a 62-bit word takes 31 sums, and its neighbour pairs (``q = w & (w >> 1)``) 31
    more. Columns ``u``, ``w{j}_{l}`` and ``q{j}_{l}``; :func:`activity_counts` reads them.
    """
    words = n_words(n_periods, window)
    half = WORD_BITS // 2
    lanes = (1 << half) | 1
    cols = ", ".join(f"w{j}, (w{j} & {d.rshift(f'w{j}', '1')}) AS q{j}" for j in range(words))
    sums = [
        f"CAST(sum({d.rshift(f'{x}{j}', lane)} & {lanes}) AS BIGINT) AS {x}{j}_{lane}"
        for j in range(words)
        for x in ("w", "q")
        for lane in range(half)
    ]
    where = " WHERE g = 0" if revenue else ""
    return (
        f"SELECT CAST(uid AS {d.string}) AS u, {', '.join(sums)} "
        f"FROM (SELECT uid, {cols} FROM {pairs} s{where}) t GROUP BY uid"
    )


def revenue_sql(pairs: str, d: Dialect) -> str:
    """Revenue per unit and period of the window from :func:`pairs_sql` (missing amounts add
    nothing). Columns ``u``, ``k`` (the period code), ``rev``."""
    return (
        f"SELECT CAST(uid AS {d.string}) AS u, p AS k, coalesce(rev, 0.0) AS rev FROM {pairs} s "
        f"WHERE g = 1 AND p IS NOT NULL"
    )


def unit_codes(units, unit_index) -> np.ndarray:
    """The positions of the unit ids ``units`` (a column of a query result) in ``unit_index``
    (each distinct id looked up once)."""
    codes, uniques = pd.factorize(units)
    return unit_index.get_indexer(pd.Index(uniques, dtype="str").astype("str"))[codes]


def spell_counts(hist, unit_index, lo: int, n_periods: int) -> dict[str, np.ndarray]:
    """The five spell counts on the unit x period grid from the histograms of
    :func:`spell_hist_sql`.

    ``hist`` is a DataFrame ``u, what, slot, n`` with ``what`` in S (starts), E (ends), B (both in
    the same period).
    """
    n_units, width = len(unit_index), n_periods + 1
    ui = unit_codes(hist["u"], unit_index)
    slot, n = hist["slot"].to_numpy(np.int64), hist["n"].to_numpy(np.float64)
    kind, kinds = pd.factorize(hist["what"])
    code_of = {str(w): i for i, w in enumerate(kinds)}
    out = {}
    for what in ("S", "E", "B"):
        keep = (kind == code_of.get(what, -2)) & (slot >= 0)
        out[what] = (
            np.bincount(ui[keep] * width + slot[keep], weights=n[keep], minlength=n_units * width)
            .reshape(n_units, width)
            .astype(np.int64)
        )
    s_upto, e_upto = np.cumsum(out["S"], axis=1), np.cumsum(out["E"], axis=1)
    start = s_upto[:, :-1] - e_upto[:, :-1]
    end = s_upto[:, 1:] - e_upto[:, 1:]
    joined, left, both = out["S"][:, 1:], out["E"][:, 1:], out["B"][:, 1:]
    retained = start - (left - both)
    grids = {"start": start, "joined": joined, "left": left, "retained": retained, "end": end}
    return {k: np.ascontiguousarray(v, dtype=np.int64).ravel() for k, v in grids.items()}


def activity_counts(table, unit_index, n_periods: int, window: int) -> dict[str, np.ndarray]:
    """The five counts from the per-unit sums of :func:`activity_sql`.

    Period ``lo - 1 + i`` is bit ``b = window - 1 + i``: its end count is the pairs with bit ``b``
    set, its retained count those with bits ``b - 1`` and ``b`` set (bit ``b - 1`` of ``q``).
    """
    ui = unit_codes(table["u"], unit_index)
    n_units, half, step = len(unit_index), WORD_BITS // 2, WORD_BITS - 1
    words = n_words(n_periods, window)
    low = (1 << half) - 1
    bits = {}  # "w" / "q" -> (units, words, WORD_BITS) pair counts per bit
    for x in ("w", "q"):
        sums = np.zeros((n_units, words, half), dtype=np.int64)
        sums[ui] = (
            table[[f"{x}{j}_{lane}" for j in range(words) for lane in range(half)]]
            .to_numpy(np.int64)
            .reshape(len(ui), words, half)
        )
        bits[x] = np.concatenate([sums & low, sums >> half], axis=2)
    b = window - 1 + np.arange(n_periods + 1)  # the bit of period lo - 1 + i
    j = np.maximum(0, (b - 1) // step)  # its word (b and b - 1 share one)
    pos = b - j * step
    e = bits["w"][:, j, pos]
    r = bits["q"][:, j[1:], pos[1:] - 1]
    start, end = e[:, :-1], e[:, 1:]
    grids = {"start": start, "joined": end - r, "left": start - r, "retained": r, "end": end}
    return {k: np.ascontiguousarray(v, dtype=np.int64).ravel() for k, v in grids.items()}
