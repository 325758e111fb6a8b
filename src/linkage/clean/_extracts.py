"""What the survey, revenue and segment cleaners share: the reasons, reading, and the cleaning pass.

The same contract as the other ``clean_*`` functions: every input row is either in ``data`` (typed,
canonical columns first) or in ``rejects`` with one reason, the first of :data:`CHAIN_REASONS`
that applies, and ``report`` accounts for every row. A mapping is a whole mapping (with the
table's section, ``employee_survey``, ``customer_survey``, ``revenue`` or ``segments``, and maybe
``dates``; see :mod:`linkage.io._mapping`) or a plain ``{canonical: file column}`` dict for this
table; dates take ``date_format`` / ``dayfirst`` as elsewhere (they win over the mapping's).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from linkage.clean._core import (
    CleanResult,
    as_of_date,
    clean_result,
    first_reasons,
    parse_numbers,
    row_numbers,
    text_cells,
    unit_set,
)
from linkage.clean._dates import IMPOSSIBLE, MISSING, UNPARSEABLE, parse_dates
from linkage.errors import InputError
from linkage.io import apply_mapping, as_text, date_options, read_table, section, table_options

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = [
    "CHAIN_REASONS",
    "Raw",
    "TableCheck",
    "score_scale",
    "read_extract",
    "mapped_names",
    "check_schema",
    "clean_extract",
]

#: Why a row of a survey, revenue or segments extract is set aside, in the order the checks run.
CHAIN_REASONS: dict[str, str] = {
    "duplicate_row": "exact copy of an earlier row, once cells are trimmed (the first is kept)",
    "missing_identifier": (
        "no unit id (surveys), no customer or unit id (revenue), no customer id (segments)"
    ),
    "missing_date": "no survey / response / revenue date",
    "unparseable_date": "a date cell that is not a date",
    "impossible_date": "a date-shaped cell that is not on the calendar or is outside 1900..2200",
    "unparseable_number": "a score or revenue cell that is not a number",
    "out_of_scale": (
        "a score outside its scale or not a whole number (e.g. 7 on a 1-5 item, 11 for NPS)"
    ),
    "missing_number": "no revenue amount",
    "empty_response": "a survey response without any answer",
    "missing_segment": "a customer without a segment",
    "future_date": "a date after the extract's as-of date",
    "unknown_unit": "unit id not in the units table (only when one is given)",
    "duplicate_response": (
        "a response id (or respondent id) seen before in the same unit and month"
        " (the first is kept)"
    ),
    "duplicate_customer": "a customer listed before with a segment (the first is kept)",
    "duplicate_period": (
        "unit-level revenue or survey: a unit and period listed before (the first is kept)"
    ),
}

Raw = pd.DataFrame | str | os.PathLike[str]


class TableCheck(Protocol):
    """A check of a cleaned (typed) table: raises InputError naming ``file`` if it does not fit."""

    def __call__(self, data: pd.DataFrame, *, file: str) -> None: ...


def score_scale(value: Any, name: str) -> tuple[float, float]:
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


def read_extract(raw: Raw, table: str, source: str | None) -> tuple[pd.DataFrame, str]:
    if isinstance(raw, (str, os.PathLike)):
        label = source or Path(raw).name
        return read_table(raw, name=label), label
    if isinstance(raw, pd.DataFrame):
        return raw, source or table
    raise InputError(
        f"expected a DataFrame or a file path for the {table} table, not {type(raw).__name__}",
        file=source or table,
    )


def check_schema(schema: pa.DataFrameSchema, data: pd.DataFrame, *, file: str, what: str) -> None:
    """Validate a typed unit-level table with a pandera ``schema``, reporting every problem at once.

    ``period`` is validated as ``datetime64[ns]``. A table that does not fit raises InputError
    "does not fit the {what} table: column 'c' fails check; ..." naming ``file``.
    """
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


def mapped_names(raw: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    """The column names of ``raw`` once ``columns`` ({canonical: file column}) is applied."""
    taken = set(columns.values())
    return [*columns, *(str(c) for c in raw.columns if str(c) not in taken)]


def clean_extract(
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
    check: TableCheck | None = None,
    hint: str = "",
) -> CleanResult:
    """The shared cleaner: identifiers, a date, numeric scores or an amount, segment, duplicates.

    ``numbers``: optional numeric columns (unparseable_number; blank is missing). ``unique_period``:
    a frequency; a unit listed again in the same period is ``duplicate_period``. ``check``: a
    callable validating the typed table (default: the pandera schema of ``table``).
    """
    from linkage.io.schemas import check_typed

    scores = scores or {}
    raw, label = read_extract(raw, table, source)
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
    stamp = as_of_date(as_of)
    known_units = unit_set(units)
    rows = row_numbers(raw)
    n = len(raw)
    typed: dict[str, pd.Series] = {}
    conditions: list[tuple[str, np.ndarray, str | None]] = []

    present_ids = [*ids, *(c for c in optional_ids if c in mapped.columns)]
    for name in present_ids:
        typed[name] = text_cells(mapped[name])
    trimmed = pd.DataFrame(
        {c: typed[c] if c in typed else text_cells(mapped[c]) for c in mapped.columns},
        index=mapped.index,
    )
    conditions.append(("duplicate_row", trimmed.duplicated(keep="first").to_numpy(), None))
    for name in ids:
        conditions.append(("missing_identifier", typed[name].isna().to_numpy(), name))
    if date is not None:
        cells = mapped[date]
        if months and not pd.api.types.is_datetime64_any_dtype(cells.dtype):
            text = as_text(cells).str.strip()
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
        number, bad = parse_numbers(mapped[name])
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
        typed[segment] = text_cells(mapped[segment])
        conditions.append(("missing_segment", typed[segment].isna().to_numpy(), segment))
    if date is not None:
        conditions.append(("future_date", (typed[date] > stamp).to_numpy(), date))
    if known_units is not None and "unit_id" in typed:
        unknown = (~typed["unit_id"].isin(known_units) & typed["unit_id"].notna()).to_numpy()
        conditions.append(("unknown_unit", unknown, "unit_id"))

    reason, blame = first_reasons(conditions, n, sources)
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

    applies = (
        {why for why, _, _ in conditions}
        | ({"duplicate_response"} if response_id is not None and response_id in typed else set())
        | ({"duplicate_customer"} if segment is not None else set())
        | ({"duplicate_period"} if unique_period is not None else set())
    )
    reasons = [r for r in CHAIN_REASONS if r in applies]
    return clean_result(
        raw, data, file=label, rows=rows, reason=reason, blame=blame, reasons=reasons
    )
