"""What the section "When someone leaves" costs the executive dashboard, against a filter change.

On the sample panel, one executive dashboard in this process (figures cached, as in a warmed
kernel). Timed, each as a median over rounds:

- filter change: a change of "Show" with the section closed, the baseline;
- filter change, section open: the same change with the section open (it does not follow the
  filters, so it should cost nothing);
- the dashboard's start: building the whole executive dashboard on the same data (figures
  cached), for scale;
- the closed section at start: building the section's widgets (what the dashboard's start pays
  for it);
- opening it, computed: the event studies, their pictures and the words (a viewer who opens it
  first on a server whose helper has not computed it yet);
- opening it, cached: what every other viewer pays (read from the disk cache).

Kernel side only. Prints medians and the ratio to the baseline.

Usage: ``.venv/bin/python benchmarks/events_section.py [--rounds 3]``
"""

from __future__ import annotations

import statistics
import time

from _warm import warmed_executive


def main() -> None:
    args, dash, values = warmed_executive(__doc__)
    from linkage.app import EventsView, ExecutiveDashboard
    from linkage.app._events_data import events_inputs

    def changes() -> list[float]:
        out = []
        for v in values:
            other = values[0] if v != values[0] else values[1]
            dash.value.value = other
            t = time.perf_counter()
            dash.value.value = v
            out.append(time.perf_counter() - t)
        return out

    closed, opened, start, build, computed, cached = [], [], [], [], [], []
    inputs = events_inputs(sample=True, env={})
    for _ in range(args.rounds):
        closed += changes()
        t = time.perf_counter()
        ExecutiveDashboard(dash.data, chain_sample=True)
        start.append(time.perf_counter() - t)
        t = time.perf_counter()
        view = EventsView(dash.data, sample=True, env={})
        build.append(time.perf_counter() - t)
        t = time.perf_counter()
        view.render(inputs)  # the computation itself, whatever the cache holds
        computed.append(time.perf_counter() - t)
        view.compute()  # into the cache (once)
        t = time.perf_counter()
        view.compute()
        cached.append(time.perf_counter() - t)
        dash.events_view.widget.selected_index = 0
        opened += changes()
        dash.events_view.widget.selected_index = None
    base = statistics.median(closed)
    rows = [
        ("filter change (baseline)", closed),
        ("filter change, section open", opened),
        ("the dashboard's start", start),
        ("the closed section at start", build),
        ("opening it, computed", computed),
        ("opening it, cached", cached),
    ]
    print(f"{'':32} {'median s':>9} {'x baseline':>11}")
    for name, times in rows:
        med = statistics.median(times)
        print(f"{name:32} {med:9.4f} {med / base:11.2f}")


if __name__ == "__main__":
    main()
