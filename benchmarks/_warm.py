"""What the kernel-side benchmarks of the executive dashboard share: the dashboard on the sample
panel, warmed as a viewer's kernel is (every figure drawn once, so that later filter changes read
the cache), with its ``--rounds`` option. Not a benchmark itself (``make bench`` skips it)."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import matplotlib

matplotlib.use("Agg")


def warmed_executive(doc: str) -> tuple[argparse.Namespace, Any, list[Any]]:
    """Parse ``--rounds`` (the script's help from ``doc``), point the dashboards' cache at a new
    folder and build the executive dashboard with every value of "Show" drawn once.

    Returns the parsed options, the dashboard and the values of "Show"."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["LINKAGE_CACHE"] = tempfile.mkdtemp(prefix="linkage-bench-")
    from linkage.app import executive_dashboard

    dash = executive_dashboard(n_boot=200)
    values = list(dash.value.options)
    for v in values:  # every figure drawn once: the cached state a warmed kernel is in
        dash.value.value = v
    return args, dash, values
