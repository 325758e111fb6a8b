"""The latent model shared by both outputs: units, climate, hazards, unit x month counts, truth.

Random streams: one :class:`numpy.random.SeedSequence` per spec seed, spawned into independent
streams for the latent model (units, climate, hazards), the unit x month counts, the people and
the defects. :func:`simulate_panel` uses the first two; :func:`linkage.simulate.simulate` uses the
same two (so its counts are exactly the panel's) and then the others to realise the people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from linkage.simulate._spec import REGIONS, WorldSpec

__all__ = [
    "Latent",
    "Counts",
    "latent_model",
    "draw_counts",
    "panel_frame",
    "truth_dict",
    "streams",
]

#: extra months simulated before the window so the climate is stationary and lags are defined
BURN_IN = 24


def streams(spec: WorldSpec) -> list[np.random.Generator]:
    """Independent generators: latent, counts, people, defects."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(4)]


@dataclass(frozen=True)
class Latent:
    """Unit attributes and the unit x month latent series over the window (arrays N x T)."""

    unit_id: np.ndarray  # str, zero-padded digits
    region: np.ndarray  # str
    district: np.ndarray  # str
    size_band: np.ndarray  # str
    opened: np.ndarray  # datetime64[D]
    headcount_target: np.ndarray  # int64 (N,)
    customers_target: np.ndarray  # int64 (N,)
    size_z: np.ndarray  # standardised log headcount (N,)
    climate_level: np.ndarray  # (N,)
    climate: np.ndarray  # (N, T) monthly fluctuation
    customer_shock: np.ndarray  # (N, T)
    staff_hazard: np.ndarray  # (N, T) monthly quit probability
    customer_hazard: np.ndarray  # (N, T) monthly churn probability
    months: np.ndarray  # datetime64[M] (T,)
    #: (N, T) the climate customers respond to: the unit's level plus its fluctuation ``lag``
    #: months earlier (what the churn logit carries, times ``-effect_customer``)
    customer_climate: np.ndarray | None = None


@dataclass(frozen=True)
class Counts:
    """Unit x month counts (arrays N x T, int64) on both sides."""

    employee_start: np.ndarray
    employee_left: np.ndarray
    employee_joined: np.ndarray
    customer_start: np.ndarray
    customer_left: np.ndarray
    customer_joined: np.ndarray


