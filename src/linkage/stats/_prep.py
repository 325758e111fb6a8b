"""Checking a long panel and laying it out on a unit x period grid.

Every statistic in :mod:`linkage.stats` starts here. The grid is what makes lags exact and fast: a
unit's value at period step ``t`` sits in column ``t``, so pairing x(u, t) with y(u, t + k) is a
shift of columns, never a shift of rows. Missing periods (gaps, units that start late or stop early)
are empty cells and simply drop out of the pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io import require_columns
from linkage.io.periods import period_index

DEFAULT_X = "employee_retention"
DEFAULT_Y = "customer_retention"
DEFAULT_UNIT = "unit_id"
DEFAULT_PERIOD = "period"

#: largest unit x period grid accepted (cells); beyond it the periods are too fine for a panel
MAX_CELLS = 50_000_000

#: how many periods of each named step make a year
PER_YEAR = {"month": 12, "quarter": 4, "year": 1, "week": 52, "day": 365}


@dataclass(frozen=True)
class Grid:
    """A panel laid out as unit x period arrays (``NaN`` where a value is missing).

    ``values`` maps each laid-out column to its (units, periods) array; ``X`` and ``Y`` are those
    of the columns named ``x`` and ``y`` (the pair most statistics use). ``W`` holds the
    observation weights (ones when none are asked for). ``units`` are the unit labels in row
    order, ``periods`` the period values of the columns, ``step`` the name of one period
    ("month", "quarter", "year", "week", "day", or "period" for plain integers).
    """

    values: dict[str, np.ndarray]
    W: np.ndarray
    units: np.ndarray
    periods: np.ndarray
    step: str
    weighted: bool
    x: str | None = None
    y: str | None = None

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[column]

    def get(self, column: str | None) -> np.ndarray | None:
        """The array of ``column``, ``None`` when ``column`` is ``None``."""
        return None if column is None else self.values[column]

    @property
    def X(self) -> np.ndarray:
        if self.x is None:
            raise KeyError("this grid has no x column")
        return self.values[self.x]

    @property
    def Y(self) -> np.ndarray:
        if self.y is None:
            raise KeyError("this grid has no y column")
        return self.values[self.y]

    @property
    def n_units(self) -> int:
        return self.W.shape[0]

    @property
    def per_year(self) -> int | None:
        return PER_YEAR.get(self.step)


def check_columns(
    data: pd.DataFrame, columns: dict[str, str | None], *, file: str | None = None
) -> None:
    """Raise :class:`InputError` unless ``data`` is a DataFrame with every requested column.

    ``columns`` maps each role (``x``, ``unit``, ...) to its column; the column check is
    :func:`linkage.io.require_columns`, the one used everywhere.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(data).__name__}", file=file)
    require_columns(data, columns, file=file, what="data")


def check_ci(ci: float) -> None:
    """Raise :class:`InputError` unless the confidence level ``ci`` lies strictly in (0, 1)."""
    if not 0 < ci < 1:
        raise InputError(f"ci must be between 0 and 1, got {ci!r}")


def check_whole(name: str, value: object, *, low: int | None = None) -> int:
    """``value`` as an int; :class:`InputError` unless it is a whole number (``>= low``).

    Booleans are refused (``True`` is not a lag), whole floats such as ``2.0`` accepted.

    Examples
    --------
    >>> check_whole("lag", 2.0), check_whole("n_boot", 0, low=0)
    (2, 0)
    >>> check_whole("lag_xm", -1, low=0)
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: lag_xm must be a whole number >= 0, got -1
    """
    if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
        if math.isfinite(value) and int(value) == value and (low is None or value >= low):
            return int(value)
    at_least = "" if low is None else f" >= {low}"
    raise InputError(f"{name} must be a whole number{at_least}, got {value!r}")


def numeric(data: pd.DataFrame, col: str, *, file: str | None = None) -> np.ndarray:
    """Column ``col`` as float64 (missing -> NaN); :class:`InputError` when it is not numeric."""
    s = data[col]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna() & s.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise InputError(
                f"value {s.iloc[row - 1]!r} is not a number", file=file, row=row, column=col
            )
        s = conv
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(out).any():
        row = int(np.flatnonzero(np.isinf(out))[0]) + 1
        raise InputError("value is infinite", file=file, row=row, column=col)
    return out


def period_steps(
    data: pd.DataFrame, period: str, *, file: str | None = None
) -> tuple[np.ndarray, str]:
    """Integer period steps (0, 1, 2, ... from the first period) and the name of one step.

    The inference is :func:`linkage.io.periods.period_index`, the one the panel reader uses: any
    date inside a month (month-end, mid-month, month-start) means that month, quarter-end dates a
    quarter, ``YYYY-MM`` a month, ``YYYY-Qn`` a quarter, whole numbers (years, period numbers)
    count as they are; dates that fit no period are refused.

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.to_datetime(["2022-01-31", "2022-02-28", "2022-04-30"])})
    >>> steps, step = period_steps(df, "t")
    >>> steps.tolist(), step
    ([0, 1, 3], 'month')
    """
    return period_index(data[period], column=period, file=file)


