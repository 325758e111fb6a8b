"""``linkage events``: what happens to a unit outcome after an event (a manager leaving, a staff
shock, a programme start), as an event study with staggered timing."""

from __future__ import annotations

import argparse

HELP = (
    "Event study: a unit outcome (customer retention) before and after events with staggered "
    "timing (Callaway & Sant'Anna), unit-clustered intervals, simultaneous band, pre-trend test, "
    "average effect and whether it fades."
)

EPILOG = """\
EVENTS is a table unit_id, event_date (YYYY-MM-DD)[, event_type], from a file of your own
(programme starts, manager changes) or from 'linkage panel ... --events-out events.csv'
(manager_departure, staff_shock). Event time 0 is the period that holds event_date, event time k
the k-th period after it. A unit's first event is its event; event rows that cannot be used are
set aside and counted with their reason: missing_unit, unparseable_date, unit_not_in_panel,
date_outside_panel, unit_outcome_missing (the unit's outcome is missing in some period),
duplicate_event (a second event in the same period), later_event_same_unit, no_period_before (an
event in the panel's first period), other_type (another --type).

The comparison: units whose event is still to come and units that never have one. The fade test
compares the mean effect of event times 1-3 with that of 7-12 (7..--post when shorter).

examples:
  linkage panel --employees hr.csv --customers crm.csv --map map.yaml --out panel.csv \\
      --events-out events.csv --manager-role "Store Manager"
  linkage events panel.csv --events events.csv --type manager_departure
  linkage events panel.csv --events programme.csv --pre 6 --post 12 --json
"""

_COLUMNS = ["event_time", "estimate", "ci_low", "ci_high", "band_low", "band_high", "p_val"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage events``."""
    from linkage.cli._common import add_json, add_unit_period

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("panel", metavar="PANEL", help="the unit x period panel (linkage panel)")
    parser.add_argument(
        "--events",
        required=True,
        metavar="EVENTS",
        help="event table: unit_id, event_date[, event_type]",
    )
    parser.add_argument(
        "--type",
        dest="event_type",
        default=None,
        metavar="TYPE",
        help="the event type to study (needed when the file holds several)",
    )
    parser.add_argument(
        "--outcome",
        default="customer_retention",
        metavar="COL",
        help="outcome column (default customer_retention)",
    )
    add_unit_period(parser)
    parser.add_argument(
        "--pre", type=int, default=6, metavar="K", help="periods before the event (default 6)"
    )
    parser.add_argument(
        "--post", type=int, default=12, metavar="K", help="periods after the event (default 12)"
    )
    parser.add_argument(
        "--control",
        choices=("not_yet_treated", "never_treated"),
        default="not_yet_treated",
        help="comparison units: not yet treated and never treated (default), or never treated",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the simultaneous band (default 0)"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Read the panel and the events, run the event study, print it. Returns the exit status."""
    import pathlib

    from linkage.cli._common import fmt, with_file
    from linkage.errors import InputError
    from linkage.io import read_panel, read_table
    from linkage.stats.events import event_study

    label = pathlib.Path(args.events).name
    data = read_panel(
        args.panel,
        unit=args.unit,
        period=args.period,
        require=[args.outcome],
        numeric=[args.outcome],
        strict=False,
    )
    events = read_table(args.events, name=label)
    try:
        res = event_study(
            data,
            events,
            outcome=args.outcome,
            unit=args.unit,
            period=args.period,
            event_type=args.event_type,
            pre=args.pre,
            post=args.post,
            control=args.control,
            seed=args.seed,
            file=label,
        )
    except InputError as err:
        if err.file is None and err.column in (args.period, args.outcome, args.unit):
            raise with_file(err, pathlib.Path(args.panel).name) from None
        raise
    if args.json:
        print(res.to_json())
        return 0
    print(f"Event study: {res.event_type} on {res.outcome} ({res.method})")
    aside = {k: v for k, v in res.set_aside.items() if v}
    reasons = ", ".join(f"{k} {v:,}" for k, v in aside.items())
    print(
        f"events: {res.n_events_read:,} rows read, {res.n_events_used:,} used"
        + (f", {sum(aside.values()):,} set aside ({reasons})" if aside else "")
    )
    print(
        f"units: {res.n_treated_units:,} with the event, {res.n_control_units:,} never "
        f"(simultaneous band: critical value {res.settings['band_crit']:.2f})"
    )
    print(fmt(res.estimates, _COLUMNS))
    post = res.post_average
    print(
        f"average over event times 0..{res.settings['post']}: {post['estimate']:.4f} "
        f"[{post['ci_low']:.4f}, {post['ci_high']:.4f}], p = {post['p_val']:.3g}"
    )
    print(
        f"pre-trend test: chi2 = {res.pre_trend_chi2:.2f}, dof {res.pre_trend_dof}, "
        f"p = {res.pre_trend_p:.3g}"
    )
    if res.fade.get("fades") is not None:
        print(
            f"fade: early {res.fade['early']:.4f}, late {res.fade['late']:.4f}, "
            f"difference p = {res.fade['diff_p']:.3g}"
        )
    for note in res.warnings:
        print(f"note (estimator): {note}")
    print()
    print(res.text)
    return 0
