"""One call from raw extracts (files or DataFrames) to the panel, with the cleaning accounting."""

from __future__ import annotations

import dataclasses
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from linkage.clean import (
    UNIT_REVENUE_FIGURES,
    CleanResult,
    check_kept,
    clean_activity,
    clean_customer_survey,
    clean_customers,
    clean_employee_survey,
    clean_employees,
    clean_revenue,
    clean_segments,
    clean_units,
    format_report,
    survey_items,
)
from linkage.errors import InputError
from linkage.io import (
    load_mapping,
    pseudonymised_columns,
    read_table,
    table_options,
    validate_mapping,
)
from linkage.panel.build import build_panel
from linkage.panel.join import join_chain
from linkage.panel.periods import DateLike, date_codes, period_starts
from linkage.panel.revenue import revenue_panel
from linkage.panel.segments import segment_retention
from linkage.panel.surveys import Align, customer_survey_panel, employee_survey_panel
from linkage.privacy import pseudonym_key
from linkage.privacy import pseudonymise as _pseudonymise

__all__ = [
    "prepare",
    "Prepared",
    "CleaningReport",
    "NO_SEGMENT",
    "clean_chain_extract",
    "chain_table",
]

Source = pd.DataFrame | str | os.PathLike[str]


@dataclasses.dataclass(frozen=True, repr=False)
class CleaningReport:
    """The cleaning accounting of every input: rows read = kept + set aside, by reason, per file.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy ``file, reason, n``: per file one ``kept`` row and one row per applicable reason.

    ``str(report)`` (also :attr:`text`) is the readable form the CLI prints; in Jupyter the
    report renders as a small table.
    """

    table: pd.DataFrame

    @property
    def text(self) -> str:
        """Rows read / kept / set aside by reason, per file, as lines of text."""
        return format_report(self.table)

    @property
    def n_read(self) -> int:
        """Rows read over all files."""
        return int(self.table["n"].sum())

    @property
    def n_kept(self) -> int:
        """Rows kept over all files."""
        return int(self.table.loc[self.table["reason"].eq("kept"), "n"].sum())

    @property
    def n_set_aside(self) -> int:
        """Rows set aside over all files."""
        return self.n_read - self.n_kept

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return (
            f"CleaningReport({self.n_read} rows read, {self.n_kept} kept, "
            f"{self.n_set_aside} set aside)"
        )

    def _repr_html_(self) -> str:
        shown = self.table.loc[self.table["reason"].eq("kept") | self.table["n"].gt(0)]
        return f"<p>{html.escape(repr(self))}</p>" + shown.to_html(index=False, escape=True)


@dataclasses.dataclass(frozen=True, repr=False)
class Prepared:
    """What :func:`prepare` returns.

    Attributes
    ----------
    panel : pandas.DataFrame
        The unit x period panel (:func:`linkage.panel.build_panel`).
    report : CleaningReport
        Rows read, kept and set aside by reason, per input file.
    rejects : pandas.DataFrame
        Every set-aside row of every input: ``file, row, reason, column`` and its original cells
        (person-level data: keep it inside the analysis team).
    segments : pandas.DataFrame or None
        Customer retention per unit, period and segment (:func:`linkage.panel.segment_retention`)
        when segments were given (a segments table, or a ``segment`` column on the customers);
        customers without a segment are in the segment ``"(no segment)"``, so the counts sum to the
        panel's.
    items : tuple of str
        The employee survey's items (its panel columns are ``es_<item>``); empty without a survey.
    employees : pandas.DataFrame or None
        The kept employee spells (person-level: keep it inside the analysis team), e.g. for
        :func:`linkage.panel.events.derive_events`.
    """

    panel: pd.DataFrame
    report: CleaningReport
    rejects: pd.DataFrame
    segments: pd.DataFrame | None = None
    items: tuple[str, ...] = ()
    employees: pd.DataFrame | None = None

    def __repr__(self) -> str:
        units = self.panel["unit_id"].nunique() if "unit_id" in self.panel else 0
        periods = self.panel["period"].nunique() if "period" in self.panel else 0
        return (
            f"Prepared(panel: {units} units x {periods} periods; {self.report.n_read} rows read, "
            f"{self.report.n_kept} kept, {self.report.n_set_aside} set aside)"
        )

    def __str__(self) -> str:
        return self.report.text


