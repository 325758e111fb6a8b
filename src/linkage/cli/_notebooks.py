"""``linkage notebooks``: copy the analyst and workshop notebooks and the bundled data to a folder.

The notebooks load their data through :mod:`linkage.io.datasets`, so the copies run wherever they
are put, from an installed wheel as from a checkout. The sample world (with its raw extracts and
their column mapping) and the JOLTS file are copied beside them, to read, to feed to
``linkage panel`` or to change (``LINKAGE_DATA=DEST/data`` makes the notebooks read the copy).
"""

from __future__ import annotations

import argparse
import pathlib

HELP = (
    "Copy the analyst and workshop notebooks and the bundled data to a folder, to run them there."
)

#: What is copied: (folder as in the repository, file pattern, folder below DEST).
COPIED = (
    ("notebooks", "*.ipynb", "."),
    ("notebooks/workshop", "*.ipynb", "workshop"),
    ("data/sample", "**/*", "data/sample"),
    ("data/jolts", "*", "data/jolts"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage notebooks``."""
    parser.add_argument(
        "dest", metavar="DEST", help="folder to copy to (created if missing, with its parents)"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite files of the same name already in DEST"
    )


def plan(dest: pathlib.Path) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """The (source, target) pairs :func:`run` copies to ``dest``, sources from this installation.

    Raises
    ------
    InputError
        If this installation carries none of the notebooks or data.
    """
    from linkage.errors import InputError
    from linkage.io.datasets import project_path

    pairs = []
    for folder, pattern, below in COPIED:
        source = project_path(*folder.split("/"))
        if source is None:
            raise InputError(
                f"this linkage installation carries no {folder} folder to copy; "
                "reinstall linkage from its wheel"
            )
        for path in sorted(source.glob(pattern)):
            rel = path.relative_to(source)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                pairs.append((path, (dest / below / rel).resolve()))
    return pairs


def run(args: argparse.Namespace) -> int:
    """Copy; refuse to overwrite unless ``--force``. Returns the exit status."""
    import shutil

    from linkage.errors import InputError

    dest = pathlib.Path(args.dest).expanduser()
    if not str(args.dest).strip():
        raise InputError("DEST is empty: name the folder to copy the notebooks to")
    if dest.exists() and not dest.is_dir():
        raise InputError("DEST is a file, not a folder", file=str(args.dest))
    pairs = plan(dest)
    blocked = [target for _, target in pairs if target.is_dir()]
    if blocked:
        raise InputError(
            f"a folder stands where a file is to be copied: {blocked[0]}", file=str(args.dest)
        )
    there = [target for _, target in pairs if target.exists()]
    if there and not args.force:
        shown = there[0].relative_to(dest.resolve())
        raise InputError(
            f"{len(there)} of the {len(pairs)} files to copy are already there (e.g. {shown}); "
            "pass --force to overwrite them",
            file=str(args.dest),
        )
    try:
        for source, target in pairs:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as err:
        raise InputError(
            f"cannot write there: {err.strerror or err}", file=str(err.filename or args.dest)
        ) from None
    notebooks = sum(target.suffix == ".ipynb" for _, target in pairs)
    print(
        f"copied {notebooks} notebooks and {len(pairs) - notebooks} data files to {dest}"
        + (f" ({len(there)} overwritten)" if there else "")
    )
    print(f"open them with: jupyter lab {dest}")
    return 0
