"""``linkage watchlist``: units whose employee retention dropped, ranked by customers at risk."""

from __future__ import annotations

import argparse

HELP = (
    "Early warning: units whose employee retention dropped against their own baseline, ranked by "
    "the customers (and revenue) expected to be lost at the measured lag; --backtest checks past "
    "lists."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage watchlist``."""
    from linkage.cli._common import add_bootstrap, add_json, add_unit_period

    parser.add_argument(
        "panel",
        metavar="PANEL",
        help="panel file (with employee_start/_retained and customer_start)",
    )
    parser.add_argument(
        "--x", default="employee_retention", metavar="COL", help="employee-side rate"
    )
    parser.add_argument(
        "--y", default="customer_retention", metavar="COL", help="customer-side rate"
    )
    add_unit_period(parser)
    parser.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="PERIOD",
        help="last period to use, e.g. 2025-06-01 (default: the last one)",
    )
    parser.add_argument(
        "--lag",
        type=int,
        default=None,
        metavar="K",
        help="periods from a staff drop to customers (default: measured, 0..--max-lag)",
    )
    parser.add_argument(
        "--max-lag", dest="max_lag", type=int, default=6, metavar="K", help="largest lag tried"
    )
    parser.add_argument(
        "--recent", type=int, default=3, metavar="N", help="recent periods (default 3)"
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=12,
        metavar="N",
        help="baseline periods before them (default 12)",
    )
    parser.add_argument(
        "--z",
        type=float,
        default=1.645,
        metavar="Z",
        help="flag above this one-sided z (default 1.645)",
    )
    parser.add_argument(
        "--revenue", default=None, metavar="COL", help="revenue column: also revenue at risk"
    )
    parser.add_argument(
        "--method",
        choices=("effect", "forecast"),
        default="effect",
        help="effect: measured slope x staff drop, flag by the drop's z (default); forecast: "
        "customer drop predicted from the recent drops by a regression on past cutoffs, flag "
        "when above --min-loss",
    )
    parser.add_argument(
        "--survey",
        default=None,
        metavar="COLS",
        help="comma-separated employee-survey columns, further signals for --method forecast "
        "(e.g. es_engagement,es_manager_support)",
    )
    parser.add_argument(
        "--share",
        type=float,
        default=None,
        metavar="S",
        help="flag the top share S (0-1) of units instead of the rule",
    )
    parser.add_argument(
        "--min-loss",
        dest="min_loss",
        type=float,
        default=0.005,
        metavar="D",
        help="a unit lost customers when its customer retention fell more than D a period "
        "below its baseline (default 0.005); --method forecast flags above it",
    )
    parser.add_argument(
        "--top", type=int, default=20, metavar="N", help="rows in the report (default 20)"
    )
    parser.add_argument(
        "--backtest",
        type=int,
        default=0,
        metavar="N",
        help="also back-test the list on the last N cutoffs (observed outcomes)",
    )
    add_bootstrap(parser, boot=1000)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Read the panel, build the list (and back-test), print the report or JSON; the exit status."""
    import json
    import pathlib

    import pandas as pd

    from linkage.cli._common import fmt, survey_alignment, with_file
    from linkage.errors import InputError
    from linkage.io.panel import read_panel
    from linkage.stats.early_warning import (
        BACKTEST_COLUMNS,
        CALIBRATION_COLUMNS,
        WarningSettings,
        backtest,
        calibration,
        watchlist,
    )
    from linkage.stats.results import jsonable, records

    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.backtest < 0 or args.top < 0:
        raise InputError("--backtest and --top must be >= 0")
    survey = [c.strip() for c in args.survey.split(",") if c.strip()] if args.survey else []
    label = pathlib.Path(args.panel).name
    # the employee / customer counts, when present, are converted (and checked) by linkage.stats
    wanted = [c for c in (args.x, args.y, args.revenue, *survey) if c is not None]
    data = read_panel(
        args.panel,
        unit=args.unit,
        period=args.period,
        require=wanted,
        numeric=wanted,
        strict=False,
    )
    as_of: pd.Timestamp | int | None = None
    if args.as_of is not None:
        if pd.api.types.is_datetime64_any_dtype(data[args.period]):
            try:
                as_of = pd.Timestamp(args.as_of)
            except ValueError:
                raise InputError(f"--as-of {args.as_of!r} is not a date", file=label) from None
        else:
            try:
                as_of = int(args.as_of)
            except ValueError:
                raise InputError(
                    f"--as-of {args.as_of!r} is not a period number", file=label
                ) from None
    try:
        settings = WarningSettings(
            x=args.x,
            y=args.y,
            unit=args.unit,
            period=args.period,
            lag=args.lag,
            max_lag=args.max_lag,
            recent=args.recent,
            baseline=args.baseline,
            z=args.z,
            n_boot=args.boot,
            seed=args.seed,
            method=args.method,
            survey=tuple(survey),
            share=args.share,
            min_loss=args.min_loss,
        )
        result = watchlist(data, settings, as_of=as_of, revenue=args.revenue)
        bt = cal = None
        if args.backtest:
            hist = data if as_of is None else data[data[args.period] <= as_of]
            bt = backtest(hist, settings, n_cutoffs=args.backtest)
            try:
                cal = calibration(hist, settings, n_cutoffs=args.backtest)
            except InputError as err:
                if err.column is not None:
                    raise
                cal = None  # too few unit-cutoffs for the bins: the back-test stands alone
    except InputError as err:
        raise with_file(err, label) from None
    wl = result.table
    lag = result.lag
    if args.json:
        doc = {
            **result.to_dict(),
            "backtest": records(bt, BACKTEST_COLUMNS) if bt is not None else None,
            "calibration": records(cal, CALIBRATION_COLUMNS) if cal is not None else None,
        }
        doc["settings"] = {
            **doc["settings"],
            "unit": args.unit,
            "period": args.period,
            "max_lag": args.max_lag,
            "seed": args.seed,
            "revenue": args.revenue,
            "top": args.top,
            "backtest": args.backtest,
            **survey_alignment(data, unit=args.unit),
        }
        print(json.dumps(jsonable(doc), indent=1, default=str))
        return 0
    flagged = wl[wl["flag"]]
    if args.share is not None:
        why = f"the top {args.share:.0%} by customers expected to be lost"
    elif args.method == "forecast":
        why = (
            f"{args.y} predicted to fall more than {args.min_loss:g} a period below baseline over "
            f"the next {max(lag, 1)} period(s)"
        )
    else:
        why = (
            f"employee retention down over the last {args.recent} periods against the "
            f"{args.baseline} before, one-sided z > {args.z:g}"
        )
    if args.method == "forecast":
        weights = ", ".join(
            f"{k} {v:.3f}" for k, v in result.coefficients.items() if k != "intercept"
        )
        how = (
            f"Forecast fitted on the earlier cutoffs of this history: points of {args.y} drop per "
            f"point of drop in {weights}"
        )
    else:
        how = (
            f"Effect used: {wl['slope'].iloc[0]:.3f} points of {args.y} per point of {args.x}, "
            f"{lag} period(s) later"
        )
    lines = [
        f"linkage watchlist: {len(wl)} units, {len(flagged)} flagged ({why})",
        how
        + (
            ""
            if result.lag_found
            else " (no lag was significant: the strongest positive one is used)"
        ),
        "",
        "Visit first (flagged units by customers expected to be lost; interval from the unit "
        "bootstrap):",
    ]
    cols = [
        "rank",
        "unit",
        "baseline",
        "recent",
        "drop",
        "drop_z",
        "customers_at_risk",
        "expected_lost",
        "expected_lost_low",
        "expected_lost_high",
    ]
    if args.method == "forecast":
        cols.insert(6, "predicted_drop")
    if args.revenue:
        cols += ["revenue_at_risk"]
    lines.append(fmt(flagged.head(args.top), cols) if len(flagged) else "(no unit flagged)")
    if bt is not None:
        bt = bt.assign(
            cutoff=[
                c.date().isoformat() if isinstance(c, pd.Timestamp) else c for c in bt["cutoff"]
            ]
        )
        lines += [
            "",
            "Back-test (lists built before each cutoff; lost = customer retention below "
            f"baseline by more than {args.min_loss:g} a period over the horizon)",
            fmt(bt, [c for c in BACKTEST_COLUMNS if c != "outcome"]),
            "(intervals: unit bootstrap, every cutoff of a unit resampled together)",
        ]
    if cal is not None:
        lines += [
            "",
            "Calibration (unit-cutoffs in bins of the predicted drop a period; observed: the drop "
            "that followed, unit-bootstrap interval)",
            fmt(cal, ["bin", "n", "predicted", "observed", "ci_low", "ci_high", "share_lost"]),
        ]
    lines += [
        "",
        "The expected loss is an association scaled to customers: a reason to look, not a forecast."
        if args.method == "effect"
        else "The forecast is an association learnt from this history: a reason "
        "to look first, not a prediction about any one unit's customers.",
    ]
    print("\n".join(lines).rstrip())
    return 0
