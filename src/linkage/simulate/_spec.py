"""The parameters of a simulated world: :class:`WorldSpec`."""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from linkage.errors import InputError

__all__ = [
    "WorldSpec",
    "REGIONS",
    "field_error",
    "finite",
    "whole_field",
    "real_field",
    "known_parameters",
]

#: region names, the first ``n_regions`` are used
REGIONS: tuple[str, ...] = ("North", "South", "East", "West", "Central", "Coastal")


@dataclass(frozen=True)
class WorldSpec:
    """Parameters of a service-profit-chain world (validated on creation).

    Every unit has a latent *service climate* that moves month by month. A better climate lowers
    the staff quit hazard in the same month and the customer churn hazard ``lag`` months later.
    Effects are on the logit scale of the monthly hazards, per one standard deviation of the
    climate's month-to-month fluctuation, so ``effect_staff=0.5`` means one sd of better climate
    multiplies the odds of a quit by ``exp(-0.5)``. With ``effect_staff``, ``effect_customer``,
    ``reverse``, ``seasonality`` and ``trend`` all 0 the two sides of a unit are independent
    within the unit over time: a true null.

    Parameters
    ----------
    n_units : int, default 100
        Number of units (stores, branches), at least 2.
    months : int, default 36
        Number of monthly periods in the observation window, at least 3.
    start : str, default "2023-01"
        First month of the window, ``YYYY-MM``.
    lag : int, default 2
        Months after a climate change that customers respond (0 to 24).
    effect_staff : float, default 0.5
        Climate -> staff quits in the same month (logit per climate sd; positive: better climate,
        fewer quits). 0 = no link on the staff side.
    effect_customer : float, default 0.5
        Climate -> customer churn ``lag`` months later (logit per climate sd; positive: better
        climate, fewer lost customers).
    climate_persistence : float, default 0.6
        AR(1) coefficient of the monthly climate, in [0, 1).
    climate_sd : float, default 1.0
        Stationary standard deviation of the monthly climate fluctuation (the AR(1) noise is
        scaled so that the fluctuation keeps this sd).
    climate_between_sd : float, default 0.3
        Standard deviation of each unit's lasting climate level, which acts through the same two
        effects (better units keep both staff and customers: a positive between-unit relation).
    shock_sd : float, default 0.2
        Standard deviation of customer-side shocks unrelated to staff (competitors, roadworks), an
        AR(1) with the climate's persistence, on the churn logit.
    confound : float, default 0.0
        Between-unit confound by size: per sd of log headcount, the staff quit logit rises and the
        customer churn logit falls by this much (big units lose more staff yet keep more
        customers). Strong enough, it makes the between-unit relation negative while the
        within-unit one stays positive (Simpson's paradox). 0 = off.
    seasonality : float, default 0.0
        Amplitude of a shared yearly cycle on both logits (highest hazards in January).
    trend : float, default 0.0
        Shared linear trend on both logits, per year.
    reverse : float, default 0.0
        Reverse effect: the customer churn logit's deviation from its unit's usual level raises
        the staff quit logit ``reverse_lag`` months later by this factor. 0 = off.
    reverse_lag : int, default 1
        Months after customer churn that staff react (1 to 24).
    staff_quit_rate : float, default 0.03
        Typical monthly probability that an employee leaves (0 < rate < 0.5).
    customer_churn_rate : float, default 0.025
        Typical monthly probability that a customer is lost (0 < rate < 0.5).
    unit_baseline_sd : float, default 0.2
        Standard deviation of unit-specific (independent) baseline logits on each side.
    headcount_median : float, default 12.0
        Median target headcount of a unit (lognormal across units).
    headcount_sigma : float, default 0.5
        Log-scale standard deviation of target headcount.
    min_headcount : int, default 1
        Smallest target headcount (1 allows tiny units).
    customers_per_employee : float, default 15.0
        Median customers per employee (lognormal around it).
    customers_sigma : float, default 0.4
        Log-scale standard deviation of customers per employee.
    n_regions : int, default 5
        Number of regions (4 to 6).
    hire_fill : float, default 0.7
        Share of the gap to target headcount filled by hires each month, in (0, 1].
    acquisition_fill : float, default 0.5
        Share of the gap to the target customer base filled by new customers each month.
    rehire_share : float, default 0.05
        Share of hires who are former employees coming back (a new spell, same ``employee_id``).
    seed : int, default 0
        Seed of the random generator: the same spec gives the same world.

    Raises
    ------
    InputError
        For a parameter out of its range (``column`` names the parameter).

    Examples
    --------
    >>> from linkage.simulate import WorldSpec
    >>> spec = WorldSpec(n_units=20, months=24, lag=3, seed=1)
    >>> spec.lag, spec.start
    (3, '2023-01')
    >>> spec.replace(effect_staff=0.0).effect_staff
    0.0
    >>> WorldSpec(lag=-1)
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: WorldSpec, column 'lag': must be a whole number from 0 to 24, not -1
    """

    n_units: int = 100
    months: int = 36
    start: str = "2023-01"
    lag: int = 2
    effect_staff: float = 0.5
    effect_customer: float = 0.5
    climate_persistence: float = 0.6
    climate_sd: float = 1.0
    climate_between_sd: float = 0.3
    shock_sd: float = 0.2
    confound: float = 0.0
    seasonality: float = 0.0
    trend: float = 0.0
    reverse: float = 0.0
    reverse_lag: int = 1
    staff_quit_rate: float = 0.03
    customer_churn_rate: float = 0.025
    unit_baseline_sd: float = 0.2
    headcount_median: float = 12.0
    headcount_sigma: float = 0.5
    min_headcount: int = 1
    customers_per_employee: float = 15.0
    customers_sigma: float = 0.4
    n_regions: int = 5
    hire_fill: float = 0.7
    acquisition_fill: float = 0.5
    rehire_share: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        whole_field(self, "n_units", 2, 100_000)
        whole_field(self, "months", 3, 600)
        whole_field(self, "lag", 0, 24)
        whole_field(self, "reverse_lag", 1, 24)
        whole_field(self, "min_headcount", 1, 100_000)
        whole_field(self, "n_regions", 4, len(REGIONS))
        whole_field(self, "seed", 0, 2**63 - 1)
        if not isinstance(self.start, str) or not re.fullmatch(
            r"\d{4}-(0[1-9]|1[0-2])", self.start
        ):
            _bad("start", f"must be a month as 'YYYY-MM', not {self.start!r}")
        for name in (
            "effect_staff",
            "effect_customer",
            "confound",
            "seasonality",
            "trend",
            "reverse",
        ):
            real_field(self, name, -5.0, 5.0)
        real_field(self, "climate_persistence", 0.0, 0.99)
        for name in (
            "climate_sd",
            "climate_between_sd",
            "shock_sd",
            "unit_baseline_sd",
            "headcount_sigma",
            "customers_sigma",
        ):
            real_field(self, name, 0.0, 3.0)
        for name in ("staff_quit_rate", "customer_churn_rate"):
            real_field(self, name, 1e-4, 0.5)
        real_field(self, "headcount_median", 1.0, 10_000.0)
        real_field(self, "customers_per_employee", 0.1, 10_000.0)
        for name in ("hire_fill", "acquisition_fill"):
            real_field(self, name, 0.01, 1.0)
        real_field(self, "rehire_share", 0.0, 1.0)

    def replace(self, **changes: Any) -> WorldSpec:
        """A copy with some parameters changed (validated again)."""
        known_parameters(type(self), changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain (JSON-serialisable) dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> WorldSpec:
        """A spec from :meth:`to_dict` output (for instance ``truth["spec"]``)."""
        known_parameters(cls, params)
        return cls(**params)


def _bad(name: str, problem: str) -> NoReturn:
    field_error("WorldSpec", name, problem)


def field_error(owner: str, name: str, problem: str) -> NoReturn:
    """Raise the :class:`InputError` of a spec's parameter ``name`` (``owner``: its class)."""
    raise InputError(problem, file=owner, column=name)


def finite(value: Any) -> bool:
    """Whether ``value`` is a real, finite number (a bool is not)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def whole_field(spec: object, name: str, low: int, high: int) -> None:
    """Check that the parameter ``name`` is a whole number in ``[low, high]``; store it as int."""
    value = getattr(spec, name)
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        field_error(
            type(spec).__name__, name, f"must be a whole number from {low} to {high}, not {value!r}"
        )
    object.__setattr__(spec, name, int(value))


def real_field(spec: object, name: str, low: float, high: float) -> None:
    """Check that the parameter ``name`` is a finite number in ``[low, high]``; store it as float
    (a plain float: JSON, equality, repr)."""
    value = getattr(spec, name)
    if not finite(value) or not low <= float(value) <= high:
        field_error(
            type(spec).__name__, name, f"must be a number from {low:g} to {high:g}, not {value!r}"
        )
    object.__setattr__(spec, name, float(value))


def known_parameters(cls: type, names: Iterable[str]) -> None:
    """Raise when a name is not a field of the dataclass ``cls`` (the first such, sorted)."""
    unknown = sorted(set(names) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise InputError(f"{cls.__name__} has no parameter {unknown[0]!r}")
