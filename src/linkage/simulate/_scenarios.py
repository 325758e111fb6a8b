"""Named worlds for teaching: each shows one pitfall of linkage research."""

from __future__ import annotations

from typing import Any

from linkage.errors import InputError
from linkage.simulate._spec import WorldSpec

__all__ = ["SCENARIOS", "scenario"]

#: name -> (what it shows, the parameters that differ from :class:`WorldSpec`'s defaults)
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "chain": (
        "the service-profit chain as planted by default: a better climate keeps staff now and "
        "customers 2 months later; between and within units agree",
        {},
    ),
    "null": (
        "no link at all: staff and customers move independently within units",
        {"effect_staff": 0.0, "effect_customer": 0.0},
    ),
    "ecological": (
        "ecological fallacy: units with a better lasting climate keep both staff and customers "
        "(a strong between-unit correlation), but month-to-month changes are unrelated within "
        "units",
        {"climate_sd": 0.0, "climate_between_sd": 1.0},
    ),
    "simpson": (
        "Simpson's paradox: big units lose more staff yet keep more customers, so across units the "
        "relation is negative while within every unit it is positive",
        {"confound": 1.0},
    ),
    "seasonality": (
        "a shared calendar: both sides peak in January, so retention moves together at lag 0 with "
        "no link at all; removing period effects makes it vanish",
        {"effect_staff": 0.0, "effect_customer": 0.0, "seasonality": 0.8},
    ),
    "tiny_units": (
        "tiny units: the link is planted, but with 3 staff per unit a single leaver moves "
        "retention by a third, and the observed correlation shrinks towards 0",
        {"headcount_median": 3.0, "customers_per_employee": 5.0},
    ),
    "reverse": (
        "reverse causality: customers leaving demoralise staff, who quit a month later; customers "
        "lead and there is no effect of staff on customers",
        {"effect_staff": 0.0, "effect_customer": 0.0, "shock_sd": 0.8, "reverse": 1.0},
    ),
}


def scenario(name: str, **changes: Any) -> WorldSpec:
    """A :class:`WorldSpec` for one of the teaching scenarios, with optional changes.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`: ``"chain"``, ``"null"``, ``"ecological"``, ``"simpson"``,
        ``"seasonality"``, ``"tiny_units"``, ``"reverse"``.
    **changes
        Other :class:`WorldSpec` parameters (``n_units``, ``lag``, ``seed``, ...), applied last.

    Returns
    -------
    WorldSpec

    Raises
    ------
    InputError
        For an unknown scenario or parameter.

    Examples
    --------
    >>> from linkage.simulate import scenario, simulate_panel
    >>> spec = scenario("simpson", n_units=40, seed=1)
    >>> spec.confound
    1.0
    >>> facts = simulate_panel(spec)[1]["facts"]
    >>> facts["between_sign"], facts["within_sign"]
    (-1, 1)
    """
    if name not in SCENARIOS:
        raise InputError(
            f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}", column="scenario"
        )
    return WorldSpec().replace(**{**SCENARIOS[name][1], **changes})
