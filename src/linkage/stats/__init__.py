"""linkage.stats: how customer retention moves with employee retention, between and within units.

Long panel in, tidy DataFrames out, one vocabulary (``method, lag, n, n_units, r, ci_low, ci_high,
p_val, p_adj, dof``). :func:`analyse` runs everything and returns a :class:`LinkageResult`; the
building blocks are exported for analysts and dashboards:

- :func:`pooled_corr`, :func:`between_corr`, :func:`rm_corr`, :func:`partial_corr` (levels);
- :func:`lag_profile`, :func:`lag_pairs`, :func:`choose_best_lag` (lead-lag with unit bootstrap);
- :func:`cross_lagged`, :func:`direction_tests`, :func:`direction_verdict`, :func:`riclpm`
  (direction), :func:`business_effect` (points and customers a year);
- :func:`shrink_rates`, :func:`beta_binomial_prior`, :func:`size_warnings` (small units);
  :func:`noise_corrected` (r, slope and business effect corrected for the binomial noise of
  small units' rates);
- :func:`chain`, :func:`mediation` (the service-profit chain link by link);
- :func:`key_drivers`, :func:`survey_reliability`, :func:`unit_reliability` (survey items as
  drivers, reliability of unit means);
- :func:`segment_linkage` (per segment or region, corrected over the groups);
- :func:`watchlist`, :func:`backtest`, :func:`operating_points` (early warning: units whose staff
  retention dropped),
  with their options in one :class:`WarningSettings`; :func:`watchlist` returns a
  :class:`Watchlist`.

Every result object (:class:`LinkageResult`, :class:`ChainResult`, :class:`Watchlist`) is a
:class:`Result`: ``summary`` (tidy table), ``to_dict()`` / ``to_json()``, ``text``, and an HTML
view.
"""

from linkage.stats.analysis import LinkageResult, analyse
from linkage.stats.bootstrap import unit_resample_counts
from linkage.stats.correlation import between_corr, partial_corr, pooled_corr, r_inference, rm_corr
from linkage.stats.direction import (
    DIRECTION_CAVEATS,
    cross_lagged,
    direction_tests,
    direction_verdict,
    granger_dh,
)
from linkage.stats.drivers import (
    dominance_weights,
    key_drivers,
    relative_weights,
)
from linkage.stats.early_warning import (
    WarningSettings,
    Watchlist,
    backtest,
    operating_points,
    watchlist,
)
from linkage.stats.effect import business_effect
from linkage.stats.lags import choose_best_lag, lag_pairs, lag_profile
from linkage.stats.noise import noise_corrected
from linkage.stats.relationships import RelationshipResult, relationship_hazard
from linkage.stats.reliability import spearman_brown, survey_reliability, unit_reliability
from linkage.stats.results import Result
from linkage.stats.riclpm import riclpm
from linkage.stats.segments import segment_linkage
from linkage.stats.service_chain import ChainResult, chain, mediation
from linkage.stats.smallunits import beta_binomial_prior, shrink_rates, size_warnings

__all__ = [
    "relationship_hazard",
    "RelationshipResult",
    "analyse",
    "LinkageResult",
    "pooled_corr",
    "between_corr",
    "rm_corr",
    "partial_corr",
    "r_inference",
    "lag_profile",
    "lag_pairs",
    "choose_best_lag",
    "cross_lagged",
    "DIRECTION_CAVEATS",
    "direction_tests",
    "direction_verdict",
    "granger_dh",
    "riclpm",
    "business_effect",
    "shrink_rates",
    "beta_binomial_prior",
    "size_warnings",
    "noise_corrected",
    "unit_resample_counts",
    "chain",
    "mediation",
    "ChainResult",
    "key_drivers",
    "relative_weights",
    "dominance_weights",
    "unit_reliability",
    "spearman_brown",
    "survey_reliability",
    "segment_linkage",
    "watchlist",
    "backtest",
    "operating_points",
    "WarningSettings",
    "Watchlist",
    "Result",
]
