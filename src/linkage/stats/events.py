"""Event studies: what happens to a unit's customers after a departure, a staff shock or a
programme start.

:func:`event_study` estimates the effect of an event on a unit outcome (customer retention by
default) at each event time ``-pre..post``, where event time 0 is the period that holds the event's
date and event time k the k-th period after it. Units meet their event at different times
(staggered timing) and the effect may differ across units and over time, so a plain two-way
fixed-effects event study is biased (it compares late-treated units with already-treated ones);
this module uses the group-time estimator of Callaway & Sant'Anna (2021) as implemented by the
maintained ``diff-diff`` package (``diff_diff.CallawaySantAnna``), with units that have not had
their event yet (and those that never do) as controls. Its analytic influence-function variance is
clustered by unit; when events are spread over many periods, cohorts (units with their event in
the same period) hold one or two units and that variance runs low, so a small-cohort correction
(:func:`small_cohort_correction`) pools the treated units' spread over the cohorts. The
simultaneous band, the pre-trend test, the average over the post periods and the fade test are
linear combinations of the event-time estimates under that covariance.

:func:`twfe_event_study` is the plain two-way fixed-effects event study, kept for teaching: under
staggered timing with effects that change over time, its coefficients mix effects of different
event times (see the workshop notebook "does the fix fade?").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from linkage.errors import InputError
from linkage.io import require_columns
from linkage.io.periods import read_periods
from linkage.stats.results import Result, jsonable, records
from linkage.words import p_phrase, plural

__all__ = [
    "EventStudy",
    "EVENT_SET_ASIDE_REASONS",
    "event_study",
    "event_periods",
    "twfe_event_study",
    "small_cohort_correction",
]

#: why an event row is not used, in the order the rules apply (each row gets its first reason)
EVENT_SET_ASIDE_REASONS = (
    "missing_unit",
    "unparseable_date",
    "unit_not_in_panel",
    "date_outside_panel",
    "unit_outcome_missing",
    "duplicate_event",
    "later_event_same_unit",
    "no_period_before",
)

_MONTHS_PER_STEP = {"month": 1, "quarter": 3, "year": 12}
_DAYS_PER_STEP = {"day": 1, "week": 7}
#: event times whose average is the early and the late effect in the fade test
FADE_EARLY = (1, 3)
FADE_LATE = (7, 12)
METHOD = "Callaway & Sant'Anna (2021), not-yet-treated and never-treated controls (diff-diff)"


@dataclass(frozen=True)
class EventStudy(Result):
    """An event study of one event type on one outcome.

    Attributes
    ----------
    event_type : str
        The events studied (``"event"`` when the file has no ``event_type`` column).
    outcome : str
        The outcome column.
    method : str
        The estimator.
    n_treated_units, n_control_units : int
        Units with a usable event; units that never have one in the panel.
    estimates : pandas.DataFrame
        One row per event time ``-pre..post``: ``event_time``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high`` (pointwise, unit-clustered), ``band_low``, ``band_high`` (simultaneous band
        over all the event times shown), ``p_val``, ``n_treated`` (units with the event whose
        period ``event_time`` lies in the panel). An event time no unit reaches has NaN.
    pre_trend_p : float
        Wald test that every pre-event estimate is 0 (no difference in trends before the event).
    pre_trend_chi2 : float
        Its statistic, with ``pre_trend_dof`` degrees of freedom.
    pre_trend_dof : int
    post_average : dict
        ``estimate, se, ci_low, ci_high, p_val``: the mean of event times ``0..post``.
    fade : dict
        ``early`` (mean of event times 1-3), ``late`` (mean of 7-12, or up to ``post``), ``diff``
        (early minus late) with ``diff_ci_low``, ``diff_ci_high``, ``diff_p``; ``fades``: the
        difference is significant and the late effect is closer to 0 than the early one. All NaN
        when ``post < 7``.
    set_aside : dict
        Event rows not used, by reason (:data:`EVENT_SET_ASIDE_REASONS`), plus ``other_type`` for
        rows of another event type.
    n_events_read, n_events_used : int
    settings : dict
        ``pre``, ``post``, ``level``, ``control``, ``seed``, ``n_sim``, ``band_crit``, ``step``,
        ``first_period`` and ``last_period`` of the study (from the first to the last period in
        which at least 90 % of the units have the outcome), ``units_outcome_missing`` (units left
        out because their outcome is missing in one of those periods).
    warnings : list of str
        What the estimator warned about.
    text : str
        Plain-language summary.
    """

    event_type: str
    outcome: str
    method: str
    n_treated_units: int
    n_control_units: int
    estimates: pd.DataFrame
    pre_trend_p: float
    pre_trend_chi2: float
    pre_trend_dof: int
    post_average: dict[str, float]
    fade: dict[str, Any]
    set_aside: dict[str, int]
    n_events_read: int
    n_events_used: int
    settings: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def summary(self) -> pd.DataFrame:
        """The event-time estimates."""
        return self.estimates

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the fields, ``estimates`` as a list of rows."""
        return jsonable(
            {
                "event_type": self.event_type,
                "outcome": self.outcome,
                "method": self.method,
                "n_treated_units": self.n_treated_units,
                "n_control_units": self.n_control_units,
                "estimates": records(
                    self.estimates,
                    [
                        "event_time",
                        "estimate",
                        "se",
                        "ci_low",
                        "ci_high",
                        "band_low",
                        "band_high",
                        "p_val",
                        "n_treated",
                    ],
                ),
                "pre_trend_p": self.pre_trend_p,
                "pre_trend_chi2": self.pre_trend_chi2,
                "pre_trend_dof": self.pre_trend_dof,
                "post_average": self.post_average,
                "fade": self.fade,
                "events_read": self.n_events_read,
                "events_used": self.n_events_used,
                "set_aside": self.set_aside,
                "settings": self.settings,
                "warnings": self.warnings,
                "text": self.text,
            }
        )

    def _html_title(self) -> str:
        return f"Event study: {self.event_type} on {self.outcome}"

    def __repr__(self) -> str:
        return (
            f"EventStudy({self.event_type} on {self.outcome}: {self.n_treated_units} units with "
            f"the event, {self.n_control_units} without, event times "
            f"{-self.settings['pre']}..{self.settings['post']})"
        )


