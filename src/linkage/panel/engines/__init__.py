"""The panel on three engines: pandas (in memory), DuckDB (larger than memory), Spark (a cluster).

:func:`build_panel_engine` takes the same tables as :func:`linkage.panel.build_panel`, as pandas
DataFrames or as files (CSV, Parquet, a directory of Parquet parts, a glob), and returns the same
panel, cell by cell, whichever engine builds it:

- ``"pandas"`` reads the files into memory and calls :func:`linkage.panel.build_panel`;
- ``"duckdb"`` streams the files through an embedded DuckDB database with bounded memory (it
  spills to disk past ``memory_limit``); the activity log is never copied into pandas;
- ``"spark"`` runs the same SQL on a Spark session (local, a master URL, or a session you pass).

The two SQL engines share one query generator (:mod:`linkage.panel.engines._sql`): an activity log
is joined to a small calendar (each day's period and mask bits) and reduced by one hash aggregation
to a bit mask of active periods per (customer, unit), which are then summed per unit; revenue per
unit and period comes out of the same pass. The work is one scan of the log plus two group-bys.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np
import pandas as pd

from linkage.clean import (
    CleanResult,
    check_kept,
    clean_activity,
    clean_customers,
    clean_employees,
    clean_units,
    format_report,
)
from linkage.errors import InputError
from linkage.io import load_mapping, read_table, require_columns, validate_mapping
from linkage.panel._inputs import window_periods
from linkage.panel.build import (
    COUNT_FIELDS,
    assemble_panel,
    build_panel,
    canonical_hint,
    unit_attributes,
    window_bounds,
)
from linkage.panel.engines import _clean, _sql
from linkage.panel.periods import date_codes, normalize_freq

__all__ = ["build_panel_engine", "prepare_panel_engine", "EnginePrepared", "ENGINES"]

#: the engines :func:`build_panel_engine` knows
ENGINES: tuple[str, ...] = ("pandas", "duckdb", "spark")

_COLUMNS = {
    "employees": ("employee_id", "unit_id", "hire_date", "termination_date"),
    "customers": ("customer_id", "unit_id", "start_date", "end_date"),
    "activity": ("customer_id", "unit_id", "activity_date"),
}

Source = pd.DataFrame | str | os.PathLike[str]


def build_panel_engine(
    employees: Source,
    customers: Source | None = None,
    *,
    activity: Source | None = None,
    units: Source | None = None,
    engine: str = "duckdb",
    freq: str = "M",
    start: Any = None,
    end: Any = None,
    activity_window: int = 1,
    spark: Any = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Build the unit x period panel on pandas, DuckDB or Spark, from DataFrames or files.

    Parameters
    ----------
    employees : pandas.DataFrame or path
        Employment spells with the canonical columns (see :func:`linkage.panel.build_panel`).
        A path names a CSV file, a Parquet file, a directory of Parquet parts or a glob of them;
        with ``engine="spark"`` also a URI (``hdfs://``, ``s3a://``, ...) or a Spark DataFrame
        (``spark.table("crm.visits")``).
    customers : pandas.DataFrame or path, optional
        Customer spells.
    activity : pandas.DataFrame or path, optional
        A customer activity log (``customer_id``, ``unit_id``, ``activity_date``, optional
        ``revenue``) instead of spells; this is the table that may have hundreds of millions of
        rows.
    units : pandas.DataFrame or path, optional
        Units and their attributes (small: always read into pandas).
    engine : {"duckdb", "pandas", "spark"}, default "duckdb"
        Which engine builds the panel. All three give the same panel.
    freq, start, end, activity_window
        As in :func:`linkage.panel.build_panel`.
    spark : pyspark.sql.SparkSession or str, optional
        For ``engine="spark"``: a session, or a master URL (``"spark://host:7077"``,
        ``"yarn"``, ``"local[2]"``); default ``"local[*]"``.
    memory_limit : str, optional
        For ``engine="duckdb"``: DuckDB's memory limit (e.g. ``"2GB"``); past it DuckDB spills to
        a temporary directory. Default: DuckDB's own (80 % of RAM).
    threads : int, optional
        For ``engine="duckdb"``: number of threads (default: all cores).
    progress : bool, default False
        Print the steps, with elapsed times, to standard error (and DuckDB's progress bar).

    Returns
    -------
    pandas.DataFrame
        The panel, exactly as :func:`linkage.panel.build_panel` returns it for the same data.

    Raises
    ------
    InputError
        For an unknown engine, a missing file, a table without its canonical columns, and every
        input :func:`linkage.panel.build_panel` rejects (missing ids or dates, ends before starts,
        both customer spells and activity, repeated units).

    Examples
    --------
    >>> emp = pd.DataFrame({"employee_id": ["a", "b"], "unit_id": ["s1", "s2"],
    ...                     "hire_date": pd.to_datetime(["2023-12-01", "2024-01-15"]),
    ...                     "termination_date": pd.to_datetime(["2024-02-10", None])})
    >>> act = pd.DataFrame({"customer_id": ["x", "x", "y"], "unit_id": ["s1", "s1", "s2"],
    ...                     "activity_date": pd.to_datetime(["2024-01-05", "2024-02-07",
    ...                                                      "2024-02-01"])})
    >>> panel = build_panel_engine(
    ...     emp, activity=act, engine="duckdb", start="2024-01", end="2024-03"
    ... )
    >>> panel.equals(build_panel(emp, activity=act, start="2024-01", end="2024-03"))
    True
    >>> panel[["unit_id", "period", "employee_end", "customer_start", "customer_end"]]
      unit_id     period  employee_end  customer_start  customer_end
    0      s1 2024-01-01             1               0             1
    1      s1 2024-02-01             0               1             1
    2      s1 2024-03-01             0               1             0
    3      s2 2024-01-01             1               0             0
    4      s2 2024-02-01             1               0             1
    5      s2 2024-03-01             1               1             0
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    freq = normalize_freq(freq)
    activity_window = window_periods(activity_window)
    if customers is not None and activity is not None:
        raise InputError(
            "give customers either as spells (customers=) or as an activity log (activity=), "
            "not both"
        )
    log = _Log(progress)
    if engine == "pandas":
        employee_frame = _read_pandas(employees, "employees")
        frames = {
            k: _read_pandas(v, k)
            for k, v in (
                ("customers", customers),
                ("activity", activity),
                ("units", units),
            )
        }
        log("read the tables into pandas")
        panel = build_panel(
            employee_frame,
            frames["customers"],
            activity=frames["activity"],
            units=frames["units"],
            freq=freq,
            start=start,
            end=end,
            activity_window=activity_window,
        )
        log("built the panel")
        return panel
    unit_table = _read_pandas(units, "units")
    backend: _Backend = (
        _DuckDB(memory_limit, threads, progress) if engine == "duckdb" else _Spark(spark)
    )
    try:
        return _build_sql(
            backend,
            log,
            employees,
            customers,
            activity,
            unit_table,
            freq,
            start,
            end,
            activity_window,
        )
    finally:
        backend.close()


@dataclasses.dataclass(frozen=True, repr=False)
class EnginePrepared:
    """What :func:`prepare_panel_engine` returns: the panel and the cleaning accounting.

    Attributes
    ----------
    panel : pandas.DataFrame
        The unit x period panel.
    report : pandas.DataFrame
        ``file, reason, n``: per input file one ``kept`` row and one row per reason that applies
        (rows read = kept + set aside); :attr:`text` is its readable form.
    rejects : pandas.DataFrame
        Every set-aside row: ``file, row, reason, column`` and its original cells.
    """

    panel: pd.DataFrame
    report: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def text(self) -> str:
        """Rows read / kept / set aside by reason, per file."""
        return format_report(self.report)

    def __repr__(self) -> str:
        return f"EnginePrepared({len(self.panel)} panel rows, {len(self.rejects)} set aside)"


def prepare_panel_engine(
    employees: Source,
    customers: Source | None = None,
    *,
    activity: Source | None = None,
    units: Source | None = None,
    mapping: dict[str, Any] | str | os.PathLike[str] | None = None,
    as_of: Any = None,
    engine: str = "duckdb",
    freq: str = "M",
    start: Any = None,
    end: Any = None,
    activity_window: int = 1,
    spark: Any = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> EnginePrepared:
    """Clean raw extracts and build the panel on pandas, DuckDB or Spark, every row accounted for.

    The same column mapping, date options and set-aside rules as
    :func:`linkage.clean.clean_employees` and its siblings, the same rejects (file, row, reason,
    column, original cells) and report, whichever engine runs. Spells and units are cleaned in
    pandas (one row per person, small); an activity log is cleaned inside DuckDB or Spark and
    never read into pandas whole: only its defective rows and candidate duplicates are (see
    :mod:`linkage.panel.engines._clean`).

    Parameters
    ----------
    employees, customers, activity, units : pandas.DataFrame or path
        Raw extracts: a file :func:`linkage.io.read_table` reads (CSV, Parquet, ``.xlsx``), or a
        directory (or glob) of Parquet parts, read as one file whose rows are numbered across
        the parts in name order (the rejects name the directory).
    mapping : dict or path, optional
        Column mapping and date options (:func:`linkage.io.load_mapping`).
    as_of : str or date-like, optional
        Date of the extracts; later dates are set aside (default: today).
    engine, freq, start, end, activity_window, spark, memory_limit, threads, progress
        As in :func:`build_panel_engine`.

    Returns
    -------
    EnginePrepared
        ``panel``, ``report`` and ``rejects``.

    Raises
    ------
    InputError
        As :func:`linkage.pipeline.prepare`: a file that cannot be used at all, a mapping naming
        absent columns, an extract none of whose rows can be used.

    Examples
    --------
    >>> emp = pd.DataFrame({"employee_id": ["a", "b", "b"], "unit_id": ["s1", "s1", "s1"],
    ...                     "hire_date": ["2023-12-01", "2024-01-15", "2024-01-15"],
    ...                     "termination_date": ["2024-02-10", "", ""]})
    >>> act = pd.DataFrame({"customer_id": ["x", "x", "y", "y"],
    ...                     "unit_id": ["s1", "s1", "s1", "s1"],
    ...                     "activity_date": ["2024-01-05", "2024-02-07", "not recorded",
    ...                                       "2024-02-01"]})
    >>> result = prepare_panel_engine(emp, activity=act, engine="duckdb", as_of="2024-06-01",
    ...                               start="2024-01", end="2024-02")
    >>> print(result.text)
    employees: 3 rows read, 2 kept, 1 set aside
      duplicate_row           1
    activity: 4 rows read, 3 kept, 1 set aside
      unparseable_date        1
    >>> result.rejects[["file", "row", "reason"]]
            file  row            reason
    0  employees    3     duplicate_row
    1   activity    3  unparseable_date
    >>> result.rejects["column"].tolist()
    ['', 'activity_date']
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    freq = normalize_freq(freq)
    activity_window = window_periods(activity_window)
    if customers is not None and activity is not None:
        raise InputError("give customers either as spells or as an activity log, not both")
    if isinstance(mapping, (str, os.PathLike)):
        mapping = load_mapping(mapping)
    elif mapping is not None:
        mapping = validate_mapping(mapping)
    log = _Log(progress)
    results: list[CleanResult] = []
    clean_u = None
    if units is not None:
        raw_u, label = _read_raw(units, "units")
        clean_u = clean_units(raw_u, mapping=mapping, source=label)
        results.append(clean_u)
    common: dict[str, Any] = {"mapping": mapping, "units": clean_u, "as_of": as_of}
    raw_e, label = _read_raw(employees, "employees")
    clean_e = clean_employees(raw_e, source=label, **common)
    results.append(clean_e)
    clean_c = None
    if customers is not None:
        raw_c, label = _read_raw(customers, "customers")
        clean_c = clean_customers(raw_c, source=label, **common)
        results.append(clean_c)
    window = {"freq": freq, "start": start, "end": end, "activity_window": activity_window}
    if engine == "pandas":
        clean_a = None
        if activity is not None:
            raw_a, label = _read_raw(activity, "activity")
            clean_a = clean_activity(raw_a, source=label, **common)
            results.append(clean_a)
        for result in results:
            check_kept(result)
        panel = build_panel(
            clean_e.data,
            None if clean_c is None else clean_c.data,
            activity=None if clean_a is None else clean_a.data,
            units=None if clean_u is None else clean_u.data,
            **window,
        )
    else:
        backend = _start(engine, spark, memory_limit, threads, progress)
        try:
            panel = _clean_build(
                backend, log, clean_e, clean_c, clean_u, activity, mapping, as_of, results, window
            )
        finally:
            backend.close()
    log("built the panel")
    return EnginePrepared(
        panel=panel,
        report=pd.concat([r.report for r in results], ignore_index=True),
        rejects=pd.concat([r.rejects for r in results], ignore_index=True),
    )


