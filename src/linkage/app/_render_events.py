"""The report's section "When someone leaves": an event study's picture with its band, and the
finding in words (:class:`linkage.stats.events.EventStudy`; unit-level figures only)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from linkage.app._render import data_uri, esc, png
from linkage.stats.events import EventStudy

__all__ = ["event_png", "events_section_html"]


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
    step = study.settings.get("step", "period")
    ax.set_xlabel(f"{step}s since the {study.event_type.replace('_', ' ')} (0: its {step})")
    ax.set_ylabel(study.outcome.replace("_", " ") + (", points" if scale == 100.0 else ""))
    ax.legend(loc="lower left", fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.96)
    return png(fig)


def events_section_html(study: EventStudy) -> str:
    """The section's HTML: heading, the finding in words, the picture and the caveats.

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
    caveats = (
        "The comparison units stand in for what would have happened without the event "
        "(parallel trends): flat months before the event are reassuring, not proof.",
        "People may react before the recorded date (anticipation), which spoils the comparison.",
        "Who leaves is not random: staff and managers leave struggling units more often, so part "
        "of what follows would have happened anyway.",
    )
    items = "".join(f"<li>{esc(c)}</li>" for c in caveats)
    return (
        f"<h2>When someone leaves: {esc(study.event_type.replace('_', ' '))}</h2>"
        f"<p>{esc(study.text)}</p>"
        f'<img alt="Event study of {esc(study.event_type)}" src="{data_uri(event_png(study))}">'
        f"<ul>{items}</ul>"
    )
