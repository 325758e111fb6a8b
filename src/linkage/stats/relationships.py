"""Do customers follow the person who served them? A discrete-time hazard with unit x month strata.

Every customer is at risk in each month it is active at the start of (``docs/domain.md``'s "at
start"); it *leaves* in the month its spell ends. A customer is *exposed* in months 1..``window``
after the month in which the employee who served it left (the termination of the employee's spell
while the relationship and the customer were active; where two departures' windows overlap, the
later one counts). Within each unit and calendar month (the stratum), the monthly hazard of the
exposed is compared with that of the customers whose employee stayed:

    E[lost in cell c] = at_risk_c * exp(alpha_{unit, month} + x_c' beta)

a Poisson model of the monthly hazard with one effect per unit x month, fitted conditionally on
each stratum's losses (the conditional Poisson likelihood, which gives the same ``beta`` as the
model with a dummy per stratum and equals a Cox model stratified by unit x month with Breslow's
ties: ``exp(beta)`` is the hazard ratio). Intervals are Wald intervals from a sandwich clustered
by unit. The customer-month expansion (one row per customer and month) runs in DuckDB, so a
million customers fit in memory; the model sees only the counts per stratum and exposure cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from linkage.errors import InputError
from linkage.io import require_columns
from linkage.stats.results import Result, jsonable, records
from linkage.words import interval, p_phrase, plural

__all__ = [
    "RelationshipResult",
    "relationship_hazard",
    "conditional_poisson",
    "relationship_cells",
    "LENGTH_BANDS",
]

#: relationship length at the departure, in months: ``(label, lowest month, highest month)``
LENGTH_BANDS: tuple[tuple[str, float, float], ...] = (
    ("under 1 year", 0.0, 12.0),
    ("1 to 3 years", 12.0, 36.0),
    ("3 years or more", 36.0, np.inf),
)
_DAYS_PER_MONTH = 30.4375
_Z = float(sps.norm.ppf(0.975))


def conditional_poisson(
    stratum: np.ndarray,
    x: np.ndarray,
    at_risk: np.ndarray,
    events: np.ndarray,
    cluster: np.ndarray,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Rate ratios with one effect per stratum, conditioned out; cluster-robust covariance.

    Maximises the conditional Poisson likelihood: within stratum ``s``, the ``D_s`` events fall in
    its cells with probabilities proportional to ``at_risk_c * exp(x_c' beta)``. The ``beta`` is
    that of a Poisson regression with an offset ``log(at_risk)`` and a dummy per stratum (and of a
    Cox model stratified the same way with Breslow's ties). The covariance is the sandwich
    ``I^-1 (sum_g U_g U_g') I^-1 * G / (G - 1)`` over clusters ``g`` (each stratum inside one
    cluster).

    Parameters
    ----------
    stratum : array of int, shape (n,)
        Stratum code of each cell.
    x : array of float, shape (n, p)
        Covariates of each cell.
    at_risk : array, shape (n,)
        Person-months (the offset is its log); cells with 0 are ignored.
    events : array, shape (n,)
        Events (customers lost) in each cell.
    cluster : array of int, shape (n,)
        Cluster code of each cell (constant within a stratum).
    tol, max_iter
        Newton-Raphson's stopping rule (largest step) and iteration limit.

    Returns
    -------
    beta : numpy.ndarray, shape (p,)
    cov : numpy.ndarray, shape (p, p)

    Raises
    ------
    InputError
        When the covariates cannot be estimated (no variation within strata that had events, or an
        estimate that runs off to infinity because a group lost nobody).

    Examples
    --------
    Doll and Hill's British doctors (Breslow & Day 1987, vol. II, table 2.2): deaths and
    person-years of smokers and non-smokers in five age groups; the smoking rate ratio adjusted
    for age is 1.43 (Stata's ``poisson deaths smokes i.agecat, exposure(pyears) irr``).

    >>> age = np.repeat(np.arange(5), 2)
    >>> smokes = np.tile([1.0, 0.0], 5)[:, None]
    >>> deaths = np.array([32, 2, 104, 12, 206, 28, 186, 28, 102, 31])
    >>> pyears = np.array([52407, 18790, 43248, 10673, 28612, 5710, 12663, 2585, 5317, 1462])
    >>> beta, cov = conditional_poisson(age, smokes, pyears, deaths, np.arange(10) // 2)
    >>> round(float(np.exp(beta[0])), 4)
    1.4255
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n = np.asarray(at_risk, dtype=float)
    d = np.asarray(events, dtype=float)
    keep = n > 0
    s_codes, s = np.unique(np.asarray(stratum)[keep], return_inverse=True)
    g_codes, g = np.unique(np.asarray(cluster)[keep], return_inverse=True)
    x, n, d = x[keep], n[keep], d[keep]
    n_s = s_codes.size
    big_d = np.bincount(s, weights=d, minlength=n_s)
    # strata without a loss say nothing about beta
    informative = big_d[s] > 0
    x, n, d, s, g = x[informative], n[informative], d[informative], s[informative], g[informative]
    p = x.shape[1]
    beta = np.zeros(p)
    info = np.zeros((p, p))

    def moments(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eta = x @ b
        eta = eta - np.max(eta) if eta.size else eta
        w = n * np.exp(eta)
        tot = np.bincount(s, weights=w, minlength=n_s)
        share = w / tot[s]
        mu = big_d[s] * share
        xbar = np.column_stack(
            [np.bincount(s, weights=share * x[:, j], minlength=n_s) for j in range(p)]
        )
        score = x.T @ (d - mu)
        inf = (x * mu[:, None]).T @ x - (xbar * big_d[:, None]).T @ xbar
        return score, inf, mu

    for _ in range(max_iter):
        score, info, _mu = moments(beta)
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            raise InputError(
                "the hazard cannot be estimated: no customer of a unit and month with losses was "
                "exposed (or every one was)"
            ) from None
        step = np.clip(step, -2.0, 2.0)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 15:
        raise InputError(
            "the hazard cannot be estimated: a group of customers lost nobody (or everybody)"
        )
    score, info, mu = moments(beta)
    cond = np.linalg.cond(info)
    if not np.isfinite(cond) or cond > 1e12:
        raise InputError(
            "the hazard cannot be estimated: no customer of a unit and month with losses was "
            "exposed (or every one was)"
        )
    u = x * (d - mu)[:, None]
    n_g = g_codes.size
    ug = np.column_stack([np.bincount(g, weights=u[:, j], minlength=n_g) for j in range(p)])
    meat = ug.T @ ug * (n_g / max(n_g - 1, 1))
    bread = np.linalg.inv(info)
    return beta, bread @ meat @ bread


def _month_number(dates: pd.Series) -> np.ndarray:
    """Months since 1970-01 as int64 (-1 for NaT)."""
    values = pd.DatetimeIndex(dates)
    out = (values.year.to_numpy() - 1970) * 12 + values.month.to_numpy() - 1
    return np.where(values.isna(), -1, out).astype(np.int64)


def _month_start(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=1970 + number // 12, month=number % 12 + 1, day=1)


def _as_dates(data: pd.DataFrame, column: str, what: str) -> pd.Series:
    values = data[column]
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError):
            raise InputError(
                f"the {what} column {column!r} holds values that are not dates; "
                "clean the extract first (linkage.clean)",
                column=column,
            ) from None
    return values


def _departures(
    employees: pd.DataFrame,
    customers: pd.DataFrame,
    relationships: pd.DataFrame | None,
    *,
    handover_days: int,
) -> pd.DataFrame:
    """One row per customer whose serving employee left while the customer stayed.

    Columns: ``customer_id, employee_id, departure`` (date), ``dep_month`` (month number),
    ``quick`` (1 a new owner within ``handover_days``, 0 none, -1 unknown), ``band`` (index of
    :data:`LENGTH_BANDS`).
    """
    if relationships is None:
        rel = customers.loc[
            customers["served_by"].notna(), ["customer_id", "served_by", "start_date", "end_date"]
        ].rename(columns={"served_by": "employee_id"})
        rel["employee_id"] = rel["employee_id"].astype(str)
    else:
        rel = relationships[["customer_id", "employee_id", "start_date", "end_date"]].copy()
    rel = rel.rename(columns={"start_date": "rel_start", "end_date": "rel_end"})
    terms = employees.loc[
        employees["termination_date"].notna(), ["employee_id", "termination_date"]
    ].rename(columns={"termination_date": "departure"})
    dep = rel.merge(terms, on="employee_id", how="inner")
    dep = dep[
        (dep["departure"] >= dep["rel_start"])
        & (dep["rel_end"].isna() | (dep["departure"] <= dep["rel_end"]))
    ]
    # the customer was still a customer on the day: a spell covering it, not ending that day
    spells = customers[["customer_id", "start_date", "end_date"]]
    dep = dep.merge(spells, on="customer_id", how="inner")
    dep = dep[
        (dep["start_date"] <= dep["departure"])
        & (dep["end_date"].isna() | (dep["end_date"] > dep["departure"]))
    ]
    dep = dep.drop_duplicates(["customer_id", "employee_id", "departure"])
    if relationships is None:
        quick = np.full(len(dep), -1, dtype=np.int64)
    else:
        nxt = relationships[["customer_id", "employee_id", "start_date"]].rename(
            columns={"employee_id": "next_employee", "start_date": "next_start"}
        )
        pairs = (
            dep[["customer_id", "employee_id", "departure"]]
            .reset_index()
            .merge(nxt, on="customer_id", how="inner")
        )
        lag = (pairs["next_start"] - pairs["departure"]).dt.days
        hit = (
            (pairs["next_employee"] != pairs["employee_id"]) & (lag >= -1) & (lag <= handover_days)
        )
        # a handover belongs to the departure: the departing employee's book had a new owner
        # within the days allowed (customers who left before it inherit the departure's)
        handed = pairs.loc[hit, ["employee_id", "departure"]].drop_duplicates()
        handed["quick"] = 1
        quick = (
            dep[["employee_id", "departure"]]
            .merge(handed, on=["employee_id", "departure"], how="left")["quick"]
            .fillna(0)
            .to_numpy(dtype=np.int64)
        )
    length = (dep["departure"] - dep["rel_start"]).dt.days.to_numpy() / _DAYS_PER_MONTH
    band = np.zeros(len(dep), dtype=np.int64)
    for i, (_label, lo, _hi) in enumerate(LENGTH_BANDS):
        band[length >= lo] = i
    return pd.DataFrame(
        {
            "customer_id": dep["customer_id"].astype(str).to_numpy(),
            "employee_id": dep["employee_id"].astype(str).to_numpy(),
            "departure": dep["departure"].to_numpy(),
            "dep_month": _month_number(dep["departure"]),
            "quick": quick,
            "band": band,
        }
    )


def relationship_cells(
    employees: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    relationships: pd.DataFrame | None = None,
    window: int = 6,
    handover_days: int = 30,
    start: Any = None,
    end: Any = None,
    memory_limit: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Counts per unit x month x exposure cell, and the people behind each exposure group.

    The person-month expansion behind :func:`relationship_hazard`, in DuckDB: nothing
    person-level comes out.

    Parameters
    ----------
    employees, customers, relationships, window, handover_days, start, end
        As in :func:`relationship_hazard`.
    memory_limit : str, optional
        DuckDB's memory limit (e.g. ``"2GB"``); past it DuckDB spills to disk.

    Returns
    -------
    cells : pandas.DataFrame
        ``unit_id, month`` (month number), ``since`` (months since the departure, 0 unexposed),
        ``quick`` (1 quick handover, 0 not, -1 unknown or unexposed), ``band`` (relationship
        length band, -1 unexposed), ``at_risk`` (customer-months), ``lost``.
    groups : pandas.DataFrame
        Per exposure group (``since, quick, band``): ``customers`` (distinct exposed customers)
        and ``departures`` (distinct employee departures behind them).
    info : dict
        ``window_start``, ``window_end`` (dates), ``customers`` (at risk in the window),
        ``units``.
    """
    import duckdb

    require_columns(
        employees, ["employee_id", "hire_date", "termination_date"], what="employee extract"
    )
    require_columns(
        customers, ["customer_id", "unit_id", "start_date", "end_date"], what="customer extract"
    )
    if relationships is None:
        require_columns(
            customers,
            ["served_by"],
            what="customer extract",
            hint="map the customers' served_by column or give a relationship table",
        )
    else:
        require_columns(
            relationships,
            ["customer_id", "employee_id", "start_date", "end_date"],
            what="relationship table",
        )
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InputError(f"window must be a whole number of months >= 1, not {window!r}")
    if isinstance(handover_days, bool) or not isinstance(handover_days, (int, np.integer)):
        raise InputError(f"handover_days must be a whole number of days, not {handover_days!r}")
    if handover_days < 0:
        raise InputError(f"handover_days must be >= 0, not {handover_days!r}")
    emp = employees.assign(
        employee_id=employees["employee_id"].astype(str),
        termination_date=_as_dates(employees, "termination_date", "employee"),
    )
    cus = customers.assign(
        customer_id=customers["customer_id"].astype(str),
        unit_id=customers["unit_id"].astype(str),
        start_date=_as_dates(customers, "start_date", "customer"),
        end_date=_as_dates(customers, "end_date", "customer"),
    )
    rel = None
    if relationships is not None:
        rel = relationships.assign(
            customer_id=relationships["customer_id"].astype(str),
            employee_id=relationships["employee_id"].astype(str),
            start_date=_as_dates(relationships, "start_date", "relationship"),
            end_date=_as_dates(relationships, "end_date", "relationship"),
        )
    events = _departures(emp, cus, rel, handover_days=int(handover_days))

    s_m = _month_number(cus["start_date"])
    e_m = _month_number(cus["end_date"])
    ends = np.concatenate([e_m[e_m >= 0], _month_number(emp["termination_date"])])
    ends = ends[ends >= 0]
    if start is None or end is None:
        if ends.size == 0:
            raise InputError("no customer or employee left in the extracts: nothing to compare")
    w0 = (
        int(ends.min())
        if start is None
        else int(_month_number(pd.Series([pd.Timestamp(start)]))[0])
    )
    w1 = int(ends.max()) if end is None else int(_month_number(pd.Series([pd.Timestamp(end)]))[0])
    if w1 < w0:
        raise InputError(f"the window ends ({end}) before it starts ({start})")

    unit_code, units = pd.factorize(cus["unit_id"], sort=True)
    cid_code, cids = pd.factorize(cus["customer_id"])
    spells = pd.DataFrame(
        {
            "cid": cid_code.astype(np.int64),
            "unit": unit_code.astype(np.int64),
            "lo": np.maximum(s_m + 1, w0),
            "hi": np.minimum(np.where(e_m < 0, w1, e_m), w1),
            "left_m": e_m,
        }
    )
    spells = spells[spells["lo"] <= spells["hi"]]
    eid_code = pd.factorize(events["employee_id"])[0]
    ev = pd.DataFrame(
        {
            "cid": pd.Index(cids).get_indexer(events["customer_id"]).astype(np.int64),
            "dep_m": events["dep_month"].to_numpy(dtype=np.int64),
            "dep_key": eid_code.astype(np.int64) * 100_000
            + (events["departure"].to_numpy().astype("datetime64[D]").astype(np.int64)),
            "quick": events["quick"].to_numpy(dtype=np.int64),
            "band": events["band"].to_numpy(dtype=np.int64),
        }
    )
    ev = ev[ev["cid"] >= 0]
    # the latest departure wins where two fall in one month for a customer
    ev = ev.sort_values(["cid", "dep_m", "dep_key"]).drop_duplicates(["cid", "dep_m"], keep="last")
    months = pd.DataFrame({"month": np.arange(w0, w1 + 1, dtype=np.int64)})
    con = duckdb.connect()
    try:
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.register("spells", spells)
        con.register("ev", ev)
        con.register("months", months)
        cells = con.execute(
            f"""
            WITH x AS (
                SELECT s.cid, s.unit, m.month, (s.left_m = m.month) AS lost
                FROM spells s JOIN months m ON m.month BETWEEN s.lo AND s.hi
            ),
            y AS (
                SELECT x.unit, x.month, x.lost,
                    CASE WHEN e.dep_m IS NOT NULL AND x.month - e.dep_m <= {int(window)}
                         THEN x.month - e.dep_m ELSE 0 END AS since,
                    e.quick, e.band
                FROM x ASOF LEFT JOIN ev e ON x.cid = e.cid AND x.month > e.dep_m
            )
            SELECT unit, month, since,
                CASE WHEN since > 0 THEN quick ELSE -1 END AS quick,
                CASE WHEN since > 0 THEN band ELSE -1 END AS band,
                count(*) AS at_risk, sum(CAST(lost AS BIGINT)) AS lost
            FROM y GROUP BY ALL
            """
        ).df()
        # the exposed, counted from the departures (a few rows per departure and month)
        groups = con.execute(
            f"""
            WITH evn AS (
                SELECT *, lead(dep_m) OVER (PARTITION BY cid ORDER BY dep_m) AS next_m FROM ev
            ),
            x AS (
                SELECT evn.cid, evn.dep_key, evn.quick, evn.band, r.since,
                    evn.dep_m + r.since AS month
                FROM evn, (SELECT range AS since FROM range(1, {int(window) + 1})) r
                WHERE evn.next_m IS NULL OR evn.dep_m + r.since <= evn.next_m
            )
            SELECT x.since, x.quick, x.band, count(DISTINCT x.cid) AS customers,
                count(DISTINCT x.dep_key) AS departures
            FROM x JOIN spells s ON s.cid = x.cid AND x.month BETWEEN s.lo AND s.hi
            GROUP BY GROUPING SETS ((x.since), (x.quick), (x.band), ())
            """
        ).df()
    finally:
        con.close()
    groups = groups.rename(columns=lambda c: c.split(".")[-1])
    cells["unit_id"] = np.asarray(units, dtype=object)[cells["unit"].to_numpy(dtype=np.int64)]
    cells["unit_id"] = cells["unit_id"].astype("str")
    cells = cells.drop(columns="unit")
    for col in ("month", "since", "quick", "band", "at_risk", "lost"):
        cells[col] = cells[col].astype(np.int64)
    cells = cells[["unit_id", "month", "since", "quick", "band", "at_risk", "lost"]]
    info = {
        "window_start": _month_start(w0),
        "window_end": _month_start(w1),
        "customers": int(spells["cid"].nunique()),
        "units": int(spells["unit"].nunique()),
        "months": w1 - w0 + 1,
    }
    return cells.sort_values(["unit_id", "month", "since"]).reset_index(drop=True), groups, info