def _clean_build(
    backend: _Backend,
    log: _Log,
    clean_e: CleanResult,
    clean_c: CleanResult | None,
    clean_u: CleanResult | None,
    activity: Source | None,
    mapping: dict[str, Any] | None,
    as_of: Any,
    results: list[CleanResult],
    window: dict[str, Any],
) -> pd.DataFrame:
    """The SQL engines' part of :func:`prepare_panel_engine`: clean the log, build the panel."""
    ready = None
    label = "activity"
    try:
        if activity is not None:
            raw, label = _register_log(backend, activity)
            stamp = _as_of(as_of)
            clean_a, bounds, has_revenue, less = _clean.clean_log(
                backend,
                raw,
                mapping=mapping,
                units=clean_u,
                as_of=stamp,
                freq=window["freq"],
                need_range=window["start"] is None or window["end"] is None,
            )
            results.append(clean_a)
            ready = (bounds, has_revenue, less)
        for result in results:
            check_kept(result)
        log(
            "cleaned "
            + ", ".join(f"{r.report['file'].iloc[0]} ({r.n_kept:,} kept)" for r in results)
        )
        return _build_sql(
            backend,
            log,
            clean_e.data,
            None if clean_c is None else clean_c.data,
            "activity" if activity is not None else None,
            None if clean_u is None else clean_u.data,
            window["freq"],
            window["start"],
            window["end"],
            window["activity_window"],
            ready=ready,
        )
    except InputError:
        raise
    except Exception as err:  # DuckDB's and Spark's own errors: one line naming the file
        if not _engine_error(err):
            raise
        raise InputError(
            f"the {backend.dialect.name} engine failed: {_one_line(err)}", file=label
        ) from None


