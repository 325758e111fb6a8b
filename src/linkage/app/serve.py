"""Serving the dashboards with Voila (what ``linkage dashboard`` runs).

Voila is started on the dashboards folder (only that folder is served) from inside it, so the
``voila.json`` there applies: sources stripped, no tracebacks, preheated kernels, kernel
culling. The panel reaches the kernels through ``$LINKAGE_PANEL``; the disk cache is warmed first so
the first viewer does not wait for figures to be drawn.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from linkage.app._data import PANEL_ENV, default_panel_path, load_panel
from linkage.app._events_data import EVENTS_ENV, read_events, read_relationships
from linkage.app._scopes import SCOPE_DIR_ENV, USERS_FILE, load_scopes, restrict
from linkage.errors import InputError
from linkage.io import load_mapping
from linkage.io.datasets import project_path
from linkage.pipeline import CHAIN_ENV, chain_inputs

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "dashboards_dir",
    "expect_args",
    "voila_command",
    "warm_attributes",
    "warm_cache",
    "warm_chain",
    "warm_events",
    "warm_ranges",
    "warm_units",
    "warm_scope",
    "prepare_scopes",
    "serve",
    "LOOPBACK",
]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def dashboards_dir() -> pathlib.Path:
    """The folder of dashboard notebooks and their ``voila.json``: the repository's
    ``notebooks/dashboards``, or the installed package's copy of it
    (:func:`linkage.io.datasets.project_path`).

    Raises
    ------
    InputError
        If this installation carries no dashboards.

    Examples
    --------
    >>> sorted(p.name for p in dashboards_dir().glob("*.ipynb"))
    ['executive.ipynb', 'unit_explorer.ipynb']
    """
    found = project_path("notebooks", "dashboards")
    if found is None:
        raise InputError(
            "this linkage installation carries no dashboards; pass a folder of dashboard "
            "notebooks with --notebooks"
        )
    return found


def voila_command(
    notebooks: str | os.PathLike[str],
    *,
    port: int = 8866,
    ip: str = "127.0.0.1",
    open_browser: bool = False,
    max_viewers: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line serving ``notebooks`` (run it with ``cwd=notebooks``).

    It runs Voila through :mod:`linkage.app._voila` (Voila plus a cap on concurrent viewers and the
    ``linkage`` page template with its watchdog), as a script so that the server does not import
    the ``linkage`` package; ``max_viewers`` sets the cap (default: what the machine's memory holds,
    see :func:`linkage.app._voila.default_max_viewers`).

    Examples
    --------
    >>> cmd = voila_command("dash", port=9000, max_viewers=4)
    >>> cmd[1].endswith("_voila.py"), cmd[2], "--port=9000" in cmd
    (True, 'dash', True)
    >>> "--LinkageVoila.max_viewers=4" in cmd
    True
    """
    app = pathlib.Path(__file__).with_name("_voila.py")
    cmd = [
        sys.executable,
        str(app),
        str(notebooks),
        f"--port={int(port)}",
        f"--Voila.ip={ip}",
        "--no-browser" if not open_browser else "--Voila.open_browser=True",
    ]
    if max_viewers is not None:
        cmd.append(f"--LinkageVoila.max_viewers={int(max_viewers)}")
    return [*cmd, *extra]


def expect_args(expect: int | None) -> list[str]:
    """Voila options for ``linkage dashboard --expect N``: the server sizes the executive
    dashboard's preheated pool and the viewer cap to N viewers arriving together, bounded by memory,
    and lets anyone past the cap wait on a page that opens the dashboard by itself
    (:func:`linkage.app._voila.plan_audience`; its log says what it chose and why).

    Raises
    ------
    InputError
        If ``expect`` is below 1.

    Examples
    --------
    >>> expect_args(12)
    ['--LinkageVoila.expect=12']
    >>> expect_args(None)
    []
    """
    if expect is None:
        return []
    if int(expect) < 1:
        raise InputError(f"--expect must be at least 1, got {expect}")
    return [f"--LinkageVoila.expect={int(expect)}"]


def warm_cache(panel: pathlib.Path, *, k: int = 5) -> None:
    """Draw what viewers reach first into the shared disk cache: the executive dashboard's figures
    for every value of the default attribute over the whole range, at every lag, and the unit
    explorer's first unit."""
    from linkage.app._data import Selection
    from linkage.app.executive import executive_dashboard
    from linkage.app.explorer import UnitExplorer

    dash = executive_dashboard(panel, k=k)
    sel = dash.selection()
    for value in dash.value.options:
        for lag in range(-dash.data.max_lag, dash.data.max_lag + 1):
            dash.figures(Selection(sel.attribute, value, sel.start, sel.end, lag))
    UnitExplorer(dash.data)


