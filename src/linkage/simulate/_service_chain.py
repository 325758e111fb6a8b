"""The rest of the chain, planted on its own random streams: surveys, segments and revenue.

:class:`ChainSpec` adds to a :class:`~linkage.simulate.WorldSpec` world, without changing anything
the world already draws (the four streams of :func:`linkage.simulate._model.streams` are the first
four children of the spec seed's :class:`numpy.random.SeedSequence`; the chain uses children 4 to
7, so every existing output stays byte for byte the same):

- an **employee survey** every ``survey_every`` months: of the employees at the start of the wave
  month, ``Binomial(n, survey_response)`` answer, on a uniform day of that month. Each answers
  every item on a 1-5 scale: ``score = clip(rint(survey_centre + a_i * climate + g_i * other +
  halo + noise), 1, 5)``, where ``climate`` is the unit's service climate that month (level plus
  fluctuation: what drives staff quits now and customer churn ``lag`` months later), ``other`` a
  unit-level factor of its own (an AR(1) like the climate, plus a level) that reaches neither
  staff nor customers, ``halo ~ N(0, halo_sd)`` the respondent's general tendency (shared by
  their items) and ``noise ~ N(0, item_noise_sd)`` per answer. Items with ``a_i != 0`` are the
  planted drivers; items with ``a_i == 0`` relate to nothing that matters for retention.
  ``engagement`` is the index item (the chain's first link).
- a **customer survey** every month: of the customers at the start of the month,
  ``Binomial(n, cs_response)`` answer: ``q = cs_loading * customer_climate + N(0, 1)``;
  ``csat = clip(rint(3.9 + 0.8 q), 1, 5)``, ``nps = clip(rint(7.3 + 1.8 (0.8 q + 0.6 N(0, 1))),
  0, 10)``, where ``customer_climate`` is the climate ``lag`` months earlier (what customers
  churn on).
- **segments**: every customer gets a segment. Segment ``s`` churns with the logit hazard of its
  unit plus ``base_logit_s`` plus ``(sensitivity_s - 1)`` times the climate's part of it
  (``-effect_customer * customer_climate``), so a segment with sensitivity 2 reacts twice as
  strongly to the unit's climate. The unit's counts are already drawn, so segments are assigned
  afterwards, each customer by its posterior under these hazards given its own history in the
  window (the months it was at risk and whether it left): exactly Bayes' rule with the prior
  shares, so segment-level retention follows the planted sensitivities.
- **revenue**: a customer spends in every month it is active (from its start month to the month
  before its end month, and from the month before the window on, as in an activity log): a
  level of its own, lognormal around its segment's ``spend_median`` (log sd ``spend_sigma``),
  times a monthly lognormal factor (log sd ``spend_monthly_sigma``, mean 1). Spend does not depend
  on the climate: revenue follows the climate only through which customers stay (customer
  retention fully mediates the chain's last link).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from linkage.simulate._model import Counts, Latent, ar1_series, sign_of
from linkage.simulate._people import Spells, person_ids
from linkage.simulate._spec import (
    WorldSpec,
    field_error,
    finite,
    known_parameters,
    real_field,
    whole_field,
)

__all__ = [
    "ChainSpec",
    "chain_streams",
    "chain_tables",
    "chain_truth",
    "DEFAULT_ITEMS",
    "DEFAULT_SEGMENTS",
]

#: employee survey items: (name, loading on the service climate, loading on the other factor).
#: ``engagement`` is the index; the next three are planted drivers (strongest first), the last
#: three relate to nothing that reaches retention (two share the other factor, one is pure noise)
DEFAULT_ITEMS: tuple[tuple[str, float, float], ...] = (
    ("engagement", 0.55, 0.25),
    ("manager_support", 0.6, 0.0),
    ("staffing", 0.45, 0.0),
    ("recognition", 0.3, 0.0),
    ("pay", 0.0, 0.6),
    ("facilities", 0.0, 0.4),
    ("commute", 0.0, 0.0),
)
#: customer segments: (name, share, sensitivity to the climate, base churn logit shift,
#: spend median)
DEFAULT_SEGMENTS: tuple[tuple[str, float, float, float, float], ...] = (
    ("consumer", 0.6, 1.0, 0.1, 30.0),
    ("small_business", 0.3, 2.0, 0.0, 120.0),
    ("enterprise", 0.1, 1.0, -0.5, 600.0),
)
_DAY = np.timedelta64(1, "D")


def _ids(prefix: str, n: int) -> pd.api.extensions.ExtensionArray:
    """Identifiers ``prefix`` + zero-padded 1..n as a str array (empty for n = 0)."""
    return pd.array(person_ids(prefix, n) if n else np.array([], dtype=object), dtype="str")


@dataclass(frozen=True)
class ChainSpec:
    """Parameters of the chain around a world: surveys, segments, revenue (validated on creation).

    Parameters
    ----------
    survey_every : int, default 3
        Months between employee survey waves (1 to 24); the first wave is in month
        ``survey_every`` of the window (March, June, ... for quarterly waves from January).
    survey_response : float, default 0.6
        Share of the employees at the start of a wave month who answer (0 to 1).
    items : tuple of (str, float, float), default :data:`DEFAULT_ITEMS`
        Employee survey items: name (an identifier), loading on the unit's service climate,
        loading on the other unit factor (which reaches neither staff nor customers). Must include
        ``"engagement"``.
    survey_centre : float, default 3.4
        Centre of the 1-5 scale the latent answers are rounded on.
    halo_sd : float, default 0.5
        Standard deviation of a respondent's general tendency, shared by their items.
    item_noise_sd : float, default 1.0
        Standard deviation of each answer's own noise.
    other_between_sd : float, default 0.3
        Standard deviation of the units' lasting level of the other factor (its monthly
        fluctuation has sd 1 and the climate's persistence).
    cs_response : float, default 0.03
        Share of the customers at the start of a month who answer the customer survey that month.
    cs_loading : float, default 0.6
        Loading of customer satisfaction on the climate customers respond to (``lag`` months back).
    segments : tuple of (str, float, float, float, float), default :data:`DEFAULT_SEGMENTS`
        Customer segments: name, prior share (the shares are normalised), sensitivity to the
        climate (1 = as the unit), shift of the churn logit, median monthly spend.
    spend_sigma : float, default 0.5
        Log-scale sd of customers' spend levels around their segment's median.
    spend_monthly_sigma : float, default 0.2
        Log-scale sd of a customer's month-to-month spend around its level (mean factor 1).

    Raises
    ------
    InputError
        For a parameter out of its range (``column`` names the parameter).

    Examples
    --------
    >>> from linkage.simulate import ChainSpec
    >>> chain = ChainSpec(survey_every=1)
    >>> [name for name, a, g in chain.items if a != 0 and name != "engagement"]
    ['manager_support', 'staffing', 'recognition']
    >>> chain.drivers
    ('manager_support', 'staffing', 'recognition')
    >>> from linkage.errors import InputError
    >>> try:
    ...     ChainSpec(survey_response=2)
    ... except InputError as err:
    ...     print(f"{type(err).__name__}: {err}")
    InputError: ChainSpec, column 'survey_response': must be a number from 0 to 1, not 2
    """

    survey_every: int = 3
    survey_response: float = 0.6
    items: tuple[tuple[str, float, float], ...] = DEFAULT_ITEMS
    survey_centre: float = 3.4
    halo_sd: float = 0.5
    item_noise_sd: float = 1.0
    other_between_sd: float = 0.3
    cs_response: float = 0.03
    cs_loading: float = 0.6
    segments: tuple[tuple[str, float, float, float, float], ...] = DEFAULT_SEGMENTS
    spend_sigma: float = 0.5
    spend_monthly_sigma: float = 0.2

    def __post_init__(self) -> None:
        whole_field(self, "survey_every", 1, 24)
        for name, low, high in (
            ("survey_response", 0.0, 1.0),
            ("cs_response", 0.0, 1.0),
            ("survey_centre", 1.0, 5.0),
            ("halo_sd", 0.0, 3.0),
            ("item_noise_sd", 0.0, 3.0),
            ("other_between_sd", 0.0, 3.0),
            ("cs_loading", -5.0, 5.0),
            ("spend_sigma", 0.0, 3.0),
            ("spend_monthly_sigma", 0.0, 3.0),
        ):
            real_field(self, name, low, high)
        # as given (any types): checked below, then stored as (str, float, float)
        items: tuple[tuple[Any, ...], ...] | None = (
            tuple(tuple(i) for i in self.items) if isinstance(self.items, (tuple, list)) else None
        )
        if not items or any(
            len(i) != 3
            or not isinstance(i[0], str)
            or not i[0].isidentifier()
            or not all(finite(v) for v in i[1:])
            for i in items
        ):
            _bad(
                "items",
                "must be (name, climate loading, other loading) triples with identifier names",
            )
        names = [i[0] for i in items]
        if len(set(names)) != len(names) or "engagement" not in names:
            _bad("items", "item names must be unique and include 'engagement'")
        object.__setattr__(self, "items", tuple((str(n), float(a), float(g)) for n, a, g in items))
        segs: tuple[tuple[Any, ...], ...] | None = (
            tuple(tuple(s) for s in self.segments)
            if isinstance(self.segments, (tuple, list))
            else None
        )
        if not segs or any(
            len(s) != 5
            or not isinstance(s[0], str)
            or not s[0]
            or not all(finite(v) for v in s[1:])
            or s[1] <= 0
            or s[4] <= 0
            for s in segs
        ):
            _bad(
                "segments",
                "must be (name, share > 0, sensitivity, base logit, spend median > 0) tuples",
            )
        if len({s[0] for s in segs}) != len(segs):
            _bad("segments", "segment names must be unique")
        object.__setattr__(
            self, "segments", tuple((str(s[0]), *(float(v) for v in s[1:])) for s in segs)
        )

    @property
    def item_names(self) -> tuple[str, ...]:
        """All item names, in order (``engagement`` among them)."""
        return tuple(name for name, _, _ in self.items)

    @property
    def drivers(self) -> tuple[str, ...]:
        """The planted drivers: items other than ``engagement`` that load on the climate."""
        return tuple(name for name, a, _ in self.items if a != 0 and name != "engagement")

    def replace(self, **changes: Any) -> ChainSpec:
        """A copy with some parameters changed (validated again)."""
        known_parameters(type(self), changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain (JSON-serialisable) dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["items"] = [list(i) for i in self.items]
        out["segments"] = [list(s) for s in self.segments]
        return out

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> ChainSpec:
        """A spec from :meth:`to_dict` output (for instance ``truth["chain"]["spec"]``)."""
        known_parameters(cls, params)
        return cls(**params)


def _bad(name: str, problem: str) -> NoReturn:
    field_error("ChainSpec", name, problem)


def chain_streams(spec: WorldSpec) -> list[np.random.Generator]:
    """Generators for the employee survey, customer survey, segments and revenue.

    Children 4 to 7 of the spec seed's :class:`numpy.random.SeedSequence` (children 0 to 3 are
    the world's own streams, unchanged).
    """
    children = np.random.SeedSequence(spec.seed).spawn(8)[4:]
    return [np.random.default_rng(s) for s in children]


# ---- the tables ----------------------------------------------------------------------------------


def _customer_climate(lat: Latent) -> np.ndarray:
    """The (N, T) climate customers respond to; every world's latent series carries it."""
    if lat.customer_climate is None:
        raise ValueError("the latent series lack customer_climate (build them with latent_model)")
    return lat.customer_climate


