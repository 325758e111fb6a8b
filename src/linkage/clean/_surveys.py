"""Cleaning the survey extracts: the employee survey and the customer survey.

The contract (rows kept or set aside with a reason, mappings, dates) is the one of
:mod:`linkage.clean._extracts`, whose cleaning pass does the work.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from linkage.clean._core import (
    CleanResult,
    text_cells,
)
from linkage.clean._extracts import (
    Raw,
    check_schema,
    clean_extract,
    mapped_names,
    read_extract,
    score_scale,
)
from linkage.errors import InputError
from linkage.io import OPTIONAL, REQUIRED, section, table_options

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = ["clean_employee_survey", "clean_customer_survey", "survey_items"]


def _numeric_share(cells: pd.Series) -> tuple[int, int, np.ndarray]:
    """Filled cells, how many of them are numbers, and the numbers."""
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        v = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        filled = int((~np.isnan(v)).sum())
        return filled, filled, v[~np.isnan(v)]
    text = text_cells(cells)
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return int(text.notna().sum()), int((~np.isnan(number)).sum()), number[~np.isnan(number)]


def _unit_level_survey(names: Sequence[str]) -> bool:
    """An employee survey of item means per unit and period (``period``, no ``survey_date``)."""
    return "period" in names and "survey_date" not in names


def survey_items(
    raw: pd.DataFrame,
    *,
    mapping: dict[str, Any] | None = None,
    scale: tuple[float, float] = (1, 5),
    file: str | None = None,
) -> list[str]:
    """The item columns of an employee survey: the mapping's ``items``, else every column the
    mapping does not take whose filled cells are mostly (at least half) numbers.

    Parameters
    ----------
    raw : pandas.DataFrame
        The extract as read (file column names).
    mapping : dict, optional
        A whole mapping or the ``employee_survey`` section (``items`` and columns).
    scale : (lowest, highest), default (1, 5)
        The answer scale: a numeric column most of whose numbers are off it is refused (it is not
        an item: list the items in the mapping).
    file : str, optional
        The file name for messages.

    Returns
    -------
    list of str
        The item names (canonical: as the mapping's ``items`` names them, else the file's).

    Raises
    ------
    InputError
        No item column, or a numeric column that is not on the scale.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"unit_id": ["7", "7"], "survey_date": ["2024-03-04", "2024-03-05"],
    ...                     "engagement": ["4", ""], "pay": ["2", "x"], "team": ["a", "b"]})
    >>> survey_items(raw)
    ['engagement', 'pay']
    >>> survey_items(raw, mapping={"items": {"engaged": "engagement"}})
    ['engaged']
    """
    columns, _ = section(mapping, "employee_survey")
    options = table_options(mapping, "employee_survey")
    if "items" in options:
        return list(options["items"])
    lo, hi = scale
    whole = not _unit_level_survey(mapped_names(raw, columns))
    fixed = {*REQUIRED["employee_survey"], *OPTIONAL["employee_survey"]}
    lookup = {str(c): c for c in raw.columns}
    items = []
    for name in mapped_names(raw, columns):
        if name in fixed:
            continue
        filled, numeric, values = _numeric_share(raw[lookup[name]])
        if numeric == 0 or 2 * numeric < filled:
            continue
        off = ((values < lo) | (values > hi) | (whole & (values != np.round(values)))).sum()
        if 2 * off > numeric:
            raise InputError(
                "looks numeric but most of its values are off the "
                f"{lo:g}-{hi:g} answer scale, so it is not an item: list the items in the "
                "mapping (employee_survey: {items: [...]}) or give the scale "
                "(employee_survey: {scale: [1, 7]})",
                file=file,
                column=name,
            )
        items.append(name)
    if not items:
        raise InputError(
            "no item columns (columns of numbers besides unit_id, survey_date, respondent_id): "
            "name them in the mapping (employee_survey: {items: [...]})",
            file=file,
        )
    return items


def clean_employee_survey(
    raw: Raw,
    *,
    items: Sequence[str] | None = None,
    scale: tuple[float, float] | None = None,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    freq: str = "M",
) -> CleanResult:
    """Clean an employee survey extract (one row per respondent and wave, or item means per unit).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        The extract: ``unit_id``, ``survey_date``, the item columns, optional ``respondent_id``;
        or, unit level (a ``period`` column and no ``survey_date``), one row per unit and period
        with ``respondents`` (a whole number >= 1) and the item means (on the scale, not
        necessarily whole; a unit and period listed again is ``duplicate_period``, a missing
        ``respondents`` ``missing_number``).
    items : sequence of str, optional
        The item columns (canonical names, after ``mapping``), e.g. ``["engagement", "pay"]``.
        Default: the mapping's ``items``, else every column the mapping does not take whose
        filled cells are mostly numbers (:func:`survey_items`).
    scale : (lowest, highest), optional
        The items' answer scale (default: the mapping's ``scale``, else (1, 5)); answers are
        whole numbers on it. A blank answer is kept as missing for that item (a skipped
        question).
    mapping : dict, optional
        A whole mapping (section ``employee_survey``, maybe ``dates``) or ``{canonical name: file
        column}``, e.g. ``{"unit_id": "Store", "survey_date": "Date"}``.
    source : str, optional
        The file name for the report (default: the file's name, or ``"employee_survey"``).
    units : pandas.DataFrame or CleanResult, optional
        Known units: rows of other units are set aside as ``unknown_unit``.
    as_of : date, optional
        The extract date: later dates are ``future_date`` (default: today).
    date_format, dayfirst
        How to read numeric dates (see :func:`linkage.clean.parse_dates`).
    freq : {"M", "Q", "Y"}, default "M"
        Unit level only: the period length (for ``duplicate_period``).

    Returns
    -------
    CleanResult
        ``data``: ``respondent_id`` (when given) and ``unit_id`` (str), ``survey_date``
        (datetime64), the items (float64, NaN for a skipped question), then other columns as
        trimmed text. Reasons (:data:`CHAIN_REASONS`): ``duplicate_row``, ``missing_identifier``
        (no unit), ``missing_date``, ``unparseable_date``, ``impossible_date``,
        ``unparseable_number``, ``out_of_scale``, ``empty_response`` (no item answered),
        ``future_date``, ``unknown_unit``, ``duplicate_response`` (a respondent id again in the
        same unit and month, when the extract has ``respondent_id``).

    Raises
    ------
    InputError
        For a missing column, an empty ``items``, a bad ``scale`` or ``mapping``.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4"],
    ...                     "unit_id": ["7", "7", "7", ""],
    ...                     "survey_date": ["2024-03-04", "2024-03-05", "2024-03-05", "2024-03-06"],
    ...                     "engagement": ["4", "9", "", "3"], "pay": ["2", "3", "", "1"]})
    >>> result = clean_employee_survey(raw, items=["engagement", "pay"], as_of="2024-12-31")
    >>> result.data
      respondent_id unit_id survey_date  engagement  pay
    0            r1       7  2024-03-04         4.0  2.0
    >>> rejects = result.rejects[["row", "reason", "column"]].to_numpy().tolist()
    >>> rejects  # doctest: +NORMALIZE_WHITESPACE
    [[2, 'out_of_scale', 'engagement'], [3, 'empty_response', ''],
     [4, 'missing_identifier', 'unit_id']]
    """
    if scale is None:
        scale = table_options(mapping, "employee_survey").get("scale", (1, 5))
    low_high = score_scale(scale, "scale")
    if items is None:
        raw, source = read_extract(raw, "employee_survey", source)
        items = survey_items(raw, mapping=mapping, scale=low_high, file=source)
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise InputError("items must be a non-empty list of item column names", column="items")
    reserved = [i for i in items if i in ("respondents", "wave")]
    if reserved:  # es_respondents and es_wave are the survey panel's own columns
        raise InputError(
            f"an item may not be called {reserved[0]!r} (es_{reserved[0]} is taken); rename it "
            "in the mapping (employee_survey: {items: {new name: column}})",
            column=reserved[0],
        )
    raw, source = read_extract(raw, "employee_survey", source)
    if _unit_level_survey(mapped_names(raw, section(mapping, "employee_survey")[0])):
        scores = {**dict.fromkeys(items, low_high), "respondents": (1.0, np.inf)}
        return clean_extract(
            raw,
            table="employee_survey",
            ids=("unit_id",),
            date="period",
            months=True,
            scores=scores,
            fractional=list(items),
            required_numbers=["respondents"],
            answers=list(items),
            unique_period=freq,
            mapping=mapping,
            source=source,
            units=units,
            as_of=as_of,
            date_format=date_format,
            dayfirst=dayfirst,
            check=_check_unit_survey,
            hint=" (a unit-level survey: unit_id, period, respondents and the item means)",
        )
    return clean_extract(
        raw,
        table="employee_survey",
        ids=("unit_id",),
        optional_ids=("respondent_id",),
        date="survey_date",
        scores=dict.fromkeys(items, low_high),
        answers=list(items),
        response_id="respondent_id",
        mapping=mapping,
        source=source,
        units=units,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
    )


def clean_customer_survey(
    raw: Raw,
    *,
    csat: bool | None = None,
    nps: bool | None = None,
    csat_scale: tuple[float, float] | None = None,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """Clean a customer survey extract (one row per response: CSAT and / or NPS).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        ``unit_id``, ``response_date``, ``csat`` and / or ``nps`` (0-10), optional
        ``response_id`` and ``customer_id``.
    csat, nps : bool, optional
        Whether the extract has that question (at least one); default: whether it has the
        column (after ``mapping``).
    csat_scale : (lowest, highest), optional
        The CSAT scale (default: the mapping's ``csat_scale``, else (1, 5)); NPS answers are
        whole numbers from 0 to 10.
    mapping, source, units, as_of, date_format, dayfirst
        As in :func:`clean_employee_survey`.

    Returns
    -------
    CleanResult
        ``data``: ``response_id``, ``customer_id`` (when given), ``unit_id`` (str),
        ``response_date`` (datetime64), ``csat``, ``nps`` (float64, NaN when not answered), then
        other columns as text. Reasons as :func:`clean_employee_survey` (``duplicate_response``:
        a ``response_id`` again in the same unit and month).

    Raises
    ------
    InputError
        For a missing column, neither question, a bad scale or mapping.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Store": ["7", "7", "7"],
    ...                     "When": ["2024-01-02", "2024-01-03", "2024-01-03"],
    ...                     "csat": [5, 4, 4], "nps": [10, 11, 8]})
    >>> result = clean_customer_survey(raw, mapping={"unit_id": "Store", "response_date": "When"},
    ...                                as_of="2024-12-31")
    >>> result.data["nps"].tolist(), result.rejects["reason"].tolist()
    ([10.0, 8.0], ['out_of_scale'])
    """
    if csat_scale is None:
        csat_scale = table_options(mapping, "customer_survey").get("csat_scale", (1, 5))
    if csat is None or nps is None:
        raw, source = read_extract(raw, "customer_survey", source)
        names = mapped_names(raw, section(mapping, "customer_survey")[0])
        csat = "csat" in names if csat is None else csat
        nps = "nps" in names if nps is None else nps
        if not (csat or nps):
            raise InputError(
                f"no csat or nps column (the file has: {', '.join(map(str, raw.columns))}); "
                "name them in the mapping's 'customer_survey' section",
                file=source,
            )
    if not (csat or nps):
        raise InputError("the customer survey needs at least one of csat and nps")
    scores = {}
    if csat:
        scores["csat"] = score_scale(csat_scale, "csat_scale")
    if nps:
        scores["nps"] = (0.0, 10.0)
    return clean_extract(
        raw,
        table="customer_survey",
        ids=("unit_id",),
        optional_ids=("response_id", "customer_id"),
        date="response_date",
        scores=scores,
        answers=list(scores),
        response_id="response_id",
        mapping=mapping,
        source=source,
        units=units,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
    )


@functools.cache
def _unit_survey_schema() -> pa.DataFrameSchema:
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "unit_id": pa.Column(str),
            "period": pa.Column("datetime64[ns]", nullable=False),
            "respondents": pa.Column(float, pa.Check.ge(1)),
        },
        name="unit survey",
        strict=False,
    )


def _check_unit_survey(data: pd.DataFrame, *, file: str) -> None:
    """The typed unit-level employee survey (pandera, every problem at once)."""
    check_schema(_unit_survey_schema(), data, file=file, what="unit-level employee survey")
