"""``linkage drivers``: which survey items drive a customer outcome, with reliability-corrected
correlations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

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
    from linkage.cli._common import add_bootstrap, add_json, add_unit_period

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
    add_unit_period(parser)
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
        help="respondent-level survey file, read and cleaned as 'linkage panel --employee-survey' "
        "(with --map: its employee_survey section; else unit_id, survey_date and item columns "
        "named as in the panel or without the es_ prefix): ICC(1), ICC(k) and corrected "
        "correlations",
    )
    parser.add_argument(
        "--map",
        dest="mapping",
        default=None,
        metavar="MAP.yaml",
        help="column mapping of the respondent file, as given to 'linkage panel --map' (its "
        "employee_survey section: columns, items, scale, dates)",
    )
    parser.add_argument(
        "--respondent-date",
        dest="respondent_date",
        default="survey_date",
        metavar="COL",
        help="date column of a respondent file without --map (any date the cleaning reads): "
        "answers are grouped by unit and month (default survey_date; without it, by unit)",
    )
    parser.add_argument(
        "--survey-align",
        dest="survey_align",
        default="wave",
        metavar="{wave,forward}",
        help="survey figures: 'wave' (default) only in the months their waves measured "
        "(es_wave / cs_wave), so a lag pairs a measurement with the outcome after it; 'forward': "
        "carried-forward values as if fresh",
    )
    parser.add_argument(
        "--adjust",
        default="holm",
        metavar="METHOD",
        help="p-value correction over the items: holm (default), fdr_bh, bonferroni, none",
    )
    add_bootstrap(parser)
    add_json(parser)


def _read_respondents(
    path: str, *, mapping_path: str | None, items: list[str], unit: str, date: str
) -> tuple[pd.DataFrame, str | None, str]:
    """Read and clean the respondent file as ``linkage panel --employee-survey FILE --map MAP``.

    The mapping's ``employee_survey`` section (columns, ``items``, ``scale``, ``dates``) applies;
    a canonical file may name its items as in the panel (``es_<item>``) or without ``es_``, its
    unit column ``unit`` and its date column ``date`` (none: answers are grouped by unit).
    Returns the kept rows with the panel's item and unit names, the date column (or None) and a
    one-line account of the rows set aside (empty when none were).
    """
    import pathlib

    from linkage.clean import check_kept, clean_employee_survey
    from linkage.cli._common import with_file
    from linkage.errors import InputError
    from linkage.io import load_mapping, read_table, validate_mapping

    label = pathlib.Path(path).name
    mapping: dict[str, Any] = (
        load_mapping(mapping_path) if mapping_path is not None else validate_mapping({})
    )
    raw = read_table(path, name=label)
    # the section as validated: file columns by canonical name, and items / scale / dates
    body = dict(mapping["employee_survey"])
    if date != "survey_date":  # --respondent-date names the file's date column
        body["survey_date"] = date
    if unit != "unit_id" and "unit_id" not in body and unit in raw.columns:
        body["unit_id"] = unit
    unit_column = body.get("unit_id", "unit_id")
    if unit_column not in raw.columns:
        hint = (
            ""
            if "unit_id" in body
            else " (name the file's unit column with --map: employee_survey: {unit_id: ...})"
        )
        raise InputError(f"no unit column {unit_column!r}{hint}", file=label, column=unit_column)
    undated = "survey_date" not in body and "survey_date" not in raw.columns and "period" not in raw
    if undated:  # no date: every answer of a unit is one group (one placeholder month)
        raw = raw.assign(survey_date="2000-01-01")
    if "items" not in body:  # canonical items may carry the panel's es_ prefix
        raw = raw.rename(
            columns={
                c: c.removeprefix("es_")
                for c in raw.columns
                if str(c).startswith("es_") and c.removeprefix("es_") not in raw.columns
            }
        )
    try:
        # the items, scale and dates of the mapping, as 'linkage panel' cleans the file
        result = clean_employee_survey(
            raw, mapping=validate_mapping({**mapping, "employee_survey": body}), source=label
        )
    except InputError as err:
        raise with_file(err, label) from None
    check_kept(result)  # as 'linkage panel': no usable row is an error
    data = result.data
    if "survey_date" not in data.columns:
        raise InputError(
            "is a unit-level survey (period, respondents): reliability needs one row per "
            "respondent",
            file=label,
        )
    for item in items:
        bare = item.removeprefix("es_")
        if bare not in data.columns or data[bare].dtype.kind != "f":
            where = "the mapping's employee_survey items" if "items" in body else "item columns"
            raise InputError(
                f"no item {bare!r} (the panel's {item!r}) among its {where}",
                file=label,
                column=item,
            )
    data = data.rename(columns={i.removeprefix("es_"): i for i in items} | {"unit_id": unit})
    note = ""
    if result.n_kept < result.n_read:
        note = (
            f"{label}: {result.n_read:,} rows read, {result.n_kept:,} kept, "
            f"{result.n_read - result.n_kept:,} set aside ({_set_aside(result.report)})"
        )
    return data, (None if undated else "survey_date"), note


def _set_aside(report: pd.DataFrame) -> str:
    """The reasons of a cleaning report with their counts, e.g. ``unparseable_date 3``."""
    counts = report.loc[report["n"].gt(0) & report["reason"].ne("kept")]
    return ", ".join(f"{r} {int(n):,}" for r, n in zip(counts["reason"], counts["n"], strict=True))


def _reliability(
    path: str,
    items: list[str],
    unit: str,
    date: str,
    data: pd.DataFrame,
    level: str,
    mapping_path: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """Read the respondent file (:func:`_read_respondents`) and return
    :func:`linkage.stats.survey_reliability` of the unit means the analysis uses, with the
    account of the rows set aside."""
    import pathlib

    from linkage.cli._common import with_file
    from linkage.errors import InputError
    from linkage.stats import survey_reliability

    resp, wave, note = _read_respondents(
        path, mapping_path=mapping_path, items=items, unit=unit, date=date
    )
    try:
        table = survey_reliability(resp, items=items, unit=unit, wave=wave, panel=data, level=level)
    except InputError as err:
        raise with_file(err, pathlib.Path(path).name) from None
    return table, note


def run(args: argparse.Namespace) -> int:
    """Read the panel, rank the drivers, print the report or JSON. Returns the exit status."""
    import json
    import pathlib

    import numpy as np

    from linkage.cli._common import fmt, survey_alignment, with_file
    from linkage.errors import InputError
    from linkage.io.panel import read_panel, require_columns
    from linkage.stats import key_drivers
    from linkage.stats.drivers import DRIVER_COLUMNS
    from linkage.stats.results import jsonable, records

    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.survey_align not in ("wave", "forward"):
        raise InputError(f"--survey-align must be 'wave' or 'forward', got {args.survey_align!r}")
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
    rel_note = ""
    if args.respondents:
        rel_table, rel_note = _reliability(
            args.respondents,
            items,
            args.unit,
            args.respondent_date,
            data,
            args.level,
            mapping_path=args.mapping,
        )
        reliability = {
            str(item): float(rel)
            for item, rel in zip(
                rel_table["item"], rel_table["reliability"].to_numpy(dtype=float), strict=True
            )
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
            survey_align=args.survey_align,
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
                "map": pathlib.Path(args.mapping).name if args.mapping else None,
                **survey_alignment(data, unit=args.unit),
                "survey_measured_on": args.survey_align,
            },
            "r2_corrected": float(out["r2_corrected"].iloc[0]),
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
        "survey figures: "
        + (
            "the months their waves measured (--survey-align wave)"
            if args.survey_align == "wave"
            else "carried-forward values as if fresh (--survey-align forward)"
        ),
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
    if np.isfinite(out["r2_corrected"].iloc[0]):
        lines += [
            "Corrected for the unreliability of unit means (weights of the disattenuated "
            f"correlations; R^2 = {out['r2_corrected'].iloc[0]:.3f}; unit-bootstrap interval, "
            "reliabilities taken as known)",
            fmt(out, ["rank", "item", "weight_corrected", "ci_low_corrected", "ci_high_corrected"]),
            "",
        ]
    flags = out["correction"].value_counts()
    if flags.get("unreliable", 0) or flags.get("capped", 0):
        lines += [
            f"r_corrected: {flags.get('unreliable', 0)} item(s) unreliable (no unit signal: not "
            f"corrected), {flags.get('capped', 0)} capped at +/-1 (the correction overshot: "
            "reliability underestimated, or r is noise)",
            "",
        ]
    if rel_table is not None:
        lines += [
            "Reliability (variance of an answer: var_unit the unit's lasting level, var_wave its "
            "change from wave to wave, var_respondent the respondent's; reliability: of the unit "
            "means used, over `waves` waves and k_means respondents; reliability_pooled: ICC(1) "
            "per unit and survey month stepped up by Spearman-Brown, which counts wave-to-wave "
            "change as true score; an item without unit signal is unreliable: no corrected r)",
            fmt(
                rel_table,
                [
                    "item",
                    "n_units",
                    "icc1",
                    "var_unit",
                    "var_wave",
                    "var_respondent",
                    "k_means",
                    "waves",
                    "reliability_pooled",
                    "reliability",
                ],
            ),
            *([rel_note] if rel_note else []),
            "",
        ]
    lines.append(
        "Units, not people: an item that drives unit outcomes need not drive any one person's."
    )
    print("\n".join(lines).rstrip())
    return 0
