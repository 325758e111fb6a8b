"""The fast output: the unit x month panel drawn directly from the model's hazards."""

from __future__ import annotations

from typing import Any

import pandas as pd

from linkage.errors import InputError
from linkage.simulate._model import draw_counts, latent_model, panel_frame, streams, truth_dict
from linkage.simulate._spec import WorldSpec

__all__ = ["simulate_panel", "truth_latent"]


def check_spec(spec: Any) -> WorldSpec:
    """``spec`` if it is a :class:`WorldSpec`; an InputError otherwise."""
    if not isinstance(spec, WorldSpec):
        raise InputError(f"spec must be a linkage.simulate.WorldSpec, not {type(spec).__name__}")
    return spec


def simulate_panel(spec: WorldSpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw a unit x month panel straight from the latent model (no people), with its truth.

    Each month, per unit, the leavers are a binomial draw from the start stock at the model's
    hazard, and hires (new customers) fill part of the gap to the unit's target. The counts are
    exactly those that :func:`linkage.simulate.simulate` realises as people for the same spec, so
    :func:`linkage.panel.build_panel` on its extracts gives this panel again. A 100-unit,
    36-month world takes a few milliseconds: use it for simulation studies.

    Parameters
    ----------
    spec : WorldSpec
        The world's parameters (including the seed).

    Returns
    -------
    panel : pandas.DataFrame
        One row per unit x month, sorted by ``unit_id, period``, with the columns of
        docs/design.md in order: ``unit_id`` (str), ``period`` (datetime64, first of the month),
        ``employee_start, employee_joined, employee_left, employee_retained, employee_end``
        (int64), ``employee_retention, employee_turnover`` (float64, NaN when the denominator is
        0), the same seven ``customer_*`` columns, then ``region`` (str).
    truth : dict
        JSON-serialisable: ``spec`` (the parameters); ``facts``: ``planted_lag``,
        ``within_sign`` (sign of the planted within-unit link, 0 if none), ``between_sign`` (sign
        of ``between_cov_planted``, the between-unit covariance the parameters imply, see
        ``linkage.simulate._model.planted_between_cov``), ``between_r_latent`` (correlation of
        the units' mean expected retentions in this world), ``within_r_latent`` and
        ``within_r_latent_period_adjusted`` (rmcorr of the expected retentions at the planted
        lag), ``within_r_expected`` and ``within_r_expected_period_adjusted`` (the within-unit r
        the *observed* rates should show at the planted lag, allowing for binomial noise: the
        target for estimators; it is conditional on this world's latent series, seasonality,
        trend and shocks included, and on its start counts, so the observed r scatters around it
        by the binomial draws alone; the bundled sample's own draw is an unusually high one:
        measured figures in benchmarks/README.md), ``expected_direction`` (``"employees_lead"``,
        ``"customers_lead"``, ``"both"``, ``"simultaneous"`` or ``"none"``), ``null``, the window
        and ``extract_date``; ``lag_profile`` (per lag, x at t with y at t + lag: ``r_latent``,
        ``r_latent_period_adjusted``, ``r_expected``, ``r_expected_period_adjusted``); ``units``
        (targets, size, climate level per unit); ``latent`` (the unit x month table of climate,
        hazards and expected retention; see :func:`truth_latent`) and ``defects``
        (empty here).

    Raises
    ------
    InputError
        If ``spec`` is not a :class:`WorldSpec`.

    Examples
    --------
    >>> from linkage.simulate import WorldSpec, simulate_panel
    >>> panel, truth = simulate_panel(WorldSpec(n_units=5, months=12, seed=3))
    >>> panel.shape
    (60, 17)
    >>> list(panel.columns[:4])
    ['unit_id', 'period', 'employee_start', 'employee_joined']
    >>> bool((panel["employee_retained"] <= panel["employee_start"]).all())
    True
    >>> truth["facts"]["planted_lag"], truth["facts"]["expected_direction"]
    (2, 'employees_lead')
    """
    spec = check_spec(spec)
    rng_latent, rng_counts, _, _ = streams(spec)
    lat = latent_model(spec, rng_latent)
    counts = draw_counts(spec, lat, rng_counts)
    return panel_frame(lat, counts), truth_dict(spec, lat, counts)


def truth_latent(truth: dict[str, Any]) -> pd.DataFrame:
    """The truth's unit x month latent table as a DataFrame.

    Parameters
    ----------
    truth : dict
        A truth from :func:`simulate_panel` or :func:`linkage.simulate.simulate` (or read back
        from ``truth.json``).

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` (str), ``period`` (datetime64), ``climate`` (the unit's level plus its
        monthly fluctuation), ``customer_shock``, ``staff_hazard``, ``customer_hazard`` (monthly
        probabilities), ``expected_employee_retention`` and ``expected_customer_retention``
        (1 - hazard), sorted by ``unit_id, period`` like the panel.

    Raises
    ------
    InputError
        If the truth has no latent table.

    Examples
    --------
    >>> from linkage.simulate import WorldSpec, simulate_panel, truth_latent
    >>> panel, truth = simulate_panel(WorldSpec(n_units=3, months=6))
    >>> latent = truth_latent(truth)
    >>> latent.shape
    (18, 8)
    >>> bool((latent["unit_id"] == panel["unit_id"]).all())
    True
    """
    if not isinstance(truth, dict) or not isinstance(truth.get("latent"), dict):
        raise InputError("the truth has no 'latent' table", file="truth")
    table = pd.DataFrame(truth["latent"])
    table["unit_id"] = table["unit_id"].astype("str")
    table["period"] = pd.to_datetime(table["period"], format="%Y-%m-%d")
    return table
