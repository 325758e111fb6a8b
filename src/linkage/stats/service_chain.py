"""The service-profit chain, link by link, and whether customer retention carries the employee
effect to revenue.

:func:`chain` runs the linkage analysis of :func:`linkage.stats.analyse` on each link of the chain
(engagement survey score ``es_engagement`` -> employee retention -> customer retention -> revenue
retention by default, the column names of :func:`linkage.panel.join_chain`) and puts
the headline figures of every link in one tidy table: between units, within units in the same
period, and the best lag once shared trends and seasons are removed, each with its interval.

:func:`mediation` asks the chain's question directly: does employee retention go with revenue
retention *through* customer retention? It works within units (each unit's values demeaned, and by
default period means removed too), with the three measures aligned in time (x at t, the mediator
at t + ``lag_xm``, the outcome ``lag_my`` periods after that). The paths are those of
``pingouin.mediation_analysis`` on the demeaned, aligned rows (``a``: mediator on x; ``b``:
outcome on mediator given x; ``direct``: outcome on x given the mediator; ``total = direct +
a * b``; ``indirect = a * b``). pingouin's bootstrap resamples rows, which are not independent here
(each unit contributes many months and was demeaned with its own mean), so the intervals and
p-values come from a bootstrap that resamples whole units instead, computed exactly from per-unit
sums for all resamples at once. p-values are two-sided bootstrap p-values (as pingouin and R's
``mediation`` compute for the indirect effect).

Causal language: a mediation analysis of observational panel data estimates how the associations
decompose, not what would happen if employee retention were changed. It assumes no unmeasured
common cause of mediator and outcome, among others (Imai, Keele & Tingley 2010); the summary text
says so every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel.surveys import WAVE_COLUMNS, on_wave_months
from linkage.stats._fe import demean_grid
from linkage.stats._prep import (
    DEFAULT_PERIOD,
    DEFAULT_UNIT,
    Grid,
    check_ci,
    check_columns,
    check_whole,
    make_grid,
)
from linkage.stats.analysis import LinkageResult, analyse
from linkage.stats.bootstrap import boot_p_value, percentile_ci, unit_resample_counts
from linkage.stats.lags import LAG_COLUMNS
from linkage.stats.results import Result, jsonable, records
from linkage.words import lag_phrase

__all__ = [
    "chain",
    "mediation",
    "mediation_sensitivity",
    "linear_mediation_sensitivity",
    "MediationSensitivity",
    "SENSITIVITY_COLUMNS",
    "ChainResult",
    "DEFAULT_LINKS",
    "CHAIN_COLUMNS",
    "MEDIATION_COLUMNS",
    "MEDIATION_CAVEATS",
]

DEFAULT_LINKS: tuple[tuple[str, str], ...] = (
    ("es_engagement", "employee_retention"),
    ("employee_retention", "customer_retention"),
    ("customer_retention", "revenue_retention"),
)

CHAIN_COLUMNS = ["link", "x", "y", *LAG_COLUMNS, "best_lag"]

MEDIATION_COLUMNS = ["path", "coef", "ci_low", "ci_high", "p_val", "n", "n_units", "method"]

MEDIATION_CAVEATS = (
    "Mediation here splits an association into parts; it does not show that changing employee "
    "retention would change revenue. It assumes nothing unmeasured drives both customer "
    "retention and revenue (a local competitor, a price change), which observational data "
    "cannot guarantee.",
    "The paths are within-unit (each unit compared with itself over time, shared trends and "
    "seasons removed unless turned off); the intervals resample whole units.",
)


@dataclass(frozen=True, eq=False)
class ChainResult(Result):
    """The chain link by link, and the mediation of the employee effect on revenue.

    Attributes
    ----------
    links : DataFrame
        Per link (``link`` = "x -> y"), three rows: ``between`` (unit means, Fisher-z interval),
        ``within`` (same period, unit-bootstrap interval, clustered p) and ``best_lag`` (period
        adjusted; lag 0 when no lag stands out, then ``best_lag`` is NaN); columns
        :data:`CHAIN_COLUMNS`.
    lags : DataFrame
        The period-adjusted lag profile of every link (``link`` column first).
    mediation : DataFrame
        :func:`mediation` of the middle links (empty when the chain has no x -> m -> y pair).
    warnings : tuple of str
    settings : dict
    text : str
        Plain-language summary with the causal caveats.
    """

    links: pd.DataFrame
    lags: pd.DataFrame
    mediation: pd.DataFrame
    warnings: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    sensitivity: MediationSensitivity | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """The per-link table (:attr:`links`)."""
        return self.links

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``linkage chain --json``."""
        return jsonable(
            {
                "settings": self.settings,
                "links": records(self.links, CHAIN_COLUMNS),
                "lags": records(
                    self.lags, ["link", "lag", "n", "r", "ci_low", "ci_high", "p_val", "p_adj"]
                ),
                "mediation": records(self.mediation, MEDIATION_COLUMNS),
                "mediation_sensitivity": (
                    None if self.sensitivity is None else self.sensitivity.to_dict()
                ),
                "caveats": list(MEDIATION_CAVEATS),
                "warnings": list(self.warnings),
                "text": self.text,
            }
        )

    def __repr__(self) -> str:
        s = self.settings
        return f"ChainResult(links={s.get('links')!r}, units={s.get('n_units')})"

    _html_class = "linkage-chain"

    def _html_title(self) -> str:
        return "The chain, link by link"

    def _html_sections(self) -> list[tuple[str | None, pd.DataFrame]]:
        out: list[tuple[str | None, pd.DataFrame]] = [(None, self.links.drop(columns=["x", "y"]))]
        if len(self.mediation):
            out.append(("Mediation (within units, unit-bootstrap intervals)", self.mediation))
        return out


