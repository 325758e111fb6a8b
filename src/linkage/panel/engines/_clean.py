"""Cleaning an activity log inside DuckDB or Spark, with the pandas cleaner's result, row for row.

The rules live in one place, :mod:`linkage.clean`; what runs in SQL only decides which rows that
cleaner must see, so that the log itself never reaches pandas:

1. every row gets, in SQL, ``ok``: its cells are already what the cleaner makes of them
   (identifiers present, without surrounding whitespace and no missing-value token, or a unit of
   the units table), an ISO date (``2024-01-31``, or a date-typed column) within 1900..2200 and not
   after the as-of date, and a revenue that is a plain number or blank. The cleaner keeps an
   ``ok`` row with the same values, unless it repeats an earlier row. Each row also gets a hash
   of its trimmed cells;
2. the rows the cleaner must see are those not ``ok`` and those whose hash another row holds
   (candidate copies). On DuckDB one pass over the log gives each row one 64-bit key: the high
   bits of its hash, its ``ok`` bit and its row number across the parts (at least 35 bits of
   hash up to 2**28 rows); numpy sorts the keys, and the rows not ``ok`` or sharing their hash
   bits with a neighbour are fetched by their row numbers in a second pass (a join on a table
   of those numbers). Rows that share the hash bits by chance are only fetched, not set aside:
   the cleaner decides. On Spark (and on DuckDB past 2**28 rows) the repeated hashes come from
   one aggregation and the rows from a second pass that tests every row again;
3. the fetched rows (about the share of defective rows) are cleaned by
   :func:`linkage.clean.clean_activity` with their file row numbers: every rule, its order and
   its reason are the pandas cleaner's own. Every row of a candidate group is fetched, so
   ``duplicate_row`` (the first of equal rows kept) is decided on all of them;
4. the panel reads, on DuckDB, the rows not fetched as they are (all ``ok``, none a copy: an
   anti-join on the fetched row numbers, no test evaluated again) and every fetched row the
   cleaner kept; on Spark, the ``ok`` rows and the fetched rows kept that are not ``ok``, and the
   revenue of ``ok`` rows the cleaner found to be copies is taken off the panel's (their
   activity bits change nothing: a copy is active when its original is).

The one rule that looks at a whole column, numeric day/month dates without a given order (more
than half of the column's dates such as ``01/02/2024``: an error), is decided on the fetched rows,
which hold every such date and every blank one.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from linkage.clean import NUMERIC_DATE, CleanResult, ambiguous_order_error, clean_activity
from linkage.io import MISSING_TOKENS, apply_mapping, as_text, date_options, section
from linkage.panel.engines import _sql

__all__ = ["WHITESPACE", "RawLog", "clean_log"]

#: what Python's ``str.strip()`` removes (up to U+3000), so that SQL trims cells alike
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_TEXT = ("VARCHAR", "STRING", "TEXT", "CHAR")
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "INT", "BYTE", "SHORT", "LONG")  # fmt: skip
_FLOAT = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")
#: DuckDB sorts one key per row in numpy up to this many rows (a key holds the row number and
#: at least 35 bits of the row's hash, so that rows sharing those bits by chance stay few); past
#: it, the hashes held by more than one row are found by a GROUP BY
_SORT_ROWS = 1 << 28


@dataclasses.dataclass(frozen=True)
class RawLog:
    """An activity log registered as the view ``view`` of file columns ``columns`` (types
    ``types``) plus ``linkage_file`` (which part) and ``linkage_row`` (0-based row in it, or the
    1-based row of a table read by :func:`linkage.io.read_table` when ``numbered``).

    ``offsets``: rows in the parts before each part (by ``linkage_file``); ``paths`` maps a part's
    path as the engine names it (Spark) to its position; ``counts``: rows in all (None: count
    them).
    """

    view: str
    label: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    offsets: tuple[int, ...] = (0,)
    numbered: bool = False
    paths: tuple[str, ...] = ()
    counts: int | None = None


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _duck_lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sql:
    """The few dialect words cleaning needs beyond :class:`linkage.panel.engines._sql.Dialect`."""

    def __init__(self, d: _sql.Dialect) -> None:
        self.d = d
        self.spark = d.name == "spark"

    def lit(self, text: str) -> str:
        return _lit(text) if self.spark else _duck_lit(text)

    def col(self, name: str) -> str:
        return (
            "`" + name.replace("`", "``") + "`"
            if self.spark
            else '"' + name.replace('"', '""') + '"'
        )

    def strlen(self, x: str) -> str:
        return f"octet_length({x})" if self.spark else f"strlen({x})"

    def match(self, x: str, pattern: str) -> str:
        return (
            f"({x} RLIKE {self.lit(pattern)})"
            if self.spark
            else f"regexp_matches({x}, {self.lit(pattern)})"
        )

    def hash(self, xs: list[str]) -> str:
        return f"xxhash64({', '.join(xs)})" if self.spark else f"hash({', '.join(xs)})"


def _kind(type_name: str) -> str:
    t = type_name.upper()
    if t.startswith(_TEXT):
        return "text"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    if t.startswith(_INTEGER):
        return "integer"
    if t.startswith(_FLOAT):
        return "float"
    return "other"


def clean_log(
    backend: Any,
    raw: RawLog,
    *,
    mapping: dict[str, Any] | None,
    units: CleanResult | None,
    as_of: pd.Timestamp,
    freq: str,
    need_range: bool = True,
    kept_view: str = "activity",
) -> tuple[CleanResult, pd.Series, bool, pd.DataFrame | None]:
    """Clean the registered log ``raw``: create the view ``kept_view`` of the rows the panel counts
    (``customer_id, unit_id, activity_date[, revenue]``) and return the cleaning result (its
    ``data`` holds only the kept rows that were fetched), the kept rows' bounds (as
    :func:`linkage.panel.engines._sql.bounds_sql` gives them; ``lo`` and ``hi`` missing unless
    ``need_range``), whether there is revenue, and the revenue per unit (``u``), period code
    (``k``) of rows the view counts but the cleaner set aside (copies of earlier rows: their
    revenue is taken off the panel's)."""
    q = _Sql(backend.dialect)
    label = raw.label
    columns, dates = section(mapping, "activity")
    fmt, dayfirst = date_options(dates, date_format=None, dayfirst=None)
    empty = pd.DataFrame(columns=list(raw.columns))
    mapped, sources = apply_mapping(empty, columns, table="activity", file=label)
    from linkage.io.schemas import check_columns

    check_columns(mapped, table="activity", file=label, sources=sources)
    kinds = dict(zip(raw.columns, (_kind(t) for t in raw.types), strict=True))
    tokens = ", ".join(q.lit(t) for t in MISSING_TOKENS if t)
    longest = max(len(t.encode("utf-8")) for t in MISSING_TOKENS)

    def plain(c: str) -> str:
        """SQL: the cell of file column c is already what the cleaner makes of it (no surrounding
        whitespace, no missing-value token, not NaN); NULL stays NULL."""
        x = q.col(c)
        if kinds[c] == "text" and q.spark:  # (cells longer than every token skip the token test)
            return (
                f"(ascii({x}) BETWEEN 33 AND 126 AND ascii(right({x}, 1)) BETWEEN 33 AND 126 "
                f"AND ({q.strlen(x)} > {longest} OR {x} NOT IN ({tokens})))"
            )
        if kinds[c] == "text":  # the same on DuckDB in its cheapest form (measured): the first
            # character by comparing the string's leading bytes, the last as the reversed
            # string's first, the tokens only in cells as short as the longest token
            return (
                f"({x} >= '!' AND {x} < chr(127) AND ascii(reverse({x})) BETWEEN 33 AND 126 "
                f"AND CASE WHEN strlen({x}) > {longest} THEN TRUE ELSE {x} NOT IN ({tokens}) END)"
            )
        if kinds[c] == "float":
            return f"NOT isnan({x})"
        return "TRUE"

    def norm(c: str) -> str:
        """SQL: the cell as the cleaner trims it (missing-value tokens as NULL)."""
        x = q.col(c)
        if kinds[c] == "text":
            t = (
                f"trim(BOTH {q.lit(WHITESPACE)} FROM {x})"
                if q.spark
                else f"trim({x}, {q.lit(WHITESPACE)})"
            )
            if q.spark:
                return f"CASE WHEN {t} IN ('', {tokens}) THEN NULL ELSE {t} END"
            # DuckDB: a plain cell is its own trimmed form (trimming by a set of characters
            # costs more than the tests, measured)
            return (
                f"CASE WHEN {plain(c)} THEN {x} WHEN {t} IN ('', {tokens}) THEN NULL ELSE {t} END"
            )
        if kinds[c] == "float":
            return f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END"
        return x

    src = {name: sources.get(name, name) for name in ("customer_id", "unit_id", "activity_date")}
    has_revenue = "revenue" in mapped.columns
    if has_revenue:
        src["revenue"] = sources.get("revenue", "revenue")
    cidc, uidc, dcol = src["customer_id"], src["unit_id"], src["activity_date"]

    # ---- per row: ok (the cleaner keeps it as it is, unless a copy), a hash of its trimmed cells
    conds: list[str] = []
    for c in (cidc, uidc):
        if kinds[c] not in ("text", "integer"):
            conds.append("FALSE")  # written by pandas in its own way: every row through the cleaner
        else:
            conds.append(f"{q.col(c)} IS NOT NULL")
            if not (c == uidc and units is not None):  # a known unit is already trimmed
                conds.append(plain(c))
    iso_first = fmt is None or fmt == "%Y-%m-%d"
    x = q.col(dcol)
    if kinds[dcol] in ("date", "timestamp"):
        day = f"CAST({x} AS DATE)"
    elif kinds[dcol] == "text" and iso_first:
        day = f"CASE WHEN {q.match(x, _ISO_DAY)} THEN try_cast({x} AS DATE) END"
    else:
        day = "CAST(NULL AS DATE)"  # every date through pandas's parser
    stamp = as_of.strftime("%Y-%m-%d")
    latest = min(stamp, "2200-12-31")
    conds.append(f"{day} BETWEEN DATE '1900-01-01' AND DATE '{latest}'")
    rev = "CAST(NULL AS DOUBLE)"
    if has_revenue:
        rcol = src["revenue"]
        r = q.col(rcol)
        if kinds[rcol] in ("float", "integer"):
            rev = f"CAST({r} AS DOUBLE)"
            if kinds[rcol] == "float":
                conds.append(f"({r} IS NULL OR NOT isnan({r}))")
        elif kinds[rcol] == "text":
            rev = f"try_cast({r} AS DOUBLE)"
            conds.append(f"({r} IS NULL OR ({q.match(r, _PLAIN_NUMBER)} AND {rev} IS NOT NULL))")
        else:
            conds.append("FALSE")
    unit_join = ""
    if units is not None:
        cells = as_text(units.data["unit_id"]).str.strip()
        cells = cells.where(~cells.isin(set(MISSING_TOKENS)) & cells.notna()).dropna()
        known = pd.DataFrame({"lk_unit": pd.Series(cells.unique(), dtype="str")})
        backend.register("linkage_known_units", known)
        unit_join = f"LEFT JOIN linkage_known_units ku ON a.{q.col(uidc)} = ku.lk_unit"
        conds.append("ku.lk_unit IS NOT NULL")
    cols = ", ".join(f"a.{q.col(c)}" for c in raw.columns)
    ok = "coalesce(" + " AND ".join(f"({c})" for c in conds) + ", FALSE)"  # NULL: not ok
    n_rows = _count(backend, raw)
    keyed = not q.spark and n_rows <= _SORT_ROWS and (raw.counts is not None or raw.numbered)
    if keyed:
        # DuckDB: one pass gives every row's key (hash, ok, row number), sorted in numpy
        mapped_cols = set(src.values())
        rest = [plain(c) for c in raw.columns if c not in mapped_cols]  # an ok row's other cells
        got = _fetch_sorted(
            backend,
            raw,
            n_rows,
            ok=_prefix(ok, raw.columns, q),
            same=" AND ".join(["o", *(_prefix(r, raw.columns, q) for r in rest)]),
            h_raw=q.hash([f"a.{q.col(c)}" for c in raw.columns]),
            h_norm=_prefix(q.hash([norm(c) for c in raw.columns]), raw.columns, q),
            day=_prefix(day, raw.columns, q),
            rev=_prefix(rev, raw.columns, q),
            cols=cols,
            fetch_cols=", ".join(  # dates as ISO text, as the reader writes them (quicker)
                f"CAST(a.{q.col(c)} AS VARCHAR) AS {q.col(c)}"
                if kinds[c] == "date"
                else f"a.{q.col(c)}"
                for c in raw.columns
            ),
            unit_join=unit_join,
        )
    else:  # Spark (and logs past the row numbers a key holds): the hashes aggregated in SQL
        every_plain = " AND ".join(plain(c) for c in raw.columns)
        h = (
            f"CASE WHEN {every_plain} THEN {q.hash([q.col(c) for c in raw.columns])} "
            f"ELSE {q.hash([norm(c) for c in raw.columns])} END"
        )
        backend.execute(
            "CREATE OR REPLACE TEMP VIEW linkage_rows AS SELECT a.linkage_file, a.linkage_row, "
            f"{cols}, {_prefix(ok, raw.columns, q)} AS ok, {_prefix(day, raw.columns, q)} AS day, "
            f"{_prefix(rev, raw.columns, q)} AS rev, {_prefix(h, raw.columns, q)} AS h "
            f"FROM {raw.view} a {unit_join}"
        )
        dups = backend.query("SELECT h FROM linkage_rows GROUP BY h HAVING count(*) > 1")
        if len(dups):
            backend.register("linkage_dup_hashes", dups.rename(columns={"h": "dh"}))
            dup_join = "LEFT JOIN linkage_dup_hashes dd ON f.h = dd.dh"
            fetched = "(NOT f.ok OR dd.dh IS NOT NULL)"
        else:
            dup_join, fetched = "", "(NOT f.ok)"
        got = backend.query(
            f"SELECT f.linkage_file, f.linkage_row, f.ok AS linkage_ok, f.day AS linkage_day, "
            f"f.rev AS linkage_rev, {', '.join('f.' + q.col(c) for c in raw.columns)} "
            f"FROM linkage_rows f {dup_join} WHERE {fetched}"
        )
    # whole-column facts the reader's text of the fetched cells depends on (first in the fetched
    # rows; a scan that stops at the first counter-example only when they do not tell)
    floats = [c for c in raw.columns if kinds[c] == "float"]
    stamps = [c for c in raw.columns if kinds[c] == "timestamp"]
    whole: dict[str, bool] = {}
    for c in floats:
        v = pd.to_numeric(got[c], errors="coerce").to_numpy(np.float64)
        v = v[np.isfinite(v)]
        whole[c] = bool(np.all(np.mod(v, 1) == 0)) and not _exists(
            backend, f"SELECT 1 FROM {raw.view} WHERE {q.col(c)} <> floor({q.col(c)}) LIMIT 1"
        )
    for c in stamps:
        t = pd.to_datetime(got[c]).dropna()
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_localize(None)
        whole[c] = bool(t.dt.normalize().eq(t).all()) and not _exists(
            backend,
            f"SELECT 1 FROM {raw.view} WHERE CAST({q.col(c)} AS DATE) <> {q.col(c)} LIMIT 1",
        )
    part, blank = _as_read(got, raw, whole)
    n_total = n_rows - int(blank.sum())
    got = got.loc[~blank].reset_index(drop=True)
    order = np.argsort(part.index.to_numpy(), kind="stable")  # file order, as the reader's
    part, got = part.iloc[order], got.iloc[order].reset_index(drop=True)
    sql_ok = got["linkage_ok"].to_numpy(bool)

    # the one whole-column rule: numeric day/month dates without an order (all of them fetched)
    if kinds[dcol] == "text" and fmt is None and dayfirst is None and len(part):
        cells = part[dcol].str.strip()
        numeric = cells.str.match(NUMERIC_DATE, na=False).to_numpy()
        missing_dates = int(cells.isna().sum() + cells.eq("").sum())
        if 2 * int(numeric.sum()) > n_total - missing_dates:
            raise ambiguous_order_error(str(cells[numeric].iloc[0]), label, dcol)
    result = clean_activity(
        part, mapping=mapping, source=label, units=units, as_of=as_of, check_date_order=False
    )
    n_gone = len(result.rejects)
    report = result.report.copy()
    report.loc[report["reason"].eq("kept"), "n"] = n_total - n_gone
    result = CleanResult(data=result.data, rejects=result.rejects, report=report)

    # ---- the rows the panel reads ---------------------------------------------------------------
    # DuckDB (one key per row): the rows not fetched, read as they are (all ok, none a copy),
    # and every fetched row the cleaner kept; Spark: the ok rows, the fetched rows kept that are
    # not ok, and the revenue of ok rows the cleaner set aside (copies) taken off the panel's
    gone_rows = result.rejects["row"].to_numpy(np.int64)
    kept_fetched = ~np.isin(part.index.to_numpy(np.int64), gone_rows)
    keep_cols = ["customer_id", "unit_id", "activity_date", *(["revenue"] if has_revenue else [])]
    rescued = result.data.loc[slice(None) if keyed else ~sql_ok[kept_fetched], keep_cols].copy()
    rescued["activity_date"] = rescued["activity_date"].astype("datetime64[us]")
    for c in ("customer_id", "unit_id"):
        rescued[c] = rescued[c].astype("str")
    if has_revenue:
        rescued["revenue"] = rescued["revenue"].astype("float64")
    backend.register("linkage_rescued", rescued.reset_index(drop=True))
    less = None
    counted_gone = sql_ok & ~kept_fetched  # ok in SQL, a copy to the cleaner
    if not keyed and has_revenue and counted_gone.any():
        from linkage.panel.periods import date_codes

        gone = got.loc[counted_gone]
        less = pd.DataFrame(
            {
                "u": gone[uidc].astype("str").to_numpy(),
                "k": date_codes(pd.DatetimeIndex(pd.to_datetime(gone["linkage_day"])), freq),
                "rev": gone["linkage_rev"].astype("float64").fillna(0.0).to_numpy(),
            }
        )
    revenue_res = ", CAST(revenue AS DOUBLE) AS revenue" if has_revenue else ""
    revenue_sel = f", {_prefix(rev, raw.columns, q)} AS revenue" if has_revenue else ""
    rows_read = (
        f"FROM {raw.view} a ANTI JOIN linkage_pick p "
        "ON a.linkage_file = p.lk_f AND a.linkage_row = p.lk_r"
        if keyed
        else f"FROM {raw.view} a {unit_join} WHERE {_prefix(ok, raw.columns, q)}"
    )
    logged = (
        f"SELECT CAST(a.{q.col(cidc)} AS {q.d.string}) AS customer_id, "
        f"CAST(a.{q.col(uidc)} AS {q.d.string}) AS unit_id, "
        f"{_prefix(day, raw.columns, q)} AS activity_date{revenue_sel} {rows_read}"
    )
    backend.execute(
        f"CREATE OR REPLACE TEMP VIEW {kept_view} AS {logged} UNION ALL "
        f"SELECT customer_id, unit_id, CAST(activity_date AS DATE) AS activity_date"
        f"{revenue_res} FROM linkage_rescued"
    )
    n_kept = n_total - n_gone
    lo = hi = np.nan
    if need_range and n_kept:
        code = _sql.code_expr("d", freq)
        span = backend.query(
            f"SELECT min({code}) AS lo, max({code}) AS hi FROM "
            f"(SELECT min(activity_date) AS d FROM {kept_view} UNION ALL "
            f"SELECT max(activity_date) FROM {kept_view}) t"
        ).iloc[0]
        lo, hi = _int(span["lo"]), _int(span["hi"])
    bounds = pd.Series(
        {"n": n_kept, "no_unit": 0, "no_id": 0, "no_start": 0, "end_before": 0, "lo": lo, "hi": hi}
    )
    return result, bounds, has_revenue, less


def _fetch_sorted(
    backend: Any,
    raw: RawLog,
    n_rows: int,
    *,
    ok: str,
    same: str,
    h_raw: str,
    h_norm: str,
    day: str,
    rev: str,
    cols: str,
    fetch_cols: str,
    unit_join: str,
) -> pd.DataFrame:
    """DuckDB: the rows the cleaner must see, from one pass that gives each row one 64-bit key
    (the high bits of its hash, whether it is ``ok``, its row number across the parts) and a
    sort of those keys in numpy; then one join that fetches those rows by their numbers.

    ``ok``: the SQL of the per-row tests (columns as ``a.<name>``); ``same``: an ``ok`` row
    whose raw cells hash as their trimmed form (``o`` is ``ok``); ``h_raw`` and ``h_norm``: the
    two hashes; ``day`` and ``rev``: the date and revenue of a row as the panel reads them;
    ``cols`` and ``fetch_cols``: the file columns as read and as fetched.
    """
    if raw.numbered:
        top = _int(backend.query(f"SELECT max(linkage_row) AS m FROM {raw.view}")["m"].iloc[0])
        gid = "a.linkage_row"
    else:
        top = max(n_rows - 1, 0)
        listed = ", ".join(str(int(o)) for o in raw.offsets)
        gid = f"(a.linkage_row + CAST([{listed}] AS BIGINT[])[CAST(a.linkage_file AS BIGINT) + 1])"
    shift = max(1, int(top).bit_length()) + 1  # row number bits, then the ok bit
    ok_bit = 1 << (shift - 1)
    high = ((1 << 64) - 1) ^ ((1 << shift) - 1)  # the hash bits kept
    key = (
        f"((CASE WHEN {same} THEN {h_raw} ELSE {h_norm} END) & CAST({high} AS UBIGINT)) "
        f"| (CASE WHEN o THEN CAST({ok_bit} AS UBIGINT) ELSE CAST(0 AS UBIGINT) END) "
        f"| CAST({gid} AS UBIGINT)"
    )
    keys = backend.numbers(
        f"SELECT {key} AS k FROM (SELECT {cols}, a.linkage_file, a.linkage_row, {ok} AS o "
        f"FROM {raw.view} a {unit_join}) a",
        size=n_rows,
    ).view(np.uint64)
    picked = _picked(keys, shift)
    del keys
    ids = (picked & np.uint64(ok_bit - 1)).astype(np.int64)
    if raw.numbered:
        files, rows = np.zeros(len(ids), np.int64), ids
    else:
        offsets = np.asarray(raw.offsets, dtype=np.int64)
        files = np.searchsorted(offsets, ids, side="right") - 1
        rows = ids - offsets[files]
    pick = pd.DataFrame({"lk_f": files, "lk_r": rows, "lk_ok": (picked & np.uint64(ok_bit)) != 0})
    backend.register("linkage_pick", pick)
    return backend.query(
        f"SELECT a.linkage_file, a.linkage_row, p.lk_ok AS linkage_ok, {day} AS linkage_day, "
        f"{rev} AS linkage_rev, {fetch_cols} FROM {raw.view} a JOIN linkage_pick p "
        "ON a.linkage_file = p.lk_f AND a.linkage_row = p.lk_r"
    )


def _picked(keys: np.ndarray, shift: int, step: int = 1 << 22) -> np.ndarray:
    """The keys (see :func:`_fetch_sorted`) of the rows that are not ok (bit ``shift - 1``
    clear) or share their hash bits (``key >> shift``) with another row. Sorts ``keys`` in
    place and compares neighbours ``step`` keys at a time, so that no second array of the log's
    size is made."""
    keys.sort()
    n, s, ok_bit = len(keys), np.uint64(shift), np.uint64(1 << (shift - 1))
    out = []
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        a, b = max(lo - 1, 0), min(hi + 1, n)  # one neighbour on each side
        h = keys[a:b] >> s
        eq = h[1:] == h[:-1]
        rep = np.zeros(b - a, dtype=bool)
        rep[1:] |= eq
        rep[:-1] |= eq
        block = keys[lo:hi]
        out.append(block[rep[lo - a : lo - a + hi - lo] | ((block & ok_bit) == 0)])
    return np.concatenate(out) if out else np.zeros(0, np.uint64)


def _prefix(expr: str, columns: tuple[str, ...], q: _Sql) -> str:
    """``expr`` with the file columns read from the table alias ``a``."""
    for c in sorted(columns, key=len, reverse=True):
        col = q.col(c)
        expr = expr.replace(col, f"a.{col}").replace(f"a.a.{col}", f"a.{col}")
    return expr


def _exists(backend: Any, sql: str) -> bool:
    return len(backend.query(sql)) > 0


def _count(backend: Any, raw: RawLog) -> int:
    """Rows of the log (from the Parquet footers when they are local files)."""
    if raw.counts is not None:
        return raw.counts
    return int(backend.query(f"SELECT count(*) AS n FROM {raw.view}")["n"].iloc[0])


def _int(x: Any) -> int:
    return 0 if x is None or pd.isna(x) else int(x)


def _safe(name: str) -> str:
    """A column name as a piece of an SQL identifier (letters, digits, underscores, unique)."""
    return "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in name) + f"_{_h(name)}"


def _h(name: str) -> str:
    import hashlib

    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _as_read(
    got: pd.DataFrame, raw: RawLog, whole: dict[str, bool]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The fetched rows as :func:`linkage.io.read_table` gives the whole file (text cells, whole
    numbers and midnight times written as the whole column's are, ``whole``; missing-value tokens
    as NaN), indexed by the 1-based row number, without the rows that are entirely blank (the
    reader skips them), in the order of ``got``; and where the blank rows were in ``got``."""
    if raw.numbered:
        rows = got["linkage_row"].to_numpy(np.int64)
    else:
        part = got["linkage_file"]
        if raw.paths:  # Spark names a part by its URI
            where = {_local(p): i for i, p in enumerate(raw.paths)}
            index = np.array([where.get(_local(str(p)), 0) for p in part], dtype=np.int64)
        else:
            index = part.to_numpy(np.int64)
        offsets = np.asarray(raw.offsets, dtype=np.int64)
        rows = offsets[index] + got["linkage_row"].to_numpy(np.int64) + 1
    out = {}
    for c in raw.columns:
        col = got[c]
        if c in whole and _kind_of(col) == "float":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
            text = (
                col.round().astype("Int64").astype("str").where(col.notna())
                if whole[c]
                else col.astype("str").where(col.notna())
            )
        elif c in whole:
            col = pd.to_datetime(col)
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)
            fmt = "%Y-%m-%d" if whole[c] else "%Y-%m-%d %H:%M:%S"
            text = col.dt.strftime(fmt).astype("str").where(col.notna())
        else:
            text = as_text(col) if col.dtype != object else col.map(_cell, na_action="ignore")
        stripped = text.str.strip()
        out[c] = text.where(~stripped.isin(set(MISSING_TOKENS)) & text.notna()).to_numpy()
    frame = pd.DataFrame(out, index=pd.Index(rows, name="row"), columns=list(raw.columns))
    frame = frame.astype("str").where(frame.notna())
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    return frame.loc[~blank], blank


def _kind_of(col: pd.Series) -> str:
    return "float" if pd.api.types.is_numeric_dtype(col.dtype) else "other"


def _cell(value: object) -> str:
    import datetime

    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _local(path: str) -> str:
    if "://" in path or path.startswith("file:"):
        parsed = urlparse(path)
        if parsed.scheme in ("file", ""):
            path = unquote(parsed.path)
    return os.path.realpath(path)
