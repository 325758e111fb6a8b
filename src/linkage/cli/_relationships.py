"""``linkage relationships``: do customers leave after the employee who served them leaves?"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from linkage.cli._common import add_json, fmt

if TYPE_CHECKING:
    import pandas as pd

    from linkage.stats import RelationshipResult

HELP = (
    "Do customers follow the person who served them? The hazard of a customer leaving in the "
    "months after their own employee left, against customers of the same unit and month whose "
    "employee stayed (from served_by or a relationship table)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage relationships``."""
    parser.add_argument(
        "--employees", required=True, metavar="HR", help="employee extract (CSV, Parquet, Excel)"
    )
    parser.add_argument(
        "--customers",
        required=True,
        metavar="CRM",
        help="customer extract as spells; with a served_by column unless --relationships",
    )
    parser.add_argument(
        "--relationships",
        metavar="FILE",
        help="who served which customer when: customer_id, employee_id, start_date, end_date",
    )
    parser.add_argument("--map", metavar="MAP", help="YAML column mapping for the files")
    parser.add_argument(
        "--window",
        type=int,
        default=6,
        metavar="K",
        help="months after the departure month a customer counts as exposed (default 6)",
    )
    parser.add_argument(
        "--handover-days",
        dest="handover_days",
        type=int,
        default=30,
        metavar="D",
        help="a new owner within D days of the departure is a quick handover (default 30)",
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="DATE",
        help="date of the extracts; later dates are set aside (default today)",
    )
    parser.add_argument(
        "--min-group",
        dest="k",
        type=int,
        default=5,
        metavar="K",
        help="smallest number of customers and of departures behind a figure (default 5)",
    )
    add_json(parser)


def finding_json(result: RelationshipResult, reports: list[pd.DataFrame]) -> str:
    """The ``--json`` output: the result's figures, tables, settings and text, and the cleaning
    reports' counts (``file, reason, n``). What ``linkage dashboard --relationships`` and
    ``linkage report --relationships`` read."""
    import pandas as pd

    from linkage.stats.results import jsonable, records

    out: dict[str, Any] = result.to_dict()
    out["cleaning"] = records(pd.concat(reports, ignore_index=True), ["file", "reason", "n"])
    return json.dumps(jsonable(out), indent=1)


def sample_finding(folder: str | os.PathLike[str], *, as_of: str = "2026-01-01") -> str:
    """:func:`finding_json` of the sample's ``employees.csv`` and ``customers.csv`` in
    ``folder`` (its ``served_by``), with the default settings: what ``linkage simulate --sample``
    writes as ``relationships.json``."""
    import pathlib

    from linkage.clean import clean_customers, clean_employees
    from linkage.stats import relationship_hazard

    where = pathlib.Path(folder)
    employees = clean_employees(where / "employees.csv", as_of=as_of)
    customers = clean_customers(where / "customers.csv", as_of=as_of, employees=employees)
    result = relationship_hazard(employees.data, customers.data)
    return finding_json(result, [employees.report, customers.report])


def run(args: argparse.Namespace) -> int:
    """Clean the extracts, fit the hazard, print the finding. Returns the exit status."""
    import pathlib

    from linkage.clean import (
        clean_customers,
        clean_employees,
        clean_relationships,
        format_report,
    )
    from linkage.errors import InputError
    from linkage.io import load_mapping
    from linkage.stats import relationship_hazard

    if args.window < 1:
        raise InputError(f"--window must be at least 1 month, not {args.window}")
    if args.handover_days < 0:
        raise InputError(f"--handover-days must be 0 or more, not {args.handover_days}")
    if args.k < 1:
        raise InputError(f"--min-group must be at least 1, not {args.k}")
    for path in (args.employees, args.customers, args.relationships, args.map):
        if path is not None and not pathlib.Path(path).is_file():
            raise InputError("no such file", file=path)
    mapping = load_mapping(args.map) if args.map else None
    employees = clean_employees(args.employees, mapping=mapping, as_of=args.as_of)
    customers = clean_customers(
        args.customers, mapping=mapping, as_of=args.as_of, employees=employees
    )
    rel = None
    if args.relationships is not None:
        rel = clean_relationships(
            args.relationships, mapping=mapping, as_of=args.as_of, employees=employees
        )
    elif "served_by" not in customers.data.columns:
        raise InputError(
            "has no served_by column: map the column naming the employee who serves each "
            "customer (customers: {served_by: ...}) or give --relationships",
            file=args.customers,
        )
    for cleaned, name in ((employees, args.employees), (customers, args.customers)):
        if cleaned.n_kept == 0:
            raise InputError("no usable row (every row was set aside)", file=name)
    result = relationship_hazard(
        employees.data,
        customers.data,
        relationships=None if rel is None else rel.data,
        window=args.window,
        handover_days=args.handover_days,
        k=args.k,
    )
    reports = [employees.report, customers.report] + ([rel.report] if rel is not None else [])
    if args.json:
        print(finding_json(result, reports))
        return 0
    print(result.text)
    print()
    print("By months since the departure:")
    print(
        fmt(
            result.by_months_since_departure,
            ["month", "hazard_ratio", "ci_low", "ci_high", "customers", "departures"],
        )
    )
    print()
    print("By length of the relationship at the departure:")
    print(
        fmt(
            result.by_relationship_length,
            ["length", "hazard_ratio", "ci_low", "ci_high", "customers", "departures"],
        )
    )
    print()
    for report in reports:
        print(format_report(report), file=sys.stderr)
    return 0
