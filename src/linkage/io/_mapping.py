"""Column mappings: from a file's own column names to the canonical ones.

A mapping is a dict (or a YAML file) of this shape::

    employees: {employee_id: Employee ID, unit_id: Cost Center, hire_date: Hire Date,
                termination_date: Termination Date}
    customers: {customer_id: Account ID, unit_id: Store, start_date: Created Date,
                end_date: Cancel Date}
    activity:  {customer_id: Account ID, unit_id: Store, activity_date: Visit Date}
    units:     {unit_id: Store, region: Region}
    employee_survey: {unit_id: Store, survey_date: Survey Date, respondent_id: Resp ID,
                      items: [Q1 Engaged, Q2 Manager], scale: [1, 5]}
    customer_survey: {unit_id: Store, response_date: Date, csat: CSAT, nps: Recommend}
    revenue:   {customer_id: Account ID, unit_id: Store, period: Month, revenue: Amount}
    segments:  {customer_id: Account ID, segment: Vertical}
    relationships: {customer_id: Account ID, employee_id: Banker ID, start_date: From,
                    end_date: To}
    dates:     {format: "%m/%d/%Y"}      # or {dayfirst: true}; default: ISO and unambiguous formats
    pseudonymise: {employees: [Manager ID], customers: [Email]}

Every section is optional. Keys are canonical names, values the file's column names. The ``units``
section may name any attribute (``region: Region``); the other sections only their canonical
columns (:data:`linkage.io._tables.REQUIRED` and ``OPTIONAL``) and a few settings:

- ``employee_survey: items``: the survey's item columns, as a list of file columns (the items keep
  those names) or as ``{item name: file column}``. Without ``items`` the items are every column
  the section does not take whose filled cells are mostly numbers. A survey with ``period`` and
  ``respondents`` (and no ``survey_date``) holds item means per unit and period.
- ``employee_survey: scale`` and ``customer_survey: csat_scale``: the answer scale,
  ``[lowest, highest]`` (default ``[1, 5]``; NPS answers are always 0-10).
- ``dates`` inside a table's section (``employee_survey: {dates: {format: "%d.%m.%Y"}}``): that
  file's date format, instead of the mapping's ``dates`` section (not in ``units``).
- ``revenue``: customer level (``customer_id``, ``unit_id``, ``period``, ``revenue``: one row per
  customer and period, or per invoice) or, without ``customer_id``, unit level (``unit_id``,
  ``period``, ``revenue`` and optionally ``revenue_start``, ``revenue_retained``,
  ``revenue_retention``: one row per unit and period).

The customers' ``served_by`` (optional) names the employee who serves each customer (an
``employee_id`` of the employee extract); ``relationships`` is the table of who served whom when,
for owners that change.

Columns a section does not name keep their names. ``pseudonymise`` names, per table, further
person identifier columns (file column names) that ``prepare(..., pseudonymise=True)`` hashes
besides the table's own identifiers (``employee_id``, ``customer_id``, ``respondent_id``,
``response_id``).
"""

from __future__ import annotations

import difflib
import os
import reprlib
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from linkage.errors import InputError
from linkage.io._tables import CHAIN_TABLES, OPTIONAL, OPTIONS, PERSON_COLUMNS, REQUIRED

__all__ = [
    "load_mapping",
    "validate_mapping",
    "apply_mapping",
    "date_options",
    "pseudonymised_columns",
    "section",
    "table_options",
]

_SECTIONS = (
    "employees",
    "customers",
    "activity",
    "units",
    *CHAIN_TABLES,
    "relationships",
    "dates",
    "pseudonymise",
)
_PERSON_TABLES = tuple(PERSON_COLUMNS)
_MAX_MAPPING_BYTES = 1_000_000  # a mapping is a few lines; anything this big is not one

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel = 80, 80, 2
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 6


