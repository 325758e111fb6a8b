"""The section "The whole chain" computes its drivers as ``linkage drivers`` does.

The dashboard's key drivers (``linkage.app._service_chain_data.chain_results``) on the sample equal
``linkage drivers PANEL --respondents data/sample/employee_survey.csv --json`` on the panel the
section computes from (the sample panel joined with the sample's surveys and revenue, written out:
the sample's ``panel.csv`` itself has no survey columns): the same reliability of unit means and the
same corrected weights.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from linkage.app import load_panel  # noqa: E402
from linkage.app._service_chain_data import chain_reliability, chain_results  # noqa: E402
from linkage.cli import main  # noqa: E402
from linkage.pipeline import ChainInputs, chain_inputs  # noqa: E402

N_BOOT = 40


@pytest.fixture(scope="module")
def inputs() -> ChainInputs:
    return chain_inputs(load_panel(), sample=True)


@pytest.fixture(scope="module")
def cli_doc(
    inputs: ChainInputs, sample_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    path = tmp_path_factory.mktemp("joined") / "panel.csv"
    inputs.panel.to_csv(path, index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "drivers",
                str(path),
                "--respondents",
                str(sample_dir / "employee_survey.csv"),
                "--boot",
                str(N_BOOT),
                "--json",
            ]
        )
    assert code == 0
    return json.loads(out.getvalue())


def test_reliability_equals_linkage_drivers(inputs: ChainInputs, cli_doc: dict) -> None:
    ours = chain_reliability(inputs, inputs.items).set_index("item")
    theirs = pd.DataFrame(cli_doc["reliability"]).set_index("item")
    assert list(ours.index) == list(theirs.index)
    for col, cli_col in (("icc1", "icc1"), ("k", "k_means"), ("reliability", "reliability")):
        np.testing.assert_allclose(
            ours[col].to_numpy(dtype=float), theirs[cli_col].to_numpy(dtype=float), rtol=1e-12
        )


def test_corrected_drivers_equal_linkage_drivers(inputs: ChainInputs, cli_doc: dict) -> None:
    res = chain_results(inputs, n_boot=N_BOOT, seed=0)
    ours = res.drivers.set_index("item")
    theirs = pd.DataFrame(cli_doc["drivers"]).set_index("item")
    assert list(ours.index) == list(theirs.index)
    cols = ["rank", "weight", "share", "ci_low", "ci_high", "p_adj", "r", "r_corrected"]
    cols += ["reliability"]
    for col in cols:
        np.testing.assert_allclose(
            ours[col].to_numpy(dtype=float),
            pd.to_numeric(theirs[col]).to_numpy(dtype=float),
            rtol=1e-10,
            err_msg=col,
        )
    # the dashboard's reliability table is the one its drivers were corrected with
    rel = res.reliability.set_index("item")["reliability"]
    usable = rel[(rel > 0) & (rel <= 1)]
    np.testing.assert_allclose(ours.loc[usable.index, "reliability"], usable)
