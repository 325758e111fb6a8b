"""linkage.io.datasets: the bundled JOLTS file and the sample world load, typed, from anywhere."""

import json
import os
import pathlib
import runpy
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.io import datasets
from linkage.io.datasets import jolts_industries, load_jolts

RETAIL, FOOD = "440000", "720000"
ROOT = pathlib.Path(__file__).resolve().parents[1]


# --- JOLTS: the shared-trend case ---------------------------------------------------------------


def test_jolts_file_shape_and_types():
    long = load_jolts()
    # 28 industries x 261 months (2000-12 .. 2022-08), see data/jolts/PROVENANCE.md
    assert len(long) == 28 * 261
    assert list(long.columns) == ["period", "industry_code", "industry", "quits_rate"]
    assert str(long["period"].dtype).startswith("datetime64")
    assert long["period"].min() == pd.Timestamp("2000-12-01")
    assert long["period"].max() == pd.Timestamp("2022-08-01")
    assert long["quits_rate"].dtype == np.float64
    assert not long["quits_rate"].isna().any()
    assert long["industry_code"].str.len().eq(6).all()  # leading zeros kept ("000000")
    assert long.groupby("industry_code").size().eq(261).all()


def test_jolts_retail_vs_food_levels_r_088():
    # data/jolts/PROVENANCE.md: r about 0.88 in levels, 2001-2019, SA;
    # computed on the shipped file: 0.88413 (228 months)
    q = load_jolts(industries=[RETAIL, FOOD], start="2001-01", end="2019-12", wide=True)
    assert len(q) == 228
    r = np.corrcoef(q.iloc[:, 0], q.iloc[:, 1])[0, 1]
    assert r == pytest.approx(0.884, abs=0.001)


def test_jolts_retail_vs_food_changes_r_007():
    # data/jolts/PROVENANCE.md: r about 0.07 in month-to-month changes, 2001-2019, SA; the change
    # into January 2001 uses December 2000 (228 changes): 0.07022 on the shipped file. Changes
    # inside the window only (227) give 0.06508; both are "about 0.07" and far below the 0.88 of the
    # levels.
    q = load_jolts(industries=[RETAIL, FOOD], start="2000-12", end="2019-12", wide=True)
    changes = q.diff().iloc[1:]
    assert len(changes) == 228
    r = np.corrcoef(changes.iloc[:, 0], changes.iloc[:, 1])[0, 1]
    assert r == pytest.approx(0.070, abs=0.001)
    inside = load_jolts(industries=[RETAIL, FOOD], start="2001-01", end="2019-12", wide=True).diff().iloc[1:]
    assert np.corrcoef(inside.iloc[:, 0], inside.iloc[:, 1])[0, 1] == pytest.approx(0.065, abs=0.001)


def test_jolts_2019_means_match_provenance():
    # data/jolts/PROVENANCE.md: 2019 mean monthly SA quits 2.33, 3.32, 4.88, 1.30
    q = load_jolts(industries=["000000", RETAIL, FOOD, "520000"], start="2019-01", end="2019-12", wide=True)
    assert q.mean().round(2).tolist() == pytest.approx([2.33, 3.32, 4.88, 1.30], abs=0.006)


def test_jolts_unadjusted_differs_and_is_seasonal():
    sa = load_jolts(industries=[RETAIL], wide=True).iloc[:, 0]
    nsa = load_jolts(industries=[RETAIL], seasonal="U", wide=True).iloc[:, 0]
    assert len(sa) == len(nsa) == 261
    assert not np.allclose(sa, nsa)
    # the unadjusted series has a calendar pattern: its month-of-year means spread more
    spread_nsa = nsa.groupby(nsa.index.month).mean().std()
    spread_sa = sa.groupby(sa.index.month).mean().std()
    assert spread_nsa > 2 * spread_sa