def _load(source: Source | None, table: str) -> tuple[pd.DataFrame | None, str]:
    if source is None:
        return None, table
    if isinstance(source, pd.DataFrame):
        return source, table
    if isinstance(source, (str, os.PathLike)):
        label = Path(source).name
        return read_table(source, name=label), label
    raise InputError(
        f"expected a file path or a DataFrame, not {type(source).__name__}", file=table
    )


NO_SEGMENT = "(no segment)"
_ALIGNS = ("forward", "wave")


def prepare(
    *,
    employees: Source,
    customers: Source | None = None,
    activity: Source | None = None,
    units: Source | None = None,
    employee_survey: Source | None = None,
    customer_survey: Source | None = None,
    revenue: Source | None = None,
    segments: Source | None = None,
    mapping: dict[str, Any] | str | os.PathLike[str] | None = None,
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    as_of: Any = None,
    activity_window: int = 1,
    survey_align: Align = "forward",
    customer_survey_align: Align = "wave",
    pseudonymise: bool = False,
    pseudonym_key_file: str | os.PathLike[str] | None = None,
) -> Prepared:
    """Read, map and clean the extracts, then build the unit x period panel and the chain's columns.

    Parameters
    ----------
    employees : path or pandas.DataFrame
        Employment spells (see :func:`linkage.clean.clean_employees`).
    customers : path or pandas.DataFrame, optional
        Customer spells.
    activity : path or pandas.DataFrame, optional
        A customer activity log instead of spells.
    units : path or pandas.DataFrame, optional
        Units and their attributes; when given, rows of other units are set aside
        (``unknown_unit``) and the attributes are joined onto the panel.
    employee_survey : path or pandas.DataFrame, optional
        Employee survey answers, one row per respondent and wave (``unit_id``, ``survey_date``,
        optional ``respondent_id``, the items; :func:`linkage.clean.clean_employee_survey`), or
        item means per unit and period (``unit_id``, ``period``, ``respondents``, the items). The
        items are the mapping's ``employee_survey: items`` when given, else every column the
        mapping does not take whose cells are mostly numbers (``Prepared.items`` says which).
        Adds ``es_<item>``, ``es_respondents``, ``es_wave`` to the panel.
    customer_survey : path or pandas.DataFrame, optional
        Customer survey responses (``unit_id``, ``response_date``, ``csat`` and / or ``nps``).
        Adds ``cs_csat`` / ``cs_nps``, ``cs_respondents``, ``cs_wave``.
    revenue : path or pandas.DataFrame, optional
        Customer-level revenue (``customer_id``, ``unit_id``, ``period``, ``revenue``) or, without
        a ``customer_id`` column, a unit-level table (``unit_id``, ``period``, ``revenue`` and
        optionally ``revenue_start``, ``revenue_retained``, ``revenue_retention``, one row per unit
        and period). Adds ``revenue``, ``revenue_start``, ``revenue_retained``,
        ``revenue_retention`` (:func:`linkage.panel.revenue_panel`; from a unit-level table its
        figures as given, the retention computed when absent and the other two are there).
    segments : path or pandas.DataFrame, optional
        ``customer_id, segment``: gives ``Prepared.segments``, retention per segment.
    mapping : dict or path, optional
        Column mapping (a dict or a YAML file, see :mod:`linkage.io`), sections ``employees``,
        ``customers``, ``activity``, ``units``, ``employee_survey``, ``customer_survey``,
        ``revenue``, ``segments``, ``dates``, ``pseudonymise``.
    freq : {"M", "Q", "Y"}, default "M"
        Period length.
    start, end : str or date-like, optional
        First and last period of the panel (e.g. ``"2023-01"``); default: the data's range.
    as_of : str or date-like, optional
        Date of the extracts; later dates are set aside as ``future_date`` (default: today).
    activity_window : int, default 1
        For an activity log: periods of inactivity after which a customer counts as lost.
    survey_align : {"forward", "wave"}, default "forward"
        The employee survey's alignment (:mod:`linkage.panel.surveys`): a wave's figures hold in its
        period and the unit's following periods until its next wave, or in its own period only.
    customer_survey_align : {"wave", "forward"}, default "wave"
        The same for the customer survey.
    pseudonymise : bool, default False
        Replace the person identifiers (``employee_id``, ``customer_id``, the surveys'
        ``respondent_id`` and ``response_id``) and the columns the mapping's ``pseudonymise``
        section names by keyed-hash pseudonyms (:func:`linkage.privacy.pseudonymise`) as soon as
        each extract is read, before cleaning: the cleaned tables and the rejects carry pseudonyms,
        never the raw identifiers. The key comes from ``pseudonym_key_file``, else from
        ``$LINKAGE_PSEUDONYM_KEY``. Unit ids are never changed.
    pseudonym_key_file : path, optional
        A file holding the pseudonymisation key (needs ``pseudonymise=True``).

    Returns
    -------
    Prepared
        ``panel`` (with the chain's columns appended, :func:`linkage.panel.join_chain`),
        ``report`` (:class:`CleaningReport`, every file), ``rejects`` (every file), ``segments``
        and ``items``.

    Raises
    ------
    linkage.errors.InputError
        For a file that cannot be used at all (missing, empty, not a table, no required column,
        a mapping naming absent columns, invalid YAML), a person extract none of whose rows can be
        used, or ``pseudonymise`` without a usable key. Defective rows are set aside instead.

    Examples
    --------
    >>> import pandas as pd
    >>> employees = pd.DataFrame({
    ...     "employee_id": ["a", "b", "b", "c"], "unit_id": ["s1", "s1", "s1", "s9"],
    ...     "hire_date": ["2023-11-15", "2024-02-01", "2024-02-01", "2024-01-10"],
    ...     "termination_date": ["2024-02-29", "", "", ""]})
    >>> customers = pd.DataFrame({
    ...     "customer_id": ["x", "y"], "unit_id": ["s1", "s1"],
    ...     "start_date": ["2023-12-01", "2024-01-20"], "end_date": ["", "2024-03-05"]})
    >>> units = pd.DataFrame({"unit_id": ["s1"], "region": ["North"]})
    >>> result = prepare(employees=employees, customers=customers, units=units,
    ...                  start="2024-01", end="2024-03", as_of="2024-04-01")
    >>> print(result.report)
    units: 1 rows read, 1 kept, 0 set aside
    employees: 4 rows read, 2 kept, 2 set aside
      duplicate_row           1
      unknown_unit            1
    customers: 2 rows read, 2 kept, 0 set aside
    >>> result.panel[["period", "employee_start", "employee_retention", "customer_end"]]
          period  employee_start  employee_retention  customer_end
    0 2024-01-01               1                 1.0             2
    1 2024-02-01               1                 0.0             2
    2 2024-03-01               1                 1.0             1

    An employee survey in January (one answer out of scale) joins the panel, carried forward:

    >>> survey = pd.DataFrame({"Store": ["s1", "s1", "s1"], "Date": ["2024-01-09"] * 3,
    ...                        "engagement": ["4", "2", "9"], "pay": ["3", "", "3"]})
    >>> result = prepare(employees=employees, customers=customers, units=units,
    ...                  employee_survey=survey,
    ...                  mapping={"employee_survey": {"unit_id": "Store", "survey_date": "Date"}},
    ...                  start="2024-01", end="2024-03", as_of="2024-04-01")
    >>> print(result.report.text.splitlines()[-2:])
    ['employee_survey: 3 rows read, 2 kept, 1 set aside', '  out_of_scale            1']
    >>> result.items
    ('engagement', 'pay')
    >>> result.panel[["period", "es_engagement", "es_pay", "es_respondents", "es_wave"]]
          period  es_engagement  es_pay  es_respondents    es_wave
    0 2024-01-01            3.0     3.0               2 2024-01-01
    1 2024-02-01            3.0     3.0               2 2024-01-01
    2 2024-03-01            3.0     3.0               2 2024-01-01
    """
    if isinstance(mapping, (str, os.PathLike)):
        mapping = load_mapping(mapping)
    elif mapping is not None:
        mapping = validate_mapping(mapping)
    if customers is not None and activity is not None:
        raise InputError("give customers either as spells or as an activity log, not both")
    for name, value in (
        ("survey_align", survey_align),
        ("customer_survey_align", customer_survey_align),
    ):
        if value not in _ALIGNS:
            raise InputError(
                f"{name} must be 'forward' (carry a wave to the following periods) or "
                f"'wave' (its own period only), not {value!r}"
            )
    key = None
    if pseudonym_key_file is not None and not pseudonymise:
        raise InputError(
            "a pseudonym key file was given but pseudonymise is off",
            file=Path(pseudonym_key_file).name,
        )
    if pseudonymise:
        key = pseudonym_key(key_file=pseudonym_key_file)

    def person_table(source: Source | None, table: str) -> tuple[pd.DataFrame | None, str]:
        raw, name = _load(source, table)
        if raw is None or key is None:
            return raw, name
        present = [c for c in pseudonymised_columns(mapping, table) if c in raw.columns]
        return _pseudonymise(raw, columns=present, key=key, file=name), name

    results: list[CleanResult] = []
    raw_units, label = _load(units, "units")
    clean_u = None
    if raw_units is not None:
        clean_u = clean_units(raw_units, mapping=mapping, source=label)
        results.append(clean_u)

    common = {"mapping": mapping, "units": clean_u, "as_of": as_of}
    raw_emp, label = person_table(employees, "employees")
    if raw_emp is None:  # employees=None, against the signature: say what is expected
        raise InputError(
            "expected a DataFrame or a file path for the employees table, not NoneType",
            file="employees",
        )
    clean_e = clean_employees(raw_emp, source=label, **common)
    results.append(clean_e)
    clean_c = clean_a = None
    raw_cus, label = person_table(customers, "customers")
    if raw_cus is not None:
        clean_c = clean_customers(raw_cus, source=label, **common)
        results.append(clean_c)
    raw_act, label = person_table(activity, "activity")
    if raw_act is not None:
        clean_a = clean_activity(raw_act, source=label, **common)
        results.append(clean_a)

    chain = {"units": clean_u, "as_of": as_of}
    clean_es = clean_cs = clean_rev = clean_seg = None
    items: tuple[str, ...] = ()
    raw_es, label = person_table(employee_survey, "employee_survey")
    if raw_es is not None:
        clean_es, items = clean_chain_extract(
            "employee_survey", raw_es, mapping=mapping, source=label, freq=freq, **chain
        )
        results.append(clean_es)
    raw_cs, label = person_table(customer_survey, "customer_survey")
    if raw_cs is not None:
        clean_cs, _ = clean_chain_extract(
            "customer_survey", raw_cs, mapping=mapping, source=label, freq=freq, **chain
        )
        results.append(clean_cs)
    raw_rev, label = person_table(revenue, "revenue")
    if raw_rev is not None:
        clean_rev, _ = clean_chain_extract(
            "revenue", raw_rev, mapping=mapping, source=label, freq=freq, **chain
        )
        results.append(clean_rev)
    raw_seg, label = person_table(segments, "segments")
    if raw_seg is not None:
        clean_seg = clean_segments(raw_seg, mapping=mapping, source=label)
        results.append(clean_seg)

    for result in results:
        check_kept(result)

    panel = build_panel(
        clean_e.data,
        None if clean_c is None else clean_c.data,
        activity=None if clean_a is None else clean_a.data,
        units=None if clean_u is None else clean_u.data,
        freq=freq,
        start=start,
        end=end,
        activity_window=activity_window,
    )
    # the chain's tables on the panel's periods
    if len(panel):
        window = {"freq": freq, "start": panel["period"].min(), "end": panel["period"].max()}
    else:
        window = {"freq": freq, "start": start, "end": end}
    tables: dict[str, pd.DataFrame] = {}
    if clean_es is not None:
        tables["employee_survey"] = chain_table(
            "employee_survey", clean_es.data, items=items, align=survey_align, **window
        )
    if clean_cs is not None:
        tables["customer_survey"] = chain_table(
            "customer_survey", clean_cs.data, align=customer_survey_align, **window
        )
    if clean_rev is not None:
        tables["revenue"] = chain_table("revenue", clean_rev.data, **window)
    if tables:
        panel = join_chain(panel, **tables)
    per_segment = None
    spells = clean_c if clean_c is not None else clean_a
    if spells is not None and (clean_seg is not None or "segment" in spells.data.columns):
        per_segment = _segments(
            spells.data,
            None if clean_seg is None else clean_seg.data,
            activity_window=activity_window,
            **window,
        )

    report = pd.concat([r.report for r in results], ignore_index=True)
    rejects = pd.concat([r.rejects for r in results], ignore_index=True)
    return Prepared(
        panel=panel,
        report=CleaningReport(report),
        rejects=rejects,
        segments=per_segment,
        items=items,
        employees=clean_e.data,
    )


