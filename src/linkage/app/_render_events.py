"""The section "When someone leaves" (report and executive dashboard): an event study's picture
with its band and the finding in words (:class:`linkage.stats.events.EventStudy`), and the
relationship finding in words with its months table
(:class:`linkage.app._events_data.RelationshipFinding`); unit-level and aggregate figures only."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from linkage.app._events_data import RelationshipFinding
from linkage.app._render import data_uri, esc, png
from linkage.stats.events import EventStudy
from linkage.words import interval, p_phrase, plural

__all__ = [
    "EVENT_CAVEATS",
    "RELATIONSHIP_CAVEAT",
    "RELATIONSHIP_HEADING",
    "event_png",
    "events_section_html",
    "relationship_html",
    "relationship_sentence",
    "relationship_table_html",
    "study_heading",
    "study_html",
]

#: The heading of the relationship finding.
RELATIONSHIP_HEADING = "Do customers follow the person who served them?"
#: What to keep in mind reading an event study.
EVENT_CAVEATS = (
    "The comparison units stand in for what would have happened without the event "
    "(parallel trends): flat months before the event are reassuring, not proof.",
    "People may react before the recorded date (anticipation), which spoils the comparison.",
    "Who leaves is not random: staff and managers leave struggling units more often, so part "
    "of what follows would have happened anyway.",
)
#: What to keep in mind reading the relationship finding.
RELATIONSHIP_CAVEAT = (
    "Who leaves is not random: an employee who quits may be leaving a unit already in trouble, "
    "or take favourite customers along, so this is the loss that goes with a departure, not "
    "proof that keeping the employee would have kept the customer."
)


def event_png(study: EventStudy) -> bytes:
    """The event-time picture: estimates with their intervals, the simultaneous band, 0 marked.

    Rates are drawn in points (x 100); other outcomes as they are.
    """
    est = study.estimates
    scale = 100.0 if study.outcome.endswith(("_retention", "_turnover")) else 1.0
    t = est["event_time"].to_numpy()
    mid = scale * est["estimate"].to_numpy(dtype=float)
    fig = Figure(figsize=(7.2, 3.8))
    ax = fig.add_subplot()
    ax.fill_between(
        t,
        scale * est["band_low"].to_numpy(dtype=float),
        scale * est["band_high"].to_numpy(dtype=float),
        color="#1b6ca8",
        alpha=0.15,
        label="simultaneous 95% band",
    )
    low = scale * est["ci_low"].to_numpy(dtype=float)
    high = scale * est["ci_high"].to_numpy(dtype=float)
    ax.errorbar(
        t,
        mid,
        yerr=np.vstack([mid - low, high - mid]),
        fmt="o",
        color="#1b6ca8",
        capsize=2,
        label="estimate, 95% interval",
    )
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls=":")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole months, not 2.5
    step = study.settings.get("step", "period")
    ax.set_xlabel(f"{step}s since the {study.event_type.replace('_', ' ')} (0: its {step})")
    ax.set_ylabel(study.outcome.replace("_", " ") + (", points" if scale == 100.0 else ""))
    ax.legend(loc="lower left", fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.96)
    return png(fig)


def study_heading(study: EventStudy) -> str:
    """The heading of one event type's part ("What happened to customer retention after a
    manager departure")."""
    return f"What happened to customer retention after a {study.event_type.replace('_', ' ')}"


def study_html(study: EventStudy, *, level: int = 3, picture: bytes | None = None) -> str:
    """One event type's part: a heading, the finding in words (the pre-trend test, the average
    after the event, whether it fades: :attr:`EventStudy.text`), a note on event times not
    shown, and the picture (``picture``: its PNG when already drawn)."""
    blank = study.estimates["estimate"].isna() & study.estimates["n_treated"].notna()
    note = ""
    if bool(blank.any()):
        times = ", ".join(str(int(t)) for t in study.estimates.loc[blank, "event_time"])
        note = (
            f"<p class='linkage-note'>Not shown: event {'times' if blank.sum() > 1 else 'time'} "
            f"{esc(times)}, which too few units reach.</p>"
        )
    return (
        f"<h{level}>{esc(study_heading(study))}</h{level}>"
        f"<p>{esc(study.text)}</p>{note}"
        f'<img class="linkage-fig" alt="Event study of {esc(study.event_type)}" '
        f'src="{data_uri(event_png(study) if picture is None else picture)}">'
    )


