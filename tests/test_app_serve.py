"""linkage.app.serve and linkage.app._voila without a browser: the command line, the viewer cap's
arithmetic and bookkeeping, the busy and waiting pages, the landing page, the plan for an expected
audience (--expect), the committed Voila configuration, the CLI's checks.
The served behaviour (busy page past the cap, kernels freed, stalled pages) is in tests/browser/test_load.py."""

import json
import os
import pathlib

import pytest

from linkage.app import _voila
from linkage.app._voila import ViewerGate, busy_page, default_max_viewers
from linkage.app.serve import dashboards_dir, serve, voila_command
from linkage.cli import main as cli_main
from linkage.errors import InputError

GiB = 1024**3


def test_voila_command_runs_linkage_voila_with_the_cap():
    cmd = voila_command("dash", port=9100, max_viewers=3)
    assert pathlib.Path(cmd[1]) == pathlib.Path(_voila.__file__) and cmd[2] == "dash"
    assert "--LinkageVoila.max_viewers=3" in cmd and "--port=9100" in cmd
    assert not any("max_viewers" in c for c in voila_command("dash"))  # default: the app decides


def test_default_max_viewers_from_memory(monkeypatch):
    monkeypatch.delenv(_voila.MAX_VIEWERS_ENV, raising=False)
    # half the available memory over 300 MB a viewer: 4 GiB -> 2048 MiB / 300 MiB = 6.8 -> 6
    assert default_max_viewers(4 * GiB, per_viewer_mb=300, ceiling=100) == 6
    assert default_max_viewers(4 * GiB, per_viewer_mb=300, ceiling=5) == 5  # the CPU ceiling
    assert default_max_viewers(1, per_viewer_mb=300) == 1  # never 0: one viewer always gets in
    monkeypatch.setattr(_voila, "_available_bytes", lambda: None)
    assert default_max_viewers(ceiling=8) == 4  # memory unreadable: a modest fixed number


def test_default_max_viewers_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv(_voila.MAX_VIEWERS_ENV, "3")
    assert default_max_viewers(64 * GiB) == 3
    monkeypatch.setenv(_voila.MAX_VIEWERS_ENV, "lots")
    assert default_max_viewers(2 * GiB, per_viewer_mb=300, ceiling=8) == 3  # ignored, said so
    assert "ignoring LINKAGE_MAX_VIEWERS='lots'" in capsys.readouterr().err


def test_the_machine_default_is_sane(monkeypatch):
    monkeypatch.delenv(_voila.MAX_VIEWERS_ENV, raising=False)
    assert 1 <= default_max_viewers() <= _voila.DEFAULT_CEILING


def test_gate_counts_viewers_not_the_pool_and_forgets_closed_kernels():
    live = {"pool", "a", "b"}
    gate = ViewerGate(kernels=lambda: live, max_viewers=2)
    gate.claimed("pool")  # a claim outside a page request (a pool refill) is not a viewer
    assert gate.count() == 0
    for kernel in ("a", "b"):
        token = gate.admit()
        gate.claimed(kernel)
        gate.claimed("pool")  # a second kernel in the same request is not counted twice
        gate.release(token)
    assert gate.viewers == {"a", "b"} and gate.full()
    live.discard("a")  # its tab closed (beacon) or culling shut it down
    assert gate.count() == 1 and not gate.full()


def test_gate_counts_requests_on_their_way_to_a_kernel():
    gate = ViewerGate(kernels=set, max_viewers=2)
    first, second = gate.admit(), gate.admit()  # admitted, their kernels not yet there
    assert gate.pending == 2 and gate.full()
    gate.claimed("k")  # the second request gets its kernel (context: the innermost admission)
    gate.release(second)
    gate.release(first)  # the first failed before getting a kernel: its slot frees
    assert gate.pending == 0


def test_busy_page_is_plain_and_retries():
    page = busy_page(60)
    assert "The dashboard is busy, please try again in a minute." in page
    assert 'http-equiv="refresh" content="60"' in page
    for word in ("kernel", "Traceback", "503", "voila"):
        assert word.lower() not in page.lower()


def test_committed_voila_configuration_frees_closed_tabs_and_uses_the_watchdog_template():
    conf = json.loads((dashboards_dir() / "voila.json").read_text())
    assert conf["VoilaConfiguration"]["template"] == "linkage"
    cull = conf["MappingKernelManager"]
    assert cull["cull_idle_timeout"] > 0 and cull["cull_interval"] > 0
    assert cull["cull_interval"] <= cull["cull_idle_timeout"]
    assert cull["cull_connected"] is False  # an open, idle tab keeps its kernel
    assert conf["VoilaConfiguration"]["show_tracebacks"] is False


