"""Writing a world: canonical CSVs, truth.json, a raw HR/CRM export with its mapping; the sample."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import tempfile
from typing import Any

import pandas as pd

from linkage.errors import InputError
from linkage.panel.events import derive_events
from linkage.simulate._events import EventSpec
from linkage.simulate._relationships import RelationshipSpec
from linkage.simulate._service_chain import ChainSpec
from linkage.simulate._spec import WorldSpec
from linkage.simulate._world import World, simulate

__all__ = [
    "write_world",
    "write_sample",
    "SAMPLE_SPEC",
    "SAMPLE_CHAIN",
    "SAMPLE_RELATIONSHIPS",
    "SAMPLE_EVENTS",
    "SAMPLE_DEFECTS",
    "RAW_COLUMNS",
    "CHAIN_FILES",
]

#: the bundled sample world (``data/sample``): 100 units x 36 months, employees lead by 2 months,
#: a mild shared season; rebuilt by ``linkage simulate data/sample --sample`` (``make sample``)
SAMPLE_SPEC = WorldSpec(
    n_units=100,
    months=36,
    start="2023-01",
    lag=2,
    effect_staff=0.6,
    effect_customer=0.6,
    seasonality=0.15,
    customers_per_employee=10.0,
    seed=20240601,
)
#: the chain planted around the sample world (surveys, segments, revenue): the defaults
SAMPLE_CHAIN = ChainSpec()
#: who serves whom in the sample (customers.csv's ``served_by``, each customer's first owner; the
#: relationship table itself is left out to keep the sample small): customers leave twice as
#: often in the 6 months after their employee left, 1.3 times after a quick handover
SAMPLE_RELATIONSHIPS = RelationshipSpec()
#: the events planted in the sample world: its managers (``role`` "manager" in employees.csv)
#: leave in 6 units of 10, half the units start a programme (``programme.csv``), with the default
#: effects on customers; ``truth["events"]`` says what was planted. No staff shock is planted
#: (``shock_unit_share=0``): a month losing 35 % of its staff lies outside the latent staff hazard
#: of ``truth.json``, and with them the noise-corrected slope at lag 2 (``noise_corrected(
#: simulate(SAMPLE_SPEC, events=EventSpec()).panel, lags=(2,))``) is 0.36 where the latent slope
#: is 0.87; the staff shocks in ``events.csv`` are the months in which a quarter of the staff left
#: unplanted, as in a world without events
SAMPLE_EVENTS = EventSpec(shock_unit_share=0.0)
#: the files of a world's chain, by :class:`World` attribute
CHAIN_FILES: dict[str, str] = {
    "employee_survey": "employee_survey.csv",
    "customer_survey": "customer_survey.csv",
    "segments": "customer_segments.csv",
    "revenue": "revenue.csv",
}
#: defects planted in each raw file of the sample (the canonical files are clean)
SAMPLE_DEFECTS: dict[str, int] = {
    "duplicate_row": 6,
    "end_before_start": 4,
    "unparseable_date": 3,
    "missing_identifier": 3,
    "unknown_unit": 2,
    "future_date": 2,
    "overlapping_spell": 3,
}

#: raw-export column names, per table, from the canonical ones
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "employees": {
        "employee_id": "Employee ID",
        "unit_id": "Cost Center",
        "hire_date": "Hire Date",
        "termination_date": "Termination Date",
        "termination_type": "Termination Reason",
        "role": "Job Title",
    },
    "customers": {
        "customer_id": "Account ID",
        "unit_id": "Store",
        "start_date": "Created Date",
        "end_date": "Cancel Date",
        "served_by": "Relationship Manager",
    },
    "activity": {
        "customer_id": "Account ID",
        "unit_id": "Store",
        "activity_date": "Visit Date",
        "revenue": "Amount",
    },
    "units": {
        "unit_id": "Store",
        "region": "Region",
        "district": "District",
        "size_band": "Size Band",
        "opened": "Opened",
    },
    # the chain's files (the employee survey's items become Q1, Q2, ... in their order)
    "employee_survey": {
        "respondent_id": "Response ID",
        "unit_id": "Store",
        "survey_date": "Survey Date",
    },
    "customer_survey": {
        "response_id": "Response ID",
        "unit_id": "Store",
        "response_date": "Date",
        "csat": "Satisfaction",
        "nps": "Likely to recommend",
    },
    "revenue": {
        "unit_id": "Store",
        "period": "Month",
        "revenue": "Revenue",
        "revenue_start": "Revenue Start",
        "revenue_retained": "Revenue Retained",
        "revenue_retention": "Net Revenue Retention",
    },
    "segments": {"customer_id": "Account ID", "segment": "Vertical"},
}
#: the raw export's chain files, by :data:`RAW_COLUMNS` table
RAW_CHAIN_FILES: dict[str, str] = {
    "employee_survey": "employee_survey.csv",
    "customer_survey": "customer_survey.csv",
    "revenue": "unit_revenue.csv",
    "segments": "customer_segments.csv",
}
#: canonical columns a world has only when simulated with them (``served_by`` with relationships,
#: ``role`` with events): mapped in ``mapping.yaml`` only when the table holds them
_OPTIONAL_COLUMNS = ("served_by", "role")
_US = "%m/%d/%Y"
_DATE_COLUMNS = (
    "hire_date",
    "termination_date",
    "start_date",
    "end_date",
    "activity_date",
    "opened",
    "survey_date",
    "response_date",
    "period",
)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _csv_bytes(
    table: pd.DataFrame,
    *,
    sep: str = ",",
    crlf: bool = False,
    bom: bool = False,
    date_format: str = "%Y-%m-%d",
) -> bytes:
    text = table.to_csv(
        index=False,
        sep=sep,
        lineterminator="\r\n" if crlf else "\n",
        date_format=date_format,
        na_rep="",
    )
    return ("\ufeff" + text if bom else text).encode("utf-8")


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _us_dates(col: pd.Series) -> pd.Series:
    """Dates (typed, or ISO text with defects) as ``MM/DD/YYYY`` text; other text kept as it is."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.dt.strftime(_US)
    parsed = pd.to_datetime(col, format="%Y-%m-%d", errors="coerce")
    return parsed.dt.strftime(_US).where(parsed.notna(), col)


