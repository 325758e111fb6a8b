"""The executive dashboard's section "When someone leaves": event studies and the customers who
follow the person who served them.

Computed only when a viewer first opens the section (the dashboard's start and its filters never
wait for it), then kept in the dashboards' disk cache, keyed by a fingerprint of everything it is
computed from. Two parts:

- **after an event** (a manager's departure, a staff shock, ...): for each event type of the event
  table, the event study of customer retention (:func:`linkage.stats.events.event_study`) on the
  units of the viewer's panel only: the picture with its simultaneous band and, in words, the
  test of trends before the event, the average effect after it and whether it fades. Event times
  that fewer than ``k`` units reach are blanked; a type fewer than ``k`` units had is not shown.
- **do customers follow the person who served them?** The finding of ``linkage relationships
  --json`` (already aggregated and suppressed) in words, with the hazard ratio by month since the
  departure. It covers the whole company, so only a viewer whose scope is ``all`` (or a dashboard
  without scopes) sees it; a scoped viewer reads a sentence saying so.

The inputs come from :func:`linkage.app._events_data.events_inputs`: the files ``linkage
dashboard --events EVENTS.csv --relationships REL.json`` names (:data:`EVENTS_ENV`), or the
sample's ``events.csv`` (manager departures and staff shocks derived from its HR extract) and
``relationships.json`` (its ``served_by``) on the sample panel. Event types are shown manager
departures first, then staff shocks. No person-level row is read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
from typing import Any

import ipywidgets as widgets
import pandas as pd

from linkage.app._data import DashboardData
from linkage.app._events_data import EVENTS_ENV, EventsInputs, event_studies, events_inputs
from linkage.app._render import esc
from linkage.app._render_events import (
    EVENT_CAVEATS,
    RELATIONSHIP_CAVEAT,
    RELATIONSHIP_HEADING,
    event_png,
    relationship_html,
    relationship_sentence,
    study_heading,
    study_html,
)
from linkage.app._safe import guarded, logger
from linkage.app._scopes import kernel_scope
from linkage.errors import InputError

__all__ = ["EventsView", "EVENTS_ENV", "TITLE", "SCOPED_NOTE", "NO_INPUTS"]

TITLE = "When someone leaves: manager departures, staff shocks and the customers they served"
COMPUTING = (
    "<div class='linkage-computing' style='color:#555'>Computing the event studies&hellip; "
    "(a few seconds, once)</div>"
)
#: What a scoped viewer reads instead of the relationship finding.
SCOPED_NOTE = (
    "Whether customers follow the person who served them is measured across the whole company, "
    "not for your units alone, so it is not shown here."
)
#: What the section says when the dashboard was given no events and no relationship finding.
NO_INPUTS = (
    "No events were given. Start the dashboard with --events EVENTS.csv (from 'linkage panel "
    "--events-out') and --relationships REL.json (from 'linkage relationships --json')."
)

#: the section's HTML parts (the cache holds them and the board pack's parts)
_HTML_PARTS = ("studies", "relationships", "notes")
_HERE = pathlib.Path(__file__).resolve()
#: The code the cached section depends on: a change to any of them computes it anew.
_CODE = (
    _HERE,
    _HERE.with_name("_events_data.py"),
    _HERE.with_name("_render_events.py"),
    _HERE.parents[1] / "stats" / "events.py",
    _HERE.parents[1] / "words.py",
)


class EventsView:
    """The section "When someone leaves" of the executive dashboard, computed when first opened.

    Parameters
    ----------
    data : DashboardData
        The dashboard's panel (only the viewer's units in a scoped kernel) and cache.
    sample : bool
        The panel is the repository's sample (its ``events.csv`` and ``relationships.json`` are
        used when no file is named in :data:`EVENTS_ENV`).
    env : mapping, optional
        Where the variables of :data:`EVENTS_ENV` are read (default ``os.environ``).
    whole_company : bool, optional
        The viewer may see whole-company figures (the relationship finding). Default: this
        kernel has no scope or the scope ``all`` (:func:`linkage.app._scopes.kernel_scope`).

    Attributes
    ----------
    widget : ipywidgets.Accordion
        Closed at start; opening it computes (or reads from the cache) and fills the parts.
    status, studies, relationships, notes : ipywidgets.HTML
    html : dict or None
        The parts' HTML (``studies``, ``relationships``, ``notes``; None until computed).

    Examples
    --------
    >>> from linkage.app import DashboardData, load_panel
    >>> view = EventsView(DashboardData(load_panel(), n_boot=50), sample=True, env={})
    >>> view.html is None  # nothing computed until the section is opened
    True
    >>> view.widget.selected_index = 0
    >>> "times as likely to leave" in view.relationships.value, "<img" in view.studies.value
    (True, True)
    """

    def __init__(
        self,
        data: DashboardData,
        *,
        sample: bool = False,
        env: dict[str, str] | None = None,
        whole_company: bool | None = None,
    ) -> None:
        self.data = data
        self.sample = sample
        self.env = env
        if whole_company is None:
            scope = kernel_scope()
            whole_company = scope is None or scope.allowed is None
        self.whole_company = whole_company
        self.html: dict[str, str] | None = None
        #: what the board pack adds once the section is open: (heading, words, PNG or None)
        #: per part, and the caveats (see :meth:`board`)
        self._board: dict[str, Any] | None = None
        self.status = widgets.HTML()
        self.studies = widgets.HTML()
        self.relationships = widgets.HTML()
        self.notes = widgets.HTML()
        body = widgets.VBox([self.status, self.studies, self.notes, self.relationships])
        self.widget = widgets.Accordion(children=[body], titles=(TITLE,))
        self.widget.add_class("linkage-events")
        self.widget.observe(guarded(self.status)(self._on_open), names="selected_index")

    def _on_open(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and self.html is None:
            self.show()

    def _key(self, inputs: EventsInputs) -> tuple[Any, ...]:
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.data.panel, index=False).to_numpy().tobytes())
        if inputs.events is not None:
            h.update(pd.util.hash_pandas_object(inputs.events, index=False).to_numpy().tobytes())
        if inputs.relationships is not None:
            h.update(inputs.relationships.key().encode())
        for path in _CODE:
            h.update(path.read_bytes())
        digest = h.hexdigest()[:24]  # version 2: the parts are JSON, with the board pack's
        return ("events_view", 2, digest, self.data.k, self.data.seed, self.whole_company)

    def compute(self) -> dict[str, Any]:
        """The section's HTML parts (``studies``, ``relationships``, ``notes``) and what the board
        pack adds (``board``: see :meth:`render`): from the disk cache when another kernel
        computed them, else now."""
        inputs = events_inputs(sample=self.sample, env=self.env)
        key = self._key(inputs)
        stored = self.data.cache.get(key)
        parts = None
        if stored is not None:
            try:
                parts = json.loads(stored.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                logger.info("events cache entry unreadable; recomputing")
        if not isinstance(parts, dict) or set(parts) != {*_HTML_PARTS, "board"}:
            parts = self.render(inputs)
            self.data.cache.put(key, json.dumps(parts).encode("utf-8"))
        return parts

    def render(self, inputs: EventsInputs) -> dict[str, Any]:
        """The section computed from ``inputs``: its HTML parts ``studies``, ``relationships``
        and ``notes``, and ``board``, what the board pack adds (``parts``: [heading, words, the
        picture as base64 PNG or None] for each event type shown and the relationship finding;
        ``caveats``: the section's "read with care" notes), the same words and pictures."""
        k = self.data.k
        studies = ""
        notes = ""
        board: dict[str, Any] = {"parts": [], "caveats": []}
        if inputs.events is not None:
            found = event_studies(self.data.panel, inputs.events, k=k, seed=self.data.seed)
            chunks = []
            for p in found:
                if p.study is None:
                    chunks.append(f"<p class='linkage-missing'>{esc(p.note)}</p>")
                    continue
                picture = event_png(p.study)
                chunks.append(study_html(p.study, picture=picture))
                board["parts"].append(
                    [
                        study_heading(p.study),
                        p.study.text,
                        base64.b64encode(picture).decode("ascii"),
                    ]
                )
            studies = "".join(chunks)
            if any(p.study is not None for p in found):
                notes = (
                    "<div class='linkage-caveats'><h4>Read with care</h4><ul>"
                    + "".join(f"<li>{esc(c)}</li>" for c in EVENT_CAVEATS)
                    + "</ul></div>"
                )
                board["caveats"] = list(EVENT_CAVEATS)
        relationships = ""
        if not self.whole_company:
            if inputs.relationships is not None:
                relationships = f"<p class='linkage-scoped'>{esc(SCOPED_NOTE)}</p>"
        elif inputs.relationships is not None:
            shown = inputs.relationships.shown(k)
            relationships = (
                relationship_html(shown)
                if shown is not None
                else "<p class='linkage-missing'>Whether customers follow the person who served "
                f"them rests on fewer than {k} customers or departures: not shown.</p>"
            )
            if shown is not None:
                board["parts"].append([RELATIONSHIP_HEADING, relationship_sentence(shown), None])
                board["caveats"].append(RELATIONSHIP_CAVEAT)
        if inputs.events is None and inputs.relationships is None:
            notes = f"<p class='linkage-missing'>{esc(NO_INPUTS)}</p>"
        return {"studies": studies, "relationships": relationships, "notes": notes, "board": board}

    def board(self) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]], list[str]]:
        """What the board pack adds while the section is open and computed: the words of each
        part (heading, text), its pictures (caption, PNG) and the section's caveats; nothing
        when the viewer has not opened it (the pack holds what the page shows)."""
        if self._board is None or self.widget.selected_index is None:
            return [], [], []
        words = [(str(head), str(text)) for head, text, _ in self._board["parts"]]
        pictures = [
            (str(head), base64.b64decode(pic)) for head, _, pic in self._board["parts"] if pic
        ]
        return words, pictures, [str(c) for c in self._board["caveats"]]

    def show(self) -> None:
        """Compute (showing "Computing ...") and fill the section."""
        self.studies.value = COMPUTING
        try:
            parts = self.compute()
        except InputError as err:
            self.studies.value = ""
            self.notes.value = (
                "<div class='linkage-missing'><p>This section could not be computed from these "
                f"data: {esc(err.problem)}</p></div>"
            )
            logger.info("events section: %s", err)
            self.html = {"studies": "", "relationships": "", "notes": self.notes.value}
            return
        self.html = {n: parts[n] for n in _HTML_PARTS}
        self._board = parts["board"]
        self.studies.value = parts["studies"]
        self.relationships.value = parts["relationships"]
        self.notes.value = parts["notes"]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