def test_linkage_template_extends_voila_lab_and_carries_the_watchdog():
    folder = _voila.TEMPLATES / "voila" / "templates" / "linkage"
    assert json.loads((folder / "conf.json").read_text())["base_template"] == "lab"
    text = (folder / "index.html.j2").read_text()
    assert "extends 'voila/templates/lab/index.html.j2'" in text
    for needle in ("linkage_watchdog", "api/kernels/", "voila/api/shutdown/", "pagehide", "sessionStorage"):
        assert needle in text


def test_linkage_template_compiles_against_voilas_templates():
    # the template compiles against Voila's own templates (a typo in a block name or an extends
    # path fails here, not in a viewer's browser)
    import jinja2
    from voila.paths import collect_template_paths

    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(_voila.TEMPLATES)
    try:
        paths = collect_template_paths(["voila", "nbconvert"], "linkage", prune=True)
    finally:
        if old is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = old
    assert str(_voila.TEMPLATES / "voila" / "templates" / "linkage") in paths
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(paths), extensions=["jinja2.ext.i18n"])
    env.install_null_translations()
    env.get_template("index.html.j2")  # parses it and the templates it extends


def test_serve_refuses_a_cap_below_one_before_starting_anything():
    with pytest.raises(InputError, match="max-viewers must be at least 1"):
        serve(max_viewers=0, warm=False, open_browser=False)