def _period_steps(dates: pd.Series, first: pd.Timestamp, step: str) -> np.ndarray:
    """Steps from ``first`` of the period holding each date (float, NaN where missing)."""
    d = pd.to_datetime(dates)
    if step in _MONTHS_PER_STEP:
        months = (d.dt.year - first.year) * 12 + (d.dt.month - first.month)
        out = np.floor(months.to_numpy(dtype=float) / _MONTHS_PER_STEP[step])
    else:
        days = (d - first).dt.days.to_numpy(dtype=float)
        out = np.floor(days / _DAYS_PER_STEP[step])
    return out


def event_periods(
    data: pd.DataFrame,
    events: pd.DataFrame,
    *,
    unit: str = "unit_id",
    period: str = "period",
    event_date: str = "event_date",
    outcome: str | None = None,
    file: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Each unit's first usable event as a period step of the panel, and the rows set aside.

    Parameters
    ----------
    data : pandas.DataFrame
        The panel (one row per unit and period; periods are dates).
    events : pandas.DataFrame
        ``unit``, ``event_date`` (a date or ISO 8601 text) rows of one event type.
    unit, period, event_date : str
        Column names.
    outcome : str, optional
        With it, units with a missing outcome in any period are not used (their events are set
        aside as ``unit_outcome_missing``).
    file : str, optional
        The events file, for messages.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``unit``, ``event_date``, ``event_step`` (0 for the panel's first period), one row per
        unit with a usable event; and the rows set aside by reason (every reason present, 0 when
        none), so that rows read = rows used + rows set aside.

    Examples
    --------
    >>> months = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    >>> panel = pd.DataFrame({"unit_id": ["a"] * 3 + ["b"] * 3, "period": months.append(months)})
    >>> ev = pd.DataFrame({"unit_id": ["a", "a", "b", "c", "b"],
    ...                    "event_date": ["2024-02-14", "2024-03-02", "2025-01-01", "2024-02-01",
    ...                                   "2024-01-20"]})
    >>> used, aside = event_periods(panel, ev)
    >>> used
      unit_id event_date  event_step
    0       a 2024-02-14           1
    >>> {k: v for k, v in aside.items() if v}  # doctest: +NORMALIZE_WHITESPACE
    {'unit_not_in_panel': 1, 'date_outside_panel': 1, 'later_event_same_unit': 1,
     'no_period_before': 1}
    """
    require_columns(data, [unit, period], file=None, what="panel")
    require_columns(events, [unit, event_date], file=file, what="events")
    periods = read_periods(data[period], column=period)
    if not periods.is_date or periods.step not in (*_MONTHS_PER_STEP, *_DAYS_PER_STEP):
        raise InputError(
            "event studies need a panel of months, quarters, years, weeks or days, with dates "
            f"in {period!r}",
            column=period,
        )
    first = pd.Timestamp(periods.values.min())
    n_steps = int(periods.codes.max()) + 1
    reason = pd.Series("", index=events.index, dtype=object)

    units_text = events[unit].astype("string").str.strip()
    reason[units_text.isna() | units_text.eq("")] = "missing_unit"
    raw_dates = events[event_date]
    if pd.api.types.is_datetime64_any_dtype(raw_dates):
        when = pd.to_datetime(raw_dates)
    else:
        when = pd.to_datetime(
            raw_dates.astype("string").str.strip(), format="ISO8601", errors="coerce"
        )
    reason[reason.eq("") & when.isna()] = "unparseable_date"
    known = set(data[unit].astype(str))
    reason[reason.eq("") & ~units_text.fillna("").isin(known)] = "unit_not_in_panel"
    steps = _period_steps(when, first, periods.step)
    outside = ~((steps >= 0) & (steps < n_steps))
    reason[reason.eq("") & outside] = "date_outside_panel"
    if outcome is not None:
        missing = data.loc[data[outcome].isna(), unit].astype(str).unique()
        reason[reason.eq("") & units_text.fillna("").isin(set(missing))] = "unit_outcome_missing"
    ok = reason.eq("")
    kept = pd.DataFrame(
        {
            unit: units_text[ok].astype(str),
            event_date: when[ok],
            "event_step": steps[ok.to_numpy()].astype(np.int64),
        }
    ).sort_values([unit, "event_step", event_date], kind="stable")
    dup = kept.duplicated([unit, "event_step"], keep="first")
    reason[dup[dup].index] = "duplicate_event"
    kept = kept.loc[~dup]
    later = kept.duplicated([unit], keep="first")
    reason[later[later].index] = "later_event_same_unit"
    kept = kept.loc[~later]
    first_period = kept["event_step"].eq(0)
    reason[first_period[first_period].index] = "no_period_before"
    kept = kept.loc[~first_period].reset_index(drop=True)
    counts = reason[reason.ne("")].value_counts()
    aside = {r: int(counts.get(r, 0)) for r in EVENT_SET_ASIDE_REASONS}
    return kept, aside


def small_cohort_correction(y: np.ndarray, cohort: np.ndarray, times: np.ndarray) -> np.ndarray:
    """What to add to the influence-function covariance of the event-time estimates when cohorts
    are small.

    The influence-function variance estimates the spread of a cohort's treated units around the
    cohort's own mean: a cohort of ``n`` units contributes ``(n - 1) / n`` of its variance, and a
    cohort of one unit nothing. With many small cohorts (events spread over many months) the
    intervals are then too narrow. This replaces the treated units' part of the covariance of
    event times ``e, e'`` (weights ``w_g(e)`` as in the aggregation, cohort sizes ``n_g``),
    ``sum_g w_g(e) w_g(e') / n_g^2 sum_i d_i(e) d_i(e')`` with deviations ``d`` from the cohort
    mean, by ``sum_g w_g(e) w_g(e') / n_g * c(e, e')``, where ``c`` is the pooled within-cohort
    covariance (divisor ``sum_g (n_g - 1)``, cohorts of 2 or more), and returns the difference.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, units x periods (balanced).
    cohort : numpy.ndarray
        Each unit's event period (1-based column of ``y``; 0: never).
    times : numpy.ndarray
        Event times (varying base: the period before, or before the cohort's event from 0 on).

    Returns
    -------
    numpy.ndarray
        ``len(times) x len(times)``.
    """
    n_periods = y.shape[1]
    groups = [g for g in np.unique(cohort) if g > 0]
    members = {g: np.flatnonzero(cohort == g) for g in groups}
    parts: list[dict[int, tuple[float, np.ndarray]]] = []
    for e in times:
        cells: dict[int, np.ndarray] = {}
        for g in groups:
            t, base = g + e, (g - 1 if e >= 0 else g + e - 1)
            if 1 <= t <= n_periods and 1 <= base <= n_periods:
                diff = y[members[g], t - 1] - y[members[g], base - 1]
                cells[int(g)] = diff - diff.mean()
        total = sum(len(members[g]) for g in cells)
        parts.append({g: (len(members[g]) / total, dev) for g, dev in cells.items()})
    k = len(times)
    out = np.zeros((k, k))
    for a in range(k):
        for b in range(a, k):
            both = [g for g in parts[a] if g in parts[b]]
            if not both:
                continue
            cross = {g: float(parts[a][g][1] @ parts[b][g][1]) for g in both}
            dof = sum(len(members[g]) - 1 for g in both)
            if dof <= 0:
                continue
            pooled = sum(cross.values()) / dof
            lib = sum(
                parts[a][g][0] * parts[b][g][0] * cross[g] / len(members[g]) ** 2 for g in both
            )
            fixed = sum(parts[a][g][0] * parts[b][g][0] / len(members[g]) for g in both) * pooled
            out[a, b] = out[b, a] = fixed - lib
    return out


def _sup_t_crit(corr: np.ndarray, level: float, n_sim: int, seed: int) -> float:
    """The sup-t critical value: the ``level`` quantile of max |Z| for Z ~ N(0, corr)."""
    if corr.shape[0] == 0:
        return float("nan")
    vals, vecs = np.linalg.eigh(corr)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    z = np.random.default_rng(seed).standard_normal((n_sim, corr.shape[0])) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), level))


def _combo(w: np.ndarray, est: np.ndarray, vcov: np.ndarray, z: float) -> dict[str, float]:
    """Estimate, se, interval and p-value of the linear combination ``w @ est``."""
    value = float(w @ est)
    se = float(math.sqrt(max(float(w @ vcov @ w), 0.0)))
    p = float(2 * sps.norm.sf(abs(value) / se)) if se > 0 else float("nan")
    return {
        "estimate": value,
        "se": se,
        "ci_low": value - z * se,
        "ci_high": value + z * se,
        "p_val": p,
    }


def _mean_weights(times: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    sel = (times >= lo) & (times <= hi)
    if not sel.any():
        return None
    return sel / sel.sum()


def event_study(
    data: pd.DataFrame,
    events: pd.DataFrame,
    *,
    outcome: str = "customer_retention",
    unit: str = "unit_id",
    period: str = "period",
    event_date: str = "event_date",
    event_type: str | None = None,
    pre: int = 6,
    post: int = 12,
    control: str = "not_yet_treated",
    level: float = 0.95,
    seed: int = 0,
    n_sim: int = 20000,
    small_cohorts: bool = True,
    file: str | None = None,
) -> EventStudy:
    """Event study with staggered timing, robust to effects that differ across units and time.

    Group-time effects ATT(g, t) (Callaway & Sant'Anna 2021; ``diff_diff.CallawaySantAnna``,
    doubly robust without covariates, varying base period as R ``did``) are averaged by event
    time ``e = t - g``. Controls are units whose event is still to come and units that never have
    one (``control="not_yet_treated"``), or only the latter (``"never_treated"``). Intervals come
    from the influence functions, one per unit, so they are clustered by unit; the simultaneous
    band uses the sup-t critical value of the event times shown (Gaussian draws with the
    estimates' correlation, ``n_sim`` of them, seeded).

    Parameters
    ----------
    data : pandas.DataFrame
        The panel: ``unit``, ``period`` (dates) and ``outcome``. The study runs from the first to
        the last period in which at least 90 % of the units have the outcome, with the units that
        have it in all of those periods.
    events : pandas.DataFrame
        ``unit``, ``event_date`` and optionally ``event_type``. A unit's first usable event is its
        event; the rest are set aside with a reason (see :func:`event_periods`).
    outcome, unit, period, event_date : str
        Column names.
    event_type : str, optional
        Keep only events of this type (rows of other types are counted as ``other_type``).
        Without it, a file with several types in ``event_type`` is an error.
    pre, post : int, default 6, 12
        Event times ``-pre..post`` are reported.
    control : {"not_yet_treated", "never_treated"}
    level : float, default 0.95
    seed, n_sim : int
        The draws behind the simultaneous band's critical value.
    small_cohorts : bool, default True
        Correct the covariance for cohorts of few units (:func:`small_cohort_correction`);
        ``False`` gives the library's influence-function covariance as it is.
    file : str, optional
        The events file, for messages.

    Returns
    -------
    EventStudy

    Raises
    ------
    InputError
        A missing column, a panel without date periods, no usable event, no unit to compare
        with, several event types without ``event_type``, a bad ``pre``, ``post`` or ``level``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> months = pd.date_range("2022-01-01", periods=24, freq="MS")
    >>> panel = pd.DataFrame({"unit_id": np.repeat([f"u{i}" for i in range(40)], 24),
    ...                       "period": np.tile(months, 40)})
    >>> starts = {f"u{i}": months[6 + i % 12] for i in range(20)}
    >>> start = panel["unit_id"].map(starts)
    >>> after = (panel["period"] >= start).to_numpy()
    >>> panel["customer_retention"] = 0.95 - 0.02 * after + rng.normal(0, 0.005, len(panel))
    >>> ev = pd.DataFrame({"unit_id": list(starts), "event_date": list(starts.values())})
    >>> res = event_study(panel, ev, pre=3, post=6)
    >>> res.n_treated_units, res.n_control_units
    (20, 20)
    >>> round(res.post_average["estimate"], 2)
    -0.02
    """
    if not isinstance(pre, (int, np.integer)) or pre < 1:
        raise InputError(f"pre must be a whole number >= 1, not {pre!r}", column="pre")
    if not isinstance(post, (int, np.integer)) or post < 1:
        raise InputError(f"post must be a whole number >= 1, not {post!r}", column="post")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, not {level!r}", column="level")
    if control not in ("not_yet_treated", "never_treated"):
        raise InputError(
            f"control must be 'not_yet_treated' or 'never_treated', not {control!r}",
            column="control",
        )
    require_columns(data, [unit, period, outcome], what="panel")
    require_columns(events, [unit, event_date], file=file, what="events")
    n_read = len(events)
    other_type = 0
    label = event_type or "event"
    if "event_type" in events.columns:
        types = events["event_type"].astype("string").str.strip()
        if event_type is None:
            distinct = sorted(types.dropna().unique().tolist())
            if len(distinct) > 1:
                raise InputError(
                    f"holds several event types ({', '.join(distinct)}): choose one with --type",
                    file=file,
                    column="event_type",
                )
            label = distinct[0] if distinct else "event"
        else:
            keep = types.eq(event_type).fillna(False).to_numpy(dtype=bool)
            other_type = int((~keep).sum())
            if not keep.any():
                raise InputError(
                    f"has no event of type {event_type!r}", file=file, column="event_type"
                )
            events = events.loc[keep]
    panel = data[[unit, period, outcome]].copy()
    panel[unit] = panel[unit].astype(str)
    panel[outcome] = pd.to_numeric(panel[outcome], errors="coerce").astype(float)
    # the study's window: the periods in which at least 90 % of the units have the outcome (a
    # panel built from the first hire on has years without customers before the customer data)
    observed = panel.groupby(period)[outcome].apply(lambda s: s.notna().mean())
    window = observed.index[observed.to_numpy() >= 0.9]
    if len(window) < 2:
        raise InputError(
            f"{outcome!r} is missing for more than 10 % of the units in all but "
            f"{len(window)} period(s)",
            column=outcome,
        )
    panel = panel.loc[panel[period].between(window.min(), window.max())].reset_index(drop=True)
    n_units_all = panel[unit].nunique()
    used, aside = event_periods(
        panel, events, unit=unit, period=period, event_date=event_date, outcome=outcome, file=file
    )
    aside["other_type"] = other_type
    if used.empty:
        reasons = ", ".join(f"{k} {v}" for k, v in aside.items() if v)
        raise InputError(f"no usable event of type {label!r} ({reasons})", file=file)

    steps = read_periods(panel[period], column=period)
    panel["_t"] = steps.codes + 1
    complete = ~panel.groupby(unit)[outcome].transform(lambda s: s.isna().any())
    panel = panel.loc[complete.to_numpy(dtype=bool)]
    units_dropped = n_units_all - panel[unit].nunique()
    first = dict(zip(used[unit], used["event_step"] + 1, strict=True))
    panel["_g"] = panel[unit].map(first).fillna(0).astype(np.int64)
    n_treated = int(used[unit].nunique())
    n_never = int(panel.loc[panel["_g"].eq(0), unit].nunique())
    if control == "never_treated" and n_never == 0:
        raise InputError("no unit without the event to compare with (try not-yet-treated)")
    if n_never == 0 and used["event_step"].nunique() < 2:
        raise InputError("no unit to compare with: every unit has its event in the same period")

    from diff_diff import CallawaySantAnna

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = CallawaySantAnna(
            control_group=control, estimation_method="dr", n_bootstrap=0, alpha=1 - level
        ).fit(panel, outcome=outcome, unit=unit, time="_t", first_treat="_g")
        agg = fit.aggregate("event_study")
    notes = sorted({str(w.message).splitlines()[0] for w in caught})

    times = np.arange(-pre, post + 1)
    all_times = np.asarray(agg.event_time, dtype=np.int64)
    est_all = np.asarray(agg.att, dtype=float)
    vcov_all = np.asarray(agg.vcov, dtype=float)
    pos = {int(e): i for i, e in enumerate(all_times)}
    idx = [pos.get(int(e), -1) for e in times]
    est = np.array([est_all[i] if i >= 0 else np.nan for i in idx])
    have = np.isfinite(est)
    sel = np.array([i for i in idx if i >= 0 and np.isfinite(est_all[i])], dtype=np.int64)
    vcov = np.full((len(times), len(times)), np.nan)
    vcov[np.ix_(have, have)] = vcov_all[np.ix_(sel, sel)]
    if small_cohorts:
        wide = panel.pivot(index=unit, columns="_t", values=outcome)
        g_of = panel.drop_duplicates(unit).set_index(unit)["_g"].reindex(wide.index)
        extra = small_cohort_correction(
            wide.to_numpy(dtype=float), g_of.to_numpy(dtype=np.int64), times[have]
        )
        fixed = vcov[np.ix_(have, have)] + extra
        vals, vecs = np.linalg.eigh((fixed + fixed.T) / 2)
        vcov[np.ix_(have, have)] = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    z = float(sps.norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * sps.norm.sf(np.abs(est) / se)
        v_have = vcov[np.ix_(have, have)]
        d = np.sqrt(np.clip(np.diag(v_have), 1e-300, None))
        corr = v_have / np.outer(d, d)
    crit = _sup_t_crit(corr, level, n_sim, seed)
    g_treated = used["event_step"].to_numpy() + 1
    n_steps = int(steps.codes.max()) + 1
    n_at = [int(((g_treated + e >= 1) & (g_treated + e <= n_steps)).sum()) for e in times]
    table = pd.DataFrame(
        {
            "event_time": times.astype(np.int64),
            "estimate": est,
            "se": se,
            "ci_low": est - z * se,
            "ci_high": est + z * se,
            "band_low": est - crit * se,
            "band_high": est + crit * se,
            "p_val": p,
            "n_treated": np.array(n_at, dtype=np.int64),
        }
    )
    t_have, e_have = times[have], est[have]

    # pre-trend: every pre-event estimate 0 (Wald, pseudo-inverse for a singular covariance)
    pre_sel = t_have < 0
    if pre_sel.any():
        b = e_have[pre_sel]
        v = v_have[np.ix_(pre_sel, pre_sel)]
        dof = int(np.linalg.matrix_rank(v))
        chi2 = float(b @ np.linalg.pinv(v) @ b)
        pre_p = float(sps.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    else:
        chi2, dof, pre_p = float("nan"), 0, float("nan")

    nan_combo = dict.fromkeys(("estimate", "se", "ci_low", "ci_high", "p_val"), float("nan"))
    w_post = _mean_weights(t_have, 0, post)
    post_avg = _combo(w_post, e_have, v_have, z) if w_post is not None else nan_combo
    w_early = _mean_weights(t_have, *FADE_EARLY)
    w_late = _mean_weights(t_have, FADE_LATE[0], min(FADE_LATE[1], post))
    if w_early is not None and w_late is not None:
        early = _combo(w_early, e_have, v_have, z)
        late = _combo(w_late, e_have, v_have, z)
        diff = _combo(w_early - w_late, e_have, v_have, z)
        fades = bool(diff["p_val"] < 1 - level and abs(late["estimate"]) < abs(early["estimate"]))
        fade: dict[str, Any] = {
            "early": early["estimate"],
            "early_ci_low": early["ci_low"],
            "early_ci_high": early["ci_high"],
            "late": late["estimate"],
            "late_ci_low": late["ci_low"],
            "late_ci_high": late["ci_high"],
            "diff": diff["estimate"],
            "diff_ci_low": diff["ci_low"],
            "diff_ci_high": diff["ci_high"],
            "diff_p": diff["p_val"],
            "fades": fades,
            "early_times": list(FADE_EARLY),
            "late_times": [FADE_LATE[0], min(FADE_LATE[1], post)],
        }
    else:
        fade = {
            "early": float("nan"),
            "late": float("nan"),
            "diff": float("nan"),
            "diff_p": float("nan"),
            "fades": None,
        }
    settings = {
        "pre": int(pre),
        "post": int(post),
        "level": level,
        "control": control,
        "seed": seed,
        "n_sim": n_sim,
        "band_crit": crit,
        "step": steps.step,
        "event_time_0": "the period that holds the event date",
        "first_period": pd.Timestamp(window.min()),
        "last_period": pd.Timestamp(window.max()),
        "units_outcome_missing": int(units_dropped),
        "small_cohort_correction": small_cohorts,
    }
    text = _words(
        label, outcome, n_treated, n_never, post_avg, pre_p, fade, post, level, steps.step
    )
    return EventStudy(
        event_type=label,
        outcome=outcome,
        method=METHOD,
        n_treated_units=n_treated,
        n_control_units=n_never,
        estimates=table,
        pre_trend_p=pre_p,
        pre_trend_chi2=chi2,
        pre_trend_dof=dof,
        post_average=post_avg,
        fade=fade,
        set_aside=aside,
        n_events_read=n_read,
        n_events_used=len(used),
        settings=settings,
        warnings=notes,
        text=text,
    )


def _points(v: float, outcome: str) -> str:
    """An effect on a rate in points (``-1.5 points``), other outcomes as they are."""
    if outcome.endswith(("_retention", "_turnover")):
        shown = round(100 * v, 1)
        return "0.0 points" if shown == 0 else f"{shown:+.1f} points"  # never "-0.0"
    return f"{v:+.3g}"


def _words(
    label: str,
    outcome: str,
    n_treated: int,
    n_never: int,
    post_avg: dict[str, float],
    pre_p: float,
    fade: dict[str, Any],
    post: int,
    level: float,
    step: str,
) -> str:
    what = label.replace("_", " ")
    out = outcome.replace("_", " ")
    article = "an" if what[:1] in "aeiou" else "a"
    if n_never:
        compared = (
            f"{plural(n_never, 'unit')} never did and, with the units whose {what} was still to "
            "come, served as the comparison."
        )
    else:
        compared = f"every unit had one, so the units whose {what} was still to come served as "
        compared += "the comparison."
    parts = [f"{plural(n_treated, 'unit')} had {article} {what}; {compared}"]
    if math.isfinite(post_avg["estimate"]):
        parts.append(
            f"Over the {post + 1} {step}s from the event on, {out} moved by "
            f"{_points(post_avg['estimate'], outcome)} on average ({level:.0%} interval "
            f"{_points(post_avg['ci_low'], outcome)} to {_points(post_avg['ci_high'], outcome)}, "
            f"{p_phrase(post_avg['p_val'])})."
        )
    if fade.get("fades") is not None and math.isfinite(fade["diff_p"]):
        verdict = (
            "the effect fades"
            if fade["fades"]
            else "no clear fading (the difference could be chance)"
        )
        parts.append(
            f"In {step}s 1-3 after the event the effect was {_points(fade['early'], outcome)}, "
            f"in {step}s {fade['late_times'][0]}-{fade['late_times'][1]} "
            f"{_points(fade['late'], outcome)}: {verdict} ({p_phrase(fade['diff_p'])})."
        )
    if math.isfinite(pre_p):
        trend = (
            "Before the event, these units already moved differently from the comparison "
            f"({p_phrase(pre_p)}): read the effect with caution."
            if pre_p < 0.05
            else f"Before the event the two groups moved alike ({p_phrase(pre_p)}), as the "
            "design needs (this cannot prove they would have gone on doing so)."
        )
        parts.append(trend)
    return " ".join(parts)


def twfe_event_study(
    data: pd.DataFrame,
    events: pd.DataFrame,
    *,
    outcome: str = "customer_retention",
    unit: str = "unit_id",
    period: str = "period",
    event_date: str = "event_date",
    pre: int = 6,
    post: int = 12,
    level: float = 0.95,
) -> pd.DataFrame:
    """The plain two-way fixed-effects event study (for comparison and teaching only).

    OLS of the outcome on unit and period dummies and one dummy per event time ``-pre..post``
    (event time -1 the reference; times beyond the window binned into the end dummies), with
    unit-clustered standard errors. Under staggered timing with effects that change over time its
    coefficients are weighted mixes of effects at other event times, with weights that can be
    negative (Sun & Abraham 2021): use :func:`event_study`.

    Returns
    -------
    pandas.DataFrame
        ``event_time``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_val`` (event time -1
        is 0 by construction, its se NaN).
    """
    import statsmodels.api as sm

    panel = data[[unit, period, outcome]].copy()
    panel[unit] = panel[unit].astype(str)
    used, _ = event_periods(
        panel, events, unit=unit, period=period, event_date=event_date, outcome=outcome
    )
    steps = read_periods(panel[period], column=period)
    panel["_t"] = steps.codes
    panel = panel.loc[panel[outcome].notna()].copy()
    first = dict(zip(used[unit], used["event_step"], strict=True))
    g = panel[unit].map(first)
    rel = (panel["_t"] - g).clip(-pre, post)
    cols = {}
    for e in range(-pre, post + 1):
        if e != -1:
            cols[f"e{e}"] = (rel == e).fillna(False).astype(float).to_numpy()
    x = pd.DataFrame(cols, index=panel.index)
    fe = pd.get_dummies(panel[[unit, "_t"]].astype(str), drop_first=True, dtype=float)
    design = sm.add_constant(pd.concat([x, fe], axis=1))
    codes = pd.factorize(panel[unit])[0]
    res = sm.OLS(panel[outcome].to_numpy(dtype=float), design).fit(
        cov_type="cluster", cov_kwds={"groups": codes}
    )
    z = float(sps.norm.ppf(0.5 + level / 2))
    rows = []
    for e in range(-pre, post + 1):
        if e == -1:
            rows.append((e, 0.0, float("nan"), 0.0, 0.0, float("nan")))
            continue
        b, s = float(res.params[f"e{e}"]), float(res.bse[f"e{e}"])
        rows.append((e, b, s, b - z * s, b + z * s, float(res.pvalues[f"e{e}"])))
    return pd.DataFrame(
        rows, columns=["event_time", "estimate", "se", "ci_low", "ci_high", "p_val"]
    )