def test_jolts_names_codes_order_and_window():
    q = load_jolts(industries=["accommodation and food services", "Retail trade"], start="2010-01", end="2010-03")
    assert q["industry_code"].tolist() == [FOOD] * 3 + [RETAIL] * 3  # the order asked for
    assert q["period"].dt.month.tolist() == [1, 2, 3, 1, 2, 3]
    codes = jolts_industries()
    assert len(codes) == 28 and codes["industry_code"].is_unique


def test_jolts_does_not_mutate_and_returns_new_frames():
    a = load_jolts(industries=[RETAIL])
    a.loc[0, "quits_rate"] = -1.0
    assert load_jolts(industries=[RETAIL]).loc[0, "quits_rate"] != -1.0


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"industries": ["Hairdressing"]}, "industries"),
        ({"seasonal": "X"}, "seasonal"),
        ({"start": "2019/01"}, "start"),
        ({"end": "last year"}, "end"),
    ],
)
def test_jolts_bad_arguments_raise_input_error(kwargs, column):
    with pytest.raises(InputError) as err:
        load_jolts(**kwargs)
    assert err.value.column == column


def test_missing_data_folder_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="LINKAGE_DATA"):
        load_jolts()


def test_data_env_points_elsewhere(monkeypatch, tmp_path):
    (tmp_path / "sample").mkdir()
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    assert datasets.data_dir() == tmp_path
    with pytest.raises(InputError, match="make sample") as err:
        datasets.sample_path("panel.csv")
    assert err.value.file == str(tmp_path / "sample" / "panel.csv")


# --- the sample world -----------------------------------------------------------------------------


def test_sample_panel_is_typed_as_the_contract(sample_dir):
    from linkage.io.datasets import load_sample_panel

    panel = load_sample_panel()
    assert list(panel.columns[:16]) == [
        "unit_id", "period",
        "employee_start", "employee_joined", "employee_left", "employee_retained", "employee_end",
        "employee_retention", "employee_turnover",
        "customer_start", "customer_joined", "customer_left", "customer_retained", "customer_end",
        "customer_retention", "customer_turnover",
    ]
    assert panel["unit_id"].dtype == "str"
    assert panel["unit_id"].str.len().eq(3).all()  # "001" stays "001"
    assert str(panel["period"].dtype).startswith("datetime64")
    assert (panel["period"].dt.day == 1).all()
    for col in panel.columns[2:16]:
        want = np.float64 if col.endswith(("_retention", "_turnover")) else np.int64
        assert panel[col].dtype == want, col
    assert panel["region"].dtype == "str"
    # NaN rates exactly where the denominator is 0 (docs/design.md)
    assert (panel["employee_retention"].isna() == panel["employee_start"].eq(0)).all()
    assert panel.equals(panel.sort_values(["unit_id", "period"]))
    assert len(panel) == panel["unit_id"].nunique() * panel["period"].nunique()  # full grid
    raw = pd.read_csv(sample_dir / "panel.csv")
    assert len(raw) == len(panel)


def test_sample_world_rebuilds_the_sample_panel():
    from linkage.io.datasets import load_sample_panel, load_sample_world
    from linkage.panel import build_panel

    world = load_sample_world()
    facts = world.truth["facts"]
    assert world.units["unit_id"].is_unique
    assert world.employees["termination_date"].isna().any()  # open spells read as NaT
    rebuilt = build_panel(
        world.employees, world.customers, units=world.units,
        start=facts["window_start"][:7], end=facts["window_end"][:7],
    )
    pd.testing.assert_frame_equal(rebuilt, load_sample_panel())


def test_sample_path_finds_the_raw_export():
    from linkage.io.datasets import sample_path

    assert sample_path("raw", "mapping.yaml").is_file()
    with pytest.raises(InputError, match="make sample"):
        sample_path("raw", "no_such_file.csv")


def test_panel_with_a_bad_period_names_row_and_column(monkeypatch, tmp_path):
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "panel.csv").write_text("unit_id,period,employee_start\n007,2024-01-01,3\n007,Jan 24,3\n")
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    with pytest.raises(InputError) as err:
        datasets.load_sample_panel()
    assert (err.value.row, err.value.column) == (2, "period")


