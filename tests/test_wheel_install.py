"""The built wheel works wherever it is installed, not only from a checkout.

The wheel is built from a copy of the sources, installed alone (its dependencies from the package
registry) into a fresh virtual environment in a temporary folder outside the checkout, and used from
another temporary folder as a new user would: ``linkage dashboard`` serves the bundled sample (both
pages answer), ``linkage simulate``, ``linkage notebooks`` and ``linkage panel`` on the copied raw
extracts run, and every copied notebook executes with nbclient. Nothing from the checkout is on the
path there (no PYTHONPATH, no LINKAGE_* settings, Jupyter and matplotlib folders of its own).

Slow (a few minutes; pip's cache makes the installation quick after the first run). ``make test``
runs it; when the wheel cannot be built or installed (no registry) it is skipped with pip's reason,
except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the analyst and workshop notebooks of this checkout: what `linkage notebooks` must copy
N_NOTEBOOKS = len(list((ROOT / "notebooks").glob("*.ipynb"))) + len(
    list((ROOT / "notebooks" / "workshop").glob("*.ipynb"))
)
#: What building the wheel reads (setup.py copies notebooks/ and data/ into the package).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "notebooks", "data")
SKIP_COPY = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints", "*.pyc")


def _unavailable(what: str, proc: subprocess.CompletedProcess) -> None:
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    message = f"{what} failed (exit {proc.returncode}):\n{tail}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


class Installed:
    """A fresh virtual environment holding only the built wheel, and a clean place to work."""

    def __init__(self, base: pathlib.Path) -> None:
        self.base = base
        self.venv = base / "venv"
        self.bin = self.venv / "bin"
        self.work = base / "work"
        self.work.mkdir()
        self.timings: dict[str, float] = {}
        home = base / "home"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LINKAGE_", "PYTHON", "JUPYTER", "VIRTUAL_ENV", "CONDA"))}
        env.update(
            PATH=os.pathsep.join([str(self.bin), env.get("PATH", "")]),
            VIRTUAL_ENV=str(self.venv),
            JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
            JUPYTER_DATA_DIR=str(home / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
            IPYTHONDIR=str(home / "ipython"),
            MPLCONFIGDIR=str(home / "matplotlib"),
            MPLBACKEND="Agg",
            LINKAGE_CACHE=str(home / "linkage-cache"),
        )
        self.env = env

    def run(self, *args: str | os.PathLike[str], timeout: float = 600,
            cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], cwd=cwd or self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def linkage(self, *args: str | os.PathLike[str], timeout: float = 600) -> subprocess.CompletedProcess:
        return self.run(self.bin / "linkage", *args, timeout=timeout)


def _timed(installed: Installed, step: str, t0: float) -> None:
    installed.timings[step] = time.perf_counter() - t0
    print(f"wheel install test: {step}: {installed.timings[step]:.0f} s", file=sys.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    """The wheel, built with pip from a copy of the build inputs (the checkout is not written)."""
    base = tmp_path_factory.mktemp("linkage-wheel")
    src = base / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=SKIP_COPY)
        else:
            shutil.copy2(path, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input",
                           "--wheel-dir", str(base / "dist"), str(src)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        _unavailable("building the wheel", proc)
    (found,) = (base / "dist").glob("linkage-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    """Only the wheel (and its dependencies from the registry) in a new virtual environment."""
    base = tmp_path_factory.mktemp("linkage-installed")
    assert not base.resolve().is_relative_to(ROOT.resolve())  # outside the checkout
    env = Installed(base)
    t0 = time.perf_counter()
    python = pathlib.Path(getattr(sys, "_base_executable", sys.executable))
    made = subprocess.run([str(python), "-m", "venv", str(env.venv)], capture_output=True,
                          text=True, timeout=300)
    if made.returncode != 0:
        _unavailable("creating the virtual environment", made)
    _timed(env, "venv", t0)
    t0 = time.perf_counter()
    # --no-compile: the install is quicker, and only the modules the commands import get compiled,
    # on first use
    proc = env.run(env.bin / "python", "-m", "pip", "install", "--no-input", "--quiet",
                   "--no-compile", wheel, timeout=1800)
    if proc.returncode != 0:
        _unavailable("installing the wheel", proc)
    _timed(env, "pip install", t0)
    return env


def test_the_wheel_carries_dashboards_voila_configuration_template_and_sample(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("linkage/share/notebooks/dashboards/executive.ipynb",
                 "linkage/share/notebooks/dashboards/unit_explorer.ipynb",
                 "linkage/share/notebooks/dashboards/voila.json",
                 "linkage/app/share/voila/templates/linkage/index.html.j2",
                 "linkage/app/share/voila/templates/linkage/conf.json",
                 "linkage/share/notebooks/01_raw_to_panel.ipynb",
                 "linkage/share/notebooks/workshop/06_jolts_shared_trend.ipynb",
                 "linkage/share/data/sample/panel.csv",
                 "linkage/share/data/sample/truth.json",
                 "linkage/share/data/sample/raw/mapping.yaml",
                 "linkage/share/data/jolts/PROVENANCE.md",
                 "linkage/py.typed"):
        assert name in names, name
    for path in ROOT.joinpath("data").rglob("*"):
        if path.is_file():
            assert f"linkage/share/{path.relative_to(ROOT).as_posix()}" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "benchmarks/"))]
    assert wheel.stat().st_size < 4 * 1024**2  # the sample compresses to under 2 MB


def test_the_installed_package_is_the_wheel_and_finds_its_own_data(installed):
    code = ("import linkage; from linkage.app import default_panel_path; "
            "from linkage.app.serve import dashboards_dir; "
            "from linkage.io.datasets import load_sample_panel; "
            "print(linkage.__file__); print(default_panel_path()); print(dashboards_dir()); "
            "print(len(load_sample_panel()))")
    proc = installed.run(installed.bin / "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    package, panel, dashboards, rows = proc.stdout.split("\n")[:4]
    site = pathlib.Path(package).parent
    assert site.is_relative_to(installed.venv)
    assert pathlib.Path(panel) == site / "share" / "data" / "sample" / "panel.csv"
    assert pathlib.Path(dashboards) == site / "share" / "notebooks" / "dashboards"
    assert int(rows) == 3600  # 100 units x 36 months
    # the test extra is not installed with the package
    assert installed.run(installed.bin / "python", "-c", "import pytest").returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float) -> tuple[int, str]:
    """GET ``url``, retrying while nothing listens yet; (status, body)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=300) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_linkage_dashboard_serves_the_bundled_sample(installed):
    port = _free_port()
    log = installed.base / "dashboard.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen([str(installed.bin / "linkage"), "dashboard", "--no-browser",
                                 "--port", str(port)], cwd=installed.work, env=installed.env,
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        t0 = time.perf_counter()
        deadline = time.monotonic() + 300
        pattern = r"linkage dashboard: (executive dashboard|unit explorer) at (http://\S+)"
        while len(re.findall(pattern, log.read_text())) < 2:
            assert proc.poll() is None, f"linkage dashboard exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no addresses printed:\n{log.read_text()}"
            time.sleep(0.5)
        urls = dict(re.findall(pattern, log.read_text()))
        assert urls["executive dashboard"] == (
            f"http://127.0.0.1:{port}/voila/render/executive.ipynb")
        assert urls["unit explorer"].startswith(
            f"http://127.0.0.1:{port}/voila/render/unit_explorer.ipynb?unit=")
        for what, url in (
            ("executive dashboard", urls["executive dashboard"]),
            ("unit explorer", urls["unit explorer"].replace("?unit=ID", "?unit=010")),
        ):
            # the page title is the dashboard notebook's title (its metadata)
            title = f"Staff and customer retention: {what}"
            status, html = _get(url, timeout=120)
            assert status == 200, f"{what}: HTTP {status}\n{html[:2000]}\n{log.read_text()}"
            assert f"<title>{title}</title>" in html, what
            # the notebook ran in the kernel: its widget is in the page, with no error output
            assert "application/vnd.jupyter.widget-view+json" in html, what
            assert '"output_type": "error"' not in html and "Traceback" not in html, what
        _timed(installed, "dashboard (warm-up, both pages)", t0)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what a service manager sends: Voila stops too
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert "Traceback" not in log.read_text()


