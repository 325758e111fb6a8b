"""``linkage link``: the linkage statistics of any panel file, as a readable report or as JSON."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from linkage.cli._common import (
    add_bootstrap,
    add_json,
    add_unit_period,
    fmt,
    survey_alignment,
    with_file,
)

if TYPE_CHECKING:
    import pandas as pd

    from linkage.stats import LinkageResult

HELP = (
    "Between-, within-unit and lead-lag linkage of two measures in a panel file "
    "(CSV, Parquet, Excel)."
)


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
    add_unit_period(
        parser,
        period_help="period column: dates (any day of the period: 2022-01-31 is January), YYYY-MM, "
        "YYYY-Qn, or whole numbers such as years (default period)",
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
        "--p-method",
        dest="p_method",
        choices=["cr2", "wild", "cluster", "t"],
        default="cr2",
        help="procedure behind the within-unit and lag p-values and intervals: cr2 (default; "
        "CR2 unit-clustered test with Bell-McCaffrey dof, calibrated from 8 units up), wild (wild "
        "cluster bootstrap-t p-values, Webb weights), cluster (analytic clustered t on units - 1) "
        "or t (rmcorr's t-test and Fisher-z interval, which treat unit-periods as independent: "
        "reproduces published rmcorr figures)",
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="COL",
        help="observation weights, e.g. customer_start (weighted correlations and lag profiles)",
    )
    parser.add_argument(
        "--covariates",
        default=None,
        metavar="COL[,COL]",
        help="columns to control for in partial correlations (comma separated)",
    )
    parser.add_argument(
        "--riclpm",
        action="store_true",
        help="add the random-intercept cross-lagged panel model to the direction tests (a few "
        "seconds on large panels)",
    )
    parser.add_argument(
        "--ci", type=float, default=0.95, metavar="LEVEL", help="confidence level (default 0.95)"
    )
    parser.add_argument(
        "--adjust",
        default="romano-wolf",
        metavar="METHOD",
        help="adjustment of the lag p-values for the number of lags: romano-wolf (default; "
        "step-down over the unit-bootstrap max-t, with simultaneous bands), holm, bonferroni, "
        "fdr_bh, none",
    )
    add_bootstrap(parser)
    add_json(parser)


def report(result: LinkageResult) -> str:
    """The readable report of a :class:`linkage.stats.LinkageResult`."""
    from linkage.stats import DIRECTION_CAVEATS

    s = result.settings
    lines = [
        f"linkage link: {s['x']} (x) and {s['y']} (y), {s['n_units']} units, "
        f"{s['n_obs']} unit-{s['step']}s with both",
        "",
    ]
    lines += [
        result.text,
        "",
        "Correlations",
        fmt(
            result.correlations,
            ["method", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "dof"],
        ),
        *(
            f"  - {m}: {p}"
            for m, p in zip(
                result.correlations["method"], result.correlations["p_method"], strict=True
            )
        ),
        "",
    ]
    lag_cols = [
        "lag",
        "n",
        "r",
        "ci_low",
        "ci_high",
        "p_val",
        "p_adj",
        "band_low",
        "band_high",
        "win_share",
    ]
    first = result.lags.iloc[0] if len(result.lags) else None
    how = (
        f"p and CI: {first['p_method']}; p_adj: {first['p_adj_method']}; band: simultaneous over "
        f"the lags; win_share: share of {s['n_boot']} unit resamples in which the lag has the "
        "largest |r|"
        if first is not None
        else ""
    )
    lines += [
        f"Lag profile, within-unit r of x(t) and y(t+lag) ({how})",
        fmt(result.lags, lag_cols),
        "",
        f"Lag profile with period effects removed (best lag: {result.best_lag})",
        fmt(result.lags_period_adjusted, lag_cols),
        "",
    ]
    if len(result.direction):
        lines += [
            "Direction: cross-lagged regressions with unit and period fixed effects, "
            "unit-clustered errors",
            fmt(
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
    if len(result.direction_tests):
        lines += [
            f"Which way it runs (lag order {s.get('direction_order')}; standardised cross-lags, "
            "unit-clustered t on units - 1 df; Dumitrescu-Hurlin Z for panel Granger)",
            fmt(
                result.direction_tests,
                ["method", "quantity", "estimate", "ci_low", "ci_high", "stat", "p_val", "n_units"],
            ),
            f"  Verdict (split-panel jackknife difference): {result.direction_verdict['verdict']}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _counts_as_numbers(data: pd.DataFrame, *, skip: tuple[str, ...]) -> pd.DataFrame:
    """``*_start`` columns (the rates' denominators, e.g. ``customer_start``) as float64 when every
    cell is a finite number; others as read (``linkage link`` has always done this: the
    small-denominator warning looks at them).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"customer_start": ["10", None], "employee_start": ["9", "many"]})
    >>> (_counts_as_numbers(t, skip=()).dtypes == "float64").tolist()
    [True, False]
    """
    import numpy as np
    import pandas as pd

    out = data.copy()
    for col in data.columns:
        if not str(col).endswith("_start") or col in skip:
            continue
        num = pd.to_numeric(data[col], errors="coerce")
        v = num.to_numpy(dtype="float64", na_value=np.nan)
        if not ((num.isna() & data[col].notna()).any() or np.isinf(v).any()):
            out[col] = v
    return out


def run(args: argparse.Namespace) -> int:
    """Read the panel, analyse it, print the report or JSON. Returns the exit status."""
    import json
    import pathlib

    from linkage.errors import InputError
    from linkage.io.panel import read_panel
    from linkage.stats import analyse

    label = pathlib.Path(args.panel).name
    covariates = [c.strip() for c in (args.covariates or "").split(",") if c.strip()]
    extra = [c for c in (args.weights, *covariates) if c is not None]
    data = read_panel(
        args.panel,
        unit=args.unit,
        period=args.period,
        require=(args.x, args.y, *extra),
        numeric=(args.x, args.y, *extra),
        strict=False,
    )
    data = _counts_as_numbers(data, skip=(args.unit, args.period))
    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.max_lag < 0:
        raise InputError(f"--max-lag must be >= 0, got {args.max_lag}")
    try:
        result = analyse(
            data,
            x=args.x,
            y=args.y,
            unit=args.unit,
            period=args.period,
            max_lag=args.max_lag,
            n_boot=args.boot,
            seed=args.seed,
            covariates=covariates or None,
            weights=args.weights,
            ci=args.ci,
            adjust=args.adjust,
            p_method=args.p_method,
            riclpm=args.riclpm,
        )
    except InputError as err:
        raise with_file(err, label) from None
    if args.json:
        doc = result.to_dict()
        doc["settings"] = {**doc["settings"], **survey_alignment(data, unit=args.unit)}
        print(json.dumps(doc, indent=1))
    else:
        print(report(result), end="")
    return 0
