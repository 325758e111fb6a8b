"""``linkage drivers``: which survey items drive a customer outcome, with reliability-corrected
correlations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

HELP = (
    "Key drivers of a unit-level outcome among correlated survey items (relative weights or "
    "dominance), unit-bootstrap intervals, Holm-adjusted p-values, ICC reliability."
)

#: panel columns of the employee survey that are not items
_NOT_ITEMS = {"es_respondents", "es_wave", "es_engagement"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage drivers``."""
    parser.add_argument(
        "panel", metavar="PANEL", help="panel (or unit) file with item and outcome columns"
    )
    parser.add_argument(
        "--items",
        default=None,
        metavar="COL,...",
        help="item columns (default: every es_<item> column except es_engagement)",
    )
    parser.add_argument(
        "--outcome",
        default="customer_retention",
        metavar="COL",
        help="outcome column (default customer_retention)",
    )
    parser.add_argument(
        "--unit", default="unit_id", metavar="COL", help="unit column (default unit_id)"
    )
    parser.add_argument(
        "--period", default="period", metavar="COL", help="period column (default period)"
    )
    parser.add_argument(
        "--lag",
        type=int,
        default=0,
        metavar="K",
        help="pair items at t with the outcome at t+K (default 0)",
    )
    parser.add_argument(
        "--level",
        choices=["between", "within"],
        default="between",
        help="between: unit means (default); within: changes inside units over time",
    )
    parser.add_argument(
        "--method",
        choices=["relative_weights", "dominance"],
        default="relative_weights",
        help="relative weights (Johnson 2000, default) or general dominance",
    )
    parser.add_argument(
        "--respondents",
        default=None,
        metavar="FILE",
        help="respondent-level survey file (unit column and item columns, named as in the panel or "
        "without the es_ prefix): ICC(1), ICC(k) and corrected correlations",
    )
    parser.add_argument(
        "--respondent-date",
        dest="respondent_date",
        default="survey_date",
        metavar="COL",
        help="date column of the respondent file: answers are grouped by unit and month (default "
        "survey_date; without it, by unit)",
    )
    parser.add_argument(
        "--adjust",
        default="holm",
        metavar="METHOD",
        help="p-value correction over the items: holm (default), fdr_bh, bonferroni, none",
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


def _reliability(
    path: str, items: list[str], unit: str, date: str | None, data: pd.DataFrame, level: str
) -> pd.DataFrame:
    """Read the respondent file (items named as in the panel or without ``es_``) and return
    :func:`linkage.stats.survey_reliability` of the unit means the analysis uses."""
    import pathlib

    from linkage.errors import InputError
    from linkage.io import read_table
    from linkage.stats import survey_reliability

    label = pathlib.Path(path).name
    resp = read_table(path)
    rename = {}
    for item in items:
        if item in resp.columns:
            continue
        bare = item.removeprefix("es_")
        if bare in resp.columns:
            rename[bare] = item
        else:
            raise InputError(
                f"no column {item!r} or {bare!r} for item {item!r}", file=label, column=item
            )
    resp = resp.rename(columns=rename)
    try:
        return survey_reliability(resp, items=items, unit=unit, wave=date, panel=data, level=level)
    except InputError as err:
        from linkage.cli._common import with_file

        raise with_file(err, label) from None


def run(args: argparse.Namespace) -> int:
    """Read the panel, rank the drivers, print the report or JSON. Returns the exit status."""
    import json
    import pathlib

    from linkage.cli._common import fmt, survey_alignment, with_file
    from linkage.errors import InputError
    from linkage.io.panel import read_panel, require_columns
    from linkage.stats import key_drivers
    from linkage.stats.drivers import DRIVER_COLUMNS
    from linkage.stats.results import jsonable, records

    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    label = pathlib.Path(args.panel).name
    given = [c.strip() for c in args.items.split(",") if c.strip()] if args.items else []
    data = read_panel(
        args.panel,
        unit=args.unit,
        period=args.period,
        require=given,
        numeric=given,
        strict=False,
    )
    items = given or [c for c in data.columns if str(c).startswith("es_") and c not in _NOT_ITEMS]
    if not items:
        raise InputError("no es_<item> columns: name the items with --items", file=label)
    require_columns(data, [args.outcome], file=label, what="panel")
    reliability = None
    rel_table = None
    if args.respondents:
        rel_table = _reliability(
            args.respondents, items, args.unit, args.respondent_date, data, args.level
        )
        reliability = {
            str(item): float(rel)
            for item, rel in zip(
                rel_table["item"], rel_table["reliability"].to_numpy(dtype=float), strict=True
            )
            if 0 < rel <= 1
        }
    try:
        out = key_drivers(
            data,
            items=items,
            outcome=args.outcome,
            unit=args.unit,
            period=args.period,
            lag=args.lag,
            level=args.level,
            method=args.method,
            reliability=reliability,
            n_boot=args.boot,
            seed=args.seed,
            adjust=args.adjust,
        )
    except InputError as err:
        raise with_file(err, label) from None
    if args.json:
        doc = {
            "settings": {
                "items": items,
                "outcome": args.outcome,
                "level": args.level,
                "method": args.method,
                "lag": args.lag,
                "n_boot": args.boot,
                "seed": args.seed,
                "adjust": args.adjust,
                "unit": args.unit,
                "period": args.period,
                "respondents": pathlib.Path(args.respondents).name if args.respondents else None,
                **survey_alignment(data, unit=args.unit),
            },
            "r2": float(out["r2"].iloc[0]),
            "drivers": records(out, DRIVER_COLUMNS),
            "reliability": records(rel_table, list(rel_table.columns))
            if rel_table is not None
            else None,
        }
        print(json.dumps(jsonable(doc), indent=1))
        return 0
    lines = [
        f"linkage drivers: {len(items)} items against {args.outcome} ({args.level} level, "
        f"lag {args.lag}, {out['n_units'].iloc[0]} units), {args.method.replace('_', ' ')}: "
        f"R^2 = {out['r2'].iloc[0]:.3f}",
        "",
        "weight: share of R^2 (interval: unit bootstrap); p: weight against a random variable's "
        f"(Tonidandel et al. 2009), {args.adjust}-adjusted over the items",
        fmt(
            out,
            [
                "rank",
                "item",
                "weight",
                "share",
                "ci_low",
                "ci_high",
                "p_adj",
                "r",
                "r_corrected",
                "reliability",
            ],
        ),
        "",
    ]
    if rel_table is not None:
        lines += [
            "Reliability (ICC(1): share of an answer that is the unit's, per unit and survey "
            "month; reliability: of the unit means used, at k_means respondents, Spearman-Brown; "
            "items without a positive one are taken as exact)",
            fmt(rel_table, ["item", "n", "n_units", "icc1", "p_val", "k_means", "reliability"]),
            "",
        ]
    lines.append(
        "Units, not people: an item that drives unit outcomes need not drive any one person's."
    )
    print("\n".join(lines).rstrip())
    return 0