def test_linkage_simulate_writes_a_world(installed):
    proc = installed.linkage("simulate", "world", "--units", "20", "--months", "12")
    assert proc.returncode == 0, proc.stderr
    world = installed.work / "world"
    panel = pd.read_csv(world / "panel.csv", dtype={"unit_id": str})
    assert panel["unit_id"].nunique() == 20 and panel["period"].nunique() == 12
    assert (world / "truth.json").is_file()


@pytest.fixture(scope="module")
def copied(installed) -> pathlib.Path:
    """``linkage notebooks`` run in the installed environment."""
    dest = installed.work / "my notebooks"
    proc = installed.linkage("notebooks", dest)
    assert proc.returncode == 0, proc.stderr
    assert f"copied {N_NOTEBOOKS} notebooks" in proc.stdout
    again = installed.linkage("notebooks", dest)
    assert again.returncode == 2 and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    return dest


def test_linkage_panel_on_the_sample_raw_extracts(installed, copied):
    raw = copied / "data" / "sample" / "raw"
    proc = installed.linkage(
        "panel", "--employees", raw / "employees.csv", "--customers", raw / "customers.csv",
        "--units", raw / "units.csv", "--map", raw / "mapping.yaml", "--as-of", "2026-01-01",
        "--start", "2023-01", "--end", "2025-12", "--out", "panel.csv", "--rejects", "rejects.csv")
    assert proc.returncode == 0, proc.stderr
    # the raw export rebuilds the bundled panel (the defects are set aside, notebook 01)
    got = pd.read_csv(installed.work / "panel.csv", dtype={"unit_id": str})
    want = pd.read_csv(copied / "data" / "sample" / "panel.csv", dtype={"unit_id": str})
    counts = [c for c in want.columns if c.endswith(("_start", "_joined", "_left", "_retained"))]
    assert len(counts) == 8
    pd.testing.assert_frame_equal(got[["unit_id", "period", *counts]],
                                  want[["unit_id", "period", *counts]])
    rejects = pd.read_csv(installed.work / "rejects.csv", dtype=str)
    assert len(rejects) == 46 and "set-aside rows: 46" in proc.stdout + proc.stderr


