"""Every sentence of analyse()'s text agrees with its own numbers, on 100 random worlds.

The worlds vary the number of units (8-60), unit sizes (equal or 4-80 staff), persistence of the
monthly rates (0-0.9), the planted effect (none, weak, strong) and its lag (0-2). For each world
the text's between, within and lag sentences are read back and checked against the tables: the
significance words against the p-value, the interval's sign against the words, the printed
numbers against the table, the best lag against the lag table and the rule that chose it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from linkage.stats import analyse

NUM = r"(-?\d+\.\d+)"
R_CI = re.compile(rf"r = {NUM}, 95% CI {NUM} to {NUM}, p (?:=|<) {NUM}")


def _world(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    G = int(rng.integers(8, 61))
    T = int(rng.integers(14, 31))
    rho = float(rng.choice([0.0, 0.5, 0.9]))
    beta = float(rng.choice([0.0, 0.4, 0.8]))
    lag = int(rng.integers(0, 3))
    staff = np.full(G, 20) if rng.random() < 0.5 else rng.integers(4, 81, size=G)

    def ar(shape: tuple[int, int]) -> np.ndarray:
        e = rng.standard_normal(shape)
        out = np.empty(shape)
        out[:, 0] = e[:, 0]
        for t in range(1, shape[1]):
            out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
        return out

    a, b = ar((G, T + 2)), ar((G, T + 2))
    c = beta * np.roll(a, lag, axis=1) + np.sqrt(1 - beta**2) * b
    a, c = a[:, 2:], c[:, 2:]
    pe = 1 / (1 + np.exp(-(3.5 + 0.5 * a)))
    pc = 1 / (1 + np.exp(-(2.9 + 0.5 * c)))
    x = rng.binomial(staff[:, None], pe) / staff[:, None]
    y = rng.binomial(8 * staff[:, None], pc) / (8 * staff[:, None])
    df = pd.DataFrame(
        {
            "unit_id": np.repeat([f"u{i:02d}" for i in range(G)], T),
            "period": np.tile(pd.date_range("2021-01-01", periods=T, freq="MS"), G),
            "employee_retention": x.ravel(),
            "customer_retention": y.ravel(),
        }
    )
    return df, {"G": G, "rho": rho, "beta": beta, "lag": lag}


def _paragraph(text: str, start: str) -> str | None:
    found = [p for p in text.split("\n\n") if p.startswith(start)]
    assert len(found) <= 1
    return found[0] if found else None


def _check_level(par: str, row: pd.Series, alpha: float) -> None:
    """The words of one level's sentence against its row of the correlations table."""
    m = R_CI.search(par)
    assert m, par
    r, lo, hi = (float(v) for v in m.groups()[:3])
    assert (r, lo, hi) == pytest.approx((row.r, row.ci_low, row.ci_high), abs=0.0051)
    sig = row.p_val < alpha
    excludes = row.ci_low > 0 or row.ci_high < 0
    if "no clear link" in par:
        assert not sig and not excludes, par
        assert lo <= 0.005 and hi >= -0.005, par  # the printed interval includes 0 too
    elif "borderline" in par:
        assert sig != excludes, par
    else:
        assert sig and excludes, par
        word = "higher" if row.r > 0 else "lower"
        assert f"{word} average" in par or f"with {word}" in par, par


def test_no_sentence_contradicts_its_numbers_on_100_random_worlds() -> None:
    rng = np.random.default_rng(2026)
    alpha = 0.05
    seen = {"link": 0, "none": 0, "best": 0, "no_best": 0}
    for _ in range(100):
        df, w = _world(rng)
        res = analyse(df, max_lag=3, n_boot=199, seed=int(rng.integers(1000)))
        text = res.text
        corr = res.correlations.set_index("method")
        between = _paragraph(text, f"Across {w['G']} units")
        assert between is not None
        _check_level(between, corr.loc["between"], alpha)
        within = _paragraph(text, "Within a unit over time")
        assert within is not None
        _check_level(within, corr.loc["rm_corr"], alpha)
        seen["link" if "no clear link" not in within else "none"] += 1
        # the within block is the lag-0 row of the plain profile: one procedure
        lag0 = res.lags.set_index("lag").loc[0]
        assert corr.loc["rm_corr", "p_val"] == lag0.p_val
        assert corr.loc["rm_corr", "p_method"] == lag0.p_method == lag0.ci_method
        # the best lag against the lag table and the rule
        prof = res.lags_period_adjusted.set_index("lag")
        sig = prof[prof.p_adj < alpha]
        lag_par = _paragraph(text, "After removing trends and seasonality")
        assert lag_par is not None
        if res.best_lag is None:
            seen["no_best"] += 1
            assert sig.empty
            assert "no lag from -3 to 3 shows a within-unit link" in lag_par
            assert res.effect.sentence[0].startswith("No lag stands out")
        else:
            seen["best"] += 1
            assert res.best_lag in sig.index
            assert abs(prof.loc[res.best_lag, "r"]) == sig.r.abs().max()
            row = prof.loc[res.best_lag]
            m = re.search(rf"strongest at lag (-?\d+) .*r = {NUM}, 95% simultaneous band {NUM} to {NUM}", lag_par)
            assert m, lag_par
            assert int(m.group(1)) == res.best_lag
            assert float(m.group(2)) == pytest.approx(row.r, abs=0.0051)
            assert (float(m.group(3)), float(m.group(4))) == pytest.approx((row.band_low, row.band_high), abs=0.0051)
            assert row.band_low > 0 or row.band_high < 0  # the band agrees with the adjusted p
            assert "overstates" in lag_par
        # the effect's interval is the slope interval of the same procedure, at the effect's lag
        eff = res.effect.iloc[0]
        assert eff.ci_low <= eff.slope <= eff.ci_high
    # the worlds exercised both sides of every rule
    assert min(seen.values()) >= 10, seen