@dataclass(frozen=True)
class RelationshipResult(Result):
    """What happens to a customer when the employee who served them leaves.

    Attributes
    ----------
    hazard_ratio, ci_low, ci_high, p_val : float
        The monthly hazard of leaving of customers in the ``window`` months after their own
        employee left, over that of customers of the same unit and month whose employee stayed,
        with its unit-clustered 95% interval and Wald p-value.
    customers_exposed : int
        Distinct customers whose employee left while they stayed (in the window's months).
    departures : int
        Distinct employee departures behind them.
    customers_lost_per_departure : dict
        ``{estimate, ci_low, ci_high}``: extra customers lost per departing employee.
    by_months_since_departure : pandas.DataFrame
        ``month, hazard_ratio, ci_low, ci_high, p_val, customers, departures`` (suppressed
        rows NaN).
    by_relationship_length : pandas.DataFrame
        ``length, hazard_ratio, ci_low, ci_high, p_val, customers, departures``.
    handover : dict
        ``quick`` and ``slow`` (each ``{hazard_ratio, ci_low, ci_high, customers, departures}``),
        ``ratio`` (quick over slow) and ``diff_p`` (a test that they differ); ``None`` when the
        data do not say when a new owner took over.
    settings : dict
        ``window``, ``handover_days``, ``k``, ``window_start``, ``window_end``, ``source``.
    text : str
        The finding in plain words.
    """

    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_val: float
    customers_exposed: int
    departures: int
    customers_at_risk: int
    customers_lost_per_departure: dict[str, float]
    by_months_since_departure: pd.DataFrame
    by_relationship_length: pd.DataFrame
    handover: dict[str, Any] | None
    settings: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def summary(self) -> pd.DataFrame:
        """The headline figures as one row."""
        return pd.DataFrame(
            [
                {
                    "hazard_ratio": self.hazard_ratio,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "p_val": self.p_val,
                    "customers_exposed": self.customers_exposed,
                    "departures": self.departures,
                    "lost_per_departure": self.customers_lost_per_departure["estimate"],
                }
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the figures, the tables as lists of rows, the settings and the text."""
        cols = ["hazard_ratio", "ci_low", "ci_high", "p_val", "customers", "departures"]
        return jsonable(
            {
                "hazard_ratio": self.hazard_ratio,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "p_val": self.p_val,
                "customers_exposed": self.customers_exposed,
                "departures": self.departures,
                "customers_at_risk": self.customers_at_risk,
                "customers_lost_per_departure": self.customers_lost_per_departure,
                "by_months_since_departure": records(
                    self.by_months_since_departure, ["month", *cols]
                ),
                "by_relationship_length": records(self.by_relationship_length, ["length", *cols]),
                "handover": self.handover,
                "settings": self.settings,
                "text": self.text,
            }
        )

    def _html_title(self) -> str:
        return "Do customers follow the person who served them?"

    def _html_sections(self) -> list[tuple[str | None, pd.DataFrame]]:
        return [
            (None, self.summary),
            ("By months since the departure", self.by_months_since_departure),
            ("By length of the relationship", self.by_relationship_length),
        ]

    def __repr__(self) -> str:
        return (
            f"RelationshipResult(hazard ratio {self.hazard_ratio:.2f} over "
            f"{self.settings.get('window')} months, {self.customers_exposed} customers exposed, "
            f"{self.departures} departures)"
        )


def _design(cells: pd.DataFrame, groups: list[tuple[str, pd.Series]]) -> tuple[np.ndarray, ...]:
    """Cells summed per stratum x group (``groups``: label, boolean mask over cells)."""
    n_groups = len(groups)
    cat = np.zeros(len(cells), dtype=np.int64)
    for i, (_label, mask) in enumerate(groups, start=1):
        cat[mask.to_numpy()] = i
    unit = pd.factorize(cells["unit_id"])[0].astype(np.int64)
    month = cells["month"].to_numpy(dtype=np.int64)
    span = int(month.max() - month.min()) + 1 if month.size else 1
    stratum = unit * span + (month - (month.min() if month.size else 0))
    key, inv = np.unique(stratum * (n_groups + 1) + cat, return_inverse=True)
    at_risk = np.bincount(inv, weights=cells["at_risk"].to_numpy(dtype=float))
    lost = np.bincount(inv, weights=cells["lost"].to_numpy(dtype=float))
    cell_stratum = key // (n_groups + 1)
    cell_cat = key % (n_groups + 1)
    x = (cell_cat[:, None] == np.arange(1, n_groups + 1)[None, :]).astype(float)
    return np.unique(cell_stratum, return_inverse=True)[1], x, at_risk, lost, cell_stratum // span


def _fit(cells: pd.DataFrame, groups: list[tuple[str, pd.Series]]) -> tuple[np.ndarray, ...]:
    stratum, x, n, d, unit = _design(cells, groups)
    beta, cov = conditional_poisson(stratum, x, n, d, unit)
    se = np.sqrt(np.diag(cov))
    return beta, se, cov, stratum, x, n, d


def _row(beta: float, se: float) -> dict[str, float]:
    return {
        "hazard_ratio": float(np.exp(beta)),
        "ci_low": float(np.exp(beta - _Z * se)),
        "ci_high": float(np.exp(beta + _Z * se)),
        "p_val": float(2 * sps.norm.sf(abs(beta / se))) if se > 0 else float("nan"),
    }


def _excess(beta: float, stratum: np.ndarray, x: np.ndarray, n: np.ndarray, d: np.ndarray) -> float:
    """Customers lost beyond the unit-month's own hazard among the exposed, at ``beta``."""
    ex = x[:, 0] > 0
    w = n * np.exp(beta * x[:, 0])
    size = int(stratum.max()) + 1 if stratum.size else 0
    lam = np.bincount(stratum, weights=d, minlength=size) / np.bincount(
        stratum, weights=w, minlength=size
    )
    return float(np.sum(n[ex] * lam[stratum[ex]] * (np.exp(beta) - 1.0)))


def relationship_hazard(
    employees: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    relationships: pd.DataFrame | None = None,
    window: int = 6,
    handover_days: int = 30,
    start: Any = None,
    end: Any = None,
    k: int = 5,
    memory_limit: str | None = None,
) -> RelationshipResult:
    """The hazard of a customer leaving in the months after their own employee left.

    Parameters
    ----------
    employees : pandas.DataFrame
        Clean employee spells: ``employee_id``, ``hire_date``, ``termination_date``.
    customers : pandas.DataFrame
        Clean customer spells: ``customer_id``, ``unit_id``, ``start_date``, ``end_date`` and,
        without ``relationships``, ``served_by`` (the employee serving the customer; empty: no
        one).
    relationships : pandas.DataFrame, optional
        Who served whom when: ``customer_id, employee_id, start_date, end_date`` (end empty while
        it lasts). A departure counts when the employee's termination falls inside a relationship
        while the customer is still a customer; a *quick handover* is a new owner whose
        relationship starts within ``handover_days`` of the departure.
    window : int, default 6
        Months after the departure month a customer counts as exposed.
    handover_days : int, default 30
        Days within which a new owner is a quick handover.
    start, end : date-like, optional
        The months to study (default: the first to the last month in which a customer or an
        employee left).
    k : int, default 5
        Smallest number of customers and of departures behind any figure shown; groups below it
        are suppressed (NaN), and the whole result needs at least ``k`` of each.
    memory_limit : str, optional
        DuckDB's memory limit for the customer-month expansion.

    Returns
    -------
    RelationshipResult

    Raises
    ------
    InputError
        Missing columns, a bad setting, fewer than ``k`` exposed customers or departures, or a
        hazard that cannot be estimated.

    Examples
    --------
    >>> from linkage.simulate import RelationshipSpec, WorldSpec, simulate
    >>> world = simulate(WorldSpec(n_units=40, months=24, seed=3),
    ...                  relationships=RelationshipSpec(hazard_ratio=2.0, quick_hazard_ratio=2.0))
    >>> res = relationship_hazard(world.employees, world.customers,
    ...                           relationships=world.relationships)
    >>> bool(res.ci_low < 2.0 < res.ci_high), len(res.by_months_since_departure)
    (True, 6)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a whole number >= 1, not {k!r}")
    cells, groups, info = relationship_cells(
        employees,
        customers,
        relationships=relationships,
        window=window,
        handover_days=handover_days,
        start=start,
        end=end,
        memory_limit=memory_limit,
    )
    overall = groups[groups["since"].isna() & groups["quick"].isna() & groups["band"].isna()]
    n_customers = int(overall["customers"].sum()) if len(overall) else 0
    n_departures = int(overall["departures"].sum()) if len(overall) else 0
    if n_customers < k or n_departures < k:
        raise InputError(
            f"too few to report: {plural(n_customers, 'customer')} exposed by "
            f"{plural(n_departures, 'departure')} (at least {k} of each are needed)"
        )
    exposed = cells["since"] > 0
    beta, se, _cov, stratum, x, n, d = _fit(cells, [("exposed", exposed)])
    main = _row(beta[0], se[0])
    lost = [
        _excess(b, stratum, x, n, d) / n_departures
        for b in (beta[0], beta[0] - _Z * se[0], beta[0] + _Z * se[0])
    ]

    def ok(sel: pd.DataFrame) -> tuple[int, int, bool]:
        c = int(sel["customers"].sum()) if len(sel) else 0
        dep = int(sel["departures"].sum()) if len(sel) else 0
        return c, dep, c >= k and dep >= k

    # by months since the departure
    months_rows = []
    m_beta, m_se, *_ = _fit(
        cells, [(str(s), cells["since"] == s) for s in range(1, int(window) + 1)]
    )
    for s in range(1, int(window) + 1):
        c, dep, show = ok(groups[groups["since"] == s])
        fig = _row(m_beta[s - 1], m_se[s - 1]) if show else dict.fromkeys(main, np.nan)
        months_rows.append({"month": s, **fig, "customers": c, "departures": dep})
    by_month = pd.DataFrame(months_rows)

    # by relationship length at the departure
    present = [
        i for i, _ in enumerate(LENGTH_BANDS) if bool(((cells["band"] == i) & exposed).any())
    ]
    b_beta, b_se, *_ = _fit(cells, [(str(i), (cells["band"] == i) & exposed) for i in present])
    length_rows = []
    for j, i in enumerate(present):
        c, dep, show = ok(groups[groups["band"] == i])
        fig = _row(b_beta[j], b_se[j]) if show else dict.fromkeys(main, np.nan)
        length_rows.append({"length": LENGTH_BANDS[i][0], **fig, "customers": c, "departures": dep})
    by_length = pd.DataFrame(length_rows)

    # quick handover against slow
    handover: dict[str, Any] | None = None
    if bool((cells.loc[exposed, "quick"] >= 0).any()):
        h_groups = [
            ("quick", exposed & (cells["quick"] == 1)),
            ("slow", exposed & (cells["quick"] == 0)),
        ]
        h_beta, h_se, h_cov, *_ = _fit(cells, h_groups)
        handover = {}
        shown = True
        for j, name in enumerate(("quick", "slow")):
            c, dep, show = ok(groups[groups["quick"] == (1 if name == "quick" else 0)])
            shown &= show
            fig = _row(h_beta[j], h_se[j]) if show else dict.fromkeys(main, np.nan)
            handover[name] = {**fig, "customers": c, "departures": dep}
        diff = h_beta[0] - h_beta[1]
        diff_se = float(np.sqrt(h_cov[0, 0] + h_cov[1, 1] - 2 * h_cov[0, 1]))
        handover["ratio"] = float(np.exp(diff)) if shown else float("nan")
        handover["diff_p"] = (
            float(2 * sps.norm.sf(abs(diff / diff_se))) if shown and diff_se > 0 else float("nan")
        )

    settings = {
        "window": int(window),
        "handover_days": int(handover_days),
        "k": int(k),
        "window_start": info["window_start"],
        "window_end": info["window_end"],
        "months": info["months"],
        "units": info["units"],
        "source": "served_by" if relationships is None else "relationships",
        "method": "conditional Poisson (unit x month strata), unit-clustered sandwich",
    }
    lost_dict = {"estimate": lost[0], "ci_low": lost[1], "ci_high": lost[2]}
    text = _text(
        main, lost_dict, n_customers, n_departures, int(window), handover, int(handover_days)
    )
    return RelationshipResult(
        hazard_ratio=main["hazard_ratio"],
        ci_low=main["ci_low"],
        ci_high=main["ci_high"],
        p_val=main["p_val"],
        customers_exposed=n_customers,
        departures=n_departures,
        customers_at_risk=info["customers"],
        customers_lost_per_departure=lost_dict,
        by_months_since_departure=by_month,
        by_relationship_length=by_length,
        handover=handover,
        settings=settings,
        text=text,
    )


def _text(
    main: dict[str, float],
    lost: dict[str, float],
    customers: int,
    departures: int,
    window: int,
    handover: dict[str, Any] | None,
    handover_days: int,
) -> str:
    hr = main["hazard_ratio"]
    ci = interval(main["ci_low"], main["ci_high"])
    if main["ci_low"] > 1:
        verdict = f"{hr:.1f} times as likely to leave"
    elif main["ci_high"] < 1:
        verdict = f"less likely to leave ({hr:.2f} times the rate)"
    else:
        verdict = f"about as likely to leave ({hr:.2f} times the rate; no clear difference)"
    parts = [
        f"In the {plural(window, 'month')} after the employee who served them left, customers "
        f"were {verdict} as customers of the same unit in the same month whose employee stayed "
        f"({ci}, {p_phrase(main['p_val'])}; {plural(customers, 'customer')} exposed by "
        f"{plural(departures, 'departure')}).",
        f"That is about {lost['estimate']:.1f} extra customers lost per departing employee "
        f"({interval(lost['ci_low'], lost['ci_high'], digits=1)}).",
    ]
    if handover is not None and np.isfinite(handover.get("ratio", np.nan)):
        q, s = handover["quick"], handover["slow"]
        softer = handover["diff_p"] < 0.05 and q["hazard_ratio"] < s["hazard_ratio"]
        parts.append(
            f"With a new owner within {plural(handover_days, 'day')} the ratio was "
            f"{q['hazard_ratio']:.2f}, without one {s['hazard_ratio']:.2f} "
            f"({'a quick handover softens the loss' if softer else 'no clear difference'}, "
            f"{p_phrase(handover['diff_p'])})."
        )
    parts.append(
        "Who leaves is not random: an employee who quits may be leaving a unit already in "
        "trouble, or take favourite customers along, so this is the loss that goes with a "
        "departure, not proof that keeping the employee would have kept the customer."
    )
    return "\n\n".join(parts)
