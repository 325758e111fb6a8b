"""The chain's files read with a column mapping (``$LINKAGE_MAP``, ``linkage dashboard --map``) as
``linkage panel --map`` reads them: the raw export of the sample gives the sample's tables."""

import os
import pathlib
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from linkage.app import DashboardData, load_panel  # noqa: E402
from linkage.app.service_chain import ChainView  # noqa: E402
from linkage.errors import InputError  # noqa: E402
from linkage.io.datasets import sample_path  # noqa: E402
from linkage.pipeline import CHAIN_ENV, chain_inputs  # noqa: E402

SAMPLE = pathlib.Path(sample_path("panel.csv")).parent
RAW = SAMPLE / "raw"
FILES = {
    "employee_survey": "employee_survey.csv",
    "customer_survey": "customer_survey.csv",
    "revenue": "unit_revenue.csv",
}
SRC = pathlib.Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def panel():
    return load_panel()


def _env(folder: pathlib.Path, mapping: pathlib.Path | None = None) -> dict[str, str]:
    env = {CHAIN_ENV[name]: str(folder / file) for name, file in FILES.items()}
    if mapping is not None:
        env[CHAIN_ENV["mapping"]] = str(mapping)
    return env


def test_raw_export_with_its_mapping_gives_the_canonical_tables(panel):
    # the raw files were written from the same world as the canonical ones (simulate --sample)
    canonical = chain_inputs(panel, env=_env(SAMPLE))
    raw = chain_inputs(panel, env=_env(RAW, RAW / "mapping.yaml"))
    assert raw.source == canonical.source == "files" and raw.missing == canonical.missing == []
    pd.testing.assert_frame_equal(raw.panel, canonical.panel)
    pd.testing.assert_frame_equal(raw.respondents, canonical.respondents)
    assert raw.items == canonical.items and len(raw.items) == 6
    # ... and the chain computed from the files is the sample's own
    joined = chain_inputs(panel, sample=True).panel
    cols = ["es_engagement", "es_pay", "es_respondents", "cs_csat", "cs_nps", "revenue_retention"]
    pd.testing.assert_frame_equal(raw.panel[cols], joined[cols])


def test_raw_export_without_mapping_and_bad_mapping_say_why(panel, tmp_path):
    with pytest.raises(InputError) as err:
        chain_inputs(panel, env={CHAIN_ENV["employee_survey"]: str(RAW / "employee_survey.csv")})
    assert err.value.file == "employee_survey.csv" and "unit_id" in err.value.problem
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "employee_survey: {unit_id: Shop, survey_date: Survey Date, items: {pay: Q5}}\n"
    )
    with pytest.raises(InputError) as err:
        chain_inputs(panel, env=_env(RAW, wrong))
    assert err.value.file == "employee_survey.csv" and "Shop" in str(err.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("employee_survey: [oops\n")
    with pytest.raises(InputError) as err:
        chain_inputs(panel, env=_env(RAW, broken))
    assert err.value.file == "broken.yaml"


def test_the_dashboard_section_says_what_is_wrong_with_the_mapping(panel, tmp_path, monkeypatch):
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("employee_survey: [oops\n")
    view = ChainView(DashboardData(panel, n_boot=20), sample=False, env=_env(RAW, broken))
    view.widget.selected_index = 0
    assert "could not be computed" in view.notes.value and "invalid YAML" in view.notes.value
    assert "Traceback" not in view.notes.value and view.status.value == ""


def test_serve_reads_the_files_with_the_mapping_and_hands_it_to_the_kernels(monkeypatch):
    from linkage.app import serve as serve_module

    seen = {}

    class FakeVoila:
        def __init__(self, cmd, cwd, env):
            seen["voila"] = env

        def wait(self):
            return 0

    monkeypatch.setattr(serve_module.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(serve_module, "_background_warm", lambda path, env: None)
    monkeypatch.setattr(serve_module.signal, "signal", lambda *a: None)
    files = {name: RAW / file for name, file in FILES.items()}
    mapping = RAW / "mapping.yaml"
    assert (
        serve_module.serve(
            open_browser=False, warm=False, chain_files={**files, "mapping": mapping}
        )
        == 0
    )
    assert seen["voila"][CHAIN_ENV["mapping"]] == str(mapping.resolve())
    assert seen["voila"][CHAIN_ENV["revenue"]] == str(files["revenue"].resolve())


def _dashboard(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for var in CHAIN_ENV.values():
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "linkage", "dashboard", *args, "--no-browser", "--no-warm"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--employee-survey", str(RAW / "employee_survey.csv")], "employee_survey.csv"),
        (["--employee-survey", str(RAW / "employee_survey.csv"), "--map", "BAD"], "bad.yaml"),
        (["--map", "BAD"], "bad.yaml"),
        (["--revenue", str(RAW / "unit_revenue.csv"), "--map", "MISSING"], "not found"),
    ],
)
def test_cli_dashboard_bad_map_or_raw_file_is_one_line_and_exit_2(args, says, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("employee_survey: [oops\n")
    args = [{"BAD": str(bad), "MISSING": str(tmp_path / "nope.yaml")}.get(a, a) for a in args]
    done = _dashboard(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and says in lines[0], done.stderr
    assert lines[0].startswith("linkage dashboard: error:") and "Traceback" not in done.stderr
