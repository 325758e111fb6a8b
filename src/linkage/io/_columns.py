"""The one missing-column check (light: no pandera), re-exported by :mod:`linkage.io`."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from linkage.errors import InputError

__all__ = ["require_columns"]


def require_columns(
    data: pd.DataFrame,
    columns: Iterable[str | None],
    *,
    file: str | None = None,
    what: str = "table",
    hint: str | None = None,
) -> None:
    """Raise one :class:`InputError` naming the first of ``columns`` that ``data`` lacks.

    Parameters
    ----------
    data : DataFrame
        The table to check.
    columns : iterable of str
        Column names it must have (``None`` entries are skipped: optional roles).
    file : str, optional
        The file's name for the message.
    what : str
        What the table is, for the message (``"panel"``, ``"employee survey"``...).
    hint : str, optional
        What to do about it, appended to the message after a semicolon.

    Raises
    ------
    InputError
        ``"the <what> has no column 'x' (columns: ...)"`` (the first 12 it has, then ``hint``)
        with ``file`` and ``column`` set.

    Examples
    --------
    >>> t = pd.DataFrame({"unit_id": ["a"]})
    >>> require_columns(t, ["unit_id", None])
    >>> try:
    ...     require_columns(t, ["unit_id", "period"], file="p.csv", what="panel")
    ... except InputError as err:
    ...     print(err.problem, err.file, err.column)
    the panel has no column 'period' (columns: unit_id) p.csv period
    """
    for col in columns:
        if col is not None and col not in data.columns:
            known = ", ".join(map(str, list(data.columns)[:12]))
            tail = f"; {hint}" if hint else ""
            raise InputError(
                f"the {what} has no column {col!r} (columns: {known}){tail}", file=file, column=col
            )
