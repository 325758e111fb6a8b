"""Set-up files agree: environment.yml lists exactly the dependencies of pyproject.toml, and the
wheel carries the dashboards, notebooks and sample data (setup.py, MANIFEST.in)."""

import pathlib
import re
import runpy
import subprocess
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _name_spec(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def _is_self(req: str) -> bool:
    return _name_spec(req)[0] == "linkage"


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # every dependency and every extra's; "linkage[spark]" only points at another extra
    wanted = [*project["dependencies"]]
    for reqs in extras.values():
        wanted += [r for r in reqs if not _is_self(r)]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str) and not d.startswith(("python", "pip"))]
    assert len(conda) == len({_name_spec(d)[0] for d in conda}), "a dependency listed twice"
    assert dict(map(_name_spec, conda)) == dict(map(_name_spec, wanted))
    pip_part = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert pip_part == ["-e ."]


def test_extras_point_at_extras_that_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {"test", "spark", "lint"} <= set(extras)
    for reqs in extras.values():
        for req in filter(_is_self, reqs):
            named = re.match(r"^linkage\[([^\]]*)\]$", req.replace(" ", ""))
            assert named and set(named.group(1).split(",")) <= set(extras), req
    # the Spark tests need pyspark: the test extra pulls in the spark extra
    assert "linkage[spark]" in extras["test"]


def test_every_cli_command_is_present():
    from linkage.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


# --- package data: what the wheel carries (setup.py copies it into linkage/share) ----------------


def _setup() -> dict:
    return runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")  # loads it, builds nothing


def test_the_wheel_bundles_the_dashboards_notebooks_and_sample():
    files = {str(p) for p in _setup()["bundle_files"]()}
    # what `linkage dashboard` serves, with the Voila configuration it reads from that folder
    assert {"notebooks/dashboards/executive.ipynb", "notebooks/dashboards/unit_explorer.ipynb",
            "notebooks/dashboards/voila.json"} <= files
    # every analyst and workshop notebook the repository has
    for path in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("notebooks/workshop/*.ipynb")]:
        assert path.relative_to(ROOT).as_posix() in files
    # every committed file of the sample world and the JOLTS data
    listed = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0:  # a git checkout (a source archive: the folders are checked below)
        assert set(listed.stdout.split()) <= files
    for path in ROOT.joinpath("data").rglob("*"):
        if path.is_file():
            assert path.relative_to(ROOT).as_posix() in files
    # and nothing else: no caches, tests or checkpoints
    assert all(f.startswith(("notebooks/", "data/")) and ".ipynb_checkpoints" not in f for f in files)


def test_the_bundled_data_stays_small():
    setup = _setup()
    size = sum((ROOT / p).stat().st_size for p in setup["bundle_files"]())
    assert size < 8 * 1024**2, f"{size / 1024**2:.1f} MB bundled into the wheel"


def test_the_source_distribution_carries_what_the_wheel_bundles():
    # setup.py builds the wheel from the sdist's files too: MANIFEST.in must graft every folder
    grafted = [line.split()[1] for line in (ROOT / "MANIFEST.in").read_text().splitlines()
               if line.startswith("graft ")]
    for folder in _setup()["BUNDLE"]:
        assert any(folder == g or folder.startswith(g + "/") for g in grafted), folder


def test_the_voila_template_is_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "app/share/**/*" in data["linkage"]
    assert (ROOT / "src" / "linkage" / "app" / "share" / "voila" / "templates" / "linkage"
            / "index.html.j2").is_file()


def test_linkage_notebooks_copies_only_what_the_wheel_bundles(tmp_path):
    from linkage.cli._notebooks import plan

    bundled = {str(p) for p in _setup()["bundle_files"]()}
    pairs = plan(tmp_path)
    assert pairs
    for source, _ in pairs:
        assert source.relative_to(ROOT).as_posix() in bundled


# --- extras say what they are for ----------------------------------------------------------------


def _imported_distributions() -> dict[str, set[str]]:
    """Third-party distributions the package's modules import (at any depth) -> the modules."""
    import ast
    import importlib.metadata
    import sys

    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "linkage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("linkage", "__future__"):
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(_name_spec(dist)[0], set()).add(path.name)
    return found


def _closure(reqs: list[str]) -> set[str]:
    """The distributions ``reqs`` install, with their own requirements (no extras), recursively."""
    import importlib.metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in reqs if not _is_self(r)]
    while todo:
        req = todo.pop()
        name = _name_spec(req.name)[0]
        if name in seen:
            continue
        seen.add(name)
        try:
            more = importlib.metadata.requires(req.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for spec in more:
            sub = Requirement(spec)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    return seen


def test_the_package_imports_only_what_it_declares_and_nothing_test_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = {_name_spec(r)[0] for r in project["dependencies"]}
    installed_with_it = _closure(project["dependencies"])
    test_only = {_name_spec(r)[0] for r in extras["test"] if not _is_self(r)} - runtime
    spark = {_name_spec(r)[0] for r in extras["spark"]}
    imported = _imported_distributions()
    assert "pandas" in imported and "pyspark" in imported  # the scan sees the imports
    for dist, modules in imported.items():
        assert dist not in test_only, f"{sorted(modules)} import {dist}, a test-only package"
        if dist in spark:  # imported only where the Spark engine is asked for, with a message
            continue
        if dist == "psutil":  # optional: the viewer cap reads /proc/meminfo without it
            continue
        assert dist in runtime or dist in installed_with_it, (
            f"{sorted(modules)} import {dist}, which `pip install linkage` does not install")
    # the extras' packages are not runtime dependencies in disguise
    assert not spark & runtime
    assert "pytest" not in runtime and "pyspark" not in runtime
