"""Build step that puts the repository's dashboards, notebooks and bundled data into the package.

Everything else about the package is declared in ``pyproject.toml``. The folders named in
:data:`BUNDLE` live once, in the repository (``notebooks/``, ``data/``); building a wheel copies
them into ``linkage/share/`` with the same relative paths, where
``linkage.io.datasets.project_path`` finds them in an installed package. An editable install
(``pip install -e .``) copies nothing: it runs from the checkout, where the same function finds the
repository's own folders.
"""

from __future__ import annotations

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
#: Package folder (below ``linkage/``) receiving the copies.
SHARE = "share"
#: Repository folder -> file patterns copied from it (its relative path is kept below ``SHARE``).
BUNDLE: dict[str, tuple[str, ...]] = {
    "notebooks": ("*.ipynb",),  # the analyst notebooks
    "notebooks/workshop": ("*.ipynb",),  # the workshop notebooks and their solutions
    "notebooks/dashboards": ("*.ipynb", "voila.json"),  # what `linkage dashboard` serves
    "data/sample": ("*.csv", "*.json"),  # the sample world (make sample)
    "data/sample/raw": ("*.csv", "*.yaml"),  # its raw extracts and their column mapping
    "data/jolts": ("*.csv", "*.md"),  # BLS JOLTS quits rates and their provenance
}


def bundle_files(root: pathlib.Path = ROOT) -> list[pathlib.PurePosixPath]:
    """The files :data:`BUNDLE` selects, as paths relative to ``root``, sorted."""
    found = set()
    for folder, patterns in BUNDLE.items():
        for pattern in patterns:
            for path in (root / folder).glob(pattern):
                if path.is_file():
                    found.add(pathlib.PurePosixPath(path.relative_to(root).as_posix()))
    return sorted(found)


def copy_bundle(target: pathlib.Path, root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Copy the bundled files below ``target`` (emptied first); returns the files written."""
    files = bundle_files(root)
    if not files:
        raise SystemExit(f"nothing to bundle below {root}: is this a linkage checkout?")
    if target.exists():
        shutil.rmtree(target)
    written = []
    for rel in files:
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root.joinpath(*rel.parts), dest)
        written.append(dest)
    return written


class BuildWithBundle(build_py):
    """``build_py`` plus the copy of :data:`BUNDLE` into ``linkage/share`` (not for editables)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        self._bundled = copy_bundle(pathlib.Path(self.build_lib) / "linkage" / SHARE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [
            *super().get_outputs(include_bytecode),
            *map(str, getattr(self, "_bundled", [])),
        ]


if __name__ == "__main__":  # what the build backend runs; tests load this file without building
    setup(cmdclass={"build_py": BuildWithBundle})
