"""linkage.panel.engines: the DuckDB engine gives the pandas panel cell by cell.

The reference is :func:`linkage.panel.build_panel` (itself checked against hand-worked cases in
tests/test_panel_build.py). Counts must be equal exactly; rates and revenue to float precision
(revenue is summed in another order, so rtol 1e-12). Spark runs the same SQL: tests/test_engines_spark.py.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb")

from linkage.clean import clean_activity, clean_employees, clean_units  # noqa: E402
from linkage.errors import InputError  # noqa: E402
from linkage.panel import build_panel  # noqa: E402
from linkage.panel.engines import build_panel_engine, prepare_panel_engine  # noqa: E402
from linkage.panel.engines import _clean, _sql  # noqa: E402
from linkage.panel.engines._sql import WORD_BITS, n_words  # noqa: E402
from linkage.simulate import WorldSpec, simulate  # noqa: E402


def assert_same_panel(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, dtypes and rows; counts exactly equal; floats equal to rtol 1e-12."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        g, w = got[col], want[col]
        assert g.dtype == w.dtype, col
        if pd.api.types.is_float_dtype(w.dtype):
            np.testing.assert_allclose(g.to_numpy(), w.to_numpy(), rtol=1e-12, atol=0, equal_nan=True,
                                       err_msg=col)
        else:
            pd.testing.assert_series_equal(g, w, check_names=True)


# ---- the bundled sample (customer spells) ------------------------------------------------------------
@pytest.mark.parametrize("freq", ["M", "Q", "Y"])
def test_sample_data_files_give_the_pandas_panel(sample_dir, freq):
    emp, cus, units = (sample_dir / f for f in ("employees.csv", "customers.csv", "units.csv"))
    want = build_panel_engine(emp, cus, units=units, engine="pandas", freq=freq)
    got = build_panel_engine(emp, cus, units=units, engine="duckdb", freq=freq)
    assert_same_panel(got, want)
    assert want["customer_start"].sum() > 1000  # a real panel, not an empty one


def test_sample_panel_file_is_reproduced_by_duckdb(sample_dir):
    emp, cus, units = (sample_dir / f for f in ("employees.csv", "customers.csv", "units.csv"))
    got = build_panel_engine(emp, cus, units=units, engine="duckdb", start="2023-01", end="2025-12")
    ref = pd.read_csv(sample_dir / "panel.csv", dtype={"unit_id": str})
    counts = [c for c in ref.columns if c.endswith(("_start", "_joined", "_left", "_retained", "_end"))]
    merged = got.assign(period=got["period"].dt.strftime("%Y-%m-%d")).merge(
        ref, on=["unit_id", "period"], suffixes=("", "_ref"), validate="1:1")
    assert len(merged) == len(ref) > 0
    for c in counts:
        assert (merged[c] == merged[f"{c}_ref"]).all(), c


# ---- a simulated activity log with defects, cleaned --------------------------------------------------
@pytest.fixture(scope="module")
def world_clean():
    world = simulate(WorldSpec(n_units=12, months=24, seed=5), customers="activity", defects=0.02)
    units = clean_units(world.units)
    emp = clean_employees(world.employees, units=units, as_of="2030-01-01")
    act = clean_activity(world.customers, units=units, as_of="2030-01-01")
    assert act.rejects.shape[0] > 0  # defects were planted and set aside
    return emp.data, act.data, units.data


@pytest.mark.parametrize("freq,window", [("M", 1), ("M", 3), ("Q", 1), ("Q", 2), ("Y", 1), ("M", 70)])
def test_activity_log_gives_the_pandas_panel(world_clean, freq, window):
    emp, act, units = world_clean
    want = build_panel(emp, activity=act, units=units, freq=freq, activity_window=window)
    got = build_panel_engine(emp, activity=act, units=units, engine="duckdb", freq=freq,
                             activity_window=window)
    assert "customer_revenue" in got.columns
    assert want["customer_retained"].sum() > 0
    assert_same_panel(got, want)


def test_explicit_window_narrower_and_wider_than_the_data(world_clean):
    emp, act, _ = world_clean
    for start, end in (("2023-06", "2023-09"), ("2020-01", "2027-12")):
        want = build_panel(emp, activity=act, start=start, end=end, activity_window=2)
        got = build_panel_engine(emp, activity=act, engine="duckdb", start=start, end=end,
                                 activity_window=2)
        assert_same_panel(got, want)


def test_long_windows_span_several_mask_words():
    # 20 years of months with a 5-month activity window: bits 0 .. 244 need 4 words of 62 bits
    # sharing one bit (0-61, 61-122, 122-183, 183-244)
    assert n_words(240, 5) == 4 and n_words(WORD_BITS - 1, 1) == 1 and n_words(WORD_BITS, 1) == 2
    rng = np.random.default_rng(3)
    n = 4000
    act = pd.DataFrame({
        "customer_id": rng.integers(0, 150, n).astype(str),
        "unit_id": rng.choice(["u1", "u2", "u3"], n),
        "activity_date": pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 7300, n), unit="D"),
        "revenue": rng.gamma(2.0, 10.0, n)})
    emp = pd.DataFrame({"employee_id": ["e"], "unit_id": ["u1"], "hire_date": pd.to_datetime(["2004-05-05"]),
                        "termination_date": pd.to_datetime([None])})
    for window in (1, 5, 61, 62):
        want = build_panel(emp, activity=act, activity_window=window)
        got = build_panel_engine(emp, activity=act, engine="duckdb", activity_window=window)
        assert_same_panel(got, want)


# ---- the calendar the activity log is joined to -------------------------------------------------------
def test_calendar_covers_the_data_or_clamps_into_the_window():
    # hand-worked: data in 2021-01 .. 2021-02 (codes 612, 613): 31 + 28 days, two more at each end
    days = _sql.calendar_days(612, 613, 612, 613, 1, "M")
    assert (days.first, days.n, days.last, days.clamp) == ("2020-12-30", 63, "2021-03-02", False)
    # range unknown: the window's periods from lo - window (2020-12) to hi (2021-02), with one
    # outside day at each end (2020-11-30 and 2021-03-01): 1 + 31 + 31 + 28 + 1 days
    days = _sql.calendar_days(None, None, 612, 613, 1, "M")
    assert (days.first, days.n, days.last, days.clamp) == ("2020-11-30", 92, "2021-03-01", True)
    # a log spanning centuries (a mistyped year) is clamped too
    assert _sql.calendar_days(0, 12 * 400, 612, 613, 1, "M").clamp


@pytest.mark.parametrize("freq,window", [("M", 1), ("Q", 2)])
def test_dates_clamped_into_a_short_calendar_give_the_pandas_panel(world_clean, monkeypatch, freq, window):
    emp, act, units = world_clean
    monkeypatch.setattr(_sql, "MAX_DAYS", 40)  # every calendar of the data is too long: clamp
    assert _sql.calendar_days(0, 24, 5, 8, window, freq).clamp
    # a unit seen only long before the window still gets its rows (its date is clamped, not lost)
    early = act.iloc[:1].assign(unit_id="zz-early", activity_date=pd.Timestamp("2019-03-04"))
    act = pd.concat([act, early.astype(act.dtypes.to_dict())], ignore_index=True)
    for start, end in ((None, None), ("2023-06", "2023-12")):
        want = build_panel(emp, activity=act, units=units, freq=freq, start=start, end=end,
                           activity_window=window)
        got = build_panel_engine(emp, activity=act, units=units, engine="duckdb", freq=freq, start=start,
                                 end=end, activity_window=window)
        assert (got["unit_id"] == "zz-early").any()
        assert_same_panel(got, want)


def test_grouping_sets_form_gives_what_the_streamed_form_gives(world_clean):
    # Spark runs the one pass as GROUPING SETS, DuckDB as a streamed CTE: both forms on DuckDB
    import dataclasses

    import duckdb

    emp, act, _ = world_clean
    con = duckdb.connect()
    con.register("activity", act)
    con.register("employees", emp)
    lo, hi, window = 640, 660, 2
    days = _sql.calendar_days(600, 700, lo, hi, window, "M")
    got = {}
    for fanout in (True, False):
        d = dataclasses.replace(_sql.DUCKDB, fanout=fanout)
        pairs = f"({_sql.pairs_sql('activity', 'M', lo, hi, window, d, days, revenue=True)})"
        counts = con.sql(_sql.activity_sql(pairs, hi - lo + 1, window, d, revenue=True)).df()
        revenue = con.sql(_sql.revenue_sql(pairs, d)).df()
        hist = con.sql(_sql.spell_hist_sql("employees", "employees", "M", lo, hi, d)).df()
        got[fanout] = [t.sort_values(list(t.columns)).reset_index(drop=True) for t in (counts, revenue, hist)]
    assert len(got[True][0]) == act["unit_id"].nunique() and got[True][0]["w0_5"].sum() > 0
    for a, b in zip(got[True], got[False]):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_text_dates_in_parquet_are_not_ranged_from_their_statistics(tmp_path, world_clean):
    # "2023-10-02" < "2023-9-30" as text: the Parquet min/max of text dates are not the first and
    # last day, so the range must come from a scan (else the calendar would miss months)
    emp, act, _ = world_clean
    act = act[act["activity_date"] < "2025-01-01"]  # ends in 2024-11: "2024-9-30" is the greatest text
    text = act.assign(activity_date=act["activity_date"].map(lambda t: f"{t.year}-{t.month}-{t.day}"))
    last = act["activity_date"].max()
    assert text["activity_date"].max() != f"{last.year}-{last.month}-{last.day}"  # the trap is there
    text.to_parquet(tmp_path / "act.parquet")
    want = build_panel(emp, activity=act, activity_window=2)
    got = build_panel_engine(emp, activity=tmp_path / "act.parquet", engine="duckdb", activity_window=2)
    assert_same_panel(got, want)


def test_parquet_parts_directory_and_csv(tmp_path, world_clean):
    emp, act, units = world_clean
    parts = tmp_path / "activity"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(act)), 3)):
        act.iloc[chunk].to_parquet(parts / f"part-{i}.parquet")
    emp.to_csv(tmp_path / "employees.csv", index=False, date_format="%Y-%m-%d")
    want = build_panel(emp, activity=act, units=units, freq="Q", activity_window=2)
    for engine in ("duckdb", "pandas"):
        got = build_panel_engine(tmp_path / "employees.csv", activity=parts, units=units, engine=engine,
                                 freq="Q", activity_window=2)
        assert_same_panel(got, want)


def test_leading_zero_unit_ids_survive_csv(tmp_path):
    (tmp_path / "e.csv").write_text("employee_id,unit_id,hire_date,termination_date\n"
                                    "a,007,2024-01-03,\nb,7,2024-02-01,2024-03-01\n")
    got = build_panel_engine(tmp_path / "e.csv", engine="duckdb")
    assert sorted(got["unit_id"].unique()) == ["007", "7"]
    assert_same_panel(got, build_panel_engine(tmp_path / "e.csv", engine="pandas"))


# ---- raw, dirty extracts: cleaned in the engine as pandas cleans them ------------------------------
AS_OF = "2030-01-01"
DIRTY_WINDOW = {"start": "2023-01", "end": "2024-06", "activity_window": 2}


def dirty_activity(seed: int = 11) -> tuple[object, pd.DataFrame]:
    """A simulated world with planted defects (every reason an activity log can have) and a few
    more by hand: text that is no date, an impossible date, a date pandas reads but SQL does not
    (a month name), padded identifiers, a missing-value token, a revenue that is no number."""
    world = simulate(WorldSpec(n_units=8, months=18, seed=seed), customers="activity", defects=0.03)
    act = world.customers.copy()
    act["revenue"] = act["revenue"].astype("str")
    i = act.index
    act.loc[i[5], "activity_date"] = "not recorded"
    act.loc[i[6], "activity_date"] = "2024-02-30"
    act.loc[i[7], "activity_date"] = "31 Jan 2024"
    act.loc[i[8], "customer_id"] = "  " + str(act.loc[i[8], "customer_id"]) + " "
    act.loc[i[9], "revenue"] = "12 EUR"
    act.loc[i[10], "revenue"] = "NULL"
    act.loc[i[11], "activity_date"] = "1850-01-01"
    act.loc[i[12], "activity_date"] = "2024-03-05T10:00:00"
    return world, act


@pytest.fixture(scope="module")
def dirty_files(tmp_path_factory):
    """The dirty world as files: employees and units CSV, the log as CSV, as Parquet parts of text
    cells, as typed Parquet parts (dates, numbers), and as a CSV of its own column names with
    day-first dates (and the mapping for it)."""
    folder = tmp_path_factory.mktemp("dirty")
    world, act = dirty_activity()
    world.employees.to_csv(folder / "employees.csv", index=False)
    world.units.to_csv(folder / "units.csv", index=False)
    act.to_csv(folder / "activity.csv", index=False)
    parts = folder / "parts"
    parts.mkdir()
    text = act.astype("str").where(act.notna(), None)
    for k, rows in enumerate(np.array_split(np.arange(len(act)), 3)):
        text.iloc[rows].to_parquet(parts / f"part-{k}.parquet", index=False)
    typed = world.customers.copy()
    typed["activity_date"] = pd.to_datetime(typed["activity_date"], format="%Y-%m-%d", errors="coerce")
    typed.loc[typed.index[3], "activity_date"] = pd.Timestamp("2031-05-01")  # after as-of
    typed.loc[typed.index[4], "activity_date"] = pd.Timestamp("1899-12-31")  # impossible
    typed["activity_date"] = typed["activity_date"].dt.date
    typed["revenue"] = typed["revenue"].astype("float64")
    typed_parts = folder / "typed"
    typed_parts.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(typed)), 2)):
        typed.iloc[rows].to_parquet(typed_parts / f"part-{k}.parquet", index=False)
    day = pd.to_datetime(act["activity_date"], format="%Y-%m-%d", errors="coerce")
    mapped = act.assign(activity_date=day.dt.strftime("%d/%m/%Y").where(day.notna(), act["activity_date"]))
    mapped = mapped.rename(columns={"customer_id": "Client", "unit_id": "Store", "activity_date": "Visited"})
    mapped.to_csv(folder / "activity_mapped.csv", index=False)
    (folder / "map.yaml").write_text(
        "activity:\n  customer_id: Client\n  unit_id: Store\n  activity_date: Visited\n"
        "dates:\n  dayfirst: true\n")
    return {"employees": folder / "employees.csv", "units": folder / "units.csv",
            "csv": folder / "activity.csv", "parts": parts, "typed": typed_parts,
            "mapped": folder / "activity_mapped.csv", "mapping": folder / "map.yaml"}


def assert_same_cleaning(got, want) -> None:
    """The same report, the same rejects (rows, reasons, columns, original cells), the same panel."""
    pd.testing.assert_frame_equal(got.report, want.report)
    pd.testing.assert_frame_equal(got.rejects, want.rejects)
    assert_same_panel(got.panel, want.panel)


@pytest.mark.parametrize("source", ["csv", "parts", "typed", "mapped"])
def test_dirty_activity_cleaned_by_duckdb_as_by_pandas(dirty_files, source):
    kw = {"units": dirty_files["units"], "as_of": AS_OF, **DIRTY_WINDOW}
    if source == "mapped":
        kw["mapping"] = dirty_files["mapping"]
    want = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="pandas", **kw)
    got = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="duckdb", **kw)
    assert_same_cleaning(got, want)
    # a real test: many rows set aside for many reasons, and a panel with customers in it
    reasons = set(want.rejects.loc[want.rejects["file"].eq(want.report["file"].iloc[-1]), "reason"])
    assert {"duplicate_row", "missing_identifier", "unknown_unit", "future_date"} <= reasons
    if source != "typed":
        assert {"unparseable_date", "impossible_date", "unparseable_number"} <= reasons
    assert want.panel["customer_retained"].sum() > 100


@pytest.mark.parametrize("source", ["csv", "typed"])
def test_dirty_activity_duckdb_aggregation_form_cleans_alike(dirty_files, monkeypatch, source):
    """Past the rows one sort key holds, DuckDB finds repeated hashes by a GROUP BY and reads the
    ok rows of the log (as Spark does): the same report, rejects and panel as pandas."""
    monkeypatch.setattr(_clean, "_SORT_ROWS", -1)
    kw = {"units": dirty_files["units"], "as_of": AS_OF, **DIRTY_WINDOW}
    want = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="pandas", **kw)
    got = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="duckdb", **kw)
    assert_same_cleaning(got, want)
    assert want.rejects["reason"].eq("duplicate_row").sum() > 0


@pytest.mark.parametrize("source", ["csv", "typed"])
def test_dirty_activity_rows_sharing_hash_bits_by_chance_are_only_fetched(dirty_files, monkeypatch, source):
    """Rows whose keys share the hash bits by chance are fetched, never set aside for it: with
    every row fetched (as if all hashes collided), the cleaning and the panel are the same."""
    real = _clean._picked
    fetched = []

    def every_row(keys, shift):
        real(keys, shift)
        fetched.append(len(keys))
        return keys.copy()

    monkeypatch.setattr(_clean, "_picked", every_row)
    kw = {"units": dirty_files["units"], "as_of": AS_OF, **DIRTY_WINDOW}
    want = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="pandas", **kw)
    got = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="duckdb", **kw)
    assert_same_cleaning(got, want)
    assert fetched and fetched[0] > 1000  # every row of the log went through the cleaner


def test_picked_keys_are_rows_not_ok_or_sharing_hash_bits():
    """Keys of 2 row-number bits and an ok bit (shift 3): hash 5 held by rows 0 and 2, hash 7 by
    row 1 alone, hash 9 by row 3 (not ok); worked by hand. Blocks of 1 and 2 keys give the same
    (a pair across a block boundary is found)."""
    ok = 1 << 2
    keys = np.array([(5 << 3) | ok | 0, (7 << 3) | ok | 1, (5 << 3) | ok | 2, (9 << 3) | 3], dtype=np.uint64)
    want = sorted([int(keys[0]), int(keys[2]), int(keys[3])])
    for step in (1, 2, 1 << 22):
        got = _clean._picked(keys.copy(), 3, step=step)
        assert sorted(got.tolist()) == want
    assert _clean._picked(np.zeros(0, np.uint64), 3).tolist() == []


def test_dirty_activity_rows_numbered_across_parts(dirty_files):
    """Rows of Parquet parts are numbered across the parts, as one file; reasons as in the CSV."""
    kw = {"units": dirty_files["units"], "as_of": AS_OF, **DIRTY_WINDOW}
    csv = prepare_panel_engine(dirty_files["employees"], activity=dirty_files["csv"], engine="duckdb", **kw)
    parts = prepare_panel_engine(dirty_files["employees"], activity=dirty_files["parts"], engine="duckdb", **kw)
    a = csv.rejects.loc[csv.rejects["file"].eq("activity.csv"), ["row", "reason", "column"]]
    b = parts.rejects.loc[parts.rejects["file"].eq("parts"), ["row", "reason", "column"]]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert_same_panel(parts.panel, csv.panel)


def test_dirty_activity_numeric_dates_without_order_fail_alike(tmp_path):
    """More than half of the dates day/month-ambiguous: the same one-line error on both engines;
    fewer: those dates are unparseable on both."""
    emp = tmp_path / "e.csv"
    emp.write_text("employee_id,unit_id,hire_date,termination_date\ne1,u1,2023-01-01,\n")
    ambiguous = tmp_path / "a.csv"
    ambiguous.write_text("customer_id,unit_id,activity_date\nc1,u1,2023-02-01\nc1,u1,01/03/2023\n"
                         "c2,u1,02/03/2023\n")
    errors = []
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as err:
            prepare_panel_engine(emp, activity=ambiguous, engine=engine, as_of=AS_OF)
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "'01/03/2023' could be day/month" in errors[0]
    few = tmp_path / "few.csv"
    few.write_text("customer_id,unit_id,activity_date\nc1,u1,2023-02-01\nc1,u1,01/03/2023\n"
                   "c2,u1,2023-03-02\n")
    results = [prepare_panel_engine(emp, activity=few, engine=e, as_of=AS_OF) for e in ("pandas", "duckdb")]
    assert_same_cleaning(results[1], results[0])
    assert results[0].rejects["reason"].tolist() == ["unparseable_date"]


def test_dirty_activity_engine_errors_are_one_line(tmp_path):
    """A damaged Parquet log, a log none of whose rows can be used: InputError naming the file."""
    emp = tmp_path / "e.csv"
    emp.write_text("employee_id,unit_id,hire_date,termination_date\ne1,u1,2023-01-01,\n")
    broken = tmp_path / "act.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(InputError, match="act.parquet: is not a readable Parquet file"):
        prepare_panel_engine(emp, activity=broken, engine="duckdb", as_of=AS_OF)
    useless = tmp_path / "useless.csv"
    useless.write_text("customer_id,unit_id,activity_date\nc1,u1,not recorded\nc2,u1,\n")
    errors = []
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as err:
            prepare_panel_engine(emp, activity=useless, engine=engine, as_of=AS_OF)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("useless.csv: none of its 2 rows can be used: missing_date 1, unparseable_date 1")


# ---- errors --------------------------------------------------------------------------------------
def test_bad_inputs_raise_input_error(tmp_path, world_clean):
    emp, act, _ = world_clean
    with pytest.raises(InputError, match="engine must be one of"):
        build_panel_engine(emp, engine="polars")
    with pytest.raises(InputError, match="no such file"):
        build_panel_engine(tmp_path / "nope.parquet", engine="duckdb")
    with pytest.raises(InputError, match="the employees table has no column 'hire_date'"):
        build_panel_engine(emp.drop(columns="hire_date"), engine="duckdb")
    broken = act.astype({"unit_id": "object"})
    broken.loc[broken.index[3], "unit_id"] = None
    with pytest.raises(InputError, match="1 row\\(s\\) have no unit_id"):
        build_panel_engine(emp, activity=broken, engine="duckdb")
    backwards = emp.assign(termination_date=emp["hire_date"] - pd.Timedelta(days=1))
    with pytest.raises(InputError, match="end before they start"):
        build_panel_engine(backwards, engine="duckdb")
    with pytest.raises(InputError, match="starts .* after it"):
        build_panel_engine(emp, engine="duckdb", start="2024-05", end="2024-01")
    with pytest.raises(InputError, match="not both"):
        build_panel_engine(emp, act.rename(columns={"activity_date": "start_date"}), activity=act,
                           engine="duckdb")


def test_inputs_are_not_mutated(world_clean):
    emp, act, units = world_clean
    before = (emp.copy(), act.copy(), units.copy())
    build_panel_engine(emp, activity=act, units=units, engine="duckdb")
    for a, b in zip((emp, act, units), before):
        pd.testing.assert_frame_equal(a, b)


def test_parquet_metadata_checks_find_missing_values(tmp_path, world_clean):
    # the activity checks come from the Parquet statistics (no scan): a missing date must still count
    emp, act, _ = world_clean
    broken = act.copy()
    broken["activity_date"] = broken["activity_date"].astype("datetime64[us]")
    broken.loc[broken.index[5], "activity_date"] = pd.NaT
    broken.to_parquet(tmp_path / "act.parquet")
    with pytest.raises(InputError, match="1 row\\(s\\) have no activity_date"):
        build_panel_engine(emp, activity=tmp_path / "act.parquet", engine="duckdb")


# ---- the command line ----------------------------------------------------------------------------
def test_cli_engine_duckdb_writes_the_sample_panel(sample_dir, tmp_path):
    from linkage.cli import main

    out = tmp_path / "panel.csv"
    status = main(["panel", "--engine", "duckdb", "--employees", str(sample_dir / "employees.csv"),
                   "--customers", str(sample_dir / "customers.csv"), "--units", str(sample_dir / "units.csv"),
                   "--start", "2023-01", "--end", "2025-12", "--out", str(out)])
    assert status == 0
    assert out.read_text() == (sample_dir / "panel.csv").read_text()


def test_cli_engine_cleans_as_pandas_does(tmp_path, dirty_files, capsys):
    """--map, --as-of and --rejects on DuckDB: the same report, rejects file and panel file."""
    from linkage.cli import main

    written = {}
    for engine in ("pandas", "duckdb"):
        out, rej = tmp_path / f"{engine}_panel.csv", tmp_path / f"{engine}_rejects.csv"
        status = main(["panel", "--engine", engine, "--employees", str(dirty_files["employees"]),
                       "--activity", str(dirty_files["mapped"]), "--units", str(dirty_files["units"]),
                       "--map", str(dirty_files["mapping"]), "--as-of", AS_OF, "--start", "2023-01",
                       "--end", "2024-06", "--out", str(out), "--rejects", str(rej)])
        assert status == 0
        text = capsys.readouterr().out
        written[engine] = ([line for line in text.splitlines() if not line.startswith(("panel", "set-aside"))],
                           out.read_text(), rej.read_text())
    assert written["duckdb"] == written["pandas"]
    report, _, rejects = written["pandas"]
    assert "activity_mapped.csv: " in "\n".join(report) and rejects.count("\n") > 100


def test_cli_simulate_big_then_panel_from_parquet_parts(tmp_path):
    from linkage.cli import main

    assert main(["simulate", str(tmp_path / "big"), "--big", "30000", "--units", "20", "--months", "12"]) == 0
    big = tmp_path / "big"
    assert len(list((big / "activity").glob("part-*.parquet"))) >= 1
    out = tmp_path / "panel.parquet"
    assert main(["panel", "--engine", "duckdb", "--employees", str(big / "employees.parquet"),
                 "--activity", str(big / "activity"), "--units", str(big / "units.parquet"),
                 "--start", "2021-01", "--end", "2021-12", "--activity-window", "2", "--out", str(out)]) == 0
    got = pd.read_parquet(out)
    want = build_panel_engine(big / "employees.parquet", activity=big / "activity", units=big / "units.parquet",
                              engine="pandas", start="2021-01", end="2021-12", activity_window=2)
    assert len(got) == 20 * 12 and want["customer_end"].sum() > 1000
    for col in ("customer_start", "customer_retained", "customer_end", "employee_left"):
        assert (got[col].to_numpy() == want[col].to_numpy()).all(), col


def test_cli_engine_start_up_errors_are_one_line(tmp_path, capsys):
    """An engine that cannot start (a memory limit DuckDB does not read): one line, exit 2."""
    from linkage.cli import main

    bad = pathlib.Path(__file__).parent / "data" / "bad"
    status = main(["panel", "--engine", "duckdb", "--memory-limit", "banana",
                   "--employees", str(bad / "good_employees.csv"), "--customers", str(bad / "good_customers.csv"),
                   "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "the duckdb engine could not start" in err
