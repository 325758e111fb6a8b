"""Cleaning the customer revenue extract (customer-level rows or a unit-level table).

The contract (rows kept or set aside with a reason, mappings, dates) is the one of
:mod:`linkage.clean._extracts`, whose cleaning pass does the work.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from linkage.clean._core import CleanResult
from linkage.clean._extracts import (
    Raw,
    check_schema,
    clean_extract,
    mapped_names,
    read_extract,
)
from linkage.errors import InputError
from linkage.io import section

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = ["clean_revenue", "UNIT_REVENUE_FIGURES"]


def clean_revenue(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    level: Literal["customer", "unit"] | None = None,
    freq: str = "M",
) -> CleanResult:
    """Clean a revenue table: customer level (per customer and period, or invoice) or unit level.

    Parameters
    ----------
    raw : pandas.DataFrame or path
        Customer level: ``customer_id``, ``unit_id``, ``period`` (any date in the period the
        revenue belongs to, or a month as ``YYYY-MM``), ``revenue``. Unit level: ``unit_id``,
        ``period``, ``revenue`` and optionally ``revenue_start``, ``revenue_retained``,
        ``revenue_retention`` (as :func:`linkage.panel.revenue_panel` writes them), one row per
        unit and period.
    mapping, source, units, as_of, date_format, dayfirst
        As in :func:`clean_employee_survey` (mapping section ``revenue``).
    level : {"customer", "unit"}, optional
        Default: ``"customer"`` when the table has a ``customer_id`` column (after ``mapping``),
        else ``"unit"``.
    freq : {"M", "Q", "Y"}, default "M"
        Unit level only: the period length; a unit listed again in the same period is set aside
        as ``duplicate_period``.

    Returns
    -------
    CleanResult
        ``data``: ``customer_id`` (customer level), ``unit_id`` (str), ``period`` (datetime64),
        ``revenue`` (float64; credits may be negative), at unit level the optional figures
        (float64, NaN when blank), then other columns as text. Reasons: ``duplicate_row``,
        ``missing_identifier``, ``missing_date``, ``unparseable_date``, ``impossible_date``,
        ``unparseable_number``, ``missing_number`` (no amount), ``future_date``,
        ``unknown_unit``, and at unit level ``duplicate_period``.

    Raises
    ------
    InputError
        For a missing column or a bad mapping; a unit-level table with more repeated unit-periods
        than kept rows (finer periods than ``freq``).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "unit_id": ["7", "7", "7"],
    ...                     "period": ["2024-01-01", "2024-02-01", "2024-02-01"],
    ...                     "revenue": ["120.50", "99", ""]})
    >>> result = clean_revenue(raw, as_of="2024-12-31")
    >>> result.data["revenue"].tolist(), result.rejects["reason"].tolist()
    ([120.5, 99.0], ['missing_number'])
    >>> units = pd.DataFrame({"Store": ["7", "7", "7"],
    ...                       "Month": ["2024-01", "2024-02", "2024-02-15"],
    ...                       "Sales": ["1000", "1200", "1150"]})
    >>> names = {"unit_id": "Store", "period": "Month", "revenue": "Sales"}
    >>> result = clean_revenue(units, mapping=names, as_of="2024-12-31")
    >>> result.data
      unit_id     period  revenue
    0       7 2024-01-01   1000.0
    1       7 2024-02-01   1200.0
    >>> result.rejects[["row", "reason", "column"]].to_numpy().tolist()
    [[3, 'duplicate_period', 'Month']]
    """
    if level is None:
        raw, source = read_extract(raw, "revenue", source)
        level = (
            "customer"
            if "customer_id" in mapped_names(raw, section(mapping, "revenue")[0])
            else "unit"
        )
    if level not in ("customer", "unit"):
        raise InputError(f"level must be 'customer' or 'unit', not {level!r}", column="level")
    if freq not in ("M", "Q", "Y"):
        raise InputError(f"freq must be one of M, Q, Y, not {freq!r}", column="freq")
    common = {
        "table": "revenue",
        "date": "period",
        "amount": "revenue",
        "months": True,
        "mapping": mapping,
        "source": source,
        "units": units,
        "as_of": as_of,
        "date_format": date_format,
        "dayfirst": dayfirst,
    }
    if level == "customer":
        return clean_extract(
            raw,
            ids=("customer_id", "unit_id"),
            **common,
            hint=" (a customer-level revenue table; without customer_id: unit level, unit_id, "
            "period, revenue)",
        )
    return clean_extract(
        raw,
        ids=("unit_id",),
        numbers=UNIT_REVENUE_FIGURES,
        unique_period=freq,
        check=_check_unit_revenue,
        **common,
        hint=" (a unit-level revenue table; a customer-level one has customer_id, unit_id, "
        "period, revenue)",
    )


#: The optional figures of a unit-level revenue table (:func:`linkage.panel.revenue_panel`'s).
UNIT_REVENUE_FIGURES = ("revenue_start", "revenue_retained", "revenue_retention")


@functools.cache
def _unit_revenue_schema() -> pa.DataFrameSchema:
    import pandera.pandas as pa

    figures = {
        name: pa.Column(float, nullable=True, required=False) for name in UNIT_REVENUE_FIGURES
    }
    return pa.DataFrameSchema(
        {
            "unit_id": pa.Column(str),
            "period": pa.Column("datetime64[ns]", coerce=False, nullable=False),
            "revenue": pa.Column(float),
            **figures,
        },
        name="unit revenue",
        strict=False,
    )


def _check_unit_revenue(data: pd.DataFrame, *, file: str) -> None:
    """The typed unit-level revenue table (pandera, every problem at once)."""
    check_schema(_unit_revenue_schema(), data, file=file, what="unit revenue")
