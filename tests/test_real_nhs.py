"""The three correlations on a real unit x period panel: NHS trusts' staff engagement against SHMI.

The data (English NHS trusts x years 2012-2019, from the public repository ebmgt/NHS-wellbeing,
file "files/data (csv and rda)/data.NHS.2012_2019.csv") is AGPL-licensed, so it is not part of this
repository: set ``LINKAGE_NHS_PANEL`` to a copy of that CSV file to run this test. The reference
values were computed with pingouin 0.7 on the rows with both values present (1,073 trust-years,
144 trusts). It is a real case of the between-unit and within-unit levels disagreeing
(docs/domain.md, "Pitfalls").
"""

import os
import pathlib

import pandas as pd
import pytest

from linkage.stats import between_corr, pooled_corr, rm_corr

NHS_ENV = "LINKAGE_NHS_PANEL"


@pytest.fixture(scope="module")
def nhs() -> pd.DataFrame:
    path = os.environ.get(NHS_ENV)
    if not path:
        pytest.skip(f"{NHS_ENV} is not set (path to the NHS trusts CSV; see this file's docstring)")
    if not pathlib.Path(path).is_file():
        pytest.fail(f"{NHS_ENV}={path} is not a file")
    raw = pd.read_csv(path, na_values=["NA"])
    data = raw[["Code", "Year.Index", "Engagement.Index", "SHMI.Index"]].dropna()
    return data.rename(columns={"Code": "unit_id", "Year.Index": "period"})


def test_nhs_engagement_against_shmi_at_three_levels(nhs):
    kw = {"x": "Engagement.Index", "y": "SHMI.Index", "unit": "unit_id"}
    assert len(nhs) == 1073 and nhs["unit_id"].nunique() == 144
    pooled = pooled_corr(nhs, **kw).iloc[0]
    between = between_corr(nhs, **kw).iloc[0]
    within = rm_corr(nhs, **kw).iloc[0]
    assert pooled["r"] == pytest.approx(-0.1568, abs=5e-5)
    assert between["r"] == pytest.approx(-0.2530, abs=5e-5)
    assert between["p_val"] == pytest.approx(0.0022, abs=5e-5)
    assert within["r"] == pytest.approx(-0.0031, abs=5e-5)
    assert within["dof"] == 928
    assert within["p_val"] == pytest.approx(0.925, abs=5e-4)
