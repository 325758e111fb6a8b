"""Gather the service chain's unit x period data for a panel: surveys, revenue, respondents.

Where the chain's data come from (:func:`chain_inputs`): on the sample panel, the sample's surveys
and revenue (:func:`linkage.io.datasets.load_sample_chain`); otherwise the chain columns already in
the panel (``es_<item>``, ``cs_csat``, ``revenue_retention`` ... as :func:`linkage.panel.join_chain`
writes them), else the files named by the environment variables of :data:`CHAIN_ENV` (set by
``linkage dashboard``). Without a mapping, unit x period survey and revenue files are read with
:func:`linkage.io.read_panel` and respondent-level survey rows are cleaned (:mod:`linkage.clean`);
with a mapping (``$LINKAGE_MAP``, the YAML of ``linkage panel --map``) every file is read as
``linkage panel`` reads it: the mapping's ``employee_survey``, ``customer_survey`` and ``revenue``
sections and its ``dates`` (:func:`linkage.pipeline.prepare.clean_chain_extract`,
:func:`linkage.pipeline.prepare.chain_table`). Respondent-level rows are averaged by unit
(:mod:`linkage.panel`) and kept, identifiers dropped, only for the reliability of unit means.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from linkage.errors import InputError

__all__ = ["CHAIN_ENV", "ChainInputs", "chain_inputs"]

#: Environment variables naming the chain's files for a panel without chain columns.
#: Employee survey: respondent-level (``unit_id``, ``survey_date``, item columns) or unit x period
#: (``unit_id``, ``period``, ``es_<item>``, ``es_respondents``); customer survey: responses
#: (``unit_id``, ``response_date``, ``csat`` and/or ``nps``) or unit x period (``cs_csat``, ...);
#: revenue: unit x period (``revenue``, ``revenue_start``, ``revenue_retained``,
#: ``revenue_retention``) or customer-level (``customer_id``, ``unit_id``, ``period``, ``revenue``).
#: mapping: a YAML column mapping (as ``linkage panel --map``) for files in their export's names.
CHAIN_ENV = {
    "employee_survey": "LINKAGE_EMPLOYEE_SURVEY",
    "customer_survey": "LINKAGE_CUSTOMER_SURVEY",
    "revenue": "LINKAGE_REVENUE",
    "mapping": "LINKAGE_MAP",
}

#: Panel columns of the employee survey that are not items.
NOT_ITEMS = frozenset({"es_respondents", "es_wave", "es_engagement"})
_ID_COLUMNS = ("respondent_id", "response_id", "customer_id", "employee_id")


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
            if c.startswith("es_") and c not in NOT_ITEMS and self.panel[c].notna().any()
        ]

    def has(self, column: str) -> bool:
        """Whether ``column`` is in the panel with at least one number."""
        return column in self.panel.columns and bool(self.panel[column].notna().any())


def _numeric_chain_columns(panel: pd.DataFrame) -> pd.DataFrame:
    """es_*, cs_* and revenue* columns as numbers (a panel read as text keeps them as strings)."""
    cols = {}
    for c in panel.columns:
        if (
            c.startswith(("es_", "cs_", "revenue"))
            and not c.endswith("_wave")
            and not pd.api.types.is_numeric_dtype(panel[c])
        ):
            cols[c] = pd.to_numeric(panel[c].where(panel[c] != "(none)"), errors="coerce")
    return panel.assign(**cols) if cols else panel


def _window(panel: pd.DataFrame) -> dict[str, Any]:
    """``start`` and ``end`` of the panel's periods (the survey and revenue tables' window)."""
    return {"start": panel["period"].min(), "end": panel["period"].max()}


def _respondents(es: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    month = pd.to_datetime(es["survey_date"]).dt.to_period("M").dt.to_timestamp()
    out = pd.DataFrame({"unit_id": es["unit_id"].astype(str).to_numpy(), "wave": month.to_numpy()})
    for i in items:
        out[f"es_{i}"] = pd.to_numeric(es[i], errors="coerce").to_numpy(dtype=float)
    return out


def _unit_table(path: str) -> pd.DataFrame:
    """A unit x period survey or revenue file: :func:`linkage.io.read_panel` as the commands read
    tables (``strict=False``: ISO periods), identifiers dropped, chain columns as numbers."""
    from linkage.io.panel import read_panel

    table = read_panel(path, require=(), strict=False, what="unit x period table")
    return _numeric_chain_columns(table.drop(columns=[c for c in _ID_COLUMNS if c in table]))


def _employee_survey_file(
    path: str, panel: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    from linkage.clean import clean_employee_survey
    from linkage.io import read_table
    from linkage.panel import employee_survey_panel

    raw = read_table(path)
    if "period" in raw.columns:  # already unit x period
        return _unit_table(path), None
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
        return _unit_table(path)
    has_csat, has_nps = "csat" in raw.columns, "nps" in raw.columns
    source = pathlib.Path(path).name
    cs = clean_customer_survey(raw, csat=has_csat, nps=has_nps, source=source).data
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
        return _unit_table(path)
    rev = clean_revenue(raw, source=pathlib.Path(path).name).data
    return revenue_panel(rev, **_window(panel))


def _mapped_file(
    name: str, path: str, panel: pd.DataFrame, mapping: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A chain file read as ``linkage panel --map`` reads it: the mapping's section and dates,
    the same cleaning and tables as :func:`linkage.pipeline.prepare`; respondents for the
    reliability when the employee survey is respondent-level."""
    from linkage.clean import check_kept
    from linkage.io import read_table
    from linkage.pipeline.prepare import chain_table, clean_chain_extract

    label = pathlib.Path(path).name
    result, items = clean_chain_extract(
        name, read_table(path, name=label), mapping=mapping, source=label
    )
    check_kept(result)
    table = chain_table(name, result.data, items=items, **_window(panel))
    if name == "employee_survey" and "survey_date" in result.data.columns:
        return table, _respondents(result.data, list(items))
    return table, None


