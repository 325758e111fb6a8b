"""Plain-language summary of a linkage analysis, for people who will not read the tables.

It always states the level (units, not people), the between- and within-unit findings (and when
they disagree), the lag evidence after removing a shared calendar, the direction evidence, the
effect in business terms, and the main caveat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from linkage.words import direction_word, lead_word, p_phrase, r_interval

__all__ = ["plain_summary"]


def _r_text(row: pd.Series, ci: float) -> str:
    """``r = 0.32, 95% CI 0.20 to 0.43`` of a correlation row (no interval if it has none)."""
    lo, hi = float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan))
    return r_interval(float(row["r"]), lo, hi, level=ci, word="CI")


def _first(table: pd.DataFrame, column: str, value: object) -> pd.Series | None:
    """The first row of ``table`` whose ``column`` is ``value`` (None if there is none)."""
    rows = table[table[column] == value]
    return rows.iloc[0] if len(rows) else None


def plain_summary(
    *,
    x: str,
    y: str,
    step: str,
    correlations: pd.DataFrame,
    lags: pd.DataFrame,
    lags_period_adjusted: pd.DataFrame,
    best_lag: int | None,
    direction: pd.DataFrame,
    effect: pd.DataFrame,
    direction_verdict: dict[str, Any] | None = None,
    warnings: list[str] | tuple[str, ...],
    ci: float = 0.95,
    alpha: float = 0.05,
) -> str:
    """Paragraphs of plain text describing the result tables of :func:`linkage.stats.analyse`."""
    xs, ys = x.replace("_", " "), y.replace("_", " ")
    between = _first(correlations, "method", "between")
    within = _first(correlations, "method", "rm_corr")
    out = [
        "These results compare units (such as stores or branches), not people: they say whether "
        f"units with better {xs} also have better {ys}, not whether a person who stays keeps "
        "customers."
    ]
    if between is not None and np.isfinite(between["r"]):
        n_between = int(between["n"])
        if between["p_val"] < alpha:
            out.append(
                f"Across {n_between} units, units with higher average {xs} tend to have "
                f"{direction_word(between['r'])} average {ys} (between-unit "
                f"{_r_text(between, ci)})."
            )
        else:
            out.append(
                f"Across {n_between} units, average {xs} and average {ys} show no clear link "
                f"(between-unit {_r_text(between, ci)})."
            )
    if within is not None and np.isfinite(within["r"]):
        # significance from the unit-clustered test of lag 0 (the rmcorr t-test is too liberal on
        # small units' rates; see linkage.stats.lags.cluster_test)
        lag0 = _first(lags, "lag", 0)
        p_within = (
            float(lag0["p_val"])
            if lag0 is not None and np.isfinite(lag0["p_val"])
            else float(within["p_val"])
        )
        if p_within < alpha:
            out.append(
                f"Within a unit over time, {step}s with higher {xs} go with "
                f"{direction_word(within['r'])} {ys} (within-unit {_r_text(within, ci)})."
            )
        else:
            out.append(
                f"Within a unit over time, {xs} and {ys} show no clear link in the same {step} "
                f"(within-unit {_r_text(within, ci)})."
            )
        if (
            between is not None
            and np.sign(between["r"]) != np.sign(within["r"])
            and between["p_val"] < alpha
            and p_within < alpha
        ):
            out.append(
                "The between-unit and within-unit links point in different directions (Simpson's "
                "paradox): which units are better is not the same question as what happens when a "
                "unit improves."
            )
    n_lags = len(lags_period_adjusted)
    sig_plain = lags[lags["p_adj"] < alpha]
    if best_lag is not None:
        best = _first(lags_period_adjusted, "lag", best_lag)
        if best is None:
            raise KeyError(f"best_lag {best_lag} is not a lag of lags_period_adjusted")
        out.append(
            "After removing trends and seasonality shared by all units, the link is strongest at "
            f"lag {best_lag} ({lead_word(best_lag)}; r = {best['r']:.2f}, {ci:.0%} unit-bootstrap "
            f"CI {best['ci_low']:.2f} to {best['ci_high']:.2f}, {p_phrase(best['p_adj'])} adjusted "
            f"for {n_lags} lags)."
        )
    else:
        lo_lag, hi_lag = lags_period_adjusted["lag"].min(), lags_period_adjusted["lag"].max()
        txt = (
            f"After removing trends and seasonality shared by all units, no lag from "
            f"{int(lo_lag)} to {int(hi_lag)} shows a within-unit link once the {n_lags} lags "
            "tried are accounted for."
        )
        if len(sig_plain):
            txt += (
                " Without that adjustment some lags look linked: the two measures share a calendar "
                "(trends or seasons), which is not a link between them."
            )
        out.append(txt)
    if direction_verdict and direction_verdict.get("verdict") != "not_tested":
        # the words come from the test of the difference of the two cross-lags only
        out.append(
            "Which way it runs (cross-lagged regressions with unit and period effects, "
            "bias-corrected by split-panel jackknife): " + str(direction_verdict["sentence"])
        )
    if len(effect) and isinstance(effect["sentence"].iloc[0], str):
        out.append(effect["sentence"].iloc[0])
    out.append(
        "Main caveat: this is observational data. Even a lagged, one-directional link can come "
        "from something else that changes both (a new manager, a local competitor), so treat it "
        "as a reason to test changes, not as proof that retaining staff will retain customers."
    )
    if warnings:
        out.append("Warnings: " + " ".join(warnings))
    return "\n\n".join(out)
