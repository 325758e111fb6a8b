"""The Imai-Keele-Yamamoto sensitivity analysis of a linear mediation, against R's ``medsens``.

Published example: the JOBS II data of the R package ``mediation`` (file ``data/jobs.RData``; 899
unemployed workers, Vinokur & Schul 1997), analysed in Imai, Keele, Tingley & Yamamoto (2010),
"Causal Mediation Analysis Using R", in H. D. Vinod (ed.), *Advances in Social Science Research
Using R*, Springer, section "Sensitivity Analysis" (reprinted as the package's vignette
"mediation-old"):

    model.m <- lm(job_seek ~ treat + depress1 + econ_hard + sex + age + occp + marital
                  + nonwhite + educ + income, data = jobs)
    model.y <- lm(depress2 ~ treat + job_seek + depress1 + econ_hard + sex + age + occp
                  + marital + nonwhite + educ + income, data = jobs)
    med.cont <- mediate(model.m, model.y, sims = 1000, treat = "treat", mediator = "job_seek")
    sens.cont <- medsens(med.cont, rho.by = 0.05)
    summary(sens.cont)

The package is GPL-licensed and its data are "provided only for illustrative purposes", so they
are not part of this repository: set ``LINKAGE_JOBS_RDATA`` to a copy of ``data/jobs.RData`` from
the package's sources (read with ``pyreadr``) to run the published example; it is skipped
otherwise. The other tests always run: R's formulas at rho = 0 against statsmodels' OLS, a
simulated world with a planted confounder, and the panel version against the same models with
unit and period indicators.
"""

import os
import pathlib

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from linkage.errors import InputError
from linkage.stats.service_chain import (
    linear_mediation_sensitivity,
    mediation,
    mediation_sensitivity,
)

JOBS_ENV = "LINKAGE_JOBS_RDATA"
JOBS_COVARIATES = [
    "depress1",
    "econ_hard",
    "sex",
    "age",
    "occp",
    "marital",
    "nonwhite",
    "educ",
    "income",
]


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    path = os.environ.get(JOBS_ENV)
    if not path:
        pytest.skip(f"{JOBS_ENV} is not set (path to jobs.RData of the R package mediation)")
    if not pathlib.Path(path).is_file():
        pytest.fail(f"{JOBS_ENV}={path} is not a file")
    pyreadr = pytest.importorskip("pyreadr")
    return pyreadr.read_r(path)["jobs"]


def test_jobs_ii_sensitivity_as_published(jobs):
    assert jobs.shape == (899, 17)  # "A data matrix with 899 rows and 17 columns" (?jobs)
    sens = linear_mediation_sensitivity(
        jobs, x="treat", m="job_seek", y="depress2", covariates=JOBS_COVARIATES
    )
    t = sens.table.set_index("rho")
    assert list(t.index) == [round(r, 2) for r in np.arange(-0.9, 0.9001, 0.05)]  # rho.by 0.05
    # summary(sens.cont), Imai, Keele, Tingley & Yamamoto (2010), "Sensitivity Analysis":
    #        Rho Med. Eff. 95% CI Lower 95% CI Upper R^2_M*R^2_Y* R^2_M~R^2_Y~
    published = {
        -0.30: (0.0064, -0.0025, 0.0153, 0.0900, 0.0588),
        -0.25: (0.0028, -0.0026, 0.0082, 0.0625, 0.0408),
        -0.20: (-0.0007, -0.0049, 0.0036, 0.0400, 0.0261),
        -0.15: (-0.0040, -0.0105, 0.0025, 0.0225, 0.0147),
    }
    for rho, row in published.items():
        cols = ["acme", "ci_low", "ci_high", "r2_star_prod", "r2_tilde_prod"]
        got = tuple(round(float(t.loc[rho, c]), 4) for c in cols)
        assert got == row, rho
    # at rho = 0 the indirect effect of mediate(): "Mediation Effect: -0.01375" (summary(out.2),
    # same source; a mean of 1000 quasi-Bayesian draws, Monte Carlo error about 0.0003)
    assert t.loc[0.0, "acme"] == pytest.approx(-0.01375, abs=1e-3)
    # "Rho at which ACME = 0: -0.2", "R^2_M*R^2_Y* at which ACME = 0: 0.04", "R^2_M~R^2_Y~ at
    # which ACME = 0: 0.0261": R prints the grid point nearest the root; ours is exact, inside
    # the interval (-0.25, -0.20) where the published ACME changes sign (the text's "-0.19" is not)
    assert -0.25 < sens.rho_at_zero < -0.20
    nearest = float(t["acme"].abs().idxmin())
    assert nearest == -0.2
    assert round(nearest**2, 4) == 0.04
    shrink = (1 - sens.r2_m) * (1 - sens.r2_y)
    assert round(nearest**2 * shrink, 4) == 0.0261
    assert sens.r2_tilde_at_zero == pytest.approx(sens.rho_at_zero**2 * shrink)


