"""Plain-language summary of a linkage analysis, for people who will not read the tables.

It always states the level (units, not people), the between- and within-unit findings (and when
they disagree), the lag evidence after removing a shared calendar, the direction evidence, the
effect in business terms, and the main caveat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from linkage.words import direction_word, interval, lead_word, open_interval, p_phrase, r_interval

__all__ = ["plain_summary", "verdict"]


def _r_text(row: pd.Series, ci: float) -> str:
    """``r = 0.32, 95% CI 0.20 to 0.43`` of a correlation row (no interval if it has none)."""
    lo, hi = float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan))
    return r_interval(float(row["r"]), lo, hi, level=ci, word="CI")


def _first(table: pd.DataFrame, column: str, value: object) -> pd.Series | None:
    """The first row of ``table`` whose ``column`` is ``value`` (None if there is none)."""
    rows = table[table[column] == value]
    return rows.iloc[0] if len(rows) else None


def verdict(p: float, lo: float, hi: float, alpha: float) -> str:
    """What a p-value and its interval say together: "link", "none" or "mixed".

    "link" when ``p < alpha`` and the interval excludes 0, "none" when ``p >= alpha`` and it
    includes 0, "mixed" when they disagree (possible only when they come from different
    procedures) or p is missing. A missing interval defers to p.

    Examples
    --------
    >>> verdict(0.01, 0.1, 0.5, 0.05), verdict(0.2, -0.1, 0.3, 0.05), verdict(0.03, -0.1, 0.3, 0.05)
    ('link', 'none', 'mixed')
    """
    if not np.isfinite(p):
        return "mixed"
    sig = p < alpha
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "link" if sig else "none"
    excludes = lo > 0 or hi < 0
    if sig and excludes:
        return "link"
    if not sig and not excludes:
        return "none"
    return "mixed"


def _row_verdict(row: pd.Series, alpha: float, p_col: str = "p_val") -> str:
    return verdict(
        float(row[p_col]),
        float(row.get("ci_low", np.nan)),
        float(row.get("ci_high", np.nan)),
        alpha,
    )


def _noise_sentence(table: pd.DataFrame, lag: int, xs: str, ys: str, ci: float) -> str:
    """The noise-corrected r and slope at ``lag`` in one sentence ("" without that lag)."""
    row = _first(table, "lag", lag)
    if row is None:
        return ""
    share = (
        f"binomial noise: {max(row['reliability_x'], 0.0):.0%} of the within-unit variation of "
        f"{xs} and {max(row['reliability_y'], 0.0):.0%} of {ys} is more than chance"
    )
    if not np.isfinite(row["slope_corrected"]):
        return (
            f"The chance swings of rates from few people ({share}) leave too little to correct "
            "the link for them."
        )
    text = (
        f"Allowing for the chance swings of rates from few people ({share}), the within-unit "
        f"link at lag {lag} would be r = {row['r_corrected']:.2f} "
        f"({open_interval(row['r_ci_low'], row['r_ci_high'], level=ci, word='CI')}) instead of "
        f"{row['r']:.2f}, and the slope {row['slope_corrected']:.2f} "
        f"({open_interval(row['slope_ci_low'], row['slope_ci_high'], level=ci, word='CI')}) "
        f"instead of {row['slope']:.2f}"
    )
    if np.isfinite(row["customers_per_year_corrected"]):
        text += f", about {row['customers_per_year_corrected']:,.0f} customers a year"
        lo, hi = row["customers_ci_low"], row["customers_ci_high"]
        if np.isfinite(lo) and np.isfinite(hi):
            text += f" ({lo:,.0f} to {hi:,.0f})"
    return text + "; the raw figures are what the noisy rates show."


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
    best_lag_split: dict[str, Any] | None = None,
    noise_corrected: pd.DataFrame | None = None,
) -> str:
    """Paragraphs of plain text describing the result tables of :func:`linkage.stats.analyse`.

    ``noise_corrected`` (:func:`linkage.stats.noise_corrected`'s table), when given, adds one
    sentence after the effect: the r and slope at the effect's lag once the binomial noise of
    the rates is allowed for.
    """
    xs, ys = x.replace("_", " "), y.replace("_", " ")
    between = _first(correlations, "method", "between")
    within = _first(correlations, "method", "rm_corr")
    out = [
        "These results compare units (such as stores or branches), not people: they say whether "
        f"units with better {xs} also have better {ys}, not whether a person who stays keeps "
        "customers."
    ]
    between_says = within_says = "none"
    if between is not None and np.isfinite(between["r"]):
        n_between = int(between["n"])
        between_says = _row_verdict(between, alpha)
        nums = f"between-unit {_r_text(between, ci)}, {p_phrase(float(between['p_val']))}"
        if between_says == "link":
            out.append(
                f"Across {n_between} units, units with higher average {xs} tend to have "
                f"{direction_word(between['r'])} average {ys} ({nums})."
            )
        elif between_says == "none":
            out.append(
                f"Across {n_between} units, average {xs} and average {ys} show no clear link "
                f"({nums})."
            )
        else:
            out.append(
                f"Across {n_between} units, the link between average {xs} and average {ys} is "
                f"borderline: the test and the interval disagree ({nums})."
            )
    if within is not None and np.isfinite(within["r"]):
        # p-value, interval and words from one procedure (the within row names it)
        within_says = _row_verdict(within, alpha)
        nums = f"within-unit {_r_text(within, ci)}, {p_phrase(float(within['p_val']))}"
        if within_says == "link":
            out.append(
                f"Within a unit over time, {step}s with higher {xs} go with "
                f"{direction_word(within['r'])} {ys} ({nums})."
            )
        elif within_says == "none":
            out.append(
                f"Within a unit over time, {xs} and {ys} show no clear link in the same {step} "
                f"({nums})."
            )
        else:
            out.append(
                f"Within a unit over time, the link between {xs} and {ys} in the same {step} is "
                f"borderline: the test and the interval disagree ({nums})."
            )
        if (
            between is not None
            and np.sign(between["r"]) != np.sign(within["r"])
            and between_says == "link"
            and within_says == "link"
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
        rw = str(best.get("p_adj_method", "")).startswith("Romano-Wolf") and np.isfinite(
            float(best.get("band_low", np.nan))
        )
        if rw:  # the simultaneous band is the interval that goes with the adjusted p
            lo_b, hi_b = float(best["band_low"]), float(best["band_high"])
            band = f"{ci:.0%} simultaneous band {lo_b:.2f} to {hi_b:.2f}"
            unc = f"{band} over the {n_lags} lags"
        else:
            unc = interval(float(best["ci_low"]), float(best["ci_high"]), level=ci, word="CI")
        share = float(best.get("win_share", np.nan))
        won = (
            f"; it has the largest |r| in {share:.0%} of unit resamples"
            if np.isfinite(share)
            else ""
        )
        out.append(
            "After removing trends and seasonality shared by all units, the link is strongest at "
            f"lag {best_lag} ({lead_word(best_lag)}; r = {best['r']:.2f}, {unc}, "
            f"{p_phrase(best['p_adj'])} adjusted for {n_lags} lags{won}). That r is the largest "
            "of the lags tried, so it overstates the link."
        )
        split = best_lag_split or {}
        r_split = float(split.get("r", np.nan))
        if split.get("lag") is not None and np.isfinite(r_split):
            lo_s, hi_s = float(split["ci_low"]), float(split["ci_high"])
            out.append(
                f"Without that selection effect (lag chosen on half the units, here lag "
                f"{split['lag']}, and r measured on the other {split['n_units']}): "
                f"{r_interval(r_split, lo_s, hi_s, level=ci, word='CI')}. The effect below uses "
                "all units at the chosen lag, so it shares that selection effect."
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
        if noise_corrected is not None and len(noise_corrected):
            sentence = _noise_sentence(noise_corrected, int(effect["lag"].iloc[0]), xs, ys, ci)
            if sentence:
                out.append(sentence)
    out.append(
        "Main caveat: this is observational data. Even a lagged, one-directional link can come "
        "from something else that changes both (a new manager, a local competitor), so treat it "
        "as a reason to test changes, not as proof that retaining staff will retain customers."
    )
    if warnings:
        out.append("Warnings: " + " ".join(warnings))
    return "\n\n".join(out)
