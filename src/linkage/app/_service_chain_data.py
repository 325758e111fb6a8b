"""What the section "The whole chain" computes: its statistics and texts, from unit x period data.

:func:`chain_results` turns a :class:`linkage.pipeline.ChainInputs` into a :class:`ChainResults`
(the links, the mediation, the key drivers with the reliability of unit means, the suppressed
watchlist and its back-test, and the section's sentences), which the dashboards' disk cache stores
as JSON (:meth:`ChainResults.to_bytes`: nothing is pickled). As :mod:`linkage.app._data` is for the
executive view: the widget (:mod:`linkage.app.service_chain`) and the report only show it.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from linkage.app._data import default_panel_path
from linkage.app._render_service_chain import (
    backtest_sentence,
    drivers_sentence,
    link_sentences,
    mediation_sentence,
    summary_cards,
    watchlist_sentence,
)
from linkage.errors import InputError
from linkage.io import neutralise_formulas
from linkage.pipeline import ChainInputs

__all__ = [
    "RELIABILITY_COLUMNS",
    "ChainResults",
    "chain_results",
    "chain_reliability",
    "watchlist_csv",
    "is_sample_panel",
]

#: Columns of :attr:`ChainResults.reliability`.
RELIABILITY_COLUMNS = ["item", "icc1", "k", "reliability"]
_WATCH_FIGURES = [
    "baseline",
    "recent",
    "drop",
    "drop_z",
    "expected_lost",
    "expected_lost_low",
    "expected_lost_high",
    "revenue_at_risk",
    "revenue_at_risk_low",
    "revenue_at_risk_high",
]
_WATCH_CSV = [
    "rank",
    "unit",
    "flag",
    "employees",
    "customers",
    *_WATCH_FIGURES,
    "lag",
    "expected_from",
    "expected_to",
]


def is_sample_panel(panel: str | os.PathLike[str] | pd.DataFrame | None) -> bool:
    """Whether the dashboard runs on the repository's sample panel (``panel`` as given to it).

    Examples
    --------
    >>> is_sample_panel(None) == ("LINKAGE_PANEL" not in os.environ)
    True
    """
    from linkage.io.datasets import sample_path

    if isinstance(panel, pd.DataFrame):
        return False
    where = default_panel_path() if panel is None else pathlib.Path(panel)
    try:
        return where.is_file() and os.path.samefile(where, sample_path("panel.csv"))
    except (OSError, InputError):
        return False


@dataclass
class ChainResults:
    """The section's figures and texts, all computed from unit x period tables.

    Attributes
    ----------
    links, mediation, drivers, reliability, watchlist, backtest : DataFrame
        ``chain(...).links`` and ``.mediation``; ``key_drivers``; reliability per item (empty
        without respondents); the suppressed watchlist (with ``employees``, ``customers``); the
        back-test (empty when the panel is too short).
    texts : dict
        ``summary`` (three card texts), ``chain`` (one sentence per link), ``mediation``,
        ``drivers``, ``watchlist``, ``backtest``, ``warnings``.
    settings : dict
    """

    links: pd.DataFrame
    mediation: pd.DataFrame
    drivers: pd.DataFrame
    reliability: pd.DataFrame
    watchlist: pd.DataFrame
    backtest: pd.DataFrame
    texts: dict[str, Any]
    settings: dict[str, Any]

    _TABLES: ClassVar[tuple[str, ...]] = (
        "links",
        "mediation",
        "drivers",
        "reliability",
        "watchlist",
        "backtest",
    )

    def to_bytes(self) -> bytes:
        """CSV tables and texts as one JSON document (what the disk cache stores)."""
        doc: dict[str, Any] = {
            name: getattr(self, name).to_csv(index=False) for name in self._TABLES
        }
        doc["texts"] = self.texts
        doc["settings"] = self.settings
        return json.dumps(doc, default=str).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChainResults:
        """Read :meth:`to_bytes` back."""
        doc = json.loads(raw.decode("utf-8"))
        tables = {}
        for name in cls._TABLES:
            text = doc[name]
            tables[name] = (
                _restore(pd.read_csv(io.StringIO(text), dtype={"unit": str}))
                if text.strip()
                else pd.DataFrame()
            )
        return cls(**tables, texts=doc["texts"], settings=doc["settings"])


def _restore(table: pd.DataFrame) -> pd.DataFrame:
    """Columns of numbers and "suppressed" (read back from CSV as text) as numbers and that word."""
    from linkage.privacy import SUPPRESSED

    out = {}
    for c in table.columns:
        col = table[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or c == "unit":
            continue
        text = col.astype("string")
        num = pd.to_numeric(text.where(text != SUPPRESSED), errors="coerce")
        if (text == SUPPRESSED).any() and (num.notna() | col.isna() | (text == SUPPRESSED)).all():
            out[c] = pd.Series(
                np.where(text == SUPPRESSED, SUPPRESSED, num.astype(object)),
                index=col.index,
                dtype=object,
            )
    return table.assign(**out) if out else table


def chain_reliability(inputs: ChainInputs, items: list[str]) -> pd.DataFrame:
    """Reliability of the unit means the drivers use: ``item``, ``icc1``, ``k``, ``reliability``.

    :func:`linkage.stats.survey_reliability` of the respondents (ICC(1) per unit and survey month,
    Spearman-Brown at the respondents behind a unit's mean over the panel, ``level="between"``), as
    ``linkage drivers --respondents`` computes it. Empty without respondents.

    Examples
    --------
    >>> from linkage.app import load_panel
    >>> from linkage.pipeline import chain_inputs
    >>> ci = chain_inputs(load_panel(), sample=True)
    >>> t = chain_reliability(ci, ci.items)
    >>> t.columns.tolist(), round(float(t["k"].iloc[0]), 2)  # respondents behind a unit's mean
    (['item', 'icc1', 'k', 'reliability'], 96.14)
    """
    from linkage.stats import survey_reliability

    resp = inputs.respondents
    usable = [i for i in items if resp is not None and i in resp.columns]
    if resp is None or not usable:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    t = survey_reliability(
        resp, items=usable, unit="unit_id", wave="wave", panel=inputs.panel, level="between"
    )
    return t.assign(k=t["k_means"])[RELIABILITY_COLUMNS]


def _watch_counts(
    panel: pd.DataFrame, wl: pd.DataFrame, recent: int, baseline: int
) -> pd.DataFrame:
    """``employees`` and ``customers``: the fewest people a unit had on average in the baseline or
    the recent window (the two windows its figures come from), unrounded, for suppression."""
    per = np.sort(panel["period"].unique())
    windows = (per[-recent:], per[-(recent + baseline) : -recent])
    avgs = [
        panel[panel["period"].isin(w)]
        .groupby("unit_id")[["employee_start", "customer_start"]]
        .mean()
        for w in windows
    ]
    fewest = pd.concat(avgs).groupby(level=0).min()
    return wl.assign(
        employees=wl["unit"].map(fewest["employee_start"]).to_numpy(dtype=float),
        customers=wl["unit"].map(fewest["customer_start"]).to_numpy(dtype=float),
    )


def _survey_columns(panel: pd.DataFrame) -> list[str]:
    """The employee-survey columns (numbers) the watchlist forecasts from."""
    return [
        c
        for c in panel.columns
        if c.startswith("es_")
        and c not in ("es_respondents", "es_wave")
        and pd.api.types.is_numeric_dtype(panel[c])
    ]


def chain_results(
    inputs: ChainInputs,
    *,
    k: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    max_lag: int = 6,
    recent: int = 3,
    baseline: int = 12,
) -> ChainResults:
    """Compute the section's three parts from :func:`linkage.pipeline.chain_inputs`.

    Parameters
    ----------
    inputs : ChainInputs
    k : int
        Units with fewer than ``k`` staff or customers (on average, recent periods) are suppressed
        in the watchlist.
    n_boot, seed, max_lag : int
        Unit-bootstrap resamples, seed and largest lag of the statistics.
    recent, baseline : int
        Periods of the watchlist's two windows.

    Returns
    -------
    ChainResults

    Examples
    --------
    >>> from linkage.app import load_panel
    >>> from linkage.pipeline import chain_inputs
    >>> res = chain_results(chain_inputs(load_panel(), env={}), n_boot=50)
    >>> res.links["link"].unique().tolist(), res.drivers.empty, bool(res.watchlist["flag"].any())
    (['employee_retention -> customer_retention'], True, True)
    """
    from linkage.privacy import suppress
    from linkage.stats import backtest, chain, key_drivers, watchlist
    from linkage.stats.early_warning import WATCHLIST_COLUMNS
    from linkage.stats.service_chain import CHAIN_COLUMNS, DEFAULT_LINKS, MEDIATION_COLUMNS

    # each part on its own: data too thin for one part (too few periods for the list, say) leaves
    # the others standing, and the part says why
    panel = inputs.panel
    problems: dict[str, str] = {}
    links = [(x, y) for x, y in DEFAULT_LINKS if inputs.has(x) and inputs.has(y)]
    # the wave columns too: survey links are measured on the months the waves measured
    waves = [c for c in ("es_wave", "cs_wave") if c in panel.columns]
    cols = list(dict.fromkeys(["unit_id", "period", *(c for link in links for c in link), *waves]))
    links_t = pd.DataFrame(columns=CHAIN_COLUMNS)
    med = pd.DataFrame(columns=MEDIATION_COLUMNS)
    warns: list[str] = []
    med_cols = None
    step = "period"
    try:
        res = chain(panel[cols], links=links, max_lag=max_lag, n_boot=n_boot, seed=seed)
        links_t, med, warns = res.links, res.mediation, list(res.warnings)
        med_cols, step = res.settings.get("mediation"), res.settings.get("step", "period")
    except InputError as err:
        problems["chain"] = err.problem
    step = step if step in ("month", "quarter", "year") else "period"
    items = inputs.items
    rel = pd.DataFrame(columns=RELIABILITY_COLUMNS)
    drivers = pd.DataFrame()
    if len(items) >= 2:
        try:
            rel = chain_reliability(inputs, items)
            reliability = {
                str(item): float(r)
                for item, r in zip(
                    rel["item"], rel["reliability"].to_numpy(dtype=float), strict=True
                )
            }
            drivers = key_drivers(
                panel,
                items=items,
                outcome="customer_retention",
                unit="unit_id",
                period="period",
                reliability=reliability or None,
                n_boot=n_boot,
                seed=seed,
            )
        except InputError as err:
            problems["drivers"] = err.problem
    revenue = "revenue" if inputs.has("revenue") else None
    # only the columns the list and its back-test read (their row filters copy every column)
    # with an employee survey the list forecasts each unit's customer drop from its recent staff and
    # survey drops (the survey reads a unit's climate far better than a dozen people's quits;
    # measured figures: benchmarks/README.md, chain_study.py)
    survey = _survey_columns(panel)
    method = "forecast" if survey else "effect"
    keep = [
        "unit_id",
        "period",
        "employee_start",
        "employee_retained",
        "employee_retention",
        "customer_start",
        "customer_retained",
        "customer_retention",
        *([revenue] if revenue else []),
        *survey,
    ]
    panel = panel[[c for c in keep if c in panel.columns]]
    lag = None
    bt = pd.DataFrame()
    try:
        result = watchlist(
            panel,
            revenue=revenue,
            max_lag=max_lag,
            n_boot=n_boot,
            recent=recent,
            baseline=baseline,
            seed=seed,
            method=method,
            survey=survey or None,
        )
        lag = result.lag
        wl = _watch_counts(panel, result.table, recent, baseline)
        shown = suppress(
            wl,
            count_cols=["employees", "customers"],
            k=k,
            value_cols=["employees", "customers", *_WATCH_FIGURES],
        )
        try:
            bt = backtest(
                panel,
                lag=lag,
                recent=recent,
                baseline=baseline,
                n_boot=0,
                seed=seed,
                method=method,
                survey=survey or None,
            )
        except InputError:
            pass
    except InputError as err:
        problems["watchlist"] = err.problem
        shown = pd.DataFrame(
            columns=[*WATCHLIST_COLUMNS, "employees", "customers", "suppressed", "suppression"]
        )
    flagged = shown[shown["flag"].astype(bool)]
    visible = flagged[~flagged["suppressed"].astype(bool)]
    lost = float(pd.to_numeric(visible["expected_lost"], errors="coerce").sum())
    if "watchlist" in problems or lag is None:
        watch_text = f"No list: {problems.get('watchlist')}."
    else:
        watch_text = watchlist_sentence(
            method=method,
            n_flagged=len(flagged),
            n_units=len(shown),
            recent=recent,
            baseline=baseline,
            step=step,
            lag=int(lag),
            lost=lost,
            k=k,
            suppressed=bool(shown["suppressed"].any()),
        )
    chain_text = (
        link_sentences(links_t, step=step)
        if len(links_t)
        else [f"The chain could not be measured: {problems.get('chain', 'no links')}."]
    )
    drivers_text = (
        drivers_sentence(drivers, "customer_retention", bool(len(rel)))
        if "drivers" not in problems
        else f"The drivers could not be ranked: {problems['drivers']}."
    )
    texts = {
        "summary": summary_cards(
            links_t, drivers, lost, len(flagged), step, problems.get("watchlist")
        ),
        "chain": chain_text,
        "mediation": mediation_sentence(med, med_cols),
        "drivers": drivers_text,
        "watchlist": watch_text,
        "backtest": backtest_sentence(bt),
        "warnings": warns,
    }
    settings = {
        "k": k,
        "n_boot": n_boot,
        "seed": seed,
        "max_lag": max_lag,
        "recent": recent,
        "baseline": baseline,
        "lag": lag,
        "step": step,
        "source": inputs.source,
        "missing": list(inputs.missing),
        "mediation": med_cols,
        "problems": problems,
    }
    return ChainResults(
        links=links_t,
        mediation=med,
        drivers=drivers,
        reliability=rel,
        watchlist=shown,
        backtest=bt,
        texts=texts,
        settings=settings,
    )


def watchlist_csv(table: pd.DataFrame) -> bytes:
    """The (suppressed) watchlist as CSV bytes, formulas neutralised (``linkage.io``).

    Examples
    --------
    >>> t = pd.DataFrame({"rank": [1], "unit": ["=1+1"], "flag": [True],
    ...                   "expected_lost": ["suppressed"]})
    >>> watchlist_csv(t).decode().splitlines()[1]
    "1,'=1+1,True,suppressed"
    """
    cols = [c for c in _WATCH_CSV if c in table.columns]
    return neutralise_formulas(table[cols]).to_csv(index=False, lineterminator="\n").encode("utf-8")
