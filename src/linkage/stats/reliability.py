"""Reliability of unit survey means: ICC(1), Spearman-Brown, and one entry point for the analyses.

A unit's item mean from a handful of respondents is noisy. :func:`unit_reliability` gives ICC(1)
(how much of a respondent's answer is the unit's) and ICC(k) (the reliability of the unit mean at
the average number of respondents, Bliese 2000) from respondent-level answers;
:func:`spearman_brown` carries ICC(1) to a mean over another number of answers.
:func:`variance_components` splits the answers into a unit's lasting level, its wave-to-wave
change and the respondents (a nested random-effects ANOVA), and :func:`survey_reliability` is what
:func:`linkage.stats.key_drivers`' ``reliability=`` should get: the reliability of the unit means
the analysis actually correlates (Spearman 1904: a corrected correlation divides by the square root
of *that* reliability):

- ``level="between"``: a unit's mean over all its waves in the panel's window. Its true score is the
  unit's climate over the window: the lasting level plus the wave-to-wave change averaged over the
  waves (variance ``var_wave / waves``, not ``var_wave``); respondent noise shrinks with the
  respondents behind them (``es_respondents``, each wave counted once, even where forward
  alignment carries it to later periods), averaged over the units. ``reliability_lasting`` takes
  the lasting level alone as true score (the averaged change is then error too);
- ``level="within"``: a single wave's mean against the unit's own average, whose true score is the
  wave-to-wave change; ``k`` is the respondents per wave.

ICC(1) over unit x month groups stepped up with Spearman-Brown (``reliability_pooled``) counts all
of the wave-to-wave change as true score of every mean (at the within level it calls a wave's
change as reliable as the unit's level); it stays in the table for comparison.

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

__all__ = [
    "spearman_brown",
    "unit_reliability",
    "variance_components",
    "survey_reliability",
    "RELIABILITY_COLUMNS",
    "COMPONENT_COLUMNS",
]

#: columns of :func:`variance_components`
COMPONENT_COLUMNS = [
    "item",
    "n",
    "n_units",
    "n_waves",
    "var_unit",
    "var_wave",
    "var_respondent",
    "share_unit",
    "share_wave",
    "share_respondent",
    "truncated",
]

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
    "waves",
    "var_unit",
    "var_wave",
    "var_respondent",
    "reliability_pooled",
    "reliability_lasting",
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


def _nested_anova(
    v: np.ndarray, unit_codes: np.ndarray, cell_codes: np.ndarray
) -> tuple[float, float, float, int, int]:
    """Method-of-moments components of a nested random-effects ANOVA (units, unit-waves, answers).

    Unbalanced expected mean squares (Searle, Casella & McCulloch 1992, sec. 5.7):
    ``E[MSE] = s_e``, ``E[MSW] = s_e + k1 s_w``, ``E[MSU] = s_e + k2 s_w + k3 s_u`` with
    ``k1 = (N - sum n_ij^2 / n_i) / (B - a)``,
    ``k2 = (sum n_ij^2 / n_i - sum n_ij^2 / N) / (a - 1)`` and
    ``k3 = (N - sum n_i^2 / N) / (a - 1)`` (all ``n`` in a balanced design). Returns the raw
    (possibly negative) ``s_u, s_w, s_e``, the unit count and the unit-wave count.
    """
    a = int(unit_codes.max()) + 1
    B = int(cell_codes.max()) + 1
    N = len(v)
    n_i = np.bincount(unit_codes, minlength=a).astype(float)
    n_ij = np.bincount(cell_codes, minlength=B).astype(float)
    cell_unit = np.zeros(B, dtype=np.int64)
    cell_unit[cell_codes] = unit_codes
    m_i = np.bincount(unit_codes, v, a) / n_i
    m_ij = np.bincount(cell_codes, v, B) / n_ij
    grand = v.mean()
    ss_u = float((n_i * (m_i - grand) ** 2).sum())
    ss_w = float((n_ij * (m_ij - m_i[cell_unit]) ** 2).sum())
    ss_e = float(((v - m_ij[cell_codes]) ** 2).sum())
    df_u, df_w, df_e = a - 1, B - a, N - B
    ms_u, ms_w, ms_e = ss_u / df_u, ss_w / df_w, ss_e / df_e
    sq = float((n_ij**2 / n_i[cell_unit]).sum())
    k1 = (N - sq) / df_w
    k2 = (sq - float((n_ij**2).sum()) / N) / df_u
    k3 = (N - float((n_i**2).sum()) / N) / df_u
    s_e = ms_e
    s_w = (ms_w - ms_e) / k1
    s_u = (ms_u - ms_e - k2 * s_w) / k3
    return s_u, s_w, s_e, a, B


def variance_components(
    respondents: pd.DataFrame,
    *,
    items: Sequence[str],
    unit: str = DEFAULT_UNIT,
    wave: str = "survey_date",
) -> pd.DataFrame:
    """Unit, wave and respondent variance of survey answers (nested random-effects ANOVA).

    An answer is ``grand mean + unit + wave-within-unit + respondent``: the unit's lasting level
    (``var_unit``), how the unit's climate moves from one survey month to the next
    (``var_wave``), and the respondent's own view and noise (``var_respondent``). ICC(1) over
    unit x month groups (:func:`survey_reliability`'s ``icc1``) puts the first two together, so
    a reliability stepped up from it counts wave-to-wave change as a lasting unit level. Here
    they are apart, estimated by the ANOVA method of moments (exact in unbalanced designs:
    Searle, Casella & McCulloch 1992, sec. 5.7; in a balanced design the same figures as REML,
    e.g. ``statsmodels`` ``MixedLM`` with a variance component for the wave). A negative
    estimate (less spread than chance) is set to 0 and named in ``truncated``.

    Parameters
    ----------
    respondents : DataFrame
        One row per respondent and wave: unit, date and item columns (missing answers drop out
        item by item).
    items : sequence of str
        Item columns.
    unit : str
        Unit column.
    wave : str
        Date column; answers are grouped by its month (a unit's wave).

    Returns
    -------
    DataFrame
        :data:`COMPONENT_COLUMNS`: ``n`` (answers), ``n_units``, ``n_waves`` (unit-waves), the
        three variances, their shares of the total and ``truncated`` (``""``, ``"unit"``,
        ``"wave"`` or ``"unit,wave"``).

    Raises
    ------
    InputError
        With fewer than 2 units, no unit answering in two months, or no month with two answers of
        one unit.

    Examples
    --------
    Three units, two months, two answers each: unit means 6, 2, 4; month means 7, 5 / 3, 1 / 4, 4;
    answers +-1 around them. MSU = 32 / 2 = 16, MSW = 8 / 3, MSE = 12 / 6 = 2, so
    ``var_wave = (8/3 - 2) / 2 = 1/3`` and ``var_unit = (16 - 8/3) / 4 = 10/3``:

    >>> dates = ["2024-01-05", "2024-01-09", "2024-02-03", "2024-02-07"] * 3
    >>> df = pd.DataFrame({"unit_id": list("aaaabbbbcccc"), "survey_date": dates,
    ...                    "q": [8, 6, 6, 4, 4, 2, 2, 0, 5, 3, 5, 3]})
    >>> out = variance_components(df, items=["q"])
    >>> out[["var_unit", "var_wave", "var_respondent"]].round(4).values.tolist()
    [[3.3333, 0.3333, 2.0]]
    """
    items = list(items)
    if not items:
        raise InputError("variance components need at least one item column")
    check_columns(respondents, {"unit": unit, "wave": wave})
    for c in items:
        check_columns(respondents, {"item": c})
    if respondents[unit].isna().any():
        row = int(np.flatnonzero(respondents[unit].isna().to_numpy())[0]) + 1
        raise InputError("unit is missing", row=row, column=unit)
    grouped, group = _wave_groups(respondents, unit=unit, wave=wave)
    units_all = pd.factorize(grouped[unit].astype(str), sort=True)[0]
    cells_all = pd.factorize(grouped[group].astype(str), sort=True)[0]
    rows = []
    for c in items:  # a handful of items; each is vectorised over respondents
        v = numeric(grouped, c)
        ok = np.isfinite(v)
        u = pd.factorize(units_all[ok])[0]
        w = pd.factorize(cells_all[ok])[0]
        v = v[ok]
        a = int(u.max()) + 1 if len(u) else 0
        B = int(w.max()) + 1 if len(w) else 0
        if a < 2 or B <= a or len(v) <= B:
            raise InputError(
                f"item {c!r} needs at least 2 units, a unit answering in two months and a month "
                f"with two answers of one unit to separate unit, wave and respondent variance "
                f"(got {a} units, {B} unit-months, {len(v)} answers)",
                column=c,
            )
        s_u, s_w, s_e, a, B = _nested_anova(v, u, w)
        cut = [name for name, x in (("unit", s_u), ("wave", s_w)) if not x > 0]
        s_u, s_w = max(s_u, 0.0), max(s_w, 0.0)
        total = s_u + s_w + s_e
        rows.append(
            {
                "item": c,
                "n": len(v),
                "n_units": a,
                "n_waves": B,
                "var_unit": s_u,
                "var_wave": s_w,
                "var_respondent": s_e,
                "share_unit": s_u / total if total > 0 else np.nan,
                "share_wave": s_w / total if total > 0 else np.nan,
                "share_respondent": s_e / total if total > 0 else np.nan,
                "truncated": ",".join(cut),
            }
        )
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS)


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


def _k_from_panel(
    panel: pd.DataFrame, *, unit: str, level: str, count: str, wave: str
) -> tuple[float, float]:
    """Respondents behind the unit means of ``panel`` (its ``count``) and the waves behind them,
    averaged over units (``within``: per wave, and 1 wave)."""
    n = pd.to_numeric(panel[count], errors="coerce")
    if level == "within":
        return float(n[n > 0].mean()), 1.0
    # with forward alignment a wave's respondents repeat in the periods it is carried to: count
    # each (unit, wave) once
    waves = panel.assign(_n=n).loc[n > 0]
    if wave in panel.columns:
        waves = waves.loc[waves[wave].notna()].drop_duplicates([unit, wave])
    per_unit = waves["_n"].groupby(waves[unit]).sum()
    n_waves = waves.groupby(waves[unit]).size()
    return float(per_unit.mean()), float(n_waves.mean())


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

    The answers are split into a unit's lasting level, its wave-to-wave change and the
    respondents (:func:`variance_components`), and the reliability is the share of a unit mean's
    variance that is the quantity the analysis compares:

    - ``level="between"`` (a unit's mean over its ``waves`` waves and ``k_means`` respondents):
      ``(var_unit + var_wave / waves) / (var_unit + var_wave / waves + var_respondent /
      k_means)``, the reliability of the unit's window mean (what an outcome averaged over the
      same window is compared with); ``reliability_lasting`` is ``var_unit / (var_unit +
      var_wave / waves + var_respondent / k_means)``, that of the lasting level (wave-to-wave
      change as noise that shrinks only with the number of waves);
    - ``level="within"`` (a wave's mean against the unit's own average): ``var_wave / (var_wave +
      var_respondent / k_means)``, ``k_means`` the respondents per wave.

    ``reliability_pooled`` is the older figure, ICC(1) over unit x survey-month groups
    (:func:`unit_reliability`) stepped up by :func:`spearman_brown` to ``k_means``: it counts
    wave-to-wave change as true score, so it overstates a between-unit mean's reliability when
    climates move between waves. Without dates (``wave`` None or absent), or when no unit answered
    in two months, the components cannot be separated and ``reliability`` is the pooled figure
    (the ``var_*`` columns NaN).

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
        ``panel_wave``): ``k_means`` and ``waves`` count the respondents and waves behind its unit
        means (each wave once, even where forward alignment carries it to later periods). Without
        it (or without ``count``) they come from ``respondents``.
    level : str
        ``"between"``: a unit's mean over all its waves; ``"within"``: one wave's mean.
    count, panel_wave : str
        Respondent-count and wave columns of ``panel``.

    Returns
    -------
    DataFrame
        :data:`RELIABILITY_COLUMNS`: ``unit_reliability``'s columns over unit x month groups
        (``n``, ``n_units``, ``k``, ``icc1``, ``icck``, ``f``, ``p_val``, ``dof_*``), ``k_means``,
        ``waves``, ``var_unit``, ``var_wave``, ``var_respondent``, ``reliability_pooled``,
        ``reliability_lasting`` (NaN at the within level), ``reliability`` and ``unreliable``
        (True where the compared component, ``var_unit`` (+ ``var_wave / waves``) or
        ``var_wave``, is 0 after truncation, or ICC(1) is at or below 0: ``reliability`` is then
        NaN, never taken as 1).

    Examples
    --------
    Three units answering in two months, two answers per unit and month (see
    :func:`variance_components`: ``var_unit`` 10/3, ``var_wave`` 1/3, ``var_respondent`` 2). A
    unit's mean over two waves of two: (10/3 + 1/6) / (10/3 + 1/6 + 2 / 4) = 0.875, of its lasting
    level (10/3) / 4 = 0.833 (ICC(1) = 0.6 over the unit-months stepped up to four answers says
    0.857). One wave's change within its unit: (1/3) / (1/3 + 2 / 2) = 0.25, where the pooled
    figure says 0.75:

    >>> dates = ["2024-01-05", "2024-01-09", "2024-02-03", "2024-02-07"] * 3
    >>> df = pd.DataFrame({"unit_id": list("aaaabbbbcccc"), "survey_date": dates,
    ...                    "manager": [8, 6, 6, 4, 4, 2, 2, 0, 5, 3, 5, 3]})
    >>> out = survey_reliability(df, items=["manager"])
    >>> cols = ["icc1", "k_means", "waves", "reliability_pooled", "reliability_lasting",
    ...         "reliability"]
    >>> out[cols].round(3).values.tolist()
    [[0.6, 4.0, 2.0, 0.857, 0.833, 0.875]]
    >>> out = survey_reliability(df, items=["manager"], level="within")
    >>> out[["reliability_pooled", "reliability"]].round(3).values.tolist()
    [[0.75, 0.25]]
    """
    if level not in ("between", "within"):
        raise InputError(f"level must be 'between' or 'within', got {level!r}")
    items = list(items)
    check_columns(respondents, {"unit": unit})
    grouped, group = _wave_groups(respondents, unit=unit, wave=wave)
    table = unit_reliability(grouped, items=items, unit=group)
    if panel is not None and count in panel.columns:
        check_columns(panel, {"unit": unit})
        k, n_waves = _k_from_panel(panel, unit=unit, level=level, count=count, wave=panel_wave)
    else:
        per = grouped[unit if level == "between" else group].astype(str)
        k = float(per.value_counts().mean())
        n_waves = 1.0
        if level == "between" and group != unit:
            n_waves = float(grouped.groupby(unit)[group].nunique().mean())
    table["k_means"] = np.full(len(table), k)
    table["waves"] = np.full(len(table), n_waves)
    icc1 = table["icc1"].to_numpy(dtype=float)
    sb = np.asarray(spearman_brown(icc1, table["k_means"].to_numpy(dtype=float)), dtype=float)
    # an ICC(1) at or below 0: the unit means hold no measurable unit signal. Spearman-Brown of it
    # is meaningless (below 0, or above 1 once k is large), so the reliability is NaN and flagged,
    # never taken as perfect.
    no_signal = ~(icc1 > 0)
    table["reliability_pooled"] = np.where(no_signal, np.nan, sb)
    comp = None
    if group != unit and grouped.groupby(unit)[group].nunique().max() > 1:
        comp = variance_components(respondents, items=items, unit=unit, wave=str(wave))
    if comp is None:
        for c in ("var_unit", "var_wave", "var_respondent"):
            table[c] = np.nan
        table["reliability"] = table["reliability_pooled"]
        table["reliability_lasting"] = np.nan
        table["unreliable"] = no_signal
        return table[RELIABILITY_COLUMNS]
    s_u, s_w, s_e = (
        comp[c].to_numpy(dtype=float) for c in ("var_unit", "var_wave", "var_respondent")
    )
    table["var_unit"], table["var_wave"], table["var_respondent"] = s_u, s_w, s_e
    with np.errstate(invalid="ignore", divide="ignore"):
        if level == "between":
            true = s_u + s_w / n_waves
            rel = true / (true + s_e / k)
            lasting = np.where(s_u > 0, s_u / (true + s_e / k), np.nan)
        else:
            true = s_w
            rel = s_w / (s_w + s_e / k)
            lasting = np.full(len(table), np.nan)
    unreliable = no_signal | ~(true > 0)
    table["reliability"] = np.where(unreliable, np.nan, rel)
    table["reliability_lasting"] = np.where(unreliable, np.nan, lasting)
    table["unreliable"] = unreliable
    return table[RELIABILITY_COLUMNS]
