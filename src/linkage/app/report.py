"""The executive view as one self-contained HTML file (``linkage report PANEL --out report.html``).

For people who will never open a dashboard (board packs, email): the headline figures, the link in
words, the trends, the quadrants and the lag profile (PNG images embedded as ``data:`` URIs, so the
file needs nothing else), the analysis' plain-language summary (``linkage.stats.analyse``), the
caveats, and the unit table with small groups suppressed (``linkage.privacy``); then, with
``chain=True``, the dashboard's section "The whole chain" (``linkage.app.service_chain``: links,
key drivers, units to visit); with ``events``, the section "When someone leaves" (an event study of
the events given, ``linkage.stats.events``), and with ``relationships`` the finding of ``linkage
relationships --json`` in words with its months table. It reads the panel (and the chain's unit x
period tables, the event table, the aggregate relationship finding) only, never person-level rows,
and is written atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import tempfile
from typing import Any

import pandas as pd

from linkage import __version__
from linkage.app._data import DashboardData, Selection, load_panel
from linkage.app._events_data import (
    RelationshipFinding,
    blank_small,
    event_type_order,
    read_relationships,
)
from linkage.app._render import (
    CAVEATS,
    data_uri,
    esc,
    headline_sentences,
    lag_png,
    quadrants_png,
    trends_png,
    unit_table_html,
)
from linkage.app._render_service_chain import section_parts
from linkage.app._service_chain_data import is_sample_panel
from linkage.app.service_chain import ChainView
from linkage.errors import InputError
from linkage.stats import analyse

__all__ = ["build_report", "write_report"]

_STYLE = """
body {font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
      margin: 24px auto; padding: 0 16px; color: #222;}
h1 {font-size: 24px; margin-bottom: 2px;} .scope {color: #555; margin-top: 0;}
.cards {display: flex; gap: 12px; flex-wrap: wrap;}
.card {flex: 1 1 260px; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px;
       background: #fafafa;}
.card.link {flex: 2 1 420px; border-color: #1b6ca8; background: #f2f7fb;}
.card .order {margin-top: 6px;}
.card b {display: block; font-size: 12px; text-transform: uppercase; color: #666;
         margin-bottom: 3px;}
img {max-width: 100%; height: auto;} .pair {display: flex; gap: 8px; flex-wrap: wrap;}
.pair img {flex: 1 1 460px; max-width: 540px;}
table {border-collapse: collapse; font-size: 12px;}
td, th {padding: 2px 8px; border-bottom: 1px solid #eee;}
.summary p {margin: 6px 0;} footer {color: #777; font-size: 12px; margin-top: 24px;}
.linkage-cards {display: flex; gap: 12px; flex-wrap: wrap;}
.linkage-card {flex: 1 1 260px; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px;
               background: #fafafa;}
.linkage-card b {display: block; font-size: 12px; text-transform: uppercase; color: #666;
                 margin-bottom: 3px;}
"""


def build_report(
    panel: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    k: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    title: str = "Do units that keep their staff keep their customers?",
    chain: bool = False,
    events: str | os.PathLike[str] | pd.DataFrame | None = None,
    event_type: str | None = None,
    relationships: str | os.PathLike[str] | None = None,
) -> str:
    """The report's HTML text.

    Parameters
    ----------
    panel : path, DataFrame or None
        The unit x period panel (default: ``$LINKAGE_PANEL`` or the sample panel).
    k : int
        Minimum number of people behind any figure shown.
    n_boot, seed : int
        Bootstrap settings of the lag profile and the analysis.
    title : str
        The page's heading.
    chain : bool
        Add the section "The whole chain" (links, key drivers, units to visit; a few seconds, or
        none when the dashboards' disk cache holds it; off by default). Its data come from the
        sample, the panel's chain columns or the files of ``linkage.pipeline.CHAIN_ENV``.
    events : path or DataFrame, optional
        An event table (``unit_id, event_date[, event_type]``, as ``linkage panel --events-out``
        writes it): adds the section "When someone leaves", the event study of customer retention
        around them (:func:`linkage.stats.events.event_study`).
    event_type : str, optional
        Which type of event, when the table holds several (default: the first the dashboard's
        section shows, manager departures when there are any).
    relationships : path, optional
        The ``--json`` output of ``linkage relationships`` (aggregated, suppressed below its
        ``k``): adds to the section "When someone leaves" how much likelier customers were to leave
        after their own employee left, the customers lost per departure and the hazard ratio by
        month since the departure (months from fewer than ``k`` customers or departures
        suppressed; the finding is not shown when it rests on fewer).

    Returns
    -------
    str
        A complete HTML document with no external references.
    """
    frame = panel if isinstance(panel, pd.DataFrame) else load_panel(panel)
    finding = None if relationships is None else _finding(relationships, k)  # before the work
    data = DashboardData(frame, k=k, n_boot=n_boot, seed=seed)
    attr = data.default_attribute()
    sel = Selection(attribute=attr, lag=data.best_lag)
    s = headline_sentences(data, sel)
    # lags -6..6 as always, fewer when the panel is too short for them (a lag beyond the data is
    # an error in analyse)
    result = analyse(frame, max_lag=min(6, len(data.periods) - 2), n_boot=n_boot, seed=seed)
    summary = "".join(f"<p>{esc(p)}</p>" for p in str(result.text).split("\n") if p.strip())
    table = data.unit_table(sel)
    figs = {
        "trends": trends_png(data, sel),
        "quadrants": quadrants_png(data, sel),
        "lag": lag_png(data, sel),
    }
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    caveats = "".join(f"<li>{esc(c.format(k=k))}</li>" for c in CAVEATS)
    chain_html = _chain_section(data, panel) if chain else ""
    events_html = (
        ""
        if events is None and relationships is None
        else _events_section(frame, events, event_type, finding, k=k)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>{esc(title)}</h1>
<p class="scope">{esc(s["scope"])} &middot; {esc(s["n_units"])} units</p>
<div class="cards">
<div class="card"><b>Staff</b>{esc(s["employee"])}</div>
<div class="card"><b>Customers</b>{esc(s["customer"])}</div>
<div class="card link"><b>The link</b>{esc(s["link"])}
<div class="order">{esc(s["direction"])}</div></div>
</div>
<h2>Trends</h2>
<img alt="Employee and customer retention by {esc(attr or "group")}"
 src="{data_uri(figs["trends"])}">
<h2>Where units stand, and which way the link runs</h2>
<div class="pair"><img alt="Units in quadrants" src="{data_uri(figs["quadrants"])}">
<img alt="Lag profile" src="{data_uri(figs["lag"])}"></div>
<h2>What the analysis says</h2>
<div class="summary">{summary}</div>
<h2>Read with care</h2><ul>{caveats}</ul>
<h2>Units</h2>
<p>Figures from fewer than {k} people, and figures that would let them be worked out from a total,
read &ldquo;suppressed&rdquo;.</p>
{unit_table_html(table)}
{chain_html}
{events_html}
<footer>linkage {esc(__version__)} &middot; generated {esc(when)} from a unit &times; period panel
(no person-level data).</footer>
</body></html>
"""


def _chain_section(data: DashboardData, panel: str | os.PathLike[str] | pd.DataFrame | None) -> str:
    view = ChainView(data, sample=is_sample_panel(panel))
    try:
        res = view.compute()
    except InputError as err:
        return f"<h2>The whole chain</h2><p>Not shown: {esc(err.problem)}</p>"
    parts = section_parts(res, draw=view.figure_png)
    return "<h2>The whole chain: survey, staff, customers, revenue</h2>" + "".join(
        parts[name] for name in ("summary", "notes", "chain", "drivers", "watchlist")
    )


def _finding(path: str | os.PathLike[str], k: int) -> RelationshipFinding:
    """The relationship finding of ``linkage relationships --json`` as the report may show it."""
    read = read_relationships(path)
    finding = read.shown(k)
    if finding is None:
        raise InputError(
            f"the finding rests on fewer than {max(k, read.k)} customers or departures; it "
            "cannot be shown",
            file=pathlib.Path(path).name,
        )
    return finding


def _events_section(
    frame: pd.DataFrame,
    events: str | os.PathLike[str] | pd.DataFrame | None,
    event_type: str | None,
    finding: RelationshipFinding | None,
    *,
    k: int,
) -> str:
    """The section "When someone leaves" (:mod:`linkage.app._render_events`): the event study
    (event times fewer than ``k`` units reach blanked) and the relationship finding."""
    from linkage.app._render_events import events_section_html
    from linkage.io import read_table
    from linkage.stats.events import event_study

    study = None
    if events is not None:
        label = None if isinstance(events, pd.DataFrame) else pathlib.Path(events).name
        table = events if isinstance(events, pd.DataFrame) else read_table(events, name=label)
        if event_type is None and "event_type" in table.columns:
            # several types: the one the dashboard's section shows first (manager departures)
            kinds = table["event_type"].astype("string").str.strip().dropna()
            order = event_type_order(pd.DataFrame({"event_type": kinds.unique()}))
            event_type = order[0] if len(order) > 1 else None
        study = blank_small(event_study(frame, table, event_type=event_type, file=label), k)
    return events_section_html(study, relationships=finding)


def write_report(
    panel: str | os.PathLike[str],
    out: str | os.PathLike[str],
    **kwargs: Any,
) -> pathlib.Path:
    """Write :func:`build_report` of ``panel`` to ``out`` atomically; returns the path written.

    Raises
    ------
    InputError
        If ``out`` is the panel itself, its folder does not exist, or it is not ``.html``/``.htm``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from linkage.io.datasets import sample_path
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> path = write_report(sample_path("panel.csv"), out, n_boot=200)
    >>> text = path.read_text(encoding="utf-8")
    >>> "data:image/png;base64," in text, "suppressed" in text, "http" in text.split("<body>")[1]
    (True, True, False)
    """
    target = pathlib.Path(out)
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report is an .html file", file=str(target))
    if not target.parent.exists():
        raise InputError("the folder does not exist", file=str(target.parent))
    src = pathlib.Path(panel)
    if target.exists() and src.exists() and os.path.samefile(target, src):
        raise InputError("refusing to overwrite the input panel", file=str(target))
    text = build_report(panel, **kwargs)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
