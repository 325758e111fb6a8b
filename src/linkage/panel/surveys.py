"""Surveys on the unit x period grid: item means, CSAT, NPS and respondents per unit x period.

Each function turns a respondent-level table into a unit x period table keyed by
``unit_id, period`` (``period`` = the first day of the period, as in the panel), which
:func:`linkage.panel.join_chain` appends to the retention panel.

    A survey *wave* of a unit is a period in which the unit has at least one respondent. With
    ``align="wave"`` a wave's figures are given to its own period only (other periods are
    missing). With ``align="forward"`` they are also carried forward to the unit's following
    periods, until its next wave (or the end of the window): the figures in force in that
    period. ``<prefix>wave`` always says which period the figures come from, so their age is
    visible; waves before the window carry into it.

Carried-forward figures are the figures *in force*, not a measurement of that month: a quarterly
wave carried into the next two months is on average a month and a half old, so a lag measured
against it is shifted. :func:`on_wave_months` keeps each survey figure in the month its wave
measured only (whatever alignment built the panel), which is what lags and links should be
estimated on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel._inputs import (
    as_frame,
    date_column,
    first_bad,
    need_columns,
    number_column,
    text_column,
)
from linkage.panel.build import ratio, window_bounds
from linkage.panel.periods import DateLike, date_codes, normalize_freq, period_starts

__all__ = [
    "employee_survey_panel",
    "customer_survey_panel",
    "nps_score",
    "on_wave_months",
    "WAVE_COLUMNS",
    "Align",
]

#: wave column of each survey's columns in a panel (:func:`linkage.panel.join_chain` names)
WAVE_COLUMNS = {"es_": "es_wave", "cs_": "cs_wave"}

Align = Literal["forward", "wave"]


def _align(align: object) -> Align:
    if align == "forward":
        return "forward"
    if align == "wave":
        return "wave"
    raise InputError(
        f"align must be 'forward' (carry a wave to the following periods) or 'wave' "
        f"(its own period only), not {align!r}"
    )


def nps_score(values: np.ndarray | pd.Series) -> np.ndarray:
    """Each 0-10 answer's contribution to the Net Promoter Score: +100, 0 or -100.

    Promoters (9 or 10) count +100, passives (7 or 8) 0, detractors (0 to 6) -100, so the mean
    over respondents is the NPS (% promoters minus % detractors, -100 to 100). Missing answers
    stay missing.

    Examples
    --------
    >>> nps_score([10, 9, 8, 7, 6, 0, float("nan")]).tolist()
    [100.0, 100.0, 0.0, 0.0, -100.0, -100.0, nan]
    """
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(v), np.nan, np.where(v >= 9, 100.0, np.where(v <= 6, -100.0, 0.0)))


def _survey_grid(
    units: pd.Series,
    dates: pd.Series,
    values: dict[str, np.ndarray],
    *,
    freq: str,
    start: DateLike | None,
    end: DateLike | None,
    align: Align,
    prefix: str,
) -> pd.DataFrame:
    """Means per unit and period of ``values`` (NaN skipped), respondents, aligned by ``align``."""
    codes = date_codes(dates, freq)
    span = (int(codes.min()), int(codes.max())) if len(codes) else None
    lo, hi, n_periods = window_bounds([span], start, end, freq)
    unit_code, unit_index = pd.factorize(units, sort=True)
    n_units = len(unit_index)
    # waves before the window may carry into it
    g_lo = min(lo, span[0]) if (align == "forward" and span is not None and n_periods) else lo
    width = hi - g_lo + 1 if n_periods else 0
    ok = (codes >= g_lo) & (codes <= hi)
    cell = unit_code[ok].astype(np.int64) * width + (codes[ok] - g_lo)
    size = n_units * width
    respondents = np.bincount(cell, minlength=size).reshape(n_units, width)
    means = {}
    for name, v in values.items():
        v = v[ok]
        answered = ~np.isnan(v)
        total = np.bincount(cell[answered], weights=v[answered], minlength=size)
        count = np.bincount(cell[answered], minlength=size)
        means[name] = ratio(total, count.astype(np.float64)).reshape(n_units, width)
    position = np.where(respondents > 0, np.arange(width)[None, :], -1)
    if align == "forward":
        position = np.maximum.accumulate(position, axis=1)
    keep = slice(lo - g_lo, lo - g_lo + n_periods)
    position = position[:, keep]
    has = position >= 0
    rows = np.repeat(np.arange(n_units), n_periods)
    at = np.where(has, position, 0).ravel()
    columns: dict[str, object] = {
        "unit_id": pd.array(np.asarray(unit_index, dtype=object)[rows], dtype="str"),
        "period": np.tile(period_starts(np.arange(lo, lo + n_periods), freq), n_units),
    }
    for name, grid in means.items():
        columns[f"{prefix}{name}"] = np.where(has.ravel(), grid[rows, at], np.nan)
    columns[f"{prefix}respondents"] = np.where(has.ravel(), respondents[rows, at], 0).astype(
        np.int64
    )
    wave_codes = np.where(has.ravel(), g_lo + at, 0)
    wave = period_starts(wave_codes, freq)
    columns[f"{prefix}wave"] = np.where(has.ravel(), wave, np.datetime64("NaT", "us"))
    out = pd.DataFrame(columns)
    out["unit_id"] = out["unit_id"].astype("str")
    return out


def employee_survey_panel(
    data: pd.DataFrame,
    *,
    items: Sequence[str],
    unit: str = "unit_id",
    date: str = "survey_date",
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    align: Align = "forward",
) -> pd.DataFrame:
    """Employee survey responses as unit x period item means with respondent counts.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent and wave: a unit, a date and one numeric column per item
        (for instance a 1-5 scale; a missing answer is skipped for that item only).
    items : sequence of str
        The item columns to average (for instance ``["engagement", "manager_support"]``).
    unit, date : str, default "unit_id", "survey_date"
        The unit and response date columns.
    freq : {"M", "Q", "Y"}, default "M"
        The period length (that of the panel it will join).
    start, end : str or date, optional
        First and last period (as in :func:`linkage.panel.build_panel`); by default the periods
        of the first and last response.
    align : {"forward", "wave"}, default "forward"
        ``"forward"``: a wave's figures hold in its own period and the unit's following periods
        until its next wave (see the module docstring); ``"wave"``: in its own period only.

    Returns
    -------
    pandas.DataFrame
        One row per unit (of ``data``) x period of the window, sorted by ``unit_id, period``:
        ``unit_id`` (str), ``period`` (datetime64, first day), ``es_<item>`` (float64: the mean
        of the wave's answers, NaN with no wave in force), ``es_respondents`` (int64: the wave's
        respondents, the size behind the means, 0 with no wave in force) and ``es_wave``
        (datetime64: the period of the wave in force, NaT with none).

    Raises
    ------
    InputError
        For a missing column, a row without unit or date, a date or item column that does not
        parse, an empty ``items``, a bad ``freq`` or ``align``.

    Examples
    --------
    Two respondents in store s1 in February, one in April; quarterly waves carried forward:

    >>> import pandas as pd
    >>> es = pd.DataFrame({"unit_id": ["s1", "s1", "s1"],
    ...                    "survey_date": pd.to_datetime(["2024-02-05", "2024-02-20",
    ...                                                   "2024-04-11"]),
    ...                    "engagement": [4, 3, 5], "pay": [2, None, 3]})
    >>> employee_survey_panel(es, items=["engagement", "pay"], start="2024-01", end="2024-05")
      unit_id     period  es_engagement  es_pay  es_respondents    es_wave
    0      s1 2024-01-01            NaN     NaN               0        NaT
    1      s1 2024-02-01            3.5     2.0               2 2024-02-01
    2      s1 2024-03-01            3.5     2.0               2 2024-02-01
    3      s1 2024-04-01            5.0     3.0               1 2024-04-01
    4      s1 2024-05-01            5.0     3.0               1 2024-04-01
    """
    data = as_frame(data, "employee survey")
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise InputError("items must be a non-empty list of item column names", column="items")
    need_columns(data, [unit, date, *items], "employee survey")
    freq, align = normalize_freq(freq), _align(align)
    values = {item: number_column(data, item, "employee survey") for item in items}
    return _survey_grid(
        text_column(data, unit, "employee survey"),
        date_column(data, date, "employee survey"),
        values,
        freq=freq,
        start=start,
        end=end,
        align=align,
        prefix="es_",
    )


def customer_survey_panel(
    data: pd.DataFrame,
    *,
    csat: str | None = "csat",
    nps: str | None = "nps",
    unit: str = "unit_id",
    date: str = "response_date",
    freq: str = "M",
    start: DateLike | None = None,
    end: DateLike | None = None,
    align: Align = "wave",
) -> pd.DataFrame:
    """Customer survey responses as unit x period CSAT mean, NPS and respondent counts.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per response: a unit, a date, a CSAT score (e.g. 1-5) and / or a 0-10
        "how likely are you to recommend us" answer.
    csat, nps : str or None, default "csat", "nps"
        The CSAT and recommendation columns (None when the survey has no such question; at
        least one is needed).
    unit, date : str, default "unit_id", "response_date"
        The unit and response date columns.
    freq, start, end
        As in :func:`employee_survey_panel`.
    align : {"wave", "forward"}, default "wave"
        Customer surveys usually run continuously, so by default a period has the responses
        dated in it only; ``"forward"`` carries the last figures into periods without responses.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``period``, then ``cs_csat`` (float64, mean score), ``cs_nps`` (float64,
        % promoters (9-10) minus % detractors (0-6) among those who answered it, -100 to 100),
        ``cs_respondents`` (int64) and ``cs_wave`` (datetime64), as in
        :func:`employee_survey_panel`.

    Raises
    ------
    InputError
        As :func:`employee_survey_panel`; also when both ``csat`` and ``nps`` are None.

    Examples
    --------
    >>> import pandas as pd
    >>> cs = pd.DataFrame({"unit_id": ["s1"] * 4,
    ...                    "response_date": pd.to_datetime(["2024-01-03", "2024-01-09",
    ...                                                     "2024-01-30", "2024-02-14"]),
    ...                    "csat": [5, 4, 2, 4], "nps": [10, 8, 3, 9]})
    >>> customer_survey_panel(cs)
      unit_id     period   cs_csat  cs_nps  cs_respondents    cs_wave
    0      s1 2024-01-01  3.666667     0.0               3 2024-01-01
    1      s1 2024-02-01  4.000000   100.0               1 2024-02-01
    """
    data = as_frame(data, "customer survey")
    if csat is None and nps is None:
        raise InputError("give at least one of csat= and nps=")
    need_columns(data, [c for c in (unit, date, csat, nps) if c is not None], "customer survey")
    freq, align = normalize_freq(freq), _align(align)
    values = {}
    if csat is not None:
        values["csat"] = number_column(data, csat, "customer survey")
    if nps is not None:
        raw = number_column(data, nps, "customer survey")
        first_bad(
            ~np.isnan(raw) & ((raw < 0) | (raw > 10)),
            "have a recommendation answer outside 0-10",
            "customer survey",
            nps,
        )
        values["nps"] = nps_score(raw)
    return _survey_grid(
        text_column(data, unit, "customer survey"),
        date_column(data, date, "customer survey"),
        values,
        freq=freq,
        start=start,
        end=end,
        align=align,
        prefix="cs_",
    )


def on_wave_months(
    panel: pd.DataFrame, *, period: str = "period"
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The panel with each survey figure kept only in the month its wave measured.

    For each survey of :data:`WAVE_COLUMNS` the panel has (``es_wave``, ``cs_wave``), a row whose
    wave is not its own period holds a figure carried forward from an earlier wave: its
    ``es_*`` (``cs_*``) values and its wave become missing and its respondent count 0 (as
    ``align="wave"`` would have built it). A panel built with
    ``align="wave"`` is returned unchanged. Periods and waves are compared by calendar month (a
    panel with month-end or mid-month period dates matches its waves' first days).

    Parameters
    ----------
    panel : DataFrame
        A unit x period panel with survey columns (:func:`linkage.panel.join_chain`).
    period : str
        Period column.

    Returns
    -------
    (DataFrame, dict)
        The panel, and per wave column the number of carried-forward rows set aside (only the
        wave columns the panel has).

    Raises
    ------
    InputError
        When the period column or a wave column does not hold dates.

    Examples
    --------
    >>> es = pd.DataFrame({"unit_id": ["s1"] * 3,
    ...                    "survey_date": pd.to_datetime(["2024-02-05", "2024-02-20",
    ...                                                   "2024-04-11"]),
    ...                    "engagement": [4, 3, 5]})
    >>> carried = employee_survey_panel(es, items=["engagement"], start="2024-02", end="2024-05")
    >>> fresh, dropped = on_wave_months(carried)
    >>> fresh["es_engagement"].tolist(), fresh["es_respondents"].tolist(), dropped
    ([3.5, nan, 5.0, nan], [2, 0, 1, 0], {'es_wave': 2})
    """
    out = panel.copy()
    dropped: dict[str, int] = {}
    present = {p: w for p, w in WAVE_COLUMNS.items() if w in panel.columns}
    if not present:
        return out, dropped
    periods = pd.to_datetime(panel[period], errors="coerce", format="mixed")
    if periods.isna().any():
        row = int(np.flatnonzero(periods.isna().to_numpy())[0]) + 1
        raise InputError(
            "period is not a date, so the survey waves cannot be matched to the months they "
            "measured",
            row=row,
            column=period,
        )
    month = periods.dt.to_period("M")
    for prefix, wave_col in present.items():
        raw = panel[wave_col]
        waves = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = waves.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        bad &= ~raw.astype(str).isin(["NaT", "nan", "None", "(none)"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise InputError("wave is not a date", row=row, column=wave_col)
        stale = (waves.notna() & (waves.dt.to_period("M") != month)).to_numpy()
        dropped[wave_col] = int(stale.sum())
        if not stale.any():
            continue
        for col in panel.columns:
            if not str(col).startswith(prefix):
                continue
            if col == f"{prefix}respondents":
                out[col] = pd.to_numeric(out[col], errors="coerce").where(~stale, 0)
            else:
                out[col] = out[col].where(~stale)
    return out, dropped