def _world(seed: int, n: int, rho_u: float) -> pd.DataFrame:
    """t randomised; a confounder u of m and y makes their errors correlate at rho_u (each error
    has variance 1); planted a = 0.6, b = 0.5, direct 0.2; a categorical and a numeric covariate."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    region = rng.choice(["north", "south", "west"], n)
    shift = pd.Series(region).map({"north": 0.0, "south": 0.5, "west": -0.3}).to_numpy()
    age = rng.normal(40, 10, n)
    u = rng.normal(size=n)
    rest = np.sqrt(1 - rho_u)
    m = 0.6 * t + shift + 0.02 * age + np.sqrt(rho_u) * u + rest * rng.normal(size=n)
    y = 0.5 * m + 0.2 * t - shift + 0.01 * age + np.sqrt(rho_u) * u + rest * rng.normal(size=n)
    return pd.DataFrame({"t": t, "m": m, "y": y, "age": age, "region": region})


def test_at_rho_zero_it_is_r_formula_on_the_ols_fits():
    # medsens at rho = 0: the two lm fits; var(ACME) = b^2 V(a) + a^2 V(b) with the error
    # variances e'e / (n - 1) (R's omega), i.e. OLS variances times (n - k) / (n - 1)
    df = _world(0, 300, 0.3)
    fm = smf.ols("m ~ t + age + C(region)", df).fit()
    fy = smf.ols("y ~ t + m + age + C(region)", df).fit()
    a, b = fm.params["t"], fy.params["m"]
    n = len(df)
    va = fm.bse["t"] ** 2 * fm.df_resid / (n - 1)
    vb = fy.bse["m"] ** 2 * fy.df_resid / (n - 1)
    se = np.sqrt(b**2 * va + a**2 * vb)
    sens = linear_mediation_sensitivity(
        df, x="t", m="m", y="y", covariates=["age", "region"], rhos=[0.0], ci=0.9
    )
    row = sens.table.iloc[0]
    assert row["acme"] == pytest.approx(a * b, rel=1e-10)
    assert row["ci_low"] == pytest.approx(a * b - 1.6448536269514722 * se, rel=1e-9)
    assert row["ci_high"] == pytest.approx(a * b + 1.6448536269514722 * se, rel=1e-9)
    # R^2 as summary(lm)$r.squared; R~^2 = rho^2 (1 - R^2_M)(1 - R^2_Y)
    assert sens.r2_m == pytest.approx(fm.rsquared, rel=1e-10)
    assert sens.r2_y == pytest.approx(fy.rsquared, rel=1e-10)
    assert sens.intervals.startswith("delta method")


def test_a_planted_confounder_is_recovered_at_its_rho():
    rho_u = 0.3  # the errors' correlation the confounder creates
    df = _world(1, 40_000, rho_u)
    sens = linear_mediation_sensitivity(
        df, x="t", m="m", y="y", covariates=["age", "region"], rhos=[0.0, rho_u]
    )
    naive, fixed = sens.table.itertuples(index=False)
    # naive: a (b + cov(e_m, e_y) / var(e_m)) = 0.6 * (0.5 + 0.3); at rho_u: a * b = 0.3
    assert naive.acme == pytest.approx(0.48, abs=0.02)
    assert fixed.acme == pytest.approx(0.3, abs=0.02)
    assert fixed.ci_low < 0.3 < fixed.ci_high
    assert not naive.ci_low < 0.3 < naive.ci_high
    # the root: the ACME is exactly 0 there (closed form), and it lies beyond the planted rho
    at_root = linear_mediation_sensitivity(
        df, x="t", m="m", y="y", covariates=["age", "region"], rhos=[sens.rho_at_zero]
    )
    assert abs(at_root.table["acme"].iloc[0]) < 1e-12
    assert sens.rho_at_zero > rho_u


def _panel(seed: int, U: int = 25, T: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lvl = rng.normal(size=(U, 1))
    season = rng.normal(size=(1, T))
    x = rng.normal(size=(U, T)) + lvl
    m = 0.5 * x + lvl + season + rng.normal(size=(U, T))
    y = 0.4 * m + 0.1 * x - lvl + season + rng.normal(size=(U, T))
    df = pd.DataFrame(
        {
            "unit_id": np.repeat(np.arange(U), T).astype(str),
            "period": np.tile(np.arange(T), U),
            "employee_retention": x.ravel(),
            "customer_retention": m.ravel(),
            "revenue_retention": y.ravel(),
        }
    )
    return df.drop(index=rng.choice(len(df), 20, replace=False))  # unbalanced


@pytest.mark.parametrize("period_adjusted", [True, False])
def test_the_panel_version_is_medsens_with_unit_and_period_indicators(period_adjusted):
    # the within-unit sensitivity equals R's medsens on lm(m ~ x + factor(unit) [+
    # factor(period)]) and lm(y ~ x + m + ...): same ACME(rho), root and R^2 (the differences
    # between units count as explained, as summary(lm)$r.squared counts them)
    df = _panel(3)
    rhos = [-0.4, 0.0, 0.25]
    sens = mediation_sensitivity(df, rhos=rhos, n_boot=0, period_adjusted=period_adjusted)
    both = df.assign(period=df["period"].astype(str))
    covs = ["unit_id", "period"] if period_adjusted else ["unit_id"]
    ref = linear_mediation_sensitivity(
        both,
        x="employee_retention",
        m="customer_retention",
        y="revenue_retention",
        covariates=covs,
        rhos=rhos,
    )
    np.testing.assert_allclose(sens.table["acme"], ref.table["acme"], rtol=1e-8)
    assert sens.rho_at_zero == pytest.approx(ref.rho_at_zero, rel=1e-8)
    rhs = " + C(unit_id)" + (" + C(period)" if period_adjusted else "")
    fm = smf.ols("customer_retention ~ employee_retention" + rhs, df).fit()
    fy = smf.ols("revenue_retention ~ employee_retention + customer_retention" + rhs, df).fit()
    assert sens.r2_m == pytest.approx(fm.rsquared, rel=1e-8)
    assert sens.r2_y == pytest.approx(fy.rsquared, rel=1e-8)
    np.testing.assert_allclose(
        sens.table["r2_tilde_prod"], np.square(rhos) * (1 - fm.rsquared) * (1 - fy.rsquared)
    )
    # at rho = 0 it is the mediation's own indirect effect
    med = mediation(df, n_boot=0, period_adjusted=period_adjusted).set_index("path")
    assert sens.table["acme"].iloc[1] == pytest.approx(med.loc["indirect", "coef"], rel=1e-9)
    assert sens.intervals.startswith("unit bootstrap")


def test_bad_input_names_the_row_and_column():
    df = _world(2, 50, 0.2)
    kw = {"x": "t", "m": "m", "y": "y"}
    with pytest.raises(InputError, match="row 4.*'age'"):
        linear_mediation_sensitivity(
            df.assign(age=df["age"].mask(df.index == 3)), covariates=["age"], **kw
        )
    with pytest.raises(InputError, match="must hold numbers"):
        linear_mediation_sensitivity(df.assign(t=df["t"].astype(str)), **kw)
    with pytest.raises(InputError, match="constant once the covariates"):
        linear_mediation_sensitivity(df.assign(age=df["t"] * 2.0), covariates=["age"], **kw)
    with pytest.raises(InputError, match="different columns"):
        linear_mediation_sensitivity(df, covariates=["m"], **kw)
    with pytest.raises(InputError, match="rhos"):
        linear_mediation_sensitivity(df, rhos=[-1.0], **kw)
    with pytest.raises(InputError, match="'nope'"):
        linear_mediation_sensitivity(df, covariates=["nope"], **kw)
