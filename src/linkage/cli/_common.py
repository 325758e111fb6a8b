"""Shared by several ``linkage`` commands: the options they share, name the file in errors, state
the survey alignment a panel implies, tables as text.

Every command reads its panel with :func:`linkage.io.read_panel` (``strict=False``: the files the
commands have always read) and checks columns with :func:`linkage.io.require_columns`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from linkage.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "add_unit_period",
    "add_bootstrap",
    "add_json",
    "with_file",
    "survey_alignment",
    "fmt",
]

#: the panel's survey wave columns and the setting each implies (the names of ``linkage panel``'s
#: ``--survey-align`` and of :func:`linkage.pipeline.prepare`'s ``customer_survey_align``)
_WAVES = {"es_wave": "survey_align", "cs_wave": "customer_survey_align"}


def add_unit_period(
    parser: argparse.ArgumentParser, *, period_help: str = "period column (default period)"
) -> None:
    """Declare ``--unit`` and ``--period``, the panel's unit and period columns.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_unit_period(p)
    >>> p.parse_args(["--unit", "store"])
    Namespace(unit='store', period='period')
    """
    parser.add_argument(
        "--unit", default="unit_id", metavar="COL", help="unit column (default unit_id)"
    )
    parser.add_argument("--period", default="period", metavar="COL", help=period_help)


def add_bootstrap(parser: argparse.ArgumentParser, *, boot: int = 2000) -> None:
    """Declare ``--boot`` (unit-bootstrap resamples, default ``boot``) and ``--seed``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_bootstrap(p, boot=1000)
    >>> p.parse_args([])
    Namespace(boot=1000, seed=0)
    """
    parser.add_argument(
        "--boot",
        type=int,
        default=boot,
        metavar="N",
        help=f"unit-bootstrap resamples (default {boot})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)"
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """Declare ``--json``: one JSON object instead of the report.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_json(p)
    >>> p.parse_args(["--json"])
    Namespace(json=True)
    """
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a report"
    )


def with_file(err: InputError, label: str) -> InputError:
    """The same :class:`InputError`, naming ``label`` as the file when it names none.

    Examples
    --------
    >>> str(with_file(InputError("bad", column="x"), "p.csv"))
    "p.csv, column 'x': bad"
    """
    if err.file is None:
        return InputError(err.problem, file=label, row=err.row, column=err.column)
    return err


def survey_alignment(data: pd.DataFrame, *, unit: str) -> dict[str, str | None]:
    """The survey alignment a panel's ``es_wave`` / ``cs_wave`` columns imply.

    A wave carried ``"forward"`` appears in more than one period of a unit; a ``"wave"``-aligned
    one only in its own period. ``None`` when the panel has no such column (or no wave in it).

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"unit_id": ["a", "a", "a"], "es_wave": ["2024-01-01", "2024-01-01", None],
    ...                   "cs_wave": ["2024-01-01", "2024-02-01", None]})
    >>> survey_alignment(p, unit="unit_id")
    {'survey_align': 'forward', 'customer_survey_align': 'wave'}
    >>> survey_alignment(p[["unit_id"]], unit="unit_id")
    {'survey_align': None, 'customer_survey_align': None}
    """
    out: dict[str, str | None] = {}
    for col, key in _WAVES.items():
        waves = data[[unit, col]].dropna() if col in data.columns and unit in data.columns else None
        if waves is None or waves.empty:
            out[key] = None
        else:
            out[key] = "forward" if bool(waves.duplicated().any()) else "wave"
    return out


def fmt(df: pd.DataFrame, columns: Sequence[str]) -> str:
    """A table as aligned text, three decimals (p-values three significant digits).

    Examples
    --------
    >>> import pandas as pd
    >>> print(fmt(pd.DataFrame({"r": [0.12345], "p_val": [0.000123], "n": [3]}), ["r", "p_val"]))
        r    p_val
    0.123 0.000123
    """
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
