"""Cleaning an activity log inside DuckDB or Spark, with the pandas cleaner's result, row for row.

The rules live in one place, :mod:`linkage.clean`; what runs in SQL is a filter that lets through
only rows that cleaner keeps unchanged, so that the log itself never reaches pandas:

1. every row gets, in SQL, its trimmed identifiers (blank and ``NULL``-like cells are missing), its
   date and revenue, a hash of all its trimmed cells, and ``ok``: identifiers present, an ISO date
   (``2024-01-31``, or a date-typed column) within 1900..2200 and not after the as-of date, a
   revenue that is a plain number or blank, a unit of the units table. A row that is ``ok`` is
   kept by :func:`linkage.clean.clean_activity` with the same values, unless it repeats an
   earlier row;
2. one aggregation finds the hashes held by more than one row (candidate duplicates);
3. the rows that are not ``ok`` or carry such a hash (about the share of defective rows) are
   fetched with their file row numbers and cleaned by :func:`linkage.clean.clean_activity`: every
   rule, its order and its reasons are the pandas cleaner's own. Every row of a candidate group is
   fetched, so ``duplicate_row`` (the first of equal rows kept) is decided on all of them;
4. the panel reads the ``ok`` rows outside the fetched ones plus the fetched rows it kept.

The one rule that looks at a whole column, numeric day/month dates without a given order (more
than half of the column's dates such as ``01/02/2024``: an error), is counted in SQL over the
whole column.
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
    path as the engine names it (Spark) to its position.
    """

    view: str
    label: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    offsets: tuple[int, ...] = (0,)
    numbered: bool = False
    paths: tuple[str, ...] = ()


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

    def trim(self, x: str) -> str:
        ws = self.lit(WHITESPACE)
        return f"trim(BOTH {ws} FROM {x})" if self.spark else f"trim({x}, {ws})"

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
    kept_view: str = "activity",
) -> tuple[CleanResult, pd.Series, bool]:
    """Clean the registered log ``raw``: create the view ``kept_view`` of its kept rows
    (``customer_id, unit_id, activity_date[, revenue]``) and return the cleaning result (its
    ``data`` holds only the kept rows that were fetched), the kept rows' bounds (as
    :func:`linkage.panel.engines._sql.bounds_sql` gives them) and whether there is revenue."""
    q = _Sql(backend.dialect)
    label = raw.label
    columns, dates = section(mapping, "activity")
    fmt, dayfirst = date_options(dates, date_format=None, dayfirst=None)
    empty = pd.DataFrame(columns=list(raw.columns))
    mapped, sources = apply_mapping(empty, columns, table="activity", file=label)
    from linkage.io.schemas import check_columns

    check_columns(mapped, table="activity", file=label, sources=sources)
    kinds = dict(zip(raw.columns, (_kind(t) for t in raw.types), strict=True))

    # ---- per row: trimmed cells, the canonical values, ok ---------------------------------------
    tokens = ", ".join(q.lit(t) for t in MISSING_TOKENS)
    norm: dict[str, str] = {}
    for c in raw.columns:
        x = q.col(c)
        kind = kinds[c]
        if kind == "text":
            t = q.trim(x)
            norm[c] = f"CASE WHEN {t} IN ({tokens}) THEN NULL ELSE {t} END"
        elif kind == "float":
            norm[c] = f"CASE WHEN isnan({x}) THEN NULL ELSE CAST({x} AS DOUBLE) END"
        else:
            norm[c] = x
    src = {name: sources.get(name, name) for name in ("customer_id", "unit_id", "activity_date")}
    has_revenue = "revenue" in mapped.columns
    if has_revenue:
        src["revenue"] = sources.get("revenue", "revenue")

    def n(c: str) -> str:  # the trimmed cell of file column c
        return f"n_{_safe(c)}"

    def ident(name: str) -> tuple[str, str]:
        c = src[name]
        if kinds[c] == "text":
            return n(c), "TRUE"
        if kinds[c] == "integer":
            return f"CAST({n(c)} AS {q.d.string})", "TRUE"
        return f"CAST({n(c)} AS {q.d.string})", "FALSE"  # as pandas writes it: fetch

    cid, cid_ok = ident("customer_id")
    uid, uid_ok = ident("unit_id")
    dcol = src["activity_date"]
    iso_first = fmt is None or fmt == "%Y-%m-%d"
    if kinds[dcol] in ("date", "timestamp"):
        day = f"CAST({n(dcol)} AS DATE)"
    elif kinds[dcol] == "text" and iso_first:
        day = f"CASE WHEN {q.match(n(dcol), _ISO_DAY)} THEN try_cast({n(dcol)} AS DATE) END"
    else:
        day = "CAST(NULL AS DATE)"  # every date through pandas's parser
    stamp = as_of.strftime("%Y-%m-%d")
    date_ok = (
        f"(r.day IS NOT NULL AND r.day <= DATE '{stamp}' AND (r.day BETWEEN DATE '1900-01-01' "
        "AND DATE '2200-12-31' OR year(r.day) >= 9999))"
    )
    rev, rev_ok = "CAST(NULL AS DOUBLE)", "TRUE"
    if has_revenue:
        rcol = src["revenue"]
        if kinds[rcol] in ("float", "integer"):
            rev = f"CAST({n(rcol)} AS DOUBLE)"
        elif kinds[rcol] == "text":
            rev = f"try_cast({n(rcol)} AS DOUBLE)"
            t = f"r.{n(rcol)}"
            rev_ok = f"({t} IS NULL OR ({q.match(t, _PLAIN_NUMBER)} AND r.rev IS NOT NULL))"
        else:
            rev_ok = "FALSE"
    unit_join, unit_ok = "", "TRUE"
    if units is not None:
        cells = as_text(units.data["unit_id"]).str.strip()
        cells = cells.where(~cells.isin(set(MISSING_TOKENS)) & cells.notna()).dropna()
        known = pd.DataFrame({"lk_unit": pd.Series(cells.unique(), dtype="str")})
        backend.register("linkage_known_units", known)
        unit_join = "LEFT JOIN linkage_known_units ku ON r.uid = ku.lk_unit"
        unit_ok = "(ku.lk_unit IS NOT NULL)"
    raw_cols = ", ".join(f"{q.col(c)} AS r_{_safe(c)}" for c in raw.columns)
    normed = ", ".join(f"{norm[c]} AS {n(c)}" for c in raw.columns)
    blank = " AND ".join(f"{n(c)} IS NULL" for c in raw.columns)
    base = (
        f"SELECT *, {cid} AS cid, {uid} AS uid, {day} AS day, {rev} AS rev, "
        f"{q.hash([n(c) for c in raw.columns])} AS h FROM "
        f"(SELECT linkage_file, linkage_row, {raw_cols}, {normed} "
        f"FROM {raw.view}) n0 WHERE NOT ({blank})"
    )
    ok = (
        f"(r.cid IS NOT NULL AND {cid_ok} AND r.uid IS NOT NULL AND {uid_ok} AND {date_ok} "
        f"AND {rev_ok} AND {unit_ok})"
    )
    rows = f"SELECT r.*, {ok} AS ok FROM ({base}) r {unit_join}"
    backend.execute(f"CREATE OR REPLACE TEMP VIEW linkage_rows AS {rows}")

    # ---- one pass: counts, the kept rows' range, whole-column facts; one: repeated hashes -------
    code = _sql.code_expr("day", freq)
    stats = [
        "count(*) AS n",
        "sum(CASE WHEN ok THEN 1 ELSE 0 END) AS n_ok",
        f"min(CASE WHEN ok THEN {code} END) AS lo",
        f"max(CASE WHEN ok THEN {code} END) AS hi",
    ]
    order_check = kinds[dcol] == "text" and fmt is None and dayfirst is None
    if order_check:
        t = n(dcol)
        stats += [
            f"count({t}) AS dates",
            f"sum(CASE WHEN {q.match(t, NUMERIC_DATE)} THEN 1 ELSE 0 END) AS numeric",
        ]
    floats = [c for c in raw.columns if kinds[c] == "float"]
    stamps = [c for c in raw.columns if kinds[c] == "timestamp"]
    for i, c in enumerate(floats):
        x = n(c)
        stats.append(f"sum(CASE WHEN {x} <> floor({x}) THEN 1 ELSE 0 END) AS frac{i}")
    for i, c in enumerate(stamps):
        x = f"r_{_safe(c)}"
        stats.append(f"sum(CASE WHEN CAST({x} AS DATE) <> {x} THEN 1 ELSE 0 END) AS time{i}")
    facts = backend.query(f"SELECT {', '.join(stats)} FROM linkage_rows").iloc[0]
    n_total = int(facts["n"])
    if order_check and 2 * _int(facts["numeric"]) > _int(facts["dates"]):
        t = n(dcol)
        first = backend.query(
            f"SELECT {t} AS cell FROM linkage_rows WHERE {q.match(t, NUMERIC_DATE)} "
            "ORDER BY linkage_file, linkage_row LIMIT 1"
        )
        raise ambiguous_order_error(str(first["cell"].iloc[0]), label, dcol)
    dups = backend.query("SELECT h FROM linkage_rows GROUP BY h HAVING count(*) > 1")
    if len(dups):
        backend.register("linkage_dup_hashes", dups.rename(columns={"h": "dh"}))
        dup_join = "LEFT JOIN linkage_dup_hashes dd ON f.h = dd.dh"
        fetched, unfetched = "(NOT f.ok OR dd.dh IS NOT NULL)", "(f.ok AND dd.dh IS NULL)"
    else:
        dup_join, fetched, unfetched = "", "(NOT f.ok)", "f.ok"

    # ---- the fetched rows, cleaned by the pandas cleaner ----------------------------------------
    got = backend.query(
        f"SELECT f.linkage_file, f.linkage_row, "
        f"{', '.join(f'f.r_{_safe(c)} AS {q.col(c)}' for c in raw.columns)} "
        f"FROM linkage_rows f {dup_join} WHERE {fetched}"
    )
    part = _as_read(got, raw, floats, stamps, facts)
    result = clean_activity(
        part, mapping=mapping, source=label, units=units, as_of=as_of, check_date_order=False
    )
    n_gone = len(result.rejects)
    report = result.report.copy()
    report.loc[report["reason"].eq("kept"), "n"] = n_total - n_gone
    result = CleanResult(data=result.data, rejects=result.rejects, report=report)

    # ---- the kept rows, as the panel reads them -------------------------------------------------
    keep_cols = ["customer_id", "unit_id", "activity_date", *(["revenue"] if has_revenue else [])]
    rescued = result.data[keep_cols].copy()
    rescued["activity_date"] = rescued["activity_date"].astype("datetime64[us]")
    for c in ("customer_id", "unit_id"):
        rescued[c] = rescued[c].astype("str")
    if has_revenue:
        rescued["revenue"] = rescued["revenue"].astype("float64")
    backend.register("linkage_rescued", rescued)
    revenue_sel = ", f.rev AS revenue" if has_revenue else ""
    revenue_res = ", CAST(revenue AS DOUBLE) AS revenue" if has_revenue else ""
    backend.execute(
        f"CREATE OR REPLACE TEMP VIEW {kept_view} AS "
        f"SELECT f.cid AS customer_id, f.uid AS unit_id, f.day AS activity_date{revenue_sel} "
        f"FROM linkage_rows f {dup_join} WHERE {unfetched} UNION ALL "
        f"SELECT CAST(customer_id AS {q.d.string}) AS customer_id, "
        f"CAST(unit_id AS {q.d.string}) AS unit_id, CAST(activity_date AS DATE) AS activity_date"
        f"{revenue_res} FROM linkage_rescued"
    )
    from linkage.panel.periods import date_codes

    los = [int(facts["lo"])] if not pd.isna(facts["lo"]) else []
    his = [int(facts["hi"])] if not pd.isna(facts["hi"]) else []
    if len(rescued):
        codes = date_codes(pd.DatetimeIndex(rescued["activity_date"]), freq)
        los.append(int(np.min(codes)))
        his.append(int(np.max(codes)))
    n_kept = n_total - n_gone
    bounds = pd.Series(
        {
            "n": n_kept,
            "no_unit": 0,
            "no_id": 0,
            "no_start": 0,
            "end_before": 0,
            "lo": min(los) if los and n_kept else 0,
            "hi": max(his) if his and n_kept else 0,
        }
    )
    return result, bounds, has_revenue