def _start(
    engine: str, spark: Any, memory_limit: str | None, threads: int | None, progress: bool
) -> _Backend:
    """The engine's back end; its own start-up errors (a Spark without Java, a memory limit
    DuckDB does not read) as one-line InputErrors."""
    try:
        if engine == "duckdb":
            return _DuckDB(memory_limit, threads, progress)
        return _Spark(spark)
    except InputError:
        raise
    except Exception as err:
        if not _engine_error(err):
            raise
        raise InputError(f"the {engine} engine could not start: {_one_line(err)}") from None


def _engine_error(err: BaseException) -> bool:
    """Whether ``err`` is DuckDB's or Spark's (reading or running a query), not a bug of ours."""
    module = type(err).__module__ or ""
    return module.startswith(("duckdb", "_duckdb", "pyspark", "py4j"))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _as_of(as_of: Any) -> pd.Timestamp:
    """The as-of date as the cleaners read it (already checked by them)."""
    if as_of is None:
        return pd.Timestamp.today().normalize()
    stamp = pd.Timestamp(as_of)
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def _parts(source: str | os.PathLike[str], name: str) -> list[str] | None:
    """The Parquet parts of a directory or glob (sorted), or None for one file."""
    text = os.fspath(source)
    if Path(text).is_dir():
        return _kind_of_path(text, name)[1]
    if "://" not in text and any(ch in text for ch in "*?["):
        parts = sorted(glob.glob(text, recursive=True))
        if not parts:
            raise InputError("no file matches", file=text)
        return parts
    return None


