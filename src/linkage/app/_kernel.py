"""Settings for a dashboard's kernel (one per viewer, many on one machine)."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]

_LIMITS = None


def one_blas_thread() -> None:
    """Run this process's BLAS (OpenBLAS/MKL, behind numpy and scipy) on one thread.

    A dashboard kernel's matrices are small (a bootstrap of a hundred units), so a second BLAS
    thread only spins: on the sample data a new period range cost the same wall time on one thread
    as on two and half the CPU (measured figures: benchmarks/README.md), and with one kernel per
    viewer on a machine of a few cores the spinning threads of one kernel take the CPU the others
    need. Called by :func:`linkage.app.show_executive` and :func:`linkage.app.show_unit_explorer`,
    so an analyst's own session is left as it is.
    """
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = threadpool_limits(limits=1, user_api="blas")