def test_the_spark_engine_names_its_extra_when_pyspark_is_missing(installed):
    world = installed.work / "spark-world"
    assert installed.linkage("simulate", world, "--units", "5", "--months", "6").returncode == 0
    proc = installed.linkage(
        "panel", "--engine", "spark", "--employees", world / "employees.csv",
        "--customers", world / "customers.csv", "--units", world / "units.csv",
        "--out", "spark-panel.csv")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "pip install 'linkage[spark]'" in proc.stderr


RUN_NOTEBOOKS = """
import pathlib, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

failed = 0
for name in sys.argv[1:]:
    path = pathlib.Path(name)
    t0 = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as err:
        failed += 1
        print(f"FAILED {path.name}: {err}", flush=True)
    else:
        print(f"ran {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
sys.exit(1 if failed else 0)
"""


def test_the_copied_notebooks_run_there(installed, copied):
    notebooks = sorted(copied.rglob("*.ipynb"))
    assert len(notebooks) == N_NOTEBOOKS
    script = installed.base / "run_notebooks.py"
    script.write_text(RUN_NOTEBOOKS)
    t0 = time.perf_counter()
    # two kernels at a time (each notebook runs with its own folder as the working directory)
    groups = [notebooks[0::2], notebooks[1::2]]
    procs = [subprocess.Popen([str(installed.bin / "python"), str(script), *map(str, group)],
                              cwd=installed.work, env=installed.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for group in groups]
    outputs = [p.communicate(timeout=3600)[0] for p in procs]
    _timed(installed, f"{N_NOTEBOOKS} notebooks", t0)
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-6000:]
    ran = [line for out in outputs for line in re.findall(r"^ran (\S+) in", out, re.M)]
    assert sorted(ran) == sorted(p.name for p in notebooks)
