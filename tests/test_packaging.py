"""Set-up files agree: environment.yml lists exactly the dependencies of pyproject.toml."""

import pathlib
import re
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
