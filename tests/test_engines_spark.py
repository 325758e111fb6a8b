"""linkage.panel.engines on Spark (local mode): the same SQL gives the pandas panel cell by cell.

One local session for the whole module (it takes 6-8 s to start); each build is a few small jobs.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

pytest.importorskip("duckdb")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    pyspark_sql = pytest.importorskip("pyspark.sql")

from linkage.clean import clean_activity, clean_employees, clean_units  # noqa: E402
from linkage.panel import build_panel  # noqa: E402
from linkage.panel.engines import build_panel_engine, prepare_panel_engine  # noqa: E402
from linkage.simulate import WorldSpec, simulate  # noqa: E402
from tests.test_engines import (  # noqa: E402
    AS_OF,
    DIRTY_WINDOW,
    assert_same_cleaning,
    assert_same_panel,
    dirty_files,  # noqa: F401  (the fixture, shared)
)


@pytest.fixture(scope="module")
def spark():
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        reason = "no Java runtime (java on PATH or JAVA_HOME): Spark needs Java 17 (apt-get install openjdk-17-jre-headless)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    session = (pyspark_sql.SparkSession.builder.master("local[1]").appName("linkage-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield session
    session.stop()


def test_sample_files_on_spark_give_the_pandas_panel(spark, sample_dir):
    emp, cus, units = (sample_dir / f for f in ("employees.csv", "customers.csv", "units.csv"))
    want = build_panel_engine(emp, cus, units=units, engine="pandas", freq="Q",
                              start="2023-01", end="2025-12")
    got = build_panel_engine(emp, cus, units=units, engine="spark", spark=spark, freq="Q",
                             start="2023-01", end="2025-12")
    assert_same_panel(got, want)


def test_activity_parquet_on_spark_gives_the_pandas_panel(spark, tmp_path):
    world = simulate(WorldSpec(n_units=8, months=18, seed=11), customers="activity", defects=0.02)
    units = clean_units(world.units)
    emp = clean_employees(world.employees, units=units, as_of="2030-01-01").data
    act = clean_activity(world.customers, units=units, as_of="2030-01-01").data
    parts = tmp_path / "activity"
    parts.mkdir()
    half = len(act) // 2
    act.iloc[:half].to_parquet(parts / "part-0.parquet")
    act.iloc[half:].to_parquet(parts / "part-1.parquet")
    # the window of the simulation (the default one reaches back to the first hire, 2006: wide)
    window = {"start": "2023-01", "end": "2024-06", "activity_window": 3}
    want = build_panel(emp, activity=act, units=units.data, **window)
    emp.to_parquet(tmp_path / "employees.parquet")
    emp_frame = spark.read.parquet(str(tmp_path / "employees.parquet"))  # a Spark DataFrame works too
    got = build_panel_engine(emp_frame, activity=parts, units=units.data, engine="spark", spark=spark, **window)
    assert "customer_revenue" in got.columns and want["customer_retained"].sum() > 0
    assert_same_panel(got, want)


@pytest.mark.parametrize("source", ["csv", "parts"])
def test_dirty_activity_cleaned_by_spark_as_by_pandas(spark, dirty_files, source):  # noqa: F811
    """The same report, rejects (rows numbered across Parquet parts) and panel as pandas."""
    kw = {"units": dirty_files["units"], "as_of": AS_OF, **DIRTY_WINDOW}
    want = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="pandas", **kw)
    got = prepare_panel_engine(dirty_files["employees"], activity=dirty_files[source], engine="spark",
                               spark=spark, **kw)
    assert_same_cleaning(got, want)
    assert len(want.rejects) > 1000