def ar1_series(rng: np.random.Generator, n: int, t: int, phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series with marginal sd ``sd``; loop over months, vectorised over units."""
    out = np.empty((n, t))
    innov = rng.standard_normal((n, t)) * sd
    out[:, 0] = innov[:, 0]
    scale = np.sqrt(1.0 - phi**2)
    for j in range(1, t):
        out[:, j] = phi * out[:, j - 1] + scale * innov[:, j]
    return out


def latent_model(spec: WorldSpec, rng: np.random.Generator) -> Latent:
    """Draw the units and their latent climate and hazards."""
    n, t, k = spec.n_units, spec.months, spec.lag
    burn = BURN_IN + max(k, spec.reverse_lag)
    width = len(str(n))
    width = max(3, width)
    unit_id = np.array([f"{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    # ---- units: region, district, size -----------------------------------------------------
    region_idx = rng.integers(spec.n_regions, size=n)
    district_no = rng.integers(1, 4, size=n)  # 3 districts per region
    regions = np.array(REGIONS[: spec.n_regions], dtype=object)
    region = regions[region_idx]
    district = np.array(
        [f"{r}-{d}" for r, d in zip(region, district_no, strict=True)], dtype=object
    )
    log_size = rng.standard_normal(n)
    headcount = np.maximum(
        spec.min_headcount, np.rint(spec.headcount_median * np.exp(spec.headcount_sigma * log_size))
    ).astype(np.int64)
    per_employee = spec.customers_per_employee * np.exp(
        spec.customers_sigma * rng.standard_normal(n)
    )
    customers = np.maximum(1, np.rint(headcount * per_employee)).astype(np.int64)
    lh = np.log(headcount)
    size_z = (lh - lh.mean()) / lh.std() if lh.std() > 0 else np.zeros(n)
    size_band = np.where(
        headcount < 8, "small", np.where(headcount < 20, "medium", "large")
    ).astype(object)
    start = np.datetime64(spec.start, "M")
    opened = (start.astype("datetime64[D]") - rng.integers(2 * 365, 25 * 365, size=n)).astype(
        "datetime64[D]"
    )

    # ---- latent climate and shocks (burn-in months before the window) ------------------------
    climate_level = spec.climate_between_sd * rng.standard_normal(n)
    climate = ar1_series(rng, n, burn + t, spec.climate_persistence, spec.climate_sd)
    shock = ar1_series(rng, n, burn + t, spec.climate_persistence, spec.shock_sd)
    region_staff = 0.1 * rng.standard_normal(spec.n_regions)[region_idx]
    region_cust = 0.1 * rng.standard_normal(spec.n_regions)[region_idx]
    unit_staff = spec.unit_baseline_sd * rng.standard_normal(n)
    unit_cust = spec.unit_baseline_sd * rng.standard_normal(n)

    # calendar over burn-in + window: month index relative to the window start
    rel = np.arange(-burn, t)
    month_of_year = (start + rel).astype(int) % 12  # 0 = January
    calendar = spec.seasonality * np.cos(2 * np.pi * month_of_year / 12) + spec.trend * rel / 12.0

    # customer churn logit over all months; climate acts `lag` months later
    lagged_climate = np.concatenate([np.zeros((n, k)), climate[:, : burn + t - k]], axis=1)
    cust_dev = -spec.effect_customer * lagged_climate + shock  # time-varying part, unit level aside
    cust_logit = (
        logit(spec.customer_churn_rate)
        + region_cust[:, None]
        + unit_cust[:, None]
        - spec.confound * size_z[:, None]
        - spec.effect_customer * climate_level[:, None]
        + cust_dev
        + calendar[None, :]
    )
    r = spec.reverse_lag
    reverse_term = spec.reverse * np.concatenate(
        [np.zeros((n, r)), cust_dev[:, : burn + t - r]], axis=1
    )
    staff_logit = (
        logit(spec.staff_quit_rate)
        + region_staff[:, None]
        + unit_staff[:, None]
        + spec.confound * size_z[:, None]
        - spec.effect_staff * (climate_level[:, None] + climate)
        + reverse_term
        + calendar[None, :]
    )
    window = slice(burn, burn + t)
    return Latent(
        unit_id=unit_id,
        region=region,
        district=district,
        size_band=size_band,
        opened=opened,
        headcount_target=headcount,
        customers_target=customers,
        size_z=size_z,
        climate_level=climate_level,
        climate=climate[:, window],
        customer_shock=shock[:, window],
        staff_hazard=expit(staff_logit[:, window]),
        customer_hazard=expit(cust_logit[:, window]),
        months=start + np.arange(t),
        customer_climate=climate_level[:, None] + lagged_climate[:, window],
    )


def draw_counts(spec: WorldSpec, lat: Latent, rng: np.random.Generator) -> Counts:
    """Binomial leavers from each month's start stock; hires and new customers fill the gap.

    Month by month (vectorised over units): ``left ~ Binomial(start, hazard)``, ``retained = start
    - left``, ``joined ~ Binomial(max(target - retained, 0), fill)``, ``end = retained + joined``,
    and next month's ``start = end``. People who join in a month do not leave in that month.
    """
    n, t = spec.n_units, spec.months
    out = {name: np.zeros((n, t), dtype=np.int64) for name in Counts.__dataclass_fields__}
    for side, target, hazard, fill in (
        ("employee", lat.headcount_target, lat.staff_hazard, spec.hire_fill),
        ("customer", lat.customers_target, lat.customer_hazard, spec.acquisition_fill),
    ):
        stock = target.copy()
        start, left, joined = out[f"{side}_start"], out[f"{side}_left"], out[f"{side}_joined"]
        for j in range(t):
            start[:, j] = stock
            left[:, j] = rng.binomial(stock, hazard[:, j])
            retained = stock - left[:, j]
            joined[:, j] = rng.binomial(np.maximum(target - retained, 0), fill)
            stock = retained + joined[:, j]
    return Counts(**out)


def _rates(start: np.ndarray, left: np.ndarray, joined: np.ndarray) -> dict[str, np.ndarray]:
    retained = start - left
    end = retained + joined
    with np.errstate(invalid="ignore", divide="ignore"):
        retention = np.where(start > 0, retained / np.where(start > 0, start, 1), np.nan)
        avg = (start + end) / 2.0
        turnover = np.where(avg > 0, left / np.where(avg > 0, avg, 1), np.nan)
    return {
        "start": start,
        "joined": joined,
        "left": left,
        "retained": retained,
        "end": end,
        "retention": retention,
        "turnover": turnover,
    }


def panel_frame(lat: Latent, counts: Counts) -> pd.DataFrame:
    """The panel of docs/design.md (plus ``region``) from the counts, sorted by unit and period."""
    n, t = lat.staff_hazard.shape
    cols: dict[str, Any] = {
        "unit_id": pd.array(np.repeat(lat.unit_id, t), dtype="str"),
        "period": pd.DatetimeIndex(np.tile(lat.months.astype("datetime64[D]"), n)).as_unit("us"),
    }
    for side in ("employee", "customer"):
        parts = _rates(
            getattr(counts, f"{side}_start"),
            getattr(counts, f"{side}_left"),
            getattr(counts, f"{side}_joined"),
        )
        for name in ("start", "joined", "left", "retained", "end"):
            cols[f"{side}_{name}"] = parts[name].reshape(-1).astype(np.int64)
        for name in ("retention", "turnover"):
            cols[f"{side}_{name}"] = parts[name].reshape(-1).astype(np.float64)
    cols["region"] = pd.array(np.repeat(lat.region, t), dtype="str")
    return pd.DataFrame(cols)


# ---- truth ----------------------------------------------------------------------------------


def _paired(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """a at t with b at t + lag (N x T arrays), cropped to the months where both exist."""
    t = a.shape[1]
    if lag >= 0:
        return a[:, : t - lag], b[:, lag:]
    return a[:, -lag:], b[:, : t + lag]


def _within_r(x: np.ndarray, y: np.ndarray, *, period_adjusted: bool = False) -> float:
    """Pearson r of unit-demeaned (and optionally period-demeaned) values of two N x T arrays."""
    xd = x - x.mean(axis=1, keepdims=True)
    yd = y - y.mean(axis=1, keepdims=True)
    if period_adjusted:
        xd = xd - xd.mean(axis=0, keepdims=True)
        yd = yd - yd.mean(axis=0, keepdims=True)
    den = np.sqrt((xd**2).sum() * (yd**2).sum())
    return float((xd * yd).sum() / den) if den > 0 else 0.0


def _expected_observed_r(
    ex: np.ndarray, ey: np.ndarray, nx: np.ndarray, ny: np.ndarray, *, period_adjusted: bool = False
) -> float:
    """Within-unit r expected for observed rates: latent covariance over latent + binomial variance.

    ``ex, ey`` are expected retentions (N x T'), ``nx, ny`` the denominators (start counts). Cells
    with a zero denominator are left out, as the observed rates are NaN there. Demeaning by unit
    removes about 1/T of the binomial variance; ``period_adjusted`` also demeans by period.

    The expectation is conditional on this world: ``ex, ey`` carry everything latent (climate,
    customer shocks, seasonality, trend), only the binomial draws of leavers are averaged over.
    One world's observed r scatters around it, without bias; the bundled sample's seed is an
    unusually high draw (measured figures: benchmarks/README.md).
    """
    ok = (nx > 0) & (ny > 0)
    counts = ok.sum(axis=1, keepdims=True)
    keep = counts[:, 0] >= 2
    ok, counts = ok[keep], counts[keep]
    ex, ey, nx, ny = ex[keep], ey[keep], nx[keep], ny[keep]
    if not ok.any():
        return float("nan")

    def demean(v: np.ndarray) -> np.ndarray:
        mean = np.where(ok, v, 0).sum(axis=1, keepdims=True) / counts
        out = np.where(ok, v - mean, 0.0)
        if period_adjusted:
            out = np.where(ok, out - out.sum(axis=0) / np.maximum(ok.sum(axis=0), 1), 0.0)
        return out

    xd, yd = demean(ex), demean(ey)
    shrink = np.where(ok, (counts - 1) / counts, 0.0)
    noise_x = np.where(ok, ex * (1 - ex) / np.where(ok, nx, 1), 0.0) * shrink
    noise_y = np.where(ok, ey * (1 - ey) / np.where(ok, ny, 1), 0.0) * shrink
    cov = (xd * yd).sum()
    den = np.sqrt(((xd**2).sum() + noise_x.sum()) * ((yd**2).sum() + noise_y.sum()))
    return float(cov / den) if den > 0 else 0.0


def planted_between_cov(spec: WorldSpec) -> float:
    """Covariance across units of the two hazard logits' unit means, implied by the parameters.

    ``effect_staff * effect_customer * (climate_between_sd**2 + climate_sd**2 * a)`` (better units
    keep both) ``+ reverse * (effect_customer**2 * climate_sd**2 + shock_sd**2) * a`` (customer
    churn passed on to staff) ``- confound**2`` (big units: more quits, less churn), where
    ``a = (1 + phi) / ((1 - phi) * months)`` approximates the variance of a unit's mean AR(1)
    fluctuation over the window relative to its own. Its sign is the planted between-unit sign of
    retention on the two sides (both are 1 - hazard, so the sign carries over).
    """
    phi = spec.climate_persistence
    a = (1 + phi) / ((1 - phi) * spec.months)
    return (
        spec.effect_staff
        * spec.effect_customer
        * (spec.climate_between_sd**2 + spec.climate_sd**2 * a)
        + spec.reverse * (spec.effect_customer**2 * spec.climate_sd**2 + spec.shock_sd**2) * a
        - spec.confound**2
    )


def _r6(v: float) -> float:
    """Round for the truth (6 decimals), with -0.0 made 0.0."""
    return round(v, 6) + 0.0


def sign_of(v: float, tol: float = 1e-12) -> int:
    return 0 if abs(v) <= tol else (1 if v > 0 else -1)


def truth_dict(spec: WorldSpec, lat: Latent, counts: Counts) -> dict[str, Any]:
    """The JSON-serialisable truth: spec, derived facts, per-unit table, unit x month latent
    table."""
    n, t = lat.staff_hazard.shape
    ex, ey = 1.0 - lat.staff_hazard, 1.0 - lat.customer_hazard
    k = spec.lag
    max_lag = min(max(6, k + 3, spec.reverse_lag + 3), t - 2)
    profile = []
    for lag in range(-max_lag, max_lag + 1):
        x, y = _paired(ex, ey, lag)
        nx, ny = _paired(counts.employee_start, counts.customer_start, lag)
        profile.append(
            {
                "lag": lag,
                "r_latent": _r6(_within_r(x, y)),
                "r_latent_period_adjusted": _r6(_within_r(x, y, period_adjusted=True)),
                "r_expected": _r6(_expected_observed_r(x, y, nx, ny)),
                "r_expected_period_adjusted": _r6(
                    _expected_observed_r(x, y, nx, ny, period_adjusted=True)
                ),
            }
        )
    at = next(p for p in profile if p["lag"] == k)
    between = float(np.corrcoef(ex.mean(axis=1), ey.mean(axis=1))[0, 1])

    # a within-unit link needs both effects and a climate that moves month to month
    forward = spec.effect_staff != 0 and spec.effect_customer != 0 and spec.climate_sd > 0
    backward = spec.reverse != 0 and (spec.effect_customer != 0 or spec.shock_sd > 0)
    if forward and backward:
        direction = "both"
    elif forward:
        direction = "employees_lead" if k > 0 else "simultaneous"
    elif backward:
        direction = "customers_lead"
    else:
        direction = "none"
    start = np.datetime64(spec.start, "M")
    end_month = start + (t - 1)
    facts = {
        "window_start": str(start.astype("datetime64[D]")),
        "window_end": str((end_month + 1).astype("datetime64[D]") - 1),
        "extract_date": str((end_month + 1).astype("datetime64[D]")),
        "planted_lag": k,
        "within_sign": sign_of(spec.effect_staff * spec.effect_customer) if forward else 0,
        "between_sign": sign_of(planted_between_cov(spec), 1e-9),
        "between_cov_planted": _r6(planted_between_cov(spec)),
        "between_r_latent": _r6(between),
        "within_r_latent": at["r_latent"],
        "within_r_latent_period_adjusted": at["r_latent_period_adjusted"],
        "within_r_expected": at["r_expected"],
        "within_r_expected_period_adjusted": at["r_expected_period_adjusted"],
        "expected_direction": direction,
        "reverse_lag": spec.reverse_lag if backward else None,
        "null": not forward and not backward,
        "x": "employee_retention",
        "y": "customer_retention",
        "lag_convention": "x at t paired with y at t + lag; lag > 0: employees lead",
    }
    units = {
        "unit_id": [str(u) for u in lat.unit_id],
        "region": [str(r) for r in lat.region],
        "headcount_target": lat.headcount_target.tolist(),
        "customers_target": lat.customers_target.tolist(),
        "size_z": np.round(lat.size_z, 6).tolist(),
        "climate_level": np.round(lat.climate_level, 6).tolist(),
    }
    latent = {
        "unit_id": np.repeat(lat.unit_id, t).astype(str).tolist(),
        "period": np.tile(lat.months.astype("datetime64[D]").astype(str), n).tolist(),
        "climate": np.round((lat.climate_level[:, None] + lat.climate).reshape(-1), 6).tolist(),
        "customer_shock": np.round(lat.customer_shock.reshape(-1), 6).tolist(),
        "staff_hazard": np.round(lat.staff_hazard.reshape(-1), 6).tolist(),
        "customer_hazard": np.round(lat.customer_hazard.reshape(-1), 6).tolist(),
        "expected_employee_retention": np.round(ex.reshape(-1), 6).tolist(),
        "expected_customer_retention": np.round(ey.reshape(-1), 6).tolist(),
    }
    return {
        "spec": spec.to_dict(),
        "facts": facts,
        "lag_profile": profile,
        "units": units,
        "latent": latent,
        "defects": {},
    }
