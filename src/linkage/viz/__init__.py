"""linkage.viz: plots of retention panels and linkage results.

Every plot is ``f(data, *, column names..., ax=None) -> Axes`` (grids return their ``Figure``); the
small computations a plot needs (ratios of summed counts, control limits) live in
``linkage.viz._aggregate``, apart from the drawing. The chain's plots (links, key drivers, the
early-warning list) are in ``linkage.viz._service_chain``.
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
from linkage.viz._service_chain import (
    CHAIN_LABELS,
    calibration_figure,
    chain_plot,
    drivers_plot,
    link_label,
    plain_name,
    watchlist_plot,
    watchlist_table,
)

__all__ = [
    "CHAIN_LABELS",
    "CUSTOMER_COLOR",
    "EMPLOYEE_COLOR",
    "LABELS",
    "calibration_figure",
    "chain_plot",
    "drivers_plot",
    "funnel_limits",
    "funnel_plot",
    "heatmap",
    "lag_profile_plot",
    "link_label",
    "plain_name",
    "quadrant_plot",
    "rate_table",
    "trend_grid",
    "unit_plot",
    "watchlist_plot",
    "watchlist_table",
]
