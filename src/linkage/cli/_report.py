"""``linkage report``: the executive view as one self-contained static HTML file."""

from __future__ import annotations

import argparse

HELP = "Write the executive view of a panel as one self-contained HTML file (figures embedded)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage report``."""
    parser.add_argument("panel", metavar="PANEL", help="panel CSV/Parquet from 'linkage panel'")
    parser.add_argument("--out", required=True, metavar="FILE", help="the .html file to write")
    parser.add_argument(
        "--k",
        type=int,
        default=5,
        metavar="K",
        help="suppress figures from fewer than K people (default 5)",
    )
    parser.add_argument(
        "--n-boot",
        dest="n_boot",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the intervals (default 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--events",
        metavar="EVENTS",
        help="add 'When someone leaves': the event study of customer retention around these "
        "events (unit_id, event_date[, event_type], as 'linkage panel --events-out' writes them)",
    )
    parser.add_argument(
        "--relationships",
        metavar="REL.json",
        help="add to 'When someone leaves' whether customers left after their own employee "
        "left: the --json output of 'linkage relationships' (aggregated, small groups "
        "suppressed)",
    )
    parser.add_argument(
        "--type",
        dest="event_type",
        metavar="TYPE",
        help="with --events: the event type, when the file holds several (default: the one the "
        "dashboard shows first: manager_departure, else staff_shock, else the first by name)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report; prints where."""
    from linkage.app.report import write_report
    from linkage.errors import InputError

    if args.k < 1:
        raise InputError(f"--k must be at least 1, got {args.k}")
    if args.event_type is not None and args.events is None:
        raise InputError("--type needs --events")
    path = write_report(
        args.panel,
        args.out,
        k=args.k,
        n_boot=args.n_boot,
        seed=args.seed,
        events=args.events,
        event_type=args.event_type,
        relationships=args.relationships,
    )
    print(f"linkage report: wrote {path}")
    return 0