def test_cli_dashboard_bad_cap_is_one_line_and_exit_2(capsys):
    assert cli_main(["dashboard", "--max-viewers", "0", "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "max-viewers" in err[0]


def test_cli_dashboard_help_mentions_the_cap(capsys):
    with pytest.raises(SystemExit):
        cli_main(["dashboard", "--help"])
    assert "--max-viewers" in capsys.readouterr().out


def test_templates_folder_is_inside_the_package():
    assert pathlib.Path(_voila.__file__).parent in _voila.TEMPLATES.parents


def test_cli_dashboard_missing_chain_file_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "pulse.csv"
    assert cli_main(["dashboard", "--employee-survey", str(missing), "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pulse.csv" in err[0] and "not found" in err[0]


def test_serve_hands_the_chain_files_to_the_kernels_and_the_warm_up(tmp_path, monkeypatch):
    # the kernels (Voila's environment) and the background warm-up both see CHAIN_ENV
    from linkage.app import serve as serve_module
    from linkage.pipeline import CHAIN_ENV

    pulse = tmp_path / "pulse.csv"
    pulse.write_text("unit_id,survey_date,engagement\n001,2024-01-15,4\n")
    seen = {}

    class FakeVoila:
        def __init__(self, cmd, cwd, env):
            seen["voila"] = env

        def wait(self):
            return 0

    monkeypatch.setattr(serve_module.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(serve_module, "_background_warm", lambda path, env: seen.update(warm=env))
    monkeypatch.setattr(serve_module.signal, "signal", lambda *a: None)
    monkeypatch.setattr(serve_module, "warm_cache", lambda path: None)
    assert serve(open_browser=False, chain_files={"employee_survey": pulse, "revenue": None}) == 0
    for env in (seen["voila"], seen["warm"]):
        assert env[CHAIN_ENV["employee_survey"]] == str(pulse.resolve())
        assert CHAIN_ENV["revenue"] not in env or env[CHAIN_ENV["revenue"]] == os.environ.get(CHAIN_ENV["revenue"])


def test_warm_chain_leaves_the_section_in_the_shared_cache(tmp_path, monkeypatch):
    from linkage.app import service_chain
    from linkage.app.executive import executive_dashboard
    from linkage.app.serve import warm_chain
    from linkage.io.datasets import sample_path

    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    panel = sample_path("panel.csv")
    warm_chain(panel)

    def no_computing(*a, **k):
        raise AssertionError("computed what the warm-up should have left in the cache")

    monkeypatch.setattr(service_chain, "chain_results", no_computing)
    assert executive_dashboard(panel, n_boot=1000).chain_view.compute().texts["chain"]


# --- the expected audience (--expect N) and the front door -------------------------------------

MiB = 1024**2


def test_plan_audience_admits_and_preheats_the_audience_when_memory_holds_it():
    # 24 GiB available: half of it, 12288 MiB, over 300 MiB a kernel -> room for 40 kernels
    plan = _voila.plan_audience(8, 24 * GiB, per_kernel_mb=300)
    assert (plan.pool, plan.max_viewers) == (8, 8)
    assert "40 kernels" in plan.reason and "wait" not in plan.reason


def test_plan_audience_is_bounded_by_memory_and_says_who_waits():
    # 4 GiB: 2048 MiB / 300 MiB -> room for 6 kernels: 6 - 2 = 4 viewers (one kernel kept for
    # each notebook's pool), the pool gets 6 - 4 - 1 = 1; 12 of 16 wait, 15 start their own kernel
    plan = _voila.plan_audience(16, 4 * GiB, per_kernel_mb=300)
    assert (plan.pool, plan.max_viewers) == (1, 4)
    assert "the other 12 wait on a page that opens by itself" in plan.reason
    assert "15 of them start a kernel of their own" in plan.reason
    # 1 GiB: room for 1 kernel; still one viewer and one preheated kernel, never zero
    assert (lambda p: (p.pool, p.max_viewers))(_voila.plan_audience(8, GiB)) == (1, 1)


def test_plan_audience_keeps_an_explicit_cap_and_copes_with_unknown_memory():
    plan = _voila.plan_audience(10, 64 * GiB, max_viewers=3)
    assert plan.max_viewers == 3 and plan.pool == 10  # room for 109 kernels: 109 - 3 - 1 >= 10
    unknown = _voila.plan_audience(10, None)  # room for 4 kernels: 2 viewers, a pool of 1
    assert (unknown.pool, unknown.max_viewers) == (1, 2) and "memory unknown" in unknown.reason


def test_waiting_page_opens_the_dashboard_by_itself_without_a_retry_button():
    page = _voila.waiting_page(8, 8, "/base/linkage/api/places")
    assert "opens by itself" in page and "8 of 8" in page and "nothing to click" in page
    assert '"/base/linkage/api/places"' in page and "window.location.reload()" in page
    assert "try again" not in page.lower() and "<button" not in page and "<a " not in page
    assert 'http-equiv="refresh" content="15"' in page  # without JavaScript: a plain reload
    for word in ("kernel", "Traceback", "503", "voila"):
        assert word.lower() not in page.lower()
    # the URL is written as a JSON string: a quote or a closing script tag cannot break out
    odd = _voila.waiting_page(1, 1, '/x"</script><script>alert(1)//')
    assert "</script><script>alert(1)" not in odd


def test_landing_page_links_both_dashboards_not_a_file_list():
    page = _voila.landing_page(["unit_explorer.ipynb", "executive.ipynb", "voila.json"], "/base/")
    assert 'href="/base/voila/render/executive.ipynb"' in page
    assert 'href="/base/voila/render/unit_explorer.ipynb"' in page
    assert page.index("Executive dashboard") < page.index("Unit explorer")
    assert 'name="unit"' in page and 'action="/base/voila/render/unit_explorer.ipynb"' in page
    assert "voila.json" not in page and "$" not in page


def test_landing_page_names_other_notebooks_and_skips_missing_dashboards():
    page = _voila.landing_page(["executive.ipynb", "board_<b>.ipynb"])
    assert "Unit explorer" not in page and 'name="unit"' not in page
    assert "board &lt;b&gt;" in page and "<b>" not in page


def test_expect_goes_to_the_server_and_is_checked_first(monkeypatch):
    from linkage.app import serve as serve_module
    from linkage.app.serve import expect_args

    assert expect_args(6) == ["--LinkageVoila.expect=6"] and expect_args(None) == []
    with pytest.raises(InputError, match="expect must be at least 1"):
        serve(expect=0, warm=False, open_browser=False)
    seen = {}

    class FakeVoila:
        def __init__(self, cmd, cwd, env):
            seen["cmd"] = cmd

        def wait(self):
            return 0

    monkeypatch.setattr(serve_module.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(serve_module.signal, "signal", lambda *a: None)
    assert serve(open_browser=False, warm=False, expect=12) == 0
    assert "--LinkageVoila.expect=12" in seen["cmd"]


def test_cli_dashboard_expect_zero_is_one_line_and_exit_2(capsys):
    assert cli_main(["dashboard", "--expect", "0", "--no-browser", "--no-warm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expect" in err[0]


def test_cli_dashboard_prints_the_start_page_and_both_dashboards(monkeypatch, capsys):
    from linkage.app import serve as serve_module

    class FakeVoila:
        def __init__(self, cmd, cwd, env):
            pass

        def wait(self):
            return 0

    monkeypatch.setattr(serve_module.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(serve_module.signal, "signal", lambda *a: None)
    assert cli_main(["dashboard", "--no-browser", "--no-warm", "--port", "9123", "--expect", "4"]) == 0
    err = capsys.readouterr().err
    assert "start page at http://127.0.0.1:9123/\n" in err
    assert "executive dashboard at http://127.0.0.1:9123/voila/render/executive.ipynb" in err
    assert "unit explorer at http://127.0.0.1:9123/voila/render/unit_explorer.ipynb?unit=ID" in err


def test_cli_dashboard_help_mentions_expect(capsys):
    with pytest.raises(SystemExit):
        cli_main(["dashboard", "--help"])
    assert "--expect N" in capsys.readouterr().out


# --- page loads in turns (PagePacer) -----------------------------------------------------------


def _run(coro):
    """Run a coroutine on an event loop of its own (in a thread: another test may have left a loop
    running in this one)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_pacer_lets_slots_pages_load_and_one_waiter_per_freed_turn():
    import asyncio

    async def crowd():
        pacer = _voila.PagePacer(slots=2, timeout=30, cpu=lambda: 1.0)  # CPUs always busy
        order = []

        async def page(i):
            token = await pacer.enter()
            pacer.bind(f"k{i}")
            order.append(i)
            pacer.leave(token, failed=False)  # served: loading until its beacon

        tasks = [asyncio.ensure_future(page(i)) for i in range(6)]
        await asyncio.sleep(0.05)
        first = (list(order), pacer.loading, len(pacer._waiters))
        pacer.loaded("k0")  # one page drawn: exactly one waiter goes on, the first in line
        await asyncio.sleep(0.05)
        second = (list(order), pacer.loading)
        for i in range(1, 6):
            pacer.loaded(f"k{i}")
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        return first, second, order, pacer.loading, pacer.waited

    first, second, order, loading, waited = _run(crowd())
    assert first == ([0, 1], 2, 4)
    assert second == ([0, 1, 2], 2)
    assert order == [0, 1, 2, 3, 4, 5] and loading == 0 and waited == 4


def test_pacer_frees_a_turn_when_the_page_fails_or_its_beacon_never_comes():
    import asyncio

    async def scenario():
        pacer = _voila.PagePacer(slots=1, timeout=0.3, tick=0.05, cpu=lambda: 1.0)
        token = await pacer.enter()
        pacer.leave(token, failed=True)  # an error page: its turn ends at once
        failed_frees = pacer.loading == 0
        token = await pacer.enter()
        pacer.leave(token, failed=False)  # served, but its browser never reports back
        waiter = asyncio.ensure_future(pacer.enter())
        await asyncio.sleep(0.1)
        still_waiting = not waiter.done()
        await asyncio.wait_for(waiter, 2)  # the timeout ends the silent page's turn
        return failed_frees, still_waiting, pacer.loaded("nobody")

    assert _run(scenario()) == (True, True, False)


def test_pacer_lets_one_more_through_while_the_cpus_sit_idle():
    import asyncio

    async def scenario(busy):
        pacer = _voila.PagePacer(slots=1, timeout=30, tick=0.02, idle_ticks=2, cpu=lambda: busy)
        await pacer.enter()
        waiters = [asyncio.ensure_future(pacer.enter()) for _ in range(3)]
        await asyncio.sleep(0.5)
        done = sum(w.done() for w in waiters)
        for w in waiters:
            w.cancel()
        return done

    assert _run(scenario(0.1)) == 3  # browsers elsewhere: the server's CPUs idle, all go on
    assert _run(scenario(0.95)) == 0  # browsers here: the CPUs are busy, the others wait


def test_pacer_without_slots_never_waits_but_still_counts_loads_for_quiet():
    async def scenario():
        pacer = _voila.PagePacer(slots=0, timeout=30, cpu=lambda: 1.0)
        for i in range(5):
            token = await pacer.enter()
            pacer.bind(f"k{i}")
            pacer.leave(token, failed=False)
        busy = (pacer.loading, pacer.quiet(0.0))
        for i in range(5):
            pacer.loaded(f"k{i}")
        return busy, pacer.quiet(0.0), pacer.quiet(60.0)

    assert _run(scenario()) == ((5, False), True, False)


def test_page_beacon_route_is_in_the_template_and_checked_for_scopes():
    template = (_voila.TEMPLATES / "voila" / "templates" / "linkage" / "index.html.j2").read_text()
    assert 'linkage/api/loaded/" + cfg.kernelId' in template
    kernel = "0b9f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
    route = _voila._KERNEL_ROUTE.search(f"/linkage/api/loaded/{kernel}")
    assert route is not None and route.group(2) == kernel  # only the kernel's owner may end its turn