def plausible_ranges(n_periods: int, per_year: int = 12) -> list[tuple[int, int]]:
    """Period ranges (first, last index) a viewer most likely picks after the full range.

    One step in from either end (what a nudge of a slider handle or an arrow key gives) and the
    ranges between year boundaries (whole years counted back from the last period).

    Examples
    --------
    >>> plausible_ranges(36)
    [(0, 34), (1, 35), (24, 35), (12, 35), (12, 23), (0, 23), (0, 11)]
    """
    last = n_periods - 1
    out = [(0, last - 1), (1, last)]
    ends = list(range(last, per_year - 2, -per_year))  # year ends counted back from the last period
    starts = [e - per_year + 1 for e in ends]
    for a in starts:
        for b in ends:
            if 0 <= a < b and (a, b) not in out and (a, b) != (0, last):
                out.append((a, b))
    return out


def warm_ranges(panel: pathlib.Path, *, k: int = 5, n_boot: int = 1000) -> None:
    """Draw the executive dashboard's figures for :func:`plausible_ranges` into the shared disk
    cache.

    For every value of the default attribute: the one-step ranges at every lag, the whole-year
    ranges at the best lag. ``linkage dashboard`` runs this in its low-priority background helper
    once Voila is up, so moving a period handle one step (or to a year boundary) shows figures
    already drawn; any other range is computed when asked.
    """
    from linkage.app._data import Selection
    from linkage.app.executive import executive_dashboard

    dash = executive_dashboard(panel, k=k, n_boot=n_boot)
    d = dash.data
    per_year = {"M": 12, "Q": 4}.get(d.freq(), 1)
    ranges = plausible_ranges(len(d.periods), per_year)
    attr = dash.selection().attribute
    for i, (lo, hi) in enumerate(ranges):
        lags = range(-d.max_lag, d.max_lag + 1) if i < 2 else (d.best_lag,)
        for value in dash.value.options:
            for lag in lags:
                dash.figures(Selection(attr, value, d.periods[lo], d.periods[hi], lag))


def warm_attributes(panel: pathlib.Path, *, k: int = 5, n_boot: int = 1000) -> None:
    """Draw the executive dashboard's figures for every value of every other attribute (whole range,
    the default lag) into the shared disk cache.

    ``linkage dashboard`` runs this in its low-priority background helper after
    :func:`warm_ranges`, so switching "Split by" to another attribute (a trend grid of, say, every
    district) and picking one of its values shows figures already drawn.
    """
    from linkage.app._data import Selection
    from linkage.app.executive import executive_dashboard

    dash = executive_dashboard(panel, k=k, n_boot=n_boot)
    sel = dash.selection()
    for attr in dash.data.attributes:
        if attr == sel.attribute:
            continue
        for value in dash.value_options(attr):
            dash.figures(Selection(attr, value, sel.start, sel.end, sel.lag))


def warm_units(panel: pathlib.Path, *, k: int = 5) -> None:
    """Draw every unit's explorer figures (own peers) into the shared disk cache.

    ``linkage dashboard`` runs this in a background process at low priority once Voila is up, so
    after a minute or two picking any unit shows figures already drawn.
    """
    from linkage.app._data import DashboardData
    from linkage.app.explorer import UnitExplorer

    data = DashboardData(load_panel(panel), k=k)
    explorer = UnitExplorer(data)
    for unit in data.units:
        explorer.unit.value = unit


def warm_chain(panel: pathlib.Path, *, k: int = 5) -> None:
    """Compute the executive dashboard's section "The whole chain" into the shared disk cache.

    ``linkage dashboard`` runs this first in its low-priority background helper, so the first viewer
    who opens the section reads it from the cache instead of waiting for the chain's statistics.
    The chain's files come from :data:`linkage.pipeline.CHAIN_ENV` as in the dashboard.
    """
    from linkage.app.executive import executive_dashboard

    executive_dashboard(panel, k=k).chain_view.compute()


def warm_events(panel: pathlib.Path, *, k: int = 5) -> None:
    """Compute the executive dashboard's section "When someone leaves" into the shared disk cache
    (the files of :data:`linkage.app.EVENTS_ENV`, or the sample's, as in the dashboard), so the
    first viewer who opens it reads it from the cache."""
    from linkage.app.executive import executive_dashboard

    executive_dashboard(panel, k=k).events_view.compute()


def warm_scope(frame: pd.DataFrame, *, k: int = 5) -> None:
    """Draw a scope's first figures into the shared disk cache: the executive dashboard and the
    unit explorer's first unit on ``frame`` (the panel restricted to the scope, as a scoped
    kernel restricts it), so a scoped viewer's first page is not drawn while they wait."""
    from linkage.app._data import DashboardData
    from linkage.app.executive import ExecutiveDashboard
    from linkage.app.explorer import UnitExplorer

    data = DashboardData(frame, k=k)
    data.precompute()
    ExecutiveDashboard(data)
    UnitExplorer(data)