_CHAIN_TABLES = ("employee_survey", "customer_survey", "revenue")


def clean_chain_extract(
    table: str,
    raw: pd.DataFrame,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
    freq: str = "M",
    units: CleanResult | None = None,
    as_of: Any = None,
) -> tuple[CleanResult, tuple[str, ...]]:
    """Clean one of the chain's extracts as :func:`prepare` does, with the mapping's section.

    Parameters
    ----------
    table : {"employee_survey", "customer_survey", "revenue"}
        Which extract.
    raw : pandas.DataFrame
        The extract as read (:func:`linkage.io.read_table`), file column names.
    mapping : dict, optional
        A validated whole mapping (:func:`linkage.io.load_mapping`): the table's section (columns,
        and for the employee survey ``items`` and ``scale``) and ``dates`` apply.
    source : str, optional
        The file name for the report and messages.
    freq : {"M", "Q", "Y"}, default "M"
        Period length (unit-level tables).
    units, as_of
        As in the ``linkage.clean.clean_*`` functions.

    Returns
    -------
    (CleanResult, tuple of str)
        The cleaning result and, for the employee survey, its items (the mapping's ``items``,
        else the mostly numeric columns the mapping does not take); ``()`` otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Store": ["7", "7"], "When": ["03/04/2024", "03/05/2024"],
    ...                     "Q1": ["4", "2"]})
    >>> mapping = {"employee_survey": {"unit_id": "Store", "survey_date": "When",
    ...                                "items": {"engagement": "Q1"}},
    ...            "dates": {"format": "%m/%d/%Y"}}
    >>> result, items = clean_chain_extract("employee_survey", raw,
    ...                                     mapping=validate_mapping(mapping))
    >>> items, result.data["survey_date"].dt.day.tolist()
    (('engagement',), [4, 5])
    """
    common: dict[str, Any] = {"mapping": mapping, "source": source, "units": units, "as_of": as_of}
    if table == "employee_survey":
        scale = table_options(mapping, "employee_survey").get("scale", (1, 5))
        items = tuple(survey_items(raw, mapping=mapping, scale=scale, file=source))
        es = clean_employee_survey(raw, items=list(items), scale=scale, freq=freq, **common)
        return es, items
    if table == "customer_survey":
        return clean_customer_survey(raw, **common), ()
    if table == "revenue":
        return clean_revenue(raw, freq=freq, **common), ()
    raise InputError(f"unknown chain table {table!r} (one of {', '.join(_CHAIN_TABLES)})")


