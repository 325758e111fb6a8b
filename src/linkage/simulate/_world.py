"""The person-level output: :func:`simulate` and the :class:`World` it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel import build_panel
from linkage.simulate._defects import DEFECT_REASONS, defect_counts, plant_defects
from linkage.simulate._events import (
    EVENTS_STREAM,
    EventSpec,
    assign_roles,
    events_truth,
    plant_events,
    programme_table,
)
from linkage.simulate._model import draw_counts, latent_model, streams, truth_dict
from linkage.simulate._panel import check_spec
from linkage.simulate._people import activity_log, realise_spells, spells_table, termination_types
from linkage.simulate._relationships import RelationshipSpec, relationship_tables
from linkage.simulate._service_chain import ChainSpec, chain_tables, chain_truth
from linkage.simulate._spec import WorldSpec

__all__ = ["World", "simulate"]


@dataclass(frozen=True)
class World:
    """A simulated world: person-level extracts, units and the planted truth.

    Attributes
    ----------
    employees : pandas.DataFrame
        One row per employment spell: ``employee_id``, ``unit_id`` (str), ``hire_date``,
        ``termination_date`` (datetime64, NaT while employed), ``termination_type`` (str, missing
        while employed). With defects, the two date columns are ISO strings (some unparseable).
    customers : pandas.DataFrame
        Spells (``customer_id, unit_id, start_date, end_date``) or an activity log
        (``customer_id, unit_id, activity_date, revenue``), see ``customers_kind``.
    units : pandas.DataFrame
        ``unit_id, region, district, size_band`` (str) and ``opened`` (datetime64).
    truth : dict
        What was planted (JSON-serialisable): see :func:`linkage.simulate.simulate_panel`;
        ``truth["defects"]`` records, per file, the defective rows as realised: ``rows`` (1-based
        data row and reason), ``counts`` per reason, ``rows_total`` and ``rows_clean`` (the rows
        left once they are set aside, the clean table). Reasons are those a cleaner reports first:
        a row identical to an earlier one is a ``duplicate_row`` whatever else is wrong with it
        (planting avoids such collisions, so ``counts`` are the requested ones but by rare chance).
    spec : WorldSpec
        The parameters.
    panel : pandas.DataFrame
        The clean world's unit x month panel over the window, built by
        :func:`linkage.panel.build_panel` from the extracts before any defect was planted, with
        the units' attributes (``region, district, size_band, opened``). Its counts are those of
        :func:`linkage.simulate.simulate_panel` for the same spec.
    customers_kind : {"spells", "activity"}
        How customers are recorded.
    employee_survey, customer_survey, segments, revenue : pandas.DataFrame or None
        With a :class:`~linkage.simulate.ChainSpec` (``simulate(..., chain=...)``), the chain's
        tables (None without): the employee survey, one row per respondent and wave
        (``respondent_id, unit_id, survey_date`` and one int64 column per item, 1-5); the
        customer survey, one row per response (``response_id, unit_id, response_date, csat``
        (1-5), ``nps`` (0-10)); the customers' segments (``customer_id, segment``); revenue, one
        row per customer and month it is active, from the month before the window
        (``customer_id, unit_id, period, revenue``; with an activity log too, drawn apart from
        the visits' own ``revenue``). Never touched by defects.
    programme : pandas.DataFrame or None
        With an :class:`~linkage.simulate.EventSpec` (``simulate(..., events=...)``), the units
        that started the programme: ``unit_id, event_date, event_type`` (``"programme"``); the
        employees then carry a ``role`` column (see :class:`~linkage.simulate.EventSpec`).
    relationships : pandas.DataFrame or None
        With a :class:`~linkage.simulate.RelationshipSpec` (``simulate(..., relationships=...)``),
        who served each customer when: ``customer_id, employee_id, start_date, end_date`` (end NaT
        while it lasts); the customers then carry ``served_by``, their first owner (None
        without). Never touched by defects.
    """

    employees: pd.DataFrame
    customers: pd.DataFrame
    units: pd.DataFrame
    truth: dict[str, Any]
    spec: WorldSpec
    panel: pd.DataFrame
    customers_kind: Literal["spells", "activity"] = "spells"
    employee_survey: pd.DataFrame | None = None
    customer_survey: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None
    revenue: pd.DataFrame | None = None
    programme: pd.DataFrame | None = None
    relationships: pd.DataFrame | None = None

    def chain_panel(self, *, align: Literal["forward", "wave"] = "forward") -> pd.DataFrame:
        """The world's panel with its chain joined on: survey means, CSAT, NPS, revenue.

        :func:`linkage.panel.join_chain` of :attr:`panel` with
        :func:`~linkage.panel.employee_survey_panel` (every item, ``align`` as given),
        :func:`~linkage.panel.customer_survey_panel` (its own month only) and
        :func:`~linkage.panel.revenue_panel` over the window.

        Parameters
        ----------
        align : {"forward", "wave"}, default "forward"
            How employee survey waves meet the months (see :mod:`linkage.panel.surveys`).

        Returns
        -------
        pandas.DataFrame
            :attr:`panel` plus ``es_<item>``, ``es_respondents``, ``es_wave``, ``cs_csat``,
            ``cs_nps``, ``cs_respondents``, ``cs_wave``, ``revenue``, ``revenue_start``,
            ``revenue_retained``, ``revenue_retention``.

        Raises
        ------
        InputError
            If the world was simulated without a chain.

        Examples
        --------
        >>> from linkage.simulate import ChainSpec, WorldSpec, simulate
        >>> world = simulate(WorldSpec(n_units=3, months=6, seed=1), chain=ChainSpec())
        >>> panel = world.chain_panel()
        >>> panel.shape, bool(panel["revenue_retention"].notna().all())
        ((18, 37), True)
        """
        from linkage.panel import (
            customer_survey_panel,
            employee_survey_panel,
            join_chain,
            revenue_panel,
        )

        if self.employee_survey is None or self.customer_survey is None or self.revenue is None:
            raise InputError("this world has no chain; simulate it with chain=ChainSpec()")
        window = {
            "start": self.truth["facts"]["window_start"],
            "end": self.truth["facts"]["window_end"],
        }
        items = [
            c
            for c in self.employee_survey.columns
            if c not in ("respondent_id", "unit_id", "survey_date")
        ]
        return join_chain(
            self.panel,
            employee_survey=employee_survey_panel(
                self.employee_survey, items=items, align=align, **window
            ),
            customer_survey=customer_survey_panel(self.customer_survey, **window),
            revenue=revenue_panel(self.revenue, **window),
        )

    def __repr__(self) -> str:
        return (
            f"World({len(self.units)} units x {self.spec.months} months, "
            f"{len(self.employees)} employee spells, {len(self.customers)} customer "
            f"{'spells' if self.customers_kind == 'spells' else 'visits'}, "
            f"lag {self.spec.lag}, seed {self.spec.seed})"
        )


def simulate(
    spec: WorldSpec,
    *,
    customers: Literal["spells", "activity"] = "spells",
    defects: float | dict[str, int] | None = None,
    chain: ChainSpec | None = None,
    events: EventSpec | None = None,
    relationships: RelationshipSpec | None = None,
) -> World:
    """Simulate a world of people: employee spells, customers, units and the planted truth.

    The unit x month counts are drawn exactly as in :func:`linkage.simulate.simulate_panel` for
    the same spec, then realised as people: of the spells active in a unit at the start of a
    month, the drawn number end on a uniform day of that month (employees with a termination
    type); the drawn number of new spells start on a uniform day of the month (about
    ``spec.rehire_share`` of new employee spells are former employees coming back). So
    :func:`linkage.panel.build_panel` on these extracts, over the window in ``truth["facts"]``,
    gives the panel of :func:`~linkage.simulate.simulate_panel`.

    Parameters
    ----------
    spec : WorldSpec
        The world's parameters (including the seed).
    customers : {"spells", "activity"}, default "spells"
        Customers as spells (``start_date``, ``end_date``) or as an activity log of visits with
        revenue, at least one visit in every month a customer is active, starting the month
        before the window so that the first month has a customer base.
    defects : float or dict, optional
        Defective rows to add to the employee and customer tables: a rate (each reason gets
        ``max(1, round(rate * rows))`` rows in each table) or a dict ``{reason: count}`` applied to
        each table. Reasons: ``duplicate_row``, ``end_before_start``, ``unparseable_date``,
        ``missing_identifier``, ``unknown_unit``, ``future_date``, ``overlapping_spell`` (the last
        two need spells and are skipped for an activity log). Every defect is an extra row with
        exactly one defect, so removing them gives the clean world. With defects the tables'
        date columns are ISO strings and the rows are shuffled.
    chain : ChainSpec, optional
        Also plant the rest of the chain (see :class:`~linkage.simulate.ChainSpec`): an employee
        survey, a customer survey, customer segments and revenue, drawn on streams of their own,
        so every other table (and the truth's other keys) is the same as without it. The truth
        gains ``truth["chain"]``: the chain's spec, the items (``planted_drivers``,
        ``unplanted_items``, loadings), the planted ``links`` with their signs and lags, the
        ``mediation`` planted, the segments (shares, sensitivities, ``most_sensitive_segment``)
        and a unit x month ``latent`` table in the order of ``truth["latent"]``
        (``customer_climate``, ``other``, ``expected_customer_losses``,
        ``climate_customer_losses``).
    events : EventSpec, optional
        Plant manager departures, staff shocks and a programme with their effects on customer
        retention (see :class:`~linkage.simulate.EventSpec`): the unit x month counts are then
        drawn on the events' own stream (so they differ from a world without events), the
        employees gain ``role``, the world a ``programme`` table and the truth
        ``truth["events"]``.
    relationships : RelationshipSpec, optional
        Also link each customer spell to the employee who serves it (spells only; see
        :class:`~linkage.simulate.RelationshipSpec`): customers leave more often in the months
        after their own employee left. Drawn on a generator of its own, so every other table and
        the truth's other keys are the same as without it; the customers gain a ``served_by``
        column, the world a :attr:`World.relationships` table and the truth
        ``truth["relationships"]``.

    Returns
    -------
    World
        ``employees``, ``customers``, ``units``, ``truth``, ``spec``, ``panel``,
        ``customers_kind``.

    Raises
    ------
    InputError
        For a bad ``spec``, ``customers`` or ``defects``.

    Examples
    --------
    >>> from linkage.simulate import WorldSpec, simulate
    >>> world = simulate(WorldSpec(n_units=4, months=12, seed=2))
    >>> list(world.employees.columns)
    ['employee_id', 'unit_id', 'hire_date', 'termination_date', 'termination_type']
    >>> list(world.units.columns)
    ['unit_id', 'region', 'district', 'size_band', 'opened']
    >>> bad = simulate(WorldSpec(n_units=4, months=12, seed=2), defects={"duplicate_row": 2})
    >>> bad.truth["defects"]["employees.csv"]["counts"]
    {'duplicate_row': 2}
    >>> len(bad.employees) - len(world.employees)
    2
    >>> from linkage.simulate import ChainSpec
    >>> chained = simulate(WorldSpec(n_units=4, months=12, seed=2), chain=ChainSpec())
    >>> chained.employees.equals(world.employees), chained.truth["chain"]["planted_drivers"]
    (True, ['manager_support', 'staffing', 'recognition'])
    >>> list(chained.customer_survey.columns)
    ['response_id', 'unit_id', 'response_date', 'csat', 'nps']
    """
    spec = check_spec(spec)
    if customers not in ("spells", "activity"):
        raise InputError(
            f"customers must be 'spells' or 'activity', not {customers!r}", column="customers"
        )
    if chain is not None and not isinstance(chain, ChainSpec):
        raise InputError(
            f"chain must be a linkage.simulate.ChainSpec, not {type(chain).__name__}",
            column="chain",
        )
    if events is not None and not isinstance(events, EventSpec):
        raise InputError(
            f"events must be a linkage.simulate.EventSpec, not {type(events).__name__}",
            column="events",
        )
    if relationships is not None and not isinstance(relationships, RelationshipSpec):
        raise InputError(
            "relationships must be a linkage.simulate.RelationshipSpec, "
            f"not {type(relationships).__name__}",
            column="relationships",
        )
    if relationships is not None and customers != "spells":
        raise InputError(
            "relationships need customers as spells, not an activity log", column="relationships"
        )
    rng_latent, rng_counts, rng_people, rng_defects = streams(spec)
    lat = latent_model(spec, rng_latent)
    counts = draw_counts(spec, lat, rng_counts)
    happened = None
    rng_events = np.random.default_rng([spec.seed, EVENTS_STREAM])
    if events is not None:
        happened = plant_events(events, spec, lat, rng_events)
        counts = happened.counts
    truth = truth_dict(spec, lat, counts)

    emp_spells = realise_spells(
        rng_people,
        lat,
        counts.employee_start,
        counts.employee_left,
        counts.employee_joined,
        base_hazard=spec.staff_quit_rate,
        rehire_share=spec.rehire_share,
    )
    employees = spells_table(
        emp_spells,
        lat,
        id_col="employee_id",
        prefix="E",
        start_col="hire_date",
        end_col="termination_date",
    )
    employees["termination_type"] = termination_types(
        rng_people, employees["termination_date"].notna().to_numpy()
    )
    programme = None
    if events is not None and happened is not None:
        employees["role"], departures = assign_roles(employees, happened, lat, events, rng_events)
        programme = programme_table(happened, lat, rng_events)
        truth["events"] = events_truth(events, happened, lat, departures)
    cus_spells = realise_spells(
        rng_people,
        lat,
        counts.customer_start,
        counts.customer_left,
        counts.customer_joined,
        base_hazard=spec.customer_churn_rate,
    )
    if customers == "spells":
        cust = spells_table(
            cus_spells,
            lat,
            id_col="customer_id",
            prefix="C",
            start_col="start_date",
            end_col="end_date",
        )
    else:
        cust = activity_log(rng_people, cus_spells, lat)
    units = pd.DataFrame(
        {
            "unit_id": pd.array(lat.unit_id.astype(str), dtype="str"),
            "region": pd.array(lat.region.astype(str), dtype="str"),
            "district": pd.array(lat.district.astype(str), dtype="str"),
            "size_band": pd.array(lat.size_band.astype(str), dtype="str"),
            "opened": pd.DatetimeIndex(lat.opened).as_unit("us"),
        }
    )
    truth["customers_kind"] = customers
    chained: dict[str, pd.DataFrame | None] = dict.fromkeys(
        ("employee_survey", "customer_survey", "segments", "revenue")
    )
    if chain is not None:
        tables, other = chain_tables(chain, spec, lat, counts, cus_spells)
        chained = dict(tables)
        truth["chain"] = chain_truth(chain, spec, lat, counts, other, truth["facts"]["within_sign"])
    facts = truth["facts"]
    panel = build_panel(
        employees,
        None if customers == "activity" else cust,
        activity=cust if customers == "activity" else None,
        units=units,
        start=facts["window_start"],
        end=facts["window_end"],
    )

    rel_table = None
    if relationships is not None:
        served_by, rel_table, truth["relationships"] = relationship_tables(
            relationships, spec.seed, lat, employees, cust
        )
        cust = cust.assign(served_by=served_by)

    if defects is not None:
        extract = np.datetime64(truth["facts"]["extract_date"], "D")
        planted_all = {}
        tables = {}
        for name, table, id_col, s_col, e_col, prefix in (
            ("employees.csv", employees, "employee_id", "hire_date", "termination_date", "X"),
            (
                "customers.csv",
                cust,
                "customer_id",
                "start_date" if customers == "spells" else "activity_date",
                "end_date" if customers == "spells" else None,
                "Y",
            ),
        ):
            wanted = defect_counts(defects, len(table), spells=e_col is not None)
            tables[name], rows = plant_defects(
                rng_defects,
                table,
                id_col=id_col,
                start_col=s_col,
                end_col=e_col,
                counts=wanted,
                known_units=lat.unit_id.astype(str),
                extract_date=extract,
                new_id_prefix=prefix,
            )
            # what is realised (the rows a cleaner sets aside, by its first reason); this is
            # ``wanted`` unless planted rows happened to collide (see plant_defects)
            realised = pd.Series([r["reason"] for r in rows], dtype=object).value_counts()
            planted = {r: int(realised[r]) for r in DEFECT_REASONS if r in realised.index}
            planted_all[name] = {
                "counts": planted,
                "rows_clean": len(tables[name]) - len(rows),
                "rows_total": len(tables[name]),
                "rows": rows,
            }
        employees, cust = tables["employees.csv"], tables["customers.csv"]
        truth["defects"] = planted_all
    return World(
        employees=employees,
        customers=cust,
        units=units,
        truth=truth,
        spec=spec,
        panel=panel,
        customers_kind=customers,
        programme=programme,
        relationships=rel_table,
        **chained,
    )
