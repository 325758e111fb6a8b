"""What "Download this view (PDF)" costs in the viewer's kernel, against a filter change.

On the sample panel, one executive dashboard in this process (figures cached, as in a warmed
kernel). For each value of "Show" in turn:

- board pack: the button's click handler (the PDF built from the view's own figures and words, and
  the download link set);
- filter change with a PDF offered: the next change of "Show" (it withdraws the link);
- filter change: the same change again with no PDF offered, the baseline;
- board pack with the section "When someone leaves" open (its words, pictures and caveats added).

The kernel side only: in a browser a filter change also waits for the page (about 0.2-0.3 s), and
the click for the link to arrive. Prints medians, the ratio to the baseline and the PDF's size.

Usage: ``.venv/bin/python benchmarks/board_pack.py [--rounds 3]``
"""

from __future__ import annotations

import statistics
import time

from _warm import warmed_executive


def main() -> None:
    args, dash, values = warmed_executive(__doc__)
    change, change_after, build, sizes = [], [], [], []
    for _ in range(args.rounds):
        for v in values:
            other = values[0] if v != values[0] else values[1]
            # the same transition (other -> v) timed twice: with a PDF offered, then without
            dash.value.value = other
            t = time.perf_counter()
            dash.pdf_button.click()
            build.append(time.perf_counter() - t)
            sizes.append(len(dash.pdf_link.value))
            t = time.perf_counter()
            dash.value.value = v
            change_after.append(time.perf_counter() - t)
            assert dash.pdf_link.value == ""
            dash.value.value = other
            t = time.perf_counter()
            dash.value.value = v
            change.append(time.perf_counter() - t)
    # the same with the section "When someone leaves" open (computed once when opened)
    dash.events_view.widget.selected_index = 0
    with_events, event_sizes = [], []
    for _ in range(args.rounds):
        for v in values:
            dash.value.value = v
            t = time.perf_counter()
            dash.pdf_button.click()
            with_events.append(time.perf_counter() - t)
            event_sizes.append(len(dash.pdf_link.value))
    base = statistics.median(change)
    rows = [
        ("filter change (baseline)", change),
        ("filter change with a PDF offered", change_after),
        ("board pack (click handler)", build),
        ("board pack, 'When someone leaves' open", with_events),
    ]
    print(f"{'step':40s} {'median s':>9s} {'max s':>7s} {'x baseline':>10s}")
    for name, xs in rows:
        m = statistics.median(xs)
        print(f"{name:40s} {m:9.3f} {max(xs):7.3f} {m / base:10.1f}")
    print(f"download link sent to the page: median {statistics.median(sizes) / 1024:.0f} kB "
          f"(the PDF as a base64 data: URI), {len(build)} builds; with the section open "
          f"{statistics.median(event_sizes) / 1024:.0f} kB")


if __name__ == "__main__":
    main()
