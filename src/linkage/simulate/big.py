"""Big benchmark worlds: activity logs of tens or hundreds of millions of rows, written in chunks.

:func:`write_big` writes the extracts a large retailer would hand over (2,000 stores x 60 months by
default, about 100 employment spells per store, 200,000 in all) with an activity log of ``rows``
visits, as Parquet parts of at most ``chunk_rows`` rows, generated and written one chunk of stores
at a time, so memory stays bounded whatever ``rows`` is. It is what
``benchmarks/panel_scale.py`` and ``linkage simulate --big ROWS`` use; the world has no planted
link (it is for timing, not for statistics: use :func:`linkage.simulate.simulate` for that).

Customers: each store's customers arrive at a uniform month (up to two years before the window),
stay a geometric number of months (mean 25), and visit a Poisson number of times in each month
they are there, at a rate of their own (gamma, mean 1.2 a month), with a revenue per visit
(gamma, mean 30). The number of customers per store is set so that the log has about ``rows``
rows (within a percent or so).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkage.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["write_big"]

_MEAN_STAY = 25.0  # months
_VISIT_SHAPE, _VISIT_SCALE = 2.0, 0.6  # visits a month: gamma mean 1.2
_STAFF_STAY = 30.0  # months, exponential


def write_big(
    outdir: str | os.PathLike,
    *,
    rows: int = 20_000_000,
    n_units: int = 2000,
    months: int = 60,
    start: str = "2021-01",
    seed: int = 0,
    chunk_rows: int = 4_000_000,
    progress: bool = False,
) -> dict[str, Path]:
    """Write a big world: ``units.parquet``, ``employees.parquet`` and ``activity/part-*.parquet``.

    Parameters
    ----------
    outdir : path
        Folder to write into (created if missing). Existing ``activity/part-*.parquet`` files in
        it are replaced.
    rows : int, default 20_000_000
        About how many activity rows to write.
    n_units : int, default 2000
        Stores.
    months : int, default 60
        Months of the window, from ``start``.
    start : str, default "2021-01"
        First month.
    seed : int, default 0
        Random seed: the same arguments write the same files.
    chunk_rows : int, default 4_000_000
        About how many rows one Parquet part (and one chunk in memory) holds.
    progress : bool, default False
        Print a line per part written to standard error.

    Returns
    -------
    dict of str to pathlib.Path
        ``units``, ``employees`` (files) and ``activity`` (the folder of parts).

    Raises
    ------
    InputError
        When a count is not a positive whole number.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_big(tmp, rows=20_000, n_units=10, months=12, chunk_rows=8_000)
    ...     act = pd.read_parquet(paths["activity"])
    ...     emp = pd.read_parquet(paths["employees"])
    ...     parts = len(list(paths["activity"].glob("part-*.parquet")))
    >>> 18_000 < len(act) < 22_000, parts >= 2, sorted(act.columns)
    (True, True, ['activity_date', 'customer_id', 'revenue', 'unit_id'])
    >>> emp["unit_id"].nunique(), str(act["activity_date"].min()) >= "2021-01-01"
    (10, True)
    """
    for name, value in (
        ("rows", rows),
        ("n_units", n_units),
        ("months", months),
        ("chunk_rows", chunk_rows),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive whole number, not {value!r}")
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = Path(outdir)
    parts_dir = out / "activity"
    parts_dir.mkdir(parents=True, exist_ok=True)
    for old in parts_dir.glob("part-*.parquet"):
        old.unlink()
    first = pd.Period(start, freq="M")
    month0 = np.datetime64(first.start_time.date(), "D")
    month_starts = (
        np.arange(months + 1).astype("timedelta64[M]") + month0.astype("datetime64[M]")
    ).astype("datetime64[D]")
    month_days = np.diff(month_starts).astype(np.int64)
    extract_day = month_starts[-1]
    rng = np.random.default_rng(seed)
    unit_ids = np.array([f"U{i:05d}" for i in range(n_units)], dtype=object)
    t0 = time.perf_counter()

    # ---- units and employees (small) --------------------------------------------------------
    regions = np.array(["North", "South", "East", "West", "Central"], dtype=object)
    units = pd.DataFrame(
        {
            "unit_id": pd.array(unit_ids, dtype="str"),
            "region": pd.array(regions[rng.integers(0, len(regions), n_units)], dtype="str"),
        }
    )
    pq.write_table(pa.Table.from_pandas(units, preserve_index=False), out / "units.parquet")
    pq.write_table(
        _employees(rng, unit_ids, month0, extract_day, months), out / "employees.parquet"
    )

    # ---- customers per unit, so that the log has about `rows` rows ---------------------------
    probe = _customers(np.random.default_rng(seed + 1), 200_000, months)
    rows_per_customer = probe[3].sum() / 200_000
    per_unit = max(1, int(round(rows / n_units / rows_per_customer)))
    units_per_chunk = max(1, int(chunk_rows // (per_unit * rows_per_customer)))
    written, part, next_id = 0, 0, 0
    for lo in range(0, n_units, units_per_chunk):
        hi = min(n_units, lo + units_per_chunk)
        n_cust = (hi - lo) * per_unit
        first_m, n_active, rate, visits_total = _customers(rng, n_cust, months)
        cust_unit = np.repeat(np.arange(lo, hi), per_unit)
        # customer-months, then visits
        cm_cust = np.repeat(np.arange(n_cust), n_active)
        cm_month = first_m[cm_cust] + (
            np.arange(len(cm_cust)) - np.repeat(np.cumsum(n_active) - n_active, n_active)
        )
        visits = rng.poisson(rate[cm_cust])
        row_cm = np.repeat(np.arange(len(cm_cust)), visits)
        row_cust, row_month = cm_cust[row_cm], cm_month[row_cm]
        day = (rng.random(len(row_cm)) * month_days[row_month]).astype(np.int64)
        dates = month_starts[row_month] + day.astype("timedelta64[D]")
        ids = pc.binary_join_element_wise(
            "C", pc.cast(pa.array(next_id + row_cust), pa.string()), ""
        )
        table = pa.table(
            {
                "customer_id": ids,
                "unit_id": pa.array(unit_ids[cust_unit[row_cust]].tolist(), pa.string()),
                "activity_date": pa.array(dates, pa.date32()),
                "revenue": pa.array(np.round(rng.gamma(2.0, 15.0, len(row_cm)), 2)),
            }
        )
        pq.write_table(table, parts_dir / f"part-{part:05d}.parquet")
        written += table.num_rows
        part += 1
        next_id += n_cust
        if progress:
            print(
                f"[write_big {time.perf_counter() - t0:6.1f} s] part {part}: {written:,} rows "
                f"(units {hi}/{n_units})",
                file=sys.stderr,
                flush=True,
            )
    return {
        "units": out / "units.parquet",
        "employees": out / "employees.parquet",
        "activity": parts_dir,
    }


def _customers(
    rng: np.random.Generator, n: int, months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First active month in the window, active months in it, visit rate, expected visits."""
    arrive = rng.integers(-24, months, n)
    stay = rng.geometric(1.0 / _MEAN_STAY, n)
    first = np.maximum(arrive, 0)
    last = np.minimum(arrive + stay, months)  # exclusive
    n_active = np.maximum(last - first, 0)
    rate = rng.gamma(_VISIT_SHAPE, _VISIT_SCALE, n)
    return first, n_active, rate, n_active * rate


