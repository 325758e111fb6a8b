"""``linkage chain``, ``drivers`` and ``watchlist`` on a small simulated chain panel."""

import json

import pandas as pd
import pytest

from linkage.cli import main
from linkage.panel import customer_survey_panel, employee_survey_panel, join_chain, revenue_panel
from linkage.simulate import ChainSpec, WorldSpec, simulate


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chain")
    world = simulate(WorldSpec(n_units=30, months=24, seed=6), chain=ChainSpec())
    items = list(ChainSpec().item_names)
    window = {"start": "2023-01", "end": "2024-12"}
    es = employee_survey_panel(world.employee_survey, items=items, align="wave", **window)
    cs = customer_survey_panel(world.customer_survey, **window)
    rv = revenue_panel(world.revenue, **window)
    panel = join_chain(world.panel, employee_survey=es, customer_survey=cs, revenue=rv)
    panel.to_csv(tmp / "panel.csv", index=False)
    world.employee_survey.to_csv(tmp / "respondents.csv", index=False)
    (tmp / "bad.csv").write_text(
        "unit_id,period,employee_retention,customer_retention\n"
        "a,2024-01-01,0.9,0.8\na,2024-02-01,lots,0.8\n"
    )
    return tmp


def test_chain_json(files, capsys):
    assert (
        main(["chain", str(files / "panel.csv"), "--boot", "50", "--max-lag", "2", "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert {d["link"] for d in doc["links"]} == {
        "es_engagement -> employee_retention",
        "employee_retention -> customer_retention",
        "customer_retention -> revenue_retention",
    }
    assert [d["path"] for d in doc["mediation"]] == ["a", "b", "direct", "indirect", "total"]
    assert doc["caveats"] and doc["text"]
    sens = doc["mediation_sensitivity"]
    assert -1 < sens["rho_at_zero"] < 1 and sens["r2_star_at_zero"] == sens["rho_at_zero"] ** 2
    assert {"rho", "acme", "ci_low", "ci_high"} <= set(sens["grid"][0])


def test_chain_report_and_links_option(files, capsys):
    assert (
        main(
            [
                "chain",
                str(files / "panel.csv"),
                "--boot",
                "20",
                "--max-lag",
                "1",
                "--no-mediation",
                "--links",
                "employee_retention:customer_retention",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        out.startswith("linkage chain: 1 links, 30 units") and "Mediation within units" not in out
    )


def test_drivers_json_with_reliability(files, capsys):
    assert (
        main(
            [
                "drivers",
                str(files / "panel.csv"),
                "--respondents",
                str(files / "respondents.csv"),
                "--level",
                "within",
                "--lag",
                "2",
                "--boot",
                "50",
                "--json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    items = {d["item"] for d in doc["drivers"]}
    assert items == {f"es_{n}" for n in ChainSpec().item_names if n != "engagement"}
    assert [d["rank"] for d in doc["drivers"]] == list(range(1, 7))
    assert {r["item"] for r in doc["reliability"]} == items
    assert all(
        d["r_corrected"] is None or abs(d["r_corrected"]) >= abs(d["r"]) - 1e-12
        for d in doc["drivers"]
    )
    # the variance components and the corrected weights with their intervals
    rel = doc["reliability"][0]
    assert {"var_unit", "var_wave", "var_respondent", "waves", "reliability_pooled"} <= set(rel)
    assert doc["settings"]["survey_measured_on"] == "wave"
    usable = all(r["reliability"] is not None for r in doc["reliability"])
    for d in doc["drivers"]:
        assert {"weight_corrected", "ci_low_corrected", "ci_high_corrected"} <= set(d)
        if usable:
            assert d["ci_low_corrected"] <= d["weight_corrected"] <= d["ci_high_corrected"]
    assert (doc["r2_corrected"] is not None) == usable


def test_drivers_report(files, capsys):
    assert (
        main(
            [
                "drivers",
                str(files / "panel.csv"),
                "--items",
                "es_manager_support,es_pay",
                "--method",
                "dominance",
                "--boot",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "general dominance" not in out and "dominance: R^2" in out and "es_pay" in out


def test_watchlist_json_and_report(files, capsys):
    assert (
        main(
            [
                "watchlist",
                str(files / "panel.csv"),
                "--boot",
                "30",
                "--json",
                "--revenue",
                "revenue",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["units"]) == 30 and doc["settings"]["lag"] >= 0
    assert doc["flagged"] == sum(u["flag"] for u in doc["units"])
    assert (
        main(
            [
                "watchlist",
                str(files / "panel.csv"),
                "--boot",
                "0",
                "--backtest",
                "2",
                "--as-of",
                "2024-10-01",
                "--baseline",
                "6",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Back-test" in out and "all" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            [
                "chain",
                "{d}/bad.csv",
                "--boot",
                "0",
                "--links",
                "employee_retention:customer_retention",
            ],
            "bad.csv, row 2, column 'employee_retention'",
        ),
        (["chain", "{d}/panel.csv", "--links", "employee_retention"], "--links"),
        (["drivers", "{d}/panel.csv", "--items", "es_nothing"], "panel.csv, column 'es_nothing'"),
        (["watchlist", "{d}/panel.csv", "--as-of", "soon"], "--as-of"),
        (
            ["watchlist", "{d}/panel.csv", "--recent", "20", "--baseline", "12", "--boot", "0"],
            "fewer than recent",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, argv, message):
    assert main([a.format(d=files) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_between_reliability_counts_each_wave_once_whatever_the_alignment(files, tmp_path, capsys):
    # forward alignment repeats a wave's respondents in the months it is carried to; the
    # respondents behind a unit's mean are those of its waves, counted once (k_means equal for both)
    world = simulate(WorldSpec(n_units=30, months=24, seed=6), chain=ChainSpec())
    items = list(ChainSpec().item_names)
    window = {"start": "2023-01", "end": "2024-12"}
    ks = []
    for align in ("wave", "forward"):
        es = employee_survey_panel(world.employee_survey, items=items, align=align, **window)
        path = tmp_path / f"{align}.csv"
        join_chain(world.panel, employee_survey=es).to_csv(path, index=False)
        assert (
            main(
                [
                    "drivers",
                    str(path),
                    "--respondents",
                    str(files / "respondents.csv"),
                    "--boot",
                    "20",
                    "--json",
                ]
            )
            == 0
        )
        ks.append([r["k_means"] for r in json.loads(capsys.readouterr().out)["reliability"]])
    assert ks[0] == pytest.approx(ks[1])


# -- panels without some of the chain's columns, and the settings each JSON states --------------

ALIGN_KEYS = {"survey_align", "customer_survey_align"}


@pytest.fixture(scope="module")
def no_revenue(files):
    panel = pd.read_csv(files / "panel.csv", dtype=str)
    path = files / "norev.csv"
    panel.drop(columns=[c for c in panel.columns if c.startswith("revenue")]).to_csv(
        path, index=False
    )
    plain = files / "plain.csv"
    keep = [c for c in panel.columns if not c.startswith(("revenue", "es_", "cs_"))]
    panel[keep].to_csv(plain, index=False)
    return path, plain


def test_chain_without_revenue_runs_the_other_links_and_names_the_skipped_one(
    files, no_revenue, capsys
):
    path, _ = no_revenue
    argv = ["chain", str(path), "--boot", "20", "--max-lag", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("linkage chain: 2 links, 30 units\n")
    skipped = [line for line in out.splitlines() if line.startswith("skipped:")]
    assert skipped == [
        "skipped: customer_retention -> revenue_retention "
        "(no column 'revenue_retention' in norev.csv)"
    ]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {d["link"] for d in doc["links"]} == {
        "es_engagement -> employee_retention",
        "employee_retention -> customer_retention",
    }
    assert doc["skipped"] == [
        {
            "x": "customer_retention",
            "y": "revenue_retention",
            "reason": "no column 'revenue_retention' in norev.csv",
        }
    ]
    # the links it runs give the figures they give on the full panel
    assert (
        main(["chain", str(files / "panel.csv"), "--boot", "20", "--max-lag", "1", "--json"]) == 0
    )
    full = json.loads(capsys.readouterr().out)
    assert [d for d in full["links"] if "revenue" not in d["link"]] == doc["links"]


def test_chain_without_survey_and_revenue_runs_the_middle_link(no_revenue, capsys):
    _, plain = no_revenue
    assert main(["chain", str(plain), "--boot", "20", "--max-lag", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {d["link"] for d in doc["links"]} == {"employee_retention -> customer_retention"}
    assert [(d["x"], d["y"]) for d in doc["skipped"]] == [
        ("es_engagement", "employee_retention"),
        ("customer_retention", "revenue_retention"),
    ]
    assert doc["settings"]["survey_align"] is None and doc["settings"]["mediation"] is None


def test_chain_with_no_link_to_run_is_one_line_and_exit_2(no_revenue, capsys):
    _, plain = no_revenue
    assert main(["chain", str(plain), "--links", "es_pay:revenue_retention"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "plain.csv" in err and "no link can run" in err and "'es_pay'" in err


def test_chain_settings(files, capsys):
    assert (
        main(["chain", str(files / "panel.csv"), "--boot", "20", "--max-lag", "1", "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    s = doc["settings"]
    assert {"links", "unit", "period", "step", "max_lag", "n_boot", "seed", "ci", "mediate"} <= set(
        s
    )
    assert (s["max_lag"], s["n_boot"], s["seed"], s["mediate"]) == (1, 20, 0, True)
    # the fixture's employee survey is aligned 'wave', the customer survey always is
    assert (s["survey_align"], s["customer_survey_align"]) == ("wave", "wave")
    assert doc["skipped"] == []


def test_drivers_settings(files, capsys):
    assert main(["drivers", str(files / "panel.csv"), "--boot", "10", "--lag", "1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert (s["lag"], s["n_boot"], s["seed"], s["level"], s["unit"], s["period"]) == (
        1,
        10,
        0,
        "between",
        "unit_id",
        "period",
    )
    assert s["respondents"] is None and ALIGN_KEYS <= set(s) and s["survey_align"] == "wave"


def test_watchlist_settings_state_the_resolved_as_of(files, capsys):
    assert main(["watchlist", str(files / "panel.csv"), "--boot", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert s["as_of"].startswith("2024-12-01")  # the last period, resolved
    assert {"lag", "max_lag", "n_boot", "seed", "unit", "period", "revenue"} <= set(s)
    assert (s["max_lag"], s["seed"], s["revenue"]) == (6, 0, None)
    assert (s["survey_align"], s["customer_survey_align"]) == ("wave", "wave")
    assert (
        main(
            [
                "watchlist",
                str(files / "panel.csv"),
                "--boot",
                "0",
                "--json",
                "--as-of",
                "2024-10-01",
                "--baseline",
                "6",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["settings"]["as_of"].startswith("2024-10-01")


def test_drivers_settings_name_the_respondent_file(files, capsys):
    argv = ["drivers", str(files / "panel.csv"), "--respondents", str(files / "respondents.csv")]
    assert main([*argv, "--boot", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert (s["respondents"], s["map"]) == ("respondents.csv", None)


@pytest.fixture(scope="module")
def exported(files):
    """The respondents as a survey tool exports them, with the mapping 'linkage panel' reads."""
    import pandas as pd

    items = list(ChainSpec().item_names)
    names = {item: f"Q{i}" for i, item in enumerate(items, start=1)}
    es = pd.read_csv(files / "respondents.csv", dtype=str)
    us = pd.to_datetime(es["survey_date"]).dt.strftime("%m/%d/%Y")
    raw = es.assign(survey_date=us).rename(
        columns={
            "respondent_id": "Response ID",
            "unit_id": "Store",
            "survey_date": "Survey Date",
            **names,
        }
    )
    raw.to_csv(files / "pulse.csv", index=False)
    listed = ", ".join(f"{k}: {v}" for k, v in names.items())
    (files / "map.yaml").write_text(
        "employee_survey: {unit_id: Store, survey_date: Survey Date, respondent_id: Response ID, "
        f'items: {{{listed}}}}}\ndates: {{format: "%m/%d/%Y"}}\n'
    )
    es.rename(columns={"survey_date": "answered"}).to_csv(files / "answered.csv", index=False)
    return files


def test_drivers_reads_the_respondents_as_panel_does(exported, capsys):
    # the export through --map gives the same reliability as the canonical file
    docs = []
    for extra in (
        ["--respondents", str(exported / "respondents.csv")],
        ["--respondents", str(exported / "pulse.csv"), "--map", str(exported / "map.yaml")],
        ["--respondents", str(exported / "answered.csv"), "--respondent-date", "answered"],
    ):
        assert main(["drivers", str(exported / "panel.csv"), "--boot", "20", "--json", *extra]) == 0
        docs.append(json.loads(capsys.readouterr().out)["reliability"])
    assert docs[0] == docs[1] == docs[2]


def test_drivers_reports_the_respondent_rows_set_aside(exported, tmp_path, capsys):
    text = (exported / "pulse.csv").read_text().splitlines()
    cells = text[3].split(",")
    cells[2] = "13/45/2023"
    (tmp_path / "pulse.csv").write_text("\n".join([*text[:3], ",".join(cells), *text[4:]]) + "\n")
    assert (
        main(
            [
                "drivers",
                str(exported / "panel.csv"),
                "--boot",
                "0",
                "--respondents",
                str(tmp_path / "pulse.csv"),
                "--map",
                str(exported / "map.yaml"),
            ]
        )
        == 0
    )
    assert "1 set aside (impossible_date 1)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "respondents, extra, message",
    [
        ("pulse.csv", [], "pulse.csv, column 'unit_id': no unit column 'unit_id'"),
        ("pulse.csv", ["--items", "es_pay,es_coaching"], "panel.csv, column 'es_coaching'"),
        ("bin.csv", [], "bin.csv: does not look like a table"),
        ("nodates.csv", ["--map", "{d}/map.yaml"], "nodates.csv: none of its"),
        ("noitem.csv", ["--map", "{d}/map.yaml"], "noitem.csv, column 'Q5'"),
        ("respondents.csv", ["--items", "es_pay", "--map", "{d}/nomap.yaml"], "nomap.yaml"),
    ],
)
def test_bad_respondent_file_is_one_line_and_exit_2(exported, capsys, respondents, extra, message):
    import pandas as pd

    (exported / "bin.csv").write_bytes(bytes(range(256)) * 20)
    pulse = pd.read_csv(exported / "pulse.csv", dtype=str)
    pulse.assign(**{"Survey Date": "soon"}).to_csv(exported / "nodates.csv", index=False)
    pulse.drop(columns="Q5").to_csv(exported / "noitem.csv", index=False)
    argv = [
        "drivers",
        str(exported / "panel.csv"),
        "--boot",
        "0",
        "--respondents",
        str(exported / respondents),
        *(a.format(d=exported) for a in extra),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_chain_measures_survey_links_on_wave_months_by_default(files, tmp_path, capsys):
    # a panel whose employee survey is carried forward: by default the chain sets the carried
    # months aside for the survey links and says so; --survey-align forward uses them as if fresh
    world = simulate(WorldSpec(n_units=30, months=24, seed=6), chain=ChainSpec())
    window = {"start": "2023-01", "end": "2024-12"}
    items = list(ChainSpec().item_names)
    es = employee_survey_panel(world.employee_survey, items=items, align="forward", **window)
    path = tmp_path / "forward.csv"
    join_chain(world.panel, employee_survey=es).to_csv(path, index=False)
    argv = ["chain", str(path), "--links", "es_engagement:employee_retention", "--boot", "0"]
    assert main([*argv, "--max-lag", "1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert s["survey_align"] == "forward"  # how the panel was built
    assert s["survey_measured_on"] == "wave" and s["survey_carried_rows"]["es_wave"] > 0
    assert main([*argv, "--max-lag", "1", "--json", "--survey-align", "forward"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert s["survey_measured_on"] == "forward"
    assert main([*argv, "--max-lag", "1"]) == 0
    out = capsys.readouterr().out
    assert "survey links measured on: the months the waves measured" in out
    assert main([*argv, "--survey-align", "fresh"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--survey-align must be 'wave' or 'forward'" in err


def test_watchlist_json_backtest_intervals_and_calibration(files, capsys):
    argv = ["watchlist", str(files / "panel.csv"), "--boot", "100", "--backtest", "3"]
    assert main([*argv, "--baseline", "6", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pooled = doc["backtest"][-1]
    assert pooled["cutoff"] == "all"
    for name in ("precision", "recall"):
        if pooled[name] is not None:
            assert pooled[f"{name}_ci_low"] <= pooled[name] <= pooled[f"{name}_ci_high"]
    cal = doc["calibration"]
    assert cal is not None and [b["bin"] for b in cal] == list(range(1, len(cal) + 1))
    assert sum(b["n"] for b in cal) == pooled["n_units"]
    assert main([*argv, "--baseline", "6"]) == 0
    out = capsys.readouterr().out
    assert "Calibration" in out and "unit bootstrap, every cutoff of a unit" in out


def test_drivers_survey_align_bad_value_is_one_line(files, capsys):
    argv = ["drivers", str(files / "panel.csv"), "--boot", "0", "--survey-align", "stale"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--survey-align must be 'wave' or 'forward'" in err
    assert main(["drivers", str(files / "panel.csv"), "--boot", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["settings"]
    assert s["survey_measured_on"] == "wave"
