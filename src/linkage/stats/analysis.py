"""One call for a full linkage analysis: :func:`analyse` -> :class:`LinkageResult`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    DEFAULT_X,
    DEFAULT_Y,
    check_ci,
    make_grid,
)
from linkage.stats.bootstrap import unit_resample_counts
from linkage.stats.correlation import COLUMNS, between_corr, partial_corr, pooled_corr, rm_corr
from linkage.stats.direction import (
    DIRECTION_CAVEATS,
    DIRECTION_COLUMNS,
    DIRECTION_TEST_COLUMNS,
    SHORT_PANEL,
    SHORT_PANEL_FALSE_VERDICTS,
    cross_lagged_grid,
    direction_order,
    direction_tests_grid,
    direction_verdict,
    full_fits,
)
from linkage.stats.effect import (
    EFFECT_COLUMNS,
    customers_per_period,
    denominator_column,
    effect_from_stats,
)
from linkage.stats.lags import (
    LAG_COLUMNS,
    PROCEDURES,
    LagStats,
    check_lag_range,
    check_lags,
    choose_best_lag,
    lag_inference,
    lag_stats,
    profile_table,
    split_estimate,
)
from linkage.stats.noise import NOISE_COLUMNS, noise_counts, noise_for_analysis
from linkage.stats.results import Result, jsonable, records
from linkage.stats.smallunits import coverage, size_warnings
from linkage.stats.summary import plain_summary

__all__ = ["analyse", "LinkageResult"]

#: below this many units the analytic clustered test is noticeably liberal (simulation study)
FEW_UNITS_FOR_CLUSTER_TEST = 50

#: below this many units the calibration study (benchmarks/calibration_study.py) has no cell that
#: meets its targets for every method: the output says how far it can be trusted
FEW_UNITS_CALIBRATED = 15

#: what the p-values and intervals of the pooled and between rows are
_LEVEL_PROCEDURES = {
    "pooled": "t-test and Fisher-z interval treating unit-periods as independent (naive)",
    "between": "t-test and Fisher-z interval on unit means",
}

_SUMMARY_COLUMNS = [c for c in LAG_COLUMNS if c != "slope"]


@dataclass(frozen=True, eq=False)
class LinkageResult(Result):
    """Everything :func:`analyse` found, as tidy tables plus a plain-language summary.

    Attributes
    ----------
    correlations : DataFrame
        ``pooled``, ``between`` and ``rm_corr`` (within-unit) rows: ``method, n, n_units, r,
        ci_low, ci_high, p_val, dof, p_method, ci_method``. The within row's p-value, interval and
        dof come from ``p_method`` (the lag-0 row of ``lags``; with ``p_method="t"`` exactly
        rmcorr's); pooled and between rows use Fisher-z intervals.
    lags, lags_period_adjusted : DataFrame
        Lag profiles (:func:`linkage.stats.lag_profile`), plain and with period effects removed.
    direction : DataFrame
        Cross-lagged fixed-effects regressions (:func:`linkage.stats.cross_lagged`) at the lag order
        taken from the profile (``|best_lag|``, at least 1); empty when the panel has too few
        consecutive periods.
    direction_tests : DataFrame
        The formal comparison of the two directions (:func:`linkage.stats.direction_tests`: naive
        and split-panel jackknife differences of the standardised cross-lags, Dumitrescu-Hurlin
        tests; RI-CLPM rows when ``riclpm=True``).
    direction_verdict : dict
        :func:`linkage.stats.direction_verdict`: which way it runs, from the bias-corrected
        difference test only.
    partial : DataFrame
        Partial correlations at the pooled, between and within levels (empty without covariates).
    effect : DataFrame
        The business effect at ``best_lag`` (lag 0 when there is none).
    noise_corrected : DataFrame
        At every lag of the period-adjusted profile, the within-unit r, slope and customers a
        year corrected for the binomial noise of the rates, beside the raw ones
        (:func:`linkage.stats.noise_corrected`); empty, with a warning, without count columns.
    best_lag : int or None
        Largest ``|r|`` in the period-adjusted profile among lags with ``p_adj < 1 - ci``
        (Romano-Wolf over the lags by default). Its row in ``lags_period_adjusted`` is the
        *naive* estimate (chosen as the largest, so biased away from 0).
    best_lag_split : dict
        The chosen lag's r without the winner's curse: the lag chosen on a random half of the
        units, r and its interval estimated on the other half
        (:func:`linkage.stats.lags.split_estimate`).
    warnings : tuple of str
        Too few or too small units, failed parts.
    settings : dict
        The arguments of the analysis and the period step found.
    text : str
        Plain-language summary.
    """

    correlations: pd.DataFrame
    lags: pd.DataFrame
    lags_period_adjusted: pd.DataFrame
    direction: pd.DataFrame
    partial: pd.DataFrame
    effect: pd.DataFrame
    noise_corrected: pd.DataFrame
    best_lag: int | None
    warnings: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    best_lag_split: dict[str, Any] = field(default_factory=dict)
    direction_tests: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=DIRECTION_TEST_COLUMNS)
    )
    direction_verdict: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """The headline rows: the three correlations and the period-adjusted best lag."""
        corr = self.correlations.assign(lag=0, p_adj=np.nan)
        lag = 0 if self.best_lag is None else self.best_lag
        best = self.lags_period_adjusted[self.lags_period_adjusted["lag"] == lag]
        return pd.concat([corr[_SUMMARY_COLUMNS], best[_SUMMARY_COLUMNS]], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``linkage link --json`` (plain Python types, NaN as None)."""
        by = self.correlations.set_index("method")
        keys = ["r", "ci_low", "ci_high", "p_val", "n", "n_units", "dof", "p_method", "ci_method"]

        def one(method: str) -> dict[str, Any] | None:
            if method not in by.index:
                return None
            return jsonable({k: by.loc[method, k] for k in keys if k in by.columns})

        lag_keys = [
            "lag",
            "r",
            "ci_low",
            "ci_high",
            "p_val",
            "p_adj",
            "n",
            "n_units",
            "dof",
            "slope",
            "band_low",
            "band_high",
            "win_share",
        ]
        procedures = {
            "p_val": PROCEDURES[str(self.settings.get("p_method", "cr2"))],
            "ci": PROCEDURES[
                "cr2"
                if self.settings.get("p_method") == "wild"
                else self.settings.get("p_method", "cr2")
            ],
            "p_adj": str(self.lags["p_adj_method"].iloc[0])
            if "p_adj_method" in self.lags
            else None,
            "band": PROCEDURES["band"],
            "win_share": "share of unit-bootstrap resamples in which the lag has the largest |r|",
        }
        return jsonable(
            {
                "settings": self.settings,
                "pooled": one("pooled"),
                "between": one("between"),
                "within": one("rm_corr"),
                "lags": records(self.lags, lag_keys),
                "lags_period_adjusted": records(self.lags_period_adjusted, lag_keys),
                "lag_procedures": procedures,
                "best_lag": self.best_lag,
                "best_lag_split": self.best_lag_split or None,
                "direction": records(self.direction, DIRECTION_COLUMNS),
                "direction_tests": records(self.direction_tests, DIRECTION_TEST_COLUMNS),
                "direction_verdict": self.direction_verdict,
                "partial": records(self.partial, [*COLUMNS, "covariates"]),
                "effect": next(iter(records(self.effect, EFFECT_COLUMNS)), None),
                "noise_corrected": records(self.noise_corrected, NOISE_COLUMNS),
                "caveats": list(DIRECTION_CAVEATS),
                "warnings": list(self.warnings),
                "text": self.text,
            }
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"LinkageResult(x={s.get('x')!r}, y={s.get('y')!r}, units={s.get('n_units')}, "
            f"lags={s.get('min_lag')}..{s.get('max_lag')}, best_lag={self.best_lag})"
        )

    def _html_title(self) -> str:
        return f"Linkage: {self.settings.get('x')} and {self.settings.get('y')}"

    def _html_sections(self) -> list[tuple[str | None, pd.DataFrame]]:
        lags = self.lags[["lag", "r", "ci_low", "ci_high", "p_adj"]].merge(
            self.lags_period_adjusted[["lag", "r", "ci_low", "ci_high", "p_adj"]],
            on="lag",
            suffixes=("", "_period_adjusted"),
        )
        out: list[tuple[str | None, pd.DataFrame]] = [
            ("Correlations", self.correlations),
            (f"Lag profile (best lag: {self.best_lag})", lags),
        ]
        if len(self.direction):
            out.append(("Direction", self.direction.drop(columns=["method"])))
        if len(self.direction_tests):
            out.append(("Which way it runs", self.direction_tests))
        if len(self.partial):
            out.append(("Partial correlations", self.partial))
        if len(self.noise_corrected):
            out.append(
                (
                    "Corrected for the binomial noise of small units' rates",
                    self.noise_corrected.drop(columns=["method"]),
                )
            )
        return out


def _median_denominators(data: pd.DataFrame, cols: list[str | None]) -> dict[str, float]:
    out = {}
    for c in cols:
        if c is not None and pd.api.types.is_numeric_dtype(data[c]):
            v = data[c].to_numpy(dtype="float64", na_value=np.nan)
            v = v[np.isfinite(v)]
            if v.size:
                out[c] = float(np.median(v))
    return out


def analyse(
    data: pd.DataFrame,
    *,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    max_lag: int = 6,
    n_boot: int = 2000,
    seed: int | None = 0,
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
    ci: float = 0.95,
    adjust: str = "romano-wolf",
    p_method: str = "cr2",
    riclpm: bool = False,
) -> LinkageResult:
    """A full linkage analysis of ``x`` (employee side) against ``y`` (customer side).

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period (e.g. from :func:`linkage.panel.build_panel`, or
        any table with these columns). ``period`` may be dates or whole numbers (years).
    x, y, unit, period : str
        Column names.
    max_lag : int
        Lags ``-max_lag .. max_lag`` (k > 0: x at t paired with y at t + k, employees lead).
    n_boot : int
        Unit-bootstrap resamples (the same resamples serve every lag and the effect).
    seed : int or None
        Seed of the bootstrap.
    covariates : sequence of str, optional
        Columns to control for in partial correlations (e.g. unit size, region).
    weights : str, optional
        Observation weights, e.g. ``customer_start`` (the denominators): weighted correlations and
        lag profiles. The direction models stay unweighted.
    ci : float
        Confidence level; ``1 - ci`` is also the significance level of the best-lag rule.
    adjust : str
        Adjustment of lag p-values for the number of lags: "romano-wolf" (default; step-down over
        the unit-bootstrap max-t, which also gives the simultaneous bands), or "holm",
        "bonferroni", "fdr_bh", "none".
    p_method : str
        The procedure behind the within-unit p-value and interval and the lag p-values: "cr2"
        (default; CR2 unit-clustered test with Bell-McCaffrey dof, calibrated from 8 units up in
        ``benchmarks/calibration_study.py``), "wild" (wild cluster bootstrap-t p-values, Webb
        weights), "cluster" (analytic clustered t on G - 1) or "t" (rmcorr's t-test and Fisher-z
        interval: the ``within`` block is then exactly rmcorr's); see
        :func:`linkage.stats.lag_profile`.
    riclpm : bool
        Add the stationary random-intercept cross-lagged panel model
        (:func:`linkage.stats.riclpm`, the 6 most recent waves ``order`` periods apart) to
        ``direction_tests``; it costs a few seconds on large panels, so it is opt-in.

    Returns
    -------
    LinkageResult

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> e = 0.9 + 0.03 * rng.normal(size=(40, 30))
    >>> c = 0.8 + 0.4 * (np.roll(e, 2, axis=1) - 0.9) + 0.02 * rng.normal(size=(40, 30))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(40), 30).astype(str),
    ...                    "period": np.tile(pd.date_range("2022-01", periods=30, freq="MS"), 40),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel()})
    >>> res = analyse(df, max_lag=3, n_boot=300)
    >>> res.best_lag
    2
    >>> sorted(res.to_dict())[:4]
    ['best_lag', 'best_lag_split', 'between', 'caveats']
    """
    check_ci(ci)
    counts = noise_counts(data, x=x, y=y)  # laid out for the noise correction
    grid = make_grid(data, x=x, y=y, columns=counts, unit=unit, period=period, weights=weights)
    lags = check_lags(max_lag)
    check_lag_range(grid, lags)
    warns: list[str] = []
    # the three levels
    corr_rows = [
        pooled_corr(data, x=x, y=y, unit=unit, weights=weights, ci=ci),
        between_corr(data, x=x, y=y, unit=unit, weights=weights, ci=ci),
    ]
    try:
        corr_rows.append(rm_corr(data, x=x, y=y, unit=unit, weights=weights, ci=ci))
    except InputError as err:
        warns.append(f"No within-unit correlation: {err.problem}.")
    correlations = pd.concat(corr_rows, ignore_index=True)
    # lag profiles, one set of unit resamples for everything
    W = unit_resample_counts(grid.n_units, int(n_boot), seed)
    plain = lag_stats(grid, lags, period_adjusted=False)
    adj = lag_stats(grid, lags, period_adjusted=True)
    lags_plain = profile_table(
        plain, W, ci=ci, adjust=adjust, method="rm_corr", p_method=p_method, seed=seed
    )
    lags_adj = profile_table(
        adj, W, ci=ci, adjust=adjust, method="rm_corr_period_adjusted", p_method=p_method, seed=seed
    )
    correlations = _within_from_lags(correlations, lags_plain, p_method)
    best = choose_best_lag(lags_adj, alpha=round(1 - ci, 10))
    split = split_estimate(adj, ci, [0 if seed is None else seed, 3]) if best is not None else {}
    # direction, at the lag order of the profile
    order = direction_order(best, grid.X.shape[1])
    dtests = pd.DataFrame(columns=DIRECTION_TEST_COLUMNS)
    try:
        fits = full_fits(grid, order=order, ci=ci, period=period)
        direction = cross_lagged_grid(
            grid, x=x, y=y, period=period, time_effects=True, ci=ci, order=order, fits=fits
        )
        dtests = direction_tests_grid(grid, order=order, ci=ci, period=period, fits=fits)
    except InputError as err:
        direction = pd.DataFrame(columns=DIRECTION_COLUMNS)
        warns.append(f"No direction analysis: {err.problem}.")
    if riclpm:
        from linkage.stats.riclpm import riclpm_grid

        try:
            dtests = pd.concat(
                [dtests, pd.DataFrame(riclpm_grid(grid, order=order, ci=ci))], ignore_index=True
            )
        except InputError as err:
            warns.append(f"No RI-CLPM: {err.problem}.")
    if len(dtests) and grid.X.shape[1] < SHORT_PANEL:
        at, rate = SHORT_PANEL_FALSE_VERDICTS
        warns.append(
            f"With {grid.X.shape[1]} periods the bias correction of the direction test is partial: "
            "when one measure is much more persistent than the other it names a direction that is "
            f"not there more often than its level says ({100 * rate:.0f} % instead of 5 % at "
            f"{at} periods in simulation)."
        )
    verdict = direction_verdict(
        dtests,
        alpha=1 - ci,
        x_label=x.replace("_", " "),
        y_label=y.replace("_", " "),
        step=grid.step,
    )
    # partial correlations
    partial = pd.DataFrame(columns=[*COLUMNS, "covariates"])
    if covariates:
        rows = []
        for level in ("pooled", "between", "within"):
            try:
                rows.append(
                    partial_corr(
                        data,
                        x=x,
                        y=y,
                        covariates=list(covariates),
                        unit=unit,
                        level=level,
                        weights=weights,
                        ci=ci,
                    )
                )
            except InputError as err:
                if err.column is not None:
                    raise
                warns.append(f"No {level} partial correlation: {err.problem}.")
        partial = pd.concat(rows, ignore_index=True) if rows else partial
    # business effect
    eff_lag = 0 if best is None else best
    x_den, y_den = denominator_column(data, x), denominator_column(data, y)
    effect = effect_from_stats(
        adj,
        W,
        grid,
        lag=eff_lag,
        x=x,
        y=y,
        customers_per_period=customers_per_period(data, period=period, count=y_den),
        ci=ci,
        method="within_slope_period_adjusted",
        slope_ci=_slope_interval(adj, eff_lag, ci, p_method),
    )
    if best is None:
        effect = effect.assign(
            sentence="No lag stands out. At lag 0, o" + effect["sentence"].str[1:]
        )
    noise, noise_warns = noise_for_analysis(data, grid, adj, W, period=period, ci=ci, lag=eff_lag)
    warns.extend(noise_warns)
    # small and few units
    n_with, periods = coverage(grid.X, grid.Y)
    warns = (
        size_warnings(
            n_units=n_with,
            periods_per_unit=periods,
            median_denominators=_median_denominators(data, [x_den, y_den]),
        )
        + warns
    )
    warns += _method_warnings(p_method, n_with)
    settings = {
        "x": x,
        "y": y,
        "unit": unit,
        "period": period,
        "step": grid.step,
        "min_lag": int(lags.min()),
        "max_lag": int(lags.max()),
        "n_boot": int(n_boot),
        "seed": seed,
        "ci": ci,
        "adjust": adjust,
        "p_method": p_method,
        "weights": weights,
        "covariates": list(covariates) if covariates else None,
        "n_units": n_with,
        "n_obs": int((np.isfinite(grid.X) & np.isfinite(grid.Y)).sum()),
        "direction_order": order,
        "riclpm": riclpm,
        "riclpm_model": (
            f"stationary RI-CLPM over the 6 most recent {grid.step}s {order} apart, units "
            "complete on them"
            if riclpm
            else None
        ),
    }
    text = plain_summary(
        x=x,
        y=y,
        step=grid.step,
        correlations=correlations,
        lags=lags_plain,
        lags_period_adjusted=lags_adj,
        best_lag=best,
        direction=direction,
        direction_verdict=verdict,
        effect=effect,
        warnings=warns,
        noise_corrected=noise,
        ci=ci,
        alpha=round(1 - ci, 10),
        best_lag_split=split,
    )
    return LinkageResult(
        correlations=correlations,
        lags=lags_plain,
        lags_period_adjusted=lags_adj,
        direction=direction,
        partial=partial,
        effect=effect,
        noise_corrected=noise,
        best_lag=best,
        warnings=tuple(warns),
        settings=settings,
        text=text,
        best_lag_split=split,
        direction_tests=dtests,
        direction_verdict=verdict,
    )


def _within_from_lags(
    correlations: pd.DataFrame, lags: pd.DataFrame, p_method: str
) -> pd.DataFrame:
    """The correlations table with every row naming its procedure, and the within (rm_corr) row's
    p-value, interval and dof taken from the lag-0 row of the plain profile (the same procedure as
    the lags), unless ``p_method="t"``, where it stays exactly rmcorr's."""
    out = correlations.copy()
    out["p_method"] = out["method"].map(_LEVEL_PROCEDURES).astype(object)
    out["ci_method"] = out["p_method"]
    is_within = out["method"] == "rm_corr"
    lag0 = lags[lags["lag"] == 0]
    if p_method == "t" or not is_within.any() or lag0.empty:
        out.loc[is_within, ["p_method", "ci_method"]] = PROCEDURES["t"]
        return out
    row = lag0.iloc[0]
    out["dof"] = out["dof"].astype(float)
    for col in ("p_val", "ci_low", "ci_high", "dof", "p_method", "ci_method"):
        out.loc[is_within, col] = row[col]
    return out


def _slope_interval(stats: LagStats, lag: int, ci: float, p_method: str) -> tuple[float, float]:
    """The slope's interval at ``lag`` from the procedure behind the p-values."""
    j = int(np.flatnonzero(stats.lags == lag)[0])
    inf = lag_inference(stats, ci, "cr2" if p_method == "wild" else p_method)
    return float(inf.slope_low[j]), float(inf.slope_high[j])


def _method_warnings(p_method: str, n_units: int) -> list[str]:
    """How far the chosen procedure can be trusted with ``n_units`` units (measured figures:
    benchmarks/calibration_study.py, README)."""
    out = []
    if n_units < FEW_UNITS_CALIBRATED:
        out.append(
            f"With {n_units} units (fewer than {FEW_UNITS_CALIBRATED}) treat the within-unit "
            "p-values and intervals as rough: in simulation with 8 units the default CR2 test "
            "gave 4.0-5.1 % false positives at 5 % and its intervals covered 93.6-96.2 %, but the "
            "lag family is conservative (a real lead or lag is easily missed), the other tests ran "
            "up to 12 % false positives, and below 8 units nothing was checked."
        )
    if p_method == "cluster" and n_units < FEW_UNITS_FOR_CLUSTER_TEST:
        out.append(
            f"With {n_units} units the analytic clustered p-values run liberal (up to 9 % false "
            "positives at 5 % with unequal unit sizes in simulation); the default p_method='cr2' "
            "is calibrated."
        )
    if p_method == "t":
        out.append(
            "p_method='t' is rmcorr's t-test, which treats unit-periods as independent: with "
            "persistent rates and unequal unit sizes it gave 7-13 % false positives at 5 % in "
            "simulation. Use it to reproduce published rmcorr figures, not to decide."
        )
    return out