def _read_raw(source: Source, table: str) -> tuple[pd.DataFrame, str]:
    """A raw extract as :func:`linkage.io.read_table` reads it, and its label; Parquet parts are
    read one by one and numbered across the parts."""
    if isinstance(source, pd.DataFrame):
        return source, table
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(
            f"expected a DataFrame or a file path for the {table} table, not "
            f"{type(source).__name__}",
            file=table,
        )
    label = Path(source).name
    parts = _parts(source, label)
    if parts is None:
        return read_table(source, name=label), label
    import pyarrow.parquet as pq

    frames, offset = [], 0
    for part in parts:
        frame = read_table(part, name=Path(part).name)
        frame.index = frame.index + offset
        frames.append(frame)
        offset += pq.ParquetFile(part).metadata.num_rows
    out = pd.concat(frames)
    out.index.name = "row"
    return out, label


def _register_log(backend: _Backend, source: Source) -> tuple[_clean.RawLog, str]:
    """Register a raw activity log as the view ``linkage_raw`` (Parquet parts stay on disk; other
    files are read by :func:`linkage.io.read_table`)."""
    view = "linkage_raw"
    if isinstance(source, (str, os.PathLike)):
        label = Path(source).name
        parts = _parts(source, label)
        if parts is None and _is_parquet(source):
            parts = [os.fspath(source)]
        if parts is not None:
            try:
                names, types = backend.register_parts(view, parts)
            except Exception as err:
                if not _engine_error(err):
                    raise
                raise InputError(
                    f"is not a readable Parquet file ({_one_line(err)})", file=label
                ) from None
            offsets, total = _offsets(parts)
            spark_paths = tuple(parts) if isinstance(backend, _Spark) else ()
            raw = _clean.RawLog(
                view, label, tuple(names), tuple(types), offsets, False, spark_paths, total
            )
            return raw, label
    frame, label = _read_raw(source, "activity")
    cols = [str(c) for c in frame.columns]
    table = pd.DataFrame({c: _as_strings(frame[c]) for c in cols})
    table["linkage_file"] = np.zeros(len(table), dtype=np.int64)
    table["linkage_row"] = _row_index(frame)
    backend.register(view, table.reset_index(drop=True))
    types = backend.types(view)[: len(cols)]
    return _clean.RawLog(view, label, tuple(cols), tuple(types), (0,), True, (), len(table)), label


def _as_strings(col: pd.Series) -> pd.Series:
    """A column of a raw table as read, for an engine: text stays text (object columns too)."""
    if col.dtype == object:
        return col.astype("str").where(col.notna())
    return col


def _row_index(frame: pd.DataFrame) -> np.ndarray:
    index = frame.index
    if index.name == "row" and pd.api.types.is_integer_dtype(index.dtype):
        return index.to_numpy(dtype=np.int64)
    return np.arange(1, len(frame) + 1, dtype=np.int64)