def chain_table(
    table: str,
    data: pd.DataFrame,
    *,
    items: Sequence[str] = (),
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    align: Align | None = None,
) -> pd.DataFrame:
    """A cleaned chain extract (:func:`clean_chain_extract`) as the unit x period table
    :func:`linkage.panel.join_chain` joins, as :func:`prepare` builds it.

    Parameters
    ----------
    table : {"employee_survey", "customer_survey", "revenue"}
        Which extract.
    data : pandas.DataFrame
        The cleaned rows (``CleanResult.data``): respondent or customer level, or unit level.
    items : sequence of str
        The employee survey's items.
    freq, start, end
        The panel's period length and window.
    align : {"forward", "wave"}, optional
        The surveys' alignment (default: the employee survey's "forward", the customer survey's
        "wave"; see :mod:`linkage.panel.surveys`).

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``period`` and the table's panel columns (``es_<item>`` ..., ``cs_csat`` ...,
        ``revenue`` ...).

    Examples
    --------
    >>> import pandas as pd
    >>> rev = pd.DataFrame({"unit_id": ["7"], "period": pd.to_datetime(["2024-01-01"]),
    ...                     "revenue": [10.0], "revenue_start": [8.0], "revenue_retained": [6.0]})
    >>> chain_table("revenue", rev)[["unit_id", "revenue", "revenue_retention"]]
      unit_id  revenue  revenue_retention
    0       7     10.0               0.75
    """
    window: dict[str, Any] = {"freq": freq, "start": start, "end": end}
    if table == "employee_survey":
        return _employee_survey(data, list(items), align=align or "forward", **window)
    if table == "customer_survey":
        return customer_survey_panel(
            data,
            csat="csat" if "csat" in data.columns else None,
            nps="nps" if "nps" in data.columns else None,
            align=align or "wave",
            **window,
        )
    if table == "revenue":
        if "customer_id" in data.columns:
            return revenue_panel(data, **window)
        return _unit_revenue(data, freq)
    raise InputError(f"unknown chain table {table!r} (one of {', '.join(_CHAIN_TABLES)})")


