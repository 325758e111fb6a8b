"""The executive dashboard's section "The whole chain": the links, the key drivers, the units to visit.

Three parts, computed only when a viewer first opens the section (the dashboard's start and its
filters never wait for them), then kept in the dashboards' disk cache, keyed by a fingerprint of
everything they are computed from:

- **the chain**: each link (engagement -> employee retention -> customer retention -> revenue
  retention) with its within-unit correlation and interval (:func:`linkage.stats.chain`), a
  sentence per link, the mediation of the employee effect on revenue and the causal caveats;
- **the drivers**: which employee-survey items go with customer retention across units
  (:func:`linkage.stats.key_drivers`, relative weights, unit-bootstrap intervals, Holm over the
  items), with correlations corrected for the reliability of unit means beside the measured ones;
- **units to visit this month**: :func:`linkage.stats.watchlist` (needs only the panel), units from
  fewer than ``k`` people suppressed (``linkage.privacy.suppress``), a CSV download with formulas
  neutralised, and a back-test of how often past lists were right.

Where the chain's data come from (:func:`chain_inputs`): on the sample panel, the sample's surveys
and revenue (:func:`linkage.io.datasets.load_sample_chain`); otherwise the chain columns already in
the panel (``es_<item>``, ``cs_csat``, ``revenue_retention`` ... as
:func:`linkage.panel.join_chain` writes them), else the files named by the environment variables
of :data:`CHAIN_ENV` (set by ``linkage dashboard``). Respondent-level survey rows are read in the
kernel only to average them by unit and to measure reliability; their identifiers are dropped on
reading and no person-level row reaches the page.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from linkage.app._data import DashboardData
from linkage.app._render import data_uri, esc, png
from linkage.app._safe import guarded, logger
from linkage.errors import InputError
from linkage.io import neutralise_formulas

__all__ = [
    "CHAIN_ENV",
    "ChainInputs",
    "ChainResults",
    "ChainView",
    "chain_inputs",
    "chain_results",
    "watchlist_csv",
    "is_sample_panel",
    "section_parts",
    "link_sentences",
]

#: Environment variables naming the chain's files for a panel without chain columns.
#: Employee survey: respondent-level (``unit_id``, ``survey_date``, item columns) or unit x period
#: (``unit_id``, ``period``, ``es_<item>``, ``es_respondents``); customer survey: responses
#: (``unit_id``, ``response_date``, ``csat`` and/or ``nps``) or unit x period (``cs_csat``, ...);
#: revenue: unit x period (``revenue``, ``revenue_start``, ``revenue_retained``,
#: ``revenue_retention``) or customer-level (``customer_id``, ``unit_id``, ``period``, ``revenue``).
CHAIN_ENV = {
    "employee_survey": "LINKAGE_EMPLOYEE_SURVEY",
    "customer_survey": "LINKAGE_CUSTOMER_SURVEY",
    "revenue": "LINKAGE_REVENUE",
}

_NOT_ITEMS = {"es_respondents", "es_wave", "es_engagement"}
_ID_COLUMNS = ("respondent_id", "response_id", "customer_id", "employee_id")
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

CAUSAL_CAVEAT = (
    "Each link is an association between units' figures over time, not proof that improving one "
    "step will move the next: shared causes (local labour markets, management, prices) can move "
    "several steps at once, and customers can also drive staff."
)


def is_sample_panel(panel: str | os.PathLike[str] | None) -> bool:
    """Whether the dashboard runs on the repository's sample panel (``panel`` as given to it).

    Examples
    --------
    >>> is_sample_panel(None) == ("LINKAGE_PANEL" not in os.environ)
    True
    """
    from linkage.app._data import default_panel_path
    from linkage.io.datasets import sample_path

    if isinstance(panel, pd.DataFrame):
        return False
    where = default_panel_path() if panel is None else pathlib.Path(panel)
    try:
        return where.is_file() and os.path.samefile(where, sample_path("panel.csv"))
    except (OSError, InputError):
        return False


@dataclass
class ChainInputs:
    """What the chain section computes from.

    Attributes
    ----------
    panel : DataFrame
        The dashboard's panel with whatever chain columns were found (unit x period rows only).
    respondents : DataFrame or None
        Respondent-level employee-survey answers (``unit_id``, ``wave`` = survey month, the items
        as ``es_<item>``), identifiers dropped: only for the reliability of unit means.
    source : str
        ``"sample"``, ``"panel"`` (chain columns in the panel), ``"files"`` (:data:`CHAIN_ENV`) or
        ``"none"``.
    missing : list of str
        Sentences saying what is missing and what it would add.
    """

    panel: pd.DataFrame
    respondents: pd.DataFrame | None = None
    source: str = "none"
    missing: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[str]:
        """Employee-survey item columns (``es_<item>``) other than engagement."""
        return [
            c
            for c in self.panel.columns
            if c.startswith("es_") and c not in _NOT_ITEMS and self.panel[c].notna().any()
        ]

    def has(self, column: str) -> bool:
        """Whether ``column`` is in the panel with at least one number."""
        return column in self.panel.columns and bool(self.panel[column].notna().any())


def _numeric_chain_columns(panel: pd.DataFrame) -> pd.DataFrame:
    """es_*, cs_* and revenue* columns as numbers (a panel file read as text keeps them as strings)."""
    cols = {}
    for c in panel.columns:
        if (
            c.startswith(("es_", "cs_", "revenue"))
            and not c.endswith("_wave")
            and not pd.api.types.is_numeric_dtype(panel[c])
        ):
            cols[c] = pd.to_numeric(panel[c].where(panel[c] != "(none)"), errors="coerce")
    return panel.assign(**cols) if cols else panel


def _window(panel: pd.DataFrame) -> dict:
    return {"start": panel["period"].min(), "end": panel["period"].max()}


def _respondents(es: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    month = pd.to_datetime(es["survey_date"]).dt.to_period("M").dt.to_timestamp()
    out = pd.DataFrame({"unit_id": es["unit_id"].astype(str).to_numpy(), "wave": month.to_numpy()})
    for i in items:
        out[f"es_{i}"] = pd.to_numeric(es[i], errors="coerce").to_numpy(dtype=float)
    return out


def _employee_survey_file(path: str, panel: pd.DataFrame):
    from linkage.clean import clean_employee_survey
    from linkage.io import read_table
    from linkage.panel import employee_survey_panel

    raw = read_table(path)
    if "period" in raw.columns:  # already unit x period
        table = raw.assign(period=pd.to_datetime(raw["period"], format="ISO8601"))
        return _numeric_chain_columns(
            table.drop(columns=[c for c in _ID_COLUMNS if c in table.columns])
        ), None
    items = [c for c in raw.columns if c not in ("unit_id", "survey_date", *_ID_COLUMNS)]
    es = clean_employee_survey(raw, items=items, source=pathlib.Path(path).name).data
    es = es.drop(columns=[c for c in _ID_COLUMNS if c in es.columns])
    es = es.assign(**{i: pd.to_numeric(es[i], errors="coerce") for i in items})
    return employee_survey_panel(es, items=items, **_window(panel)), _respondents(es, items)


def _customer_survey_file(path: str, panel: pd.DataFrame) -> pd.DataFrame:
    from linkage.clean import clean_customer_survey
    from linkage.io import read_table
    from linkage.panel import customer_survey_panel

    raw = read_table(path)
    if "period" in raw.columns:
        table = raw.assign(period=pd.to_datetime(raw["period"], format="ISO8601"))
        return _numeric_chain_columns(
            table.drop(columns=[c for c in _ID_COLUMNS if c in table.columns])
        )
    has_csat, has_nps = "csat" in raw.columns, "nps" in raw.columns
    cs = clean_customer_survey(raw, csat=has_csat, nps=has_nps, source=pathlib.Path(path).name).data
    cs = cs.assign(
        **{c: pd.to_numeric(cs[c], errors="coerce") for c in ("csat", "nps") if c in cs.columns}
    )
    return customer_survey_panel(
        cs, csat="csat" if has_csat else None, nps="nps" if has_nps else None, **_window(panel)
    )


def _revenue_file(path: str, panel: pd.DataFrame) -> pd.DataFrame:
    from linkage.clean import clean_revenue
    from linkage.io import read_table
    from linkage.panel import revenue_panel

    raw = read_table(path)
    if "customer_id" not in raw.columns:  # unit x period, as unit_revenue.csv
        table = raw.assign(period=pd.to_datetime(raw["period"], format="ISO8601"))
        return _numeric_chain_columns(table)
    rev = clean_revenue(raw, source=pathlib.Path(path).name).data
    return revenue_panel(rev, **_window(panel))


def chain_inputs(
    panel: pd.DataFrame,
    *,
    sample: bool = False,
    env: Mapping[str, str] | None = None,
) -> ChainInputs:
    """Gather the chain's data for a dashboard panel (see the module's notes on the sources).

    Parameters
    ----------
    panel : DataFrame
        The dashboard's panel (``linkage.app.load_panel``).
    sample : bool
        The panel is the repository's sample: join the sample's surveys and revenue.
    env : mapping, optional
        Where to look for :data:`CHAIN_ENV` (default ``os.environ``).

    Returns
    -------
    ChainInputs

    Raises
    ------
    InputError
        A chain file named in ``env`` that cannot be read or joined (the section shows the message).

    Examples
    --------
    >>> from linkage.app import load_panel
    >>> ci = chain_inputs(load_panel(), sample=True)
    >>> ci.source, ci.items[:2], ci.has("revenue_retention"), "respondent_id" in ci.respondents
    ('sample', ['es_manager_support', 'es_staffing'], True, False)
    >>> chain_inputs(load_panel(), env={}).missing[0][:40]
    'No employee survey: the chain starts at '
    """
    from linkage.panel import customer_survey_panel, employee_survey_panel, join_chain

    env = os.environ if env is None else env
    base = _numeric_chain_columns(panel)
    respondents = None
    if sample:
        from linkage.io.datasets import load_sample_chain

        sc = load_sample_chain()
        items = [
            c
            for c in sc.employee_survey.columns
            if c not in ("respondent_id", "unit_id", "survey_date")
        ]
        es = sc.employee_survey.drop(columns=["respondent_id"])
        cs = sc.customer_survey.drop(
            columns=[c for c in _ID_COLUMNS if c in sc.customer_survey.columns]
        )
        joined = join_chain(
            base,
            employee_survey=employee_survey_panel(es, items=items, **_window(base)),
            customer_survey=customer_survey_panel(cs, **_window(base)),
            revenue=sc.unit_revenue,
        )
        out = ChainInputs(panel=joined, respondents=_respondents(es, items), source="sample")
    else:
        tables: dict[str, pd.DataFrame] = {}
        have_es = any(c.startswith("es_") for c in base.columns)
        have_cs = any(c.startswith("cs_") for c in base.columns)
        have_rev = "revenue_retention" in base.columns
        readers = {
            "employee_survey": (have_es, _employee_survey_file),
            "customer_survey": (have_cs, _customer_survey_file),
            "revenue": (have_rev, _revenue_file),
        }
        for name, (present, reader) in readers.items():
            path = env.get(CHAIN_ENV[name])
            if present or not path:
                continue
            try:
                got = reader(path, base)
            except InputError as err:
                raise (
                    err
                    if err.file
                    else InputError(
                        err.problem, file=pathlib.Path(path).name, row=err.row, column=err.column
                    )
                ) from None
            if name == "employee_survey":
                got, respondents = got
            tables[name] = got
        source = "files" if tables else ("panel" if (have_es or have_cs or have_rev) else "none")
        joined = join_chain(base, **tables) if tables else base
        out = ChainInputs(panel=joined, respondents=respondents, source=source)
    if not out.has("es_engagement") and not out.items:
        out.missing.append(
            "No employee survey: the chain starts at employee retention, and the drivers view "
            f"needs survey items (panel columns es_<item>, or a file in ${CHAIN_ENV['employee_survey']})."
        )
    elif out.respondents is None:
        out.missing.append(
            "No respondent-level survey answers: the reliability of unit means cannot be measured, "
            "so the drivers' correlations are shown uncorrected."
        )
    if not out.has("revenue_retention"):
        out.missing.append(
            "No revenue: the chain stops at customer retention and the list counts customers, not "
            f"money (panel column revenue_retention, or a file in ${CHAIN_ENV['revenue']})."
        )
    return out


# ---- the computations ------------------------------------------------------------------------


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
        ``chain``, ``mediation``, ``drivers``, ``watchlist``, ``backtest``: plain sentences.
    settings : dict
    """

    links: pd.DataFrame
    mediation: pd.DataFrame
    drivers: pd.DataFrame
    reliability: pd.DataFrame
    watchlist: pd.DataFrame
    backtest: pd.DataFrame
    texts: dict
    settings: dict

    _TABLES = ("links", "mediation", "drivers", "reliability", "watchlist", "backtest")

    def to_bytes(self) -> bytes:
        """CSV tables and texts as one JSON document (what the disk cache stores: nothing is pickled)."""
        doc = {name: getattr(self, name).to_csv(index=False) for name in self._TABLES}
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


