"""Reliability of unit survey means: ICC(1), Spearman-Brown, and one entry point for the analyses.

A unit's item mean from a handful of respondents is noisy. :func:`unit_reliability` gives ICC(1)
(how much of a respondent's answer is the unit's) and ICC(k) (the reliability of the unit mean at
the average number of respondents, Bliese 2000) from respondent-level answers;
:func:`spearman_brown` carries ICC(1) to a mean over another number of answers.
:func:`survey_reliability` is what :func:`linkage.stats.key_drivers`' ``reliability=`` should get:
ICC(1) within unit x survey month (units answer in waves; a unit's climate may move between them),
then the reliability of the unit means the analysis actually correlates (Spearman 1904: a
corrected correlation divides by the square root of *that* reliability):

- ``level="between"``: a unit's mean over all its respondents in the panel's window, so ``k`` is
  the respondents behind a unit's waves in the panel (``es_respondents``, each wave counted once,
  even where forward alignment carries it to later periods), averaged over the units;
- ``level="within"``: a single wave's mean, so ``k`` is the respondents per wave.

Without a panel the respondents themselves give ``k`` (all of a unit's rows for ``between``, a
unit's rows per wave for ``within``); this equals the panel's figure only when the panel covers
every wave of the respondent file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as _st

from linkage.errors import InputError
from linkage.stats._prep import DEFAULT_UNIT, check_columns, numeric

__all__ = ["spearman_brown", "unit_reliability", "survey_reliability", "RELIABILITY_COLUMNS"]

#: columns of :func:`survey_reliability` (those ``linkage drivers --json`` prints)
RELIABILITY_COLUMNS = [
    "item",
    "n",
    "n_units",
    "k",
    "icc1",
    "icck",
    "f",
    "p_val",
    "dof_between",
    "dof_within",
    "k_means",
    "reliability",
    "unreliable",
]


def spearman_brown(icc1: ArrayLike, k: ArrayLike) -> np.ndarray | float:
    """Reliability of a mean of ``k`` answers from the single-answer ICC(1) (Spearman-Brown).

    ``k * icc1 / (1 + (k - 1) * icc1)``: the ICC(k) of :func:`unit_reliability` at another group
    size, e.g. at the respondents behind each wave's unit mean rather than all of a unit's answers.

    Examples
    --------
    >>> round(float(spearman_brown(0.727273, 3)), 3)  # the ICC(k) of unit_reliability's example
    0.889
    """
    icc1 = np.asarray(icc1, dtype=float)
    k = np.asarray(k, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = k * icc1 / (1 + (k - 1) * icc1)
    return out if out.ndim else float(out)


def unit_reliability(
    data: pd.DataFrame,
    *,
    items: Sequence[str],
    unit: str = DEFAULT_UNIT,
) -> pd.DataFrame:
    """ICC(1) and ICC(k) of unit means from respondent-level answers (one-way random-effects ANOVA).

    With group mean squares ``MSB`` and ``MSW`` over G units and N respondents,
    ``ICC(1) = (MSB - MSW) / (MSB + (k0 - 1) MSW)`` and ``ICC(k) = (MSB - MSW) / MSB``, the
    reliability of a unit mean at the (adjusted) average group size
    ``k0 = (N - sum(n_g^2) / N) / (G - 1)`` (Bliese 2000; with equal groups ``k0`` is the group
    size and these are ``pingouin.intraclass_corr``'s ICC1 and ICC1k). Negative values (less
    agreement within units than between) are reported as they are.

    Parameters
    ----------
    data : DataFrame
        One row per respondent: a unit column and one column per item. Missing answers drop out
        item by item.
    items : sequence of str
        Item columns.
    unit : str
        Unit column.

    Returns
    -------
    DataFrame
        One row per item: ``item``, ``n`` (answers), ``n_units``, ``k`` (``k0``), ``icc1``,
        ``icck``, ``f`` (``MSB / MSW``), ``p_val`` (F-test of no unit differences), ``dof_between``,
        ``dof_within``.

    Examples
    --------
    Unit means 4.33, 2.33, 3.33: MSB = 3, MSW = 1/3, so ICC(1) = 2.667 / 3.667 and
    ICC(k) = 2.667 / 3 (pingouin's ICC(1,1) and ICC(1,k) on the same answers):

    >>> df = pd.DataFrame({"unit_id": list("aaabbbccc"),
    ...                    "es_manager": [4, 5, 4, 2, 3, 2, 3, 3, 4]})
    >>> unit_reliability(df, items=["es_manager"])[["icc1", "icck", "f"]].round(3).values.tolist()
    [[0.727, 0.889, 9.0]]
    """
    items = list(items)
    if not items:
        raise InputError("reliability needs at least one item column")
    check_columns(data, {"unit": unit})
    for c in items:
        check_columns(data, {"item": c})
    if data[unit].isna().any():
        row = int(np.flatnonzero(data[unit].isna().to_numpy())[0]) + 1
        raise InputError("unit is missing", row=row, column=unit)
    codes_all, _ = pd.factorize(data[unit].astype(str), sort=True)
    rows = []
    for c in items:  # a handful of items; each is vectorised over respondents
        v = numeric(data, c)
        ok = np.isfinite(v)
        codes = pd.factorize(codes_all[ok])[0]
        v = v[ok]
        G = int(codes.max()) + 1 if len(codes) else 0
        N = len(v)
        if G < 2 or N <= G:
            raise InputError(
                f"item {c!r} needs at least 2 units and more answers than units (got {G} units, "
                f"{N} answers)",
                column=c,
            )
        n_g = np.bincount(codes, minlength=G).astype(float)
        m_g = np.bincount(codes, v, G) / n_g
        grand = v.mean()
        ssb = (n_g * (m_g - grand) ** 2).sum()
        ssw = ((v - m_g[codes]) ** 2).sum()
        msb, msw = ssb / (G - 1), ssw / (N - G)
        k0 = (N - (n_g**2).sum() / N) / (G - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            icc1 = (msb - msw) / (msb + (k0 - 1) * msw)
            icck = (msb - msw) / msb
            f = msb / msw
        p = float(_st.f.sf(f, G - 1, N - G)) if np.isfinite(f) else np.nan
        rows.append(
            {
                "item": c,
                "n": N,
                "n_units": G,
                "k": k0,
                "icc1": icc1,
                "icck": icck,
                "f": f,
                "p_val": p,
                "dof_between": G - 1,
                "dof_within": N - G,
            }
        )
    return pd.DataFrame(rows)


def _wave_groups(
    respondents: pd.DataFrame, *, unit: str, wave: str | None
) -> tuple[pd.DataFrame, str]:
    """The respondents with a unit x survey-month group column (or the unit alone, undated)."""
    if wave is None or wave not in respondents.columns:
        return respondents, unit
    month = pd.to_datetime(respondents[wave], format="ISO8601", errors="coerce").dt.strftime(
        "%Y-%m"
    )
    if month.isna().any():
        row = int(np.flatnonzero(month.isna().to_numpy())[0]) + 1
        raise InputError("date does not parse (YYYY-MM-DD)", row=row, column=wave)
    group = "_unit_wave"
    return respondents.assign(**{group: respondents[unit].astype(str) + "|" + month}), group


def _k_from_panel(panel: pd.DataFrame, *, unit: str, level: str, count: str, wave: str) -> float:
    """Respondents behind the unit means of ``panel`` (its ``count``), averaged over units."""
    n = pd.to_numeric(panel[count], errors="coerce")
    if level == "within":
        return float(n[n > 0].mean())
    # with forward alignment a wave's respondents repeat in the periods it is carried to: count
    # each (unit, wave) once
    waves = panel.assign(_n=n)
    if wave in panel.columns:
        waves = waves.loc[waves[wave].notna()].drop_duplicates([unit, wave])
    per_unit = waves["_n"].groupby(waves[unit]).sum()
    return float(per_unit[per_unit > 0].mean())


def survey_reliability(
    respondents: pd.DataFrame,
    *,
    items: Sequence[str],
    unit: str = DEFAULT_UNIT,
    wave: str | None = "survey_date",
    panel: pd.DataFrame | None = None,
    level: str = "between",
    count: str = "es_respondents",
    panel_wave: str = "es_wave",
) -> pd.DataFrame:
    """Reliability of the unit survey means an analysis correlates, item by item.

    ICC(1) from :func:`unit_reliability` with the respondents grouped by unit and survey month
    (by unit alone when ``wave`` is None or absent), then :func:`spearman_brown` at ``k_means``, the
    respondents behind one unit mean at ``level``.

    Parameters
    ----------
    respondents : DataFrame
        One row per respondent (and wave): a unit column, item columns and, optionally, a date.
    items : sequence of str
        Item columns of ``respondents``.
    unit : str
        Unit column (in ``respondents`` and ``panel``).
    wave : str or None
        Date column of the respondents (grouped by its month), or None.
    panel : DataFrame, optional
        The panel the analysis uses, with the respondent count ``count`` (and the wave column
        ``panel_wave``): ``k_means`` counts the respondents behind its unit means. Without it (or
        without ``count``) ``k_means`` comes from ``respondents``.
    level : str
        ``"between"``: a unit's mean over all its waves (``k_means``: a unit's respondents, each
        wave once, averaged over units); ``"within"``: one wave's mean (respondents per wave).
    count, panel_wave : str
        Respondent-count and wave columns of ``panel``.

    Returns
    -------
    DataFrame
        :data:`RELIABILITY_COLUMNS`: ``unit_reliability``'s columns (``n``, ``n_units`` and ``k``
        are those of the unit x month groups), ``k_means``, ``reliability`` and ``unreliable``
        (True where ICC(1) is at or below 0: ``reliability`` is then NaN, never taken as 1).

    Examples
    --------
    Three units answering in two months; each unit x month has two answers and ICC(1) = 0.6
    (see ``tests/test_stats_reliability.py``); a unit's mean over its four answers has reliability
    4 * 0.6 / (1 + 3 * 0.6) = 0.857, one month's mean 2 * 0.6 / 1.6 = 0.75:

    >>> dates = ["2024-01-05", "2024-01-09", "2024-02-03", "2024-02-07"] * 3
    >>> df = pd.DataFrame({"unit_id": list("aaaabbbbcccc"), "survey_date": dates,
    ...                    "manager": [8, 6, 6, 4, 4, 2, 2, 0, 5, 3, 5, 3]})
    >>> out = survey_reliability(df, items=["manager"])
    >>> out[["icc1", "k_means", "reliability"]].round(3).values.tolist()
    [[0.6, 4.0, 0.857]]
    >>> out = survey_reliability(df, items=["manager"], level="within")
    >>> round(float(out["reliability"].iloc[0]), 3)
    0.75
    """
    if level not in ("between", "within"):
        raise InputError(f"level must be 'between' or 'within', got {level!r}")
    items = list(items)
    check_columns(respondents, {"unit": unit})
    grouped, group = _wave_groups(respondents, unit=unit, wave=wave)
    table = unit_reliability(grouped, items=items, unit=group)
    if panel is not None and count in panel.columns:
        check_columns(panel, {"unit": unit})
        k = _k_from_panel(panel, unit=unit, level=level, count=count, wave=panel_wave)
    else:
        per = grouped[unit if level == "between" else group].astype(str)
        k = float(per.value_counts().mean())
    table["k_means"] = np.full(len(table), k)
    icc1 = table["icc1"].to_numpy(dtype=float)
    # an ICC(1) at or below 0: the unit means hold no measurable unit signal. Spearman-Brown of it
    # is meaningless (below 0, or above 1 once k is large), so the reliability is NaN and flagged,
    # never taken as perfect.
    unreliable = ~(icc1 > 0)
    sb = np.asarray(spearman_brown(icc1, table["k_means"].to_numpy(dtype=float)), dtype=float)
    table["reliability"] = np.where(unreliable, np.nan, sb)
    table["unreliable"] = unreliable
    return table[RELIABILITY_COLUMNS]