def _employee_survey(data: pd.DataFrame, items: list[str], **options: Any) -> pd.DataFrame:
    """The employee survey panel, from respondents or from unit means and respondent counts."""
    if "survey_date" in data.columns or "period" not in data.columns:
        return employee_survey_panel(data, items=items, **options)
    # one row per unit and period: its means are the wave's; the count rides along as an item
    count = "__respondents__"
    out = employee_survey_panel(
        data.rename(columns={"respondents": count}), items=[*items, count], date="period", **options
    )
    out["es_respondents"] = out.pop(f"es_{count}").fillna(0).to_numpy(dtype=np.int64)
    return out


def _unit_revenue(data: pd.DataFrame, freq: str) -> pd.DataFrame:
    """A cleaned unit-level revenue table keyed like the panel (``period`` = first day)."""
    out = pd.DataFrame(
        {
            "unit_id": data["unit_id"].astype("str"),
            "period": period_starts(date_codes(data["period"], freq), freq),
        }
    )
    for name in ("revenue", *UNIT_REVENUE_FIGURES):
        if name in data.columns:
            out[name] = data[name].to_numpy(dtype=np.float64)
    if "revenue_retention" not in out and {"revenue_start", "revenue_retained"} <= set(out.columns):
        start = out["revenue_start"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out["revenue_retention"] = np.where(
                start != 0, out["revenue_retained"].to_numpy() / start, np.nan
            )
    return out


def _segments(
    customers: pd.DataFrame, segments: pd.DataFrame | None, **options: Any
) -> pd.DataFrame:
    """Retention per segment; customers without a segment are in :data:`NO_SEGMENT`."""
    dates = (
        ["activity_date"] if "activity_date" in customers.columns else ["start_date", "end_date"]
    )
    base = customers[["customer_id", "unit_id", *dates]]
    if segments is None:
        labels = customers["segment"]
    else:
        lookup = pd.Series(
            segments["segment"].to_numpy(), index=pd.Index(segments["customer_id"].to_numpy())
        )
        labels = pd.Series(
            lookup.reindex(customers["customer_id"].to_numpy()).to_numpy(), index=customers.index
        )
    labels = labels.astype("str").where(labels.notna(), NO_SEGMENT)
    return segment_retention(base.assign(segment=labels), **options)
