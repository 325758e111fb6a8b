"""Panel build at scale: wall time and peak memory of each engine, as ratios to a bare DuckDB scan.

Worlds of 2,000 units x 60 months, ~200k employee spells and an activity log of 1 M, 20 M or 100 M
rows (Parquet parts, written by :func:`linkage.simulate.big.write_big` under ``--data`` if not
there yet; never commit them). Every measurement runs in a fresh child process, which reports its
wall time, the CPU time of its own threads (user + system; not the JVM's for Spark) and its peak
resident memory (``ru_maxrss``, plus the JVM's ``VmHWM`` for Spark). The baseline is a bare DuckDB
scan of the same four activity columns the engines read (``max`` of each of the three key
columns, ``sum`` of revenue: every value decoded and consumed) in the same run, with the same
thread count. Each engine's panel is checked against the DuckDB engine's (counts exactly).

The machine is shared, so the runs go round-robin (scan, engine, engine, ..., then again) and each
row shows the fastest of ``--repeat`` runs: a burst of someone else's work then slows a scan as
likely as an engine run. The CPU columns are less sensitive to such bursts than the wall ones.

Rows:
- ``scan``: the baseline;
- ``dups_floor`` (with the dirty rows): the least an exact duplicate search costs, every row's
  64-bit hash streamed into NumPy and sorted, with nothing else (no test, no fetch, no panel);
  beside ``duckdb`` (the panel alone) it gives a floor for any ``duckdb_clean``;
- ``duckdb``: :func:`linkage.panel.engines.build_panel_engine` with ``engine="duckdb"``
  (``--memory-limit``, default 2GB, ``--threads``, default 2);
- ``sql_window``: the sort-based alternative in hand-written DuckDB SQL (distinct customer-unit-
  months, then ``lag`` over each customer and unit), the approach the pandas builder uses;
- ``pandas``: reads the Parquet parts into pandas and calls ``build_panel``;
- ``spark``: the same SQL as ``duckdb`` on a local Spark session (``local[2]``, 4g driver).

Dirty input (``--engines scan_dirty duckdb_clean ...``): a copy of the activity log with about
``--dirty`` (default 1 %) defective rows added at random places (exact duplicates, missing customer
ids, dates after the as-of date, dates before 1900, unknown units; written once under
``dirty_activity/``; the clean rows keep their order), and the raw employees and units:

- ``scan_dirty``: the baseline of the dirty rows, a bare scan of the same four columns of that log;
- ``duckdb_clean`` / ``pandas_clean`` / ``spark_clean``:
  :func:`linkage.panel.engines.prepare_panel_engine` (clean every table, set the defective rows
  aside with their reasons, build the panel). Every defective row is an added row, so the panel
  must equal the clean log's (checked on the counts against ``duckdb`` when it runs, and between
  the ``*_clean`` engines), and the rows set aside must be at least the planted ones.

Usage::

    .venv/bin/python benchmarks/panel_scale.py                        # 1 M rows, all engines
    .venv/bin/python benchmarks/panel_scale.py --rows 20000000 100000000 --engines duckdb pandas
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOW = {"start": "2021-01", "end": "2025-12"}
AS_OF = "2026-01-01"


def _peak_mb(extra_kb: int = 0) -> float:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + extra_kb) / 1024


def _jvm_peak_kb() -> int:
    """VmHWM of the JVM children of this process (the Spark driver), in kB."""
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(engine: str, data: Path, out: Path, memory_limit: str, threads: int) -> dict:
    """Run one measurement in this (fresh) process."""
    activity = data / "activity"
    glob = str(activity / "*.parquet")
    extra = 0
    import duckdb  # imports and the Spark session start are outside the timed part

    from linkage.panel.engines import build_panel_engine

    if engine.endswith("_clean"):  # the schemas (pandera) the first cleaning imports
        import linkage.io.schemas  # noqa: F401

    spark, session_s = None, 0.0
    if engine in ("spark", "spark_clean"):
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "4g")
                 .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.shuffle.partitions", "8")
                 .config("spark.ui.showConsoleProgress", "false").getOrCreate())
        session_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu_s()
    set_aside = None
    if engine in ("scan", "scan_dirty"):
        where = glob if engine == "scan" else str(data / "dirty_activity" / "*.parquet")
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        con.execute(f"SELECT max(customer_id), max(unit_id), max(activity_date), sum(revenue) "
                    f"FROM read_parquet('{where}')").fetchall()
        panel = None
    elif engine.endswith("_clean"):
        from linkage.panel.engines import prepare_panel_engine

        result = prepare_panel_engine(data / "employees.parquet", activity=data / "dirty_activity",
                                      units=data / "units.parquet", engine=engine.removesuffix("_clean"),
                                      spark=spark, memory_limit=memory_limit, threads=threads,
                                      as_of=AS_OF, progress=True, **WINDOW)
        panel = result.panel
        set_aside = len(result.rejects)
        if spark is not None:
            extra = _jvm_peak_kb()
    elif engine == "dups_floor":
        # the least any exact duplicate search costs here: every row's 64-bit hash of its four
        # cells streamed into one NumPy array and sorted (the quickest found; a GROUP BY on the
        # hash, pandas' and pyarrow's hash tables were slower), no test, no fetch, no panel
        import numpy as np

        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        where = str(data / "dirty_activity" / "*.parquet")
        reader = con.sql(f"SELECT hash(customer_id, unit_id, activity_date, revenue) AS h "
                         f"FROM read_parquet('{where}')").to_arrow_reader(1 << 20)
        keys = np.concatenate([b.column(0).to_numpy() for b in reader])
        keys.sort()
        set_aside = int(np.count_nonzero(keys[1:] == keys[:-1]))  # later copies
        panel = None
    elif engine == "sql_window":
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        code = "((year(activity_date) - 1970) * 12 + month(activity_date) - 1)"
        con.execute(f"""
            WITH a AS (SELECT DISTINCT customer_id, unit_id, {code} AS k FROM read_parquet('{glob}')),
                 r AS (SELECT unit_id AS u, k, lag(k) OVER (PARTITION BY customer_id, unit_id ORDER BY k) AS prev
                       FROM a)
            SELECT u, k, count(*) AS active, sum(CASE WHEN prev = k - 1 THEN 1 ELSE 0 END) AS retained
            FROM r GROUP BY u, k""").fetchall()
        panel = None
    else:
        panel = build_panel_engine(data / "employees.parquet", activity=activity, units=data / "units.parquet",
                                   engine=engine, spark=spark, memory_limit=memory_limit, threads=threads,
                                   progress=True, **WINDOW)
        if spark is not None:
            extra = _jvm_peak_kb()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    if panel is not None:
        panel.to_parquet(out)
    return {"engine": engine, "wall_s": wall, "cpu_s": None if engine.startswith("spark") else cpu,
            "peak_mb": _peak_mb(extra), "session_s": session_s, "set_aside": set_aside}


def ensure_world(data: Path, rows: int) -> None:
    marker = data / "rows.txt"
    if marker.exists() and marker.read_text().strip() == str(rows):
        return
    from linkage.simulate.big import write_big

    t0 = time.perf_counter()
    write_big(data, rows=rows, progress=True)
    marker.write_text(str(rows))
    print(f"wrote the {rows:,}-row world to {data} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def ensure_dirty(data: Path, rate: float, seed: int = 1) -> int:
    """Write ``dirty_activity/``: each clean part with about ``rate`` defective rows added at random
    places (duplicates, missing customer ids, future dates, dates before 1900, unknown units, in
    equal shares); returns the number of rows added."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = data / "dirty_activity"
    marker = out / "rate.txt"
    if marker.exists() and marker.read_text().split()[::2] == [str(rate), "in-order"]:
        return int(marker.read_text().split()[1])
    out.mkdir(exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    added = 0
    for part in sorted((data / "activity").glob("*.parquet")):
        table = pq.read_table(part)
        n = table.num_rows
        k = max(5, int(round(rate * n)))
        pick = pa.array(rng.integers(0, n, size=k))
        bad = table.take(pick)
        kind = np.arange(k) % 5
        cid = bad["customer_id"].to_numpy(zero_copy_only=False).astype(object)
        cid[kind == 1] = None
        uid = bad["unit_id"].to_numpy(zero_copy_only=False).astype(object)
        uid[kind == 4] = np.char.add("X", uid[kind == 4].astype(str))
        day = bad["activity_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
        day[kind == 2] = np.datetime64("2031-06-01")
        day[kind == 3] = np.datetime64("1850-01-01")
        bad = pa.table({"customer_id": pa.array(cid, pa.string()), "unit_id": pa.array(uid, pa.string()),
                        "activity_date": pa.array(day, pa.date32()), "revenue": bad["revenue"]})
        both = pa.concat_tables([table.cast(bad.schema), bad])
        # the defective rows go to random places; the clean rows keep their order (an extract's
        # rows come grouped by store and customer, and the aggregations profit from it)
        where = np.sort(rng.integers(0, n + 1, size=k))
        order = pa.array(np.insert(np.arange(n), where, n + np.arange(k)))
        pq.write_table(both.take(order), out / part.name)
        added += k
        del table, both, bad
    marker.write_text(f"{rate} {added} in-order")
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engines", nargs="+", default=["duckdb", "sql_window", "pandas", "spark"])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "linkage_scale"))
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine, the fastest counts")
    parser.add_argument("--dirty", type=float, default=0.01, help="share of defective rows added "
                        "for the *_clean engines (default 0.01)")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, data, out = args.child
        result = child(engine, Path(data), Path(out), args.memory_limit, args.threads)
        print("\nRESULT " + json.dumps(result), flush=True)
        return

    import pandas as pd

    lines = []
    for rows in args.rows:
        data = Path(args.data) / f"{rows // 1_000_000}M"
        ensure_world(data, rows)
        dirty = any(e.endswith(("_clean", "_dirty", "_floor")) for e in args.engines)
        planted = ensure_dirty(data, args.dirty) if dirty else 0
        n_rows = sum(__import__("pyarrow.parquet").parquet.ParquetFile(p).metadata.num_rows
                     for p in (data / "activity").glob("*.parquet"))
        names = ["scan", *args.engines] if "scan" not in args.engines else list(args.engines)
        if dirty and "scan_dirty" not in names:
            names.insert(1, "scan_dirty")
        if all(e.endswith(("_clean", "_dirty", "_floor")) for e in args.engines):
            names.remove("scan")
        runs = {engine: [] for engine in names}
        failed, panels = set(), {}
        # the cores are shared: round-robin, best of --repeat runs (Spark once: its runs are long)
        for round_ in range(args.repeat):
            for engine in names:
                if engine in failed or (engine.startswith("spark") and round_ > 0):
                    continue
                out = Path(tempfile.mkdtemp()) / "panel.parquet"
                cmd = [sys.executable, __file__, "--child", engine, str(data), str(out),
                       "--memory-limit", args.memory_limit, "--threads", str(args.threads)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{engine} at {rows:,} rows failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                    failed.add(engine)
                    continue
                marked = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                runs[engine].append(json.loads(marked[-1].removeprefix("RESULT ")))
                if out.exists():
                    panels[engine] = pd.read_parquet(out)
                    out.unlink()
                print(f"{rows:,} rows {engine}: {runs[engine][-1]}", file=sys.stderr, flush=True)
        results = {}
        for engine, got in runs.items():
            cpus = [r["cpu_s"] for r in got if r["cpu_s"] is not None]
            results[engine] = None if not got else {
                "wall_s": min(r["wall_s"] for r in got), "cpu_s": min(cpus) if cpus else None,
                "peak_mb": max(r["peak_mb"] for r in got)}
        ref_name = "duckdb" if "duckdb" in panels else "duckdb_clean"
        ref = panels.get(ref_name)
        for engine, panel in panels.items():
            if ref is not None and engine != ref_name:
                counts = [c for c in ref.columns if c.endswith(("_start", "_joined", "_left", "_retained", "_end"))]
                same = ref[["unit_id", "period", *counts]].equals(panel[["unit_id", "period", *counts]])
                print(f"  {engine} panel equals the {ref_name} panel (counts): {same}", file=sys.stderr)
                if not same:
                    raise SystemExit(f"{engine} differs from {ref_name} at {rows:,} rows")
        for engine, got in runs.items():
            if engine.endswith("_clean") and got:
                aside = got[-1]["set_aside"]
                print(f"  {engine}: {aside:,} rows set aside ({planted:,} planted)", file=sys.stderr)
                if aside < planted:
                    raise SystemExit(f"{engine} set aside fewer rows than were planted")
        for engine in names:
            r = results.get(engine)
            dirty_row = engine.endswith(("_clean", "_dirty", "_floor"))
            base = results["scan_dirty" if dirty_row else "scan"]
            shown = n_rows + planted if dirty_row else n_rows
            if r is None:
                lines.append(f"| {shown:,} | {engine} | failed | | | | | |")
                continue
            cpu = ("| | |" if r["cpu_s"] is None else
                   f"| {r['cpu_s']:.2f} | {r['cpu_s'] / base['cpu_s']:.1f}x |")
            lines.append(f"| {shown:,} | {engine} | {r['wall_s']:.2f} | {r['wall_s'] / base['wall_s']:.1f}x {cpu} "
                         f"{r['peak_mb']:,.0f} | {r['peak_mb'] / base['peak_mb']:.1f}x |")
    print("| activity rows | engine | wall (s) | wall / scan | CPU (s) | CPU / scan | peak memory (MB) "
          "| memory / scan |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