def prepare_scopes(
    scopes: str | os.PathLike[str],
    frame: pd.DataFrame,
    *,
    user_header: str = "X-Forwarded-User",
    ip: str = "127.0.0.1",
) -> tuple[pathlib.Path, list[str]]:
    """Check a scopes file against the panel and write what the server and its kernels read.

    Returns the private folder (mode 0700) holding ``users.json`` (the resolved scopes; the kernels'
    scope files go there too: name it in :data:`linkage.app._scopes.SCOPE_DIR_ENV`) and the Voila
    options naming the header. The caller removes the folder.

    Raises
    ------
    InputError
        A bad scopes file (naming the file and entry), a header name that is not one, or an
        address other than this machine's loopback (anyone reaching the server directly could name
        anyone in the header).
    """
    if ip not in LOOPBACK:
        raise InputError(
            f"with --scopes the dashboard must listen on 127.0.0.1 (not {ip}) behind the proxy "
            "that authenticates people: anyone reaching it directly could name anyone in the header"
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", user_header or ""):
        raise InputError(f"--user-header must be an HTTP header name, got {user_header!r}")
    resolved = load_scopes(scopes, frame)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="linkage-scopes-"))
    users = {u: s.to_json()["scope"] for u, s in resolved.items()}
    (folder / USERS_FILE).write_text(json.dumps(users), encoding="utf-8")
    return folder, [f"--LinkageVoila.user_header={user_header}"]


