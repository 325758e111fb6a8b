"""Shared by several ``linkage`` commands: read a panel file, name it in errors, tables as text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    import pandas as pd

    from linkage.errors import InputError

__all__ = ["read_panel", "with_file", "fmt"]


def read_panel(
    path: str, *, numeric_columns: Iterable[str | None], period: str, unit: str
) -> tuple[pd.DataFrame, str]:
    """Read a panel file; the named columns become numbers, the period dates (or whole numbers).

    Returns the table and the file's name for messages. Shared by ``chain``, ``drivers`` and
    ``watchlist``.
    """
    import pathlib

    import pandas as pd

    from linkage.errors import InputError
    from linkage.io import read_table
    from linkage.stats._prep import check_columns, numeric

    label = pathlib.Path(path).name
    data = read_table(path)
    check_columns(data, {"unit": unit, "period": period}, file=label)
    cols = [c for c in dict.fromkeys(numeric_columns) if c is not None]
    for c in cols:
        check_columns(data, {"requested": c}, file=label)
    typed = data.assign(**{c: numeric(data, c, file=label) for c in cols})
    text = data[period].astype("string").str.strip()
    if text.str.fullmatch(r"[+-]?\d+").fillna(False).all():
        typed[period] = text.astype("int64")
    else:
        try:
            typed[period] = pd.to_datetime(text, format="ISO8601")
        except (ValueError, TypeError):
            bad = (
                int(
                    pd.to_datetime(text, format="ISO8601", errors="coerce")
                    .isna()
                    .to_numpy()
                    .argmax()
                )
                + 1
            )
            raise InputError(
                "period is neither a date (YYYY-MM-DD) nor a whole number",
                file=label,
                row=bad,
                column=period,
            ) from None
    return typed, label


def with_file(err: InputError, label: str) -> InputError:
    """The same :class:`InputError`, naming ``label`` as the file when it names none."""
    from linkage.errors import InputError

    if err.file is None:
        return InputError(err.problem, file=label, row=err.row, column=err.column)
    return err


def fmt(df: pd.DataFrame, columns: Iterable[str]) -> str:
    """A table as aligned text, three decimals (p-values three significant digits)."""
    import numpy as np

    cols = [c for c in columns if c in df.columns]
    out = df[cols].copy()
    for c in cols:
        if out[c].dtype.kind == "f":
            out[c] = [
                ("" if not np.isfinite(v) else f"{v:.3g}" if c.startswith("p_") else f"{v:.3f}")
                for v in out[c]
            ]
    return out.to_string(index=False)