def _wave_months(t: int, every: int) -> np.ndarray:
    return np.arange(every - 1, t, every)


def employee_survey(
    chain: ChainSpec, spec: WorldSpec, lat: Latent, counts: Counts, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Respondent rows (``respondent_id, unit_id, survey_date, <items>``), other factor (N x T)."""
    n, t = (int(d) for d in lat.climate.shape)
    other = chain.other_between_sd * rng.standard_normal(n)[:, None] + ar1_series(
        rng, n, t, spec.climate_persistence, 1.0
    )
    climate = lat.climate_level[:, None] + lat.climate
    waves = _wave_months(t, chain.survey_every)
    staff = counts.employee_start[:, waves]  # (N, W)
    answered = rng.binomial(staff, chain.survey_response)  # (N, W)
    # rows ordered by wave, then unit
    per_cell = answered.T.reshape(-1)  # wave-major
    cell_wave = np.repeat(np.repeat(waves, n), per_cell)
    cell_unit = np.repeat(np.tile(np.arange(n), waves.size), per_cell)
    m = per_cell.sum()
    firsts = lat.months.astype("datetime64[D]")
    days = ((lat.months + 1).astype("datetime64[D]") - firsts).astype(np.int64)
    date = firsts[cell_wave] + np.floor(rng.random(m) * days[cell_wave]).astype(np.int64) * _DAY
    halo = chain.halo_sd * rng.standard_normal(m)
    cols: dict[str, Any] = {
        "respondent_id": _ids("R", int(m)),
        "unit_id": pd.array(lat.unit_id.astype(str)[cell_unit], dtype="str"),
        "survey_date": pd.DatetimeIndex(date).as_unit("us"),
    }
    noise = chain.item_noise_sd * rng.standard_normal((m, len(chain.items)))
    for k, (name, a, g) in enumerate(chain.items):
        latent = (
            a * climate[cell_unit, cell_wave] + g * other[cell_unit, cell_wave] + halo + noise[:, k]
        )
        cols[name] = np.clip(np.rint(chain.survey_centre + latent), 1, 5).astype(np.int64)
    return pd.DataFrame(cols), other


def customer_survey(
    chain: ChainSpec, lat: Latent, counts: Counts, rng: np.random.Generator
) -> pd.DataFrame:
    """Respondent rows ``response_id, unit_id, response_date, csat, nps`` (every month)."""
    n, t = lat.climate.shape
    answered = rng.binomial(counts.customer_start, chain.cs_response)  # (N, T)
    per_cell = answered.T.reshape(-1)  # month-major
    cell_month = np.repeat(np.repeat(np.arange(t), n), per_cell)
    cell_unit = np.repeat(np.tile(np.arange(n), t), per_cell)
    m = int(per_cell.sum())
    firsts = lat.months.astype("datetime64[D]")
    days = ((lat.months + 1).astype("datetime64[D]") - firsts).astype(np.int64)
    date = firsts[cell_month] + np.floor(rng.random(m) * days[cell_month]).astype(np.int64) * _DAY
    e1, e2 = rng.standard_normal(m), rng.standard_normal(m)
    q = chain.cs_loading * _customer_climate(lat)[cell_unit, cell_month] + e1
    return pd.DataFrame(
        {
            "response_id": _ids("S", m),
            "unit_id": pd.array(lat.unit_id.astype(str)[cell_unit], dtype="str"),
            "response_date": pd.DatetimeIndex(date).as_unit("us"),
            "csat": np.clip(np.rint(3.9 + 0.8 * q), 1, 5).astype(np.int64),
            "nps": np.clip(np.rint(7.3 + 1.8 * (0.8 * q + 0.6 * e2)), 0, 10).astype(np.int64),
        }
    )


def _segment_logits(chain: ChainSpec, spec: WorldSpec, lat: Latent) -> np.ndarray:
    """Churn logits per segment, unit and month: (S, N, T)."""
    base = logit(lat.customer_hazard)
    climate_part = -spec.effect_customer * _customer_climate(lat)
    return np.stack([base + b + (sens - 1.0) * climate_part for _, _, sens, b, _ in chain.segments])


def assign_segments(
    chain: ChainSpec, spec: WorldSpec, lat: Latent, spells: Spells, rng: np.random.Generator
) -> np.ndarray:
    """Segment index per customer spell, drawn from its posterior given its window history."""
    n, t = lat.customer_hazard.shape
    seg_logit = _segment_logits(chain, spec, lat)
    log_stay = -np.logaddexp(0.0, seg_logit)  # log(1 - h)
    log_odds = seg_logit  # log(h / (1 - h))
    cum = np.concatenate(
        [np.zeros((len(chain.segments), n, 1)), np.cumsum(log_stay, axis=2)], axis=2
    )
    first_m = lat.months[0]
    s_idx = (spells.start.astype("datetime64[M]") - first_m).astype(np.int64)
    ended = ~np.isnat(spells.end)
    with np.errstate(invalid="ignore"):
        e_idx = np.where(ended, (spells.end.astype("datetime64[M]") - first_m).astype(np.int64), t)
    a = np.clip(s_idx + 1, 0, t)  # first month at risk: at start of the month after the start month
    b = np.clip(np.where(ended, e_idx + 1, t), 0, t)  # at start up to and including the end month
    b = np.maximum(a, b)
    left = ended & (e_idx >= 0) & (e_idx < t) & (e_idx >= a)
    u = spells.unit
    loglik = cum[:, u, b] - cum[:, u, a]  # (S, spells)
    e_safe = np.clip(e_idx, 0, t - 1)
    loglik = loglik + np.where(left, log_odds[:, u, e_safe], 0.0)
    shares = np.array([s[1] for s in chain.segments])
    logpost = np.log(shares / shares.sum())[:, None] + loglik
    gumbel = -np.log(-np.log(rng.random(logpost.shape)))
    return np.argmax(logpost + gumbel, axis=0)


def customer_revenue(
    chain: ChainSpec, lat: Latent, spells: Spells, segment: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Revenue rows ``customer_id, unit_id, period, revenue``, one per customer and active month."""
    t = lat.months.size
    first_m = lat.months[0] - 1  # the month before the window
    median = np.array([s[4] for s in chain.segments])[segment]
    level = median * np.exp(chain.spend_sigma * rng.standard_normal(segment.size))
    s_month = np.maximum(spells.start.astype("datetime64[M]"), first_m)
    e_month = np.where(np.isnat(spells.end), lat.months[-1] + 1, spells.end.astype("datetime64[M]"))
    rel_s = (s_month - first_m).astype(np.int64)
    n_months = np.clip((e_month - first_m).astype(np.int64) - rel_s, 0, None)
    n_months = np.minimum(n_months, t + 1 - rel_s)
    spell = np.repeat(np.arange(n_months.size), n_months)
    offset = np.arange(spell.size) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    month = first_m + rel_s[spell] + offset
    sig = chain.spend_monthly_sigma
    revenue = np.round(level[spell] * np.exp(sig * rng.standard_normal(spell.size) - sig**2 / 2), 2)
    ids = pd.array(person_ids("C", int(spells.person.max(initial=-1)) + 1), dtype="str")
    units = pd.array(lat.unit_id.astype(str), dtype="str")
    person = spells.person[spell]
    order = np.argsort(person * (t + 2) + rel_s[spell] + offset, kind="stable")
    return pd.DataFrame(
        {
            "customer_id": ids.take(person[order]),
            "unit_id": units.take(spells.unit[spell[order]]),
            "period": pd.DatetimeIndex(month[order].astype("datetime64[D]")).as_unit("us"),
            "revenue": revenue[order],
        }
    )


def chain_tables(
    chain: ChainSpec, spec: WorldSpec, lat: Latent, counts: Counts, spells: Spells
) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """The four chain tables of a world and the other factor (N x T) for the truth."""
    rng_es, rng_cs, rng_seg, rng_rev = chain_streams(spec)
    es, other = employee_survey(chain, spec, lat, counts, rng_es)
    cs = customer_survey(chain, lat, counts, rng_cs)
    seg = assign_segments(chain, spec, lat, spells, rng_seg)
    names = np.array([s[0] for s in chain.segments], dtype=object)
    ids = person_ids("C", int(spells.person.max(initial=-1)) + 1)
    order = np.argsort(spells.person, kind="stable")
    segments = pd.DataFrame(
        {
            "customer_id": pd.array(ids[spells.person[order]], dtype="str"),
            "segment": pd.array(names[seg[order]], dtype="str"),
        }
    ).drop_duplicates("customer_id", ignore_index=True)
    revenue = customer_revenue(chain, lat, spells, seg, rng_rev)
    return {
        "employee_survey": es,
        "customer_survey": cs,
        "segments": segments,
        "revenue": revenue,
    }, other


# ---- truth ---------------------------------------------------------------------------------------


def chain_truth(
    chain: ChainSpec,
    spec: WorldSpec,
    lat: Latent,
    counts: Counts,
    other: np.ndarray,
    within_sign: int,
) -> dict[str, Any]:
    """What the chain planted (JSON-serialisable); see :func:`linkage.simulate.simulate`."""
    k = spec.lag
    climate_moves = spec.climate_sd > 0 or spec.climate_between_sd > 0
    eng = dict((n, a) for n, a, _ in chain.items)["engagement"]
    var_climate = spec.climate_between_sd**2 + spec.climate_sd**2
    var_other = chain.other_between_sd**2 + 1.0
    within = chain.halo_sd**2 + chain.item_noise_sd**2

    def icc(a: float, g: float) -> float:
        between = a**2 * var_climate + g**2 * var_other
        return round(between / (between + within), 6) if between + within > 0 else 0.0

    items = {
        name: {
            "climate_loading": a,
            "other_loading": g,
            "driver": name in chain.drivers,
            "icc_latent": icc(a, g),
        }
        for name, a, g in chain.items
    }
    links = [
        {
            "x": "es_engagement",
            "y": "employee_retention",
            "lag": 0,
            "sign": sign_of(eng * spec.effect_staff) if climate_moves else 0,
        },
        {"x": "employee_retention", "y": "customer_retention", "lag": k, "sign": within_sign},
        {
            "x": "es_engagement",
            "y": "customer_retention",
            "lag": k,
            "sign": sign_of(eng * spec.effect_customer) if climate_moves else 0,
        },
        {
            "x": "cs_csat",
            "y": "customer_retention",
            "lag": 0,
            "sign": sign_of(chain.cs_loading * spec.effect_customer) if climate_moves else 0,
        },
        {"x": "customer_retention", "y": "revenue_retention", "lag": 0, "sign": 1},
    ]
    segments = {
        name: {"share": share, "sensitivity": sens, "base_logit": b, "spend_median": spend}
        for name, share, sens, b, spend in chain.segments
    }
    sens = {name: v["sensitivity"] for name, v in segments.items()}
    hazard = lat.customer_hazard
    customer_climate = _customer_climate(lat)
    no_climate = expit(logit(hazard) + spec.effect_customer * customer_climate)
    start = counts.customer_start
    return {
        "spec": chain.to_dict(),
        "items": items,
        "icc_note": (
            "icc_latent: share of an answer's latent variance between unit-waves (before rounding "
            "to the 1-5 scale, which lowers the observed ICC(1) a little: 0.228 vs 0.239 for "
            "manager_support in the sample)"
        ),
        "planted_drivers": list(chain.drivers),
        "unplanted_items": [n for n, a, _ in chain.items if a == 0 and n != "engagement"],
        "drivers_by_loading": sorted(
            chain.drivers, key=lambda n: -abs(dict((i[0], i[1]) for i in chain.items)[n])
        ),
        "survey_waves": [
            str(m)
            for m in lat.months[_wave_months(lat.months.size, chain.survey_every)].astype(
                "datetime64[D]"
            )
        ],
        "links": links,
        "mediation": (
            "revenue depends on the climate only through which customers stay: customer "
            "retention fully mediates employee retention -> revenue (no direct path planted)"
        ),
        "segments": segments,
        "most_sensitive_segment": max(sens, key=sens.__getitem__)
        if len(set(sens.values())) > 1
        else None,
        "latent_note": (
            "unit x month rows in the order of truth['latent'] (unit_id, period): "
            "customer_climate = the climate customers churn on (lag months back); other = the "
            "survey factor that reaches no retention; expected_customer_losses = "
            "customer_start * customer_hazard; climate_customer_losses = the part of them due to "
            "the climate (start * (hazard - hazard with the climate at 0)), negative when the "
            "climate is good"
        ),
        "latent": {
            "customer_climate": np.round(customer_climate.reshape(-1), 4).tolist(),
            "other": np.round(other.reshape(-1), 4).tolist(),
            "expected_customer_losses": np.round((start * hazard).reshape(-1), 3).tolist(),
            "climate_customer_losses": np.round(
                (start * (hazard - no_climate)).reshape(-1), 3
            ).tolist(),
        },
    }