def _sample_inputs(base: pd.DataFrame) -> ChainInputs:
    from linkage.io.datasets import load_sample_chain
    from linkage.panel import customer_survey_panel, employee_survey_panel, join_chain

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
    return ChainInputs(panel=joined, respondents=_respondents(es, items), source="sample")


def _file_inputs(base: pd.DataFrame, env: Mapping[str, str]) -> ChainInputs:
    from linkage.panel import join_chain

    tables: dict[str, pd.DataFrame] = {}
    respondents = None
    have_es = any(c.startswith("es_") for c in base.columns)
    have_cs = any(c.startswith("cs_") for c in base.columns)
    have_rev = "revenue_retention" in base.columns
    wanted = {"employee_survey": have_es, "customer_survey": have_cs, "revenue": have_rev}
    mapping = None
    if any(env.get(CHAIN_ENV[name]) and not present for name, present in wanted.items()):
        mapping = _mapping(env)
    for name, present in wanted.items():
        path = env.get(CHAIN_ENV[name])
        if present or not path:
            continue
        try:
            if mapping is not None:
                tables[name], found = _mapped_file(name, path, base, mapping)
                respondents = found if name == "employee_survey" else respondents
            elif name == "employee_survey":
                tables[name], respondents = _employee_survey_file(path, base)
            elif name == "customer_survey":
                tables[name] = _customer_survey_file(path, base)
            else:
                tables[name] = _revenue_file(path, base)
        except InputError as err:
            raise (
                err
                if err.file
                else InputError(
                    err.problem, file=pathlib.Path(path).name, row=err.row, column=err.column
                )
            ) from None
    source = "files" if tables else ("panel" if (have_es or have_cs or have_rev) else "none")
    joined = join_chain(base, **tables) if tables else base
    return ChainInputs(panel=joined, respondents=respondents, source=source)


def _mapping(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The mapping named by ``$LINKAGE_MAP`` (validated), or None."""
    from linkage.io import load_mapping

    path = env.get(CHAIN_ENV["mapping"])
    return load_mapping(path) if path else None


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
        The dashboard's panel (:func:`linkage.io.read_panel`, as ``linkage.app.load_panel``).
    sample : bool
        The panel is the repository's sample: join the sample's surveys and revenue.
    env : mapping, optional
        Where to look for :data:`CHAIN_ENV` (default ``os.environ``); with ``LINKAGE_MAP`` the
        files are read with that YAML mapping's sections and dates, as ``linkage panel --map``.

    Returns
    -------
    ChainInputs

    Raises
    ------
    InputError
        A chain file or mapping named in ``env`` that cannot be read or joined (the section shows
        the message).

    Examples
    --------
    >>> from linkage.io import read_panel
    >>> from linkage.io.datasets import sample_path
    >>> panel = read_panel(sample_path("panel.csv"))
    >>> ci = chain_inputs(panel, sample=True)
    >>> ci.source, ci.items[:2], ci.has("revenue_retention"), "respondent_id" in ci.respondents
    ('sample', ['es_manager_support', 'es_staffing'], True, False)
    >>> chain_inputs(panel, env={}).missing[0][:40]
    'No employee survey: the chain starts at '
    """
    env = os.environ if env is None else env
    base = _numeric_chain_columns(panel)
    out = _sample_inputs(base) if sample else _file_inputs(base, env)
    if out.respondents is not None:  # only the panel's units (a dashboard's scope, say) count
        units = set(base["unit_id"].astype(str))
        out.respondents = out.respondents.loc[out.respondents["unit_id"].isin(units)]
    if not out.has("es_engagement") and not out.items:
        out.missing.append(
            "No employee survey: the chain starts at employee retention, and the drivers view "
            "needs survey items (panel columns es_<item>, or a file in "
            f"${CHAIN_ENV['employee_survey']})."
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