def _strength(r: float) -> str:
    a = abs(r)
    return "strong" if a >= 0.5 else "moderate" if a >= 0.3 else "weak" if a >= 0.1 else "very weak"


def _lag_words(k: int, x: str, y: str, step: str) -> str:
    if k == 0:
        return f"in the same {step}"
    s = "s" if abs(k) != 1 else ""
    if k > 0:
        return f"with {y.lower()} {k} {step}{s} later"
    return f"when {y.lower()} comes first, by {-k} {step}{s}"


def link_sentences(links: pd.DataFrame, *, step: str = "month") -> list[str]:
    """One sentence per link for an executive: strength, sign, interval, timing.

    Examples
    --------
    >>> t = pd.DataFrame({"link": ["employee_retention -> customer_retention"] * 2, "method": ["between", "best_lag"],
    ...                   "lag": [0, 2], "r": [0.25, 0.29], "ci_low": [0.05, 0.25], "ci_high": [0.43, 0.35],
    ...                   "p_adj": [np.nan, 0.001], "best_lag": [2.0, 2.0]})
    >>> link_sentences(t)[0]
    'Employee retention \u2192 customer retention: weak, clear link within units (r = 0.29, 95% interval 0.25 to 0.35), strongest with customer retention 2 months later; units that do better on the first also do better on the second (r = 0.25 between units).'
    """
    from linkage.viz import link_label, plain_name

    out = []
    for lk in dict.fromkeys(links["link"]):
        rows = links[links["link"] == lk].set_index("method")
        x, y = (p.strip() for p in lk.split("->"))
        label = link_label(lk)
        if "best_lag" not in rows.index or not np.isfinite(rows.loc["best_lag", "r"]):
            out.append(f"{label}: not enough data to measure.")
            continue
        b = rows.loc["best_lag"]
        clear = b["ci_low"] > 0 or b["ci_high"] < 0
        if np.isfinite(b.get("p_adj", np.nan)):
            clear = clear and b["p_adj"] < 0.05
        numbers = f"r = {b['r']:.2f}, 95% interval {b['ci_low']:.2f} to {b['ci_high']:.2f}"
        if clear:
            sign = "" if b["r"] > 0 else " (negative: more of one goes with less of the other)"
            found = np.isfinite(b.get("best_lag", np.nan))
            when = (
                _lag_words(int(b["lag"]), plain_name(x), plain_name(y), step)
                if found
                else f"in the same {step}"
            )
            text = f"{label}: {_strength(b['r'])}, clear link within units{sign} ({numbers}), strongest {when}"
        else:
            text = f"{label}: no clear link within units ({numbers}; could be chance)"
        if "between" in rows.index and np.isfinite(rows.loc["between", "r"]):
            rb = rows.loc["between"]
            if rb["ci_low"] > 0:
                text += (
                    f"; units that do better on the first also do better on the second (r = {rb['r']:.2f} "
                    "between units)"
                )
            elif rb["ci_high"] < 0:
                text += f"; between units the two go opposite ways (r = {rb['r']:.2f})"
        out.append(text + ".")
    return out