def _int(x: Any) -> int:
    return 0 if x is None or pd.isna(x) else int(x)


def _safe(name: str) -> str:
    """A column name as a piece of an SQL identifier (letters, digits, underscores, unique)."""
    return "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in name) + f"_{_h(name)}"


def _h(name: str) -> str:
    import hashlib

    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _as_read(
    got: pd.DataFrame, raw: RawLog, floats: list[str], stamps: list[str], facts: pd.Series
) -> pd.DataFrame:
    """The fetched rows as :func:`linkage.io.read_table` gives the whole file: text cells (whole
    numbers and midnight times written as the whole column's are), missing tokens as NaN, indexed
    by the 1-based row number."""
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
    order = np.argsort(rows, kind="stable")
    got = got.iloc[order].reset_index(drop=True)
    rows = rows[order]
    out = {}
    for c in raw.columns:
        col = got[c]
        if c in floats:
            i = floats.index(c)
            col = pd.to_numeric(col, errors="coerce").astype("float64")
            whole = _int(facts[f"frac{i}"]) == 0
            text = (
                col.round().astype("Int64").astype("str").where(col.notna())
                if whole
                else col.astype("str").where(col.notna())
            )
        elif c in stamps:
            i = stamps.index(c)
            col = pd.to_datetime(col)
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)
            fmt = "%Y-%m-%d" if _int(facts[f"time{i}"]) == 0 else "%Y-%m-%d %H:%M:%S"
            text = col.dt.strftime(fmt).astype("str").where(col.notna())
        else:
            text = as_text(col) if col.dtype != object else col.map(_cell, na_action="ignore")
        stripped = text.str.strip()
        out[c] = text.where(~stripped.isin(set(MISSING_TOKENS)) & text.notna()).to_numpy()
    frame = pd.DataFrame(out, index=pd.Index(rows, name="row"), columns=list(raw.columns))
    return frame.astype("str").where(frame.notna())


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
