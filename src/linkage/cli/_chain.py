"""``linkage chain``: the service-profit chain link by link, and the mediation of its middle."""

from __future__ import annotations

import argparse

from linkage.cli._common import fmt, read_panel, with_file

HELP = (
    "The chain link by link (engagement -> employee retention -> customer retention -> revenue retention): "
    "between, within and lagged, with a within-unit mediation."
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
    parser.add_argument(
        "--unit", default="unit_id", metavar="COL", help="unit column (default unit_id)"
    )
    parser.add_argument(
        "--period", default="period", metavar="COL", help="period column (default period)"
    )
    parser.add_argument(
        "--max-lag", dest="max_lag", type=int, default=6, metavar="K", help="lags -K..K (default 6)"
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
        "--no-mediation", dest="mediate", action="store_false", help="skip the mediation analysis"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a report"
    )


def _links(text: str | None):
    from linkage.errors import InputError
    from linkage.stats.service_chain import DEFAULT_LINKS

    if text is None:
        return list(DEFAULT_LINKS)
    out = []
    for part in text.split(","):
        bits = [b.strip() for b in part.split(":")]
        if len(bits) != 2 or not all(bits):
            raise InputError(f"--links: {part!r} is not X:Y")
        out.append((bits[0], bits[1]))
    return out


def run(args: argparse.Namespace) -> int:
    """Read the panel, run the chain, print the report or JSON. Returns the exit status."""
    import json

    from linkage.errors import InputError
    from linkage.stats import chain
    from linkage.stats.service_chain import MEDIATION_CAVEATS

    links = _links(args.links)
    if args.boot < 0:
        raise InputError(f"--boot must be >= 0, got {args.boot}")
    if args.max_lag < 0:
        raise InputError(f"--max-lag must be >= 0, got {args.max_lag}")
    cols = [c for link in links for c in link]
    data, label = read_panel(args.panel, numeric_columns=cols, period=args.period, unit=args.unit)
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
        )
    except InputError as err:
        raise with_file(err, label) from None
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
        return 0
    lines = [
        f"linkage chain: {len(links)} links, {res.settings['n_units']} units",
        "",
        res.text,
        "",
        "Links (between: Fisher-z interval; within and best_lag: unit-bootstrap interval, clustered p)",
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
            *(f"  - {c}" for c in MEDIATION_CAVEATS),
            "",
        ]
    print("\n".join(lines).rstrip())
    return 0