def _check_links(links: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    out = []
    for link in links:
        if isinstance(link, str) or len(link) != 2:
            raise InputError(f"each link must be a pair of column names (x, y), got {link!r}")
        out.append((str(link[0]), str(link[1])))
    if not out:
        raise InputError("the chain needs at least one link")
    return out


def _lag_row(method: str, row: pd.Series) -> dict[str, object]:
    """A row of the links table (:data:`LAG_COLUMNS`) from a lag-profile or correlation row; the
    columns the row lacks are NaN."""
    return {"method": method, **{c: row.get(c, np.nan) for c in LAG_COLUMNS[1:]}}


def _link_rows(res: LinkageResult, link: str, x: str, y: str) -> pd.DataFrame:
    corr = res.correlations
    rows = []
    if (corr["method"] == "between").any():  # lag 0; no p_adj, no slope
        rows.append({**_lag_row("between", corr[corr["method"] == "between"].iloc[0]), "lag": 0})
    rows.append(_lag_row("within", res.lags[res.lags["lag"] == 0].iloc[0]))
    best = 0 if res.best_lag is None else res.best_lag
    adj = res.lags_period_adjusted
    rows.append(_lag_row("best_lag", adj[adj["lag"] == best].iloc[0]))
    out = pd.DataFrame(rows)
    return out.assign(
        link=link, x=x, y=y, best_lag=np.nan if res.best_lag is None else float(res.best_lag)
    )


def _sentence(rows: pd.DataFrame, alpha: float, step: str) -> str:
    x, y = rows["x"].iloc[0].replace("_", " "), rows["y"].iloc[0].replace("_", " ")
    by = rows.set_index("method")
    bits = []
    b = by.loc["between"] if "between" in by.index else None
    if b is not None and np.isfinite(b["r"]):
        bits.append(
            f"between units r = {b['r']:.2f}"
            + (" (clear)" if b["p_val"] < alpha else " (not clear)")
        )
    bl = by.loc["best_lag"]
    if np.isfinite(rows["best_lag"].iloc[0]):
        k = int(bl.to_dict()["lag"])
        when = lag_phrase(k, step=step, x=x, y=y, style="terse")
        bits.append(
            f"within units strongest at lag {k} ({when}), r = {bl['r']:.2f}, CI "
            f"{bl['ci_low']:.2f} to {bl['ci_high']:.2f}"
        )
    else:
        bits.append("within units no lag stands out after adjusting for the lags tried")
    return f"{x} -> {y}: " + "; ".join(bits) + "."


def chain(
    data: pd.DataFrame,
    *,
    links: Sequence[Sequence[str]] = DEFAULT_LINKS,
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    max_lag: int = 6,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
    adjust: str = "holm",
    p_method: str = "cluster",
    mediate: bool = True,
    survey_align: str = "wave",
) -> ChainResult:
    """The linkage of each link of the service-profit chain, and the mediation of its middle.

    Parameters
    ----------
    data : DataFrame
        Long panel (one row per unit and period) with every column the links name, e.g. the
        simulator's panel with ``engagement`` and ``revenue_retention``.
    links : sequence of (x, y) pairs
        The links, in chain order (default :data:`DEFAULT_LINKS`). Links whose columns are missing
        from ``data`` raise :class:`InputError`.
    unit, period : str
        Column names.
    max_lag, n_boot, seed, ci, adjust, p_method :
        As in :func:`linkage.stats.analyse` (one lag profile per link, unit bootstrap, lags adjusted
        within each link).
    mediate : bool
        Also run :func:`mediation` for consecutive links x -> m, m -> y (at their best lags, 0 when
        none), e.g. employee retention -> customer retention -> revenue retention.
    survey_align : {"wave", "forward"}
        ``"wave"`` (default): survey figures (``es_*``, ``cs_*``) count only in the month their
        wave measured (:func:`linkage.panel.surveys.on_wave_months`, using the panel's
        ``es_wave`` / ``cs_wave``), so lags and links involving them are measured, not shifted by
        carried-forward values; ``"forward"``: as the panel holds them (a wave carried to later
        months counts there as if fresh; lags involving surveys come out shifted towards
        negative values). ``settings["survey_measured_on"]`` (None when no link involves a survey)
        and the text say which was used; ``settings["survey_carried_rows"]`` counts the
        carried-forward unit-months per wave column (set aside under ``"wave"``, used as fresh
        under ``"forward"``).

    Returns
    -------
    ChainResult

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> U, T = 40, 24
    >>> e = rng.normal(size=(U, T))
    >>> c = 0.6 * e + rng.normal(size=(U, T))
    >>> r = 0.7 * c + rng.normal(size=(U, T))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str),
    ...                    "period": np.tile(np.arange(T), U),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel(),
    ...                    "revenue_retention": r.ravel()})
    >>> res = chain(df, links=DEFAULT_LINKS[1:], max_lag=2, n_boot=200)
    >>> res.links.loc[res.links.method == "best_lag", ["link", "lag"]].values.tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['employee_retention -> customer_retention', 0],
     ['customer_retention -> revenue_retention', 0]]
    >>> bool(res.mediation.set_index("path").loc["indirect", "ci_low"] > 0)
    True
    """
    check_ci(ci)
    pairs = _check_links(links)
    for x, y in pairs:
        check_columns(data, {"x": x, "y": y, "unit": unit, "period": period})
    if survey_align not in ("wave", "forward"):
        raise InputError(
            f"survey_align must be 'wave' (survey figures in the months their waves measured) or "
            f"'forward' (carried-forward figures as if fresh), got {survey_align!r}"
        )
    used = [c for pair in pairs for c in pair]
    surveyed = sorted({p for p in WAVE_COLUMNS for c in used if c.startswith(p)})
    carried_rows: dict[str, int] = {}
    if surveyed:
        fresh, carried_rows = on_wave_months(data, period=period)
        data = fresh if survey_align == "wave" else data
    rows, lag_tables, warns, results = [], [], [], {}
    step = "period"
    for x, y in pairs:  # a few links; each analysis is vectorised
        res = analyse(
            data,
            x=x,
            y=y,
            unit=unit,
            period=period,
            max_lag=max_lag,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            adjust=adjust,
            p_method=p_method,
        )
        step = res.settings["step"]
        link = f"{x} -> {y}"
        results[link] = res
        rows.append(_link_rows(res, link, x, y))
        lag_tables.append(res.lags_period_adjusted.assign(link=link))
        warns += [f"{link}: {w}" for w in res.warnings]
    table = pd.concat(rows, ignore_index=True)[CHAIN_COLUMNS]
    table[["n", "n_units", "dof", "lag"]] = table[["n", "n_units", "dof", "lag"]].astype("int64")
    lags = pd.concat(lag_tables, ignore_index=True)
    lags = lags[["link", *[c for c in lags.columns if c != "link"]]]
    med = pd.DataFrame(columns=MEDIATION_COLUMNS)
    sens: MediationSensitivity | None = None
    med_pair = None
    if mediate:
        for (x1, m1), (m2, y2) in zip(pairs, pairs[1:], strict=False):
            if m1 == m2 and x1 != y2:
                med_pair = (x1, m1, y2)
        # the chain's own question: the employee effect carried to revenue (the last such triple)
    if med_pair is not None:
        x, m, y = med_pair
        bl = {lk: results[lk].best_lag for lk in results}
        lag_xm, lag_my = bl.get(f"{x} -> {m}") or 0, bl.get(f"{m} -> {y}") or 0
        for link, lag in ((f"{x} -> {m}", lag_xm), (f"{m} -> {y}", lag_my)):
            if lag < 0:
                # stated, never silently zeroed: the mediation's order is the chain's, x first
                warns.append(
                    f"{link}: its best lag is {lag} (the second measure moves first); the "
                    f"mediation assumes the chain's order and pairs that link at lag 0, so it does "
                    f"not test the reverse order."
                )
        lag_xm, lag_my = max(0, lag_xm), max(0, lag_my)
        # the same model for the estimate and for its sensitivity to a confounder
        med_args: dict[str, Any] = dict(
            x=x,
            m=m,
            y=y,
            unit=unit,
            period=period,
            lag_xm=lag_xm,
            lag_my=lag_my,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
        )
        try:
            med = mediation(data, **med_args)
        except InputError as err:
            if err.column is not None:
                raise
            warns.append(f"No mediation analysis: {err.problem}.")
        if len(med):
            sens = mediation_sensitivity(data, **med_args)
    alpha = 1 - ci
    text = [
        "These results compare units (stores, branches), not people, link by link along the chain."
    ]
    text += [_sentence(table[table["link"] == lk], alpha, step) for lk in results]
    if len(med) and med_pair is not None:
        by = med.set_index("path")
        ind, tot = by.loc["indirect"], by.loc["total"]
        x, m, y = (c.replace("_", " ") for c in med_pair)
        carried = "carries" if ind["p_val"] < alpha else "shows no clear sign of carrying"
        text.append(
            f"Within units, {m} {carried} the link from {x} to {y}: indirect path "
            f"{ind['coef']:.3g} ({ci:.0%} unit-bootstrap CI {ind['ci_low']:.3g} to "
            f"{ind['ci_high']:.3g}) of a total {tot['coef']:.3g}."
        )
        if sens is not None and np.isfinite(sens.rho_at_zero) and not ind["p_val"] < alpha:
            text.append(
                f"Sensitivity (Imai, Keele & Yamamoto 2010): the indirect path is not clearly "
                f"different from 0, so no confounder is needed to explain it away (its estimate "
                f"would reach 0 at an error correlation of rho = {sens.rho_at_zero:.2f})."
            )
        elif sens is not None and np.isfinite(sens.rho_at_zero):
            text.append(
                f"Sensitivity (Imai, Keele & Yamamoto 2010): an unmeasured cause of both {m} and "
                f"{y} would explain the indirect path away if it made their errors correlate at "
                f"rho = {sens.rho_at_zero:.2f} (the product of the shares of their unexplained "
                f"variance it explains: {sens.r2_star_at_zero:.1%}; of their total variance: "
                f"{sens.r2_tilde_at_zero:.1%}). The weaker the confounder that suffices, the more "
                "fragile the path."
            )
        text += list(MEDIATION_CAVEATS[:1])
    text.append(
        "Main caveat: observational data. Each link is an association; a link that holds with a "
        "lag and in one direction is evidence about order, not proof that improving one measure "
        "will move the next."
    )
    survey_note = _survey_note(survey_align, surveyed, carried_rows, data)
    if survey_note:
        text.append(survey_note)
    if warns:
        text.append("Warnings: " + " ".join(warns))
    n_units = int(data[unit].nunique())
    settings = {
        "links": [list(p) for p in pairs],
        "unit": unit,
        "period": period,
        "step": step,
        "max_lag": int(max_lag),
        "n_boot": int(n_boot),
        "seed": seed,
        "ci": ci,
        "adjust": adjust,
        "p_method": p_method,
        "survey_measured_on": survey_align if surveyed else None,
        "survey_carried_rows": {k: int(v) for k, v in carried_rows.items()} if surveyed else None,
        "n_units": n_units,
        "mediation": list(med_pair) if med_pair is not None and len(med) else None,
        "mediation_lags": (
            {"x_to_m": int(lag_xm), "m_to_y": int(lag_my)}
            if med_pair is not None and len(med)
            else None
        ),
    }
    return ChainResult(
        links=table,
        lags=lags,
        mediation=med,
        warnings=tuple(warns),
        settings=settings,
        text="\n\n".join(text),
        sensitivity=sens,
    )


def _survey_note(
    align: str, surveyed: list[str], carried: dict[str, int], data: pd.DataFrame
) -> str:
    """The sentence saying which months the survey links were measured on ('' without one)."""
    if not surveyed:
        return ""
    waves = [WAVE_COLUMNS[p] for p in surveyed]
    n = sum(carried.values())
    if align == "forward":
        return (
            "Survey figures were used as the panel holds them (survey_align 'forward': "
            f"{n:,} carried-forward unit-month{'s' if n != 1 else ''} counted as if fresh), so "
            "lags involving surveys are shifted towards negative values."
        )
    if not any(w in data.columns for w in waves):
        return (
            f"Survey links: the panel has no {' or '.join(waves)} column, so carried-forward "
            "survey figures cannot be told from fresh ones; build it with align='wave' to be sure."
        )
    return (
        "Survey links are measured on the months the waves measured (survey_align 'wave'; "
        f"{n:,} carried-forward unit-month{'s' if n != 1 else ''} set aside)."
    )


def _aligned(
    data: pd.DataFrame, x: str, m: str, y: str, unit: str, period: str, lag_xm: int, lag_my: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Grid]:
    """x at t, m at t + ``lag_xm`` and y at t + ``lag_xm + lag_my``, on one grid."""
    grid = make_grid(data, x=x, y=m, columns=[y], unit=unit, period=period)
    T = grid.X.shape[1]
    span = lag_xm + lag_my
    if span >= T:
        raise InputError(f"lags {lag_xm} + {lag_my} leave no periods to align ({T} periods)")
    X = grid.X[:, : T - span]
    M = grid.Y[:, lag_xm : T - lag_my]
    Y = grid[y][:, span:]
    return X, M, Y, grid


def _demeaned(
    data: pd.DataFrame,
    x: str,
    m: str,
    y: str,
    unit: str,
    period: str,
    lag_xm: int,
    lag_my: int,
    *,
    period_adjusted: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, m and y aligned (:func:`_aligned`) and demeaned within units (and periods), the mask of
    the cells holding all three, and the aligned values before demeaning (shape (3, units,
    periods))."""
    check_columns(data, {"x": x, "m": m, "y": y, "unit": unit, "period": period})
    if len({x, m, y}) < 3:
        raise InputError(f"x, m and y must be three different columns, got {x!r}, {m!r}, {y!r}")
    lag_xm, lag_my = check_whole("lag_xm", lag_xm, low=0), check_whole("lag_my", lag_my, low=0)
    X, M, Y, _ = _aligned(data, x, m, y, unit, period, lag_xm, lag_my)
    mask = np.isfinite(X) & np.isfinite(M) & np.isfinite(Y)
    if mask.sum(axis=1).clip(0, 1).sum() < 3 or mask.sum() < 10:
        raise InputError(
            "mediation needs at least 3 units and 10 aligned periods with all three measures"
        )
    raw = np.stack([X, M, Y])
    V, _ = demean_grid(raw, mask.astype(float), mask, two_way=period_adjusted)
    dx, dm, dy = V
    return dx, dm, dy, mask, raw


def mediation(
    data: pd.DataFrame,
    *,
    x: str = "employee_retention",
    m: str = "customer_retention",
    y: str = "revenue_retention",
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    lag_xm: int = 0,
    lag_my: int = 0,
    period_adjusted: bool = True,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Within-unit mediation: does ``m`` carry the link from ``x`` to ``y``? Unit-bootstrap
    intervals.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period.
    x, m, y : str
        Predictor (employee side), mediator (customer side), outcome (revenue side).
    unit, period : str
        Column names.
    lag_xm, lag_my : int
        x at t is aligned with m at t + ``lag_xm`` and y at t + ``lag_xm + lag_my`` (>= 0).
    period_adjusted : bool
        Remove period means too (shared trends and seasons), not only unit means.
    n_boot : int
        Unit-bootstrap resamples (0: no intervals).
    seed : int or None
        Seed of the bootstrap.
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        Rows ``a`` (m on x), ``b`` (y on m given x), ``direct`` (y on x given m), ``indirect``
        (a * b), ``total`` (y on x; = direct + indirect); columns ``path``, ``coef`` (from
        ``pingouin.mediation_analysis`` on the demeaned, aligned rows), ``ci_low``, ``ci_high``
        (unit-bootstrap percentile), ``p_val`` (two-sided unit-bootstrap), ``n``, ``n_units``,
        ``method``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U, T = 50, 20
    >>> e = rng.normal(size=(U, T)) + rng.normal(size=(U, 1))  # unit levels differ
    >>> c = 0.5 * e + rng.normal(size=(U, T))
    >>> r = 0.8 * c + 0.1 * e + rng.normal(size=(U, T))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str),
    ...                    "period": np.tile(np.arange(T), U),
    ...                    "employee_retention": e.ravel(), "customer_retention": c.ravel(),
    ...                    "revenue_retention": r.ravel()})
    >>> med = mediation(df, n_boot=300).set_index("path")  # planted indirect 0.5 * 0.8 = 0.4
    >>> round(float(med.loc["indirect", "coef"]), 2), bool(med.loc["indirect", "ci_low"] > 0.3)
    (0.4, True)
    """
    check_ci(ci)
    dx, dm, dy, mask, _ = _demeaned(
        data, x, m, y, unit, period, lag_xm, lag_my, period_adjusted=period_adjusted
    )
    # per-unit sums of squares and cross-products: everything the paths need
    S = {
        k: (a * b).sum(axis=1)
        for k, (a, b) in {
            "xx": (dx, dx),
            "xm": (dx, dm),
            "mm": (dm, dm),
            "xy": (dx, dy),
            "my": (dm, dy),
        }.items()
    }
    import pingouin as pg  # slow to import (seconds): only when a mediation is asked for

    rows = pd.DataFrame({"x": dx[mask], "m": dm[mask], "y": dy[mask]})
    ref = pg.mediation_analysis(data=rows, x="x", m="m", y="y", n_boot=2, seed=0).set_index("path")
    coef = {
        "a": ref.loc["m ~ X", "coef"],
        "direct": ref.loc["Direct", "coef"],
        "indirect": ref.loc["Indirect", "coef"],
        "total": ref.loc["Total", "coef"],
    }
    coef["b"] = coef["indirect"] / coef["a"] if coef["a"] != 0 else np.nan
    paths = ["a", "b", "direct", "indirect", "total"]
    lo = hi = pv = {p: np.nan for p in paths}
    U = mask.shape[0]
    if n_boot > 0:
        W = unit_resample_counts(U, int(n_boot), seed)
        s = {k: W @ v for k, v in S.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            a = s["xm"] / s["xx"]
            det = s["mm"] * s["xx"] - s["xm"] ** 2
            b = (s["xx"] * s["my"] - s["xm"] * s["xy"]) / det
            direct = (s["mm"] * s["xy"] - s["xm"] * s["my"]) / det
            boot = {"a": a, "b": b, "direct": direct, "indirect": a * b, "total": s["xy"] / s["xx"]}
        lo, hi, pv = {}, {}, {}
        for p in paths:
            v = boot[p][np.isfinite(boot[p])]
            lo[p], hi[p] = (float(q[0]) for q in percentile_ci(v[:, None], ci))
            pv[p] = float(boot_p_value(v))
    method = "within_period_adjusted" if period_adjusted else "within"
    return pd.DataFrame(
        {
            "path": paths,
            "coef": [float(coef[p]) for p in paths],
            "ci_low": [lo[p] for p in paths],
            "ci_high": [hi[p] for p in paths],
            "p_val": [pv[p] for p in paths],
            "n": int(mask.sum()),
            "n_units": int((mask.sum(axis=1) > 0).sum()),
            "method": method,
        }
    )


#: the sums of squares and cross-products the sensitivity analysis needs, with their factors
_SUM_PAIRS = {
    "xx": (0, 0),
    "xm": (0, 1),
    "mm": (1, 1),
    "xy": (0, 2),
    "my": (1, 2),
    "yy": (2, 2),
}


def _acme_at(rho: np.ndarray, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """ACME(rho) of the linear model (Imai, Keele & Yamamoto 2010, their Proposition 2) from the
    sums of squares and products of x, m and y with the covariates partialled out (any leading
    shape of the sums, ``rho`` broadcast on a new last axis), and rho~, the correlation of the
    errors of m ~ x and y ~ x at which it is 0."""
    xx, xm, mm, xy, my, yy = (s[k][..., None] for k in _SUM_PAIRS)
    a = xm / xx
    v2 = mm - xm**2 / xx  # residual SS of m ~ x
    v1 = yy - xy**2 / xx  # residual SS of y ~ x (reduced form)
    c12 = my - xm * xy / xx
    rho_t = c12 / np.sqrt(v1 * v2)
    gamma = np.sqrt(v1 / v2) * (rho_t - rho * np.sqrt((1 - rho_t**2) / (1 - rho**2)))
    return a * gamma, rho_t[..., 0]


def _residual_ss(s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Residual sums of squares of m ~ x and of y ~ x + m (covariates partialled out)."""
    xx, xm, mm, xy, my, yy = (s[k] for k in _SUM_PAIRS)
    det = mm * xx - xm**2
    b = (xx * my - xm * xy) / det
    d = (mm * xy - xm * my) / det
    return mm - xm**2 / xx, yy - b * my - d * xy


def _sur_variance(
    rho: np.ndarray, s: dict[str, float], n: int, *, max_iter: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """ACME(rho) and its delta-method variance as R's ``medsens`` computes them for two linear
    models: the mediator and outcome equations estimated jointly by feasible GLS with their error
    correlation fixed at ``rho`` (iterated to its fixed point from OLS; error variances
    ``e'e / (n - 1)``), then ``var = a^2 V(b) + b^2 V(a)`` from the GLS covariance.

    The covariates are partialled out of x, m and y first (``s`` holds their sums): both
    equations hold them, so GLS with ``Omega (x) I`` gives the same estimates and covariance
    block for x and m (Frisch-Waugh-Lovell), and the system shrinks to three coefficients:
    ``m = a x + e1``, ``y = d x + b m + e2``.
    """
    xx, xm, mm, xy, my, yy = (float(s[k]) for k in _SUM_PAIRS)
    det0 = xx * mm - xm**2
    a = np.full(len(rho), xm / xx)
    d = np.full(len(rho), (mm * xy - xm * my) / det0)
    b = np.full(len(rho), (xx * my - xm * xy) / det0)
    A = np.zeros((len(rho), 3, 3))
    for _ in range(max_iter):
        s11 = (mm - 2 * a * xm + a**2 * xx) / (n - 1)
        s22 = (yy + d**2 * xx + b**2 * mm - 2 * d * xy - 2 * b * my + 2 * d * b * xm) / (n - 1)
        s12 = rho * np.sqrt(s11 * s22)
        det = s11 * s22 - s12**2
        w11, w12, w22 = s22 / det, -s12 / det, s11 / det
        A = np.stack(
            [
                np.stack([w11 * xx, w12 * xx, w12 * xm], -1),
                np.stack([w12 * xx, w22 * xx, w22 * xm], -1),
                np.stack([w12 * xm, w22 * xm, w22 * mm], -1),
            ],
            -2,
        )
        rhs = np.stack([w11 * xm + w12 * xy, w12 * xm + w22 * xy, w12 * mm + w22 * my], -1)
        new = np.linalg.solve(A, rhs[..., None])[..., 0]
        step = np.abs(new - np.stack([a, d, b], -1)).max()
        a, d, b = new[:, 0], new[:, 1], new[:, 2]
        if step <= 1e-13 * (1 + np.abs(new).max()):
            break
    V = np.linalg.inv(A)
    return a * b, b**2 * V[:, 0, 0] + a**2 * V[:, 2, 2]


def _rho_grid(rhos: Sequence[float] | None) -> np.ndarray:
    grid = np.round(np.arange(-0.9, 0.9001, 0.05), 2) if rhos is None else np.asarray(rhos, float)
    if grid.ndim != 1 or not len(grid) or not (np.abs(grid) < 1).all():
        raise InputError(f"rhos must be numbers strictly between -1 and 1, got {rhos!r}")
    return grid


#: columns of :func:`mediation_sensitivity`
SENSITIVITY_COLUMNS = ["rho", "acme", "ci_low", "ci_high", "r2_star_prod", "r2_tilde_prod"]


@dataclass(frozen=True)
class MediationSensitivity:
    """How strong an unmeasured confounder of mediator and outcome would have to be.

    Attributes
    ----------
    table : DataFrame
        :data:`SENSITIVITY_COLUMNS`, one row per ``rho`` of the grid.
    rho_at_zero : float
        The correlation of the mediator's and outcome's errors at which the indirect effect is 0
        (exact; R's ``medsens`` prints the nearest point of its grid).
    r2_star_at_zero, r2_tilde_at_zero : float
        The same as the product of the shares of the mediator's and outcome's *residual*
        variance (``rho^2``) and of their *total* variance that the confounder would have to
        explain.
    r2_m, r2_y : float
        R^2 of the mediator and outcome models as fitted (covariates, or unit and period effects,
        counted as explained), as R's ``summary(lm(...))$r.squared``.
    intervals : str
        How ``ci_low`` and ``ci_high`` were computed.
    """

    table: pd.DataFrame
    rho_at_zero: float
    r2_star_at_zero: float
    r2_tilde_at_zero: float
    r2_m: float
    r2_y: float
    intervals: str = "unit bootstrap, percentile"

    def to_dict(self) -> dict[str, Any]:
        """The ``mediation_sensitivity`` object of ``linkage chain --json``."""
        return jsonable(
            {
                "method": "Imai, Keele & Yamamoto (2010) rho sensitivity (linear models)",
                "intervals": self.intervals,
                "rho_at_zero": self.rho_at_zero,
                "r2_star_at_zero": self.r2_star_at_zero,
                "r2_tilde_at_zero": self.r2_tilde_at_zero,
                "r2_m": self.r2_m,
                "r2_y": self.r2_y,
                "grid": records(self.table, SENSITIVITY_COLUMNS),
            }
        )


def _sensitivity(
    grid: np.ndarray,
    s: dict[str, np.ndarray],
    tss_m: float,
    tss_y: float,
    lo: np.ndarray,
    hi: np.ndarray,
    intervals: str,
) -> MediationSensitivity:
    """The result from the sums of the partialled x, m, y (shape (1,)) and the total sums of
    squares of m and y about their means."""
    with np.errstate(divide="ignore", invalid="ignore"):
        acme, rho_t = _acme_at(grid, s)
        rss_m, rss_y = _residual_ss(s)
    rt = float(rho_t[0])
    rm, ry = 1 - float(rss_m[0]) / tss_m, 1 - float(rss_y[0]) / tss_y
    shrink = (1 - rm) * (1 - ry)
    table = pd.DataFrame(
        {
            "rho": grid,
            "acme": acme[0],
            "ci_low": lo,
            "ci_high": hi,
            "r2_star_prod": grid**2,
            "r2_tilde_prod": grid**2 * shrink,
        }
    )
    return MediationSensitivity(
        table=table,
        rho_at_zero=rt,
        r2_star_at_zero=rt**2,
        r2_tilde_at_zero=rt**2 * shrink,
        r2_m=rm,
        r2_y=ry,
        intervals=intervals,
    )


def mediation_sensitivity(
    data: pd.DataFrame,
    *,
    x: str = "employee_retention",
    m: str = "customer_retention",
    y: str = "revenue_retention",
    unit: str = DEFAULT_UNIT,
    period: str = DEFAULT_PERIOD,
    lag_xm: int = 0,
    lag_my: int = 0,
    period_adjusted: bool = True,
    rhos: Sequence[float] | None = None,
    n_boot: int = 2000,
    seed: int | None = 0,
    ci: float = 0.95,
) -> MediationSensitivity:
    """Sensitivity of the within-unit indirect effect to an unmeasured mediator-outcome confounder.

    The method of Imai, Keele & Yamamoto (2010, *Statistical Science* 25, 51-71), as R's
    ``mediation::medsens`` computes it for two linear models (:func:`linear_mediation_sensitivity`
    reproduces its published JOBS II example): an unmeasured confounder of the mediator and the
    outcome makes their errors correlate, ``rho = corr(e_m, e_y)``, which the mediation of
    :func:`mediation` assumes to be 0. For any ``rho`` the indirect effect is identified,
    ``ACME(rho) = a * (s1 / s2) * (rt - rho * sqrt((1 - rt^2) / (1 - rho^2)))``, with ``s1``,
    ``s2`` the error standard deviations of y on x and m on x, and ``rt`` the correlation of
    those errors; it is 0 at ``rho = rt``. ``r2_star_prod = rho^2`` is the product of the shares
    of the mediator's and outcome's residual variance a confounder would explain, ``r2_tilde_prod
    = rho^2 (1 - R^2_M)(1 - R^2_Y)`` the product of the shares of their total variance (Imai et
    al.'s ``R^2_M* R^2_Y*`` and ``R~^2_M R~^2_Y``).

    The models are those of :func:`mediation`: unit (and period) effects, on the aligned rows.
    The estimates are those R gives for ``lm(m ~ x + factor(unit) + factor(period))`` and
    ``lm(y ~ x + m + factor(unit) + factor(period))``, and so are ``R^2_M``, ``R^2_Y``: the
    differences between units (and periods) count as explained, the total variance is that of
    all aligned unit-periods. Intervals resample whole units (R's are delta-method intervals that
    take the rows as independent).

    Parameters
    ----------
    data, x, m, y, unit, period, lag_xm, lag_my, period_adjusted, n_boot, seed, ci :
        As in :func:`mediation`.
    rhos : sequence of float, optional
        The grid of ``rho`` (default -0.9 to 0.9 by 0.05), each inside (-1, 1).

    Returns
    -------
    MediationSensitivity

    Examples
    --------
    A planted confounder u of m and y (not of x): the naive indirect effect is biased, and at the
    errors' true correlation the sensitivity analysis gives back the planted a * b = 0.5 * 0.4:

    >>> rng = np.random.default_rng(1)
    >>> U, T = 400, 24
    >>> xv = rng.normal(size=(U, T)); u = rng.normal(size=(U, T))
    >>> mv = 0.5 * xv + 0.6 * u + 0.8 * rng.normal(size=(U, T))
    >>> yv = 0.4 * mv + 0.6 * u + 0.8 * rng.normal(size=(U, T))
    >>> df = pd.DataFrame({"unit_id": np.repeat(np.arange(U), T).astype(str),
    ...                    "period": np.tile(np.arange(T), U), "employee_retention": xv.ravel(),
    ...                    "customer_retention": mv.ravel(), "revenue_retention": yv.ravel()})
    >>> sens = mediation_sensitivity(df, rhos=[0.0, 0.36], n_boot=0)  # 0.36 / (1 * 1) planted
    >>> naive, at_truth = sens.table["acme"]  # naive: 0.5 * (0.4 + 0.36) = 0.38
    >>> round(naive, 1), bool(abs(at_truth - 0.2) < 0.03), round(sens.rho_at_zero, 1)
    (0.4, True, 0.6)
    """
    check_ci(ci)
    grid = _rho_grid(rhos)
    dx, dm, dy, mask, raw = _demeaned(
        data, x, m, y, unit, period, lag_xm, lag_my, period_adjusted=period_adjusted
    )
    V = (dx, dm, dy)
    S = {k: np.where(mask, V[i] * V[j], 0.0).sum(axis=1) for k, (i, j) in _SUM_PAIRS.items()}
    tss = [float(((v[mask] - v[mask].mean()) ** 2).sum()) for v in raw[1:]]
    lo = hi = np.full(len(grid), np.nan)
    if n_boot > 0:
        W = unit_resample_counts(mask.shape[0], int(n_boot), seed)
        with np.errstate(divide="ignore", invalid="ignore"):
            boot, _ = _acme_at(grid, {k: W @ v for k, v in S.items()})
        boot = boot[np.isfinite(boot).all(axis=1)]
        lo, hi = percentile_ci(boot, ci)
    total = {k: v.sum(keepdims=True) for k, v in S.items()}
    return _sensitivity(grid, total, tss[0], tss[1], lo, hi, "unit bootstrap, percentile")


def _design(data: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    """The intercept and the covariates as R's ``lm`` codes them: numbers as they are, any other
    column (text, category, boolean) as indicators of its levels but the first."""
    cols = [np.ones((len(data), 1))]
    for c in covariates:
        v = data[c]
        if pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v):
            cols.append(v.to_numpy(float)[:, None])
        else:
            cols.append(pd.get_dummies(v, drop_first=True, dtype=float).to_numpy())
    return np.hstack(cols)


def linear_mediation_sensitivity(
    data: pd.DataFrame,
    *,
    x: str,
    m: str,
    y: str,
    covariates: Sequence[str] = (),
    rhos: Sequence[float] | None = None,
    ci: float = 0.95,
) -> MediationSensitivity:
    """Imai, Keele & Yamamoto's sensitivity analysis of a mediation with two linear models, as R's
    ``mediation::medsens`` for ``lm`` mediator and outcome models, on independent rows.

    The models are ``m ~ x + covariates`` and ``y ~ x + m + covariates`` (intercepts included);
    ``rho`` is the correlation of their errors that an unmeasured confounder of ``m`` and ``y``
    would create. ``acme`` is the indirect effect identified at each ``rho`` (closed form, equal
    to R's iterated feasible-GLS estimate), with R's delta-method interval from the GLS
    covariance of the two equations at that ``rho``. :func:`mediation_sensitivity` is the same
    analysis within units of a panel, with unit-bootstrap intervals.

    Parameters
    ----------
    data : DataFrame
        One row per independent observation (no missing values in the columns used).
    x, m, y : str
        Treatment (or exposure), mediator and outcome columns (numbers).
    covariates : sequence of str
        Columns in both models: numbers enter as they are, other columns (text, categories,
        booleans) as indicators of their levels but the first, as R's ``lm`` codes a factor.
    rhos : sequence of float, optional
        The grid of ``rho`` (default -0.9 to 0.9 by 0.05), each inside (-1, 1).
    ci : float
        Confidence level of the intervals.

    Returns
    -------
    MediationSensitivity
        ``table`` (:data:`SENSITIVITY_COLUMNS`), the exact ``rho_at_zero`` and its R^2 products,
        ``r2_m`` and ``r2_y`` (R^2 of the two models, covariates counted as explained).

    Examples
    --------
    A confounder u of m and y planted at an error correlation of 0.5: at that ``rho`` the
    analysis gives back the planted indirect effect a * b = 0.6 * 0.5 = 0.3.

    >>> rng = np.random.default_rng(2)
    >>> n = 20_000
    >>> t = rng.integers(0, 2, n); age = rng.normal(40, 10, n); u = rng.normal(size=n)
    >>> med = 0.6 * t + 0.02 * age + np.sqrt(0.5) * (u + rng.normal(size=n))
    >>> out = 0.5 * med + 0.2 * t + 0.01 * age + np.sqrt(0.5) * (u + rng.normal(size=n))
    >>> df = pd.DataFrame({"t": t, "m": med, "y": out, "age": age})
    >>> sens = linear_mediation_sensitivity(df, x="t", m="m", y="y", covariates=["age"],
    ...                                     rhos=[0.0, 0.5])
    >>> naive, at_truth = sens.table["acme"]  # naive: 0.6 * (0.5 + 0.5) = 0.6
    >>> round(naive, 1), round(at_truth, 1)
    (0.6, 0.3)
    """
    check_ci(ci)
    grid = _rho_grid(rhos)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    roles: dict[str, str | None] = {"x": x, "m": m, "y": y}
    roles.update({f"covariate {c}": c for c in covariates})
    check_columns(data, roles)
    if len({x, m, y}) < 3 or {x, m, y} & set(covariates):
        raise InputError(
            f"x, m, y and the covariates must be different columns, got x={x!r}, m={m!r}, "
            f"y={y!r}, covariates={covariates!r}"
        )
    used = [x, m, y, *covariates]
    for c in (x, m, y):
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            raise InputError(f"{c!r} must hold numbers", column=c)
    missing = data[used].isna().to_numpy()
    if missing.any():
        row, col = np.argwhere(missing)[0]
        raise InputError(
            "the models need every value of x, m, y and the covariates (R's lm would drop the "
            "row without saying so in its result)",
            row=int(row) + 1,
            column=used[col],
        )
    Z = _design(data, covariates)
    V = data[[x, m, y]].to_numpy(float)
    resid = V - Z @ np.linalg.lstsq(Z, V, rcond=None)[0]
    n, rank = len(data), int(np.linalg.matrix_rank(Z))
    if n - rank - 2 < 1:
        raise InputError(f"{n} rows leave no degrees of freedom for the outcome model")
    tss = ((V - V.mean(axis=0)) ** 2).sum(axis=0)
    s = {k: np.array([resid[:, i] @ resid[:, j]]) for k, (i, j) in _SUM_PAIRS.items()}
    if not s["xx"][0] > 1e-12 * tss[0] or not _residual_ss(s)[0][0] > 1e-12 * tss[1]:
        raise InputError(
            f"{x!r} (or {m!r} given {x!r}) is constant once the covariates are accounted for",
            column=x,
        )
    from scipy.stats import norm

    acme, var = _sur_variance(grid, {k: v[0] for k, v in s.items()}, n)
    half = norm.ppf(0.5 + ci / 2) * np.sqrt(var)
    return _sensitivity(
        grid,
        s,
        float(tss[1]),
        float(tss[2]),
        acme - half,
        acme + half,
        "delta method, GLS covariance at each rho (as R's medsens)",
    )
