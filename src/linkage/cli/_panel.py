"""``linkage panel``: from raw extracts to the unit x period panel, with the cleaning report."""

from __future__ import annotations

import argparse
import os
import re
import sys

HELP = (
    "Build the unit x period retention panel from employee and customer extracts (with surveys, "
    "revenue and segments: the chain's columns)."
)

_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


EPILOG = """\
Every input row is kept or set aside with one reason (the first that applies):
  duplicate_row, missing_identifier, missing_date, unparseable_date, impossible_date,
  unparseable_number, end_before_start, future_date (after --as-of), unknown_unit (not in
  --units), overlapping_spell (same person, same unit), duplicate_unit (units file).
Surveys, revenue and segment files add: empty_response (no answer), out_of_scale (an answer off
its scale or not whole), missing_number (no revenue), missing_segment, duplicate_response
(a respondent / response id again in one unit and month), duplicate_customer (segments),
duplicate_period (unit-level revenue or survey: a unit and period again).
linkage relationships adds: unknown_employee (a served_by or relationship naming an employee
the HR extract lacks), overlapping_relationship (a customer's relationships overlapping).
The report prints rows read = kept + set aside per file; --rejects writes the set-aside rows
of every file with their file, row number (header excluded), reason, column and original cells.

The chain (optional): --employee-survey adds es_<item> means, es_respondents, es_wave; the items
are the mapping's 'employee_survey: items' list, else every numeric column the mapping does not
take (the run prints which). A survey file with 'period' and 'respondents' instead of
survey_date holds item means per unit and period. --customer-survey adds cs_csat / cs_nps,
cs_respondents, cs_wave. Each mapping section may carry its own dates: {format: ...}.
--survey-align: 'forward' (default) carries a survey wave into the unit's following periods
until its next wave; 'wave' gives it to its own period only (the customer survey: own period).
--revenue takes customer-level revenue (customer_id, unit_id, period, revenue) and adds revenue,
revenue_start, revenue_retained, revenue_retention (net revenue retention), or a unit-level table
without customer_id (unit_id, period, revenue[, revenue_start, revenue_retained,
revenue_retention]). --segments (customer_id, segment) with --segments-out writes customer
retention per unit, period and segment; customers without a segment are '(no segment)'.

Events (for 'linkage events'): --events-out writes unit_id, event_date, event_type and nothing
about any person: staff_shock, a period in which at least --shock-share (default 0.25) of the
staff at its start left (event_date: the period's first day); with --manager-role VALUE also
manager_departure, the end of a spell whose role (a 'role' column, or mapped as 'role' in the
mapping's employees section) is VALUE (event_date: its termination date).

--pseudonymise replaces employee_id, customer_id, the surveys' respondent_id and response_id (and
the columns the mapping's 'pseudonymise' section names) by keyed-hash pseudonyms (one key for
all files, so segments still match customers) as each file is read, so neither the
rejects nor anything after them holds a raw identifier. The key comes from --pseudonym-key-file
or the environment variable LINKAGE_PSEUDONYM_KEY (at least 16 bytes; keep it out of the repo).

examples:
  linkage panel --employees hr.csv --customers crm.csv --units stores.csv --map map.yaml \\
      --as-of 2026-01-01 --out panel.csv --rejects rejects.csv
  linkage panel --employees hr.csv --customers crm.csv --units stores.csv --map map.yaml \\
      --employee-survey pulse.csv --customer-survey csat.csv --revenue invoices.csv \\
      --segments tiers.csv --segments-out segments.csv --out panel.csv --rejects rejects.csv
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage panel``."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--employees", required=True, metavar="FILE", help="employee spells (CSV, Parquet or .xlsx)"
    )
    parser.add_argument("--customers", metavar="FILE", help="customer spells")
    parser.add_argument(
        "--activity", metavar="FILE", help="customer activity log (instead of --customers)"
    )
    parser.add_argument("--units", metavar="FILE", help="units and their attributes (region, ...)")
    parser.add_argument(
        "--employee-survey",
        dest="employee_survey",
        metavar="FILE",
        help="employee survey answers, one row per respondent and wave",
    )
    parser.add_argument(
        "--customer-survey",
        dest="customer_survey",
        metavar="FILE",
        help="customer survey responses (CSAT and / or NPS)",
    )
    parser.add_argument(
        "--revenue",
        metavar="FILE",
        help="revenue: customer level (per customer and period or invoice) or unit level",
    )
    parser.add_argument(
        "--segments", metavar="FILE", help="customer segments (customer_id, segment)"
    )
    parser.add_argument(
        "--survey-align",
        dest="survey_align",
        default="forward",
        choices=("forward", "wave"),
        help="employee survey waves: carried 'forward' to the following periods "
        "(default) or in their own 'wave' period only",
    )
    parser.add_argument(
        "--segments-out",
        dest="segments_out",
        metavar="FILE",
        help="where to write customer retention per unit, period and segment",
    )
    parser.add_argument(
        "--events-out",
        dest="events_out",
        metavar="FILE",
        help="where to write the events derived from the HR extract (staff shocks; manager "
        "departures with --manager-role): unit_id, event_date, event_type",
    )
    parser.add_argument(
        "--manager-role",
        dest="manager_role",
        metavar="VALUE",
        help="with --events-out: the role of managers; their spells' ends are manager_departure "
        "events",
    )
    parser.add_argument(
        "--shock-share",
        dest="shock_share",
        type=float,
        default=0.25,
        metavar="SHARE",
        help="with --events-out: a period in which at least this share of the staff at its "
        "start left is a staff_shock (default 0.25)",
    )
    parser.add_argument(
        "--map", dest="mapping", metavar="MAP.yaml", help="column mapping and date format (YAML)"
    )
    parser.add_argument(
        "--freq",
        default="M",
        choices=("M", "Q", "Y"),
        help="period length: M(onth), Q(uarter), Y(ear) (default M)",
    )
    parser.add_argument("--start", metavar="YYYY-MM", help="first period of the panel")
    parser.add_argument("--end", metavar="YYYY-MM", help="last period of the panel")
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="YYYY-MM-DD",
        help="date of the extracts; later dates are set aside (default today)",
    )
    parser.add_argument(
        "--activity-window",
        dest="activity_window",
        type=int,
        default=1,
        metavar="N",
        help="with --activity: a customer stays active N periods after a visit (default 1)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PANEL.csv",
        help="where to write the panel (.csv or .parquet)",
    )
    parser.add_argument(
        "--rejects",
        metavar="REJECTS.csv",
        help="where to write the set-aside rows with their file and reason",
    )
    parser.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        dest="pseudonymise",
        action="store_true",
        help="replace person identifiers by keyed-hash pseudonyms as the files are "
        "read (key: --pseudonym-key-file or $LINKAGE_PSEUDONYM_KEY)",
    )
    parser.add_argument(
        "--pseudonym-key-file",
        dest="pseudonym_key_file",
        metavar="FILE",
        help="file holding the pseudonymisation key (implies --pseudonymise)",
    )
    parser.add_argument(
        "--engine",
        default="pandas",
        choices=("pandas", "duckdb", "spark"),
        help="pandas (default: in memory); duckdb or spark: the same cleaning, report, "
        "rejects and panel, with an activity log (Parquet files or folders of parts) "
        "larger than memory (see the README, Performance)",
    )
    parser.add_argument(
        "--spark-master",
        dest="spark_master",
        metavar="URL",
        help="with --engine spark: the master (spark://host:7077, yarn, local[*])",
    )
    parser.add_argument(
        "--memory-limit",
        dest="memory_limit",
        metavar="SIZE",
        help="with --engine duckdb: memory limit, e.g. 4GB (spills to disk past it)",
    )


def run(args: argparse.Namespace) -> int:
    """Read, clean, build and write; print the cleaning report. Returns the exit status."""
    from linkage.errors import InputError
    from linkage.io import write_table
    from linkage.pipeline import prepare

    if args.customers is None and args.activity is None:
        raise InputError("give the customers, as spells (--customers) or as activity (--activity)")
    if args.customers is not None and args.activity is not None:
        raise InputError("give either --customers or --activity, not both")
    for flag, value in (("--start", args.start), ("--end", args.end)):
        if value is not None and not _MONTH.match(value):
            raise InputError(f"{flag} {value!r} is not a month (use YYYY-MM)")
    if args.as_of is not None and not _DAY.match(args.as_of):
        raise InputError(f"--as-of {args.as_of!r} is not a date (use YYYY-MM-DD)")
    inputs = [
        p
        for p in (
            args.employees,
            args.customers,
            args.activity,
            args.units,
            args.employee_survey,
            args.customer_survey,
            args.revenue,
            args.segments,
            args.mapping,
            args.pseudonym_key_file,
        )
        if p is not None
    ]
    pseudonymise = bool(args.pseudonymise or args.pseudonym_key_file)
    named = [
        ("--out", args.out),
        ("--rejects", args.rejects),
        ("--segments-out", args.segments_out),
        ("--events-out", args.events_out),
    ]
    named = [(flag, path) for flag, path in named if path is not None]
    outputs = [path for _, path in named]
    for i, (flag, path) in enumerate(named):
        for other, path2 in named[i + 1 :]:
            if _same_path(path, path2):
                raise InputError(f"{flag} and {other} name the same file")
    for target in outputs:
        if any(_same_path(target, source) for source in inputs):
            raise InputError("refusing to overwrite an input file of this command", file=target)
        if not target.lower().endswith((".csv", ".parquet", ".pq")):
            raise InputError("can only write .csv or .parquet files", file=target)
        folder = os.path.dirname(target) or "."
        if not os.path.isdir(folder):
            raise InputError(f"folder {folder!r} does not exist", file=target)

    if args.events_out is None and args.manager_role is not None:
        raise InputError("--manager-role needs --events-out (where to write the events)")
    if not 0 < args.shock_share <= 1:
        raise InputError(f"--shock-share {args.shock_share!r} is not a share in (0, 1]")
    if args.engine != "pandas":
        return _run_engine(args, inputs)
    result = prepare(
        employees=args.employees,
        customers=args.customers,
        activity=args.activity,
        units=args.units,
        employee_survey=args.employee_survey,
        customer_survey=args.customer_survey,
        revenue=args.revenue,
        segments=args.segments,
        survey_align=args.survey_align,
        mapping=args.mapping,
        freq=args.freq,
        start=args.start,
        end=args.end,
        as_of=args.as_of,
        activity_window=args.activity_window,
        pseudonymise=pseudonymise,
        pseudonym_key_file=args.pseudonym_key_file,
    )
    if args.segments_out is not None and result.segments is None:
        raise InputError(
            "--segments-out: no segments to write (give --segments, or map a segment column "
            "of the customers: customers: {segment: Vertical})"
        )
    events = None
    if args.events_out is not None:
        from linkage.panel.events import derive_events

        events = derive_events(
            result.panel,
            result.employees,
            manager_role=args.manager_role,
            shock_share=args.shock_share,
        )
    write_table(result.panel, args.out, protect=inputs)
    print(result.report.text)
    print(
        f"panel: {result.panel['unit_id'].nunique():,} units x "
        f"{result.panel['period'].nunique():,} periods -> {args.out}"
    )
    if result.items:
        from linkage.io import table_options

        how = (
            "the mapping's items"
            if "items" in table_options(_mapping_of(args), "employee_survey")
            else "every numeric column the mapping does not take"
        )
        print(
            f"employee survey items ({how}, aligned {args.survey_align}): {', '.join(result.items)}"
        )
    if args.segments_out is not None and result.segments is not None:
        write_table(result.segments, args.segments_out, protect=inputs)
        print(f"segments: {result.segments['segment'].nunique():,} segments -> {args.segments_out}")
    if args.events_out is not None and events is not None:
        write_table(events, args.events_out, protect=inputs)
        counts = events["event_type"].value_counts()
        kinds = ", ".join(f"{k} {int(counts.get(k, 0)):,}" for k in _event_kinds(args))
        print(f"events: {kinds} -> {args.events_out}")
    if args.rejects is not None:
        write_table(result.rejects, args.rejects, protect=inputs)
        print(f"set-aside rows: {len(result.rejects):,} -> {args.rejects}")
    if pseudonymise:
        print("person identifiers pseudonymised (keyed hash) as the files were read")
    sys.stdout.flush()
    return 0


def _run_engine(args: argparse.Namespace, inputs: list[str]) -> int:
    """``--engine duckdb|spark``: clean and build inside the engine (the log is never read into
    pandas whole); the same report, rejects and panel as the pandas engine."""
    from linkage.errors import InputError
    from linkage.io import write_table
    from linkage.panel.engines import prepare_panel_engine

    for flag, value in (
        ("--employee-survey", args.employee_survey),
        ("--customer-survey", args.customer_survey),
        ("--revenue", args.revenue),
        ("--segments", args.segments),
        ("--pseudonymise", args.pseudonymise or None),
        ("--pseudonym-key-file", args.pseudonym_key_file),
        ("--events-out", args.events_out),
    ):
        if value is not None:
            raise InputError(
                f"{flag} needs the pandas engine; --engine {args.engine} builds "
                "the panel from employees, customers or activity, and units"
            )
    result = prepare_panel_engine(
        args.employees,
        args.customers,
        activity=args.activity,
        units=args.units,
        mapping=args.mapping,
        as_of=args.as_of,
        engine=args.engine,
        freq=args.freq,
        start=args.start,
        end=args.end,
        activity_window=args.activity_window,
        spark=args.spark_master,
        memory_limit=args.memory_limit,
        progress=True,
    )
    panel = result.panel
    write_table(panel, args.out, protect=inputs)
    print(result.text)
    print(
        f"panel ({args.engine}): {panel['unit_id'].nunique():,} units x "
        f"{panel['period'].nunique():,} periods -> {args.out}"
    )
    if args.rejects is not None:
        write_table(result.rejects, args.rejects, protect=inputs)
        print(f"set-aside rows: {len(result.rejects):,} -> {args.rejects}")
    sys.stdout.flush()
    return 0


def _event_kinds(args: argparse.Namespace) -> tuple[str, ...]:
    """The event types ``--events-out`` derives with these options."""
    if args.manager_role is None:
        return ("staff_shock",)
    return ("manager_departure", "staff_shock")


def _mapping_of(args: argparse.Namespace) -> dict | None:
    """The run's mapping (already validated by ``prepare``), or None."""
    from linkage.io import load_mapping

    return None if args.mapping is None else load_mapping(args.mapping)


def _same_path(a: str, b: str) -> bool:
    from pathlib import Path

    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()
