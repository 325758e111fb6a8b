"""The one missing-column check (light: no pandera), re-exported by :mod:`linkage.io`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from linkage.errors import InputError

__all__ = ["require_columns"]


def require_columns(
    data: pd.DataFrame,
    columns: Iterable[str | None] | Mapping[str, str | None],
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
    columns : iterable of str, or mapping of role to str
        Column names it must have (``None`` entries are skipped: optional roles). A mapping
        names each column's role (``{"x": "employee_retention"}``) and the message says it.
    file : str, optional
        The file's name for the message.
    what : str
        What the table is, for the message (``"panel"``, ``"employee survey"``...).
    hint : str, optional
        What to do about it, appended to the message after a semicolon.

    Raises
    ------
    InputError
        ``"the <what> has no column 'x' (columns: ...)"`` (``"no <role> column"`` when a role
        is given; the first 12 columns it has, then ``hint``) with ``file`` and ``column`` set.

    Examples
    --------
    >>> t = pd.DataFrame({"unit_id": ["a"]})
    >>> require_columns(t, ["unit_id", None])
    >>> try:
    ...     require_columns(t, ["unit_id", "period"], file="p.csv", what="panel")
    ... except InputError as err:
    ...     print(err.problem, err.file, err.column)
    the panel has no column 'period' (columns: unit_id) p.csv period
    >>> try:
    ...     require_columns(t, {"unit": "unit_id", "x": "emp"}, what="data")
    ... except InputError as err:
    ...     print(err.problem)
    the data has no x column 'emp' (columns: unit_id)
    """
    roles = columns.items() if isinstance(columns, Mapping) else ((None, c) for c in columns)
    for role, col in roles:
        if col is not None and col not in data.columns:
            known = ", ".join(map(str, list(data.columns)[:12]))
            tail = f"; {hint}" if hint else ""
            named = f"{role} column" if role else "column"
            raise InputError(
                f"the {what} has no {named} {col!r} (columns: {known}){tail}",
                file=file,
                column=col,
            )
