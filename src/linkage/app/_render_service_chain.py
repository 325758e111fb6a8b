"""Figures and sentences of the section "The whole chain", shared by the dashboard and the report.

The section's sentences (:func:`link_sentences`, :func:`mediation_sentence`,
:func:`drivers_sentence`, :func:`summary_cards`, :func:`watchlist_sentence`,
:func:`backtest_sentence`) take their strength, lag, count and interval wording from
:mod:`linkage.words`; its figures (:func:`chain_png`, :func:`drivers_png`, :func:`watchlist_png`)
are drawn on ``matplotlib.figure.Figure`` objects and returned as PNG bytes; :func:`section_parts`
puts both into the HTML pieces the dashboard's widget and ``linkage report --chain`` show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from linkage import words
from linkage.app._render import data_uri, esc, png

if TYPE_CHECKING:
    from linkage.app._service_chain_data import ChainResults

__all__ = [
    "CAUSAL_CAVEAT",
    "Draw",
    "link_sentences",
    "mediation_sentence",
    "drivers_sentence",
    "summary_cards",
    "watchlist_sentence",
    "backtest_sentence",
    "chain_png",
    "drivers_png",
    "watchlist_png",
    "section_parts",
]

#: ``draw(name, function, table)``: PNG bytes of ``function(table)`` (the dashboard's reads its
#: disk cache first).
Draw = Callable[[str, Callable[[pd.DataFrame], bytes], pd.DataFrame], bytes]

CAUSAL_CAVEAT = (
    "Each link is an association between units' figures over time, not proof that improving one "
    "step will move the next: shared causes (local labour markets, management, prices) can move "
    "several steps at once, and customers can also drive staff."
)


# ---- sentences -------------------------------------------------------------------------------


def link_sentences(links: pd.DataFrame, *, step: str = "month") -> list[str]:
    """One sentence per link for an executive: strength, sign, interval, timing.

    Examples
    --------
    >>> t = pd.DataFrame({"link": ["employee_retention -> customer_retention"] * 2,
    ...                   "method": ["between", "best_lag"], "lag": [0, 2], "r": [0.25, 0.29],
    ...                   "ci_low": [0.05, 0.25], "ci_high": [0.43, 0.35],
    ...                   "p_adj": [np.nan, 0.001], "best_lag": [2.0, 2.0]})
    >>> print(link_sentences(t)[0])  # doctest: +NORMALIZE_WHITESPACE
    Employee retention \u2192 customer retention: weak, clear link within units (r = 0.29, 95%
    interval 0.25 to 0.35), strongest with customer retention 2 months later; units that do better
    on the first also do better on the second (r = 0.25 between units).
    """
    from linkage.viz import link_label, plain_name

    out = []
    for lk in dict.fromkeys(links["link"]):
        rows = links[links["link"] == lk].set_index("method")
        y = lk.split("->")[1].strip()
        label = link_label(lk)
        if "best_lag" not in rows.index or not np.isfinite(rows.loc["best_lag", "r"]):
            out.append(f"{label}: not enough data to measure.")
            continue
        b = rows.loc["best_lag"]
        clear = b["ci_low"] > 0 or b["ci_high"] < 0
        if np.isfinite(b.get("p_adj", np.nan)):
            clear = clear and b["p_adj"] < 0.05
        numbers = words.r_interval(b["r"], b["ci_low"], b["ci_high"])
        if clear:
            sign = "" if b["r"] > 0 else " (negative: more of one goes with less of the other)"
            found = np.isfinite(b.get("best_lag", np.nan))
            when = (
                words.lag_phrase(int(b["lag"]), step=step, y=plain_name(y), style="chain")
                if found
                else f"in the same {step}"
            )
            text = (
                f"{label}: {words.strength(b['r'])}, clear link within units{sign} ({numbers}), "
                f"strongest {when}"
            )
        else:
            text = f"{label}: no clear link within units ({numbers}; could be chance)"
        if "between" in rows.index and np.isfinite(rows.loc["between", "r"]):
            rb = rows.loc["between"]
            if rb["ci_low"] > 0:
                text += (
                    "; units that do better on the first also do better on the second "
                    f"(r = {rb['r']:.2f} between units)"
                )
            elif rb["ci_high"] < 0:
                text += f"; between units the two go opposite ways (r = {rb['r']:.2f})"
        out.append(text + ".")
    return out


def mediation_sentence(med: pd.DataFrame, columns: Iterable[str] | None) -> str:
    """What the mediation of ``columns`` = (x, m, y) says, in words ("" without one)."""
    from linkage.viz import plain_name

    if med.empty or not columns:
        return ""
    x, m, y = (plain_name(c).lower() for c in columns)
    by = med.set_index("path")
    ind, direct = by.loc["indirect"], by.loc["direct"]
    carried = ind["ci_low"] > 0 or ind["ci_high"] < 0
    direct_clear = direct["ci_low"] > 0 or direct["ci_high"] < 0
    if carried and not direct_clear:
        how = f"the link from {x} to {y} runs through {m}: no clear direct path remains"
    elif carried:
        how = f"part of the link from {x} to {y} runs through {m}, part does not"
    else:
        how = f"no clear sign that {m} carries a link from {x} to {y}"
    return (
        f"Within units, {how} (indirect path {ind['coef']:.3g}, 95% interval "
        f"{ind['ci_low']:.3g} to {ind['ci_high']:.3g}; direct {direct['coef']:.3g}). This splits "
        "an association into parts; it assumes nothing unmeasured drives both, and does not show "
        "that changing one would change the other."
    )


def drivers_sentence(kd: pd.DataFrame, outcome: str, corrected: bool) -> str:
    """What the key drivers table says, in words ("" for an empty table)."""
    from linkage.viz import plain_name

    if kd.empty:
        return ""
    clear = kd[kd["p_adj"] < 0.05]
    head = kd.head(3)
    top = ", ".join(
        f"{plain_name(item)} ({share:.0%} of what the items explain)"
        for item, share in zip(
            head["item"].astype(str), head["share"].to_numpy(dtype=float), strict=True
        )
    )
    n = len(kd)
    if len(clear):
        lead = (
            "Clearly above chance after correcting for looking at "
            f"{n} items: {', '.join(plain_name(i) for i in clear['item'])}. "
        )
    else:
        lead = f"No item stands out clearly once we correct for looking at {n} items. "
    r2 = float(kd["r2"].iloc[0])
    tail = (
        " Corrected correlations estimate what perfectly measured unit averages would show."
        if corrected
        else ""
    )
    return (
        f"{lead}Largest weights for {plain_name(outcome).lower()} across units: {top}; together "
        f"the items explain {r2:.0%} of the differences between units.{tail} Units, not people: "
        "an item that goes with unit results need not matter to any one person."
    )


def summary_cards(
    links: pd.DataFrame,
    drivers: pd.DataFrame,
    lost: float,
    n_flagged: int,
    step: str,
    no_list: str | None = None,
) -> dict[str, str]:
    """Three card texts an executive reads in ten seconds: ``chain``, ``drivers``, ``visit``."""
    from linkage.viz import link_label, plain_name

    best = links[links["method"] == "best_lag"]
    clear = best[(best["ci_low"] > 0) | (best["ci_high"] < 0)]
    if best.empty:
        chain_text = "The chain could not be measured on these data."
    elif len(clear) == len(best):
        chain_text = (
            f"All {len(best)} links hold within units: "
            + "; ".join(
                link_label(link)
                + (f" ({words.lag_phrase(int(lag), step=step)})" if lag > 0 else "")
                for link, lag in zip(
                    best["link"].astype(str), best["lag"].to_numpy(dtype=float), strict=True
                )
            )
            + "."
        )
    else:
        chain_text = (
            f"{len(clear)} of {len(best)} links hold within units"
            + (": " + "; ".join(link_label(lk) for lk in clear["link"]) if len(clear) else "")
            + "."
        )
    if drivers.empty:
        drivers_text = "No survey items to rank."
    else:
        sure = drivers[drivers["p_adj"] < 0.05]
        if len(sure):
            names = ", ".join(plain_name(i) for i in sure["item"])
            drivers_text = f"Matter most for customer retention: {names}."
        else:
            names = ", ".join(plain_name(i) for i in drivers["item"].head(2))
            drivers_text = f"No survey item stands out clearly; largest: {names}."
    if no_list:
        visit = f"No list: {no_list}."
    elif n_flagged:
        visit = (
            f"{words.plural(n_flagged, 'unit')} to visit, most at risk first: staff signals "
            f"dropped, about {lost:,.0f} customers expected to be lost."
        )
    else:
        visit = "No unit's staff signals point to lost customers."
    return {"chain": chain_text, "drivers": drivers_text, "visit": visit}


def watchlist_sentence(
    *,
    method: str,
    n_flagged: int,
    n_units: int,
    recent: int,
    baseline: int,
    step: str,
    lag: int,
    lost: float,
    k: int,
    suppressed: bool,
) -> str:
    """What the list of units to visit says (``method``: ``"forecast"`` or ``"effect"``).

    Examples
    --------
    >>> print(watchlist_sentence(method="effect", n_flagged=3, n_units=40, recent=3, baseline=12,
    ...                          step="month", lag=1, lost=120.4, k=5, suppressed=False))
    ... # doctest: +NORMALIZE_WHITESPACE
    3 of 40 units have clearly lower staff retention over the last 3 months than in the 12
    before. At the measured lag (1 month), the list's flagged units stand to lose about 120
    customers between them (each unit's interval in the table).
    """
    at = f"At the measured lag ({words.plural(lag, step)})"
    if method == "forecast":
        text = (
            f"{n_flagged} of {n_units} units are forecast to lose customers: their staff "
            f"retention and survey scores over the last {recent} {step}s fell below the "
            f"{baseline} before, in the way that, in this data's past, came before lost "
            f"customers. {at}, they stand to lose about {lost:,.0f} customers between them "
            "(each unit's interval in the table)."
        )
    else:
        text = (
            f"{n_flagged} of {n_units} units have clearly lower staff retention over the "
            f"last {recent} {step}s than in the {baseline} before. {at}, the list's flagged units "
            f"stand to lose about {lost:,.0f} customers between them (each unit's interval in "
            "the table)."
        )
    if suppressed:
        text += f" Figures of units with fewer than {k} people are suppressed."
    return text


def backtest_sentence(bt: pd.DataFrame) -> str:
    """How often past lists were right ("" without a back-test)."""
    if not len(bt):
        return ""
    row = bt.iloc[-1]
    if not np.isfinite(row["precision"]):
        return ""
    return (
        f"How often past lists were right: over {len(bt) - 1} past months, {int(row['n_hit'])} "
        f"of {int(row['n_flagged'])} flagged units went on to lose customers (precision "
        f"{row['precision']:.0%}), and the lists caught {int(row['n_hit'])} of "
        f"{int(row['n_lost'])} units that did (recall {row['recall']:.0%})."
    )


# ---- figures --------------------------------------------------------------------------------


def _fig_png(draw: Callable[[Figure], Any], figsize: tuple[float, float]) -> bytes:
    fig = Figure(figsize=figsize, layout="constrained")
    draw(fig)
    return png(fig)


def chain_png(links: pd.DataFrame) -> bytes:
    """PNG of :func:`linkage.viz.chain_plot`."""
    from linkage.viz import chain_plot

    n = links["link"].nunique()
    return _fig_png(lambda fig: chain_plot(links, ax=fig.add_subplot()), (7.5, 1.4 + 1.0 * n))


def drivers_png(drivers: pd.DataFrame) -> bytes:
    """PNG of :func:`linkage.viz.drivers_plot`."""
    from linkage.viz import drivers_plot

    return _fig_png(lambda fig: drivers_plot(drivers, fig=fig), (8.5, 1.4 + 0.45 * len(drivers)))


def watchlist_png(table: pd.DataFrame, top: int = 10) -> bytes:
    """PNG of :func:`linkage.viz.watchlist_plot` (the first ``top`` units)."""
    from linkage.viz import watchlist_plot

    n = min(top, len(table))
    return _fig_png(
        lambda fig: watchlist_plot(table, top=top, ax=fig.add_subplot()),
        (7.0, 1.2 + 0.38 * max(n, 1)),
    )


# ---- the section's HTML ----------------------------------------------------------------------


def _paras(lines: Iterable[str]) -> str:
    return "".join(f"<p>{esc(s)}</p>" for s in lines if s)


def _img(b: bytes, alt: str) -> str:
    return f"<img class='linkage-fig' alt='{esc(alt)}' src='{data_uri(b)}'/>"


def _draw_now(name: str, function: Callable[[pd.DataFrame], bytes], table: pd.DataFrame) -> bytes:
    return function(table)


def section_parts(res: ChainResults, *, top: int = 10, draw: Draw | None = None) -> dict[str, str]:
    """The section's HTML pieces: ``summary`` (three cards), ``notes`` (what is missing),
    ``chain``, ``drivers``, ``watchlist``.

    Shared by the dashboard and the static report (``linkage report``). ``draw(name, function,
    table)`` returns PNG bytes (the dashboard passes one that reads its disk cache); default: draw.
    """
    from linkage.viz import watchlist_table

    draw = _draw_now if draw is None else draw
    missing = res.settings.get("missing") or []
    step = res.settings.get("step", "month")
    out = {
        "notes": (
            "<div class='linkage-missing'><b>What is missing</b>" + _paras(missing) + "</div>"
            if missing
            else ""
        )
    }
    cards = res.texts.get("summary") or {}
    titles = (("chain", "The chain"), ("drivers", "Drivers"), ("visit", "Units to visit"))
    out["summary"] = (
        "<div class='linkage-cards'>"
        + "".join(
            f"<div class='linkage-card'><b>{title}</b>{esc(cards[key])}</div>"
            for key, title in titles
            if key in cards
        )
        + "</div>"
        if cards
        else ""
    )
    out["chain"] = (
        "<h4>Each link of the chain</h4>"
        + _paras(res.texts["chain"])
        + (
            _img(draw("chain", chain_png, res.links), "The chain link by link")
            if len(res.links)
            else ""
        )
        + _paras([res.texts.get("mediation", ""), CAUSAL_CAVEAT])
    )
    head = "<h4>Which survey items matter most for customer retention</h4>"
    if res.drivers.empty:
        why = (res.settings.get("problems") or {}).get("drivers")
        out["drivers"] = head + (
            _paras([res.texts["drivers"]])
            if why
            else "<p>Needs at least two employee-survey items per unit.</p>"
        )
    else:
        out["drivers"] = (
            head
            + _paras([res.texts["drivers"]])
            + _img(draw("drivers", drivers_png, res.drivers), "Key drivers with intervals")
        )
    visit = f"<h4>Units to visit this {esc(step)}</h4>"
    if res.watchlist.empty:
        out["watchlist"] = visit + _paras([res.texts["watchlist"]])
        return out
    table = watchlist_table(res.watchlist, top=top)
    out["watchlist"] = (
        visit
        + _paras([res.texts["watchlist"], res.texts["backtest"]])
        + _img(
            draw("watchlist", lambda t: watchlist_png(t, top), res.watchlist),
            "Units to visit first",
        )
        + "<div class='linkage-table'>"
        + table.to_html(index=False, escape=True, border=0)
        + "</div>"
        + "<p>An expected loss is an association scaled to customers: it says where to look "
        "first, not what any one unit will lose.</p>"
    )
    return out
