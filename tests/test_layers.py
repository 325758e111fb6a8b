"""The package's layers import in one direction only (see ``linkage/__init__.py``).

Two rules, checked statically (``ast``) on every module of ``src/linkage``, the subpackages'
``__init__.py`` and the package root included:

1. *Layers*: a module imports only parts of lower or equal rank (``RANK``). Every import form
   counts: ``import linkage.x``, ``import linkage.x.y as z``, ``from linkage import x`` (``x`` a
   part), ``from linkage.x import y``, relative imports of any level, imports inside functions and
   ``if TYPE_CHECKING:`` blocks, ``importlib.import_module``/``__import__`` with a literal (or
   f-string) argument, and attribute chains through an imported module (``linkage.x.y`` after
   ``import linkage``). Importing any ``linkage.x`` runs ``linkage/__init__.py`` first, so the root
   may import only documented names (listed in its ``__all__``) from the lowest layer.
2. *Privacy*: no module imports an underscore-private name from another module (a helper two
   modules need is public somewhere), and across top-level parts only a part's public API is used:
   the names its ``__init__`` exports (``__all__``) or public modules, never a private module
   (``linkage.io._read``). Inside one part, public names of private modules are fine.

The checker itself is tested on small synthetic packages at the end of this file, so that a broken
checker cannot silently pass.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

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

ROOT = "linkage"
IMPORT_FUNCTIONS = {"import_module", "__import__"}


def is_private(name: str) -> bool:
    """``_x`` is private; dunders (``__version__``) and the ``*`` of a dynamic name are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def part_of(module: str) -> str | None:
    """Top-level part of a dotted ``linkage`` module name; None for the root itself."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else None


def is_linkage(module: str) -> bool:
    return module == ROOT or module.startswith(ROOT + ".")


@dataclass(frozen=True)
class Ref:
    """One use of another module: ``module`` imported, and ``name`` taken from it (or None)."""

    line: int
    text: str  # the import as written (one name of a multi-name ``from`` import)
    module: str  # absolute dotted module, e.g. "linkage.stats._prep"
    name: str | None = None


@dataclass
class Module:
    name: str  # dotted, e.g. "linkage.stats.lags" ("linkage.stats" for stats/__init__.py)
    file: str  # shown in messages
    is_package: bool
    source: str
    tree: ast.Module = field(init=False)

    def __post_init__(self) -> None:
        self.tree = ast.parse(self.source, filename=self.file)

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def exports(self) -> frozenset[str] | None:
        """Names listed in a literal ``__all__`` (None when there is none)."""
        names: set[str] | None = None
        for node in self.tree.body:
            targets: list[ast.expr]
            value: ast.expr | None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets, value = [node.target], node.value
            else:
                continue
            if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                continue
            if isinstance(value, ast.List | ast.Tuple):  # a computed __all__ is not checked
                if names is None:
                    names = set()
                names |= {
                    e.value
                    for e in value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                }
        return frozenset(names) if names is not None else None


class Package:
    """A ``linkage`` source tree: modules by dotted name, and the two checks."""

    def __init__(self, modules: list[Module]) -> None:
        self.modules = {m.name: m for m in modules}

    @classmethod
    def from_dir(cls, src: pathlib.Path) -> Package:
        mods = []
        for path in sorted(src.rglob("*.py")):
            rel = path.relative_to(src.parent)
            mods.append(_module(rel.as_posix(), path.read_text(encoding="utf-8"), "src/"))
        return cls(mods)

    @classmethod
    def from_sources(cls, sources: Mapping[str, str]) -> Package:
        """Synthetic package from ``{"linkage/clean/_core.py": source}``."""
        return cls([_module(rel, text) for rel, text in sources.items()])

    # -- what a module uses -------------------------------------------------------------------

    def _is_module(self, dotted: str) -> bool:
        return dotted in self.modules or (part_of(dotted) in RANK and dotted.count(".") == 1)

    def _from(self, base: str, name: str) -> tuple[str, str | None]:
        """``from base import name``: a submodule, or a name of ``base``."""
        sub = f"{base}.{name}"
        return (sub, None) if self._is_module(sub) else (base, name)

    def refs(self, mod: Module) -> list[Ref]:
        """Every use of another module by ``mod``, anywhere in its tree."""
        out: list[Ref] = []
        bindings: dict[str, str] = {}  # local name -> linkage module it is bound to
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    text = ast.unparse(ast.Import(names=[alias]))
                    out.append(Ref(node.lineno, text, alias.name))
                    if alias.asname:
                        bindings[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        bindings[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(mod, node.module or "", node.level)
                for alias in node.names:
                    text = ast.unparse(ast.ImportFrom(node.module, [alias], node.level))
                    module, name = self._from(base, alias.name)
                    out.append(Ref(node.lineno, text, module, name))
                    if name is None:
                        bindings[alias.asname or alias.name] = module
            elif isinstance(node, ast.Call):
                found = self._string_import(mod, node)
                out.extend(found)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                found = self._string_import(mod, node.value)
                if found and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    bindings[node.targets[0].id] = found[-1].module
        out.extend(self._attribute_refs(mod, {k: v for k, v in bindings.items() if is_linkage(v)}))
        return out

    def _string_import(self, mod: Module, call: ast.Call) -> list[Ref]:
        """``importlib.import_module("linkage.x")``, ``__import__("linkage.x", fromlist=...)``."""
        func = call.func
        fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if fname not in IMPORT_FUNCTIONS or not call.args:
            return []
        target = _literal(call.args[0])
        if target is None:
            return []
        text = ast.unparse(call)
        args = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        level = len(target) - len(target.lstrip("."))
        fromlist: list[str] = []
        if fname == "import_module":
            if level:
                package = args.get("package", call.args[1] if len(call.args) > 1 else None)
                anchor = _package_arg(mod, package)
                base = anchor.split(".")
                base = base[: len(base) - (level - 1)]
                target = ".".join([*base, target[level:]]).rstrip(".")
        else:
            lvl = args.get("level", call.args[4] if len(call.args) > 4 else None)
            if isinstance(lvl, ast.Constant) and isinstance(lvl.value, int):
                level = lvl.value
            target = _absolute(mod, target, level)
            fl = args.get("fromlist", call.args[3] if len(call.args) > 3 else None)
            if isinstance(fl, ast.List | ast.Tuple):
                fromlist = [s for e in fl.elts if (s := _literal(e)) is not None]
        refs = [Ref(call.lineno, text, target)]
        for name in fromlist:
            refs.append(Ref(call.lineno, text, *self._from(target, name)))
        return refs

    def _attribute_refs(self, mod: Module, bindings: Mapping[str, str]) -> Iterator[Ref]:
        """``linkage.stats.lags`` after ``import linkage``, ``io._read`` after ``from linkage
        import io``: chains through a bound module that reach another module or a private name."""
        # attributes that are the base of a longer chain: only whole chains are looked at
        inner = {id(n.value) for n in ast.walk(mod.tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.Attribute) or id(node) in inner:
                continue
            attrs: list[str] = []
            base: ast.expr = node
            while isinstance(base, ast.Attribute):
                attrs.insert(0, base.attr)
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in bindings:
                continue
            start = current = bindings[base.id]
            name = None
            for attr in attrs:
                if self._is_module(f"{current}.{attr}"):
                    current = f"{current}.{attr}"
                else:
                    name = attr
                    break
            if current != start or (name is not None and is_private(name)):
                yield Ref(node.lineno, ast.unparse(node), current, name)

    # -- the two rules ------------------------------------------------------------------------

    def root_rank(self) -> int:
        root = self.modules.get(ROOT)
        ranks = [
            RANK.get(part_of(r.module) or "", 99)
            for r in (self.refs(root) if root else [])
            if is_linkage(r.module) and r.module != ROOT
        ]
        return max(ranks, default=-1)

    def layer_problems(self, name: str) -> list[str]:
        mod = self.modules[name]
        part = part_of(name)
        problems: list[str] = []
        if part is not None and part not in RANK:
            return [f"{mod.file}:1: new top-level part {part!r}: give it a rank in RANK"]
        rank = RANK[part] if part is not None else 0
        exported = mod.exports or frozenset()
        for ref in self.refs(mod):
            if not is_linkage(ref.module):
                continue
            target = part_of(ref.module)
            where = f"{mod.file}:{ref.line}: {ref.text}"
            if target is None:  # the root package
                root_rank = self.root_rank() if part is not None else -1
                if root_rank > rank:
                    problems.append(
                        f"{where}: imports {ROOT}, whose __init__ imports a part of rank "
                        f"{root_rank} (higher than {part}, rank {rank})"
                    )
            elif target not in RANK:
                problems.append(f"{where}: imports {ref.module}, not a part with a rank in RANK")
            elif part is None:  # the root: runs before every other module of the package
                shown = ref.name or ref.module.rpartition(".")[2]
                if RANK[target] > 0:
                    problems.append(
                        f"{where}: the package root imports {ref.module} (rank {RANK[target]}); "
                        "every import of a linkage module runs the root first, so it may import "
                        "only from rank 0"
                    )
                if shown not in exported:
                    problems.append(
                        f"{where}: the package root imports {shown!r} without documenting it "
                        "in __all__"
                    )
            elif RANK[target] > rank:
                problems.append(
                    f"{where}: {part} (rank {rank}) imports {ref.module} "
                    f"({target}, rank {RANK[target]}): a higher layer"
                )
        return problems

    def private_problems(self, name: str) -> list[str]:
        mod = self.modules[name]
        own = part_of(name)
        problems: list[str] = []
        for ref in self.refs(mod):
            if not is_linkage(ref.module):
                continue
            where = f"{mod.file}:{ref.line}: {ref.text}"
            target = part_of(ref.module)
            below = ref.module.split(".")[2:]
            if ref.name is not None and is_private(ref.name):
                problems.append(
                    f"{where}: imports the private name {ref.name} from {ref.module}; make it "
                    "public (in a private module if it is internal to one part)"
                )
            elif target != own and any(is_private(b) for b in below):
                problems.append(
                    f"{where}: {own or ROOT} uses the private module {ref.module} of {target}; "
                    f"across parts use linkage.{target} (its __all__) or a public module"
                )
            elif target != own and ref.name is not None and ref.module in self.modules:
                exports = self.modules[ref.module].exports
                if exports is not None and ref.name not in exports:
                    problems.append(
                        f"{where}: {ref.name} is not in {ref.module}.__all__; across parts use "
                        "only exported names"
                    )
        return problems


def _module(rel: str, source: str, prefix: str = "") -> Module:
    """``linkage/stats/lags.py`` -> module ``linkage.stats.lags``."""
    bits = rel.removesuffix(".py").split("/")
    is_package = bits[-1] == "__init__"
    if is_package:
        bits = bits[:-1]
    return Module(".".join(bits), prefix + rel, is_package, source)


def _absolute(mod: Module, module: str, level: int) -> str:
    """Resolve ``from .<level> module import`` against ``mod``'s package."""
    if level == 0:
        return module
    base = mod.package.split(".")
    base = base[: len(base) - (level - 1)]
    if not base:
        return "<beyond the top-level package>"
    return ".".join([*base, *([module] if module else [])])


