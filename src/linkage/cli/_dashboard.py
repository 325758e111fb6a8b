"""``linkage dashboard``: serve the Voila dashboards on a panel, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse

HELP = "Serve the executive dashboard and the unit explorer (Voila) on a panel."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage dashboard``."""
    parser.add_argument(
        "--panel",
        metavar="FILE",
        help="panel CSV/Parquet from 'linkage panel' (default: the bundled sample panel, "
        "data/sample/panel.csv in a checkout)",
    )
    parser.add_argument("--port", type=int, default=8866, metavar="P", help="port (default 8866)")
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything else is reachable "
        "by others and has no authentication)",
    )
    parser.add_argument(
        "--no-browser", dest="browser", action="store_false", help="do not open a browser"
    )
    parser.add_argument(
        "--notebooks",
        metavar="DIR",
        help="folder of dashboard notebooks (default: the bundled ones, "
        "notebooks/dashboards in a checkout)",
    )
    parser.add_argument(
        "--no-warm",
        dest="warm",
        action="store_false",
        help="do not draw the first figures before serving",
    )
    parser.add_argument(
        "--max-viewers",
        type=int,
        metavar="N",
        help="most pages open at once (each holds a kernel of about 260 MB); "
        "further viewers get 'The dashboard is busy, please try again in a "
        "minute' (default: $LINKAGE_MAX_VIEWERS, else what memory holds, at "
        "most 8)",
    )
    add_expect_argument(parser)
    parser.add_argument(
        "--scopes",
        metavar="SCOPES.yaml",
        help="show each person only their units: 'users:' mapping each person to 'all' or to "
        "unit attributes with allowed values, e.g. 'alice: {region: [North]}'; needs a proxy "
        "that authenticates people and names them in --user-header (see README)",
    )
    parser.add_argument(
        "--user-header",
        metavar="NAME",
        help="request header in which the proxy names the person (default X-Forwarded-User); "
        "requests without a person listed in --scopes get 403",
    )
    for flag, what in (
        (
            "--employee-survey",
            "employee survey answers (respondent level, or item means per unit and period)",
        ),
        ("--customer-survey", "customer survey answers (CSAT and/or NPS)"),
        ("--revenue", "revenue (customer or unit level)"),
    ):
        parser.add_argument(
            flag,
            metavar="FILE",
            help=f"{what} for the section 'The whole chain' when the panel has no "
            "chain columns (see 'linkage panel --employee-survey ...')",
        )
    parser.add_argument(
        "--events",
        metavar="EVENTS.csv",
        help="events for the section 'When someone leaves': unit_id, event_date[, event_type], "
        "as 'linkage panel --events-out' writes them (default on the sample panel: the "
        "sample's staff shocks)",
    )
    parser.add_argument(
        "--relationships",
        metavar="REL.json",
        help="whether customers follow the person who served them, for the same section: the "
        "--json output of 'linkage relationships' (shown only to viewers who see all units)",
    )
    parser.add_argument(
        "--map",
        dest="mapping",
        metavar="MAP.yaml",
        help="column mapping of those files, as given to 'linkage panel --map' (its "
        "employee_survey, customer_survey, revenue and dates sections); without it they "
        "use linkage's column names",
    )


def add_expect_argument(parser: argparse.ArgumentParser) -> None:
    """Declare ``--expect N``: the audience the server prepares for."""
    parser.add_argument(
        "--expect",
        type=int,
        metavar="N",
        help="viewers expected to open the dashboard together (say, a link sent before a "
        "meeting): keeps up to N kernels preheated and admits up to N viewers, as far as memory "
        "allows (the log says what was chosen); anyone past that waits on a page that opens "
        "the dashboard by itself",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns Voila's exit status."""
    from linkage.app.serve import serve

    return serve(
        args.panel,
        port=args.port,
        ip=args.ip,
        open_browser=args.browser,
        notebooks=args.notebooks,
        warm=args.warm,
        max_viewers=args.max_viewers,
        chain_files={
            "employee_survey": args.employee_survey,
            "customer_survey": args.customer_survey,
            "revenue": args.revenue,
            "mapping": args.mapping,
        },
        expect=args.expect,
        scopes=args.scopes,
        user_header=args.user_header,
        events=args.events,
        relationships=args.relationships,
    )
