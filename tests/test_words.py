"""linkage.words: each wording pinned, and equal to what today's copies write."""

from __future__ import annotations

import math

import pytest

from linkage import words as w
from linkage.app._render import link_words


@pytest.mark.parametrize(
    ("r", "word"),
    [
        (0.5, "strong"),
        (-0.72, "strong"),
        (0.4999, "moderate"),
        (0.3, "moderate"),
        (0.2999, "weak"),
        (-0.1, "weak"),
        (0.0999, "very weak"),
        (0.0, "very weak"),
        (math.nan, "very weak"),
    ],
)
def test_strength(r: float, word: str) -> None:
    assert w.strength(r) == word
    assert w.strength(r, capital=True) == word.capitalize()


def test_strength_capital_matches_dashboard_headline() -> None:
    for r in (0.6, 0.35, 0.15, 0.05):
        start = link_words(r, r - 0.01, r + 0.01, 0.001, 1).split(" link:")[0]
        assert w.strength(r, capital=True) == start


def test_lag_phrase_strings() -> None:
    assert w.lag_phrase(0) == "in the same month"
    assert w.lag_phrase(1) == "1 month later"
    assert w.lag_phrase(2) == "2 months later"
    assert w.lag_phrase(-1) == "1 month earlier"
    assert w.lag_phrase(-2, step="quarter") == "2 quarters earlier"
    c = "Customer retention"
    assert w.lag_phrase(2, y=c, style="chain") == "with customer retention 2 months later"
    assert w.lag_phrase(1, y=c, style="chain") == "with customer retention 1 month later"
    assert (
        w.lag_phrase(-2, y=c, style="chain") == "when customer retention comes first, by 2 months"
    )
    assert w.lag_phrase(0, y=c, style="chain") == "in the same month"
    t = {"x": "employee retention", "y": "customer retention", "style": "terse"}
    assert w.lag_phrase(2, **t) == "customer retention 2 month(s) later"  # type: ignore[arg-type]
    assert w.lag_phrase(-1, **t) == "employee retention 1 month(s) later"  # type: ignore[arg-type]
    assert w.lag_phrase(0, **t) == "same month"  # type: ignore[arg-type]


def test_lag_phrase_inside_dashboard_sentence() -> None:
    for k in (-2, 0, 1, 3):
        text = link_words(0.03, -0.05, 0.11, 0.6, k)
        assert f"customers {w.lag_phrase(k)} (" in text


def test_lead_direction_period_words() -> None:
    assert [w.lead_word(k) for k in (3, -1, 0)] == [
        "employees lead",
        "customers lead",
        "same period",
    ]
    assert (w.direction_word(0.1), w.direction_word(-0.1), w.direction_word(0.0)) == (
        "higher",
        "lower",
        "lower",
    )
    assert [w.period_word(f) for f in ("M", "Q", "Y", "quarter", "period", "?")] == [
        "month",
        "quarter",
        "year",
        "quarter",
        "period",
        "period",
    ]
    assert (w.plural(1, "month"), w.plural(-1, "month"), w.plural(3, "year")) == (
        "1 month",
        "-1 month",
        "3 years",
    )


def test_interval_and_r_interval() -> None:
    assert w.interval(0.2, 0.43) == "95% interval 0.20 to 0.43"
    assert w.interval(0.2, 0.43, word="CI") == "95% CI 0.20 to 0.43"
    assert w.interval(0.2, 0.43, level=0.9, digits=3) == "90% interval 0.200 to 0.430"
    assert w.r_interval(0.32, 0.2, 0.43) == "r = 0.32, 95% interval 0.20 to 0.43"
    assert w.r_interval(0.32, 0.2, 0.43) in link_words(0.32, 0.2, 0.43, 0.001, 1)
    assert w.r_interval(0.32, 0.2, 0.43, word="CI") == "r = 0.32, 95% CI 0.20 to 0.43"
    assert w.r_interval(0.32, math.nan, 0.43) == "r = 0.32"
    assert w.r_interval(math.nan, 0.2, 0.43) == "r not computable"
    assert (w.p_phrase(0.0009), w.p_phrase(0.001), w.p_phrase(0.04567)) == (
        "p < 0.001",
        "p = 0.001",
        "p = 0.046",
    )


def test_r_interval_and_p_as_the_statistics_text_writes_them() -> None:
    # linkage.stats.summary's own copies are gone (it uses these): the strings they wrote
    assert w.r_interval(0.3, 0.1, 0.5, level=0.9, word="CI") == "r = 0.30, 90% CI 0.10 to 0.50"
    assert w.r_interval(-0.25, math.nan, math.nan, level=0.9, word="CI") == "r = -0.25"
    assert [w.p_phrase(p) for p in (0.0001, 0.02)] == ["p < 0.001", "p = 0.020"]
