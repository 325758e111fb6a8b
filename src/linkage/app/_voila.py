"""The Voila application ``linkage dashboard`` runs: Voila 0.5, a cap on viewers, a page watchdog.

Run as ``python .../linkage/app/_voila.py DIR --port=P`` (what
:func:`linkage.app.serve.voila_command` builds); every Voila option and the ``voila.json`` of the
folder it starts from apply as usual. It is run as a script, not with ``-m``, so the server
process imports Voila only, not the ``linkage`` package (pandas, the statistics...): less memory
(measured figures: benchmarks/README.md) and no dependency on the other layers.
On top of Voila:

- **A cap on viewers.** Voila starts one kernel (a Python process of a few hundred MB) per page
  load. :class:`LinkageVoila` counts the kernels that serve viewers (the preheated pool is not
  counted) and answers a page request past ``LinkageVoila.max_viewers`` with a small HTML page, HTTP
  503 and ``Retry-After``, before any kernel is started: "The dashboard is busy, please try again in
  a minute". A slot frees when a viewer's tab closes (the page's shutdown beacon) or when kernel
  culling (``voila.json``) shuts an abandoned kernel down.
- **The ``linkage`` page template** (``share/voila/templates/linkage``, chosen in ``voila.json``):
  Voila's ``lab`` template plus a watchdog script in the page head. A page that makes no progress
  before its widgets show (12 s with its kernel idle, 72 s unless its kernel is busy or starting,
  6 minutes whatever the kernel says; the URL parameter ``?linkage_watchdog=S`` changes the 12,
  0 turns it off) shuts its kernel down and reloads itself, once.

- **A front door.** The server root (and ``/voila/tree``) shows a landing page linking the
  dashboards of the folder (``share/linkage/landing.html``) instead of Voila's file list.
- **An expected audience** (``LinkageVoila.expect``, what ``linkage dashboard --expect N`` sets):
  the preheated pool of ``LinkageVoila.expect_notebook`` holds up to N kernels and the cap admits
  up to N viewers, both bounded by memory (:func:`plan_audience`; the log says what was chosen
  and why), and anyone past the cap gets a waiting page that opens the dashboard by itself once
  a place frees (:func:`waiting_page`) instead of the busy page.
- **Each viewer their own units** (``linkage dashboard --scopes``, :class:`ViewerScopes`): with
  ``$LINKAGE_SCOPE_DIR`` set, every request must carry ``LinkageVoila.user_header`` naming a person
  of the scopes the server resolved (``users.json`` there); anyone else gets 403 before any kernel
  starts. The kernel a page request gets is bound to that person: their scope is written to
  ``<kernel id>.json`` in that folder (the kernel waits for it before reading the panel), and only
  that person's requests reach the kernel's websocket and shutdown routes.

The default cap is :func:`default_max_viewers`: ``$LINKAGE_MAX_VIEWERS`` when set, else what the
machine's available memory holds.
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a script: keep this file's folder off the import path
    import os as _os
    import sys as _sys

    _here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]

import asyncio
import contextvars
import html
import json
import logging
import os
import pathlib
import re
import sys
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from traitlets import Bool, Float, Int, Unicode, default
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

__all__ = [
    "LinkageVoila",
    "ViewerGate",
    "PagePacer",
    "default_max_viewers",
    "busy_page",
    "waiting_page",
    "landing_page",
    "plan_audience",
    "AudiencePlan",
    "TEMPLATES",
    "main",
    "MAX_VIEWERS_ENV",
    "VIEWER_MB",
    "SCOPE_DIR_ENV",
    "ViewerScopes",
    "refused_page",
]

MAX_VIEWERS_ENV = "LINKAGE_MAX_VIEWERS"
#: Memory one viewer of the executive dashboard costs: a kernel's measured resident memory on the
#: sample panel, rounded up for headroom (measured figures: benchmarks/README.md,
#: ``dashboard_concurrency.py``).
VIEWER_MB = 300
#: The most viewers the default admits whatever the memory: the kernels share the CPU. On two
#: (shared) cores, 8 viewers arriving at the same moment all got a working page, but slowly; more
#: would only queue longer (measured figures: benchmarks/README.md, ``dashboard_concurrency.py``).
DEFAULT_CEILING = 8
#: Root of the Jupyter data folder holding the ``linkage`` Voila template.
TEMPLATES = pathlib.Path(__file__).resolve().parent / "share"


def _available_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def default_max_viewers(
    available: int | None = None, *, per_viewer_mb: int = VIEWER_MB, ceiling: int = DEFAULT_CEILING
) -> int:
    """How many viewers to admit at once: ``$LINKAGE_MAX_VIEWERS``, else what memory holds.

    Half of the available memory (``available`` bytes; default: the machine's, from psutil or
    ``/proc/meminfo``) divided by ``per_viewer_mb``, at least 1 and at most ``ceiling``; 4 when the
    memory cannot be read.

    Examples
    --------
    >>> default_max_viewers(2 * 1024**3, ceiling=8)   # 1 GiB for viewers of 300 MB
    3
    >>> default_max_viewers(64 * 1024**3, ceiling=8)  # memory is not the limit: the CPU is
    8
    >>> default_max_viewers(10 * 1024**2)
    1
    """
    env = os.environ.get(MAX_VIEWERS_ENV, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value >= 1:
            return value
        print(
            f"linkage: ignoring {MAX_VIEWERS_ENV}={env!r} (not a whole number >= 1)",
            file=sys.stderr,
        )
    if available is None:
        available = _available_bytes()
    if available is None:
        return min(4, ceiling)
    return max(1, min(ceiling, int(available // 2 // (per_viewer_mb * 1024**2))))


def busy_page(retry_after: int = 60) -> str:
    """The HTML a viewer past the cap gets (with HTTP 503): plain words, a retry, no internals.

    Examples
    --------
    >>> "busy, please try again in a minute" in busy_page()
    True
    """
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{int(retry_after)}">
<title>Dashboard busy</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em;
color:#222}}
h1{{font-size:1.4em}} a{{color:#1f5fa8}}</style></head>
<body><h1 class="linkage-busy">The dashboard is busy, please try again in a minute.</h1>
<p>Too many people have it open right now. This page tries again by itself in
{int(retry_after)} seconds, or <a href="">try again now</a>.</p></body></html>"""