def _is_parquet(source: str | os.PathLike[str]) -> bool:
    try:
        with open(source, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _offsets(parts: list[str]) -> tuple[tuple[int, ...], int | None]:
    """Rows before each part and in all (from the Parquet footers; zeros and None for remote
    parts)."""
    if any("://" in p for p in parts):
        return tuple(0 for _ in parts), None
    import pyarrow.parquet as pq

    counts = [pq.ParquetFile(p).metadata.num_rows for p in parts]
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return tuple(int(x) for x in before), int(sum(counts))


# --------------------------------------------------------------------------------------------------
class _Log:
    def __init__(self, on: bool) -> None:
        self.on, self.t0 = on, time.perf_counter()

    def __call__(self, what: str) -> None:
        if self.on:
            print(
                f"[linkage panel {time.perf_counter() - self.t0:7.1f} s] {what}",
                file=sys.stderr,
                flush=True,
            )


def _kind_of_path(path: str | os.PathLike[str], name: str) -> tuple[str, list[str]]:
    """("csv" | "parquet", the file list or glob) of a path; InputError when nothing is there."""
    text = os.fspath(path)
    if "://" in text:  # hdfs://, s3a://, abfss://, dbfs:/...: the engine's file system decides
        return ("csv" if text.lower().endswith((".csv", ".csv.gz")) else "parquet"), [text]
    if any(ch in text for ch in "*?["):
        return ("csv" if text.lower().endswith((".csv", ".csv.gz")) else "parquet"), [text]
    p = Path(text)
    if p.is_dir():
        parts = sorted(str(f) for f in p.rglob("*.parquet"))
        if not parts:
            raise InputError("is a directory without .parquet files", file=text)
        return "parquet", parts
    if not p.is_file():
        raise InputError("no such file", file=text)
    low = p.name.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet", [text]
    if low.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return "csv", [text]
    raise InputError("the DuckDB and Spark engines read CSV or Parquet files", file=text)


def _duckdb_error() -> type[Exception]:
    """DuckDB's base error class (imported lazily)."""
    import duckdb

    return duckdb.Error


@overload
def _read_pandas(source: Source, name: str) -> pd.DataFrame: ...
@overload
def _read_pandas(source: Source | None, name: str) -> pd.DataFrame | None: ...
def _read_pandas(source: Source | None, name: str) -> pd.DataFrame | None:
    if source is None or isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(
            f"expected a file path or a DataFrame, not {type(source).__name__}", file=name
        )
    kind, files = _kind_of_path(source, name)
    if kind == "parquet":
        import pyarrow.dataset as ds

        if any(ch in files[0] for ch in "*?["):
            files = sorted(glob.glob(files[0], recursive=True))
        return ds.dataset(files, format="parquet").to_table().to_pandas(date_as_object=False)
    from linkage.io import read_table

    return read_table(files[0], name=Path(files[0]).name)


# --------------------------------------------------------------------------------------------------
class _Backend(Protocol):
    """What :func:`_build_sql` needs of an engine: register tables, run SQL, answer frames."""

    dialect: _sql.Dialect

    def register(self, name: str, source: object) -> None: ...

    def register_parts(self, view: str, files: list[str]) -> tuple[list[str], list[str]]: ...

    def types(self, name: str) -> list[str]: ...

    def columns(self, name: str) -> list[str]: ...

    def activity_bounds(self, freq: str) -> pd.Series | None: ...

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> pd.DataFrame: ...

    def close(self) -> None: ...


class _DuckDB:
    dialect = _sql.DUCKDB

    def __init__(self, memory_limit: str | None, threads: int | None, progress: bool) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET temp_directory = '{Path(tempfile.gettempdir()) / 'linkage_duckdb'}'")
        self.con.execute("SET preserve_insertion_order = false")
        try:  # pre-aggregating the calendar before the join makes the big aggregation merge
            # aggregate states row by row instead of updating from plain values (slower, measured)
            self.con.execute("SET disabled_optimizers = 'partial_aggregate_pushdown'")
        except duckdb.Error:  # an optimizer of another name in another DuckDB version
            pass
        self.con.execute(f"SET enable_progress_bar = {'true' if progress else 'false'}")
        if memory_limit is not None:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        self.parquet_files: dict[str, str | None] = {}

    def activity_bounds(self, freq: str) -> pd.Series | None:
        """The checks and range of a Parquet activity log from its metadata (no scan), or None.

        Parquet writers store per row group the number of nulls and the min and max of each
        column; when all of them are there, they answer :func:`_sql.bounds_sql` exactly.
        """
        listed = self.parquet_files.get("activity")
        if listed is None:
            return None
        kind = self.con.execute(
            "SELECT column_type FROM (DESCRIBE activity) WHERE column_name = 'activity_date'"
        ).fetchall()
        if not kind or not str(kind[0][0]).upper().startswith(("DATE", "TIMESTAMP")):
            return (
                None  # dates kept as text: their minimum and maximum are not the first and last day
            )
        try:
            meta = self.con.execute(
                f"SELECT path_in_schema AS col, num_values AS n, stats_null_count AS nulls, "
                f"stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata({listed}) "
                f"WHERE path_in_schema IN ('customer_id', 'unit_id', 'activity_date')"
            ).df()
            if meta["col"].nunique() != 3 or meta["nulls"].isna().any():
                return None
            nulls = meta.groupby("col")["nulls"].sum()
            dates = meta[meta["col"] == "activity_date"]
            n = int(dates["n"].sum())
            if n == 0:
                return None
            if dates[["lo", "hi"]].isna().to_numpy().any():
                return None
            lo = pd.to_datetime(dates["lo"]).min()
            hi = pd.to_datetime(dates["hi"]).max()
        except (ValueError, TypeError, _duckdb_error()):
            return None
        codes = date_codes(
            pd.DatetimeIndex([lo, hi]).tz_localize(None)
            if getattr(lo, "tz", None)
            else pd.DatetimeIndex([lo, hi]),
            freq,
        )
        return pd.Series(
            {
                "n": n,
                "no_unit": nulls["unit_id"],
                "no_id": nulls["customer_id"],
                "no_start": nulls["activity_date"],
                "end_before": 0,
                "lo": int(codes[0]),
                "hi": int(codes[1]),
            }
        )

    def register(self, name: str, source: object) -> None:
        self.parquet_files[name] = None
        if isinstance(source, pd.DataFrame):
            self.con.register(f"{name}_df", source)
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_df")
            return
        if not isinstance(source, (str, os.PathLike)):
            raise InputError(
                f"expected a file path or a DataFrame, not {type(source).__name__}", file=name
            )
        kind, files = _kind_of_path(source, name)
        listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        if kind == "parquet":
            self.parquet_files[name] = listed
        reader = (
            f"read_parquet({listed})"
            if kind == "parquet"
            else f"read_csv({listed}, header = true, all_varchar = true)"
        )
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {reader}")

    def columns(self, name: str) -> list[str]:
        return [c[0] for c in self.con.execute(f"SELECT * FROM {name} LIMIT 0").description]

    def register_parts(self, view: str, files: list[str]) -> tuple[list[str], list[str]]:
        """Parquet parts as ``view`` with their part (``linkage_file``) and row in it
        (``linkage_row``, from 0); the file columns and their types."""
        listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        described = self.con.execute(f"DESCRIBE SELECT * FROM read_parquet({listed})").fetchall()
        names, types = [str(r[0]) for r in described], [str(r[1]) for r in described]
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in names)
        self.con.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT {cols}, file_index AS linkage_file, "
            f"file_row_number AS linkage_row FROM read_parquet({listed}, file_row_number = true)"
        )
        return names, types

    def types(self, name: str) -> list[str]:
        return [str(r[1]) for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def query(self, sql: str) -> pd.DataFrame:
        # through Arrow: strings arrive as Arrow-backed columns, quicker than .df()
        # (measured figures: benchmarks/README.md)
        return self.con.sql(sql).to_arrow_table().to_pandas()

    def numbers(self, sql: str, size: int) -> np.ndarray:
        """The one numeric column of a query as a NumPy array, streamed batch by batch into one
        array of ``size`` (the rows expected; grown if there are more), so that the result is
        never held twice (no pandas copy, no DuckDB result table)."""
        reader = self.con.sql(sql).to_arrow_reader(1 << 20)
        out: np.ndarray | None = None
        filled = 0
        for batch in reader:
            values = batch.column(0).to_numpy(zero_copy_only=False)
            if out is None:
                out = np.empty(max(size, len(values)), dtype=values.dtype)
            if filled + len(values) > len(out):  # more rows than expected: grow
                out = np.concatenate([out[:filled], np.empty(filled + len(values), out.dtype)])
            out[filled : filled + len(values)] = values
            filled += len(values)
        return np.empty(0, np.uint64) if out is None else out[:filled]

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def close(self) -> None:
        self.con.close()


class _Spark:
    dialect = _sql.SPARK

    def __init__(self, spark: Any) -> None:
        with warnings.catch_warnings():  # pyspark 4.x on pandas 3 warns at import
            warnings.filterwarnings(
                "ignore",
                message="PySpark does not yet fully support pandas",
                category=FutureWarning,
            )
            try:
                from pyspark.sql import SparkSession
            except ImportError:  # an InputError: the CLI prints it as one line, exit status 2
                raise InputError(
                    "engine='spark' needs pyspark (and Java 17): pip install 'linkage[spark]'"
                ) from None
        if spark is None or isinstance(spark, str):
            self.session = (
                SparkSession.builder.master(spark or "local[*]")
                .appName("linkage")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate()
            )
        else:
            self.session = spark
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def register(self, name: str, source: object) -> None:
        if hasattr(
            source, "createOrReplaceTempView"
        ):  # already a Spark DataFrame (a table, a query)
            source.createOrReplaceTempView(name)
            return
        if isinstance(source, pd.DataFrame):  # through Parquet: no pandas-version coupling
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="linkage_spark_")
            path = os.path.join(self._tmp.name, f"{name}.parquet")
            pq.write_table(pa.Table.from_pandas(source, preserve_index=False), path)
            frame = self.session.read.parquet(path)
        elif isinstance(source, (str, os.PathLike)):
            kind, files = _kind_of_path(source, name)
            reader = self.session.read
            frame = reader.parquet(*files) if kind == "parquet" else reader.csv(files, header=True)
        else:
            raise InputError(
                f"expected a file path or a DataFrame, not {type(source).__name__}", file=name
            )
        frame.createOrReplaceTempView(name)

    def columns(self, name: str) -> list[str]:
        return list(self.session.table(name).columns)

    def register_parts(self, view: str, files: list[str]) -> tuple[list[str], list[str]]:
        """As :meth:`_DuckDB.register_parts` (``linkage_file`` is the part's path)."""
        from pyspark.sql import functions as F

        frame = self.session.read.parquet(*files)
        names = list(frame.columns)
        types = [t for _, t in frame.dtypes]
        frame.select(
            *[F.col("`" + c.replace("`", "``") + "`") for c in names],
            F.col("_metadata.file_path").alias("linkage_file"),
            F.col("_metadata.row_index").alias("linkage_row"),
        ).createOrReplaceTempView(view)
        return names, types

    def types(self, name: str) -> list[str]:
        return [t for _, t in self.session.table(name).dtypes]

    def activity_bounds(self, freq: str) -> None:
        return None

    def execute(self, sql: str) -> None:
        self.session.sql(sql)

    def query(self, sql: str) -> pd.DataFrame:
        frame = self.session.sql(sql)
        rows = frame.collect()
        return pd.DataFrame.from_records([tuple(r) for r in rows], columns=frame.columns)

    def close(self) -> None:
        for name in self.session.catalog.listTables():
            if name.isTemporary and (
                name.name in ("employees", "customers", "activity")
                or name.name.startswith("linkage_")
            ):
                self.session.catalog.dropTempView(name.name)
        if self._tmp is not None:
            self._tmp.cleanup()


