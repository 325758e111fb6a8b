"""Atomic writes of tables (CSV, Parquet), with spreadsheet-formula neutralising for CSV."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from linkage.errors import InputError

__all__ = ["write_table", "neutralise_formulas"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_formulas(data: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot run as spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    apostrophe (OWASP's advice against CSV injection), unless it is a plain number such as ``-5``
    or ``+1.5e3``. Numeric, date and boolean columns are left alone.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"name": ["=HYPERLINK(1)", "-5", "@x", "ok"], "n": [1, -2, 3, 4]})
    >>> neutralise_formulas(table)["name"].tolist()
    ["'=HYPERLINK(1)", '-5', "'@x", 'ok']
    """
    out = data.copy()
    for column in out.columns:
        col = out[column]
        if not (isinstance(col.dtype, pd.StringDtype) or col.dtype == object):
            continue
        text = col.astype("str").where(col.notna())
        risky = text.str.startswith(_FORMULA_START, na=False) & ~text.str.match(
            _PLAIN_NUMBER, na=False
        )
        if risky.any():
            out[column] = text.where(~risky, "'" + text)
    return out


def _for_csv(data: pd.DataFrame) -> pd.DataFrame:
    out = neutralise_formulas(data)
    # the header row is text too: a column name copied from an extract may be a formula
    names = pd.Series([str(c) for c in out.columns], dtype="str")
    risky = names.str.startswith(_FORMULA_START) & ~names.str.match(_PLAIN_NUMBER)
    if risky.any():
        out.columns = names.where(~risky, "'" + names).tolist()
    for column in out.columns:
        col = out[column]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            values = col.dropna()
            if values.eq(values.dt.normalize()).all():
                out[column] = col.dt.strftime("%Y-%m-%d").where(col.notna())
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def write_table(
    data: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    protect: Iterable[str | os.PathLike[str]] = (),
    index: bool = False,
) -> Path:
    """Write a table to CSV or Parquet (by suffix) atomically.

    The table goes to a temporary file in the target folder first, which then replaces ``path`` in
    one step (``os.replace``): a reader never sees half a file, and a failed write leaves the old
    file intact. CSV files are UTF-8 without BOM, comma separated, with dates at midnight written
    as ``YYYY-MM-DD`` and text cells and column names neutralised against spreadsheet formulas
    (:func:`neutralise_formulas`).

    Parameters
    ----------
    data : pandas.DataFrame
        The table (not modified).
    path : str or path-like
        Target file; ``.csv`` or ``.parquet`` (``.pq``).
    protect : iterable of paths, optional
        Files that must not be overwritten (the inputs of the same command).
    index : bool, default False
        Write the index as a column.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    linkage.errors.InputError
        Unknown suffix, a target that is one of ``protect``, or a folder that does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> table = pd.DataFrame({"period": pd.to_datetime(["2024-01-01"]), "note": ["=1+1"]})
    >>> print(write_table(table, folder / "out.csv").read_text(), end="")
    period,note
    2024-01-01,'=1+1
    >>> write_table(table, folder / "in.csv", protect=[folder / "in.csv"])
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: in.csv: refusing to overwrite an input file of this command
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError("can only write .csv or .parquet files", file=target.name)
    for other in protect:
        if _same_file(target, Path(other)):
            raise InputError(
                "refusing to overwrite an input file of this command", file=target.name
            )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"folder {str(folder)!r} does not exist", file=target.name)
    if target.is_dir():
        raise InputError("is a folder, not a file", file=target.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            if suffix == ".csv":
                _for_csv(data).to_csv(fh, index=index, lineterminator="\n", encoding="utf-8")
            else:
                data.to_parquet(fh, index=index)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