def _raw_table(table: pd.DataFrame, kind: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    names = {**RAW_COLUMNS[kind], **(names or {})}
    out = {}
    for col in table.columns:
        values = table[col]
        if col in _DATE_COLUMNS:
            values = _us_dates(values)
        out[names.get(col, col)] = values
    return pd.DataFrame(out)


def _survey_items(world: World) -> dict[str, str]:
    """The employee survey's items and their export names (Q1, Q2, ... in the file's order)."""
    if world.employee_survey is None:
        return {}
    taken = RAW_COLUMNS["employee_survey"]
    items = [c for c in world.employee_survey.columns if c not in taken]
    return {item: f"Q{i}" for i, item in enumerate(items, start=1)}


def _unit_revenue(world: World) -> pd.DataFrame | None:
    """Revenue per unit and month of a chain world with its net revenue retention, over the
    world's window (amounts to the cent, the retention to 6 decimals)."""
    from linkage.panel import revenue_panel

    if world.revenue is None:
        return None
    facts = world.truth["facts"]
    return revenue_panel(world.revenue, start=facts["window_start"], end=facts["window_end"]).round(
        {"revenue": 2, "revenue_start": 2, "revenue_retained": 2, "revenue_retention": 6}
    )


def _mapping_yaml(
    customers_kind: str, items: dict[str, str] | None = None, *, optional: tuple[str, ...] = ()
) -> str:
    """``mapping.yaml`` of a raw export; ``optional``: the columns of :data:`_OPTIONAL_COLUMNS`
    the world's tables hold."""

    def line(kind: str, section: str) -> str:
        pairs = ", ".join(
            f"{k}: {v}"
            for k, v in RAW_COLUMNS[kind].items()
            if k in optional or k not in _OPTIONAL_COLUMNS
        )
        return f"{section}: {{{pairs}}}\n"

    chain = ""
    if items:
        listed = ", ".join(f"{k}: {v}" for k, v in items.items())
        chain = (
            "# the chain: employee_survey.csv, customer_survey.csv, unit_revenue.csv (per store\n"
            "# and month), customer_segments.csv\n"
            + line("employee_survey", "employee_survey")[: -len("}\n")]
            + f", items: {{{listed}}}, scale: [1, 5]}}\n"
            + line("customer_survey", "customer_survey")
            + line("revenue", "revenue")
            + line("segments", "segments")
        )

    return (
        "# How the raw export in this folder maps onto linkage's canonical columns.\n"
        "# employees.csv: UTF-8 with BOM, CRLF line endings; customers.csv: semicolon separated.\n"
        + line("employees", "employees")
        + (
            line("customers", "customers")
            if customers_kind == "spells"
            else line("activity", "activity")
        )
        + line("units", "units")
        + chain
        + 'dates: {format: "%m/%d/%Y"}\n'
    )


def write_world(
    world: World, outdir: str | os.PathLike[str], *, raw_export: bool = False
) -> list[pathlib.Path]:
    """Write a simulated world as CSV extracts plus its truth.

    Files in ``outdir`` (created if missing): ``employees.csv``, ``customers.csv`` (spells or an
    activity log), ``units.csv`` with canonical column names and ISO dates; ``panel.csv``, the
    clean world's panel (:attr:`World.panel`); ``truth.json``. With ``raw_export``, also
    ``outdir/raw/``: the same rows as a real HR / CRM system would export them
    (``employees.csv``: "Employee ID", "Cost Center", "Hire Date", "Termination Date",
    "Termination Reason", UTF-8 with BOM and CRLF; ``customers.csv``: "Account ID", "Store",
    "Created Date", "Cancel Date" (an activity log: "Visit Date", "Amount"), semicolon separated;
    ``units.csv``: "Store", "Region", "District", "Size Band", "Opened"; dates as ``MM/DD/YYYY``)
    and the matching ``mapping.yaml``. A world simulated with a chain also gets
    ``employee_survey.csv``, ``customer_survey.csv``, ``customer_segments.csv`` and
    ``revenue.csv`` (one row per customer and active month), see :class:`World`; its raw export
    then also holds them as exported (``employee_survey.csv``: "Response ID", "Store", "Survey
    Date", the items as "Q1", "Q2", ...; ``customer_survey.csv``: "Response ID", "Store", "Date",
    "Satisfaction", "Likely to recommend"; ``unit_revenue.csv``: revenue per store and month,
    "Store", "Month", "Revenue", "Revenue Start", "Revenue Retained", "Net Revenue Retention";
    ``customer_segments.csv``: "Account ID", "Vertical"), with their ``employee_survey``,
    ``customer_survey``, ``revenue`` and ``segments`` sections in ``mapping.yaml``. Writing the
    same world twice gives identical bytes. A world simulated with events
    (:class:`~linkage.simulate.EventSpec`) also gets ``programme.csv`` (``unit_id, event_date,
    event_type``) and its ``employees.csv`` a ``role`` column.

    Parameters
    ----------
    world : World
        From :func:`linkage.simulate.simulate`.
    outdir : str or path-like
        Target folder.
    raw_export : bool, default False
        Also write the raw-export variant under ``outdir/raw``.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    InputError
        If ``world`` is not a :class:`World` or ``outdir`` is a file.

    Examples
    --------
    >>> import tempfile
    >>> from linkage.simulate import WorldSpec, simulate, write_world
    >>> world = simulate(WorldSpec(n_units=3, months=6))
    >>> paths = write_world(world, tempfile.mkdtemp(), raw_export=True)
    >>> sorted(p.name for p in paths if p.parent.name == "raw")
    ['customers.csv', 'employees.csv', 'mapping.yaml', 'units.csv']
    """
    if not isinstance(world, World):
        raise InputError(f"world must be a linkage.simulate.World, not {type(world).__name__}")
    out = pathlib.Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError("is a file, not a folder", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (
        ("employees.csv", world.employees),
        ("customers.csv", world.customers),
        ("units.csv", world.units),
        ("panel.csv", world.panel),
    ):
        _atomic_write(out / name, _csv_bytes(table))
        written.append(out / name)
    for attr, name in CHAIN_FILES.items():
        table = getattr(world, attr)
        if table is not None:
            _atomic_write(out / name, _csv_bytes(table))
            written.append(out / name)
    if world.programme is not None:
        _atomic_write(out / "programme.csv", _csv_bytes(world.programme))
        written.append(out / "programme.csv")
    if world.relationships is not None:
        _atomic_write(out / "relationships.csv", _csv_bytes(world.relationships))
        written.append(out / "relationships.csv")
    truth = json.dumps(_json_safe(world.truth), indent=1, ensure_ascii=False) + "\n"
    _atomic_write(out / "truth.json", truth.encode("utf-8"))
    written.append(out / "truth.json")
    if raw_export:
        written += _write_raw(world, out / "raw")
    return written


def _write_raw(
    world: World, raw: pathlib.Path, *, chain: World | None = None
) -> list[pathlib.Path]:
    """The raw export of ``world``; the chain's files come from ``chain`` (default ``world``)."""
    raw.mkdir(parents=True, exist_ok=True)
    kind = "customers" if world.customers_kind == "spells" else "activity"
    source = world if chain is None else chain
    items = _survey_items(source)
    files = {
        "employees.csv": _csv_bytes(_raw_table(world.employees, "employees"), crlf=True, bom=True),
        "customers.csv": _csv_bytes(_raw_table(world.customers, kind), sep=";"),
        "units.csv": _csv_bytes(_raw_table(world.units, "units")),
        "mapping.yaml": _mapping_yaml(
            world.customers_kind,
            items,
            optional=tuple(
                c
                for c in _OPTIONAL_COLUMNS
                if c in world.customers.columns or c in world.employees.columns
            ),
        ).encode("utf-8"),
    }
    tables = {
        "employee_survey": source.employee_survey,
        "customer_survey": source.customer_survey,
        "revenue": _unit_revenue(source) if items else None,
        "segments": source.segments,
    }
    for table, name in RAW_CHAIN_FILES.items():
        frame = tables[table]
        if items and frame is not None:
            names = items if table == "employee_survey" else None
            files[name] = _csv_bytes(_raw_table(frame, table, names))
    for name, data in files.items():
        _atomic_write(raw / name, data)
    return [raw / name for name in files]


def write_sample(outdir: str | os.PathLike[str]) -> list[pathlib.Path]:
    """Write the bundled sample world (``data/sample``) to ``outdir``, byte for byte.

    The canonical files and ``panel.csv`` come from the clean world of :data:`SAMPLE_SPEC` with
    the events of :data:`SAMPLE_EVENTS`; the raw export under ``raw/`` is the same world (same
    events) with :data:`SAMPLE_DEFECTS` planted in each of its employee and customer files.
    ``truth.json`` is the clean world's truth, with ``defects`` describing the raw files (keys
    ``raw/employees.csv``, ``raw/customers.csv``); the chain's raw files (see
    :func:`write_world`) are the clean world's, without defects. The chain of
    :data:`SAMPLE_CHAIN` adds ``employee_survey.csv``, ``customer_survey.csv``,
    ``customer_segments.csv`` and ``unit_revenue.csv``: revenue per unit and month with its net
    revenue retention (:func:`linkage.panel.revenue_panel` over the window; amounts to the cent,
    the retention to 6 decimals), because the customer-month rows it comes from would be some
    14 MB; ``truth["chain"]`` says what the chain planted. The canonical ``customers.csv``
    carries ``served_by`` (each customer's first owner, :data:`SAMPLE_RELATIONSHIPS`;
    ``truth["relationships"]`` says what was planted). Its
    ``employees.csv`` carries ``role`` (``"manager"`` or ``"staff"``; in ``raw/employees.csv``
    "Job Title", mapped as ``role`` in ``raw/mapping.yaml``), ``programme.csv`` the programme's
    starts (``unit_id, event_date, event_type``), and ``truth["events"]`` says what was planted.
    ``events.csv`` is what ``linkage panel --events-out --manager-role manager`` derives from the
    extracts (:func:`linkage.panel.events.derive_events`: manager departures and staff shocks).
    ``linkage simulate --sample`` also writes ``relationships.json``, the ``--json`` output of
    ``linkage relationships`` on ``employees.csv`` and ``customers.csv`` (the statistics are
    above this layer).

    Parameters
    ----------
    outdir : str or path-like
        Target folder (``data/sample`` for the bundled copy).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from linkage.simulate import write_sample
    >>> sorted(str(p.relative_to(p.parents[1] if p.parent.name == "raw" else p.parent))
    ...        for p in write_sample(tempfile.mkdtemp()))  # doctest: +NORMALIZE_WHITESPACE
    ['customer_segments.csv', 'customer_survey.csv', 'customers.csv', 'employee_survey.csv',
     'employees.csv', 'events.csv', 'panel.csv', 'programme.csv', 'raw/customer_segments.csv',
     'raw/customer_survey.csv', 'raw/customers.csv', 'raw/employee_survey.csv',
     'raw/employees.csv', 'raw/mapping.yaml', 'raw/unit_revenue.csv', 'raw/units.csv',
     'truth.json', 'unit_revenue.csv', 'units.csv']
    """
    clean = simulate(
        SAMPLE_SPEC, chain=SAMPLE_CHAIN, relationships=SAMPLE_RELATIONSHIPS, events=SAMPLE_EVENTS
    )
    # the same world (same counts, people and events) with defects planted in its extracts
    defective = simulate(SAMPLE_SPEC, defects=SAMPLE_DEFECTS, events=SAMPLE_EVENTS)
    truth = dict(clean.truth)
    truth["defects"] = {f"raw/{name}": v for name, v in defective.truth["defects"].items()}
    world = dataclasses.replace(clean, truth=truth, revenue=None, relationships=None)
    written = write_world(world, outdir)
    unit_revenue = _unit_revenue(clean)
    if unit_revenue is None:  # simulated with SAMPLE_CHAIN: revenue is always there
        raise InputError("the sample world has no revenue")
    path = pathlib.Path(outdir) / "unit_revenue.csv"
    _atomic_write(path, _csv_bytes(unit_revenue))
    written.append(path)
    # the events 'linkage panel --events-out --manager-role manager' derives from the sample's
    # HR extract: manager departures and staff shocks; units, dates, types
    events = derive_events(
        clean.panel,
        clean.employees,
        manager_role=SAMPLE_EVENTS.manager_role,
        shock_share=SAMPLE_EVENTS.shock_share,
    )
    path = pathlib.Path(outdir) / "events.csv"
    _atomic_write(path, _csv_bytes(events))
    written.append(path)
    written += _write_raw(defective, pathlib.Path(outdir) / "raw", chain=clean)
    return written