def _mediation_sentence(med: pd.DataFrame, settings: dict) -> str:
    from linkage.viz import plain_name

    if med.empty or not settings.get("mediation"):
        return ""
    x, m, y = (plain_name(c).lower() for c in settings["mediation"])
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
        f"Within units, {how} (indirect path {ind['coef']:.3g}, 95% interval {ind['ci_low']:.3g} to "
        f"{ind['ci_high']:.3g}; direct {direct['coef']:.3g}). This splits an association into parts; it "
        "assumes nothing unmeasured drives both, and does not show that changing one would change the other."
    )


def _drivers_sentence(kd: pd.DataFrame, outcome: str, corrected: bool) -> str:
    from linkage.viz import plain_name

    if kd.empty:
        return ""
    clear = kd[kd["p_adj"] < 0.05]
    top = ", ".join(
        f"{plain_name(r.item)} ({r.share:.0%} of what the items explain)"
        for r in kd.head(3).itertuples()
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
        f"{lead}Largest weights for {plain_name(outcome).lower()} across units: {top}; together the items "
        f"explain {r2:.0%} of the differences between units.{tail} Units, not people: an item that goes with "
        "unit results need not matter to any one person."
    )


def _summary(
    links: pd.DataFrame,
    drivers: pd.DataFrame,
    shown: pd.DataFrame,
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
                link_label(r.link)
                + (
                    f" ({int(r.lag)} {step}{'s' if abs(r.lag) != 1 else ''} later)"
                    if r.lag > 0
                    else ""
                )
                for r in best.itertuples()
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
            drivers_text = (
                "Matter most for customer retention: "
                + ", ".join(plain_name(i) for i in sure["item"])
                + "."
            )
        else:
            drivers_text = (
                "No survey item stands out clearly; largest: "
                + ", ".join(plain_name(i) for i in drivers["item"].head(2))
                + "."
            )
    if no_list:
        visit = f"No list: {no_list}."
    elif n_flagged:
        visit = (
            f"{n_flagged} unit{'s' if n_flagged != 1 else ''} to visit, most at risk first: staff signals "
            f"dropped, about {lost:,.0f} customers expected to be lost."
        )
    else:
        visit = "No unit's staff signals point to lost customers."
    return {"chain": chain_text, "drivers": drivers_text, "visit": visit}


def _reliability(ci: ChainInputs, items: list[str]) -> pd.DataFrame:
    from linkage.stats import spearman_brown, unit_reliability

    resp = ci.respondents
    usable = [i for i in items if resp is not None and i in resp.columns]
    if resp is None or not usable:
        return pd.DataFrame(columns=["item", "icc1", "k", "reliability"])
    # ICC(1) within a survey month (units answer in waves), then the reliability of a unit's mean
    # over all its respondents (the between-unit level the drivers use), Spearman-Brown
    groups = resp.assign(
        _g=resp["unit_id"] + "|" + pd.DatetimeIndex(resp["wave"]).strftime("%Y-%m")
    )
    table = unit_reliability(groups, items=usable, unit="_g")
    k = float(resp.groupby("unit_id").size().mean())
    return pd.DataFrame(
        {
            "item": table["item"],
            "icc1": table["icc1"],
            "k": k,
            "reliability": spearman_brown(table["icc1"].to_numpy(), k),
        }
    )


def _watch_counts(
    panel: pd.DataFrame, wl: pd.DataFrame, recent: int, baseline: int
) -> pd.DataFrame:
    """``employees`` and ``customers``: the fewest people a unit had on average in the baseline or the
    recent window (the two windows its figures come from), unrounded, for suppression."""
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
    """Compute the section's three parts from :func:`chain_inputs`.

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
    cols = list(dict.fromkeys(["unit_id", "period", *(c for link in links for c in link)]))
    links_t, med, warns, med_cols, step = (
        pd.DataFrame(columns=CHAIN_COLUMNS),
        pd.DataFrame(columns=MEDIATION_COLUMNS),
        [],
        None,
        "period",
    )
    try:
        res = chain(panel[cols], links=links, max_lag=max_lag, n_boot=n_boot, seed=seed)
        links_t, med, warns = res.links, res.mediation, list(res.warnings)
        med_cols, step = res.settings.get("mediation"), res.settings.get("step", "period")
    except InputError as err:
        problems["chain"] = err.problem
    step = step if step in ("month", "quarter", "year") else "period"
    items = inputs.items
    rel = pd.DataFrame(columns=["item", "icc1", "k", "reliability"])
    drivers = pd.DataFrame()
    if len(items) >= 2:
        try:
            rel = _reliability(inputs, items)
            reliability = {
                r.item: float(r.reliability) for r in rel.itertuples() if 0 < r.reliability <= 1
            }
            drivers = key_drivers(
                panel,
                items=items,
                outcome="customer_retention",
                unit="unit_id",
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
    survey = [
        c
        for c in panel.columns
        if c.startswith("es_")
        and c not in ("es_respondents", "es_wave")
        and pd.api.types.is_numeric_dtype(panel[c])
    ]
    method = "forecast" if survey else "effect"
    how = {"method": method, "survey": survey or None}
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
            recent=recent,
            baseline=baseline,
            n_boot=n_boot,
            seed=seed,
            **how,
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
                panel, lag=lag, recent=recent, baseline=baseline, n_boot=0, seed=seed, **how
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
    if "watchlist" in problems:
        watch_text = f"No list: {problems['watchlist']}."
    else:
        if method == "forecast":
            watch_text = (
                f"{len(flagged)} of {len(shown)} units are forecast to lose customers: their staff "
                f"retention and survey scores over the last {recent} {step}s fell below the {baseline} "
                f"before, in the way that, in this data's past, came before lost customers. At the "
                f"measured lag ({lag} {step}{'s' if lag != 1 else ''}), they stand to lose about "
                f"{lost:,.0f} customers between them (each unit's interval in the table)."
            )
        else:
            watch_text = (
                f"{len(flagged)} of {len(shown)} units have clearly lower staff retention over the "
                f"last {recent} {step}s than in the {baseline} before. At the measured lag ({lag} "
                f"{step}{'s' if lag != 1 else ''}), the list's flagged units stand to lose about "
                f"{lost:,.0f} customers between them (each unit's interval in the table)."
            )
        if shown["suppressed"].any():
            watch_text += f" Figures of units with fewer than {k} people are suppressed."
    bt_text = ""
    if len(bt):
        row = bt.iloc[-1]
        if np.isfinite(row["precision"]):
            bt_text = (
                f"How often past lists were right: over {len(bt) - 1} past months, {int(row['n_hit'])} of "
                f"{int(row['n_flagged'])} flagged units went on to lose customers (precision "
                f"{row['precision']:.0%}), and the lists caught {int(row['n_hit'])} of {int(row['n_lost'])} "
                f"units that did (recall {row['recall']:.0%})."
            )
    chain_text = (
        link_sentences(links_t, step=step)
        if len(links_t)
        else [f"The chain could not be measured: {problems.get('chain', 'no links')}."]
    )
    drivers_text = (
        _drivers_sentence(drivers, "customer_retention", bool(len(rel)))
        if "drivers" not in problems
        else f"The drivers could not be ranked: {problems['drivers']}."
    )
    texts = {
        "summary": _summary(
            links_t, drivers, shown, lost, len(flagged), step, problems.get("watchlist")
        ),
        "chain": chain_text,
        "mediation": _mediation_sentence(med, {"mediation": med_cols}),
        "drivers": drivers_text,
        "watchlist": watch_text,
        "backtest": bt_text,
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
    >>> t = pd.DataFrame({"rank": [1], "unit": ["=1+1"], "flag": [True], "expected_lost": ["suppressed"]})
    >>> watchlist_csv(t).decode().splitlines()[1]
    "1,'=1+1,True,suppressed"
    """
    cols = [c for c in _WATCH_CSV if c in table.columns]
    return neutralise_formulas(table[cols]).to_csv(index=False, lineterminator="\n").encode("utf-8")


# ---- figures --------------------------------------------------------------------------------


def _fig_png(draw, figsize) -> bytes:
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


# ---- the page ---------------------------------------------------------------------------------


def section_parts(res: ChainResults, *, top: int = 10, draw=None) -> dict[str, str]:
    """The section's HTML pieces: ``summary`` (three cards), ``notes`` (what is missing), ``chain``,
    ``drivers``, ``watchlist``.

    Shared by the dashboard and the static report (``linkage report``). ``draw(name, function,
    table)`` returns PNG bytes (the dashboard passes one that reads its disk cache); default: draw.
    """
    from linkage.viz import watchlist_table

    if draw is None:

        def draw(name, function, table):  # noqa: ARG001 - same signature as ChainView._png
            return function(table)

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
    out["summary"] = (
        (
            "<div class='linkage-cards'>"
            + "".join(
                f"<div class='linkage-card'><b>{title}</b>{esc(cards[key])}</div>"
                for key, title in (
                    ("chain", "The chain"),
                    ("drivers", "Drivers"),
                    ("visit", "Units to visit"),
                )
                if key in cards
            )
            + "</div>"
        )
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
    if res.watchlist.empty:
        out["watchlist"] = f"<h4>Units to visit this {esc(step)}</h4>" + _paras(
            [res.texts["watchlist"]]
        )
        return out
    table = watchlist_table(res.watchlist, top=top)
    out["watchlist"] = (
        f"<h4>Units to visit this {esc(step)}</h4>"
        + _paras([res.texts["watchlist"], res.texts["backtest"]])
        + _img(
            draw("watchlist", lambda t: watchlist_png(t, top), res.watchlist),
            "Units to visit first",
        )
        + "<div class='linkage-table'>"
        + table.to_html(index=False, escape=True, border=0)
        + "</div>"
        + "<p>An expected loss is an association scaled to customers: it says where to look first, not what "
        "any one unit will lose.</p>"
    )
    return out


# ---- the widget -----------------------------------------------------------------------------

TITLE = "The whole chain: survey, staff, customers, revenue"
COMPUTING = "<div class='linkage-computing' style='color:#555'>Computing the chain&hellip; (a few seconds, once)</div>"


def _paras(lines) -> str:
    return "".join(f"<p>{esc(s)}</p>" for s in lines if s)


def _img(b: bytes, alt: str) -> str:
    return f"<img class='linkage-fig' alt='{esc(alt)}' src='{data_uri(b)}'/>"


class ChainView:
    """The section "The whole chain" of the executive dashboard, computed when first opened.

    Parameters
    ----------
    data : DashboardData
        The dashboard's panel and cache.
    sample : bool
        The panel is the repository's sample (its surveys and revenue are joined).
    env : mapping, optional
        Where the chain files' variables (:data:`CHAIN_ENV`) are read (default ``os.environ``).
    top : int
        Units shown in the watchlist table and figure.

    Attributes
    ----------
    widget : ipywidgets.Accordion
        Closed at start; opening it computes (or reads from the cache) and fills the parts.
    status, summary, notes, chain, drivers, watchlist, downloads : ipywidgets.HTML

    Examples
    --------
    >>> from linkage.app import DashboardData, load_panel
    >>> view = ChainView(DashboardData(load_panel(), n_boot=50), sample=True)
    >>> view.results is None  # nothing computed until the section is opened
    True
    >>> view.widget.selected_index = 0
    >>> "Units to visit" in view.watchlist.value and "respondent" not in view.watchlist.value
    True
    """

    def __init__(
        self,
        data: DashboardData,
        *,
        sample: bool = False,
        env: Mapping[str, str] | None = None,
        top: int = 10,
    ) -> None:
        self.data = data
        self.sample = sample
        self.env = env
        self.top = top
        self.results: ChainResults | None = None
        self._results_key: tuple | None = None
        self.status = widgets.HTML()
        self.summary = widgets.HTML()
        self.notes = widgets.HTML()
        self.chain = widgets.HTML()
        self.drivers = widgets.HTML()
        self.watchlist = widgets.HTML()
        self.downloads = widgets.HTML()
        body = widgets.VBox(
            [
                self.status,
                self.summary,
                self.notes,
                self.chain,
                self.drivers,
                self.watchlist,
                self.downloads,
            ]
        )
        self.widget = widgets.Accordion(children=[body], titles=(TITLE,))
        self.widget.add_class("linkage-chain")
        self.widget.observe(guarded(self.status)(self._on_open), names="selected_index")

    def _on_open(self, change) -> None:
        if change["new"] is not None and self.results is None:
            self.show()

    def _key(self, inputs: ChainInputs) -> tuple:
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(inputs.panel, index=False).to_numpy().tobytes())
        h.update(",".join(inputs.panel.columns).encode())
        if inputs.respondents is not None:
            h.update(
                pd.util.hash_pandas_object(inputs.respondents, index=False).to_numpy().tobytes()
            )
        here = pathlib.Path(__file__).resolve()
        for path in (here, here.parents[1] / "viz" / "_service_chain.py"):
            h.update(path.read_bytes())
        return ("chain_view", h.hexdigest()[:24], self.data.k, self.data.n_boot, self.data.seed)

    def compute(self) -> ChainResults:
        """The section's results: from the disk cache when another kernel computed them, else now."""
        inputs = chain_inputs(self.data.panel, sample=self.sample, env=self.env)
        key = self._results_key = self._key(inputs)
        stored = self.data.cache.get(key)
        if stored is not None:
            try:
                return ChainResults.from_bytes(stored)
            except (ValueError, KeyError, TypeError, pd.errors.ParserError):
                logger.info("chain cache entry unreadable; recomputing")
        res = chain_results(inputs, k=self.data.k, n_boot=self.data.n_boot, seed=self.data.seed)
        self.data.cache.put(key, res.to_bytes())
        return res

    def show(self) -> None:
        """Compute (showing "Computing ...") and fill the section."""
        self.chain.value = COMPUTING
        try:
            res = self.compute()
        except InputError as err:
            self.chain.value = ""
            self.notes.value = (
                "<div class='linkage-missing'><p>The chain could not be computed from these data: "
                f"{esc(err.problem)}</p></div>"
            )
            logger.info("chain section: %s", err)
            return
        self.results = res
        self.fill(res)

    def _png(self, name: str, draw, table: pd.DataFrame) -> bytes:
        key = (*self._results_key, "png", name) if self._results_key else None
        b = self.data.cache.get(key) if key else None
        if b is None:
            b = draw(table)
            if key:
                self.data.cache.put(key, b)
        return b

    def fill(self, res: ChainResults) -> None:
        """Put the results on the page."""
        parts = section_parts(res, top=self.top, draw=self._png)
        for name in ("summary", "notes", "chain", "drivers", "watchlist"):
            getattr(self, name).value = parts[name]
        self.downloads.value = (
            ""
            if res.watchlist.empty
            else (
                "<div class='linkage-downloads'>"
                f"<a download='linkage_watchlist.csv' href='{data_uri(watchlist_csv(res.watchlist), 'text/csv')}'>"
                "Units to visit (CSV, small units suppressed)</a></div>"
            )
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
