"""``linkage link``: the linkage statistics of any panel file, as a readable report or as JSON."""

from __future__ import annotations

import argparse

HELP = "Between-, within-unit and lead-lag linkage of two measures in a panel file (CSV, Parquet, Excel)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage link``."""
    parser.add_argument("panel", metavar="PANEL", help="panel file: one row per unit and period")
    parser.add_argument(
        "--x",
        default="employee_retention",
        metavar="COL",
        help="employee-side measure (default employee_retention)",
    )
    parser.add_argument(
        "--y",
        default="customer_retention",
        metavar="COL",
        help="customer-side measure (default customer_retention)",
    )
    parser.add_argument(
        "--unit", default="unit_id", metavar="COL", help="unit column (default unit_id)"
    )
    parser.add_argument(
        "--period",
        default="period",
        metavar="COL",
        help="period column: dates (YYYY-MM-DD) or whole numbers such as years (default period)",
    )
    parser.add_argument(
        "--max-lag",
        dest="max_lag",
        type=int,
        default=6,
        metavar="K",
        help="lags -K..K; K > 0 means x leads y (default 6)",
    )
    parser.add_argument(
        "--boot",
        type=int,
        default=2000,
        metavar="N",
        help="unit-bootstrap resamples (default 2000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a report"
    )


def _fmt(df, columns):
    import numpy as np

    cols = [c for c in columns if c in df.columns]
    out = df[cols].copy()
    for c in cols:
        if out[c].dtype.kind == "f":
            out[c] = [
                ("" if not np.isfinite(v) else f"{v:.3g}" if c.startswith("p_") else f"{v:.3f}")
                for v in out[c]
            ]
    return out.to_string(index=False)


def report(result) -> str:
    """The readable report of a :class:`linkage.stats.LinkageResult`."""
    from linkage.stats import DIRECTION_CAVEATS

    s = result.settings
    lines = [
        f"linkage link: {s['x']} (x) and {s['y']} (y), {s['n_units']} units, {s['n_obs']} unit-{s['step']}s "
        f"with both",
        "",
    ]
    lines += [
        result.text,
        "",
        "Correlations (Fisher-z intervals)",
        _fmt(
            result.correlations,
            ["method", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "dof"],
        ),
        "",
    ]
    lag_cols = ["lag", "n", "r", "ci_low", "ci_high", "p_val", "p_adj"]
    lines += [
        f"Lag profile, within-unit r of x(t) and y(t+lag) (unit-bootstrap intervals, {s['n_boot']} resamples, "
        f"{s['adjust']}-adjusted p)",
        _fmt(result.lags, lag_cols),
        "",
        f"Lag profile with period effects removed (best lag: {result.best_lag})",
        _fmt(result.lags_period_adjusted, lag_cols),
        "",
    ]
    if len(result.direction):
        lines += [
            "Direction: cross-lagged regressions with unit and period fixed effects, unit-clustered errors",
            _fmt(
                result.direction,
                [
                    "outcome",
                    "predictor",
                    "coef",
                    "ci_low",
                    "ci_high",
                    "p_val",
                    "std_coef",
                    "n",
                    "n_units",
                ],
            ),
            *(f"  - {c}" for c in DIRECTION_CAVEATS),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def run(args: argparse.Namespace) -> int:
    """Read the panel, analyse it, print the report or JSON. Returns the exit status."""
    import json
    import pathlib

    from linkage.errors import InputError
    from linkage.io import read_table
    from linkage.stats import analyse
    from linkage.stats._prep import check_columns, numeric

    label = pathlib.Path(args.panel).name
    data = read_table(args.panel)
    check_columns(
        data, {"x": args.x, "y": args.y, "unit": args.unit, "period": args.period}, file=label
    )
    typed = data.assign(**{c: numeric(data, c, file=label) for c in (args.x, args.y)})
    for (
        col
    ) in typed.columns:  # denominators (e.g. customer_start) become numbers when they are numbers
        if col.endswith("_start") and col not in (args.unit, args.period):
            try:
                typed[col] = numeric(data, col, file=label)
            except InputError:
                pass
    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.max_lag < 0:
        raise InputError(f"--max-lag must be >= 0, got {args.max_lag}")
    try:
        result = analyse(
            typed,
            x=args.x,
            y=args.y,
            unit=args.unit,
            period=args.period,
            max_lag=args.max_lag,
            n_boot=args.boot,
            seed=args.seed,
        )
    except InputError as err:
        if err.file is None:
            raise InputError(err.problem, file=label, row=err.row, column=err.column) from None
        raise
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(report(result), end="")
    return 0
