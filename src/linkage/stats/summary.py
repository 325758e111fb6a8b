"""Plain-language summary of a linkage analysis, for people who will not read the tables.

It always states the level (units, not people), the between- and within-unit findings (and when
they disagree), the lag evidence after removing a shared calendar, the direction evidence, the
effect in business terms, and the main caveat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plain_summary"]


def _fmt_r(row: pd.Series, ci: float) -> str:
    if not np.isfinite(row["r"]):
        return "r not computable"
    ci_txt = ""
    if np.isfinite(row.get("ci_low", np.nan)) and np.isfinite(row.get("ci_high", np.nan)):
        ci_txt = f", {ci:.0%} CI {row['ci_low']:.2f} to {row['ci_high']:.2f}"
    return f"r = {row['r']:.2f}{ci_txt}"


def _dirword(r: float) -> str:
    return "higher" if r > 0 else "lower"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


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
    warnings: list[str] | tuple[str, ...],
    ci: float = 0.95,
    alpha: float = 0.05,
) -> str:
    """Paragraphs of plain text describing the result tables of :func:`linkage.stats.analyse`."""
    xs, ys = x.replace("_", " "), y.replace("_", " ")
    by = correlations.set_index("method")
    out = [
        f"These results compare units (such as stores or branches), not people: they say whether units "
        f"with better {xs} also have better {ys}, not whether a person who stays keeps customers."
    ]
    if "between" in by.index and np.isfinite(by.loc["between", "r"]):
        b = by.loc["between"]
        if b["p_val"] < alpha:
            out.append(
                f"Across {int(b['n'])} units, units with higher average {xs} tend to have "
                f"{_dirword(b['r'])} average {ys} (between-unit {_fmt_r(b, ci)})."
            )
        else:
            out.append(
                f"Across {int(b['n'])} units, average {xs} and average {ys} show no clear link "
                f"(between-unit {_fmt_r(b, ci)})."
            )
    if "rm_corr" in by.index and np.isfinite(by.loc["rm_corr", "r"]):
        w = by.loc["rm_corr"]
        # significance from the unit-clustered test of lag 0 (the rmcorr t-test is too liberal on
        # small units' rates; see linkage.stats.lags.cluster_test)
        lag0 = lags.loc[lags["lag"] == 0, "p_val"]
        p_within = float(lag0.iloc[0]) if len(lag0) and np.isfinite(lag0.iloc[0]) else w["p_val"]
        if p_within < alpha:
            out.append(
                f"Within a unit over time, {step}s with higher {xs} go with {_dirword(w['r'])} {ys} "
                f"(within-unit {_fmt_r(w, ci)})."
            )
        else:
            out.append(
                f"Within a unit over time, {xs} and {ys} show no clear link in the same {step} "
                f"(within-unit {_fmt_r(w, ci)})."
            )
        if (
            "between" in by.index
            and np.sign(by.loc["between", "r"]) != np.sign(w["r"])
            and by.loc["between", "p_val"] < alpha
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
        row = lags_period_adjusted.set_index("lag").loc[best_lag]
        lead = (
            "employees lead"
            if best_lag > 0
            else "customers lead"
            if best_lag < 0
            else "same period"
        )
        out.append(
            f"After removing trends and seasonality shared by all units, the link is strongest at lag "
            f"{best_lag} ({lead}; r = {row['r']:.2f}, {ci:.0%} unit-bootstrap CI {row['ci_low']:.2f} to "
            f"{row['ci_high']:.2f}, {_p(row['p_adj'])} adjusted for {n_lags} lags)."
        )
    else:
        txt = (
            f"After removing trends and seasonality shared by all units, no lag from "
            f"{int(lags_period_adjusted['lag'].min())} to {int(lags_period_adjusted['lag'].max())} shows a "
            f"within-unit link once the {n_lags} lags tried are accounted for."
        )
        if len(sig_plain):
            txt += (
                " Without that adjustment some lags look linked: the two measures share a calendar "
                "(trends or seasons), which is not a link between them."
            )
        out.append(txt)
    if len(direction):
        cross = direction[direction["outcome"] != direction["predictor"]].set_index("outcome")
        xy = cross.loc[y] if y in cross.index else None
        yx = cross.loc[x] if x in cross.index else None
        if xy is not None and yx is not None:
            a, b = xy["p_val"] < alpha, yx["p_val"] < alpha
            if a and not b:
                d = f"changes in {xs} come before changes in {ys}, not the other way round"
            elif b and not a:
                d = f"changes in {ys} come before changes in {xs} (customers may drive staff, not only the reverse)"
            elif a and b:
                d = "each measure predicts the other's next period: the link may run both ways"
            else:
                d = "neither measure predicts the other's next period beyond its own past"
            out.append(
                f"Direction (cross-lagged, unit and period fixed effects): {d} "
                f"(standardised {xs} -> {ys} = {xy['std_coef']:.2f}, {_p(xy['p_val'])}; "
                f"{ys} -> {xs} = {yx['std_coef']:.2f}, {_p(yx['p_val'])})."
            )
    if len(effect) and isinstance(effect["sentence"].iloc[0], str):
        out.append(effect["sentence"].iloc[0])
    out.append(
        "Main caveat: this is observational data. Even a lagged, one-directional link can come from "
        "something else that changes both (a new manager, a local competitor), so treat it as a "
        "reason to test changes, not as proof that retaining staff will retain customers."
    )
    if warnings:
        out.append("Warnings: " + " ".join(warnings))
    return "\n\n".join(out)
