"""Early warning: units whose employee retention dropped, ranked by the customers they may lose
next.

:func:`watchlist` compares each unit's employee retention over its last ``recent`` periods with its
own ``baseline`` periods before them. A drop is *flagged* when it is larger than the unit's
binomial noise allows (one-sided z above ``z``; rates from the counts, so a store of 8 is not
flagged for one leaver). Every unit gets an *expected loss*: the measured within-unit effect of
employee retention on customer retention ``lag`` periods later
(:func:`linkage.stats.business_effect`,
period-adjusted, fitted on the same history), times the drop, times the unit's customers at risk
per period, times the ``recent`` periods the drop lasted. The interval carries the effect's
unit-bootstrap interval (the drop itself is taken as measured). With a revenue column, the
customers become money at the unit's recent revenue per customer.

:func:`backtest` checks the list against what happened: for each cutoff month T it fits and flags
using only periods before T, then looks at the ``horizon`` periods from T on (by default the
measured lag): a unit *lost customers* when its customer retention there fell below its own
baseline by more than ``min_loss`` (points of retention). Precision is the share of flagged units
that lost customers, recall the share of units that lost customers that were flagged. With a
simulator truth (``truth_losses``: expected customers lost to the climate per unit and period),
the outcome is the planted one instead of the noisy observed one.

``method="forecast"`` ranks and flags by a forecast instead: the customer-retention drop each unit
will have over the next ``horizon`` periods (against its baseline), predicted from the drops it has
just had (staff retention and, with ``survey``, the employee-survey items) by a regression fitted on
the earlier cutoffs of the same history (each past cutoff's drops against the customer drop that
followed it: only periods before ``as_of``). It flags the units whose forecast exceeds ``min_loss``
(the very definition of *lost customers* the back-test scores), or the top ``share``.
:func:`operating_points` back-tests several list lengths at once (the precision / recall trade-off
leadership chooses from).

On the simulator's chain worlds the default list is precise but catches few of the units that go
on to lose customers; ``method="forecast"`` with the employee survey catches far more at the same
precision. From staff retention alone no ranking does much better than its length allows: a unit
of a dozen people loses about one a quarter, too few to read its climate from (measured figures:
benchmarks/README.md, ``chain_study.py``).

What the list is not: the expected loss is an association scaled to customers. It ranks where to
look first; it is not a forecast of any one unit's churn, and acting on it is a test, not a cure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    Grid,
    check_ci,
    check_columns,
    check_whole,
    make_grid,
)
from linkage.stats.bootstrap import percentile_ci, unit_resample_counts
from linkage.stats.effect import count_columns, effect_from_stats
from linkage.stats.lags import check_lag_range, lag_stats, profile_table
from linkage.stats.results import Result, jsonable, records

__all__ = [
    "watchlist",
    "Watchlist",
    "WarningSettings",
    "backtest",
    "operating_points",
    "calibration",
    "CALIBRATION_COLUMNS",
    "WATCHLIST_COLUMNS",
    "BACKTEST_COLUMNS",
    "OPERATING_COLUMNS",
    "METHODS",
]

WATCHLIST_COLUMNS = [
    "rank",
    "unit",
    "flag",
    "baseline",
    "recent",
    "drop",
    "drop_z",
    "customers_at_risk",
    "expected_lost",
    "expected_lost_low",
    "expected_lost_high",
    "revenue_at_risk",
    "revenue_at_risk_low",
    "revenue_at_risk_high",
    "lag",
    "slope",
    "expected_from",
    "expected_to",
    "predicted_drop",
]

BACKTEST_COLUMNS = [
    "cutoff",
    "lag",
    "horizon",
    "n_units",
    "n_flagged",
    "n_lost",
    "n_hit",
    "precision",
    "recall",
    "outcome",
    "precision_ci_low",
    "precision_ci_high",
    "recall_ci_low",
    "recall_ci_high",
]

#: columns of :func:`calibration`
CALIBRATION_COLUMNS = [
    "bin",
    "n",
    "n_units",
    "predicted",
    "observed",
    "ci_low",
    "ci_high",
    "share_lost",
    "outcome",
]

_BACKTEST_CI = ("precision_ci_low", "precision_ci_high", "recall_ci_low", "recall_ci_high")

OPERATING_COLUMNS = [
    "rule",
    "share",
    "n_cutoffs",
    "n_units",
    "n_flagged",
    "n_lost",
    "n_hit",
    "precision",
    "recall",
    "lag",
    "horizon",
    "outcome",
]

#: ``effect``: the measured staff -> customer slope times the staff drop (flag by the drop's z);
#: ``forecast``: the customer drop predicted from the recent drops by a regression on past cutoffs
METHODS = ("effect", "forecast")


@dataclass(frozen=True)
class WarningSettings:
    """The options shared by :func:`watchlist`, :func:`backtest` and :func:`operating_points`.

    Checked once, when made (:class:`~linkage.errors.InputError` for a bad value). Each function
    also takes these as keywords (``watchlist(df, lag=1)`` is ``watchlist(df,
    settings=WarningSettings(lag=1))``); keywords given with ``settings`` replace its fields.

    Attributes
    ----------
    x, y, unit, period : str
        Employee-side rate, customer-side rate and the keys.
    lag : int, optional
        Periods from an employee drop to its effect on customers (default: measured, up to
        ``max_lag``).
    max_lag, recent, baseline : int
        Largest lag tried; periods in the recent window and in the baseline window before it.
    z : float
        ``"effect"`` flags a unit when its drop is more than ``z`` standard errors.
    min_loss : float
        ``"forecast"`` flags (and the back-test calls a unit lost) above this drop per period.
    method : {"effect", "forecast"}
    survey : tuple of str
        Survey columns used as further signals by ``"forecast"``.
    share : float, optional
        Flag the top ``share`` (0-1) of units instead of the method's rule.
    horizon : int, optional
        Back-test outcome periods (default ``max(lag, 1)``).
    n_boot, seed, ci :
        Unit bootstrap of the effect or forecast (the back-test's flags do not use it).

    Examples
    --------
    >>> WarningSettings(lag=1, method="forecast", survey="es_engagement").survey
    ('es_engagement',)
    >>> WarningSettings(share=1.5)
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: share must be a number from 0 to 1, got 1.5
    """

    x: str = DEFAULT_X
    y: str = DEFAULT_Y
    unit: str = DEFAULT_UNIT
    period: str = DEFAULT_PERIOD
    lag: int | None = None
    max_lag: int = 6
    recent: int = 3
    baseline: int = 12
    z: float = 1.645
    min_loss: float = 0.005
    method: str = "effect"
    survey: tuple[str, ...] = field(default=())
    share: float | None = None
    horizon: int | None = None
    n_boot: int = 1000
    seed: int | None = 0
    ci: float = 0.95

    def __post_init__(self) -> None:
        check_ci(self.ci)
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        survey = self.survey
        survey = (survey,) if isinstance(survey, str) else tuple(survey or ())
        object.__setattr__(self, "survey", survey)
        if survey and self.method != "forecast":
            raise InputError("survey columns are used by method='forecast' only")
        share = self.share
        if share is not None and (
            isinstance(share, bool) or not np.isfinite(share) or not 0 <= share <= 1
        ):
            raise InputError(f"share must be a number from 0 to 1, got {share!r}")
        if isinstance(self.min_loss, bool) or not np.isfinite(self.min_loss):
            raise InputError(f"min_loss must be a number, got {self.min_loss!r}")
        for name, low in (("recent", 1), ("baseline", 1), ("max_lag", 0)):
            check_whole(name, getattr(self, name), low=low)
        lag = self.lag
        if lag is not None and (isinstance(lag, bool) or int(lag) != lag or lag < 0):
            raise InputError(f"lag must be a whole number >= 0 (employees lead), got {lag!r}")
        if self.horizon is not None:
            check_whole("horizon", self.horizon, low=1)
        check_whole("n_boot", self.n_boot, low=0)

    @classmethod
    def of(cls, settings: WarningSettings | None = None, **options: Any) -> WarningSettings:
        """``settings`` (default: the defaults) with the fields named in ``options`` replaced.

        Examples
        --------
        >>> WarningSettings.of(WarningSettings(lag=2), recent=4).lag
        2
        """
        base = settings if settings is not None else cls()
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
        return dataclasses.replace(base, **options) if options else base


@dataclass(frozen=True, eq=False)
class Watchlist(Result):
    """What :func:`watchlist` found: the ranked units and how the list was made.

    Attributes
    ----------
    table : DataFrame
        One row per unit (columns :data:`WATCHLIST_COLUMNS`), ranked; see :func:`watchlist`.
    lag : int
        The lag used.
    lag_found : bool
        Whether the lag was significant (``True`` when it was given).
    method : str
    coefficients : dict
        ``"forecast"``: the regression's weights (``intercept``, ``x``, then each survey column; per
        point of drop); empty for ``"effect"``.
    as_of : period value
        The last period used.
    settings : WarningSettings
    text : str
        One-paragraph summary.
    """

    table: pd.DataFrame
    lag: int
    lag_found: bool
    method: str
    coefficients: dict[str, float]
    as_of: Any
    settings: WarningSettings
    text: str = ""

    @property
    def summary(self) -> pd.DataFrame:
        """The ranked units (:attr:`table`)."""
        return self.table

    @property
    def flagged(self) -> pd.DataFrame:
        """The flagged rows of :attr:`table`."""
        return self.table[self.table["flag"]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``linkage watchlist --json`` (without its ``backtest``)."""
        s = self.settings
        return jsonable(
            {
                "settings": {
                    "x": s.x,
                    "y": s.y,
                    "as_of": self.as_of,
                    "lag": self.lag,
                    "lag_found": self.lag_found,
                    "recent": s.recent,
                    "baseline": s.baseline,
                    "z": s.z,
                    "n_boot": s.n_boot,
                    "method": self.method,
                    "survey": list(s.survey),
                    "share": s.share,
                    "min_loss": s.min_loss,
                    "coefficients": self.coefficients,
                },
                "flagged": int(self.table["flag"].sum()),
                "units": records(self.table, WATCHLIST_COLUMNS),
            }
        )

    def __repr__(self) -> str:
        return (
            f"Watchlist(method={self.method!r}, units={len(self.table)}, "
            f"flagged={int(self.table['flag'].sum())}, lag={self.lag}, as_of={self.as_of!r})"
        )

    def _html_title(self) -> str:
        return f"Watchlist ({self.method})"

    def _html_sections(self) -> list[tuple[str | None, pd.DataFrame]]:
        return [(None, self.table)]