def _background_warm(
    panel: pathlib.Path, env: dict[str, str] | None = None
) -> subprocess.Popen | None:
    code = (
        "import pathlib, sys; from linkage.app.serve import warm_attributes, warm_chain, "
        "warm_events, warm_ranges, warm_units; p = pathlib.Path(sys.argv[1]); warm_chain(p); "
        "warm_events(p); warm_ranges(p); warm_attributes(p); warm_units(p)"
    )
    try:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(panel)],
            env=env,
            preexec_fn=(lambda: os.nice(10)) if hasattr(os, "nice") else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def serve(
    panel: str | os.PathLike[str] | None = None,
    *,
    port: int = 8866,
    ip: str = "127.0.0.1",
    open_browser: bool = True,
    notebooks: str | os.PathLike[str] | None = None,
    warm: bool = True,
    max_viewers: int | None = None,
    chain_files: dict[str, str | os.PathLike[str]] | None = None,
    expect: int | None = None,
    scopes: str | os.PathLike[str] | None = None,
    user_header: str | None = None,
    events: str | os.PathLike[str] | None = None,
    relationships: str | os.PathLike[str] | None = None,
) -> int:
    """Serve the dashboards on ``panel`` until interrupted; returns Voila's exit status.

    ``chain_files`` names the files of the section "The whole chain" for a panel without the
    chain's columns: keys ``employee_survey``, ``customer_survey``, ``revenue``, and ``mapping``
    (a YAML column mapping as for ``linkage panel --map``: the files are read with its sections
    and dates) (:data:`linkage.pipeline.CHAIN_ENV`); the kernels find them in their environment.
    They are read once here (:func:`linkage.pipeline.chain_inputs`), so a bad file or mapping
    stops before any kernel starts.

    ``max_viewers`` caps the pages open at once (each holds a kernel of a few hundred MB); a viewer
    past it gets HTTP 503 and "The dashboard is busy, please try again in a minute". Default:
    ``$LINKAGE_MAX_VIEWERS``, else what the machine's memory holds, at most 8
    (:func:`linkage.app._voila.default_max_viewers`).

    ``expect`` is the audience to prepare for (:func:`expect_args`): that many viewers arriving
    together find preheated kernels and a place, as far as memory allows; the others wait on a
    page that opens the dashboard by itself. ``max_viewers``, when given, stays the cap.

    ``events`` (an event table as ``linkage panel --events-out`` writes it) and
    ``relationships`` (the ``--json`` output of ``linkage relationships``) feed the executive
    dashboard's section "When someone leaves" (:mod:`linkage.app.events_view`); they are read
    here first (:func:`linkage.app._events_data.read_events`, :func:`~.read_relationships`), so a
    bad file stops before any kernel starts, and reach the kernels through
    :data:`linkage.app.EVENTS_ENV`.

    The server root shows a landing page linking both dashboards.

    ``scopes`` (a YAML file, :func:`linkage.app._scopes.load_scopes`) shows each person only the
    units of their scope, the person named by the authenticating proxy in the request header
    ``user_header`` (default ``X-Forwarded-User``); a request without a listed person gets HTTP 403
    and starts no kernel (:mod:`linkage.app._scopes`, :class:`linkage.app._voila.ViewerScopes`).

    Raises
    ------
    InputError
        Unreadable panel, a missing notebooks folder, a bad port, ``expect`` or ``max_viewers``
        below 1, a chain file or mapping that cannot be read or joined to the panel, a bad scopes
        file, ``user_header`` without ``scopes``, ``scopes`` on an address other than loopback,
        an event table or relationship finding that cannot be read.
    """
    path = (default_panel_path() if panel is None else pathlib.Path(panel)).expanduser().resolve()
    frame = load_panel(path)  # fail early, with the file and row, before any kernel starts
    folder = dashboards_dir() if notebooks is None else pathlib.Path(notebooks)
    folder = folder.resolve()
    if not (folder / "executive.ipynb").is_file():
        raise InputError(
            "no executive.ipynb here: pass a folder of dashboard notebooks (a checkout's "
            "notebooks/dashboards) with --notebooks",
            file=str(folder),
        )
    if not 0 < int(port) < 65536:
        raise InputError(f"port must be between 1 and 65535, got {port}")
    if max_viewers is not None and int(max_viewers) < 1:
        raise InputError(f"--max-viewers must be at least 1, got {max_viewers}")
    audience = expect_args(expect)
    chain_env = {}
    for name, file in (chain_files or {}).items():
        if file is None:
            continue
        if name not in CHAIN_ENV:
            raise InputError(f"unknown chain file kind {name!r} (one of {', '.join(CHAIN_ENV)})")
        where = pathlib.Path(file).expanduser().resolve()
        if not where.is_file():
            raise InputError("file not found", file=str(file))
        chain_env[CHAIN_ENV[name]] = str(where)
    if chain_env:  # read the chain's files as the kernels will: a bad one stops here, in one line
        if CHAIN_ENV["mapping"] in chain_env:  # even with no file to read it for
            load_mapping(chain_env[CHAIN_ENV["mapping"]])
        known = {v: os.environ[v] for v in CHAIN_ENV.values() if os.environ.get(v)}
        chain_inputs(frame, env={**known, **chain_env})
    events_env = {}
    if events is not None:  # read as the kernels will: a bad file stops here, in one line
        read_events(events)
        events_env[EVENTS_ENV["events"]] = str(pathlib.Path(events).expanduser().resolve())
    if relationships is not None:
        read_relationships(relationships)
        where = pathlib.Path(relationships).expanduser().resolve()
        events_env[EVENTS_ENV["relationships"]] = str(where)
    if user_header is not None and scopes is None:
        raise InputError("--user-header needs --scopes (the file saying who sees which units)")
    scope_dir, scope_args = (
        prepare_scopes(scopes, frame, user_header=user_header or "X-Forwarded-User", ip=ip)
        if scopes is not None
        else (None, [])
    )
    if ip not in LOOPBACK:
        print(
            f"linkage dashboard: warning: serving on {ip} without authentication; anyone who can "
            "reach this address sees the dashboards. Put it behind your organisation's "
            "authentication (see README).",
            file=sys.stderr,
        )
    if warm:
        print("linkage dashboard: preparing figures...", file=sys.stderr)
        warm_cache(path)
        if scopes is not None:  # each distinct scope's first page
            for scope in {repr(s.allowed): s for s in load_scopes(scopes).values()}.values():
                if scope.allowed is not None:
                    warm_scope(restrict(frame, scope))
    env = {k: v for k, v in os.environ.items() if k not in EVENTS_ENV.values()}
    env = {**env, PANEL_ENV: str(path), **chain_env, **events_env}  # only the flags name them
    env.pop(SCOPE_DIR_ENV, None)  # only --scopes scopes the server, never a stray variable
    if scope_dir is not None:
        env[SCOPE_DIR_ENV] = str(scope_dir)
    cmd = voila_command(
        folder,
        port=port,
        ip=ip,
        open_browser=open_browser,
        max_viewers=max_viewers,
        extra=[*audience, *scope_args],
    )
    proc = subprocess.Popen(cmd, cwd=folder, env=env)
    host = "127.0.0.1" if ip in LOOPBACK else ip
    print(
        f"linkage dashboard: start page at http://{host}:{int(port)}/\n"
        f"linkage dashboard: executive dashboard at http://{host}:{int(port)}/voila/render/executive.ipynb\n"
        f"linkage dashboard: unit explorer at http://{host}:{int(port)}/voila/render/unit_explorer.ipynb"
        "?unit=ID\nlinkage dashboard: press Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    unscoped = {k: v for k, v in env.items() if k != SCOPE_DIR_ENV}  # the helper has no viewer
    helper = _background_warm(path, unscoped) if warm else None

    def _stop(
        signum: int, frame: FrameType | None
    ) -> None:  # a service manager's SIGTERM stops Voila and the helper too
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread
        pass
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        if helper is not None and helper.poll() is None:
            helper.terminate()
        if scope_dir is not None:
            shutil.rmtree(scope_dir, ignore_errors=True)
