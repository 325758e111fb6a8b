"""Loaders for the data bundled with the project: the sample world and the BLS JOLTS quits rates.

The files live once, in the repository's ``data/`` folder (``data/sample/``, rebuilt by
``make sample``, and ``data/jolts/``, see its ``PROVENANCE.md``); building the wheel copies them,
with the notebooks and dashboards, into the package (``linkage/share/``). :func:`project_path`
finds them either way: in the installed package when it carries them, else in the checkout this
module runs from, so notebooks and tests load them whatever their working directory. Set the
environment variable ``LINKAGE_DATA`` to a folder holding ``sample/`` and ``jolts/`` to use
another copy.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from linkage.errors import InputError
from linkage.io._columns import require_columns

__all__ = [
    "project_path",
    "data_dir",
    "sample_path",
    "load_sample_panel",
    "load_sample_world",
    "SampleWorld",
    "load_sample_chain",
    "SampleChain",
    "load_jolts",
    "jolts_industries",
    "JOLTS_FILE",
]

DATA_ENV = "LINKAGE_DATA"
JOLTS_FILE = "jolts_quits_by_industry_2000-12_2022-08.csv"
_JOLTS_CODES = "jolts_industry_codes.csv"


#: Folder of the package that holds the copies made when the wheel is built (absent in a checkout).
SHARE = "share"


def _checkout_root() -> pathlib.Path:
    return pathlib.Path(__file__).resolve().parents[3]


def project_path(*parts: str) -> pathlib.Path | None:
    """Where a bundled project folder or file is: the installed package's copy, else the checkout's.

    The wheel carries ``notebooks/`` (analyst, workshop and dashboard notebooks with the dashboards'
    ``voila.json``) and ``data/`` (``sample/``, ``jolts/``) below ``linkage/share/``, with the paths
    they have in the repository. In a checkout (an editable install, or ``src`` on the path) the
    package has no such copy and the repository's own folders are used.

    Parameters
    ----------
    *parts : str
        Path components as in the repository, e.g. ``"notebooks", "dashboards"``.

    Returns
    -------
    pathlib.Path or None
        The existing path, or None when neither the package nor a checkout has it.

    Examples
    --------
    >>> from linkage.io.datasets import project_path
    >>> (project_path("notebooks", "dashboards") / "voila.json").is_file()
    True
    >>> project_path("no", "such", "thing") is None
    True
    """
    package = importlib.resources.files("linkage") / SHARE
    if isinstance(package, pathlib.Path) and package.is_dir():
        where = package.joinpath(*parts)
    elif (_checkout_root() / "pyproject.toml").is_file():  # src/linkage of a checkout
        where = _checkout_root().joinpath(*parts)
    else:
        return None
    return where if where.exists() else None


def data_dir() -> pathlib.Path:
    """The folder holding the bundled data (``sample/`` and ``jolts/``).

    Returns
    -------
    pathlib.Path
        ``$LINKAGE_DATA`` when that environment variable is set, else the package's copy of the
        repository's ``data/`` folder (an installed wheel), else the checkout's ``data/``
        (:func:`project_path`).

    Raises
    ------
    InputError
        If the folder does not exist.

    Examples
    --------
    >>> from linkage.io.datasets import data_dir
    >>> (data_dir() / "jolts" / "PROVENANCE.md").is_file()
    True
    """
    env = os.environ.get(DATA_ENV)
    if env:
        where = pathlib.Path(env).expanduser()
        if not where.is_dir():
            raise InputError(
                f"the data folder {str(where)!r} named by the {DATA_ENV} environment variable "
                "does not exist",
                file=str(where),
            )
        return where
    found = project_path("data")
    if found is None or not found.is_dir():
        raise InputError(
            "this linkage installation carries no bundled data (neither the package's share/data "
            f"nor a checkout's data folder); set {DATA_ENV} to the 'data' folder of a linkage "
            "checkout",
            file=str(_checkout_root() / "data"),
        )
    return found


def sample_path(*parts: str) -> pathlib.Path:
    """Path of a file or folder inside the bundled sample world (``data/sample``).

    Parameters
    ----------
    *parts : str
        Path components below ``data/sample``, e.g. ``"raw", "mapping.yaml"``. None gives the
        folder itself.

    Returns
    -------
    pathlib.Path
        The existing path.

    Raises
    ------
    InputError
        If the path does not exist (run ``make sample`` to rebuild the sample).

    Examples
    --------
    >>> from linkage.io.datasets import sample_path
    >>> sample_path("panel.csv").name
    'panel.csv'
    """
    path = data_dir().joinpath("sample", *parts)
    if not path.exists():
        raise InputError(
            "not in the bundled sample (in a checkout, 'make sample' rebuilds data/sample)",
            file=str(path),
        )
    return path


def load_sample_panel() -> pd.DataFrame:
    """The bundled sample panel (``data/sample/panel.csv``), typed as docs/design.md says.

    Returns
    -------
    pandas.DataFrame
        One row per unit x month, sorted by ``unit_id, period``, with the columns of the panel
        contract: ``unit_id`` (str), ``period`` (datetime64, first day of the month), the
        ``employee_*`` and ``customer_*`` counts (int64) and rates (float64, NaN where the
        denominator is 0), then the unit attributes (``region``, ... as str).

    Raises
    ------
    InputError
        If the sample is missing.

    Examples
    --------
    >>> from linkage.io.datasets import load_sample_panel
    >>> panel = load_sample_panel()
    >>> list(panel.columns[:3])
    ['unit_id', 'period', 'employee_start']
    >>> str(panel["employee_start"].dtype), str(panel["employee_retention"].dtype)
    ('int64', 'float64')
    """
    from linkage.io.panel import read_panel  # pandera: loaded on first use

    return read_panel(sample_path("panel.csv"), require=())


@dataclass(frozen=True)
class SampleWorld:
    """The person-level sample world: canonical tables and the simulator's planted truth.

    Attributes
    ----------
    employees : pandas.DataFrame
        ``employee_id, unit_id, hire_date, termination_date`` (NaT while employed), plus
        ``termination_type`` and ``role`` (``manager`` / ``staff``: the sample's planted manager
        departures) when present.
    customers : pandas.DataFrame
        ``customer_id, unit_id, start_date, end_date`` (NaT while active).
    units : pandas.DataFrame
        ``unit_id`` and the unit attributes, all strings.
    truth : dict
        What the simulator planted (``truth.json``).
    """

    employees: pd.DataFrame
    customers: pd.DataFrame
    units: pd.DataFrame
    truth: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"SampleWorld({len(self.units)} units, {len(self.employees)} employee spells, "
            f"{len(self.customers)} customer spells)"
        )


def _read_canonical(name: str, *, dates: Sequence[str]) -> pd.DataFrame:
    path = sample_path(name)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    require_columns(table, dates, file=str(path), what="sample table")
    for col in dates:
        table[col] = pd.to_datetime(table[col], format="ISO8601")
    return table


def load_sample_world() -> SampleWorld:
    """The person-level sample world written by ``make sample`` (canonical column names).

    Returns
    -------
    SampleWorld
        Typed ``employees``, ``customers`` and ``units`` tables and the ``truth`` dict.

    Raises
    ------
    InputError
        If a file of the sample is missing.

    Examples
    --------
    >>> from linkage.io.datasets import load_sample_world
    >>> world = load_sample_world()
    >>> str(world.employees["hire_date"].dtype).startswith("datetime64")
    True
    >>> world.units["unit_id"].is_unique
    True
    """
    employees = _read_canonical("employees.csv", dates=("hire_date", "termination_date"))
    customers = _read_canonical("customers.csv", dates=("start_date", "end_date"))
    units = _read_canonical("units.csv", dates=())
    truth = json.loads(sample_path("truth.json").read_text(encoding="utf-8"))
    return SampleWorld(employees=employees, customers=customers, units=units, truth=truth)


@dataclass(frozen=True)
class SampleChain:
    """The rest of the chain around the sample world (surveys, segments, revenue) and its truth.

    Attributes
    ----------
    employee_survey : pandas.DataFrame
        One row per respondent and quarterly wave: ``respondent_id``, ``unit_id`` (str),
        ``survey_date`` (datetime64) and one int64 column per item (1-5): ``engagement``, the
        planted drivers ``manager_support, staffing, recognition`` and ``pay, facilities,
        commute``, which drive nothing.
    customer_survey : pandas.DataFrame
        One row per response: ``response_id``, ``unit_id``, ``response_date``, ``csat`` (1-5),
        ``nps`` (0-10), int64.
    segments : pandas.DataFrame
        ``customer_id, segment`` for every customer of ``customers.csv``.
    unit_revenue : pandas.DataFrame
        ``unit_id, period, revenue, revenue_start, revenue_retained, revenue_retention`` per unit
        and month (the output of ``linkage.panel.revenue_panel``; float64).
    truth : dict
        ``truth.json``'s ``chain`` entry: what the simulator planted.
    """

    employee_survey: pd.DataFrame
    customer_survey: pd.DataFrame
    segments: pd.DataFrame
    unit_revenue: pd.DataFrame
    truth: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"SampleChain({len(self.employee_survey)} employee survey responses, "
            f"{len(self.customer_survey)} customer survey responses, "
            f"{len(self.segments)} customers with a segment)"
        )


def load_sample_chain() -> SampleChain:
    """The sample world's surveys, segments and revenue (``make sample``), typed.

    Returns
    -------
    SampleChain
        ``employee_survey``, ``customer_survey``, ``segments``, ``unit_revenue`` and ``truth``.

    Raises
    ------
    InputError
        If a file of the sample is missing.

    Examples
    --------
    >>> from linkage.io.datasets import load_sample_chain
    >>> chain = load_sample_chain()
    >>> str(chain.employee_survey["engagement"].dtype), chain.truth["planted_drivers"][0]
    ('int64', 'manager_support')
    >>> str(chain.unit_revenue["period"].dtype).startswith("datetime64")
    True
    """
    es = _read_canonical("employee_survey.csv", dates=("survey_date",))
    for col in es.columns[3:]:
        es[col] = pd.to_numeric(es[col], errors="raise").astype("int64")
    cs = _read_canonical("customer_survey.csv", dates=("response_date",))
    for col in ("csat", "nps"):
        cs[col] = pd.to_numeric(cs[col], errors="raise").astype("int64")
    segments = _read_canonical("customer_segments.csv", dates=())
    revenue = _read_canonical("unit_revenue.csv", dates=("period",))
    for col in revenue.columns[2:]:
        revenue[col] = pd.to_numeric(revenue[col], errors="raise").astype("float64")
    truth = json.loads(sample_path("truth.json").read_text(encoding="utf-8"))
    if "chain" not in truth:
        raise InputError(
            "the sample has no chain; run 'make sample' to rebuild data/sample",
            file=str(sample_path("truth.json")),
        )
    return SampleChain(
        employee_survey=es,
        customer_survey=cs,
        segments=segments,
        unit_revenue=revenue,
        truth=truth["chain"],
    )


def jolts_industries() -> pd.DataFrame:
    """The 28 JOLTS industries: ``industry_code`` (6-digit string) and ``industry_text``.

    Examples
    --------
    >>> from linkage.io.datasets import jolts_industries
    >>> codes = jolts_industries()
    >>> codes.set_index("industry_code").loc["440000", "industry_text"]
    'Retail trade'
    """
    path = data_dir() / "jolts" / _JOLTS_CODES
    if not path.is_file():
        raise InputError("the JOLTS industry codes are missing", file=str(path))
    return pd.read_csv(path, dtype=str)


def load_jolts(
    *,
    seasonal: Literal["S", "U"] = "S",
    industries: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    wide: bool = False,
) -> pd.DataFrame:
    """Monthly BLS JOLTS quits rates (percent) by industry, December 2000 to August 2022.

    Public-domain data shipped in ``data/jolts/`` (see its ``PROVENANCE.md``).

    Parameters
    ----------
    seasonal : {"S", "U"}, default "S"
        ``"S"`` seasonally adjusted, ``"U"`` not adjusted.
    industries : sequence of str, optional
        Industry codes (``"440000"``) or names (``"Retail trade"``) to keep; all 28 by default.
    start, end : str, optional
        First and last month to keep, as ``"YYYY-MM"`` (inclusive).
    wide : bool, default False
        False: long table ``period, industry_code, industry, quits_rate``. True: one row per
        ``period`` (the index) and one column per industry name.

    Returns
    -------
    pandas.DataFrame
        ``period`` is datetime64 (first day of the month); ``quits_rate`` is float64.

    Raises
    ------
    InputError
        For an unknown industry, a bad ``seasonal`` value or a month that is not ``YYYY-MM``.

    Examples
    --------
    Retail and restaurants share a trend: their quits rates move together in levels but hardly
    month to month.

    >>> from linkage.io.datasets import load_jolts
    >>> q = load_jolts(
    ...     industries=["Retail trade", "720000"], start="2001-01", end="2019-12", wide=True
    ... )
    >>> list(q.columns)
    ['Retail trade', 'Accommodation and food services']
    >>> round(float(q.corr().iloc[0, 1]), 2)
    0.88
    """
    if seasonal not in ("S", "U"):
        raise InputError(f"seasonal must be 'S' or 'U', not {seasonal!r}", column="seasonal")
    path = data_dir() / "jolts" / JOLTS_FILE
    if not path.is_file():
        raise InputError("the JOLTS file is missing", file=str(path))
    codes = jolts_industries()
    raw = pd.read_csv(
        path, dtype={"date": str, "industry_code": str, "seasonal": str, "quits_rate": float}
    )
    raw = raw[raw["seasonal"] == seasonal]
    if industries is not None:
        by_code = dict(zip(codes["industry_code"], codes["industry_code"], strict=True))
        by_code |= dict(
            zip(codes["industry_text"].str.lower(), codes["industry_code"], strict=True)
        )
        wanted = []
        for item in industries:
            code = by_code.get(str(item).strip().lower())
            if code is None:
                raise InputError(
                    f"unknown JOLTS industry {item!r}; see linkage.io.datasets.jolts_industries()",
                    column="industries",
                )
            wanted.append(code)
        raw = raw[raw["industry_code"].isin(wanted)]
        order = {code: i for i, code in enumerate(wanted)}
    else:
        order = {code: i for i, code in enumerate(codes["industry_code"])}
    period = pd.to_datetime(raw["date"], format="%Y-%m")
    keep = pd.Series(True, index=raw.index)
    for bound, name in ((start, "start"), (end, "end")):
        if bound is None:
            continue
        try:
            when = pd.to_datetime(bound, format="%Y-%m")
        except (ValueError, TypeError):
            raise InputError(
                f"{name} must be a month as 'YYYY-MM', not {bound!r}", column=name
            ) from None
        keep &= (period >= when) if name == "start" else (period <= when)
    names = dict(zip(codes["industry_code"], codes["industry_text"], strict=True))
    long = pd.DataFrame(
        {
            "period": period[keep],
            "industry_code": raw.loc[keep, "industry_code"],
            "industry": raw.loc[keep, "industry_code"].map(names),
            "quits_rate": raw.loc[keep, "quits_rate"].astype("float64"),
        }
    )
    long = long.assign(_order=long["industry_code"].map(order))
    long = long.sort_values(["_order", "period"]).drop(columns="_order").reset_index(drop=True)
    if not wide:
        return long
    table = long.pivot(index="period", columns="industry", values="quits_rate")
    ordered = list(dict.fromkeys(long["industry"]))
    table = table[ordered]
    table.columns.name = None
    return table