def _literal(node: ast.expr) -> str | None:
    """A string literal, or an f-string with each ``{...}`` shown as ``*``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "*"
            for v in node.values
        )
    return None


def _package_arg(mod: Module, node: ast.expr | None) -> str:
    if isinstance(node, ast.Name) and node.id == "__name__":
        return mod.name
    literal = _literal(node) if node is not None else None
    return literal if literal is not None else mod.package  # ``__package__`` or unknown


# -- the real package --------------------------------------------------------------------------

PACKAGE = Package.from_dir(SRC)
NAMES = sorted(PACKAGE.modules)


def _id(name: str) -> str:
    return PACKAGE.modules[name].file.removeprefix("src/linkage/")


def test_every_module_is_checked() -> None:
    files = {p.relative_to(SRC.parent).as_posix() for p in SRC.rglob("*.py")}
    assert {m.file.removeprefix("src/") for m in PACKAGE.modules.values()} == files
    assert ROOT in PACKAGE.modules and "linkage.stats" in PACKAGE.modules


@pytest.mark.parametrize("name", NAMES, ids=_id)
def test_imports_point_down(name: str) -> None:
    problems = PACKAGE.layer_problems(name)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", NAMES, ids=_id)
def test_no_private_imports(name: str) -> None:
    problems = PACKAGE.private_problems(name)
    assert not problems, "private imports:\n" + "\n".join(problems)


# -- the checker on synthetic packages ---------------------------------------------------------

BASE = {
    "linkage/__init__.py": '"""root"""\n__version__ = "0"\n',
    "linkage/errors.py": "class InputError(ValueError): ...\n",
    "linkage/privacy.py": "def suppress(): ...\n",
    "linkage/io/__init__.py": (
        "from linkage.io._read import read_table\n"
        "import importlib\n"
        "__all__ = ['read_table', 'schemas']\n"
    ),
    "linkage/io/_read.py": "def read_table(): ...\n",
    "linkage/io/schemas.py": "def check(): ...\n_hidden = 1\n",
    "linkage/clean/__init__.py": "from linkage.clean._dates import parse\n__all__ = ['parse']\n",
    "linkage/clean/_dates.py": "def parse(): ...\ndef _helper(): ...\n",
    "linkage/stats/__init__.py": "__all__ = ['analyse']\n",
    "linkage/stats/lags.py": "def f(): ...\n",
    "linkage/stats/_prep.py": "def check_ci(): ...\n",
    "linkage/app/__init__.py": "",
    "linkage/cli/__init__.py": "",
    "linkage/cli/_run.py": "",
}
IMPORTER = "linkage/clean/_core.py"  # rank 1


def _problems(source: str, rule: str, importer: str = IMPORTER, **extra: str) -> list[str]:
    pkg = Package.from_sources({**BASE, **extra, importer: source})
    name = _module(importer, source).name
    check = pkg.layer_problems if rule == "layers" else pkg.private_problems
    return check(name)


UPWARD = [
    "import linkage.stats",
    "import linkage.stats.lags as z",
    "from linkage import stats",
    "from linkage import errors, stats",
    "from linkage.stats import lags",
    "from linkage.stats.lags import f",
    "from linkage.stats import analyse",
    "from .. import stats",
    "from ..stats import lags",
    "from ..stats.lags import f",
    "import linkage.app",
    "import linkage.cli._run",
    "def g():\n    from linkage import stats",
    "class C:\n    def m(self):\n        import linkage.stats",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from linkage.stats import Result",
    "try:\n    import linkage.stats\nexcept ImportError:\n    pass",
    "import importlib\nimportlib.import_module('linkage.stats')",
    "import importlib as il\nm = il.import_module('linkage.stats.lags')",
    "from importlib import import_module\nimport_module('linkage.stats.lags')",
    "import importlib\nimportlib.import_module('..stats', package=__package__)",
    "import importlib\nimportlib.import_module('...stats', __name__)",
    "import importlib\nimportlib.import_module('.lags', package='linkage.stats')",
    "import importlib\nimportlib.import_module(f'linkage.stats.{name}')",
    "import importlib\nimportlib.import_module(f'linkage.{name}')",
    "__import__('linkage.stats')",
    "__import__('linkage', fromlist=['stats'])",
    "import builtins\nbuiltins.__import__('stats', globals(), None, [], 2)",
    "import linkage.errors\nx = linkage.stats.lags.f",
    "import linkage\nlinkage.viz",
    "import linkage.newpart",
]


@pytest.mark.parametrize("source", UPWARD)
def test_checker_finds_upward_imports(source: str) -> None:
    problems = _problems(source, "layers")
    assert problems, f"not detected: {source!r}"
    line = source.count("\n") + 1 if "import_module" in source or "__import__" in source else None
    assert all(p.startswith(f"{IMPORTER}:") for p in problems)
    if line is not None:
        assert any(p.startswith(f"{IMPORTER}:{line}:") for p in problems)


DOWNWARD = [
    "from __future__ import annotations\nimport os\nimport pandas as pd",
    "from linkage.errors import InputError",
    "from linkage import errors, io, privacy",
    "from linkage import __version__",
    "import linkage",
    "import linkage.io",
    "import linkage.io.schemas as s",
    "from .. import io",
    "from ..io import read_table",
    "from . import _dates",
    "from ._dates import parse",
    "from linkage.clean._dates import parse",
    "import importlib\nimportlib.import_module('linkage.io.schemas')",
    "import importlib\nimportlib.import_module('.._dates', package='linkage.clean._core')",
    "import importlib\nimportlib.import_module(name)",
    "from linkage import io\nio.read_table()\nio.schemas.check()",
    "import linkage.io\nlinkage.io.read_table()",
    "from linkage.privacy import suppress as _suppress",
]


@pytest.mark.parametrize("source", DOWNWARD)
def test_checker_allows_downward_imports(source: str) -> None:
    assert _problems(source, "layers") == []
    assert _problems(source, "private") == []


def test_checker_message_names_file_line_and_import() -> None:
    source = "import os\n\n\ndef g():\n    from linkage.stats import lags, f\n"
    assert _problems(source, "layers") == [
        f"{IMPORTER}:5: from linkage.stats import lags: clean (rank 1) imports "
        "linkage.stats.lags (stats, rank 5): a higher layer",
        f"{IMPORTER}:5: from linkage.stats import f: clean (rank 1) imports "
        "linkage.stats (stats, rank 5): a higher layer",
    ]
    problems = _problems("\nfrom linkage.io._read import read_table\n", "private")
    assert problems == [
        f"{IMPORTER}:2: from linkage.io._read import read_table: clean uses the private module "
        "linkage.io._read of io; across parts use linkage.io (its __all__) or a public module"
    ]


def test_checker_root_package() -> None:
    # the root runs before every module: only documented names from rank 0
    ok = "from linkage.errors import InputError\n__all__ = ['InputError']\n"
    assert _problems(ok, "layers", "linkage/__init__.py") == []
    undocumented = "from linkage.errors import InputError\n"
    assert "__all__" in _problems(undocumented, "layers", "linkage/__init__.py")[0]
    high = "from linkage.stats import analyse\n__all__ = ['analyse']\n"
    assert "rank 5" in _problems(high, "layers", "linkage/__init__.py")[0]
    assert _problems("import os\n", "layers", "linkage/__init__.py") == []
    # ... and a low module reading the root's __version__ then imports stats too
    root = {"linkage/__init__.py": high}
    assert _problems("from linkage import __version__", "layers", **root)
    assert _problems("from linkage import __version__", "layers", "linkage/cli/_x.py", **root) == []


def test_checker_new_part_needs_a_rank() -> None:
    assert "give it a rank" in _problems("", "layers", "linkage/extra/__init__.py")[0]


PRIVATE = [
    "from linkage.io._read import read_table",
    "import linkage.io._read",
    "import linkage.io._read as r",
    "from linkage.io import _read",
    "from ..io._read import read_table",
    "from ..io import _read",
    "def g():\n    from linkage.io._read import read_table",
    "import importlib\nimportlib.import_module('linkage.io._read')",
    "__import__('linkage.io', fromlist=['_read'])",
    "from linkage import io\nio._read.read_table()",
    "import linkage.io\nlinkage.io._read.read_table()",
    "from ._dates import _helper",
    "from linkage.clean._dates import _helper",
    "from . import _dates\n_dates._helper()",
    "from linkage.io.schemas import _hidden",
    "from linkage.io import importlib",  # imported by io/__init__ but not exported
    "from ..io import _secret",
]


@pytest.mark.parametrize("source", PRIVATE)
def test_checker_finds_private_imports(source: str) -> None:
    problems = _problems(source, "private")
    assert problems, f"not detected: {source!r}"
    assert all(p.startswith(f"{IMPORTER}:") for p in problems)


def test_checker_private_inside_one_part() -> None:
    # a private module's public names are fine in its own part, also from the part's __init__
    assert (
        _problems("from linkage.stats._prep import check_ci", "private", "linkage/stats/x.py") == []
    )
    assert _problems("from ._prep import check_ci", "private", "linkage/stats/__init__.py") == []
    assert (
        _problems(
            "import importlib\nimportlib.import_module(f'linkage.cli._{n}')",
            "private",
            "linkage/cli/__init__.py",
        )
        == []
    )
    # ... but never from another part, whether imported directly or by string
    assert _problems("from linkage.stats._prep import check_ci", "private", "linkage/cli/_x.py")
    assert _problems("import importlib\nimportlib.import_module(f'linkage.cli._{n}')", "private")
