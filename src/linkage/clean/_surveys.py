"""Cleaning the chain's extracts: employee and customer surveys, customer revenue, segments.

The same contract as the other ``clean_*`` functions: every input row is either in ``data`` (typed,
canonical columns first) or in ``rejects`` with one reason, the first of :data:`CHAIN_REASONS`
that applies, and ``report`` accounts for every row. A mapping is a whole mapping (with the
table's section, ``employee_survey``, ``customer_survey``, ``revenue`` or ``segments``, and maybe
``dates``; see :mod:`linkage.io._mapping`) or a plain ``{canonical: file column}`` dict for this
table; dates take ``date_format`` / ``dayfirst`` as elsewhere (they win over the mapping's).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from linkage.clean._core import (
    _RESERVED,
    CleanResult,
    _as_of,
    _first_reasons,
    _row_numbers,
    _text,
    _unit_set,
)
from linkage.clean._dates import IMPOSSIBLE, MISSING, UNPARSEABLE, parse_dates
from linkage.errors import InputError
from linkage.io._mapping import apply_mapping, date_options, section, table_options
from linkage.io._read import _as_text, read_table
from linkage.io._tables import OPTIONAL, REQUIRED

__all__ = [
    "CHAIN_REASONS",
    "clean_employee_survey",
    "clean_customer_survey",
    "clean_revenue",
    "clean_segments",
    "survey_items",
]

#: Why a row of a survey, revenue or segments extract is set aside, in the order the checks run.
CHAIN_REASONS: dict[str, str] = {
    "duplicate_row": "exact copy of an earlier row, once cells are trimmed (the first is kept)",
    "missing_identifier": "no unit id (surveys), no customer or unit id (revenue), no customer id (segments)",
    "missing_date": "no survey / response / revenue date",
    "unparseable_date": "a date cell that is not a date",
    "impossible_date": "a date-shaped cell that is not on the calendar or is outside 1900..2200",
    "unparseable_number": "a score or revenue cell that is not a number",
    "out_of_scale": "a score outside its scale or not a whole number (e.g. 7 on a 1-5 item, 11 for NPS)",
    "missing_number": "no revenue amount",
    "empty_response": "a survey response without any answer",
    "missing_segment": "a customer without a segment",
    "future_date": "a date after the extract's as-of date",
    "unknown_unit": "unit id not in the units table (only when one is given)",
    "duplicate_response": "a response id (or respondent id) seen before in the same unit and month (the first is kept)",
    "duplicate_customer": "a customer listed before with a segment (the first is kept)",
    "duplicate_period": "unit-level revenue or survey: a unit and period listed before (the first is kept)",
}

Raw = pd.DataFrame | str | os.PathLike[str]


def _scale(value: Any, name: str) -> tuple[float, float]:
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise InputError(
            f"{name} must be (lowest, highest), e.g. (1, 5), not {value!r}", column=name
        )
    return float(value[0]), float(value[1])


def _read(raw: Raw, table: str, source: str | None) -> tuple[pd.DataFrame, str]:
    if isinstance(raw, (str, os.PathLike)):
        label = source or Path(raw).name
        return read_table(raw, name=label), label
    if isinstance(raw, pd.DataFrame):
        return raw, source or table
    raise InputError(
        f"expected a DataFrame or a file path for the {table} table, not {type(raw).__name__}",
        file=source or table,
    )


def _mapped_names(raw: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    """The column names of ``raw`` once ``columns`` ({canonical: file column}) is applied."""
    taken = set(columns.values())
    return [*columns, *(str(c) for c in raw.columns if str(c) not in taken)]


def _numeric_share(cells: pd.Series) -> tuple[int, int, np.ndarray]:
    """Filled cells, how many of them are numbers, and the numbers."""
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        v = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        filled = int((~np.isnan(v)).sum())
        return filled, filled, v[~np.isnan(v)]
    text = _text(cells)
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
    whole = not _unit_level_survey(_mapped_names(raw, columns))
    fixed = {*REQUIRED["employee_survey"], *OPTIONAL["employee_survey"]}
    lookup = {str(c): c for c in raw.columns}
    items = []
    for name in _mapped_names(raw, columns):
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


def _clean(
    raw: Raw,
    *,
    table: str,
    ids: Sequence[str],
    optional_ids: Sequence[str] = (),
    date: str | None = None,
    scores: dict[str, tuple[float, float]] | None = None,
    amount: str | None = None,
    answers: Sequence[str] = (),
    response_id: str | None = None,
    segment: str | None = None,
    months: bool = False,
    numbers: Sequence[str] = (),
    required_numbers: Sequence[str] = (),
    fractional: Sequence[str] = (),
    unique_period: str | None = None,
    mapping: dict[str, Any] | None,
    source: str | None,
    units: Any = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    check: Any = None,
    hint: str = "",
) -> CleanResult:
    """The shared cleaner: identifiers, a date, numeric scores or an amount, segment, duplicates.

    ``numbers``: optional numeric columns (unparseable_number; blank is missing). ``unique_period``:
    a frequency; a unit listed again in the same period is ``duplicate_period``. ``check``: a
    callable validating the typed table (default: the pandera schema of ``table``).
    """
    from linkage.io.schemas import check_typed

    scores = scores or {}
    raw, label = _read(raw, table, source)
    columns, dates = section(mapping, table)
    columns = {**columns, **table_options(mapping, table).get("items", {})}
    date_format, dayfirst = date_options(dates, date_format=date_format, dayfirst=dayfirst)
    mapped, sources = apply_mapping(raw, columns, table=table, file=label)
    required = [
        *ids,
        *([date] if date else []),
        *scores,
        *([amount] if amount else []),
        *([segment] if segment else []),
    ]
    missing = [c for c in required if c not in mapped.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InputError(
            f"missing required {noun} {', '.join(missing)} (the file has: "
            f"{', '.join(map(str, raw.columns))}){hint}; name the file's columns in the "
            f"mapping's {table!r} section",
            file=label,
        )
    numbers = [c for c in numbers if c in mapped.columns]
    stamp = _as_of(as_of)
    known_units = _unit_set(units)
    rows = _row_numbers(raw)
    n = len(raw)
    typed: dict[str, pd.Series] = {}
    conditions: list[tuple[str, np.ndarray, str | None]] = []

    present_ids = [*ids, *(c for c in optional_ids if c in mapped.columns)]
    for name in present_ids:
        typed[name] = _text(mapped[name])
    trimmed = pd.DataFrame(
        {c: typed[c] if c in typed else _text(mapped[c]) for c in mapped.columns},
        index=mapped.index,
    )
    conditions.append(("duplicate_row", trimmed.duplicated(keep="first").to_numpy(), None))
    for name in ids:
        conditions.append(("missing_identifier", typed[name].isna().to_numpy(), name))
    if date is not None:
        cells = mapped[date]
        if months and not pd.api.types.is_datetime64_any_dtype(cells.dtype):
            text = _as_text(cells).str.strip()
            cells = text.where(~text.str.fullmatch(r"\d{4}-\d{1,2}", na=False), text + "-01")
        values, status = parse_dates(
            cells, date_format=date_format, dayfirst=dayfirst, file=label, column=sources[date]
        )
        typed[date] = values
        conditions.append(("missing_date", status == MISSING, date))
        conditions.append(("unparseable_date", status == UNPARSEABLE, date))
        conditions.append(("impossible_date", status == IMPOSSIBLE, date))
    parsed = {**scores, **({amount: None} if amount else {}), **dict.fromkeys(numbers)}
    for name, scale in parsed.items():
        column = mapped[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            number = column.astype("float64")
            bad = np.zeros(n, dtype=bool)
        else:
            text = _text(column)
            number = pd.to_numeric(text, errors="coerce").astype("float64")
            bad = (number.isna() & text.notna()).to_numpy()
        typed[name] = number
        conditions.append(("unparseable_number", bad, name))
        v = number.to_numpy()
        if scale is not None:
            with np.errstate(invalid="ignore"):
                off = ~np.isnan(v) & (
                    (v < scale[0])
                    | (v > scale[1])
                    | ((v != np.round(v)) & (name not in fractional))
                )
            conditions.append(("out_of_scale", off, name))
    for name in ([amount] if amount is not None else []) + list(required_numbers):
        conditions.append(("missing_number", (typed[name].isna().to_numpy()), name))
    if answers:
        none = (
            np.all([typed[a].isna().to_numpy() for a in answers], axis=0)
            if n
            else np.zeros(0, dtype=bool)
        )
        conditions.append(("empty_response", none, None))
    if segment is not None:
        typed[segment] = _text(mapped[segment])
        conditions.append(("missing_segment", typed[segment].isna().to_numpy(), segment))
    if date is not None:
        conditions.append(("future_date", (typed[date] > stamp).to_numpy(), date))
    if known_units is not None and "unit_id" in typed:
        unknown = (~typed["unit_id"].isin(known_units) & typed["unit_id"].notna()).to_numpy()
        conditions.append(("unknown_unit", unknown, "unit_id"))

    reason, blame = _first_reasons(conditions, n, sources)
    if response_id is not None and response_id in typed and date is not None:
        todo = (reason == "") & typed[response_id].notna().to_numpy()
        key = pd.DataFrame(
            {
                "id": typed[response_id],
                "unit": typed["unit_id"],
                "month": typed[date].dt.to_period("M"),
            }
        ).where(pd.Series(todo, index=mapped.index), None)
        again = key.duplicated(keep="first").to_numpy() & todo
        reason[again] = "duplicate_response"
        blame[again] = sources[response_id]
    if segment is not None:
        todo = reason == ""
        again = typed[ids[0]].where(todo).duplicated(keep="first").to_numpy() & todo
        reason[again] = "duplicate_customer"
        blame[again] = sources[ids[0]]
    if unique_period is not None and date is not None:
        todo = reason == ""
        key = pd.DataFrame(
            {"unit": typed["unit_id"], "period": typed[date].dt.to_period(unique_period)}
        )
        again = (
            key.where(pd.Series(todo, index=mapped.index), None).duplicated(keep="first").to_numpy()
            & todo
        )
        reason[again] = "duplicate_period"
        blame[again] = sources[date]
        if again.sum() > (reason == "").sum():
            raise InputError(
                f"has {int(again.sum()):,} rows for a unit and period already listed: a "
                "unit-level table needs one row per unit and period (are its periods "
                "shorter than the panel's?)",
                file=label,
                column=sources[date],
            )

    keep = reason == ""
    canonical = [
        *(c for c in optional_ids if c in mapped.columns),
        *ids,
        *([date] if date else []),
        *scores,
        *([amount] if amount else []),
        *numbers,
        *([segment] if segment else []),
    ]
    order = [c for c in mapped.columns if c in canonical]
    order = sorted(order, key=canonical.index)
    data_cols: dict[str, pd.Series] = {name: typed[name] for name in order}
    for name in mapped.columns:
        if name not in data_cols:
            data_cols[name] = trimmed[name]
    data = pd.DataFrame(data_cols).loc[keep].reset_index(drop=True)
    for name in present_ids + ([segment] if segment else []):
        data[name] = data[name].astype("str")
    if check is None:
        check_typed(data, table=table, file=label)
    else:
        check(data, file=label)

    gone = ~keep
    original = raw.loc[gone].copy()
    original.columns = [
        f"{c} (original)" if str(c) in _RESERVED else str(c) for c in original.columns
    ]
    original = pd.DataFrame({c: _as_text(original[c]) for c in original.columns})
    rejects = pd.concat(
        [
            pd.DataFrame(
                {
                    "file": pd.Series([label] * int(gone.sum()), dtype="str"),
                    "row": rows[gone],
                    "reason": pd.Series(reason[gone], dtype="str"),
                    "column": pd.Series(blame[gone], dtype="str"),
                }
            ),
            original.reset_index(drop=True),
        ],
        axis=1,
    )
    applies = (
        {why for why, _, _ in conditions}
        | ({"duplicate_response"} if response_id is not None and response_id in typed else set())
        | ({"duplicate_customer"} if segment is not None else set())
        | ({"duplicate_period"} if unique_period is not None else set())
    )
    reasons = [r for r in CHAIN_REASONS if r in applies]
    counts = pd.Series(reason).value_counts()
    report = pd.DataFrame(
        {
            "file": pd.Series([label] * (1 + len(reasons)), dtype="str"),
            "reason": pd.Series(["kept", *reasons], dtype="str"),
            "n": np.array(
                [int(keep.sum()), *(int(counts.get(r, 0)) for r in reasons)], dtype=np.int64
            ),
        }
    )
    return CleanResult(data=data, rejects=rejects, report=report)


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
    >>> raw = pd.DataFrame({"respondent_id": ["r1", "r2", "r3", "r4"], "unit_id": ["7", "7", "7", ""],
    ...                     "survey_date": ["2024-03-04", "2024-03-05", "2024-03-05", "2024-03-06"],
    ...                     "engagement": ["4", "9", "", "3"], "pay": ["2", "3", "", "1"]})
    >>> result = clean_employee_survey(raw, items=["engagement", "pay"], as_of="2024-12-31")
    >>> result.data
      respondent_id unit_id survey_date  engagement  pay
    0            r1       7  2024-03-04         4.0  2.0
    >>> result.rejects[["row", "reason", "column"]].to_numpy().tolist()
    [[2, 'out_of_scale', 'engagement'], [3, 'empty_response', ''], [4, 'missing_identifier', 'unit_id']]
    """
    if scale is None:
        scale = table_options(mapping, "employee_survey").get("scale", (1, 5))
    low_high = _scale(scale, "scale")
    if items is None:
        raw, source = _read(raw, "employee_survey", source)
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
    raw, source = _read(raw, "employee_survey", source)
    if _unit_level_survey(_mapped_names(raw, section(mapping, "employee_survey")[0])):
        scores = {**dict.fromkeys(items, low_high), "respondents": (1.0, np.inf)}
        return _clean(
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
    return _clean(
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
    >>> raw = pd.DataFrame({"Store": ["7", "7", "7"], "When": ["2024-01-02", "2024-01-03", "2024-01-03"],
    ...                     "csat": [5, 4, 4], "nps": [10, 11, 8]})
    >>> result = clean_customer_survey(raw, mapping={"unit_id": "Store", "response_date": "When"},
    ...                                as_of="2024-12-31")
    >>> result.data["nps"].tolist(), result.rejects["reason"].tolist()
    ([10.0, 8.0], ['out_of_scale'])
    """
    if csat_scale is None:
        csat_scale = table_options(mapping, "customer_survey").get("csat_scale", (1, 5))
    if csat is None or nps is None:
        raw, source = _read(raw, "customer_survey", source)
        names = _mapped_names(raw, section(mapping, "customer_survey")[0])
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
        scores["csat"] = _scale(csat_scale, "csat_scale")
    if nps:
        scores["nps"] = (0.0, 10.0)
    return _clean(
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
    """Clean a revenue table: customer level (per customer and period, or per invoice) or unit level.

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
    >>> units = pd.DataFrame({"Store": ["7", "7", "7"], "Month": ["2024-01", "2024-02", "2024-02-15"],
    ...                       "Sales": ["1000", "1200", "1150"]})
    >>> result = clean_revenue(units, mapping={"unit_id": "Store", "period": "Month", "revenue": "Sales"},
    ...                        as_of="2024-12-31")
    >>> result.data
      unit_id     period  revenue
    0       7 2024-01-01   1000.0
    1       7 2024-02-01   1200.0
    >>> result.rejects[["row", "reason", "column"]].to_numpy().tolist()
    [[3, 'duplicate_period', 'Month']]
    """
    if level is None:
        raw, source = _read(raw, "revenue", source)
        level = (
            "customer"
            if "customer_id" in _mapped_names(raw, section(mapping, "revenue")[0])
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
        return _clean(
            raw,
            ids=("customer_id", "unit_id"),
            **common,
            hint=" (a customer-level revenue table; without customer_id: unit level, unit_id, "
            "period, revenue)",
        )
    return _clean(
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
def _unit_revenue_schema():
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


@functools.cache
def _unit_survey_schema():
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
    _check_schema(_unit_survey_schema(), data, file, "unit-level employee survey")


def _check_schema(schema: Any, data: pd.DataFrame, file: str, what: str) -> None:
    import pandera.pandas as pa

    checked = data.assign(period=data["period"].astype("datetime64[ns]"))
    try:
        schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        problems = [
            f"column {c!r} fails {k}"
            for c, k in cases[["column", "check"]].drop_duplicates().itertuples(index=False)
        ]
        raise InputError(
            f"does not fit the {what} table: " + "; ".join(problems), file=file
        ) from None


def _check_unit_revenue(data: pd.DataFrame, *, file: str) -> None:
    """The typed unit-level revenue table (pandera, every problem at once)."""
    import pandera.pandas as pa

    checked = data.assign(period=data["period"].astype("datetime64[ns]"))
    try:
        _unit_revenue_schema().validate(checked, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        problems = [
            f"column {c!r} fails {k}"
            for c, k in cases[["column", "check"]].drop_duplicates().itertuples(index=False)
        ]
        raise InputError(
            "does not fit the unit revenue table: " + "; ".join(problems), file=file
        ) from None


def clean_segments(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
) -> CleanResult:
    """Clean a customer segments table (``customer_id``, ``segment``: one segment per customer).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        ``customer_id`` and ``segment`` (or vertical, tier: map it with ``mapping``).
    mapping, source
        As in :func:`clean_employee_survey`.

    Returns
    -------
    CleanResult
        ``data``: ``customer_id`` and ``segment`` (str), then other columns as text. Reasons:
        ``duplicate_row``, ``missing_identifier``, ``missing_segment``, ``duplicate_customer``
        (a customer listed again, even with another segment: the first is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Account": ["c1", "c2", "c2", "c3"],
    ...                     "Tier": ["enterprise", "consumer", "enterprise", " "]})
    >>> result = clean_segments(raw, mapping={"customer_id": "Account", "segment": "Tier"})
    >>> result.data
      customer_id     segment
    0          c1  enterprise
    1          c2    consumer
    >>> result.rejects["reason"].tolist()
    ['duplicate_customer', 'missing_segment']
    """
    return _clean(
        raw,
        table="segments",
        ids=("customer_id",),
        segment="segment",
        mapping=mapping,
        source=source,
    )