def _show(value: Any) -> str:
    """A short repr of a value from a user's file (a YAML alias bomb must not print in full)."""
    text = _REPR.repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _key(value: Any, what: str, file: str | None) -> str:
    """A mapping key as text; keys that are lists or dicts (YAML allows them) are refused."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{what} {_show(value)} is not a name", file=file)
    return str(value)


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower().strip(): o for o in options}
        if word.lower().strip() in lowered:
            close = [lowered[word.lower().strip()]]
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_mapping(mapping: dict[str, Any], *, file: str | None = None) -> dict[str, Any]:
    """Check a mapping's shape and return a normalised copy (column names as ``str``).

    Parameters
    ----------
    mapping : dict
        ``{table: {canonical: file column}, "dates": {"format": ...} or {"dayfirst": bool}}``.
    file : str, optional
        Where the mapping came from, for error messages.

    Returns
    -------
    dict
        The same mapping, with every section present (empty when not given).

    Raises
    ------
    linkage.errors.InputError
        Unknown section or canonical name, a section that is not a dict, a column name that is not
        text, or a ``dates`` section that is not exactly one of ``format`` / ``dayfirst``.

    Examples
    --------
    >>> m = validate_mapping({"units": {"unit_id": "Store", "region": "Region"}})
    >>> m["units"], m["dates"]
    ({'unit_id': 'Store', 'region': 'Region'}, {})
    >>> validate_mapping(  # doctest: +NORMALIZE_WHITESPACE
    ...     {"employee": {"employee_id": "ID"}}, file="map.yaml"
    ... )
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: map.yaml: unknown section 'employee' (did you mean 'employees'?);
    a mapping has the sections employees, customers, activity, units, employee_survey,
    customer_survey, revenue, segments, relationships, dates, pseudonymise
    >>> m = validate_mapping({"employee_survey": {"unit_id": "Store", "items": ["Q1", "Q2"]}})
    >>> m["employee_survey"]
    {'unit_id': 'Store', 'items': {'Q1': 'Q1', 'Q2': 'Q2'}}
    """
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise InputError(
            f"a mapping must be a dict of sections ({', '.join(_SECTIONS)}), "
            f"not {type(mapping).__name__}",
            file=file,
        )
    out: dict[str, Any] = {section: {} for section in _SECTIONS}
    for section, body in mapping.items():
        section_name = _key(section, "section", file)
        if section_name not in _SECTIONS:
            raise InputError(
                f"unknown section {_show(section_name)}"
                f"{_did_you_mean(section_name, list(_SECTIONS))}; "
                f"a mapping has the sections {', '.join(_SECTIONS)}",
                file=file,
            )
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InputError(
                f"section {section_name!r} must map names to names "
                f"(like 'unit_id: Store'), not {type(body).__name__}",
                file=file,
            )
        if section_name == "dates":
            out["dates"] = _validate_dates(body, file)
            continue
        if section_name == "pseudonymise":
            out["pseudonymise"] = _validate_pseudonymise(body, file)
            continue
        options = OPTIONS.get(section_name, ())
        allowed = [*REQUIRED[section_name], *OPTIONAL[section_name], *options]
        clean: dict[str, Any] = {}
        for canonical, column in body.items():
            canonical = _key(canonical, f"section {section_name!r}: key", file)
            if canonical in options:
                clean[canonical] = _validate_option(section_name, canonical, column, file)
                continue
            if section_name != "units" and canonical not in allowed:
                raise InputError(
                    f"unknown column {_show(canonical)} in section {section_name!r}"
                    f"{_did_you_mean(canonical, allowed)}; it takes {', '.join(allowed)}",
                    file=file,
                )
            if isinstance(column, bool) or not isinstance(column, (str, int)) or str(column) == "":
                raise InputError(
                    f"section {section_name!r}: {_show(canonical)} must name a column of the file, "
                    f"not {_show(column)}",
                    file=file,
                )
            clean[canonical] = str(column)
        items = clean.get("items", {}) if "items" in options else {}
        for name, column in items.items():
            if name in clean and name not in options:
                raise InputError(
                    f"section {section_name!r}: item {name!r} has the name of a canonical "
                    "column; give the item another name (items: {new name: column})",
                    file=file,
                )
            taken = [c for c, v in clean.items() if c not in options and v == column]
            if taken:
                raise InputError(
                    f"section {section_name!r}: item column {column!r} is already taken as "
                    f"{taken[0]}",
                    file=file,
                )
        out[section_name] = clean
    return out


def _validate_option(table: str, key: str, value: Any, file: str | None) -> Any:
    """A setting of a table section: ``items`` (list or dict of file columns) or a scale."""
    if key == "dates":
        if not isinstance(value, dict):
            raise InputError(
                f'section {table!r}: dates must be {{format: "%d.%m.%Y"}} or {{dayfirst: true}}, '
                f"not {_show(value)}",
                file=file,
            )
        return _validate_dates(value, file)
    if key == "items":
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if isinstance(value, list):
            value = {c: c for c in value}
        ok = (
            isinstance(value, dict)
            and bool(value)
            and all(
                isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) != ""
                for pair in value.items()
                for v in pair
            )
        )
        if not ok:
            raise InputError(
                f"section {table!r}: items must list the item columns of the file (like "
                f"'items: [Q1, Q2]' or 'items: {{engagement: Q1}}'), not {_show(value)}",
                file=file,
            )
        out = {str(k): str(v) for k, v in value.items()}
        if len(set(out.values())) < len(out):
            raise InputError(f"section {table!r}: items name a column twice", file=file)
        return out
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise InputError(
            f"section {table!r}: {key} must be [lowest, highest], like [1, 5], not {_show(value)}",
            file=file,
        )
    return (float(value[0]), float(value[1]))


def _validate_dates(body: dict[Any, Any], file: str | None) -> dict[str, Any]:
    keys = {_key(k, "section 'dates': key", file) for k in body}
    if not keys:
        return {}
    if keys == {"format"} and isinstance(body["format"], str) and "%" in body["format"]:
        return {"format": body["format"]}
    if keys == {"dayfirst"} and isinstance(body["dayfirst"], bool):
        return {"dayfirst": body["dayfirst"]}
    raise InputError(
        "section 'dates' must be either {format: \"%m/%d/%Y\"} (a strftime format) "
        f"or {{dayfirst: true}}, not {_show(body)}",
        file=file,
    )


def _validate_pseudonymise(body: dict[Any, Any], file: str | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, columns in body.items():
        table = _key(table, "section 'pseudonymise': key", file)
        if table not in _PERSON_TABLES:
            raise InputError(
                f"section 'pseudonymise': unknown table {_show(table)}"
                f"{_did_you_mean(table, list(_PERSON_TABLES))}; "
                f"it takes {', '.join(_PERSON_TABLES)}",
                file=file,
            )
        if isinstance(columns, (str, int)) and not isinstance(columns, bool):
            columns = [columns]
        if not isinstance(columns, list) or not all(
            isinstance(c, (str, int)) and not isinstance(c, bool) and str(c) for c in columns
        ):
            raise InputError(
                f"section 'pseudonymise': {table} must list column names of the file "
                f"(like '{table}: [Manager ID]'), not {_show(columns)}",
                file=file,
            )
        out[table] = [str(c) for c in columns]
    return out


def pseudonymised_columns(mapping: dict[str, Any] | None, table: str) -> list[str]:
    """The file columns of ``table`` to pseudonymise: its person identifier (as the mapping names
    it) and the columns the mapping's ``pseudonymise`` section lists for it.

    Examples
    --------
    >>> pseudonymised_columns({"employees": {"employee_id": "Emp No"},
    ...                        "pseudonymise": {"employees": ["Manager"]}}, "employees")
    ['Emp No', 'Manager']
    >>> pseudonymised_columns(None, "activity")
    ['customer_id']
    >>> pseudonymised_columns({"customer_survey": {"customer_id": "Account"}}, "customer_survey")
    ['response_id', 'Account']
    """
    if table not in PERSON_COLUMNS:
        return []
    full = validate_mapping(mapping or {})
    first = [full[table].get(c, c) for c in PERSON_COLUMNS[table]]
    extra = [c for c in full["pseudonymise"].get(table, []) if c not in first]
    unit = full[table].get("unit_id", "unit_id")
    if unit in extra:
        raise InputError(
            f"section 'pseudonymise': {table} lists {unit!r}, the unit id column; unit ids are "
            "not person identifiers and stay as they are (units must match the units table)",
            column=unit,
        )
    return [*first, *dict.fromkeys(extra)]


def load_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a YAML mapping file.

    Parameters
    ----------
    path : str or path-like
        A YAML file shaped as described in :mod:`linkage.io` (sections ``employees``,
        ``customers``, ``activity``, ``units``, ``employee_survey``, ``customer_survey``,
        ``revenue``, ``segments``, ``dates``, ``pseudonymise``).

    Returns
    -------
    dict
        The validated mapping (see :func:`validate_mapping`).

    Raises
    ------
    linkage.errors.InputError
        Missing file, invalid YAML (with its line), or a mapping of the wrong shape.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.yaml"
    >>> _ = path.write_text('units: {unit_id: Store}\\ndates: {format: "%m/%d/%Y"}\\n')
    >>> load_mapping(path)["dates"]
    {'format': '%m/%d/%Y'}
    """
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise InputError("mapping file not found", file=label)
    size = path.stat().st_size
    if size > _MAX_MAPPING_BYTES:
        raise InputError(
            f"mapping file is {size:,} bytes; a mapping is a few lines of YAML", file=label
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("mapping file is not UTF-8 text", file=label) from None
    try:
        body = yaml.safe_load(text)
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=label) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or "cannot be parsed"
        if "'%'" in problem:
            problem += ' (put the date format in quotes: format: "%m/%d/%Y")'
        raise InputError(
            f"invalid YAML: {problem}", file=label, row=None if mark is None else mark.line + 1
        ) from None
    if body is None:
        raise InputError("mapping file is empty", file=label)
    return validate_mapping(body, file=label)