def _employees(
    rng: np.random.Generator,
    unit_ids: np.ndarray,
    month0: np.datetime64,
    extract_day: np.datetime64,
    months: int,
) -> pa.Table:
    """About 100 spells per unit: a staff of 15-35 slots, each a chain of exponential stays."""
    import pyarrow as pa

    n_units = len(unit_ids)
    slots = rng.integers(15, 36, n_units)
    slot_unit = np.repeat(np.arange(n_units), slots)
    per_slot = 8  # stays per slot; chains past the extract date are cut
    stays = rng.exponential(_STAFF_STAY * 30.4, (len(slot_unit), per_slot)).astype(np.int64) + 1
    origin = -rng.integers(0, 5 * 365, len(slot_unit))  # first hire up to 5 years before the window
    ends = origin[:, None] + np.cumsum(stays, axis=1)
    starts = ends - stays
    horizon = int((extract_day - month0).astype(np.int64))
    keep = starts < horizon
    hire = month0 + starts[keep].astype("timedelta64[D]")
    term_days = ends[keep]
    term = (month0 + term_days.astype("timedelta64[D]")).astype("datetime64[D]")
    units = np.broadcast_to(slot_unit[:, None], starts.shape)[keep]
    term_mask = term_days >= horizon  # still employed at the extract date
    return pa.table(
        {
            "employee_id": pa.array([f"E{i:07d}" for i in range(int(keep.sum()))], pa.string()),
            "unit_id": pa.array(unit_ids[units].tolist(), pa.string()),
            "hire_date": pa.array(hire, pa.date32()),
            "termination_date": pa.array(term, pa.date32(), mask=term_mask),
        }
    )
