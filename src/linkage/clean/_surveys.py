"""Cleaning the chain's extracts: employee and customer surveys, customer revenue, segments.

The same contract as the other ``clean_*`` functions: every input row is either in ``data`` (typed,
canonical columns first) or in ``rejects`` with one reason, the first of :data:`CHAIN_REASONS`
that applies, and ``report`` accounts for every row. A mapping here is a plain ``{canonical:
file column}`` dict; dates take ``date_format`` / ``dayfirst`` as elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from linkage.clean._core import _RESERVED, CleanResult, _as_of, _row_numbers, _text, _unit_set
from linkage.clean._dates import IMPOSSIBLE, MISSING, UNPARSEABLE, parse_dates
from linkage.errors import InputError
from linkage.io._mapping import apply_mapping
from linkage.io._read import _as_text, read_table

__all__ = [
    "CHAIN_REASONS",
    "clean_employee_survey",
    "clean_customer_survey",
    "clean_revenue",
    "clean_segments",
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
}

Raw = pd.DataFrame | str | os.PathLike[str]


def _scale(value: Any, name: str) -> tuple[float, float]:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
          and value[0] < value[1])
    if not ok:
        raise InputError(f"{name} must be (lowest, highest), e.g. (1, 5), not {value!r}", column=name)
    return float(value[0]), float(value[1])


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
    mapping: dict[str, str] | None,
    source: str | None,
    units: Any = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """The shared cleaner: identifiers, a date, numeric scores or an amount, segment, duplicates."""
    from linkage.io.schemas import check_typed

    scores = scores or {}
    if isinstance(raw, (str, os.PathLike)):
        label = source or Path(raw).name
        raw = read_table(raw, name=label)
    elif isinstance(raw, pd.DataFrame):
        label = source or table
    else:
        raise InputError(f"expected a DataFrame or a file path for the {table} table, not {type(raw).__name__}",
                         file=source or table)
    if mapping is not None and (not isinstance(mapping, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())):
        raise InputError("mapping must be a dict {canonical name: file column}", file=label)
    mapped, sources = apply_mapping(raw, dict(mapping or {}), table=table, file=label)
    required = [*ids, *([date] if date else []), *scores, *([amount] if amount else []),
                *([segment] if segment else [])]
    missing = [c for c in required if c not in mapped.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InputError(f"missing required {noun} {', '.join(missing)} (the file has: "
                         f"{', '.join(map(str, raw.columns))}); map the file's columns with mapping=",
                         file=label)
    stamp = _as_of(as_of)
    known_units = _unit_set(units)
    rows = _row_numbers(raw)
    n = len(raw)
    typed: dict[str, pd.Series] = {}
    conditions: list[tuple[str, np.ndarray, str | None]] = []

    present_ids = [*ids, *(c for c in optional_ids if c in mapped.columns)]
    for name in present_ids:
        typed[name] = _text(mapped[name])
    trimmed = pd.DataFrame({c: typed[c] if c in typed else _text(mapped[c]) for c in mapped.columns},
                           index=mapped.index)
    conditions.append(("duplicate_row", trimmed.duplicated(keep="first").to_numpy(), None))
    for name in ids:
        conditions.append(("missing_identifier", typed[name].isna().to_numpy(), name))
    if date is not None:
        cells = mapped[date]
        if months and not pd.api.types.is_datetime64_any_dtype(cells.dtype):
            text = _as_text(cells).str.strip()
            cells = text.where(~text.str.fullmatch(r"\d{4}-\d{1,2}", na=False), text + "-01")
        values, status = parse_dates(cells, date_format=date_format, dayfirst=dayfirst, file=label,
                                     column=sources[date])
        typed[date] = values
        conditions.append(("missing_date", status == MISSING, date))
        conditions.append(("unparseable_date", status == UNPARSEABLE, date))
        conditions.append(("impossible_date", status == IMPOSSIBLE, date))
    numbers = {**scores, **({amount: None} if amount else {})}
    for name, scale in numbers.items():
        column = mapped[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
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
                off = ~np.isnan(v) & ((v < scale[0]) | (v > scale[1]) | (v != np.round(v)))
            conditions.append(("out_of_scale", off, name))
    if amount is not None:
        conditions.append(("missing_number", (typed[amount].isna().to_numpy()), amount))
    if answers:
        none = np.all([typed[a].isna().to_numpy() for a in answers], axis=0) if n else np.zeros(0, dtype=bool)
        conditions.append(("empty_response", none, None))
    if segment is not None:
        typed[segment] = _text(mapped[segment])
        conditions.append(("missing_segment", typed[segment].isna().to_numpy(), segment))
    if date is not None:
        conditions.append(("future_date", (typed[date] > stamp).to_numpy(), date))
    if known_units is not None and "unit_id" in typed:
        unknown = (~typed["unit_id"].isin(known_units) & typed["unit_id"].notna()).to_numpy()
        conditions.append(("unknown_unit", unknown, "unit_id"))

    reason = np.full(n, "", dtype=object)
    blame = np.full(n, "", dtype=object)
    for why, mask, column in conditions:
        hit = mask & (reason == "")
        reason[hit] = why
        blame[hit] = "" if column is None else sources.get(column, column)
    if response_id is not None and response_id in typed and date is not None:
        todo = (reason == "") & typed[response_id].notna().to_numpy()
        key = pd.DataFrame({"id": typed[response_id], "unit": typed["unit_id"],
                            "month": typed[date].dt.to_period("M")}).where(pd.Series(todo, index=mapped.index), None)
        again = key.duplicated(keep="first").to_numpy() & todo
        reason[again] = "duplicate_response"
        blame[again] = sources[response_id]
    if segment is not None:
        todo = reason == ""
        again = typed[ids[0]].where(todo).duplicated(keep="first").to_numpy() & todo
        reason[again] = "duplicate_customer"
        blame[again] = sources[ids[0]]

    keep = reason == ""
    canonical = [*(c for c in optional_ids if c in mapped.columns), *ids, *([date] if date else []),
                 *scores, *([amount] if amount else []),
                 *([segment] if segment else [])]
    order = [c for c in mapped.columns if c in canonical]
    order = sorted(order, key=canonical.index)
    data_cols: dict[str, pd.Series] = {name: typed[name] for name in order}
    for name in mapped.columns:
        if name not in data_cols:
            data_cols[name] = trimmed[name]
    data = pd.DataFrame(data_cols).loc[keep].reset_index(drop=True)
    for name in present_ids + ([segment] if segment else []):
        data[name] = data[name].astype("str")
    check_typed(data, table=table, file=label)

    gone = ~keep
    original = raw.loc[gone].copy()
    original.columns = [f"{c} (original)" if str(c) in _RESERVED else str(c) for c in original.columns]
    original = pd.DataFrame({c: _as_text(original[c]) for c in original.columns})
    rejects = pd.concat([
        pd.DataFrame({
            "file": pd.Series([label] * int(gone.sum()), dtype="str"),
            "row": rows[gone],
            "reason": pd.Series(reason[gone], dtype="str"),
            "column": pd.Series(blame[gone], dtype="str"),
        }),
        original.reset_index(drop=True),
    ], axis=1)
    applies = {why for why, _, _ in conditions} | (
        {"duplicate_response"} if response_id is not None and response_id in typed else set()) | (
        {"duplicate_customer"} if segment is not None else set())
    reasons = [r for r in CHAIN_REASONS if r in applies]
    counts = pd.Series(reason).value_counts()
    report = pd.DataFrame({
        "file": pd.Series([label] * (1 + len(reasons)), dtype="str"),
        "reason": pd.Series(["kept", *reasons], dtype="str"),
        "n": np.array([int(keep.sum()), *(int(counts.get(r, 0)) for r in reasons)], dtype=np.int64),
    })
    return CleanResult(data=data, rejects=rejects, report=report)


def clean_employee_survey(
    raw: Raw,
    *,
    items: Sequence[str],
    scale: tuple[float, float] = (1, 5),
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """Clean an employee survey extract (one row per respondent and wave).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        The extract: ``unit_id``, ``survey_date``, the item columns, optional ``respondent_id``.
    items : sequence of str
        The item columns (canonical names, after ``mapping``), e.g. ``["engagement", "pay"]``.
    scale : (lowest, highest), default (1, 5)
        The items' answer scale; answers are whole numbers on it. A blank answer is kept as
        missing for that item (a skipped question).
    mapping : dict, optional
        ``{canonical name: file column}``, e.g. ``{"unit_id": "Store", "survey_date": "Date"}``.
    source : str, optional
        The file name for the report (default: the file's name, or ``"employee_survey"``).
    units : pandas.DataFrame or CleanResult, optional
        Known units: rows of other units are set aside as ``unknown_unit``.
    as_of : date, optional
        The extract date: later dates are ``future_date`` (default: today).
    date_format, dayfirst
        How to read numeric dates (see :func:`linkage.clean.parse_dates`).

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
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise InputError("items must be a non-empty list of item column names", column="items")
    low_high = _scale(scale, "scale")
    return _clean(raw, table="employee_survey", ids=("unit_id",), optional_ids=("respondent_id",),
                  date="survey_date", scores=dict.fromkeys(items, low_high), answers=list(items),
                  response_id="respondent_id", mapping=mapping, source=source, units=units, as_of=as_of,
                  date_format=date_format, dayfirst=dayfirst)


def clean_customer_survey(
    raw: Raw,
    *,
    csat: bool = True,
    nps: bool = True,
    csat_scale: tuple[float, float] = (1, 5),
    mapping: dict[str, str] | None = None,
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
    csat, nps : bool, default True
        Whether the extract has that question (at least one).
    csat_scale : (lowest, highest), default (1, 5)
        The CSAT scale; NPS answers are whole numbers from 0 to 10.
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
    if not (csat or nps):
        raise InputError("the customer survey needs at least one of csat and nps")
    scores = {}
    if csat:
        scores["csat"] = _scale(csat_scale, "csat_scale")
    if nps:
        scores["nps"] = (0.0, 10.0)
    return _clean(raw, table="customer_survey", ids=("unit_id",), optional_ids=("response_id", "customer_id"),
                  date="response_date", scores=scores, answers=list(scores), response_id="response_id",
                  mapping=mapping, source=source, units=units, as_of=as_of, date_format=date_format,
                  dayfirst=dayfirst)


def clean_revenue(
    raw: Raw,
    *,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """Clean a customer revenue table (one row per customer and period, or per invoice).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        ``customer_id``, ``unit_id``, ``period`` (any date in the period the revenue belongs
        to, or a month as ``YYYY-MM``), ``revenue``.
    mapping, source, units, as_of, date_format, dayfirst
        As in :func:`clean_employee_survey`.

    Returns
    -------
    CleanResult
        ``data``: ``customer_id``, ``unit_id`` (str), ``period`` (datetime64), ``revenue``
        (float64; credits may be negative), then other columns as text. Reasons:
        ``duplicate_row``, ``missing_identifier``, ``missing_date``, ``unparseable_date``,
        ``impossible_date``, ``unparseable_number``, ``missing_number`` (no amount),
        ``future_date``, ``unknown_unit``.

    Raises
    ------
    InputError
        For a missing column or a bad mapping.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "unit_id": ["7", "7", "7"],
    ...                     "period": ["2024-01-01", "2024-02-01", "2024-02-01"],
    ...                     "revenue": ["120.50", "99", ""]})
    >>> result = clean_revenue(raw, as_of="2024-12-31")
    >>> result.data["revenue"].tolist(), result.rejects["reason"].tolist()
    ([120.5, 99.0], ['missing_number'])
    """
    return _clean(raw, table="revenue", ids=("customer_id", "unit_id"), date="period", amount="revenue", months=True,
                  mapping=mapping, source=source, units=units, as_of=as_of, date_format=date_format,
                  dayfirst=dayfirst)


def clean_segments(
    raw: Raw,
    *,
    mapping: dict[str, str] | None = None,
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
    return _clean(raw, table="segments", ids=("customer_id",), segment="segment", mapping=mapping,
                  source=source)
