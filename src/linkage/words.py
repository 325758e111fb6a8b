"""The words the reports, dashboards and CLI use for figures: one home, so they all read the same.

Pure functions of numbers, no imports from the rest of ``linkage``:

- :func:`strength`: ``strong`` / ``moderate`` / ``weak`` / ``very weak`` for a correlation
  (:data:`STRENGTH_THRESHOLDS`: |r| >= 0.5, 0.3, 0.1).
- :func:`period_word`, :func:`plural`: ``month`` / ``quarter`` / ``year``; ``2 months``.
- :func:`lag_phrase`: when the second measure moves, relative to the first (``2 months later``).
- :func:`lead_word`: which side leads at a lag (``employees lead``).
- :func:`direction_word`: ``higher`` / ``lower``.
- :func:`interval`, :func:`r_interval`, :func:`p_phrase`: numbers with their uncertainty;
  :func:`open_interval` when an end may be missing (no bound on that side).
- :func:`order_sentence`: which way a link runs, from the test of the difference of two
  cross-lags (never from one being significant and the other not); :func:`order_headline` says
  it in a dashboard's words, :func:`order_short_caveat` warns when the periods are few.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = [
    "STRENGTH_THRESHOLDS",
    "strength",
    "period_word",
    "plural",
    "lag_phrase",
    "lead_word",
    "direction_word",
    "interval",
    "r_interval",
    "open_interval",
    "p_phrase",
    "order_sentence",
    "order_headline",
    "order_short_caveat",
]

#: Lower bounds of |r| for "strong", "moderate" and "weak"; below the last, "very weak".
STRENGTH_THRESHOLDS = (0.5, 0.3, 0.1)

_FREQ = {"M": "month", "Q": "quarter", "Y": "year", "A": "year", "W": "week", "D": "day"}
_STEPS = ("month", "quarter", "year", "week", "day", "period")


def strength(r: float, *, capital: bool = False) -> str:
    """How strong a correlation is, in words.

    Parameters
    ----------
    r : float
        A correlation; its sign is ignored. NaN reads as ``"very weak"`` (callers say "not enough
        data" before asking).
    capital : bool
        Start with a capital letter (the dashboards' sentence openings).

    Examples
    --------
    >>> [strength(r) for r in (0.5, -0.31, 0.1, 0.09)]
    ['strong', 'moderate', 'weak', 'very weak']
    >>> strength(0.32, capital=True)
    'Moderate'
    """
    a = abs(r)
    hi, mid, lo = STRENGTH_THRESHOLDS
    word = "strong" if a >= hi else "moderate" if a >= mid else "weak" if a >= lo else "very weak"
    return word.capitalize() if capital else word


def period_word(freq: str) -> str:
    """The name of one period: ``"M"`` -> ``"month"``; a name passes through; else ``"period"``.

    Examples
    --------
    >>> [period_word(f) for f in ("M", "Q", "Y", "month", "MS", "fortnight")]
    ['month', 'quarter', 'year', 'month', 'month', 'period']
    """
    if freq in _STEPS:
        return freq
    key = freq.upper()[:1] if freq else ""
    return _FREQ.get(key, "period")


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an ``s`` unless ``|n|`` is 1.

    Examples
    --------
    >>> plural(1, "month"), plural(2, "quarter"), plural(0, "year")
    ('1 month', '2 quarters', '0 years')
    """
    return f"{n} {word}{'' if abs(n) == 1 else 's'}"


def lag_phrase(
    k: int,
    *,
    step: str = "month",
    x: str | None = None,
    y: str | None = None,
    style: Literal["plain", "chain", "terse"] = "plain",
) -> str:
    """When ``y`` moves relative to ``x`` at lag ``k`` (k > 0: ``x`` leads, as in the lag profile).

    Parameters
    ----------
    k : int
        The lag in periods.
    step : str
        One period's name (:func:`period_word`).
    x, y : str, optional
        The two measures as the reader sees them (``chain`` needs ``y``; ``terse`` both).
    style : {"plain", "chain", "terse"}
        ``plain``: the dashboards' headline and the business effect (``2 months later``);
        ``chain``: the chain section's sentences (``with customer retention 2 months later``);
        ``terse``: ``linkage chain``'s text (``customer retention 2 month(s) later``).

    Examples
    --------
    >>> lag_phrase(0), lag_phrase(1), lag_phrase(-2, step="quarter")
    ('in the same month', '1 month later', '2 quarters earlier')
    >>> lag_phrase(2, y="Customer retention", style="chain")
    'with customer retention 2 months later'
    >>> lag_phrase(-1, y="Customer retention", style="chain")
    'when customer retention comes first, by 1 month'
    >>> lag_phrase(-2, x="a", y="b", style="terse"), lag_phrase(0, x="a", y="b", style="terse")
    ('a 2 month(s) later', 'same month')
    """
    if style == "terse":
        if k == 0:
            return "same " + step
        return f"{y} {k} {step}(s) later" if k > 0 else f"{x} {-k} {step}(s) later"
    if k == 0:
        return f"in the same {step}"
    if style == "chain":
        who = (y or "").lower()
        if k > 0:
            return f"with {who} {plural(k, step)} later"
        return f"when {who} comes first, by {plural(-k, step)}"
    return f"{plural(abs(k), step)} later" if k > 0 else f"{plural(abs(k), step)} earlier"


def lead_word(k: int) -> str:
    """Which side leads at lag ``k`` (x = employees, y = customers).

    Examples
    --------
    >>> lead_word(2), lead_word(-1), lead_word(0)
    ('employees lead', 'customers lead', 'same period')
    """
    return "employees lead" if k > 0 else "customers lead" if k < 0 else "same period"


def direction_word(r: float) -> str:
    """``higher`` for a positive link, else ``lower``.

    Examples
    --------
    >>> direction_word(0.2), direction_word(-0.2)
    ('higher', 'lower')
    """
    return "higher" if r > 0 else "lower"


def interval(
    lo: float,
    hi: float,
    *,
    level: float = 0.95,
    digits: int = 2,
    word: Literal["interval", "CI"] = "interval",
) -> str:
    """A confidence interval: ``95% interval 0.20 to 0.43`` (``word="CI"``: the statistics text).

    Examples
    --------
    >>> interval(0.2, 0.434)
    '95% interval 0.20 to 0.43'
    >>> interval(-0.05, 0.11, level=0.9, word="CI")
    '90% CI -0.05 to 0.11'
    """
    return f"{level:.0%} {word} {lo:.{digits}f} to {hi:.{digits}f}"


def r_interval(
    r: float,
    lo: float,
    hi: float,
    *,
    level: float = 0.95,
    digits: int = 2,
    word: Literal["interval", "CI"] = "interval",
) -> str:
    """A correlation and its interval: ``r = 0.32, 95% interval 0.20 to 0.43``.

    An interval with a missing end is left out; a missing ``r`` reads ``r not computable``.

    Examples
    --------
    >>> r_interval(0.32, 0.2, 0.43)
    'r = 0.32, 95% interval 0.20 to 0.43'
    >>> r_interval(0.3, float("nan"), 0.4, word="CI"), r_interval(float("nan"), 0, 1)
    ('r = 0.30', 'r not computable')
    """
    if not math.isfinite(r):
        return "r not computable"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"r = {r:.{digits}f}"
    return f"r = {r:.{digits}f}, " + interval(lo, hi, level=level, digits=digits, word=word)


def open_interval(
    lo: float,
    hi: float,
    *,
    level: float = 0.95,
    digits: int = 2,
    word: Literal["interval", "CI"] = "interval",
) -> str:
    """An interval that may have no bound on a side (a missing end): ``95% CI 0.53 or more``.

    Examples
    --------
    >>> open_interval(0.2, 0.434, word="CI"), open_interval(0.53, float("nan"))
    ('95% CI 0.20 to 0.43', '95% interval 0.53 or more')
    >>> open_interval(float("nan"), -0.1), open_interval(float("nan"), float("nan"))
    ('95% interval -0.10 or less', '95% interval unbounded')
    """
    has_lo, has_hi = math.isfinite(lo), math.isfinite(hi)
    if has_lo and has_hi:
        return interval(lo, hi, level=level, digits=digits, word=word)
    if has_lo:
        return f"{level:.0%} {word} {lo:.{digits}f} or more"
    if has_hi:
        return f"{level:.0%} {word} {hi:.{digits}f} or less"
    return f"{level:.0%} {word} unbounded"


def p_phrase(p: float) -> str:
    """A p-value as the reports write it.

    Examples
    --------
    >>> p_phrase(0.0004), p_phrase(0.0123)
    ('p < 0.001', 'p = 0.012')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def order_sentence(
    verdict: str,
    difference: float,
    lo: float,
    hi: float,
    p: float,
    *,
    x: str = "staff retention",
    y: str = "customer retention",
    order: int = 1,
    step: str = "month",
    level: float = 0.95,
) -> str:
    """Which way a link runs, in words, from the test of the difference of the two cross-lags.

    ``verdict`` is ``"employees_lead"`` (x's cross-lag on y larger), ``"customers_lead"`` or
    ``"no_clear_order"``; ``difference`` is the standardised x -> y cross-lag minus the y -> x one
    over ``order`` lags, with its interval and p-value.

    Examples
    --------
    >>> order_sentence("employees_lead", 0.21, 0.12, 0.3, 0.0001)
    'Changes in staff retention predict later customer retention more strongly than the reverse \
(difference of standardised cross-lags over 1 month 0.21, 95% CI 0.12 to 0.30, p < 0.001).'
    >>> order_sentence("no_clear_order", 0.02, -0.05, 0.09, 0.6, order=2)[:58]
    'Neither direction is clearly stronger: the data cannot tel'
    """
    nums = (
        f"(difference of standardised cross-lags over {plural(order, step)} {difference:.2f}, "
        f"{interval(lo, hi, level=level, word='CI')}, {p_phrase(p)})"
    )
    if verdict == "employees_lead":
        return f"Changes in {x} predict later {y} more strongly than the reverse {nums}."
    if verdict == "customers_lead":
        return (
            f"Changes in {y} predict later {x} more strongly than the reverse {nums}: customers "
            "may drive staff, not only the other way round."
        )
    return f"Neither direction is clearly stronger: the data cannot tell which comes first {nums}."


def order_headline(
    verdict: str,
    p: float,
    *,
    x: str = "staff",
    y: str = "customer",
) -> str:
    """Which way a link runs, for a dashboard: the verdict of the difference test and its p-value.

    ``verdict`` is :func:`order_sentence`'s (``"employees_lead"``, ``"customers_lead"`` or
    ``"no_clear_order"``), read from the test of the difference of the two cross-lags; the words
    name an order only for a named verdict and never say more than the test: which changes come
    first, not which cause the others.

    Examples
    --------
    >>> order_headline("employees_lead", 0.0112)
    'Which way it runs: staff changes come before customer changes, more than the other way \
round (difference test p = 0.011).'
    >>> order_headline("no_clear_order", 0.4)
    'Which way it runs: the data cannot tell which comes first (difference test p = 0.400).'
    >>> order_headline("customers_lead", 0.0001)[:67]
    'Which way it runs: customer changes come before staff changes, more'
    """
    test = f"difference test {p_phrase(p)}"
    if verdict == "employees_lead":
        return (
            f"Which way it runs: {x} changes come before {y} changes, more than the other way "
            f"round ({test})."
        )
    if verdict == "customers_lead":
        return (
            f"Which way it runs: {y} changes come before {x} changes, more than the other way "
            f"round ({test}): losing customers may be driving {x} away, not only the reverse."
        )
    if verdict == "no_clear_order":
        return f"Which way it runs: the data cannot tell which comes first ({test})."
    raise ValueError(f"unknown verdict {verdict!r}")


def order_short_caveat(
    n_periods: int,
    *,
    short: int,
    measured_at: int,
    false_rate: float,
    level: float = 0.05,
    step: str = "month",
    named: bool = True,
) -> str:
    """The warning a direction verdict from few periods carries ("" from ``short`` periods on).

    ``false_rate`` is the share of worlds without a direction in which the test named one, at
    ``measured_at`` periods with one measure much more persistent than the other (a level-``level``
    test should name one in ``level`` of them). ``named``: the verdict names an order (else only
    the shortness is said: the false orders do not concern a verdict that names none).

    Examples
    --------
    >>> print(order_short_caveat(12, short=24, measured_at=12, false_rate=0.193))
    ... # doctest: +NORMALIZE_WHITESPACE
    Only 12 months in this range, fewer than the 24 this test needs to be trusted: when one side
    changes more slowly than the other, it names an order that is not there about 1 time in 5 at
    12 months (instead of 1 in 20).
    >>> order_short_caveat(16, short=24, measured_at=12, false_rate=0.193, named=False)
    'Only 16 months in this range, fewer than the 24 this test needs to be trusted.'
    >>> order_short_caveat(24, short=24, measured_at=12, false_rate=0.193)
    ''
    """
    if n_periods >= short:
        return ""
    text = (
        f"Only {plural(n_periods, step)} in this range, fewer than the {short} this test needs to "
    )
    if not named:
        return text + "be trusted."
    return text + (
        f"be trusted: when one side changes more slowly than the other, it names an order that is "
        f"not there about 1 time in {round(1 / false_rate)} at {plural(measured_at, step)} "
        f"(instead of 1 in {round(1 / level)})."
    )
