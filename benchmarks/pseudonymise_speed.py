"""Time pseudonymising identifiers against the standard library's one-shot HMAC, in the same process.

The table: ``rows`` identifiers drawn from ``people`` distinct ones (a customer extract has several
spells per person). The baseline is the plainest correct code: ``hmac.new(key, id,
sha256).hexdigest()[:16]`` for every row. ``linkage.privacy.pseudonymise`` hashes each distinct
identifier once (``pd.factorize``) from precomputed inner/outer SHA-256 states, then maps the
pseudonyms back onto the rows; both give the same pseudonyms (checked). The printed ratio is
linkage time / baseline time (below 1: faster). A third line times ``prepare()`` on the sample's raw
export with and without ``pseudonymise=True`` (the cost pseudonymising adds to a whole run).

Run:  .venv/bin/python benchmarks/pseudonymise_speed.py [--rows 1000000] [--people 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import pathlib
import time

import numpy as np
import pandas as pd

from linkage.pipeline import prepare
from linkage.privacy import pseudonymise

KEY = b"benchmark key, not a secret: 32b"
SAMPLE = pathlib.Path(__file__).resolve().parents[1] / "data" / "sample" / "raw"


def baseline(ids: pd.Series) -> pd.Series:
    return pd.Series(["p_" + hmac.new(KEY, i.encode(), hashlib.sha256).hexdigest()[:16]
                      for i in ids], index=ids.index, dtype="str")


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    ids = pd.Series(rng.integers(0, args.people, args.rows)).map("C{:08d}".format).astype("str")
    table = pd.DataFrame({"customer_id": ids, "unit_id": "001"})
    t_base, expected = best(lambda: baseline(ids), args.repeat)
    t_lib, got = best(lambda: pseudonymise(table, columns="customer_id", key=KEY), args.repeat)
    assert got["customer_id"].tolist() == expected.tolist()
    distinct = ids.nunique()
    print(f"pseudonymise {args.rows:,} rows ({distinct:,} distinct ids): baseline "
          f"{t_base:.2f} s, linkage {t_lib:.2f} s, ratio {t_lib / t_base:.2f}")
    print(f"  per distinct id: {1e6 * t_lib / distinct:.2f} us")

    kwargs = dict(employees=SAMPLE / "employees.csv", customers=SAMPLE / "customers.csv",
                  units=SAMPLE / "units.csv", mapping=SAMPLE / "mapping.yaml", as_of="2026-01-01")
    os.environ.setdefault("LINKAGE_PSEUDONYM_KEY", KEY.decode())
    prepare(**kwargs)  # warm-up: imports
    t_plain, _ = best(lambda: prepare(**kwargs), args.repeat)
    t_pseudo, _ = best(lambda: prepare(**kwargs, pseudonymise=True), args.repeat)
    print(f"prepare() on the sample raw export (32,142 rows): plain {t_plain:.2f} s, "
          f"pseudonymised {t_pseudo:.2f} s, ratio {t_pseudo / t_plain:.2f}")


if __name__ == "__main__":
    main()