def _window_rates(
    R: np.ndarray, N: np.ndarray | None, K: np.ndarray | None, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-unit rate over grid columns ``cols``: sum(kept) / sum(start), else the mean rate."""
    if N is not None and K is not None:
        n = np.nansum(N[:, cols], axis=1)
        k = np.nansum(K[:, cols], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, k / n, np.nan), n
    with np.errstate(invalid="ignore"):
        v = R[:, cols]
        cnt = np.isfinite(v).sum(axis=1)
        return np.where(cnt > 0, np.nansum(v, axis=1) / np.maximum(cnt, 1), np.nan), None


def _fit_effect(
    grid: Grid,
    lag: int | None,
    max_lag: int,
    n_boot: int,
    seed: int | None,
    ci: float,
    x: str,
    y: str,
    cust_per_period: float | None,
) -> tuple[int, pd.Series, bool]:
    if lag is None:
        lags = np.arange(0, max_lag + 1)
        check_lag_range(grid, lags, name="max_lag")
        stats = lag_stats(grid, lags, period_adjusted=True)
        W = unit_resample_counts(grid.n_units, 0, seed)
        prof = profile_table(stats, W, ci=ci, adjust="holm", method="rm_corr_period_adjusted")
        sig = prof[(prof["p_adj"] < 1 - ci) & (prof["r"] > 0)]
        pick = sig if len(sig) else prof[prof["r"] > 0]
        lag = int(pick["lag"].to_numpy()[np.argmax(pick["r"].to_numpy())]) if len(pick) else 0
        found = len(sig) > 0
    else:
        check_lag_range(grid, np.array([int(lag)]), name="lag")
        found = True
    stats = lag_stats(grid, np.array([int(lag)]), period_adjusted=True)
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    eff = effect_from_stats(
        stats,
        W,
        grid,
        lag=int(lag),
        x=x,
        y=y,
        customers_per_period=cust_per_period,
        ci=ci,
        method="within_slope_period_adjusted",
    )
    return int(lag), eff.iloc[0], found


def _cumsum0(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums along periods (leading zero column) of the finite values and their count."""
    ok = np.isfinite(A)
    z = np.zeros((A.shape[0], 1))
    return (
        np.concatenate([z, np.cumsum(np.where(ok, A, 0.0), axis=1)], axis=1),
        np.concatenate([z, np.cumsum(ok, axis=1, dtype=float)], axis=1),
    )


def _rates_at(
    R: np.ndarray, N: np.ndarray | None, K: np.ndarray | None, starts: np.ndarray, length: int
) -> np.ndarray:
    """Rates over the windows ``[s, s + length)`` for every start ``s`` at once: (units, starts).

    Pooled from the counts (``sum(K) / sum(N)``) when there are counts, else the mean of the finite
    rates; NaN for a window with no denominator (or no rate).
    """
    if N is not None and K is not None:
        cn, _ = _cumsum0(np.where(np.isfinite(K), N, np.nan))
        ck, _ = _cumsum0(K)
        n = cn[:, starts + length] - cn[:, starts]
        k = ck[:, starts + length] - ck[:, starts]
    else:
        k_all, c_all = _cumsum0(R)
        k = k_all[:, starts + length] - k_all[:, starts]
        n = c_all[:, starts + length] - c_all[:, starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, k / np.where(n > 0, n, 1.0), np.nan)


def _drops_at(
    R: np.ndarray,
    N: np.ndarray | None,
    K: np.ndarray | None,
    cut: np.ndarray,
    recent: int,
    baseline: int,
) -> np.ndarray:
    """``baseline`` window minus ``recent`` window before each cutoff: (units, cutoffs)."""
    return _rates_at(R, N, K, cut - recent - baseline, baseline) - _rates_at(
        R, N, K, cut - recent, recent
    )


def _forecast(
    features: Sequence[Callable[[np.ndarray], np.ndarray]],
    target: _Target,
    horizon: int,
    recent: int,
    baseline: int,
    n_boot: int,
    seed: int | None,
    ci: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the customer drop over ``horizon`` on the recent drops at every past cutoff; predict the
    next.

    ``features``: list of functions ``cuts -> (units, cuts)`` drops (missing = 0: no measured drop);
    ``target``: ``cuts -> (units, cuts)`` customer-retention drop over ``[cut, cut + horizon)``.
    Pooled least squares with an intercept over units x past cutoffs; the interval resamples units.
    Returns the coefficients, the predicted drop per unit and its interval (NaN without bootstrap).
    """
    T = target.T_periods
    train = np.arange(recent + baseline, T - horizon + 1)
    if train.size < 3:
        raise InputError(
            f"the forecast needs at least 3 past cutoffs: recent + baseline + lag + 2 = "
            f"{recent + baseline + horizon + 2} periods, got {T}"
        )
    now = np.array([T])
    X = np.stack(
        [np.ones((target.n_units, train.size))] + [np.nan_to_num(f(train)) for f in features],
        axis=2,
    )
    y = target(train)
    ok = np.isfinite(y)
    Xo = np.where(ok[:, :, None], X, 0.0)
    yo = np.where(ok, y, 0.0)
    xtx = np.einsum("ujp,ujq->upq", Xo, Xo)  # per-unit sums: the bootstrap reweights units
    xty = np.einsum("ujp,uj->up", Xo, yo)
    coef = np.linalg.pinv(xtx.sum(axis=0)) @ xty.sum(axis=0)
    Xn = np.stack(
        [np.ones(target.n_units)] + [np.nan_to_num(f(now)[:, 0]) for f in features], axis=1
    )
    pred = Xn @ coef
    lo = hi = np.full(target.n_units, np.nan)
    if n_boot:
        W = unit_resample_counts(target.n_units, int(n_boot), seed)
        p = xtx.shape[1]
        A = (W @ xtx.reshape(target.n_units, p * p)).reshape(-1, p, p)
        b = np.einsum("bpq,bq->bp", np.linalg.pinv(A), W @ xty)
        boot = b @ Xn.T  # (n_boot, units)
        a = (1 - ci) / 2
        lo, hi = np.quantile(boot, a, axis=0), np.quantile(boot, 1 - a, axis=0)
    return coef, pred, lo, hi


class _Target:
    """Customer-retention drop over ``[cut, cut + horizon)`` against the baseline before it."""

    def __init__(
        self,
        R: np.ndarray,
        N: np.ndarray | None,
        K: np.ndarray | None,
        recent: int,
        baseline: int,
        horizon: int,
    ) -> None:
        self.R, self.N, self.K = R, N, K
        self.recent, self.baseline, self.horizon = recent, baseline, horizon
        self.n_units, self.T_periods = R.shape

    def __call__(self, cuts: np.ndarray) -> np.ndarray:
        base = _rates_at(self.R, self.N, self.K, cuts - self.recent - self.baseline, self.baseline)
        return base - _rates_at(self.R, self.N, self.K, cuts, self.horizon)


def watchlist(
    data: pd.DataFrame,
    settings: WarningSettings | None = None,
    *,
    as_of: Any = None,
    revenue: str | None = None,
    **options: Any,
) -> Watchlist:
    """Units whose employee retention dropped, ranked by the customers expected to be lost.

    Parameters
    ----------
    data : DataFrame
        Long panel (one row per unit and period), ideally with the counts behind the rates
        (``employee_start``, ``employee_retained``, ``customer_start``): then rates over a window
        are
        pooled from the counts and the drop's noise is binomial.
    settings : WarningSettings, optional
        The options below (default: their defaults); keywords with the field names replace its
        fields (``watchlist(df, lag=1, n_boot=0)``).
    as_of : period value, optional
        Last period to use (later rows are ignored); default the last period in ``data``.
    revenue : str, optional
        Revenue per unit and period; with ``customer_start`` it turns customers into money.
    x, y, unit, period : str
        Employee-side rate, customer-side rate and the keys.
    lag : int, optional
        Periods from an employee drop to its effect on customers. Default: the lag in 0..``max_lag``
        with the strongest positive period-adjusted within-unit link on the history (significant
        after Holm if any is).
    max_lag : int
        Largest lag tried when ``lag`` is not given.
    recent, baseline : int
        Periods in the recent window (ending at ``as_of``) and in the baseline window just before
        it.
    z : float
        Flag a unit when its drop is more than ``z`` binomial standard errors (one-sided; 1.645 is
        5 %). Without counts the unit's own period-to-period spread in the baseline is used.
    n_boot, seed, ci :
        Unit bootstrap of the effect (or of the forecast's regression).
    method : {"effect", "forecast"}
        ``"effect"`` (default): expected loss = the within-unit slope of ``y`` on ``x`` at the lag
        times the staff drop times the customers at risk times ``recent``; flag by the drop's z.
        ``"forecast"``: predict each unit's drop in ``y`` per period over the next ``horizon =
        max(lag, 1)`` periods (its ``baseline`` rate minus its rate then) from its recent drops
        (``x`` and each ``survey`` column: baseline-window mean minus recent-window mean), by least
        squares over units x every earlier cutoff of the history whose outcome is already known
        (features built exactly as now, outcome the drop that followed); expected loss = that
        drop x customers at risk x horizon; flag when the predicted drop exceeds ``min_loss``.
        The weights are learnt from the data, so items that do not move customers get about 0.
    survey : list of str, optional
        Unit x period employee-survey columns (e.g. ``es_engagement``, item means from
        :func:`linkage.panel.employee_survey_panel`) used as further signals by ``"forecast"``.
        A window's value is the mean of the column over the window's periods where it is not
        missing: with ``align="wave"`` each wave counts once, with ``"forward"`` once per period
        it covers (which blurs a fresh wave in the recent window with the previous one).
    share : float, optional
        Flag the top ``share`` (0-1) of units by the ranking instead of the rule above: a list
        of a length chosen for the decision (see :func:`operating_points` for what each length
        caught in the past).
    min_loss : float
        ``"forecast"`` flags a unit when its predicted drop in ``y`` exceeds this (0.005 = half a
        point a period): the same threshold :func:`backtest` uses to call a unit *lost*.

    Returns
    -------
    Watchlist
        ``.table``: one row per unit, by ``expected_lost`` (largest first; by ``drop_z`` when there
        are no
        customer counts to turn the effect into customers): ``rank``, ``unit``, ``flag``,
        ``baseline``, ``recent`` (the two rates), ``drop`` (baseline - recent, as stored),
        ``drop_z``,
        ``customers_at_risk`` (customers at the start of a recent period, on average),
        ``expected_lost`` (customers), ``expected_lost_low``, ``expected_lost_high`` (from the
        effect's interval), ``revenue_at_risk`` (+ ``_low``, ``_high``; NaN without ``revenue``),
        ``lag``, ``slope`` (the effect used), ``expected_from``, ``expected_to`` (the periods the
        loss
        is expected in), ``predicted_drop`` (``"forecast"``: predicted drop in ``y`` per period over
        the horizon; NaN for ``"effect"``). ``.lag_found`` says whether the lag was significant;
        ``.coefficients`` holds the forecast's weights (``intercept``, ``x``, then each ``survey``
        column; per point of drop); ``.as_of`` the last period used.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> U, T = 60, 30
    >>> p = 0.95 + 0.02 * rng.normal(size=(U, T))
    >>> p[:5, -3:] -= 0.08  # five units lose staff over the last three months
    >>> staff = np.full((U, T), 200)
    >>> kept = rng.binomial(staff, np.clip(p, 0, 1))
    >>> e = kept / staff
    >>> cust = np.full((U, T), 400)
    >>> c = 0.97 + 0.5 * (np.roll(e, 1, axis=1) - 0.95) + 0.005 * rng.normal(size=(U, T))
    >>> c = np.clip(c, 0, 1)
    >>> df = pd.DataFrame({"unit_id": np.repeat([f"s{i:02d}" for i in range(U)], T),
    ...                    "period": np.tile(pd.date_range("2022-01-01", periods=T, freq="MS"), U),
    ...                    "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
    ...                    "employee_retention": e.ravel(), "customer_start": cust.ravel(),
    ...                    "customer_retention": c.ravel()})
    >>> wl = watchlist(df, n_boot=200)
    >>> wl.lag, wl.lag_found, sorted(wl.flagged["unit"])[:5]
    (1, True, ['s00', 's01', 's02', 's03', 's04'])
    >>> wl.table["unit"].head(5).isin(["s00", "s01", "s02", "s03", "s04"]).all()
    np.True_
    >>> fc = watchlist(df, WarningSettings(method="forecast", lag=1, min_loss=0.02, n_boot=0))
    >>> # planted slope 0.5
    >>> sorted(fc.table["unit"].head(5)), round(fc.coefficients["employee_retention"], 2)
    (['s00', 's01', 's02', 's03', 's04'], 0.51)
    """
    st = WarningSettings.of(settings, **options)
    x, y, unit, period = st.x, st.y, st.unit, st.period
    recent, baseline, method, survey = st.recent, st.baseline, st.method, list(st.survey)
    check_columns(data, {"x": x, "y": y, "unit": unit, "period": period, "revenue": revenue})
    for col in survey:
        check_columns(data, {"survey": col})
    if as_of is not None:
        per = data[period]
        try:
            cut = pd.Timestamp(as_of) if pd.api.types.is_datetime64_any_dtype(per) else as_of
            data = data[per <= cut]
        except (TypeError, ValueError):
            raise InputError(
                f"as_of {as_of!r} is not comparable with the periods", column=period
            ) from None
        if data.empty:
            raise InputError(f"no periods up to as_of {as_of!r}", column=period)
    x_den, x_num = count_columns(data, x)
    y_den, y_num = count_columns(data, y)
    has_x_counts = bool(x_den and x_num)
    has_y_counts = bool(y_den and y_num)
    wanted = [
        *((x_den, x_num) if has_x_counts else ()),
        y_den,
        y_num if method == "forecast" and has_y_counts else None,
        revenue,
        *survey,
    ]
    extra = [c for c in dict.fromkeys(wanted) if c is not None and c not in (x, y)]
    grid = make_grid(data, x=x, y=y, columns=extra, unit=unit, period=period)
    T = grid.X.shape[1]
    if T < recent + baseline:
        raise InputError(
            f"{T} periods are fewer than recent + baseline = {recent + baseline}", column=period
        )
    Nx = grid.get(x_den if has_x_counts else None)
    Kx = grid.get(x_num if has_x_counts else None)
    Ny = grid.get(y_den)
    rev = grid.get(revenue)
    cust_pp = float(np.nanmean(np.nansum(Ny, axis=0))) if Ny is not None else None
    n_boot, seed, ci = st.n_boot, st.seed, st.ci
    lag, eff, found = _fit_effect(
        grid,
        st.lag,
        int(st.max_lag),
        0 if method == "forecast" else n_boot,
        seed,
        ci,
        x,
        y,
        cust_pp,
    )
    rc = np.arange(T - recent, T)
    bc = np.arange(T - recent - baseline, T - recent)
    base, nb = _window_rates(grid.X, Nx, Kx, bc)
    now, nr = _window_rates(grid.X, Nx, Kx, rc)
    drop = base - now
    if nb is not None and nr is not None and Nx is not None and Kx is not None:
        # two-proportion z-test with the pooled rate (+0.5 / +1 so that a window with no leavers
        # still has a binomial spread)
        kb = np.nansum(Kx[:, bc], axis=1)
        kr = np.nansum(Kx[:, rc], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (kb + kr + 0.5) / (nb + nr + 1.0)
            se = np.sqrt(dispersion(Nx[:, bc], Kx[:, bc]) * p * (1 - p) * (1 / nb + 1 / nr))
    else:
        with np.errstate(invalid="ignore"):
            sd = np.nanstd(grid.X[:, bc], axis=1, ddof=1)
        se = sd * np.sqrt(1 / recent + 1 / baseline)
    with np.errstate(invalid="ignore", divide="ignore"):
        dz = np.where(se > 0, drop / se, np.nan)
    at_risk = np.nanmean(Ny[:, rc], axis=1) if Ny is not None else np.full(grid.n_units, np.nan)
    pred = np.full(grid.n_units, np.nan)
    coefs = {}
    slope = eff["slope"]
    if method == "forecast":
        h = max(int(lag), 1)
        Ky = grid.get(y_num if has_y_counts else None)
        target = _Target(grid.Y, Ny if Ky is not None else None, Ky, recent, baseline, h)
        feats: list[Callable[[np.ndarray], np.ndarray]] = [
            lambda c: _drops_at(grid.X, Nx, Kx, c, recent, baseline)
        ]
        for col in survey:
            feats.append(
                partial(_drops_at, grid[col], None, None, recent=recent, baseline=baseline)
            )
        coef, pred, plo, phi = _forecast(feats, target, h, recent, baseline, n_boot, seed, ci)
        coefs = dict(zip(["intercept", x, *survey], (float(v) for v in coef), strict=True))
        slope = coefs[x]
        scale = at_risk * h
        exp_lost, lo, hi = pred * scale, plo * scale, phi * scale
    else:
        scale = drop * at_risk * recent
        exp_lost = eff["slope"] * scale
        lo, hi = eff["ci_low"] * scale, eff["ci_high"] * scale
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    if rev is not None and Ny is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            per_cust = np.nansum(rev[:, rc], axis=1) / np.nansum(Ny[:, rc], axis=1)
    else:
        per_cust = np.full(grid.n_units, np.nan)
    periods = grid.periods
    step_off = (
        {"from": T, "to": T + max(lag, 1) - 1}
        if method == "forecast"
        else {"from": T - recent + lag, "to": T - 1 + lag}
    )
    flag = (pred > st.min_loss) if method == "forecast" else (dz > st.z) & (drop > 0)
    out = pd.DataFrame(
        {
            "unit": grid.units,
            "flag": flag,
            "baseline": base,
            "recent": now,
            "drop": drop,
            "drop_z": dz,
            "customers_at_risk": at_risk,
            "expected_lost": exp_lost,
            "expected_lost_low": lo,
            "expected_lost_high": hi,
            "revenue_at_risk": exp_lost * per_cust,
            "revenue_at_risk_low": lo * per_cust,
            "revenue_at_risk_high": hi * per_cust,
            "lag": lag,
            "slope": slope,
            "expected_from": _period_label(periods, step_off["from"], grid.step),
            "expected_to": _period_label(periods, step_off["to"], grid.step),
            "predicted_drop": pred,
        }
    )
    # without customer counts there is no expected loss: rank by the predicted drop (forecast) or by
    # the evidence of a staff drop (effect) instead
    fallback = out["predicted_drop"] if method == "forecast" else out["drop_z"]
    key = (out["expected_lost"] if out["expected_lost"].notna().any() else fallback).fillna(-np.inf)
    out = out.iloc[np.argsort(-key.to_numpy(), kind="stable")].reset_index(drop=True)
    if st.share is not None:
        out["flag"] = np.arange(len(out)) < _top_n(st.share, len(out))
    out["flag"] = out["flag"].astype(bool)
    out["rank"] = np.arange(1, len(out) + 1)
    out = out[WATCHLIST_COLUMNS]
    n_flag = int(out["flag"].sum())
    text = (
        f"{n_flag} of {len(out)} units flagged ({method}) as of {_label(periods[T - 1])}, at a "
        f"lag of {lag} {grid.step}(s)"
        + ("." if found else " (no lag was significant: the strongest positive one is used).")
    )
    return Watchlist(
        table=out,
        lag=int(lag),
        lag_found=bool(found),
        method=method,
        coefficients=coefs,
        as_of=periods[T - 1],
        settings=st,
        text=text,
    )


def _label(v: Any) -> str:
    return v.date().isoformat() if isinstance(v, pd.Timestamp) else str(v)


def _top_n(share: float, n: int) -> int:
    """Units in a top-``share`` list of ``n`` (rounded, at least 1 when ``share > 0``)."""
    return int(min(n, max(1 if share > 0 else 0, round(share * n))))


def dispersion(N: np.ndarray, K: np.ndarray) -> float:
    """Pooled quasi-binomial dispersion of monthly rates around each unit's own rate (at least 1).

    True rates move from month to month (a good quarter, a bad one), so monthly counts vary more
    than binomial noise: ``phi = sum_u sum_m n_m (r_m - p_u)^2 / (p_u (1 - p_u)) / sum_u (months_u
    - 1)`` over the units' baseline months (Pearson's statistic over its degrees of freedom, as in
    quasi-binomial regression). Standard errors are multiplied by ``sqrt(phi)``.

    Examples
    --------
    >>> N = np.full((2, 4), 100.0)
    >>> K = np.array([[90.0, 90.0, 90.0, 90.0], [80.0, 100.0, 80.0, 100.0]])
    >>> # unit 2: rates 0.8, 1.0 around 0.9: chi2 = 4 * 100 * 0.01 / 0.09 on 3 + 3 dof
    >>> round(dispersion(N, K), 3)
    7.407
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        n_u = np.nansum(N, axis=1)
        p_u = np.nansum(K, axis=1) / n_u
        r = K / N
        ok = np.isfinite(r) & (N > 0)
        var = (p_u * (1 - p_u))[:, None]
        chi = np.where(ok & (var > 0), N * (r - p_u[:, None]) ** 2 / var, 0.0).sum()
        dof = np.maximum(ok.sum(axis=1) - 1, 0)[(p_u > 0) & (p_u < 1)].sum()
    return float(max(1.0, chi / dof)) if dof > 0 else 1.0


def _period_label(periods: np.ndarray, idx: int, step: str) -> Any:
    """The period value ``idx`` steps from the first grid column (beyond the data: extrapolated)."""
    if idx < len(periods) and periods[idx] is not None:
        return periods[idx]
    last = len(periods) - 1
    v = periods[last]
    ahead = idx - last
    if isinstance(v, pd.Timestamp) or isinstance(v, np.datetime64):
        months = {"month": 1, "quarter": 3, "year": 12}.get(step)
        if months:
            return pd.Timestamp(v) + pd.DateOffset(months=months * ahead)
        return None
    try:
        gap = periods[last] - periods[last - 1] if last >= 1 else 1
        return v + gap * ahead
    except TypeError:
        return None


def backtest(
    data: pd.DataFrame,
    settings: WarningSettings | None = None,
    *,
    cutoffs: Sequence[Any] | None = None,
    n_cutoffs: int = 6,
    truth_losses: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """How often the watchlist was right: flag with the history before T, check what came after.

    **What "lost customers" means** (what the list is scored against). At cutoff T (the list is
    built from the periods before T), unit u *lost customers* when, over the ``horizon`` periods
    T .. T + horizon - 1, its customer retention (pooled from the counts) was below its own
    baseline retention (the ``baseline`` periods ending ``recent`` periods before T: the same
    baseline the list compares staff against) by more than ``min_loss`` per period: observed
    outcome. With ``truth_losses`` (planted truth), u lost customers when the planted losses per
    customer at the start of a period (``losses / customer_start``, averaged over the horizon)
    exceeded their baseline average by more than ``min_loss``: customers lost *to the planted
    cause*, above the unit's usual, free of the binomial noise of who happened to leave.

    Parameters
    ----------
    data : DataFrame
        Long panel, as :func:`watchlist`; needs ``customer_start`` and ``customer_retained`` (or the
        rate alone) for the observed outcome.
    settings : WarningSettings, optional
        As in :func:`watchlist` (keywords with its field names replace its fields).
    cutoffs : sequence of period values, optional
        Months T to test (the watchlist is built as of the period before T). Default: the last
        ``n_cutoffs`` months that leave ``horizon`` periods of outcome.
    n_cutoffs : int
        Number of default cutoffs.
    lag, max_lag, recent, baseline, z, method, survey, share :
        As in :func:`watchlist` (the lag is re-chosen at each cutoff when not given; a
        ``"forecast"`` is fitted on the history before each cutoff only).
    horizon : int, optional
        Outcome periods from T on; default ``max(lag, 1)`` (the periods the recent drop reaches).
    min_loss : float
        A unit lost customers when its customer retention over the horizon is below its baseline
        by more than this (0.005 = half a point a period), or, with ``truth_losses``, when the
        planted losses per customer exceed its baseline's by as much. ``"forecast"`` flags with
        the same threshold.
    truth_losses : DataFrame, optional
        Planted truth: ``unit``, ``period`` and ``losses`` (customers lost to the planted cause,
        e.g. the simulator's ``climate_customer_losses``) with ``customer_start`` in ``data``.
    n_boot, seed, ci :
        The lists are built without bootstrap (the flags do not depend on it); ``n_boot``
        resamples of the units (seeded by ``seed``) give the ``ci`` intervals of precision and
        recall. A unit's rows at every cutoff stay together in a resample, so the overlap of the
        cutoffs (one unit scored again and again, its outcome windows sharing months) widens the
        pooled interval as it should, instead of counting unit-cutoffs as independent.

    Returns
    -------
    DataFrame
        One row per cutoff and a final ``cutoff = "all"`` row pooling them: ``cutoff``, ``lag``,
        ``horizon``, ``n_units``, ``n_flagged``, ``n_lost``, ``n_hit`` (flagged and lost),
        ``precision`` (n_hit / n_flagged), ``recall`` (n_hit / n_lost), ``outcome`` ("observed" or
        "truth"), ``precision_ci_low``, ``precision_ci_high``, ``recall_ci_low``,
        ``recall_ci_high`` (unit-bootstrap percentile intervals; NaN with ``n_boot=0``).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> U, T = 80, 36
    >>> p = 0.95 + 0.01 * rng.normal(size=(U, T))
    >>> for t0 in (24, 28, 32):
    ...     p[rng.choice(U, 8, replace=False), t0 - 3:t0] -= 0.06   # dips before three cutoffs
    >>> staff = np.full((U, T), 150)
    >>> kept = rng.binomial(staff, p)
    >>> cs = np.full((U, T), 500)
    >>> cp = np.clip(0.97 + 0.6 * (np.roll(kept / staff, 1, axis=1) - 0.95), 0, 1)
    >>> ckept = rng.binomial(cs, cp)
    >>> df = pd.DataFrame({"unit_id": np.repeat([f"s{i:02d}" for i in range(U)], T),
    ...                    "period": np.tile(pd.date_range("2021-01-01", periods=T, freq="MS"), U),
    ...                    "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
    ...                    "employee_retention": (kept / staff).ravel(),
    ...                    "customer_start": cs.ravel(), "customer_retained": ckept.ravel(),
    ...                    "customer_retention": (ckept / cs).ravel()})
    >>> periods = pd.date_range("2021-01-01", periods=T, freq="MS")
    >>> bt = backtest(df, cutoffs=periods[[24, 28, 32]], lag=1, min_loss=0.02)
    >>> row = bt.iloc[-1]
    >>> row["cutoff"], bool(row["precision"] > 0.5), bool(row["recall"] > 0.5)
    ('all', True, True)
    """
    st = WarningSettings.of(settings, **options)
    rows = []
    per_unit: list[pd.DataFrame] = []  # flagged / lost / hit per unit and cutoff
    for cut, k, h, wl, lost_u, _obs in _cutoff_lists(
        data, st, cutoffs=cutoffs, n_cutoffs=n_cutoffs, truth_losses=truth_losses
    ):
        flag = wl["flag"].to_numpy()
        per_unit.append(
            pd.DataFrame(
                {
                    "cut": len(per_unit),
                    "unit": wl["unit"].astype(str).to_numpy(),
                    "flag": flag.astype(float),
                    "lost": lost_u.astype(float),
                    "hit": (flag & lost_u).astype(float),
                }
            )
        )
        rows.append(
            {
                "cutoff": cut,
                "lag": k,
                "horizon": h,
                "n_units": len(wl),
                "n_flagged": int(flag.sum()),
                "n_lost": int(lost_u.sum()),
                "n_hit": int((flag & lost_u).sum()),
                "outcome": "truth" if truth_losses is not None else "observed",
            }
        )
    out = pd.DataFrame(rows)
    total = {
        "cutoff": "all",
        "lag": out["lag"].iloc[-1],
        "horizon": out["horizon"].iloc[-1],
        "n_units": int(out["n_units"].sum()),
        "n_flagged": int(out["n_flagged"].sum()),
        "n_lost": int(out["n_lost"].sum()),
        "n_hit": int(out["n_hit"].sum()),
        "outcome": out["outcome"].iloc[0],
    }
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out["cutoff"] = out["cutoff"].astype(object)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["precision"] = np.where(
            out["n_flagged"] > 0,
            out["n_hit"] / out["n_flagged"].where(out["n_flagged"] > 0),
            np.nan,
        )
        out["recall"] = np.where(
            out["n_lost"] > 0, out["n_hit"] / out["n_lost"].where(out["n_lost"] > 0), np.nan
        )
    ci_cols = _unit_bootstrap_rates(pd.concat(per_unit, ignore_index=True), st)
    for col, values in ci_cols.items():
        out[col] = values
    return out[BACKTEST_COLUMNS]


def _unit_bootstrap_rates(per_unit: pd.DataFrame, st: WarningSettings) -> dict[str, np.ndarray]:
    """Percentile intervals of precision and recall per cutoff and pooled ("all", last), from a
    bootstrap that resamples units: a unit's rows at every cutoff go together, so the overlap of
    the cutoffs (the same unit, its outcome windows sharing months) stays inside each resample."""
    n_cut = int(per_unit["cut"].max()) + 1
    codes, units = pd.factorize(per_unit["unit"], sort=True)
    U = len(units)
    nan = np.full(n_cut + 1, np.nan)
    out = {c: nan.copy() for c in _BACKTEST_CI}
    if st.n_boot <= 0 or U < 2:
        return out
    cells = codes * n_cut + per_unit["cut"].to_numpy()
    tot = {
        k: np.bincount(cells, per_unit[k].to_numpy(), U * n_cut).reshape(U, n_cut)
        for k in ("flag", "lost", "hit")
    }
    for k in tot:  # the pooled row: every cutoff of a unit together
        tot[k] = np.column_stack([tot[k], tot[k].sum(axis=1)])
    W = unit_resample_counts(U, int(st.n_boot), st.seed)
    b = {k: W @ v for k, v in tot.items()}  # (n_boot, n_cut + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(b["flag"] > 0, b["hit"] / b["flag"], np.nan)
        rec = np.where(b["lost"] > 0, b["hit"] / b["lost"], np.nan)
    for name, v in (("precision", prec), ("recall", rec)):
        lo = np.full(n_cut + 1, np.nan)
        hi = np.full(n_cut + 1, np.nan)
        for j in range(n_cut + 1):  # a handful of cutoffs
            col = v[:, j][np.isfinite(v[:, j])]
            if len(col) >= 10:
                low, high = percentile_ci(col[:, None], st.ci)
                lo[j], hi[j] = float(low[0]), float(high[0])
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = lo, hi
    return out


def operating_points(
    data: pd.DataFrame,
    settings: WarningSettings | None = None,
    *,
    shares: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
    cutoffs: Sequence[Any] | None = None,
    n_cutoffs: int = 6,
    truth_losses: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """The precision / recall trade-off of the list: its own rule and lists of several lengths.

    The back-test of :func:`backtest` (same cutoffs, same meaning of *lost customers*: see there),
    pooled over the cutoffs, for the method's own flag rule and for the top ``share`` of units by
    the ranking, for each share. The ranking and the rule use only the history before each cutoff,
    and the shares are fixed in advance, so no operating point has seen the months it is scored on.
    A longer list catches more of the units that go on to lose customers (recall) and is right
    less often (precision): leadership picks the length it can act on.

    Parameters
    ----------
    data : DataFrame
        Long panel, as :func:`backtest`.
    settings : WarningSettings, optional
        As in :func:`watchlist` (keywords with its field names replace its fields; ``share`` and
        ``n_boot`` are not used).
    shares : sequence of float
        List lengths as shares of the units (0-1).
    cutoffs, n_cutoffs, x, y, unit, period, lag, max_lag, horizon, recent, baseline, z, min_loss :
        As in :func:`backtest`.
    truth_losses, seed, method, survey :
        As in :func:`backtest`.

    Returns
    -------
    DataFrame
        ``rule`` ("z > 1.645" or "forecast > 0.005" for the method's own rule, then "top 10%" ...),
        ``share`` (flagged / unit-cutoffs), ``n_cutoffs``, ``n_units`` (unit-cutoffs),
        ``n_flagged``,
        ``n_lost``, ``n_hit``, ``precision``, ``recall``, ``lag``, ``horizon`` (of the last cutoff),
        ``outcome``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> U, T = 80, 36
    >>> p = 0.95 + 0.01 * rng.normal(size=(U, T))
    >>> for t0 in (24, 28, 32):
    ...     p[rng.choice(U, 8, replace=False), t0 - 3:t0] -= 0.06   # 8 dips before three cutoffs
    >>> staff = np.full((U, T), 150)
    >>> kept = rng.binomial(staff, p)
    >>> cs = np.full((U, T), 500)
    >>> cp = np.clip(0.97 + 0.6 * (np.roll(kept / staff, 1, axis=1) - 0.95), 0, 1)
    >>> ckept = rng.binomial(cs, cp)
    >>> df = pd.DataFrame({"unit_id": np.repeat([f"s{i:02d}" for i in range(U)], T),
    ...                    "period": np.tile(pd.date_range("2021-01-01", periods=T, freq="MS"), U),
    ...                    "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
    ...                    "employee_retention": (kept / staff).ravel(),
    ...                    "customer_start": cs.ravel(), "customer_retained": ckept.ravel(),
    ...                    "customer_retention": (ckept / cs).ravel()})
    >>> periods = pd.date_range("2021-01-01", periods=T, freq="MS")
    >>> cuts = periods[[24, 28, 32]]
    >>> op = operating_points(df, shares=(0.1, 0.5), cutoffs=cuts, lag=1, min_loss=0.02)
    >>> op["rule"].tolist(), op["n_flagged"].tolist()
    (['z > 1.645', 'top 10%', 'top 50%'], [34, 24, 120])
    >>> bool(op["recall"].iloc[2] >= op["recall"].iloc[1])  # a longer list catches at least as many
    True
    """
    shares = [float(s) for s in np.atleast_1d(np.asarray(shares, dtype=float))]
    if not shares or any(not np.isfinite(s) or not 0 < s <= 1 for s in shares):
        raise InputError(f"shares must be numbers in (0, 1], got {shares!r}")
    acc: dict[str | float, list[int]] = {"rule": [0, 0, 0], **{s: [0, 0, 0] for s in shares}}
    n_units = n_cut = 0
    k: int | None = None
    h: int | None = None  # lag and horizon of the last cutoff
    st = WarningSettings.of(settings, **options)
    for _cut, lag_i, horizon_i, wl, lost_u, _obs in _cutoff_lists(
        data,
        dataclasses.replace(st, share=None),
        cutoffs=cutoffs,
        n_cutoffs=n_cutoffs,
        truth_losses=truth_losses,
    ):
        k, h = lag_i, horizon_i
        n_units += len(wl)
        n_cut += 1
        ranked = np.arange(len(wl))  # the list comes ranked
        for key in acc:
            flag = wl["flag"].to_numpy() if isinstance(key, str) else ranked < _top_n(key, len(wl))
            acc[key][0] += int(flag.sum())
            acc[key][1] += int(lost_u.sum())
            acc[key][2] += int((flag & lost_u).sum())
    own = f"z > {st.z:g}" if st.method == "effect" else f"forecast > {st.min_loss:g}"
    rows = [
        {
            "rule": own if key == "rule" else f"top {key:.0%}",
            "share": fl / n_units,
            "n_cutoffs": n_cut,
            "n_units": n_units,
            "n_flagged": fl,
            "n_lost": lost,
            "n_hit": hit,
            "precision": hit / fl if fl else np.nan,
            "recall": hit / lost if lost else np.nan,
            "lag": k,
            "horizon": h,
            "outcome": "truth" if truth_losses is not None else "observed",
        }
        for key, (fl, lost, hit) in acc.items()
    ]
    return pd.DataFrame(rows, columns=OPERATING_COLUMNS)


def calibration(
    data: pd.DataFrame,
    settings: WarningSettings | None = None,
    *,
    cutoffs: Sequence[Any] | None = None,
    n_cutoffs: int = 6,
    n_bins: int = 5,
    truth_losses: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Is the list's predicted drop the drop that followed? Predicted against observed, by bin.

    At each cutoff of :func:`backtest` (same lists, same outcome windows) every unit has a
    predicted drop in ``y`` per period (``"forecast"``: ``predicted_drop``; ``"effect"``: the
    measured slope times the staff drop) and an observed one (its baseline minus the outcome
    window's rate, or with ``truth_losses`` the rise of the planted losses per customer). The
    unit-cutoffs are cut into ``n_bins`` bins of equal size by the prediction; a calibrated list
    has each bin's mean observed drop near its mean prediction (points on the diagonal of
    :func:`linkage.viz.calibration_figure`). Intervals of the observed means come from a bootstrap
    that resamples units (every cutoff of a unit together).

    Parameters
    ----------
    data, settings, cutoffs, n_cutoffs, truth_losses :
        As in :func:`backtest` (``n_boot``, ``seed``, ``ci`` of the settings give the intervals).
    n_bins : int
        Bins of the prediction (2 to 20; fewer when predictions tie).

    Returns
    -------
    DataFrame
        :data:`CALIBRATION_COLUMNS`: ``bin`` (1 = smallest predictions), ``n`` (unit-cutoffs),
        ``n_units``, ``predicted`` and ``observed`` (mean drops per period), ``ci_low``,
        ``ci_high`` (of ``observed``), ``share_lost`` (share that lost customers in the sense of
        :func:`backtest`), ``outcome``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> U, T = 80, 36
    >>> p = 0.95 + 0.01 * rng.normal(size=(U, T))
    >>> for t0 in (24, 28, 32):
    ...     p[rng.choice(U, 8, replace=False), t0 - 3:t0] -= 0.06
    >>> staff = np.full((U, T), 150)
    >>> kept = rng.binomial(staff, p)
    >>> cs = np.full((U, T), 500)
    >>> cp = np.clip(0.97 + 0.6 * (np.roll(kept / staff, 1, axis=1) - 0.95), 0, 1)
    >>> ckept = rng.binomial(cs, cp)
    >>> df = pd.DataFrame({"unit_id": np.repeat([f"s{i:02d}" for i in range(U)], T),
    ...                    "period": np.tile(pd.date_range("2021-01-01", periods=T, freq="MS"), U),
    ...                    "employee_start": staff.ravel(), "employee_retained": kept.ravel(),
    ...                    "employee_retention": (kept / staff).ravel(),
    ...                    "customer_start": cs.ravel(), "customer_retained": ckept.ravel(),
    ...                    "customer_retention": (ckept / cs).ravel()})
    >>> periods = pd.date_range("2021-01-01", periods=T, freq="MS")
    >>> cal = calibration(df, cutoffs=periods[[24, 28, 32]], lag=1, n_bins=4, n_boot=200)
    >>> cal["n"].tolist()
    [60, 60, 60, 60]
    >>> bool(cal["observed"].iloc[-1] > cal["observed"].iloc[0])  # larger predictions, larger drops
    True
    """
    n_bins = check_whole("n_bins", n_bins, low=2)
    if n_bins > 20:
        raise InputError(f"n_bins must be from 2 to 20, got {n_bins}")
    st = WarningSettings.of(settings, **options)
    frames = []
    for _cut, _k, _h, wl, lost_u, observed in _cutoff_lists(
        data,
        dataclasses.replace(st, share=None),
        cutoffs=cutoffs,
        n_cutoffs=n_cutoffs,
        truth_losses=truth_losses,
    ):
        if st.method == "forecast":
            pred = wl["predicted_drop"].to_numpy(dtype=float)
        else:
            pred = (wl["slope"] * wl["drop"]).to_numpy(dtype=float)
        frames.append(
            pd.DataFrame(
                {
                    "unit": wl["unit"].astype(str).to_numpy(),
                    "predicted": pred,
                    "observed": observed,
                    "lost": lost_u.astype(float),
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[np.isfinite(rows["predicted"]) & np.isfinite(rows["observed"])]
    if len(rows) < 2 * n_bins:
        raise InputError(
            f"{len(rows)} unit-cutoffs with a prediction and an outcome are too few for "
            f"{n_bins} bins"
        )
    ranks = rows["predicted"].rank(method="first").to_numpy()
    bins = np.minimum((ranks - 1) * n_bins // len(rows), n_bins - 1).astype(np.int64)
    codes, units = pd.factorize(rows["unit"], sort=True)
    U = len(units)
    cells = codes * n_bins + bins
    cnt = np.bincount(cells, minlength=U * n_bins).reshape(U, n_bins).astype(float)
    obs = np.bincount(cells, rows["observed"].to_numpy(), U * n_bins).reshape(U, n_bins)
    lo = hi = np.full(n_bins, np.nan)
    if st.n_boot > 0 and U >= 2:
        W = unit_resample_counts(U, int(st.n_boot), st.seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (W @ obs) / (W @ cnt)
        lo, hi = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
        for j in range(n_bins):  # a handful of bins
            col = boot[:, j][np.isfinite(boot[:, j])]
            if len(col) >= 10:
                low, high = percentile_ci(col[:, None], st.ci)
                lo[j], hi[j] = float(low[0]), float(high[0])
    g = rows.assign(bin=bins + 1).groupby("bin")
    out = pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "n": g.size().to_numpy(),
            "n_units": g["unit"].nunique().to_numpy(),
            "predicted": g["predicted"].mean().to_numpy(),
            "observed": g["observed"].mean().to_numpy(),
            "ci_low": lo,
            "ci_high": hi,
            "share_lost": g["lost"].mean().to_numpy(),
            "outcome": "truth" if truth_losses is not None else "observed",
        }
    )
    return out[CALIBRATION_COLUMNS]


def _cutoff_lists(
    data: pd.DataFrame,
    st: WarningSettings,
    *,
    cutoffs: Sequence[Any] | None,
    n_cutoffs: int,
    truth_losses: pd.DataFrame | None,
) -> Iterator[tuple[Any, int, int, pd.DataFrame, np.ndarray, np.ndarray]]:
    """Per cutoff: (cutoff, lag, horizon, the list built before it, lost customers per unit, the
    observed drop per unit: baseline minus outcome-window retention, or the planted losses' rise),
    units in the list's order."""
    x, y, unit, period = st.x, st.y, st.unit, st.period
    lag, horizon, recent, baseline = st.lag, st.horizon, st.recent, st.baseline
    no_boot = dataclasses.replace(st, n_boot=0)  # the flags do not depend on the bootstrap
    check_columns(data, {"x": x, "y": y, "unit": unit, "period": period})
    y_den, y_num = count_columns(data, y)
    counts = [c for c in (y_den, y_num if y_den else None) if c and c not in (x, y)]
    grid = make_grid(data, x=x, y=y, columns=counts, unit=unit, period=period)
    T = grid.X.shape[1]
    Ny = grid.get(y_den)
    Ky = grid.get(y_num if y_den else None)
    L = None
    if truth_losses is not None:
        check_columns(
            truth_losses, {"unit": "unit", "period": "period", "losses": "losses"}, file="truth"
        )
        if Ny is None:
            raise InputError(
                f"truth losses need the customer counts ({y_den or 'customer_start'}) in the panel"
            )
        t = truth_losses.rename(columns={"unit": unit, "period": period})
        merged = data[[unit, period]].merge(t, on=[unit, period], how="left")
        L = make_grid(merged, columns=["losses"], unit=unit, period=period)["losses"]
    per = grid.periods
    if cutoffs is None:
        h = max(lag or 1, 1) if horizon is None else int(horizon)
        last = T - h
        idx = list(range(max(recent + baseline + 2, last - n_cutoffs + 1), last + 1))
    else:
        lookup = {
            pd.Timestamp(v) if isinstance(v, (pd.Timestamp, np.datetime64)) else v: i
            for i, v in enumerate(per)
        }
        idx = []
        for c in cutoffs:
            key = (
                pd.Timestamp(c)
                if isinstance(c, (pd.Timestamp, np.datetime64, str))
                and pd.api.types.is_datetime64_any_dtype(data[period])
                else c
            )
            if key not in lookup:
                raise InputError(f"cutoff {c!r} is not a period of the data", column=period)
            idx.append(lookup[key])
    if not idx:
        raise InputError("no cutoff leaves enough history and outcome periods")
    for i in idx:  # a handful of cutoffs; each watchlist is vectorised over units
        hist = data[data[period] < per[i]] if per[i] is not None else data
        wl = watchlist(hist, no_boot).table
        k = int(wl["lag"].iloc[0])
        h = max(k, 1) if horizon is None else int(horizon)
        oc = np.arange(i, min(i + h, T))
        bc = np.arange(i - recent - baseline, i - recent)
        pos = pd.Index(grid.units).get_indexer(wl["unit"].to_numpy())
        if L is not None and Ny is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = L / np.where(Ny > 0, Ny, np.nan)
                observed = np.nanmean(rate[:, oc], axis=1) - np.nanmean(rate[:, bc], axis=1)
        else:
            if Ny is not None and Ky is not None:
                base, _ = _window_rates(grid.Y, Ny, Ky, bc)
                after, _ = _window_rates(grid.Y, Ny, Ky, oc)
            else:
                base, _ = _window_rates(grid.Y, None, None, bc)
                after, _ = _window_rates(grid.Y, None, None, oc)
            observed = base - after
        with np.errstate(invalid="ignore"):
            lost = observed > st.min_loss
        yield per[i], k, h, wl, lost[pos], observed[pos]
