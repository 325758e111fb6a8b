"""Cleaning an activity log inside DuckDB or Spark, with the pandas cleaner's result, row for row.

The rules live in one place, :mod:`linkage.clean`; what runs in SQL only decides which rows that
cleaner must see, so that the log itself never reaches pandas:

1. every row gets, in SQL, ``ok``: its cells are already what the cleaner makes of them
   (identifiers present, without surrounding whitespace and no missing-value token, or a unit of
   the units table), an ISO date (``2024-01-31``, or a date-typed column) within 1900..2200 and not
   after the as-of date, and a revenue that is a plain number or blank. The cleaner keeps an
   ``ok`` row with the same values, unless it repeats an earlier row. Each row also gets a hash
   of its trimmed cells;
2. the hashes held by more than one row (candidate duplicates) are found: on Spark by one
   aggregation; on DuckDB by sorting the hashes in NumPy (a ``GROUP BY`` over tens of millions of
   distinct hashes costs several times more), read from a narrow temporary table of each row's
   number, ``ok`` and hash, so that the fetch below tests no row again;
3. the rows that are not ``ok`` or carry such a hash (about the share of defective rows) are
   fetched with their file row numbers and cleaned by :func:`linkage.clean.clean_activity`: every
   rule, its order and its reason are the pandas cleaner's own. Every row of a candidate group is
   fetched, so ``duplicate_row`` (the first of equal rows kept) is decided on all of them;
4. the panel reads the rows not fetched and the fetched rows the cleaner kept. DuckDB keeps the
   fetched rows' file row numbers in a temporary table and reads the log's other rows without
   testing them again (an anti-join on the row numbers). Spark reads the ``ok`` rows and the
   fetched rows kept that are not ``ok``, and the revenue of ``ok`` rows the cleaner found to be
   copies is taken off the panel's (their activity bits change nothing: a copy is active when its
   original is).

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
        if kinds[c] == "text":  # (cells longer than every token skip the token test)
            last = f"right({x}, 1)" if q.spark else f"{x}[-1]"
            return (
                f"(ascii({x}) BETWEEN 33 AND 126 AND ascii({last}) BETWEEN 33 AND 126 "
                f"AND ({q.strlen(x)} > {longest} OR {x} NOT IN ({tokens})))"
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
            return f"CASE WHEN {t} IN ('', {tokens}) THEN NULL ELSE {t} END"
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
    every_plain = " AND ".join(plain(c) for c in raw.columns)
    h = (
        f"CASE WHEN {every_plain} THEN {q.hash([q.col(c) for c in raw.columns])} "
        f"ELSE {q.hash([norm(c) for c in raw.columns])} END"
    )
    cols = ", ".join(f"a.{q.col(c)}" for c in raw.columns)
    ok = "coalesce(" + " AND ".join(f"({c})" for c in conds) + ", FALSE)"  # NULL: not ok
    backend.execute(
        "CREATE OR REPLACE TEMP VIEW linkage_rows AS SELECT a.linkage_file, a.linkage_row, "
        f"{cols}, "
        f"{_prefix(ok, raw.columns, q)} AS ok, {_prefix(day, raw.columns, q)} AS day, "
        f"{_prefix(rev, raw.columns, q)} AS rev, {_prefix(h, raw.columns, q)} AS h "
        f"FROM {raw.view} a {unit_join}"
    )

    # ---- repeated hashes (candidate copies), then the rows the cleaner must see -----------------
    if q.spark:  # one aggregation, spread over the cluster
        dups = backend.query("SELECT h FROM linkage_rows GROUP BY h HAVING count(*) > 1")
    else:  # in one process, sorting the hashes in numpy is several times quicker (measured
        # figures: benchmarks/README.md); each row's tests and hash are computed once, kept with
        # its row number in a narrow table that the fetch reads
        backend.execute(
            "CREATE OR REPLACE TEMP TABLE linkage_flags AS "
            "SELECT linkage_file, linkage_row, ok, h FROM linkage_rows"
        )
        dups = pd.DataFrame({"h": _repeated(backend.numbers("SELECT h FROM linkage_flags"))})
    if len(dups):
        backend.register("linkage_dup_hashes", dups.rename(columns={"h": "dh"}))
        dup_join = "LEFT JOIN linkage_dup_hashes dd ON f.h = dd.dh"
        fetched = "(NOT f.ok OR dd.dh IS NOT NULL)"
    else:
        dup_join, fetched = "", "(NOT f.ok)"
    select = (
        f"SELECT f.linkage_file, f.linkage_row, f.ok AS linkage_ok, f.day AS linkage_day, "
        f"f.rev AS linkage_rev, {', '.join('f.' + q.col(c) for c in raw.columns)} "
        f"FROM linkage_rows f {dup_join} WHERE {fetched}"
    )
    if q.spark:
        got = backend.query(select)
    else:  # kept: the panel reads every other row of the log without testing it again
        picked = (
            f"SELECT f.linkage_file, f.linkage_row, f.ok FROM linkage_flags f {dup_join} "
            f"WHERE {fetched}"
        )
        backend.execute(
            "CREATE OR REPLACE TEMP TABLE linkage_fetched AS "
            f"SELECT a.linkage_file, a.linkage_row, x.ok AS linkage_ok, "
            f"{_prefix(day, raw.columns, q)} AS linkage_day, "
            f"{_prefix(rev, raw.columns, q)} AS linkage_rev, "
            f"{', '.join('a.' + q.col(c) for c in raw.columns)} FROM {raw.view} a "
            f"JOIN ({picked}) x "
            "ON a.linkage_file = x.linkage_file AND a.linkage_row = x.linkage_row"
        )
        backend.execute("DROP TABLE IF EXISTS linkage_flags")
        got = backend.query("SELECT * FROM linkage_fetched")
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
        v = pd.to_datetime(got[c]).dropna()
        if getattr(v.dt, "tz", None) is not None:
            v = v.dt.tz_localize(None)
        whole[c] = bool(v.dt.normalize().eq(v).all()) and not _exists(
            backend,
            f"SELECT 1 FROM {raw.view} WHERE CAST({q.col(c)} AS DATE) <> {q.col(c)} LIMIT 1",
        )
    part, blank = _as_read(got, raw, whole)
    n_total = _count(backend, raw) - int(blank.sum())
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

    # ---- the rows the panel reads: ok rows, the fetched rows kept that are not ok ---------------
    gone_rows = set(result.rejects["row"].to_numpy(np.int64).tolist())
    part_rows = part.index.to_numpy(np.int64)
    kept_fetched = np.array([r not in gone_rows for r in part_rows.tolist()], dtype=bool)
    keep_cols = ["customer_id", "unit_id", "activity_date", *(["revenue"] if has_revenue else [])]
    # Spark: the kept fetched rows that are not ok (the ok ones are read from the log); DuckDB:
    # every kept fetched row (the log's other rows are read, all ok)
    rescued = result.data.loc[~sql_ok[kept_fetched] if q.spark else slice(None), keep_cols].copy()
    rescued["activity_date"] = rescued["activity_date"].astype("datetime64[us]")
    for c in ("customer_id", "unit_id"):
        rescued[c] = rescued[c].astype("str")
    if has_revenue:
        rescued["revenue"] = rescued["revenue"].astype("float64")
    backend.register("linkage_rescued", rescued.reset_index(drop=True))
    less = None
    counted_gone = sql_ok & ~kept_fetched  # ok in SQL, a copy to the cleaner
    if q.spark and has_revenue and counted_gone.any():
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
    if q.spark:
        revenue_sel = ", rev AS revenue" if has_revenue else ""
        logged = (
            f"SELECT CAST({q.col(cidc)} AS {q.d.string}) AS customer_id, "
            f"CAST({q.col(uidc)} AS {q.d.string}) AS unit_id, day AS activity_date{revenue_sel} "
            f"FROM linkage_rows WHERE ok"
        )
    else:  # the rows not fetched are ok and no copies: read them as they are
        revenue_sel = f", {_prefix(rev, raw.columns, q)} AS revenue" if has_revenue else ""
        logged = (
            f"SELECT CAST(a.{q.col(cidc)} AS {q.d.string}) AS customer_id, "
            f"CAST(a.{q.col(uidc)} AS {q.d.string}) AS unit_id, "
            f"{_prefix(day, raw.columns, q)} AS activity_date{revenue_sel} "
            f"FROM {raw.view} a ANTI JOIN linkage_fetched x "
            f"ON a.linkage_file = x.linkage_file AND a.linkage_row = x.linkage_row"
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


def _prefix(expr: str, columns: tuple[str, ...], q: _Sql) -> str:
    """``expr`` with the file columns read from the table alias ``a``."""
    for c in sorted(columns, key=len, reverse=True):
        col = q.col(c)
        expr = expr.replace(col, f"a.{col}").replace(f"a.a.{col}", f"a.{col}")
    return expr


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The values that occur more than once in ``hashes`` (sorted; sorts ``hashes`` in place, so
    that a log of 100 M rows needs no second copy of its hashes)."""
    s = hashes if hashes.flags.writeable else hashes.copy()
    s.sort()
    same = s[1:] == s[:-1]
    return np.unique(s[1:][same])


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
