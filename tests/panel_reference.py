"""A plain per-period pandas reference for the panel's five counts (test helper, also a benchmark's baseline).

It applies the docs/domain.md sentences as boolean masks on the dates, one period at a time, and
sums them per unit with ``groupby``: a second computation, independent of the package's period codes
and histograms. Used by tests/test_panel_sample.py (correctness) and benchmarks/panel_build.py
(the baseline it times build_panel against).
"""

from __future__ import annotations

import pandas as pd

COUNTS = ("start", "joined", "left", "retained", "end")


def reference_spells(table, s_col, e_col, units, bounds):
    """The five counts of ``table``'s spells per unit of ``units`` and period ``(m_start, m_end)`` of ``bounds``."""
    s, e = table[s_col], table[e_col]
    open_ = e.isna()
    frames = []
    for m_start, m_end in bounds:
        at_start = (s < m_start) & (open_ | (e >= m_start))
        masks = pd.DataFrame({
            "unit_id": table["unit_id"],
            "start": at_start,
            "joined": (s >= m_start) & (s <= m_end),
            "left": (e >= m_start) & (e <= m_end),
            "retained": at_start & (open_ | (e > m_end)),
            "end": (s <= m_end) & (open_ | (e > m_end)),
        })
        g = masks.groupby("unit_id")[list(COUNTS)].sum().reindex(units, fill_value=0)
        frames.append(g.assign(period=m_start).rename_axis("unit_id").reset_index())
    return pd.concat(frames, ignore_index=True).sort_values(["unit_id", "period"], ignore_index=True)
