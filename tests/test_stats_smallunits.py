"""Empirical-Bayes shrinkage (beta-binomial, method of moments) and size warnings."""

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.stats import beta_binomial_prior, shrink_rates, size_warnings


def test_prior_hand_worked():
    # k = (2, 85, 95, 170), n = (4, 100, 100, 200): p = 352/404; S = sum n (k/n - p)^2;
    # rho = (S / (p (1-p)) - 3) / (404 - sum n^2 / 404 - 3); alpha + beta = 1/rho - 1
    k, n = np.array([2, 85, 95, 170.0]), np.array([4, 100, 100, 200.0])
    p = k.sum() / n.sum()
    S = (n * (k / n - p) ** 2).sum()
    rho = (S / (p * (1 - p)) - 3) / (n.sum() - (n**2).sum() / n.sum() - 3)
    a, b = beta_binomial_prior(k, n)
    assert a + b == pytest.approx(1 / rho - 1)
    assert a / (a + b) == pytest.approx(p)


def test_prior_recovers_planted_beta():
    rng = np.random.default_rng(1)
    p = rng.beta(30.0, 10.0, size=20000)  # planted mean 0.75, alpha + beta = 40
    n = rng.integers(10, 200, size=20000)
    a, b = beta_binomial_prior(rng.binomial(n, p), n)
    assert a / (a + b) == pytest.approx(0.75, abs=0.005)
    assert a + b == pytest.approx(40, rel=0.1)


def test_no_extra_variation_means_complete_pooling():
    n = np.full(50, 100)
    k = np.full(50, 80)  # identical rates: less spread than binomial noise
    assert beta_binomial_prior(k, n) == (np.inf, np.inf)
    out = shrink_rates(pd.DataFrame({"k": k, "n": n}), numerator="k", denominator="n")
    assert np.allclose(out.rate_shrunk, 0.8) and np.allclose(out.shrinkage, 1.0)


def test_shrinkage_beats_raw_rates_on_small_units():
    rng = np.random.default_rng(2)
    p = rng.beta(18.0, 2.0, size=400)
    n = rng.integers(3, 40, size=400)
    df = pd.DataFrame({"unit_id": np.arange(400).astype(str), "retained": rng.binomial(n, p), "start": n})
    out = shrink_rates(df, numerator="retained", denominator="start")
    assert list(out.columns[:3]) == ["unit_id", "retained", "start"]
    mse_raw = np.mean((out.rate_raw - p) ** 2)
    mse_shrunk = np.mean((out.rate_shrunk - p) ** 2)
    assert mse_shrunk < 0.8 * mse_raw
    # small units move further towards the overall rate
    small, big = out.start < 8, out.start > 30
    assert out.shrinkage[small].mean() > out.shrinkage[big].mean()


def test_zero_denominator_gives_nan_raw_and_prior_mean():
    df = pd.DataFrame({"k": [0, 8, 9, 50, 3], "n": [0, 10, 10, 60, 10]})
    out = shrink_rates(df, numerator="k", denominator="n")
    assert np.isnan(out.rate_raw[0])
    assert out.rate_shrunk[0] == pytest.approx(out.prior_alpha[0] / (out.prior_alpha[0] + out.prior_beta[0]))


def test_by_group_gets_its_own_prior():
    df = pd.DataFrame({"k": [9, 8, 9, 2, 3, 1], "n": [10] * 6, "g": list("aaabbb")})
    out = shrink_rates(df, numerator="k", denominator="n", by="g")
    assert out.rate_shrunk[:3].min() > 0.7 and out.rate_shrunk[3:].max() < 0.4


def test_bad_counts():
    with pytest.raises(InputError):
        shrink_rates(pd.DataFrame({"k": [5, 1], "n": [4, 3]}), numerator="k", denominator="n")
    with pytest.raises(InputError):
        shrink_rates(pd.DataFrame({"k": [1]}), numerator="k", denominator="n")


def test_size_warnings():
    assert size_warnings(n_units=50, periods_per_unit=24, median_denominators={"customer_start": 300}) == []
    w = size_warnings(n_units=5, periods_per_unit=3, median_denominators={"employee_start": 8})
    assert len(w) == 3 and "5 units" in w[0] and "employee_start" in w[2]
