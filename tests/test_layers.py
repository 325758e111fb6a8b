"""The package's layers import in one direction only (see ``linkage/__init__.py``)."""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "linkage"

# rank of each top-level part of the package; a module may import only parts of lower or equal rank
RANK = {
    "errors": 0,
    "io": 0,
    "privacy": 0,
    "words": 0,
    "clean": 1,
    "panel": 2,
    "pipeline": 3,
    "simulate": 4,
    "stats": 5,
    "viz": 6,
    "app": 7,
    "cli": 8,
    "__main__": 8,
}


def _part(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # relative import: resolve against the module's package
            base = path.relative_to(SRC).parent.parts
            up = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            yield ".".join(("linkage", *up, *(node.module.split(".") if node.module else ())))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path):
    part = _part(path)
    assert part in RANK, (
        f"{path}: new top-level part {part!r}: give it a rank in tests/test_layers.py"
    )
    for mod in _imports(path):
        bits = mod.split(".")
        if bits[0] != "linkage" or len(bits) < 2:
            continue
        target = bits[1]
        assert RANK.get(target, -1) <= RANK[part], (
            f"{path.relative_to(SRC)} imports {mod} (a higher layer)"
        )
