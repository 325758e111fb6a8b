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

import contextvars
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
from traitlets import Bool, Int, Unicode, default
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

__all__ = [
    "LinkageVoila",
    "ViewerGate",
    "default_max_viewers",
    "busy_page",
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


#: Environment variable naming the folder of the resolved scopes (``users.json``) and of the
#: kernels' scope files; the same name as ``linkage.app._scopes.SCOPE_DIR_ENV`` (this script does
#: not import ``linkage``; a test checks they agree).
SCOPE_DIR_ENV = "LINKAGE_SCOPE_DIR"
_USERS_FILE = "users.json"
_LOOPBACK_IPS = ("127.0.0.1", "::1")
#: Routes that act on one kernel (its websocket, shutdown, execution, a preheated kernel's wait).
_KERNEL_ROUTE = re.compile(
    r"/(api/kernels|voila/api/shutdown|voila/execution|voila/query)/(\w+-\w+-\w+-\w+-\w+)(?:/|$)"
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
            await super().get(path)
        finally:
            gate.release(token)
            self.log.info("linkage: viewers %d of %d", gate.count(), gate.max_viewers)


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

    def initialize(self, argv: list[str] | None = None) -> None:
        # the ``linkage`` template lives in this package: put its data folder on Jupyter's path
        # before Voila looks for templates
        paths = os.environ.get("JUPYTER_PATH", "")
        if str(TEMPLATES) not in paths.split(os.pathsep):
            os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), paths) if p)
        super().initialize(argv)

    def init_settings(self) -> dict[str, Any]:
        settings = super().init_settings()
        if self.max_viewers < 1:
            raise ValueError(f"max_viewers must be at least 1, got {self.max_viewers}")
        km = self.kernel_manager
        gate = ViewerGate(kernels=lambda: set(km.list_kernel_ids()), max_viewers=self.max_viewers)
        settings["linkage_gate"] = gate
        # a page request gets its kernel in one of two ways, both awaited inside the request:
        # a preheated kernel (get_rendered_notebook) or a new one (start_kernel, called from the
        # handler; the pool's refills call the class's start_kernel through super(), not this)
        if hasattr(km, "get_rendered_notebook"):
            rendered = km.get_rendered_notebook

            async def get_rendered_notebook(*args: Any, **kwargs: Any) -> Any:
                task, cache, kernel_id = await rendered(*args, **kwargs)
                gate.claimed(kernel_id)
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
            return kernel_id

        km.start_kernel = start_kernel
        self.log.info(
            "linkage: at most %d viewers at once (kernel culling frees closed pages)",
            self.max_viewers,
        )
        self._init_scopes(settings)
        return settings

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
        handlers = [
            (route, CappedVoilaHandler, *rest)
            if handler is TornadoVoilaHandler
            else (route, handler, *rest)
            for route, handler, *rest in super().init_handlers()
        ]
        return scope_checked(handlers) if os.environ.get(SCOPE_DIR_ENV) else handlers


main = LinkageVoila.launch_instance

if __name__ == "__main__":
    main()
