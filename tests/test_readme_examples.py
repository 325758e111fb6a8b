"""The README's ``linkage ...`` examples run end to end on the sample's raw export.

The commands come from README.md itself (its ```bash blocks under "Your own data in four
commands" and "Surveys, revenue and segments"), so the README and this test cannot drift: the
heredocs write ``map.yaml`` as a reader would, the README's file names become the sample's raw
files (``FILES``), and each command runs as ``python -m linkage ...`` in a copy of
``data/sample/raw``. ``linkage dashboard`` would serve until stopped: its arguments are only
parsed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SECTIONS = ("## Your own data in four commands", "### Surveys, revenue and segments")
#: the README's file names -> the files of data/sample/raw
FILES = {
    "hr.csv": "employees.csv",
    "crm.csv": "customers.csv",
    "stores.csv": "units.csv",
    "pulse.csv": "employee_survey.csv",
    "csat.csv": "customer_survey.csv",
    "store_revenue.csv": "unit_revenue.csv",
    "verticals.csv": "customer_segments.csv",
}
HEREDOC = re.compile(r"^cat (>>?) (\S+) <<'?(\w+)'?$")


def _bash_block(heading: str) -> list[str]:
    """The lines of the first ```bash block after ``heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    block = re.search(r"```bash\n(.*?)```", text[start:], flags=re.DOTALL)
    assert block is not None, f"no bash block under {heading!r}"
    return block.group(1).splitlines()


def _steps(heading: str) -> list[tuple[str, ...]]:
    """("write", mode, file, text) for a heredoc, ("run", *argv) for a linkage command."""
    lines = _bash_block(heading)
    steps: list[tuple[str, ...]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        here = HEREDOC.match(line)
        if here:
            mode, name, end = here.groups()
            body = []
            while lines[i].strip() != end:
                body.append(lines[i])
                i += 1
            i += 1
            steps.append(("write", "a" if mode == ">>" else "w", name, "\n".join(body) + "\n"))
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        command, _, comment = line.partition("#")
        alternative = re.search(r"\bor: (linkage \S.*)$", comment.strip())
        for cmd in (command.strip(), alternative.group(1) if alternative else ""):
            words = shlex.split(cmd)
            if words and words[0].endswith("linkage"):
                steps.append(("run", *words[1:]))
    return steps


def _run(steps: list[tuple[str, ...]], where: Path) -> None:
    for step in steps:
        if step[0] == "write":
            _, mode, name, body = step
            with open(where / name, mode, encoding="utf-8") as fh:
                fh.write(body)
            continue
        argv = [FILES.get(word, word) for word in step[1:]]
        if argv[0] == "dashboard":  # serves until stopped: check its arguments parse
            code = "import sys; from linkage.cli import build_parser; build_parser().parse_args()"
            cmd = [sys.executable, "-c", code, *argv]
        else:
            cmd = [sys.executable, "-m", "linkage", *argv]  # PYTHONPATH inherited
        done = subprocess.run(
            cmd, cwd=where, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{shlex.join(step[1:])}\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    for path in (ROOT / "data" / "sample" / "raw").iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_the_examples_name_only_files_the_sample_has() -> None:
    names = {w for h in SECTIONS for s in _steps(h) if s[0] == "run" for w in s[1:]}
    inputs = {w for w in names if w.endswith(".csv")} - {"panel.csv", "rejects.csv", "segments.csv"}
    assert inputs <= set(FILES), inputs - set(FILES)
    assert all((ROOT / "data" / "sample" / "raw" / f).is_file() for f in FILES.values())


def test_your_own_data_in_four_commands(raw: Path) -> None:
    steps = _steps(SECTIONS[0])
    assert [s[1] for s in steps if s[0] == "run"] == ["panel", "link", "dashboard", "report"]
    _run(steps, raw)
    assert (raw / "panel.csv").is_file() and (raw / "rejects.csv").is_file()
    assert (raw / "report.html").stat().st_size > 0


def test_surveys_revenue_and_segments(raw: Path) -> None:
    steps = _steps(SECTIONS[1])
    assert [s[1] for s in steps if s[0] == "run"] == ["panel", "chain", "drivers", "watchlist"]
    # the chain's mapping is appended to the first section's map.yaml
    _run([s for s in _steps(SECTIONS[0]) if s[0] == "write"] + steps, raw)
    header = (raw / "panel.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"es_engagement", "es_pay", "cs_csat", "revenue_retention"} <= set(header)
    assert (raw / "segments.csv").is_file()
