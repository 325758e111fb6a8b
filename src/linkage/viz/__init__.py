"""linkage.viz: plots of retention panels and linkage results.

Every plot is ``f(data, *, column names..., ax=None) -> Axes`` (grids return their ``Figure``); the
small computations a plot needs (ratios of summed counts, control limits) live in
``linkage.viz._aggregate``, apart from the drawing.
"""

from linkage.viz._aggregate import funnel_limits, rate_table
from linkage.viz._plots import (
    CUSTOMER_COLOR,
    EMPLOYEE_COLOR,
    LABELS,
    funnel_plot,
    heatmap,
    lag_profile_plot,
    quadrant_plot,
    trend_grid,
    unit_plot,
)

__all__ = [
    "CUSTOMER_COLOR",
    "EMPLOYEE_COLOR",
    "LABELS",
    "funnel_limits",
    "funnel_plot",
    "heatmap",
    "lag_profile_plot",
    "quadrant_plot",
    "rate_table",
    "trend_grid",
    "unit_plot",
]
