"""The package's own error types.

Bad input raises :class:`InputError` naming the file, row and column where they are known. The CLI
prints ``str(error)`` as one line and exits with status 2; it never shows a traceback for them.
"""

from __future__ import annotations

__all__ = ["LinkageError", "InputError"]


class LinkageError(Exception):
    """Base class of every error ``linkage`` raises on purpose (bad input, bad arguments)."""


class InputError(LinkageError):
    """An input file, table or argument that cannot be used.

    Parameters
    ----------
    problem : str
        What is wrong, in words a user understands.
    file : str, optional
        The file (or table name) the problem is in.
    row : int, optional
        1-based data row in the file (the header is row 0), when one row is to blame.
    column : str, optional
        The column to blame, as named in the file.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return (", ".join(where) + ": " if where else "") + self.problem