def make_grid(
    data: pd.DataFrame,
    *,
    x: str | None = None,
    y: str | None = None,
    columns: Sequence[str] = (),
    unit: str,
    period: str,
    weights: str | None = None,
    file: str | None = None,
) -> Grid:
    """Check ``data`` and lay ``x``, ``y``, ``columns`` (and ``weights``) out on a unit x period
    grid.

    Each column gets its own (units, periods) array in :attr:`Grid.values`; ``x`` and ``y`` are
    also :attr:`Grid.X` and :attr:`Grid.Y`. A cell with zero weight is missing in every column.

    Examples
    --------
    >>> df = pd.DataFrame({"u": ["a", "a", "b"], "t": [1, 2, 2], "e": [0.9, 0.8, 0.7],
    ...                    "c": [0.5, 0.6, 0.4], "m": [1.0, 2.0, 3.0]})
    >>> g = make_grid(df, x="e", y="c", columns=["m"], unit="u", period="t")
    >>> g.X.tolist(), g["m"].tolist(), g.units.tolist()
    ([[0.9, 0.8], [nan, 0.7]], [[1.0, 2.0], [nan, 3.0]], ['a', 'b'])
    >>> make_grid(df, columns=["m", "e"], unit="u", period="t")["e"].shape
    (2, 2)
    """
    names = [c for c in (x, y) if c is not None] + list(columns)
    if not names:
        raise InputError("no columns to lay out on the grid", file=file)
    roles = {"x": x, "y": y, "unit": unit, "period": period, "weights": weights}
    check_columns(data, roles, file=file)
    for c in columns:
        check_columns(data, {"value": c}, file=file)
    if x is not None and x == y:
        raise InputError(f"x and y are the same column {x!r}", file=file, column=x)
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise InputError(
            f"column {repeated[0]!r} is asked for twice", file=file, column=repeated[0]
        )
    if data[unit].isna().any():
        row = int(np.flatnonzero(data[unit].isna().to_numpy())[0]) + 1
        raise InputError("unit is missing", file=file, row=row, column=unit)
    raw = {c: numeric(data, c, file=file) for c in names}
    if weights is not None:
        wv = numeric(data, weights, file=file)
        if (wv < 0).any():
            row = int(np.flatnonzero(wv < 0)[0]) + 1
            raise InputError("weights must not be negative", file=file, row=row, column=weights)
    else:
        wv = np.ones(len(data))
    steps, step_name = period_steps(data, period, file=file)
    codes, labels = pd.factorize(data[unit].astype(str), sort=True)
    units = np.asarray(labels, dtype=object)
    n_periods = int(steps.max()) + 1 if len(steps) else 0
    if len(units) * n_periods > MAX_CELLS:
        raise InputError(
            f"{len(units)} units x {n_periods} periods is too large a grid: aggregate the "
            "periods (e.g. to months) first",
            file=file,
            column=period,
        )
    flat = codes.astype(np.int64) * n_periods + steps
    if len(flat) != len(np.unique(flat)):
        dup = pd.Series(flat).duplicated().to_numpy()
        row = int(np.flatnonzero(dup)[0]) + 1
        raise InputError(
            f"more than one row for unit {data[unit].iloc[row - 1]!r} in this period",
            file=file,
            row=row,
            column=period,
        )
    shape = (len(units), n_periods)
    W = np.full(shape, np.nan)
    W.flat[flat] = np.where(np.isnan(wv), 0.0, wv)
    W = np.where(np.isnan(W), 0.0, W)
    # a cell with zero weight carries no information: treat it as missing in every column
    zero = W <= 0
    values = {}
    for c, v in raw.items():
        A = np.full(shape, np.nan)
        A.flat[flat] = v
        A[zero] = np.nan
        values[c] = A
    pvals = np.full(n_periods, None, dtype=object)
    firsts = pd.Series(steps).drop_duplicates().index.to_numpy()
    pvals[steps[firsts]] = data[period].iloc[firsts].to_numpy(dtype=object)
    return Grid(
        values=values,
        W=W,
        units=units,
        periods=pvals,
        step=step_name,
        weighted=weights is not None,
        x=x,
        y=y,
    )


def shift_pairs(A: np.ndarray, B: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, slice]:
    """Columns of ``A`` at t and ``B`` at t + k, for every t where both exist.

    Returns the two aligned arrays and the slice of grid columns that ``A`` was taken from (the
    "pair period" t).

    Examples
    --------
    >>> A = np.array([[1.0, 2.0, 3.0]])
    >>> a, b, s = shift_pairs(A, 10 * A, 1)
    >>> a.tolist(), b.tolist(), s
    ([[1.0, 2.0]], [[20.0, 30.0]], slice(0, 2, None))
    """
    T = A.shape[1]
    if abs(k) >= T:
        return A[:, :0], B[:, :0], slice(0, 0)
    if k >= 0:
        return A[:, : T - k], B[:, k:], slice(0, T - k)
    return A[:, -k:], B[:, : T + k], slice(-k, T)