# --------------------------------------------------------------------------------------------------
def _build_sql(
    backend: _Backend,
    log: _Log,
    employees: object,
    customers: object,
    activity: object,
    units: pd.DataFrame | None,
    freq: str,
    start: Any,
    end: Any,
    window: int,
    ready: tuple[pd.Series, bool, pd.DataFrame | None] | None = None,
) -> pd.DataFrame:
    """The panel from the tables (``ready``: the activity log is already the view ``activity``,
    cleaned, with its bounds and whether it has revenue)."""
    d = backend.dialect
    tables: dict[str, object] = {"employees": employees}
    if customers is not None:
        tables["customers"] = customers
    if activity is not None:
        tables["activity"] = activity
    for name, source in list(tables.items()):
        if name == "activity" and ready is not None:
            continue
        if not isinstance(source, (pd.DataFrame, str, os.PathLike)) and not (
            isinstance(backend, _Spark) and hasattr(source, "createOrReplaceTempView")
        ):
            raise InputError(
                f"expected a file path or a DataFrame, not {type(source).__name__}", file=name
            )
        backend.register(name, source)
        have = backend.columns(name)
        if name == "customers" and "start_date" not in have and "activity_date" in have:
            if "activity" in tables:
                raise InputError("give customers either as spells or as an activity log, not both")
            tables["activity"] = tables.pop("customers")
            backend.register("activity", source)
            name, have = "activity", backend.columns("activity")
        require_columns(
            pd.DataFrame(columns=have),
            _COLUMNS[name],
            file=name,
            what=f"{name} table",
            hint=canonical_hint(_COLUMNS[name]),
        )
    if ready is not None:
        has_revenue = ready[1]
    else:
        has_revenue = "activity" in tables and "revenue" in backend.columns("activity")

    # ---- checks and the data's range: one scan per table ------------------------------------
    # one query (one Spark job) for the tables without Parquet statistics
    bounds: dict[str, pd.Series] = {}
    if ready is not None:
        bounds["activity"] = ready[0]
    elif "activity" in tables:
        from_metadata = backend.activity_bounds(freq)
        if from_metadata is not None:
            bounds["activity"] = from_metadata
            log(f"checked activity from its Parquet metadata: {int(from_metadata['n']):,} rows")
    to_scan = [name for name in tables if name not in bounds]
    if to_scan:
        scanned = backend.query(
            " UNION ALL ".join(_sql.bounds_sql(name, name, freq, d) for name in to_scan)
        )
        for _, row in scanned.iterrows():
            bounds[row["tbl"]] = row
            log(f"scanned {row['tbl']}: {int(row['n']):,} rows")
    spans = []
    for name in tables:
        b = bounds[name]
        start_col = {
            "employees": "hire_date",
            "customers": "start_date",
            "activity": "activity_date",
        }[name]
        for count, col, what in (
            (b["no_unit"], "unit_id", "have no unit_id"),
            (b["no_id"], "customer_id", "have no customer_id"),
            (b["no_start"], start_col, f"have no {start_col}"),
            (b["end_before"], "end", "end before they start"),
        ):
            if count is not None and not pd.isna(count) and int(count) > 0:
                raise InputError(
                    f"{int(count)} row(s) {what}; set them aside with linkage.clean first",
                    file=name,
                    column=col,
                )
        if int(b["n"]) > 0 and not pd.isna(b["lo"]):
            spans.append((int(b["lo"]), int(b["hi"])))
    lo, hi, n_periods = window_bounds(spans, start, end, freq)

    # ---- the aggregations ---------------------------------------------------------------------
    results: dict[str, pd.DataFrame] = {}
    q_lo, q_hi = (lo, hi) if n_periods else (lo, lo)
    spell_tables = [name for name in ("employees", "customers") if name in tables]
    hist = backend.query(
        " UNION ALL ".join(
            _sql.spell_hist_sql(name, name, freq, q_lo, q_hi, d) for name in spell_tables
        )
    )
    for name in spell_tables:
        results[name] = hist[hist["tbl"] == name]
    log(f"aggregated {' and '.join(spell_tables)}")
    if "activity" in tables:
        b = bounds["activity"]
        known = int(b["n"]) > 0 and not pd.isna(b["lo"])
        days = _sql.calendar_days(
            int(b["lo"]) if known else None,
            int(b["hi"]) if known else None,
            q_lo,
            q_hi,
            window,
            freq,
        )
        q_n = q_hi - q_lo + 1
        pairs = _sql.pairs_sql("activity", freq, q_lo, q_hi, window, d, days, has_revenue)
        if has_revenue:  # one pass for masks and revenue, kept for the two small queries on it
            name = "linkage_activity_pairs"
            backend.execute(d.keep.format(name=name, sql=pairs))
            try:
                log(
                    "aggregated the activity log (one bit mask per customer and unit, "
                    "revenue per unit and period)"
                )
                results["activity"] = backend.query(
                    _sql.activity_sql(name, q_n, window, d, revenue=True)
                )
                results["revenue"] = backend.query(_sql.revenue_sql(name, d))
            finally:
                backend.execute(d.drop.format(name=name))
        else:
            results["activity"] = backend.query(
                _sql.activity_sql(f"({pairs})", q_n, window, d, revenue=False)
            )
            log("aggregated the activity log (one bit mask per customer and unit)")

    # ---- units and assembly (as build_panel does) ---------------------------------------------
    found = [results[k]["u"] for k in ("employees", "customers", "activity") if k in results]
    attrs = None
    if units is not None:
        unit_col, attrs = unit_attributes(units)
        found.append(unit_col)
    all_units = pd.concat([pd.Series(f, dtype="str") for f in found], ignore_index=True)
    unit_index = pd.Index(all_units.unique(), dtype="str").sort_values()
    n_units = len(unit_index)
    zeros = {f: np.zeros(n_units * n_periods, dtype=np.int64) for f in COUNT_FIELDS}
    counts = {"employee": _sql.spell_counts(results["employees"], unit_index, lo, n_periods)}
    if "customers" in results:
        counts["customer"] = _sql.spell_counts(results["customers"], unit_index, lo, n_periods)
    elif "activity" in results and n_periods:
        counts["customer"] = _sql.activity_counts(
            results["activity"], unit_index, n_periods, window
        )
    else:
        counts["customer"] = zeros
    revenue = None
    if has_revenue:
        rev = results["revenue"]
        revenue = np.zeros(n_units * n_periods)
        if len(rev):
            cell = _sql.unit_codes(rev["u"], unit_index) * n_periods + (
                rev["k"].to_numpy(np.int64) - lo
            )
            revenue[cell] = rev["rev"].to_numpy(np.float64)
        if ready is not None and ready[2] is not None and len(ready[2]) and n_periods:
            # rows counted by the pass that the cleaner set aside as copies of earlier rows
            less = ready[2]
            k = less["k"].to_numpy(np.int64) - lo
            inside = (k >= 0) & (k < n_periods)
            cell = _sql.unit_codes(less["u"], unit_index)[inside] * n_periods + k[inside]
            np.subtract.at(revenue, cell, less["rev"].to_numpy(np.float64)[inside])
    panel = assemble_panel(unit_index, lo, n_periods, freq, counts, revenue, attrs)
    log(f"panel: {n_units:,} units x {n_periods} periods")
    return panel
