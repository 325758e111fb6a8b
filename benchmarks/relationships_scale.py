"""Scale of ``relationship_hazard``: a million customers and 200,000 employee spells.

Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/relationships_scale.py
    nice -n 10 .venv/bin/python benchmarks/relationships_scale.py --customers 100000  # quick look

A child process writes synthetic Parquet extracts (5,000 units x 36 months: employee spells,
customer spells with ``served_by``, a relationship table with a handover for a third of the
customers); this process then reads them with pandas and runs ``relationship_hazard`` on the
relationship table (the customer-month expansion in DuckDB, memory limit 2 GB). It prints the
wall time, the peak resident memory of this process (``ru_maxrss``: reading, the analysis and
DuckDB together) and, as the baseline measured in the same run, the time of a bare DuckDB scan of
the same three files (count and min / max of every date column): the ratio says what the
analysis costs over just reading the data once. It also prints the CPU seconds (user + system)
of the analysis: on a shared machine the wall time depends on the load. The promise: under a
minute and under 4 GB.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def write_files(folder: pathlib.Path, n_customers: int, n_spells: int, seed: int = 0) -> None:
    """Synthetic extracts: units, employee spells, customers with served_by, relationships."""
    rng = np.random.default_rng(seed)
    n_units = 5000
    day0, day1 = np.datetime64("2016-01-01"), np.datetime64("2025-12-31")
    span = int((day1 - day0).astype(int))
    e_unit = rng.integers(0, n_units, n_spells)
    hire = day0 + rng.integers(0, span - 400, n_spells).astype("timedelta64[D]")
    tenure = rng.exponential(900, n_spells).astype(int) + 30
    term = hire + tenure.astype("timedelta64[D]")
    term = np.where(term <= day1, term, np.datetime64("NaT"))
    eid = np.char.add("E", np.arange(n_spells).astype(str))
    units = np.char.add("U", np.arange(n_units).astype(str))
    pd.DataFrame(
        {
            "employee_id": eid,
            "unit_id": units[e_unit],
            "hire_date": hire,
            "termination_date": term,
        }
    ).to_parquet(folder / "employees.parquet", index=False)

    c_unit = rng.integers(0, n_units, n_customers)
    start = day0 + rng.integers(0, span - 60, n_customers).astype("timedelta64[D]")
    life = rng.exponential(1200, n_customers).astype(int) + 31
    end = start + life.astype("timedelta64[D]")
    end = np.where(end <= day1, end, np.datetime64("NaT"))
    # each customer's employee: a spell of its unit (at random)
    order = np.argsort(e_unit, kind="stable")
    lo = np.searchsorted(e_unit[order], np.arange(n_units))
    hi = np.searchsorted(e_unit[order], np.arange(n_units), side="right")
    size = np.maximum(hi - lo, 1)
    owner = order[
        np.minimum(lo[c_unit] + rng.integers(0, 1 << 30, n_customers) % size[c_unit], n_spells - 1)
    ]
    cid = np.char.add("C", np.arange(n_customers).astype(str))
    pd.DataFrame(
        {
            "customer_id": cid,
            "unit_id": units[c_unit],
            "start_date": start,
            "end_date": end,
            "served_by": eid[owner],
        }
    ).to_parquet(folder / "customers.parquet", index=False)

    # relationships: from the customer's start to its employee's departure (or its own end);
    # a third get a second owner 1 to 90 days after the first one left
    first_end = np.where(
        ~np.isnat(term[owner]) & (np.isnat(end) | (term[owner] < end)), term[owner], end
    )
    second = (rng.random(n_customers) < 1 / 3) & ~np.isnat(first_end) & (first_end != end)
    nxt = order[
        np.minimum(lo[c_unit] + rng.integers(0, 1 << 30, n_customers) % size[c_unit], n_spells - 1)
    ]
    s2 = first_end + rng.integers(1, 91, n_customers).astype("timedelta64[D]")
    second &= np.isnat(end) | (s2 < end)
    rel = pd.DataFrame(
        {
            "customer_id": np.concatenate([cid, cid[second]]),
            "employee_id": np.concatenate([eid[owner], eid[nxt[second]]]),
            "start_date": np.concatenate([start, s2[second]]),
            "end_date": np.concatenate([first_end, end[second]]),
        }
    )
    rel.to_parquet(folder / "relationships.parquet", index=False)


def bare_scan(folder: pathlib.Path) -> float:
    """Seconds for DuckDB to scan the three files once (count, min and max of each date)."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    for name, cols in (
        ("employees", ("hire_date", "termination_date")),
        ("customers", ("start_date", "end_date")),
        ("relationships", ("start_date", "end_date")),
    ):
        parts = ", ".join(f"min({c}), max({c})" for c in cols)
        con.execute(f"SELECT count(*), {parts} FROM read_parquet('{folder / name}.parquet')")
        con.fetchall()
    con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--spells", type=int, default=200_000)
    parser.add_argument("--write", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_files(pathlib.Path(args.write), args.customers, args.spells)
        return
    from linkage.stats import relationship_hazard

    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--write",
                tmp,
                "--customers",
                str(args.customers),
                "--spells",
                str(args.spells),
            ],
            check=True,
        )
        baseline = bare_scan(folder)
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        started = time.perf_counter()
        employees = pd.read_parquet(folder / "employees.parquet")
        customers = pd.read_parquet(folder / "customers.parquet")
        relationships = pd.read_parquet(folder / "relationships.parquet")
        res = relationship_hazard(
            employees,
            customers,
            relationships=relationships,
            start="2023-01",
            end="2025-12",
            memory_limit="2GB",
        )
        took = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = cpu.ru_utime + cpu.ru_stime - cpu_before
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{args.customers:,} customers, {args.spells:,} employee spells, "
        f"{len(relationships):,} relationships: {res.customers_exposed:,} customers exposed by "
        f"{res.departures:,} departures"
    )
    print(
        f"read + relationship_hazard over 36 months (DuckDB expansion + fits): {took:.1f} s "
        f"wall, {cpu_s:.1f} s CPU, peak memory {peak_gb:.2f} GB; bare DuckDB scan of the same "
        f"files {baseline:.2f} s (ratio {took / baseline:.0f}x)"
    )


if __name__ == "__main__":
    main()
