"""linkage notebooks DEST: copies the analyst and workshop notebooks and the bundled data; never
overwrites without --force; a bad DEST is one line and exit 2."""

import json
import pathlib

import pytest

from linkage.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_copies_every_analyst_and_workshop_notebook_and_the_data(tmp_path, capsys):
    dest = tmp_path / "course" / "linkage"  # parents are created
    assert main(["notebooks", str(dest)]) == 0
    out = capsys.readouterr().out
    got = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    want_notebooks = {p.relative_to(ROOT / "notebooks").as_posix()
                      for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("notebooks/workshop/*.ipynb")]}
    want_data = {p.relative_to(ROOT).as_posix() for p in (ROOT / "data").rglob("*") if p.is_file()}
    assert got == want_notebooks | want_data
    assert "05_chain.ipynb" in got and "workshop/07_chain_solution.ipynb" in got
    assert "data/sample/raw/mapping.yaml" in got and "data/jolts/PROVENANCE.md" in got
    assert f"copied {len(want_notebooks)} notebooks and {len(want_data)} data files" in out
    # byte for byte, and still notebooks without outputs
    for rel in ("01_raw_to_panel.ipynb", "data/sample/panel.csv"):
        src = ROOT / ("notebooks" if rel.endswith(".ipynb") else "") / rel
        assert (dest / rel).read_bytes() == src.read_bytes()
    nb = json.loads((dest / "workshop" / "06_jolts_shared_trend.ipynb").read_text())
    assert all(not c.get("outputs") for c in nb["cells"])


def test_refuses_to_overwrite_unless_forced(tmp_path, capsys):
    dest = tmp_path / "nb"
    assert main(["notebooks", str(dest)]) == 0
    mine = dest / "02_exploring_retention.ipynb"
    mine.write_text("my edits")
    capsys.readouterr()
    assert main(["notebooks", str(dest)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err and "already there" in err
    assert mine.read_text() == "my edits"  # nothing touched
    assert main(["notebooks", str(dest), "--force"]) == 0
    assert mine.read_bytes() == (ROOT / "notebooks" / mine.name).read_bytes()
    assert "overwritten" in capsys.readouterr().out


def test_other_files_in_dest_are_left_alone(tmp_path):
    dest = tmp_path / "nb"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep")
    assert main(["notebooks", str(dest)]) == 0
    assert (dest / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("case", ["file", "empty", "folder_in_the_way", "unwritable"])
def test_bad_dest_is_one_line_and_exit_2(tmp_path, capsys, case):
    if case == "file":
        dest = tmp_path / "a.txt"
        dest.write_text("x")
        want = "not a folder"
    elif case == "empty":
        dest, want = "", "DEST is empty"
    elif case == "folder_in_the_way":
        dest = tmp_path / "nb"
        (dest / "01_raw_to_panel.ipynb").mkdir(parents=True)
        want = "a folder stands where a file is to be copied"
    else:
        (tmp_path / "blocker").write_text("a file, so nothing can be created below it")
        dest, want = tmp_path / "blocker" / "nb", "cannot write there"
    assert main(["notebooks", str(dest)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("linkage notebooks: error:")
    assert want in err