def test_loaders_do_not_depend_on_the_working_directory(monkeypatch, tmp_path):
    # nbmake runs each notebook with its own folder as cwd; the loaders find data from the package
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert len(load_jolts(industries=[RETAIL])) == 261
    assert datasets.sample_path("panel.csv").is_absolute()


# --- where the bundled files are: the checkout's folders, or an installed package's copies --------


def test_in_a_checkout_the_repository_folders_are_used(monkeypatch):
    from linkage.app import default_panel_path
    from linkage.app.serve import dashboards_dir

    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.delenv("LINKAGE_PANEL", raising=False)
    assert datasets.project_path("data") == ROOT / "data"
    assert datasets.data_dir() == ROOT / "data"
    # `linkage dashboard` in a checkout: data/sample/panel.csv and notebooks/dashboards
    assert default_panel_path() == ROOT / "data" / "sample" / "panel.csv"
    assert dashboards_dir() == ROOT / "notebooks" / "dashboards"
    assert datasets.project_path("notebooks", "no_such.ipynb") is None


def _environment_without_linkage_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("LINKAGE_", "PYTHON", "JUPYTER"))}


def test_an_installed_package_reads_its_own_copies_from_any_folder(tmp_path):
    # what a wheel holds: the package's sources plus the copies setup.py makes into linkage/share
    build = runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")
    site = tmp_path / "site"
    shutil.copytree(ROOT / "src" / "linkage", site / "linkage",
                    ignore=shutil.ignore_patterns("__pycache__"))
    written = build["copy_bundle"](site / "linkage" / "share")
    assert len(written) == len(build["bundle_files"]())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import linkage\n"
        "from linkage.app import default_panel_path\n"
        "from linkage.app.serve import dashboards_dir\n"
        "from linkage.io.datasets import data_dir, load_jolts, load_sample_chain, "
        "load_sample_panel, load_sample_world\n"
        "print(json.dumps({'package': linkage.__file__, 'data': str(data_dir()), "
        "'panel': str(default_panel_path()), 'dashboards': str(dashboards_dir()), "
        "'rows': len(load_sample_panel()), 'units': len(load_sample_world().units), "
        "'segments': len(load_sample_chain().segments), 'jolts': len(load_jolts())}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=elsewhere, check=True,
                         capture_output=True, text=True, env=_environment_without_linkage_settings())
    got = json.loads(out.stdout)
    share = site / "linkage" / "share"
    assert got["package"] == str(site / "linkage" / "__init__.py")
    assert got["data"] == str(share / "data")
    assert got["panel"] == str(share / "data" / "sample" / "panel.csv")
    assert got["dashboards"] == str(share / "notebooks" / "dashboards")
    # the same data as the checkout's (100 units x 36 months, docs/design.md "Sample data")
    assert got["rows"] == len(datasets.load_sample_panel()) == 3600
    assert got["units"] == 100
    assert got["segments"] == len(datasets.load_sample_chain().segments)
    assert got["jolts"] == 28 * 261


def test_a_package_without_its_copies_says_so_in_one_line(tmp_path):
    # a package installed without the bundle (not from this project's wheel), outside any checkout
    site = tmp_path / "site"
    shutil.copytree(ROOT / "src" / "linkage", site / "linkage",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**_environment_without_linkage_settings(), "PYTHONPATH": str(site)}
    code = ("from linkage.errors import InputError\n"
            "from linkage.io.datasets import load_sample_panel, project_path\n"
            "assert project_path('data') is None\n"
            "try:\n    load_sample_panel()\nexcept InputError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert "carries no bundled data" in out and "LINKAGE_DATA" in out
    for args in (["notebooks", "dest"], ["dashboard", "--no-browser", "--no-warm"]):
        proc = subprocess.run([sys.executable, "-m", "linkage", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert "carries no" in proc.stderr
