"""Cleaning extracts into canonical typed tables; defective rows set aside with a reason.

Each ``clean_*`` function takes a raw table (a DataFrame as read by :func:`linkage.io.read_table`,
or a path) and returns a frozen :class:`CleanResult` ``(data, rejects, report)``. Nothing is
silently dropped or kept: every input row is either in ``data`` or in ``rejects`` with one reason,
the first of :data:`REASONS` that applies:

=====================  ======================================================================
``duplicate_row``      exact copy of an earlier row (all cells equal once surrounding
                       whitespace is trimmed; the first is kept)
``missing_identifier`` no person / customer id or no unit id (after trimming whitespace)
``missing_date``       no start date (hire date, customer start date, activity date)
``unparseable_date``   a date cell that is not a date, or a numeric date of unknown order
``impossible_date``    date-shaped but not on the calendar (``2024-02-30``) or outside 1900..2200
``unparseable_number`` a ``revenue`` cell that is not a number (activity logs)
``end_before_start``   termination / customer end date before the start date
``future_date``        a date after the extract's ``as_of`` date (default: today)
``unknown_unit``       unit id not in the units table (only when one is given)
``overlapping_spell``  overlaps an earlier spell of the same person in the same unit (the
                       earliest is kept; a spell starting the day another ends is no overlap)
``duplicate_unit``     units table only: a unit id listed before (the first is kept)
=====================  ======================================================================

Dates: ISO (``2024-01-31``, a time part is ignored) and other unambiguous forms by default;
numeric dates like ``01/31/2024`` need ``date_format`` or ``dayfirst`` (or the mapping's ``dates``
section). An end date of ``9999-12-31`` (a common "still employed" placeholder) is read as open.
Identifiers are trimmed and stay strings (``"007"`` stays ``"007"``).

The chain's extracts have cleaners of their own with the same contract and the reasons
of :data:`CHAIN_REASONS`: :func:`clean_employee_survey`, :func:`clean_customer_survey` (scores off
their scale are ``out_of_scale``, a response with no answer ``empty_response``),
:func:`clean_revenue` (customer revenue per period) and :func:`clean_segments` (one segment per
customer).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from linkage.clean._core import REASONS, CleanResult, check_kept, clean_table, format_report
from linkage.clean._dates import NUMERIC_DATE, ambiguous_order_error, parse_dates
from linkage.clean._extracts import CHAIN_REASONS
from linkage.clean._revenue import UNIT_REVENUE_FIGURES, clean_revenue
from linkage.clean._segments import clean_segments
from linkage.clean._surveys import clean_customer_survey, clean_employee_survey, survey_items

__all__ = [
    "clean_employees",
    "clean_customers",
    "clean_activity",
    "clean_units",
    "clean_relationships",
    "clean_employee_survey",
    "clean_customer_survey",
    "clean_revenue",
    "clean_segments",
    "survey_items",
    "UNIT_REVENUE_FIGURES",
    "CHAIN_REASONS",
    "CleanResult",
    "REASONS",
    "format_report",
    "parse_dates",
    "check_kept",
    "ambiguous_order_error",
    "NUMERIC_DATE",
]

Raw = pd.DataFrame | str | os.PathLike[str]


def clean_employees(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """Clean an employee extract into employment spells.

    Parameters
    ----------
    raw : pandas.DataFrame or path
        The extract as read by :func:`linkage.io.read_table` (or its path). Rows are numbered by
        the index when it is the ``row`` index ``read_table`` gives, else 1, 2, ... in order.
    mapping : dict, optional
        A whole mapping (with an ``employees`` section and maybe ``dates``) or just
        ``{canonical: file column}`` for this table. Unmapped columns keep their names.
    source : str, optional
        The file name used in the report and rejects (default: the file's name, or
        ``"employees"`` for a DataFrame).
    units : pandas.DataFrame or CleanResult, optional
        The cleaned units table; rows with other unit ids are set aside as ``unknown_unit``.
    as_of : str or date-like, optional
        Date of the extract; later dates are ``future_date`` (default: today).
    date_format : str, optional
        strftime format of the dates (overrides the mapping's ``dates``).
    dayfirst : bool, optional
        Order of day and month in numeric dates (overrides the mapping's ``dates``).

    Returns
    -------
    CleanResult
        ``data`` with ``employee_id``, ``unit_id`` (str), ``hire_date``, ``termination_date``
        (datetime64, NaT while employed), ``termination_type`` when given, then other columns;
        ``rejects`` and ``report`` as described in :class:`CleanResult`.

    Raises
    ------
    linkage.errors.InputError
        A mapping naming a column the file lacks, a required column missing, or numeric dates
        without a day/month order.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({
    ...     "Employee ID": ["e1", "e1", "e2", " ", "e3"],
    ...     "Cost Center": ["007", "007", "007", "008", "008"],
    ...     "Hire Date": ["01/15/2023", "01/15/2023", "02/30/2023", "03/01/2023", "04/01/2023"],
    ...     "Termination Date": ["", "", "", "", "03/01/2023"]})
    >>> mapping = {"employees": {"employee_id": "Employee ID", "unit_id": "Cost Center",
    ...            "hire_date": "Hire Date", "termination_date": "Termination Date"},
    ...            "dates": {"format": "%m/%d/%Y"}}
    >>> result = clean_employees(raw, mapping=mapping, source="hr.csv", as_of="2024-01-01")
    >>> result.data
      employee_id unit_id  hire_date termination_date
    0          e1     007 2023-01-15              NaT
    >>> rejected = result.rejects[["row", "reason", "column"]]
    >>> rejected.values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[2, 'duplicate_row', ''], [3, 'impossible_date', 'Hire Date'],
     [4, 'missing_identifier', 'Employee ID'], [5, 'end_before_start', 'Termination Date']]
    >>> print(result)
    hr.csv: 5 rows read, 1 kept, 4 set aside
      duplicate_row           1
      missing_identifier      1
      impossible_date         1
      end_before_start        1
    """
    return clean_table(
        raw,
        table="employees",
        mapping=mapping,
        source=source,
        units=units,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
    )


def clean_customers(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    employees: pd.DataFrame | CleanResult | None = None,
) -> CleanResult:
    """Clean a customer extract into customer spells.

    Parameters are those of :func:`clean_employees` (mapping section ``customers``; ``source``
    defaults to ``"customers"`` for a DataFrame), and:

    employees : pandas.DataFrame or CleanResult, optional
        The cleaned employee extract: a customer whose ``served_by`` (the employee serving it,
        when the extract has that column) is not one of its ``employee_id`` is set aside as
        ``unknown_employee``. A blank ``served_by`` is kept (no known employee).

    Returns
    -------
    CleanResult
        ``data`` with ``customer_id``, ``unit_id`` (str), ``start_date``, ``end_date``
        (datetime64, NaT while active), ``served_by`` (str) when given, then other columns.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "unit_id": ["7", "7", "9"],
    ...                     "start_date": ["2023-01-01", "2023-03-01", "2023-02-01"],
    ...                     "end_date": ["2023-06-30", None, None]})
    >>> result = clean_customers(raw, units=pd.DataFrame({"unit_id": ["7"]}), as_of="2024-01-01")
    >>> result.rejects[["row", "reason", "column"]]
       row             reason      column
    0    2  overlapping_spell  start_date
    1    3       unknown_unit     unit_id
    >>> served = raw.assign(served_by=["e1", "e1", "e9"])
    >>> result = clean_customers(served, employees=pd.DataFrame({"employee_id": ["e1"]}),
    ...                          as_of="2024-01-01")
    >>> result.rejects[["row", "reason", "column"]]
       row             reason      column
    0    2  overlapping_spell  start_date
    1    3   unknown_employee   served_by
    """
    return clean_table(
        raw,
        table="customers",
        mapping=mapping,
        source=source,
        units=units,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
        employees=employees,
    )


def clean_relationships(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    employees: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> CleanResult:
    """Clean a relationship table: who served which customer, from when to when.

    Parameters
    ----------
    raw : pandas.DataFrame or path
        ``customer_id``, ``employee_id``, ``start_date``, ``end_date`` (empty while it lasts; map
        other names with the mapping's ``relationships`` section).
    mapping, source, as_of, date_format, dayfirst
        As in :func:`clean_employees` (``source`` defaults to ``"relationships"``).
    employees : pandas.DataFrame or CleanResult, optional
        The cleaned employee extract; a relationship with another employee is set aside as
        ``unknown_employee``.

    Returns
    -------
    CleanResult
        ``data`` with ``customer_id``, ``employee_id`` (str), ``start_date``, ``end_date``
        (datetime64). Reasons: those of the other extracts (duplicates, missing identifiers,
        dates) and ``unknown_employee``, ``overlapping_relationship`` (a customer has one owner
        at a time: a relationship that starts before the customer's earlier one ends is set
        aside; one starting the day the other ends is a handover, kept).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer_id": ["c1", "c1", "c1", "c2"],
    ...                     "employee_id": ["e1", "e2", "e3", "e9"],
    ...                     "start_date": ["2023-01-01", "2023-06-30", "2023-05-01", "2023-02-01"],
    ...                     "end_date": ["2023-06-30", None, "2023-07-01", None]})
    >>> staff = pd.DataFrame({"employee_id": ["e1", "e2", "e3"]})
    >>> result = clean_relationships(raw, employees=staff, as_of="2024-01-01")
    >>> result.data[["customer_id", "employee_id"]].values.tolist()
    [['c1', 'e1'], ['c1', 'e2']]
    >>> result.rejects[["row", "reason", "column"]]
       row                    reason       column
    0    3  overlapping_relationship   start_date
    1    4          unknown_employee  employee_id
    """
    return clean_table(
        raw,
        table="relationships",
        mapping=mapping,
        source=source,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
        employees=employees,
    )


def clean_activity(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    units: pd.DataFrame | CleanResult | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    check_date_order: bool = True,
) -> CleanResult:
    """Clean a customer activity log (one row per visit, order or contact).

    Parameters are those of :func:`clean_employees` (mapping section ``activity``; ``source``
    defaults to ``"activity"`` for a DataFrame), and ``check_date_order``: ``False`` when
    ``raw`` is a part of a log whose numeric day/month dates were counted over the whole log
    (the engines do so), see :func:`parse_dates`.

    Returns
    -------
    CleanResult
        ``data`` with ``customer_id``, ``unit_id`` (str), ``activity_date`` (datetime64) and
        ``revenue`` (float64) when given, then other columns.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "unit_id": ["7", "7", "7"],
    ...                     "activity_date": ["2023-01-05", "2023-01-05", "2023-01-06"],
    ...                     "revenue": ["12.5", "12.5", "n/a?"]})
    >>> result = clean_activity(raw, as_of="2024-01-01")
    >>> result.data
      customer_id unit_id activity_date  revenue
    0          c1       7    2023-01-05     12.5
    >>> result.rejects["reason"].tolist()
    ['duplicate_row', 'unparseable_number']
    """
    return clean_table(
        raw,
        table="activity",
        mapping=mapping,
        source=source,
        units=units,
        as_of=as_of,
        date_format=date_format,
        dayfirst=dayfirst,
        check_date_order=check_date_order,
    )


def clean_units(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
) -> CleanResult:
    """Clean a units table (``unit_id`` plus attributes such as ``region``).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        The units extract.
    mapping : dict, optional
        A whole mapping (``units`` section) or ``{canonical: file column}``; any attribute may
        be renamed (``region: Region``). Unmapped columns keep their names.
    source : str, optional
        The file name for the report (default: the file's name, or ``"units"``).

    Returns
    -------
    CleanResult
        ``data`` with ``unit_id`` (str) then every attribute as trimmed text; a repeated unit id
        is set aside as ``duplicate_unit`` (the first row is kept). The date attributes
        ``opened`` and ``closed`` are read with the mapping's date options and written as
        ``YYYY-MM-DD`` text (a cell that is no date is kept as it is: a unit is never set aside
        for an attribute).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Store": ["007", "008", "007"], "Region": ["North", "South", "East"]})
    >>> result = clean_units(raw, mapping={"unit_id": "Store", "region": "Region"})
    >>> result.data
      unit_id region
    0     007  North
    1     008  South
    >>> result.rejects[["row", "reason", "column"]]
       row          reason column
    0    3  duplicate_unit  Store
    """
    return clean_table(raw, table="units", mapping=mapping, source=source)