def section(mapping: dict[str, Any] | None, table: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The column section for ``table`` and the date options of a mapping.

    Accepts a whole mapping (with table sections) or a bare ``{canonical: file column}`` dict;
    settings (``items``, ``scale``, see :func:`table_options`) are left out.

    Examples
    --------
    >>> section({"revenue": "Amount", "unit_id": "Store"}, "revenue")  # bare: 'revenue' is a column
    ({'revenue': 'Amount', 'unit_id': 'Store'}, {})
    >>> section({"revenue": {"revenue": "Amount"}, "dates": {"dayfirst": True}}, "revenue")
    ({'revenue': 'Amount'}, {'dayfirst': True})
    >>> section({"revenue": {"dates": {"format": "%Y%m"}}, "dates": {"dayfirst": True}}, "revenue")
    ({}, {'format': '%Y%m'})
    """
    columns, _, dates = _split(mapping, table)
    return columns, dates


def table_options(mapping: dict[str, Any] | None, table: str) -> dict[str, Any]:
    """The settings of ``table``'s section (``items``, ``scale``, ``csat_scale``), validated.

    Examples
    --------
    >>> table_options({"employee_survey": {"items": {"engagement": "Q1"}, "scale": [1, 7]}},
    ...               "employee_survey")
    {'items': {'engagement': 'Q1'}, 'scale': (1.0, 7.0)}
    >>> table_options({"unit_id": "Store"}, "employee_survey")
    {}
    """
    return _split(mapping, table)[1]


def _is_whole(mapping: dict[str, Any]) -> bool:
    """A whole mapping has section keys whose bodies are dicts (a bare one maps names to names)."""
    return any(
        str(k) in _SECTIONS and (v is None or isinstance(v, dict)) for k, v in mapping.items()
    )


def _split(
    mapping: dict[str, Any] | None, table: str
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    if not mapping:
        return {}, {}, {}
    if not isinstance(mapping, dict):
        raise InputError(f"a mapping must be a dict, not {type(mapping).__name__}", file=table)
    if _is_whole(mapping):
        full = validate_mapping(mapping)
        body, dates = full[table], full["dates"]
    else:
        body, dates = validate_mapping({table: mapping})[table], {}
    options = OPTIONS.get(table, ())
    settings = {k: v for k, v in body.items() if k in options}
    if settings.get("dates"):
        dates = settings["dates"]
    settings.pop("dates", None)
    return ({k: v for k, v in body.items() if k not in options}, settings, dates)


def date_options(
    dates: dict[str, Any], *, date_format: str | None, dayfirst: bool | None
) -> tuple[str | None, bool | None]:
    """Combine a mapping's ``dates`` section with explicit arguments (the arguments win)."""
    if date_format is not None:
        return date_format, None
    if dayfirst is not None:
        return None, dayfirst
    return dates.get("format"), dates.get("dayfirst")


def apply_mapping(
    raw: pd.DataFrame, columns: dict[str, str], *, table: str, file: str | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename a raw table's columns to canonical names.

    Parameters
    ----------
    raw : pandas.DataFrame
        The table as read (file column names).
    columns : dict
        ``{canonical: file column}`` for this table (may be empty).
    table : str
        The canonical table (for messages).
    file : str, optional
        The file name for messages.

    Returns
    -------
    (pandas.DataFrame, dict)
        The renamed table (a new frame; unmapped columns keep their names) and, for every column
        of the result, the file column it came from.

    Raises
    ------
    linkage.errors.InputError
        When the mapping names a column the file does not have, or when an unmapped file column
        already carries a canonical name the mapping takes from another column.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Store": ["007"], "Region": ["North"], "Size": ["L"]})
    >>> table, sources = apply_mapping(raw, {"unit_id": "Store"}, table="units")
    >>> list(table.columns), sources["unit_id"]
    (['unit_id', 'Region', 'Size'], 'Store')
    """
    lookup = {str(c): c for c in raw.columns}
    present = list(lookup)
    for canonical, column in columns.items():
        if column not in present:
            raise InputError(
                f"the mapping takes {table}.{canonical} from column {column!r}, which the file "
                f"does not have{_did_you_mean(column, present)}; the file has: "
                + ", ".join(present),
                file=file,
                column=column,
            )
    taken = set(columns.values())
    data: dict[str, pd.Series] = {}
    sources: dict[str, str] = {}
    for canonical, column in columns.items():
        data[canonical] = raw[lookup[column]]
        sources[canonical] = column
    for column in present:
        if column in taken:
            continue
        if column in data:
            raise InputError(
                f"the file has a column {column!r} but the mapping takes {table}.{column} from "
                f"{columns[column]!r}: rename one of them",
                file=file,
                column=column,
            )
        data[column] = raw[lookup[column]]
        sources[column] = column
    return pd.DataFrame(data, index=raw.index), sources