def waiting_page(viewers: int, max_viewers: int, places_url: str) -> str:
    """The HTML a viewer past the cap gets when an audience is expected (with HTTP 503): it says
    how full the dashboard is, asks ``places_url`` every few seconds whether a place is free, and
    then loads the dashboard by itself (no "try again" by hand; without JavaScript it reloads
    every 15 seconds).

    Examples
    --------
    >>> page = waiting_page(8, 8, "/linkage/api/places")
    >>> "opens by itself" in page and "8 of 8" in page and "/linkage/api/places" in page
    True
    """
    url = json.dumps(str(places_url)).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="15"></noscript>
<title>Waiting for a place on the dashboard</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em;
color:#222}} h1{{font-size:1.4em}}</style></head>
<body><h1 class="linkage-waiting">The dashboard is full: it opens by itself as soon as a place
frees.</h1>
<p id="linkage-places" role="status" aria-live="polite">{int(viewers)} of {int(max_viewers)}
places are taken. Keep this page open: there is nothing to click.</p>
<p>A place frees when someone closes their dashboard tab.
Waiting for <span id="linkage-waited">0</span> seconds.</p>
<script>
(function () {{
  var url = {url}, start = Date.now(), going = false;
  function ask() {{
    document.getElementById("linkage-waited").textContent = Math.round((Date.now() - start) / 1000);
    fetch(url, {{credentials: "same-origin", cache: "no-store"}})
      .then(function (r) {{ return r.json(); }})
      .then(function (p) {{
        document.getElementById("linkage-places").textContent = p.taken + " of " + p.places +
          " places are taken. Keep this page open: there is nothing to click.";
        if (p.free && !going) {{
          going = true;  // a short random pause: waiters do not all ask for one place at once
          setTimeout(function () {{ window.location.reload(); }}, Math.random() * 1500);
        }} else {{ setTimeout(ask, 3000); }}
      }}, function () {{ setTimeout(ask, 5000); }});
  }}
  setTimeout(ask, 2000);
}})();
</script></body></html>"""


#: The dashboards the landing page names, in its order: file, title, what it shows.
DASHBOARDS = (
    (
        "executive.ipynb",
        "Executive dashboard",
        "Staff and customer retention across the business: the headline figures, the trends by "
        "group, and how far one leads the other.",
    ),
    (
        "unit_explorer.ipynb",
        "Unit explorer",
        "One unit's staff and customer retention against its peers, and where it stands.",
    ),
)
#: The landing page template (``string.Template``: ``$title``, ``$items``).
LANDING = TEMPLATES / "linkage" / "landing.html"


def landing_page(notebooks: list[str], base_url: str = "/") -> str:
    """The server root's page: a link to each dashboard among ``notebooks`` (file names of the
    served folder), the known ones first with a line on what they show, and a unit picker for the
    unit explorer.

    Examples
    --------
    >>> page = landing_page(["unit_explorer.ipynb", "executive.ipynb"])
    >>> 'href="/voila/render/executive.ipynb"' in page, "Unit explorer" in page
    (True, True)
    >>> page.index("Executive dashboard") < page.index("Unit explorer")
    True
    """
    import string

    render = base_url.rstrip("/") + "/voila/render/"
    items = []
    known = {name for name, _, _ in DASHBOARDS}
    for name, title, what in DASHBOARDS:
        if name not in notebooks:
            continue
        href = html.escape(render + name, quote=True)
        item = f'<li><a href="{href}">{html.escape(title)}</a><p>{html.escape(what)}</p>'
        if name == "unit_explorer.ipynb":
            item += (
                f'<form action="{href}" method="get"><label for="linkage-unit">Open it on unit'
                '</label> <input id="linkage-unit" name="unit" size="12" autocomplete="off"> '
                '<button type="submit">Open</button></form>'
            )
        items.append(item + "</li>")
    for name in sorted(n for n in notebooks if n.endswith(".ipynb") and n not in known):
        title = name.removesuffix(".ipynb").replace("_", " ")
        href = html.escape(render + name, quote=True)
        items.append(f'<li><a href="{href}">{html.escape(title)}</a></li>')
    return string.Template(LANDING.read_text(encoding="utf-8")).substitute(
        title="Staff and customer retention", items="\n".join(items)
    )


@dataclass(frozen=True)
class AudiencePlan:
    """What :func:`plan_audience` chose: kernels to keep preheated, viewers to admit, and why."""

    pool: int
    max_viewers: int
    reason: str


def plan_audience(
    expect: int,
    available: int | None = None,
    *,
    per_kernel_mb: int = VIEWER_MB,
    max_viewers: int | None = None,
) -> AudiencePlan:
    """Size the preheated pool and the cap for ``expect`` viewers arriving together.

    Half of the available memory (``available`` bytes; default: the machine's) holds
    ``room`` kernels of ``per_kernel_mb``. Every expected viewer is admitted while the room
    allows, keeping one kernel for the other dashboard's pool and one for this one's
    (``max_viewers``, when given, is the cap instead); the pool then takes what is left, up to
    ``expect``: at the peak the admitted viewers hold their kernels while the pool refills.
    Unknown memory counts as room for 4 kernels.

    Examples
    --------
    >>> plan = plan_audience(8, 24 * 1024**3)      # memory is not the limit
    >>> plan.pool, plan.max_viewers
    (8, 8)
    >>> plan = plan_audience(16, 4 * 1024**3)      # room for 6 kernels: 4 viewers, a pool of 1
    >>> plan.pool, plan.max_viewers
    (1, 4)
    >>> "wait on a page" in plan.reason
    True
    >>> plan_audience(8, 24 * 1024**3, max_viewers=2).max_viewers
    2
    """
    expect = max(1, int(expect))
    if available is None:
        room, memory = 4, "memory unknown, counted as room for 4 kernels"
    else:
        room = int(available // 2 // (per_kernel_mb * 1024**2))
        memory = (
            f"{available / 1024**2:.0f} MB available, half of it holds {room} kernels of about "
            f"{per_kernel_mb} MB"
        )
    viewers = int(max_viewers) if max_viewers else min(expect, max(1, room - 2))
    pool = max(1, min(expect, room - viewers - 1))
    reason = (
        f"expecting {expect} viewers at once: {memory}; preheating {pool} kernel(s) and "
        f"admitting up to {viewers} viewers at once"
    )
    if viewers < expect:
        reason += f"; the other {expect - viewers} wait on a page that opens by itself"
    if pool < expect:
        reason += f"; {expect - pool} of them start a kernel of their own (slower)"
    return AudiencePlan(pool=pool, max_viewers=viewers, reason=reason)


@dataclass
class _Admission:
    kernel_id: str | None = None


_ADMISSION: contextvars.ContextVar[_Admission | None] = contextvars.ContextVar(
    "linkage_admission", default=None
)


class ViewerGate:
    """Counts the kernels serving viewers and the page requests on their way to one.

    A page request is admitted (:meth:`admit`) while ``live + pending < max_viewers``; the kernel it
    gets (a preheated one, or one started for it) is recorded by :meth:`claimed` through a context
    variable set for that request, so the pool's own kernels are never counted. Kernels that are no
    longer in the kernel manager (shut down by the page's beacon or by culling) drop out.

    Examples
    --------
    >>> gate = ViewerGate(kernels=lambda: {"k1"}, max_viewers=2)
    >>> a = gate.admit(); gate.claimed("k1"); gate.release(a)
    >>> gate.count(), gate.full()
    (1, False)
    >>> b = gate.admit(); gate.full()      # a second request on its way fills the cap
    True
    >>> gate.release(b); gate.full()       # it failed before getting a kernel: the slot frees
    False
    """

    def __init__(self, *, kernels: Callable[[], Container[str]], max_viewers: int) -> None:
        self._kernels = kernels  # () -> container of live kernel ids
        self.max_viewers = int(max_viewers)
        self.viewers: set[str] = set()
        self.pending = 0
        self.refused = 0

    def count(self) -> int:
        """Viewers holding a live kernel plus admitted requests still waiting for one."""
        live = self._kernels()
        self.viewers = {k for k in self.viewers if k in live}
        return len(self.viewers) + self.pending

    def full(self) -> bool:
        return self.count() >= self.max_viewers

    def admit(self) -> contextvars.Token:
        self.pending += 1
        return _ADMISSION.set(_Admission())

    def claimed(self, kernel_id: str) -> None:
        admission = _ADMISSION.get()
        if admission is None or admission.kernel_id is not None:
            return  # not a page request (a pool refill), or its kernel is already counted
        admission.kernel_id = kernel_id
        self.pending -= 1
        self.viewers.add(kernel_id)

    def release(self, token: contextvars.Token) -> None:
        admission = _ADMISSION.get()
        if admission is not None and admission.kernel_id is None:
            self.pending -= 1
        _ADMISSION.reset(token)


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot, from ``/proc/stat``; None
    elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


@dataclass
class _Load:
    kernel_id: str | None = None
    started: float = 0.0
    waited: bool = False


_LOAD: contextvars.ContextVar[_Load | None] = contextvars.ContextVar("linkage_load", default=None)


class PagePacer:
    """Lets page loads through to the CPU a few at a time, and tells the pool when all is quiet.

    A page is *loading* from the moment its request is let through until its browser reports its
    widgets drawn (:meth:`loaded`, the page's beacon), its request fails, or ``timeout`` seconds
    pass. A request waits (first come, first served) while ``slots`` pages are loading, unless
    the machine's CPUs were less than ``idle_below`` busy over the last ``idle_ticks`` ticks of
    ``tick`` seconds (a whole CPU idle for a second, by default): then one more request goes
    through. Eight viewers whose browsers share the server's CPUs (a
    meeting room, a test) then get their pages one or two at a time, each in a fraction of the time
    all eight would take together, instead of all eight at the end; viewers whose browsers are
    elsewhere leave the CPUs idle while their browsers work, and are let through at once.
    ``slots`` 0 turns the waiting off (loads are still counted, for :meth:`quiet`).

    Examples
    --------
    >>> import asyncio
    >>> async def demo():
    ...     pacer = PagePacer(slots=1, timeout=5, cpu=lambda: 1.0)
    ...     first = await pacer.enter(); pacer.bind("k1")
    ...     second = asyncio.ensure_future(pacer.enter())
    ...     await asyncio.sleep(0.05)
    ...     waiting = not second.done()
    ...     pacer.loaded("k1")                      # the first page is drawn: the second goes
    ...     await asyncio.wait_for(second, 1)
    ...     return waiting, pacer.loading
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(1) as pool:  # an event loop of its own, whatever runs here
    ...     pool.submit(asyncio.run, demo()).result()
    (True, 1)
    """

    def __init__(
        self,
        *,
        slots: int,
        timeout: float = 10.0,
        tick: float = 0.5,
        idle_below: float = 0.5,
        idle_ticks: int = 2,
        cpu: Callable[[], float | None] | None = None,
    ) -> None:
        self.slots = int(slots)
        self.timeout = float(timeout)
        self.tick = float(tick)
        self.idle_below = float(idle_below)
        self.idle_ticks = int(idle_ticks)
        self._cpu = cpu if cpu is not None else self._machine_busy
        self._ticks = _cpu_ticks()
        self._loads: list[_Load] = []
        self._waiters: list[Any] = []  # futures, first come first served
        self._task: Any = None
        self.last_busy = 0.0  # loop time of the last page let through or finished
        self.let_through = 0
        self.waited = 0

    # ---- the machine -----------------------------------------------------------------------
    def _machine_busy(self) -> float | None:
        """Share of the machine's CPU time busy since the last call (None: unknown)."""
        now = _cpu_ticks()
        before, self._ticks = self._ticks, now
        if now is None or before is None or now[1] <= before[1]:
            return None
        return (now[0] - before[0]) / (now[1] - before[1])

    # ---- loads -----------------------------------------------------------------------------
    @property
    def loading(self) -> int:
        self._expire()
        return len(self._loads)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _expire(self) -> None:
        if not self._loads:
            return
        now = self._now()
        kept = [x for x in self._loads if now - x.started < self.timeout]
        if len(kept) != len(self._loads):
            self._loads = kept
            self.last_busy = now

    def _start(self) -> _Load:
        load = _Load(started=self._now())
        self._loads.append(load)
        self.last_busy = load.started
        self.let_through += 1
        return load

    async def enter(self) -> contextvars.Token:
        """Wait for a turn (at once while fewer than ``slots`` pages load); the page is then
        loading, for this request's context."""
        if self.slots > 0 and (self._waiters or self.loading >= self.slots):
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            self.waited += 1
            self._ensure_ticking()
            try:
                load = await future
                load.waited = True
            except BaseException:
                if future in self._waiters:
                    self._waiters.remove(future)
                elif future.done() and not future.cancelled():
                    self._finish(future.result())  # a turn it was given and will not use
                raise
        else:
            load = self._start()
        return _LOAD.set(load)

    @staticmethod
    def waited_for_turn() -> bool:
        """Whether this request's page had to wait for its turn."""
        load = _LOAD.get()
        return load is not None and load.waited

    def bind(self, kernel_id: str) -> None:
        """The loading page of this request got ``kernel_id`` (its beacon names it)."""
        load = _LOAD.get()
        if load is not None and load.kernel_id is None:
            load.kernel_id = kernel_id

    def loaded(self, kernel_id: str) -> bool:
        """The page of ``kernel_id`` reports its widgets drawn: its turn ends."""
        for load in self._loads:
            if load.kernel_id == kernel_id:
                self._finish(load)
                return True
        return False

    def leave(self, token: contextvars.Token, *, failed: bool) -> None:
        """End of the request: a failed page stops loading at once; a served one loads on until
        its beacon or the timeout."""
        load = _LOAD.get()
        if failed and load is not None and load in self._loads:
            self._finish(load)
        _LOAD.reset(token)

    def _finish(self, load: _Load) -> None:
        if load in self._loads:
            self._loads.remove(load)
        self.last_busy = self._now()
        self._hand_on()

    def _hand_on(self) -> None:
        """Give the freed turns to the first waiters."""
        while self._waiters and self.loading < self.slots:
            self._release_one()

    def _release_one(self) -> None:
        """The first waiter's turn: counted as loading from now (so one freed turn lets exactly
        one waiter through, whenever its request resumes)."""
        future = self._waiters.pop(0)
        if not future.done():
            future.set_result(self._start())

    def _ensure_ticking(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._ticking())

    async def _ticking(self) -> None:
        """While anyone waits: every ``tick``, turns freed by timeouts go on, and one more
        request goes through if the CPUs were idle enough."""
        self._cpu()  # start a fresh measurement window
        idle = 0
        while self._waiters:
            await asyncio.sleep(self.tick)
            self._hand_on()
            busy = self._cpu()
            idle = idle + 1 if busy is not None and busy < self.idle_below else 0
            if self._waiters and idle >= self.idle_ticks:
                self._release_one()
                idle = 0

    def quiet(self, settle: float = 3.0) -> bool:
        """No page loading or waiting, and none for ``settle`` seconds."""
        return not self._waiters and self.loading == 0 and self._now() - self.last_busy >= settle


#: Environment variable naming the folder of the resolved scopes (``users.json``) and of the
#: kernels' scope files; the same name as ``linkage.app._scopes.SCOPE_DIR_ENV`` (this script does
#: not import ``linkage``; a test checks they agree).
SCOPE_DIR_ENV = "LINKAGE_SCOPE_DIR"
_USERS_FILE = "users.json"
_LOOPBACK_IPS = ("127.0.0.1", "::1")
#: Routes that act on one kernel (its websocket, shutdown, execution, a preheated kernel's wait).
_KERNEL_ROUTE = re.compile(
    r"/(api/kernels|voila/api/shutdown|voila/execution|voila/query|linkage/api/loaded)/"
    r"(\w+-\w+-\w+-\w+-\w+)(?:/|$)"
)


def refused_page() -> str:
    """The HTML a request without a known person gets (with HTTP 403): no internals.

    Examples
    --------
    >>> "not allowed" in refused_page()
    True
    """
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Not allowed</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em">
<h1 class="linkage-refused" style="font-size:1.4em">You are not allowed to see this dashboard.</h1>
<p>Ask whoever runs it to add you to its list of viewers.</p></body></html>"""


@dataclass
class _Viewer:
    user: str
    kernel_id: str | None = None


_VIEWER: contextvars.ContextVar[_Viewer | None] = contextvars.ContextVar(
    "linkage_viewer", default=None
)


class ViewerScopes:
    """Who may see what, resolved from a request header, and the kernels bound to each person.

    ``folder`` holds ``users.json`` (person -> None for every unit, or unit attribute -> allowed
    values), written by ``linkage dashboard --scopes`` from the scopes file it has checked. A
    request is refused (:meth:`refusal`) unless ``header`` names a person listed there; a request
    on one kernel's route (websocket, shutdown) also unless that kernel was claimed by the same
    person.
    The route a preheated kernel opens to wait for its request is answered only for a connection
    from this machine without the header (a kernel, not a viewer through the proxy). When a page
    request gets its kernel, :meth:`claimed` writes the person's scope to ``<kernel id>.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "users.json").write_text('{"alice": {"region": ["North"]}, "bob": null}')
    >>> scopes = ViewerScopes(folder, "X-Forwarded-User", kernels=lambda: set())
    >>> scopes.refusal("/voila/render/executive.ipynb", {"X-Forwarded-User": "carol"}, "127.0.0.1")
    'unknown person'
    >>> scopes.refusal("/voila/render/executive.ipynb", {"X-Forwarded-User": "alice"}, "127.0.0.1")
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        header: str,
        *,
        kernels: Callable[[], Container[str]],
    ) -> None:
        self.folder = pathlib.Path(folder)
        users = json.loads((self.folder / _USERS_FILE).read_text(encoding="utf-8"))
        if not isinstance(users, dict) or not users or not header:
            raise ValueError(f"no viewers in {self.folder / _USERS_FILE} or no user header")
        self.scopes: dict[str, Any] = users
        self.header = header
        self.owners: dict[str, str] = {}
        self.refused = 0
        self._kernels = kernels
        self.log = logging.getLogger("linkage.scopes")

    def user(self, headers: Any) -> str | None:
        """The listed person the request's header names, else None."""
        name = headers.get(self.header)
        return name if isinstance(name, str) and name in self.scopes else None

    def refusal(self, path: str, headers: Any, remote_ip: str | None) -> str | None:
        """Why a request is refused (None: allowed; the person is then remembered for the
        request, so that the kernel it gets is bound to them)."""
        route = _KERNEL_ROUTE.search(path)
        if route is not None and route.group(1) == "voila/query":
            if headers.get(self.header) is None and remote_ip in _LOOPBACK_IPS:
                return None
            return "a kernel's own route"
        user = self.user(headers)
        if user is None:
            return "no person" if headers.get(self.header) is None else "unknown person"
        if route is not None and self.owners.get(route.group(2)) != user:
            return "another person's kernel"
        _VIEWER.set(_Viewer(user))
        return None

    def claimed(self, kernel_id: str) -> None:
        """Bind the kernel a page request got to the request's person and write their scope."""
        viewer = _VIEWER.get()
        if viewer is None or viewer.kernel_id is not None:
            return  # not a page request, or its kernel is already bound
        owner = self.owners.get(kernel_id)
        if owner is not None and owner != viewer.user:
            raise RuntimeError("a kernel bound to one person was handed to another")
        viewer.kernel_id = kernel_id
        self.owners[kernel_id] = viewer.user
        body = json.dumps({"user": viewer.user, "scope": self.scopes[viewer.user]})
        target = self.folder / f"{kernel_id}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, target)  # the kernel never reads half a file
        self._prune()

    def _prune(self) -> None:
        live = self._kernels()
        for kernel_id in [k for k in self.owners if k not in live]:
            del self.owners[kernel_id]
            (self.folder / f"{kernel_id}.json").unlink(missing_ok=True)


class _ScopeCheck(tornado.web.RequestHandler):
    """Put in front of every handler of a scoped server: refuse (403) before the handler runs."""

    def prepare(self, *args: Any, **kwargs: Any) -> Any:
        handler = self
        scopes: ViewerScopes | None = handler.settings.get("linkage_scopes")
        if scopes is not None:
            request = handler.request
            why = scopes.refusal(request.path, request.headers, request.remote_ip)
            if why is not None:
                scopes.refused += 1
                scopes.log.warning(
                    "linkage: refused %s %s: %s (%d refused so far)",
                    request.method,
                    request.path,
                    why,
                    scopes.refused,
                )
                handler.set_status(403)
                handler.set_header("Content-Type", "text/html; charset=UTF-8")
                handler.set_header("Cache-Control", "no-store")
                handler.finish(refused_page())
                return None
        return super().prepare(*args, **kwargs)


def scope_checked(handlers: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every route's handler with :class:`_ScopeCheck` in front (it does nothing unscoped)."""
    out = []
    for route, handler, *rest in handlers:
        checked = type(f"Scoped{handler.__name__}", (_ScopeCheck, handler), {})
        out.append((route, checked, *rest))
    return out


class CappedVoilaHandler(TornadoVoilaHandler):
    """Voila's page handler, answering 503 and a busy page past the cap before any kernel starts."""

    @tornado.web.authenticated
    async def get(self, path: str | None = None) -> None:
        gate: ViewerGate = self.settings["linkage_gate"]
        if gate.full() and self.settings.get("linkage_waiting_page"):
            gate.refused += 1
            self.log.warning(
                "linkage: full: %d of %d viewers, %s waits on the waiting page (%d so far)",
                gate.count(),
                gate.max_viewers,
                self.request.path,
                gate.refused,
            )
            self.set_status(503)
            self.set_header("Retry-After", "15")
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            places = self.base_url.rstrip("/") + "/linkage/api/places"
            self.finish(waiting_page(gate.count(), gate.max_viewers, places))
            return
        if gate.full():
            gate.refused += 1
            self.log.warning(
                "linkage: busy: %d of %d viewers, answered 503 to %s (%d refused so far)",
                gate.count(),
                gate.max_viewers,
                self.request.path,
                gate.refused,
            )
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(busy_page(60))
            return
        token = gate.admit()
        try:
            pacer: PagePacer | None = self.settings.get("linkage_pacer")
            if pacer is None:
                await super().get(path)
                return
            turn = await pacer.enter()
            if pacer.waited_for_turn():
                self.log.info("linkage: %s waited for its turn to load", self.request.path)
            failed = True
            try:
                await super().get(path)
                failed = self.get_status() >= 400
            finally:
                pacer.leave(turn, failed=failed)
        finally:
            gate.release(token)
            self.log.info("linkage: viewers %d of %d", gate.count(), gate.max_viewers)


class LoadedHandler(JupyterHandler):
    """``/linkage/api/loaded/<kernel id>``: the page's beacon that its widgets are drawn, which
    ends its turn to load (:class:`PagePacer`)."""

    def check_xsrf_cookie(self) -> None:
        return None  # a beacon naming a kernel; it can only end a turn early, nothing else

    @tornado.web.authenticated
    def post(self, kernel_id: str) -> None:
        pacer: PagePacer | None = self.settings.get("linkage_pacer")
        if pacer is not None:
            pacer.loaded(kernel_id)
        self.set_status(204)
        self.finish()


class PlacesHandler(JupyterHandler):
    """``/linkage/api/places``: how many viewer places are taken, for the waiting page."""

    @tornado.web.authenticated
    def get(self) -> None:
        gate: ViewerGate = self.settings["linkage_gate"]
        pacer: PagePacer | None = self.settings.get("linkage_pacer")
        taken = gate.count()
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        body: dict[str, Any] = {
            "taken": taken,
            "places": gate.max_viewers,
            "free": taken < gate.max_viewers,
        }
        if pacer is not None:
            body["loading"] = pacer.loading
        pools = getattr(self.kernel_manager, "_pools", None)
        if isinstance(pools, dict):  # preheated kernels ready to hand out, per notebook
            body["ready"] = {
                pathlib.Path(name).name: sum(1 for item in items if item.done())
                for name, items in pools.items()
            }
        self.finish(json.dumps(body))


class LandingHandler(JupyterHandler):
    """The server root (and ``/voila/tree``): :func:`landing_page` instead of Voila's file list."""

    def initialize(self, **kwargs: Any) -> None:
        pass  # the tree handler's settings (voila_configuration) are not needed here

    @tornado.web.authenticated
    def get(self, path: str | None = None) -> None:
        root = pathlib.Path(self.settings["linkage_root"])
        names = sorted(p.name for p in root.glob("*.ipynb"))
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(landing_page(names, self.base_url))


class LinkageVoila(Voila):
    """Voila with a cap on concurrent viewers and the ``linkage`` template's search path."""

    name = "linkage-voila"
    description = "Voila serving the linkage dashboards, with a cap on concurrent viewers."

    max_viewers = Int(
        config=True,
        help="Most viewers (kernels serving pages) at once; "
        "further page requests get HTTP 503 and a 'busy, try again' page. "
        f"Default: ${MAX_VIEWERS_ENV}, else what the available memory holds.",
    )

    claim_resets_idle = Bool(
        True,
        config=True,
        help="Count a preheated kernel's hand-over to a "
        "page as activity, so kernel culling cannot shut it down before the "
        "page connects (False only to reproduce the stuck pages it prevents).",
    )

    expect = Int(
        0,
        config=True,
        help="Viewers expected to arrive together (0: no plan). Sizes the preheated pool of "
        "expect_notebook and the cap to it, bounded by memory (plan_audience), and shows "
        "anyone past the cap a waiting page that opens the dashboard by itself.",
    )

    expect_notebook = Unicode(
        "executive.ipynb", config=True, help="The notebook whose pool expect sizes."
    )

    expect_fill_delay = Float(
        10.0,
        config=True,
        help="With expect: seconds before a pool refills after its kernels are handed out, so a "
        "crowd's pages are not slowed by new kernels starting beside them (Voila's "
        "VoilaKernelManager.fill_delay, raised to this).",
    )

    waiting_page = Bool(
        False,
        config=True,
        help="Past the cap, a waiting page that opens the dashboard by itself once a place "
        "frees, instead of the busy page (on with expect).",
    )

    page_slots = Int(
        config=True,
        help="Pages let through to load at once (PagePacer): a page request waits while this many "
        "pages are loading (from their HTML until their widgets are drawn) and the CPUs are busy; "
        "0 lets every page through at once. Default: the machine's CPUs.",
    )

    page_slot_timeout = Float(
        10.0,
        config=True,
        help="Seconds a page counts as loading at most (a browser that never reports its "
        "widgets drawn).",
    )

    refill_settle = Float(
        3.0,
        config=True,
        help="A preheated pool refills only once no page has loaded or waited for this many "
        "seconds, one kernel at a time, so new kernels do not take the CPU a crowd's pages need.",
    )

    @default("page_slots")
    def _default_page_slots(self) -> int:
        return max(1, os.cpu_count() or 1)

    user_header = Unicode(
        "X-Forwarded-User",
        config=True,
        help="With $LINKAGE_SCOPE_DIR set (linkage dashboard --scopes): the request header in "
        "which the authenticating proxy names the person; requests without a listed person get "
        "HTTP 403 before any kernel starts.",
    )

    @default("max_viewers")
    def _default_max_viewers(self) -> int:
        return default_max_viewers()

    def _plan_audience(self) -> None:
        """Apply :func:`plan_audience` for ``expect``: pool size, cap, waiting page; say why."""
        explicit = "max_viewers" in self.config.get("LinkageVoila", {})
        plan = plan_audience(
            self.expect,
            _available_bytes(),
            max_viewers=self.max_viewers if explicit else None,
        )
        self.max_viewers = plan.max_viewers
        self.waiting_page = True
        km_config = self.config.VoilaKernelManager
        pools = dict(km_config.get("kernel_pools_config", {}))
        default_pool = self.voila_configuration.default_pool_size
        pools.setdefault("default", {"pool_size": default_pool})
        pools[self.expect_notebook] = {
            **pools.get(self.expect_notebook, {}),
            "pool_size": plan.pool,
        }
        km_config.kernel_pools_config = pools
        delay = max(float(km_config.get("fill_delay", 0.0)), self.expect_fill_delay)
        km_config.fill_delay = delay
        self.log.info(
            "linkage: %s (%s); the pools refill one kernel at a time, at least %.0f s after "
            "kernels are handed out and once no page has loaded for %.0f s",
            plan.reason,
            self.expect_notebook,
            delay,
            self.refill_settle,
        )

    def initialize(self, argv: list[str] | None = None) -> None:
        # the ``linkage`` template lives in this package: put its data folder on Jupyter's path
        # before Voila looks for templates
        paths = os.environ.get("JUPYTER_PATH", "")
        if str(TEMPLATES) not in paths.split(os.pathsep):
            os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), paths) if p)
        super().initialize(argv)

    def init_settings(self) -> dict[str, Any]:
        if self.expect > 0:  # before Voila builds its kernel manager, which fills the pools
            self._plan_audience()
        settings = super().init_settings()
        settings["linkage_waiting_page"] = self.waiting_page
        settings["linkage_root"] = self.root_dir
        if self.max_viewers < 1:
            raise ValueError(f"max_viewers must be at least 1, got {self.max_viewers}")
        km = self.kernel_manager
        gate = ViewerGate(kernels=lambda: set(km.list_kernel_ids()), max_viewers=self.max_viewers)
        settings["linkage_gate"] = gate
        pacer = PagePacer(slots=self.page_slots, timeout=self.page_slot_timeout)
        self._refill_wanted = [0]  # viewers waiting for a kernel the pool is refilling
        settings["linkage_pacer"] = pacer
        self._pace_refills(pacer)
        # a page request gets its kernel in one of two ways, both awaited inside the request:
        # a preheated kernel (get_rendered_notebook) or a new one (start_kernel, called from the
        # handler; the pool's refills call the class's start_kernel through super(), not this)
        if hasattr(km, "get_rendered_notebook"):
            rendered = km.get_rendered_notebook

            async def get_rendered_notebook(*args: Any, **kwargs: Any) -> Any:
                pool = km._pools.get(kwargs.get("notebook_name", args[0] if args else None), [])
                if pool and not pool[0].done():
                    # this viewer takes a kernel the pool is still refilling: it starts now, quiet
                    # or not
                    self._refill_wanted[0] += 1
                task, cache, kernel_id = await rendered(*args, **kwargs)
                gate.claimed(kernel_id)
                pacer.bind(kernel_id)
                if self.claim_resets_idle:
                    # a pooled kernel's last activity is its preheat, maybe minutes ago; the culler
                    # spares it only while it sits in the pool. Handed to a page that is still
                    # loading (no websocket yet, so 0 connections) it looked idle for longer than
                    # cull_idle_timeout and the next cull pass shut it down under the page: a page
                    # whose widgets never come. Its idle time starts now instead.
                    kernel = km.get_kernel(kernel_id)
                    kernel.last_activity = datetime.now(UTC)
                return task, cache, kernel_id

            km.get_rendered_notebook = get_rendered_notebook
        start = km.start_kernel

        async def start_kernel(*args: Any, **kwargs: Any) -> str:
            kernel_id = await start(*args, **kwargs)
            gate.claimed(kernel_id)
            pacer.bind(kernel_id)
            return kernel_id

        km.start_kernel = start_kernel
        self.log.info(
            "linkage: at most %d viewers at once (kernel culling frees closed pages)",
            self.max_viewers,
        )
        self._init_scopes(settings)
        return settings

    _refill_wanted: list[int]

    def _pace_refills(self, pacer: PagePacer) -> None:
        """Preheated pools refill only when no page is loading (:attr:`refill_settle`), one
        kernel at a time."""
        km = self.kernel_manager
        if not hasattr(km, "_initialize"):
            return
        initialize = km._initialize
        lock = asyncio.Lock()
        refills: set[Any] = set()  # the running release_after tasks (kept referenced)
        settle = self.refill_settle
        wanted = self._refill_wanted

        # the pools' first fill was scheduled when the kernel manager was built, with the
        # unpaced method; only refills come here
        async def release_after(task: Any) -> None:
            """The next refill starts once this kernel has run its notebook (a scoped kernel's
            run waits for its viewer: 60 s at most), or at once when a viewer waits for one."""
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                while (
                    task is not None
                    and not task.done()
                    and not wanted[0]
                    and loop.time() - start < 60
                ):
                    await asyncio.sleep(0.5)
            finally:
                lock.release()

        async def paced_initialize(*args: Any, **kwargs: Any) -> Any:
            await lock.acquire()
            try:
                while not pacer.quiet(settle) and not wanted[0]:
                    await asyncio.sleep(0.5)
                wanted[0] = max(0, wanted[0] - 1)
                content = await initialize(*args, **kwargs)
            except BaseException:
                lock.release()
                raise
            task = content.get("task") if isinstance(content, dict) else None
            waiter = asyncio.ensure_future(release_after(task))
            refills.add(waiter)
            waiter.add_done_callback(refills.discard)
            return content

        km._initialize = paced_initialize

    def _init_scopes(self, settings: dict[str, Any]) -> None:
        """With ``$LINKAGE_SCOPE_DIR``: refuse unknown people and bind each page's kernel to its
        person (:class:`ViewerScopes`)."""
        folder = os.environ.get(SCOPE_DIR_ENV)
        if not folder:
            return
        km = self.kernel_manager
        scopes = ViewerScopes(folder, self.user_header, kernels=lambda: set(km.list_kernel_ids()))
        scopes.log = self.log
        settings["linkage_scopes"] = scopes
        if hasattr(km, "get_rendered_notebook"):
            rendered = km.get_rendered_notebook

            async def get_rendered_notebook(*args: Any, **kwargs: Any) -> Any:
                task, cache, kernel_id = await rendered(*args, **kwargs)
                scopes.claimed(kernel_id)
                return task, cache, kernel_id

            km.get_rendered_notebook = get_rendered_notebook
        start = km.start_kernel

        async def start_kernel(*args: Any, **kwargs: Any) -> str:
            kernel_id = await start(*args, **kwargs)
            scopes.claimed(kernel_id)
            return kernel_id

        km.start_kernel = start_kernel
        self.log.info(
            "linkage: %d viewers, each shown their own units (person from the %s header)",
            len(scopes.scopes),
            self.user_header,
        )

    def init_handlers(self) -> list[tuple[Any, ...]]:
        swap = {TornadoVoilaHandler: CappedVoilaHandler, TornadoVoilaTreeHandler: LandingHandler}
        handlers = [
            (route, swap.get(handler, handler), *rest)
            for route, handler, *rest in super().init_handlers()
        ]
        places = self.server_url.rstrip("/") + "/linkage/api/places"
        loaded = self.server_url.rstrip("/") + r"/linkage/api/loaded/([\w-]+)"
        handlers = [(places, PlacesHandler), (loaded, LoadedHandler), *handlers]
        # with scopes, every route (the landing page and the places count too) checks the person
        return scope_checked(handlers) if os.environ.get(SCOPE_DIR_ENV) else handlers


main = LinkageVoila.launch_instance

if __name__ == "__main__":
    main()
