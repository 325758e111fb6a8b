"""``linkage chain``: the service-profit chain link by link, and the mediation of its middle."""

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

HELP = (
    "The chain link by link (engagement -> employee retention -> customer retention -> revenue "
    "retention): between, within and lagged, with a within-unit mediation; links whose columns "
    "the panel lacks are skipped and named."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage chain``."""
    parser.add_argument(
        "panel", metavar="PANEL", help="panel file with the chain's columns (CSV, Parquet, Excel)"
    )
    parser.add_argument(
        "--links",
        default=None,
        metavar="X:Y,...",
        help="links in chain order, e.g. es_engagement:employee_retention,employee_retention:"
        "customer_retention (default: the four-step chain)",
    )
    add_unit_period(parser)
    parser.add_argument(
        "--max-lag", dest="max_lag", type=int, default=6, metavar="K", help="lags -K..K (default 6)"
    )
    add_bootstrap(parser)
    parser.add_argument(
        "--no-mediation", dest="mediate", action="store_false", help="skip the mediation analysis"
    )
    parser.add_argument(
        "--survey-align",
        dest="survey_align",
        default="wave",
        metavar="{wave,forward}",
        help="survey figures (es_*, cs_*) in links: 'wave' (default) only in the months their "
        "waves measured (es_wave / cs_wave), so lags are not shifted by carried-forward values; "
        "'forward': as the panel holds them, carried-forward values as if fresh",
    )
    add_json(parser)


def _links(text: str | None) -> list[tuple[str, str]]:
    """The links of ``--links`` (``X:Y,...``), or the default chain.

    Examples
    --------
    >>> _links("a:b, b:c")
    [('a', 'b'), ('b', 'c')]
    """
    from linkage.errors import InputError
    from linkage.stats.service_chain import DEFAULT_LINKS

    if text is None:
        return [(x, y) for x, y in DEFAULT_LINKS]
    out = []
    for part in text.split(","):
        bits = [b.strip() for b in part.split(":")]
        if len(bits) != 2 or not all(bits):
            raise InputError(f"--links: {part!r} is not X:Y")
        out.append((bits[0], bits[1]))
    return out


def _runnable(
    data: pd.DataFrame, links: list[tuple[str, str]], label: str
) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """The links whose two columns the panel has, and the others with the reason they are skipped.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame(columns=["a", "b"])
    >>> _runnable(panel, [("a", "b"), ("b", "c")], "p.csv")
    ([('a', 'b')], [{'x': 'b', 'y': 'c', 'reason': "no column 'c' in p.csv"}])
    """
    run, skipped = [], []
    for x, y in links:
        missing = [c for c in (x, y) if c not in data.columns]
        if missing:
            which = " or ".join(repr(c) for c in missing)
            skipped.append({"x": x, "y": y, "reason": f"no column {which} in {label}"})
        else:
            run.append((x, y))
    return run, skipped


def run(args: argparse.Namespace) -> int:
    """Read the panel, run the links it has, print the report or JSON. Returns the exit status."""
    import json
    import pathlib

    from linkage.errors import InputError
    from linkage.io.panel import read_panel
    from linkage.stats import chain
    from linkage.stats.service_chain import MEDIATION_CAVEATS

    links = _links(args.links)
    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.max_lag < 0:
        raise InputError(f"--max-lag must be >= 0, got {args.max_lag}")
    if args.survey_align not in ("wave", "forward"):
        raise InputError(f"--survey-align must be 'wave' or 'forward', got {args.survey_align!r}")
    label = pathlib.Path(args.panel).name
    # the link columns are converted (and checked) by linkage.stats, with the same messages
    data = read_panel(args.panel, unit=args.unit, period=args.period, require=(), strict=False)
    links, skipped = _runnable(data, links, label)
    if not links:
        missing = [c for x, y in _links(args.links) for c in (x, y) if c not in data.columns]
        names = [repr(c) for c in dict.fromkeys(missing)]
        which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise InputError(f"no link can run: the panel has no column {which}", file=label)
    try:
        res = chain(
            data,
            links=links,
            unit=args.unit,
            period=args.period,
            max_lag=args.max_lag,
            n_boot=args.boot,
            seed=args.seed,
            mediate=args.mediate,
            survey_align=args.survey_align,
        )
    except InputError as err:
        raise with_file(err, label) from None
    if args.json:
        doc = res.to_dict()
        doc["settings"] = {
            **doc["settings"],
            "mediate": args.mediate,
            **survey_alignment(data, unit=args.unit),
        }
        doc["skipped"] = skipped
        print(json.dumps(doc, indent=1))
        return 0
    measured = res.settings.get("survey_measured_on")
    lines = [
        f"linkage chain: {len(links)} links, {res.settings['n_units']} units",
        *(f"skipped: {d['x']} -> {d['y']} ({d['reason']})" for d in skipped),
        *(
            [
                "survey links measured on: "
                + (
                    "the months the waves measured (--survey-align wave)"
                    if measured == "wave"
                    else "carried-forward values as if fresh (--survey-align forward)"
                )
            ]
            if measured
            else []
        ),
        "",
        res.text,
        "",
        "Links (between: Fisher-z interval; within and best_lag: unit-bootstrap interval, "
        "clustered p)",
        fmt(
            res.links,
            ["link", "method", "lag", "n", "n_units", "r", "ci_low", "ci_high", "p_val", "p_adj"],
        ),
        "",
    ]
    if len(res.mediation):
        x, m, y = res.settings["mediation"]
        lines += [
            f"Mediation within units: {x} -> {m} -> {y} (unit-bootstrap intervals and p-values)",
            fmt(res.mediation, ["path", "coef", "ci_low", "ci_high", "p_val", "n", "n_units"]),
            *(
                [
                    "Sensitivity (Imai, Keele & Yamamoto 2010): the indirect path is 0 when an "
                    f"unmeasured cause of {m} and {y} correlates their errors at rho = "
                    f"{res.sensitivity.rho_at_zero:.2f} (R^2_M* R^2_Y* = "
                    f"{res.sensitivity.r2_star_at_zero:.3f}, R~^2_M R~^2_Y = "
                    f"{res.sensitivity.r2_tilde_at_zero:.3f})"
                ]
                if res.sensitivity is not None
                else []
            ),
            *(f"  - {c}" for c in MEDIATION_CAVEATS),
            "",
        ]
    print("\n".join(lines).rstrip())
    return 0