def relationship_sentence(finding: RelationshipFinding) -> str:
    """The relationship finding in words.

    Examples
    --------
    >>> from linkage.app._events_data import read_relationships
    >>> from linkage.io.datasets import sample_path
    >>> relationship_sentence(read_relationships(sample_path("relationships.json")))[:89]
    'Customers whose own employee left were 1.27 times as likely to leave in the next 6 months'
    """
    f = finding
    ratio = f"{f.hazard_ratio:.2f} times"
    if f.ci_low > 1:
        verdict = f"{ratio} as likely to leave"
    elif f.ci_high < 1:
        verdict = f"less likely to leave ({ratio} the rate)"
    else:
        verdict = f"about as likely to leave ({ratio} the rate; no clear difference)"
    p = f", {p_phrase(f.p_val)}" if math.isfinite(f.p_val) else ""
    lost = (
        f"about {f.lost:.1f} customers lost per departing employee "
        f"({interval(f.lost_low, f.lost_high, digits=1)})"
    )
    return (
        f"Customers whose own employee left were {verdict} in the next "
        f"{plural(f.window, 'month')} ({interval(f.ci_low, f.ci_high)}{p}) as customers of the "
        f"same unit in the same month whose employee stayed; {lost}. From "
        f"{f.customers_exposed:,} customers whose employee left and {f.departures:,} departures, "
        "across the whole company."
    )


def relationship_table_html(finding: RelationshipFinding) -> str:
    """The hazard ratio by month since the departure, as a small HTML table (suppressed months
    read "suppressed")."""
    rows = []
    for r in finding.by_month.to_dict("records"):
        hr, lo, hi = (float(r[c]) for c in ("hazard_ratio", "ci_low", "ci_high"))
        if math.isfinite(hr):
            ratio, ci = f"{hr:.2f}", f"{lo:.2f} to {hi:.2f}"
        else:
            ratio, ci = "suppressed", "suppressed"
        rows.append(
            f"<tr><td>{int(r['month'])}</td><td>{ratio}</td><td>{ci}</td>"
            f"<td>{int(r['customers']):,}</td><td>{int(r['departures']):,}</td></tr>"
        )
    return (
        "<div class='linkage-table'><table><thead><tr><th>Months since the departure</th>"
        "<th>Hazard ratio</th><th>95% interval</th><th>Customers</th><th>Departures</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def relationship_html(finding: RelationshipFinding, *, level: int = 3) -> str:
    """The relationship part: a heading, the finding in words, the months table, the caveat."""
    return (
        f"<h{level}>{esc(RELATIONSHIP_HEADING)}</h{level}>"
        f"<p class='linkage-relationship'>{esc(relationship_sentence(finding))}</p>"
        f"{relationship_table_html(finding)}<p>{esc(RELATIONSHIP_CAVEAT)}</p>"
    )


def events_section_html(
    study: EventStudy | None = None, *, relationships: RelationshipFinding | None = None
) -> str:
    """The report's section: heading, the event study's finding in words and its picture, the
    relationship finding (when given) and the caveats.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkage.simulate import EventSpec, WorldSpec, simulate
    >>> from linkage.stats.events import event_study
    >>> world = simulate(WorldSpec(n_units=30, months=24, seed=1), events=EventSpec())
    >>> html = events_section_html(event_study(world.panel, world.programme, pre=3, post=6))
    >>> html.startswith("<h2>When someone leaves"), "data:image/png;base64," in html
    (True, True)
    """
    title = "When someone leaves"
    if study is not None:
        title += ": " + study.event_type.replace("_", " ")
    parts = [f"<h2>{esc(title)}</h2>"]
    if study is not None:
        parts.append(study_html(study))
        parts.append("<ul>" + "".join(f"<li>{esc(c)}</li>" for c in EVENT_CAVEATS) + "</ul>")
    if relationships is not None:
        parts.append(relationship_html(relationships))
    return "".join(parts)
