"""Callbacks that never show a traceback to a viewer.

Voila prints the traceback, source lines and file paths of an exception raised inside a widget
callback into the page even with tracebacks turned off
(https://github.com/voila-dashboards/voila/issues/203 and
https://github.com/voila-dashboards/voila/issues/426). Every dashboard callback is wrapped by
:func:`guarded`: an exception becomes one neutral line in the page with a short reference, and the
detail goes to the server's log (the kernel's real stderr, which Voila's console
shows, never the page) and to ``$LINKAGE_LOG`` when set.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import ipywidgets as widgets

__all__ = ["logger", "guarded", "FRIENDLY", "neutral_line", "SHUTDOWN_FIX", "show_loading"]

FRIENDLY = "Something went wrong while updating this view. The figures show the previous selection."

logger = logging.getLogger("linkage.app")


def _configure() -> None:
    if getattr(logger, "_linkage_configured", False):
        return
    # sys.__stderr__ is the process's own stderr: in a Voila kernel it is the server console, not
    # the page (ipykernel redirects sys.stderr to the page)
    stream = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[linkage.app %(levelname)s %(asctime)s] %(message)s"))
    logger.addHandler(handler)
    log_file = os.environ.get("LINKAGE_LOG")
    if log_file:
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(fh)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger._linkage_configured = True  # type: ignore[attr-defined]


_configure()


def neutral_line(text: str) -> str:
    """HTML of the one line a viewer sees instead of an error."""
    return f'<div class="linkage-error" role="status" style="color:#8a4b00">{text}</div>'


def guarded(
    status: widgets.HTML, *, message: str = FRIENDLY
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a widget callback so an exception shows ``message`` in ``status`` and is logged.

    Parameters
    ----------
    status : ipywidgets.HTML
        Where the neutral line goes (cleared on the next successful call).
    message : str
        The neutral line; a short reference (``ref 1a2b3c4d``) matching the log is appended.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> status = widgets.HTML()
    >>> @guarded(status)
    ... def boom(change):
    ...     raise ValueError("secret detail")
    >>> boom({"new": 1})
    >>> "secret" in status.value, "Something went wrong" in status.value
    (False, True)
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                out = func(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the whole point: nothing reaches the viewer
                ref = uuid.uuid4().hex[:8]
                logger.exception("callback %s failed (ref %s)", getattr(func, "__name__", "?"), ref)
                status.value = neutral_line(f"{message} (ref {ref})")
                return None
            if status.value:
                status.value = ""
            return out

        return inner

    return wrap


#: Lets Voila's own "shut the kernel down when the tab closes" beacon through
#: (https://github.com/voila-dashboards/voila/issues/1458).
#: Voila 0.5 posts ``_xsrf`` read from the ``_xsrf`` cookie, but its page never sets that cookie,
#: so the server refuses the beacon (403 "_xsrf argument missing") and the kernel lives on until
#: culled.
#: This script, run once as the page loads, sets a random ``_xsrf`` cookie when there is none (the
#: double-submit pattern Tornado checks: the beacon's field must equal the cookie, which another
#: site can neither read nor set), so the beacon is accepted. XSRF checks stay on for everything.
#: It also sends the same beacon itself on ``pagehide`` (closing a tab in Chromium fires that,
#: not always ``beforeunload``). Kernel culling (``voila.json``) remains the backstop.
SHUTDOWN_FIX = """<script>(function () {
  if (window.__linkageShutdownFix) { return; }
  window.__linkageShutdownFix = true;
  if (!/(^|;\\s*)_xsrf=/.test(document.cookie)) {
    var a = new Uint8Array(16); window.crypto.getRandomValues(a);
    var t = Array.prototype.map.call(a, function (b) {
      return ("0" + b.toString(16)).slice(-2); }).join("");
    document.cookie = "_xsrf=" + t + "; path=/; SameSite=Strict";
  }
  var sent = false;
  function shutdown() {
    if (sent) { return; }
    try {
      var cfg = JSON.parse(document.getElementById("jupyter-config-data").textContent);
      var m = document.cookie.match(/(^|;\\s*)_xsrf=([^;]*)/);
      if (!cfg.kernelId || !m) { return; }
      var body = new FormData(); body.append("_xsrf", m[2]);
      sent = navigator.sendBeacon(cfg.baseUrl + "voila/api/shutdown/" + cfg.kernelId, body);
    } catch (e) { /* nothing to do: kernel culling frees the kernel later */ }
  }
  window.addEventListener("beforeunload", shutdown);
  window.addEventListener("pagehide", shutdown);
})();</script>"""


class _HasWidget(Protocol):
    @property
    def widget(self) -> widgets.Widget: ...


_View = TypeVar("_View", bound=_HasWidget)


def show_loading(build: Callable[[], _View], *, loading: str, name: str, data: str) -> _View | None:
    """Display the line ``loading``, build a view, then show its widget in place of the line.

    Errors while building show one neutral line naming ``data`` (with a reference to the server
    log), never a traceback; the log says ``name`` failed. Returns the view (None when it could
    not be built).
    """
    from IPython.display import HTML, display

    from linkage.app._kernel import one_blas_thread

    one_blas_thread()
    display(HTML(SHUTDOWN_FIX))
    box = widgets.VBox(
        [
            widgets.HTML(
                "<div class='linkage-loading' style='font-size:16px;color:#555'>"
                f"{loading}&hellip;</div>"
            )
        ]
    )
    display(box)
    try:
        view = build()
    except Exception:  # noqa: BLE001 - shown as one line, logged in full
        ref = uuid.uuid4().hex[:8]
        logger.exception("%s failed to load (ref %s)", name, ref)
        box.children = [
            widgets.HTML(
                neutral_line(
                    f"{data} could not be loaded (ref {ref}); whoever runs the "
                    "dashboard can find the detail in the server log."
                )
            )
        ]
        return None
    box.children = [view.widget]
    return view
