"""Time reading + cleaning an extract against a plain pandas baseline, in the same process.

The extract: customer spells as a CSV file (ISO dates, blank end dates for open spells) of
``3,000,000 x scale`` rows with 1 % defects of several kinds, and employee spells of ``200,000 x
scale`` rows. The baseline is the least any pipeline does with such a file: ``pd.read_csv(...,
dtype=str)`` and ``pd.to_datetime(..., format="%Y-%m-%d", errors="coerce")`` on both date
columns (no checks, no accounting). ``linkage`` does ``read_table`` (sniffing, encoding and
missing-token handling) then ``clean_customers`` (all reasons, overlaps, the report and the
rejects). The printed ratio is linkage time / baseline time.

Run:  .venv/bin/python benchmarks/clean_speed.py [--scale 1.0] [--repeat 1]
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import numpy as np
import pandas as pd

from linkage.clean import clean_customers, clean_employees
from linkage.io import read_table


def make_extract(path: pathlib.Path, n: int, id_name: str, cols: tuple[str, str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-01") + rng.integers(0, 9 * 365, n).astype("timedelta64[D]")
    end = start + rng.exponential(700, n).astype(np.int64).astype("timedelta64[D]")
    end_text = pd.Series(end.astype(str), dtype=object)
    end_text[end > np.datetime64("2024-06-30")] = ""
    table = pd.DataFrame({
        id_name: pd.Series(np.arange(n) // 2).map("P{:08d}".format),  # two spells per person
        "unit_id": pd.Series(rng.integers(0, 2_000, n)).map("{:04d}".format),
        cols[0]: start.astype(str),
        cols[1]: end_text,
    })
    k = max(1, n // 500)  # 0.2 % of each defect kind
    pick = rng.choice(n, size=5 * k, replace=False)
    table.loc[pick[:k], cols[0]] = "tbd"
    table.loc[pick[k:2 * k], cols[0]] = "2023-02-30"
    table.loc[pick[2 * k:3 * k], "unit_id"] = ""
    table.loc[pick[3 * k:4 * k], cols[0]] = "2031-01-01"
    table.loc[pick[4 * k:5 * k], cols[1]] = "2014-01-01"
    table = pd.concat([table, table.iloc[:k]], ignore_index=True)  # duplicates
    table.to_csv(path, index=False)


def baseline(path: pathlib.Path, cols: tuple[str, str]) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str)
    for c in cols:
        raw[c] = pd.to_datetime(raw[c], format="%Y-%m-%d", errors="coerce")
    return raw


def timed(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        cases = [
            ("customers", int(3_000_000 * args.scale), "customer_id", ("start_date", "end_date"),
             clean_customers),
            ("employees", int(200_000 * args.scale), "employee_id",
             ("hire_date", "termination_date"), clean_employees),
        ]
        for name, n, id_name, cols, clean in cases:
            path = folder / f"{name}.csv"
            make_extract(path, n, id_name, cols, seed=7)
            t_base, base = timed(lambda: baseline(path, cols), args.repeat)

            def ours():
                return clean(read_table(path), as_of="2024-06-30", source=path.name)

            t_ours, result = timed(ours, args.repeat)
            assert result.n_read == len(base)  # every row accounted for
            print(
                f"{name:<10} {len(base):>10,} rows  baseline {t_base:6.2f} s  linkage "
                f"{t_ours:6.2f} s  ratio {t_ours / t_base:5.2f}  "
                f"(kept {result.n_kept:,}, set aside {result.n_read - result.n_kept:,})"
            )


if __name__ == "__main__":
    main()
