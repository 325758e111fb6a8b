"""Checks of the tables the panel-side builders take (shared by surveys, revenue, segments, join).

Each raises :class:`linkage.errors.InputError` naming the table (``name``), the column and, where
one row is at fault, the first such row (1-based).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io import require_columns

__all__ = [
    "as_frame",
    "need_columns",
    "first_bad",
    "text_column",
    "dates",
    "date_column",
    "number_column",
    "window_periods",
]


def as_frame(data: object, name: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"must be a pandas DataFrame, not {type(data).__name__}", file=name)
    return data


def need_columns(data: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    require_columns(data, columns, file=name)


def first_bad(mask: np.ndarray, problem: str, name: str, column: str) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise InputError(
            f"{int(mask.sum())} row(s) {problem}; set them aside with linkage.clean first",
            file=name,
            row=row + 1,
            column=column,
        )


def text_column(data: pd.DataFrame, column: str, name: str) -> pd.Series:
    col = data[column]
    first_bad(col.isna().to_numpy(), f"have no {column}", name, column)
    return col.astype("str")


def dates(data: pd.DataFrame, column: str, name: str) -> pd.Series:
    """A column as naive datetime64 (NaT where empty); text must be ISO dates."""
    col = data[column]
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(col.dtype):
        return col
    if col.isna().all():
        return pd.Series(pd.NaT, index=col.index, dtype="datetime64[us]")
    try:
        return pd.to_datetime(col, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"does not hold dates ({exc}); parse dates with linkage.clean first",
            file=name,
            column=column,
        ) from None


def date_column(data: pd.DataFrame, column: str, name: str) -> pd.Series:
    col = dates(data, column, name)
    first_bad(col.isna().to_numpy(), f"have no {column}", name, column)
    return col


def window_periods(activity_window: object) -> int:
    """``activity_window`` checked: a whole number of periods, at least 1."""
    if (
        isinstance(activity_window, bool)
        or not isinstance(activity_window, (int, np.integer))
        or activity_window < 1
    ):
        raise InputError(
            f"activity_window must be a whole number of periods >= 1, not {activity_window!r}"
        )
    return int(activity_window)


def number_column(data: pd.DataFrame, column: str, name: str) -> np.ndarray:
    col = data[column]
    if pd.api.types.is_bool_dtype(col.dtype):
        raise InputError("holds true/false, not numbers", file=name, column=column)
    try:
        return pd.to_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"does not hold numbers ({exc}); clean it with linkage.clean first",
            file=name,
            column=column,
        ) from None
