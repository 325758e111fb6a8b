"""``linkage simulate``: write a simulated world (extracts, panel, truth) or the bundled sample."""

from __future__ import annotations

import argparse

HELP = "Write a simulated service-profit-chain world with known truth (or the bundled sample)."

_WORLD_OPTIONS = (
    "units",
    "months",
    "start",
    "lag",
    "effect",
    "confound",
    "seasonality",
    "reverse",
    "seed",
    "customers",
    "defects",
    "raw_export",
    "chain",
    "events",
    "relationships",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``linkage simulate``."""
    parser.add_argument(
        "outdir", metavar="OUTDIR", help="folder to write the files to (created if missing)"
    )
    parser.add_argument("--units", type=int, metavar="N", help="number of units (default 100)")
    parser.add_argument("--months", type=int, metavar="N", help="number of months (default 36)")
    parser.add_argument("--start", metavar="YYYY-MM", help="first month (default 2023-01)")
    parser.add_argument(
        "--lag",
        type=int,
        metavar="K",
        help="months after which customers respond to the climate (default 2)",
    )
    parser.add_argument(
        "--effect",
        type=float,
        metavar="X",
        help="climate effect on staff quits and on customer churn, logit per sd "
        "(default 0.5; 0 = no link)",
    )
    parser.add_argument(
        "--confound",
        type=float,
        metavar="X",
        help="big units lose more staff yet keep more customers (default 0 = off)",
    )
    parser.add_argument(
        "--seasonality",
        type=float,
        metavar="X",
        help="amplitude of a season shared by both sides (default 0)",
    )
    parser.add_argument(
        "--reverse",
        type=float,
        metavar="X",
        help="customer churn raising staff quits a month later (default 0 = off)",
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    parser.add_argument(
        "--customers",
        choices=("spells", "activity"),
        help="customers as spells (default) or as an activity log of visits",
    )
    parser.add_argument(
        "--defects",
        type=float,
        metavar="RATE",
        help="plant defective rows: this share of rows per defect kind (e.g. 0.01)",
    )
    parser.add_argument(
        "--raw-export",
        dest="raw_export",
        action="store_true",
        default=None,
        help="also write OUTDIR/raw/ as an HR/CRM export (with --chain: the surveys, unit revenue "
        "and segments too), with mapping.yaml",
    )
    parser.add_argument(
        "--chain",
        action="store_true",
        default=None,
        help="also plant the rest of the chain and write employee_survey.csv, "
        "customer_survey.csv, customer_segments.csv and revenue.csv",
    )
    parser.add_argument(
        "--events",
        action="store_true",
        default=None,
        help="also plant manager departures (a role column on employees.csv), staff shocks and "
        "a programme (programme.csv) with their effects on customer retention",
    )
    parser.add_argument(
        "--relationships",
        action="store_true",
        default=None,
        help="also link customers to the employees who serve them (a served_by column and "
        "relationships.csv; customers leave twice as often for 6 months after their employee "
        "left, 1.3 times after a quick handover)",
    )
    parser.add_argument(
        "--big",
        type=int,
        metavar="ROWS",
        help="write a big benchmark world instead: 2,000 units x 60 months and an "
        "activity log of about ROWS rows as Parquet parts (e.g. 20000000); "
        "takes --units, --months, --start, --seed",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="write exactly the bundled sample (data/sample); takes no other option",
    )


def run(args: argparse.Namespace) -> int:
    """Simulate and write; print what was written. Returns the exit status."""
    from linkage.errors import InputError
    from linkage.simulate import (
        ChainSpec,
        EventSpec,
        RelationshipSpec,
        WorldSpec,
        simulate,
        write_sample,
        write_world,
    )

    if args.big is not None:
        return _run_big(args)
    if args.sample:
        given = [name for name in _WORLD_OPTIONS if getattr(args, name) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise InputError(f"--sample writes the bundled sample as it is; drop {flag}")
        paths = write_sample(args.outdir)
        # the relationship finding of its served_by, as 'linkage relationships --json' writes it
        # (the dashboard's section "When someone leaves" shows it on the sample)
        import pathlib

        from linkage.cli._relationships import sample_finding

        target = pathlib.Path(args.outdir) / "relationships.json"
        tmp = target.with_name(".relationships.json.tmp")
        tmp.write_text(sample_finding(args.outdir) + "\n", encoding="utf-8")
        tmp.replace(target)
        paths.append(target)
        print(f"wrote the bundled sample ({len(paths)} files) to {args.outdir}")
        return 0

    params = {}
    for option, field in (
        ("units", "n_units"),
        ("months", "months"),
        ("start", "start"),
        ("lag", "lag"),
        ("confound", "confound"),
        ("seasonality", "seasonality"),
        ("reverse", "reverse"),
        ("seed", "seed"),
    ):
        value = getattr(args, option)
        if value is not None:
            params[field] = value
    if args.effect is not None:
        params["effect_staff"] = params["effect_customer"] = args.effect
    try:
        spec = WorldSpec(**params)
    except InputError as err:  # name the command-line option rather than the spec field
        names = {"n_units": "units", "effect_staff": "effect", "effect_customer": "effect"}
        flag = "--" + names.get(err.column or "", err.column or "")
        raise InputError(f"{flag}: {err.problem}") from None
    world = simulate(
        spec,
        customers=args.customers or "spells",
        defects=args.defects,
        chain=ChainSpec() if args.chain else None,
        events=EventSpec() if args.events else None,
        relationships=RelationshipSpec() if args.relationships else None,
    )
    paths = write_world(world, args.outdir, raw_export=bool(args.raw_export))
    facts = world.truth["facts"]
    print(f"wrote {len(paths)} files to {args.outdir}: {world!r}")
    print(
        f"planted: lag {facts['planted_lag']}, direction {facts['expected_direction']}, "
        f"within-unit r about {facts['within_r_expected']:+.2f} at the planted lag, "
        f"between-unit sign {facts['between_sign']:+d}"
    )
    for name, info in world.truth.get("defects", {}).items():
        total = sum(info["counts"].values())
        counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
        print(f"defects in {name}: {total} rows ({counts})")
    if "relationships" in world.truth:
        planted = world.truth["relationships"]["planted"]
        print(
            f"relationships: hazard ratio {planted['hazard_ratio']:g} for {planted['months']} "
            f"months after a customer's employee left ({planted['quick_hazard_ratio']:g} after a "
            f"handover within {planted['quick_days']} days)"
        )
    if "chain" in world.truth:
        chain = world.truth["chain"]
        print(
            f"chain: survey drivers {', '.join(chain['planted_drivers'])}; not drivers "
            f"{', '.join(chain['unplanted_items'])}; most sensitive segment "
            f"{chain['most_sensitive_segment']}"
        )
    if "events" in world.truth:
        ev = world.truth["events"]
        print(
            f"events: {len(ev['manager_departures'])} manager departures (role "
            f"{ev['manager_role']!r}), {len(ev['staff_shocks'])} staff shock months, "
            f"{ev['programme_units']} programme starts (programme.csv)"
        )
    return 0


def _run_big(args: argparse.Namespace) -> int:
    """``--big ROWS``: the chunked Parquet world of :func:`linkage.simulate.big.write_big`."""
    from linkage.errors import InputError
    from linkage.simulate.big import write_big

    allowed = {"units", "months", "start", "seed"}
    given = [
        name for name in _WORLD_OPTIONS if getattr(args, name) is not None and name not in allowed
    ]
    if given or args.sample:
        flag = "--sample" if args.sample else "--" + given[0].replace("_", "-")
        raise InputError(f"--big takes only --units, --months, --start and --seed; drop {flag}")
    options = {"rows": args.big, "progress": True}
    for option, field in (
        ("units", "n_units"),
        ("months", "months"),
        ("start", "start"),
        ("seed", "seed"),
    ):
        if getattr(args, option) is not None:
            options[field] = getattr(args, option)
    paths = write_big(args.outdir, **options)
    print(f"wrote the big world to {args.outdir}: {', '.join(str(p) for p in paths.values())}")
    return 0
