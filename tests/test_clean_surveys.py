"""linkage.clean: the chain's extracts (surveys, revenue, segments), every row accounted for.

Reference: the cleaning contract of linkage.clean (rows read = kept + set aside, one reason per
row, the first that applies) on hand-made extracts with one known defect per row, and the bundled
sample's clean chain files (nothing set aside).
"""

import numpy as np
import pandas as pd
import pytest

from linkage.clean import (
    CHAIN_REASONS,
    clean_customer_survey,
    clean_employee_survey,
    clean_revenue,
    clean_segments,
)
from linkage.errors import InputError
from linkage.io.schemas import check_typed

ITEMS = ["engagement", "pay"]


def _reasons(result):
    return list(zip(result.rejects["row"].astype(int), result.rejects["reason"].astype(str),
                    result.rejects["column"].astype(str), strict=True))


def _accounts(result, n_rows):
    assert result.n_read == n_rows == len(result.data) + len(result.rejects)
    assert set(result.report["reason"]) - {"kept"} <= set(CHAIN_REASONS)


def test_employee_survey_every_reason_by_hand():
    raw = pd.DataFrame({
        "respondent_id": ["r1", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r1", "r1", "r10"],
        "unit_id": ["7", "7", "", "7", "7", "7", "7", "7", "7", "99", "7", "7", " 8 "],
        "survey_date": ["2024-03-04", "2024-03-04", "2024-03-04", "", "soon", "2024-02-30", "2024-03-04",
                        "2024-03-04", "2024-03-04", "2024-03-04", "2024-03-20", "2024-04-02", "2030-01-01"],
        "engagement": ["4", "4", "3", "3", "3", "3", "lots", "6", "", "3", "2", "5", "3"],
        "pay": ["2", "2", "3", "3", "3", "3", "3", "3", "", "3", "2", "3.5", "3"],
    })
    result = clean_employee_survey(raw, items=ITEMS, units=pd.DataFrame({"unit_id": ["7", "8"]}),
                                   as_of="2024-12-31")
    assert _reasons(result) == [
        (2, "duplicate_row", ""),
        (3, "missing_identifier", "unit_id"),
        (4, "missing_date", "survey_date"),
        (5, "unparseable_date", "survey_date"),
        (6, "impossible_date", "survey_date"),
        (7, "unparseable_number", "engagement"),
        (8, "out_of_scale", "engagement"),  # 6 on a 1-5 item
        (9, "empty_response", ""),
        (10, "unknown_unit", "unit_id"),
        (11, "duplicate_response", "respondent_id"),  # r1 again at unit 7 in March
        (12, "out_of_scale", "pay"),  # 3.5: answers are whole numbers
        (13, "future_date", "survey_date"),
    ]
    _accounts(result, len(raw))
    assert result.data["respondent_id"].tolist() == ["r1"]
    assert list(result.data.columns) == ["respondent_id", "unit_id", "survey_date", "engagement", "pay"]
    assert result.data["engagement"].dtype == np.float64
    assert str(result.data["survey_date"].dtype).startswith("datetime64")
    report = result.report.set_index("reason")["n"]
    assert report["kept"] == 1 and report["out_of_scale"] == 2 and report["unknown_unit"] == 1


def test_employee_survey_skipped_questions_and_other_scales(tmp_path):
    raw = pd.DataFrame({"Store": ["007", "007"], "Date": ["03/04/2024", "03/05/2024"],
                        "engagement": ["7", ""], "pay": ["", "1"], "Team": ["a", "b"]})
    path = tmp_path / "pulse.csv"
    raw.to_csv(path, index=False)
    result = clean_employee_survey(path, items=ITEMS, scale=(1, 7), mapping={"unit_id": "Store", "survey_date": "Date"},
                                   date_format="%m/%d/%Y", as_of="2024-12-31")
    assert result.rejects.empty and result.report["file"].iloc[0] == "pulse.csv"
    assert result.data["unit_id"].tolist() == ["007", "007"]  # "007" stays "007"
    assert np.isnan(result.data["pay"].iloc[0]) and result.data["engagement"].iloc[0] == 7.0
    assert result.data["Team"].tolist() == ["a", "b"]
    assert result.data["survey_date"].tolist() == list(pd.to_datetime(["2024-03-04", "2024-03-05"]))


def test_customer_survey_by_hand():
    raw = pd.DataFrame({
        "response_id": ["s1", "s2", "s3", "s4", "s1", "s5"],
        "unit_id": ["7", "7", "7", "7", "7", "7"],
        "response_date": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-20", "2024-02-01"],
        "csat": ["5", "0", "", "4", "3", "3"],
        "nps": ["10", "9", "", "11", "8", "-1"],
    })
    result = clean_customer_survey(raw, as_of="2024-12-31")
    assert _reasons(result) == [
        (2, "out_of_scale", "csat"),  # 0 on a 1-5 CSAT
        (3, "empty_response", ""),
        (4, "out_of_scale", "nps"),  # 11
        (5, "duplicate_response", "response_id"),
        (6, "out_of_scale", "nps"),  # -1
    ]
    _accounts(result, len(raw))
    only_nps = clean_customer_survey(raw.drop(columns="csat"), csat=False, as_of="2024-12-31")
    # kept: s1 (10) and s2 (9); s3 has no answer, s4 11, s1 again in January, s5 -1
    assert "csat" not in only_nps.data.columns and only_nps.data["response_id"].tolist() == ["s1", "s2"]
    with pytest.raises(InputError, match="at least one"):
        clean_customer_survey(raw, csat=False, nps=False)


def test_revenue_by_hand():
    raw = pd.DataFrame({
        "customer_id": ["c1", "c1", "", "c2", "c2", "c3", "c3"],
        "unit_id": ["7", "7", "7", "7", "7", "7", "7"],
        "period": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02", "2024-01-31", "2024-01-05", "2024-01-06"],
        "revenue": ["10.5", "10.5", "3", "4", "$5", "", "-2.25"],
    })
    result = clean_revenue(raw, as_of="2024-12-31")
    assert _reasons(result) == [
        (2, "duplicate_row", ""),
        (3, "missing_identifier", "customer_id"),
        (5, "unparseable_number", "revenue"),
        (6, "missing_number", "revenue"),
    ]
    _accounts(result, len(raw))
    assert result.data["revenue"].tolist() == [10.5, 4.0, -2.25]  # a credit stays
    assert result.data["period"].tolist()[1] == pd.Timestamp("2024-02-01")
    check_typed(result.data, table="revenue")


def test_segments_by_hand():
    raw = pd.DataFrame({"customer_id": ["c1", "c1", "c2", "", "c3", "c2"],
                        "segment": ["retail", "retail", "b2b", "b2b", None, "retail"]})
    result = clean_segments(raw)
    assert _reasons(result) == [(2, "duplicate_row", ""), (4, "missing_identifier", "customer_id"),
                                (5, "missing_segment", "segment"), (6, "duplicate_customer", "customer_id")]
    _accounts(result, len(raw))
    assert result.data.to_dict("list") == {"customer_id": ["c1", "c2"], "segment": ["retail", "b2b"]}
    with pytest.raises(InputError, match="field_uniqueness"):
        check_typed(pd.DataFrame({"customer_id": ["c1", "c1"], "segment": ["a", "b"]}), table="segments")


def test_the_sample_chain_files_are_clean(sample_dir):
    from linkage.io.datasets import load_sample_chain

    chain = load_sample_chain()
    items = [c for c in chain.employee_survey.columns if c not in ("respondent_id", "unit_id", "survey_date")]
    es = clean_employee_survey(sample_dir / "employee_survey.csv", items=items, as_of="2026-01-01")
    assert es.rejects.empty and len(es.data) == len(chain.employee_survey)
    np.testing.assert_array_equal(es.data[items].to_numpy(), chain.employee_survey[items].to_numpy())
    cs = clean_customer_survey(sample_dir / "customer_survey.csv", as_of="2026-01-01")
    assert cs.rejects.empty and (cs.data["nps"].to_numpy() == chain.customer_survey["nps"].to_numpy()).all()
    seg = clean_segments(sample_dir / "customer_segments.csv")
    assert seg.rejects.empty and seg.data["segment"].tolist() == chain.segments["segment"].tolist()


def test_cleaned_simulated_revenue_matches_the_world():
    from linkage.panel import revenue_panel
    from linkage.simulate import ChainSpec, WorldSpec, simulate

    world = simulate(WorldSpec(n_units=4, months=6, seed=9), chain=ChainSpec())
    raw = world.revenue.astype({"period": "str", "revenue": "str"})
    result = clean_revenue(raw, as_of=world.truth["facts"]["extract_date"])
    assert result.rejects.empty
    pd.testing.assert_frame_equal(revenue_panel(result.data), revenue_panel(world.revenue))


@pytest.mark.parametrize(("call", "match"), [
    (lambda raw: clean_employee_survey(raw, items=[]), "items"),
    (lambda raw: clean_employee_survey(raw, items="engagement"), "items"),
    (lambda raw: clean_employee_survey(raw, items=["engagement"], scale=(5, 1)), "scale"),
    (lambda raw: clean_employee_survey(raw, items=["morale"]), "morale"),
    (lambda raw: clean_employee_survey(raw, items=["engagement"], mapping={"unit_id": "Shop"}), "Shop"),
    (lambda raw: clean_employee_survey(raw, items=["engagement"], mapping=["unit_id"]), "mapping"),
    (lambda raw: clean_revenue(raw), "customer_id"),
    (lambda raw: clean_segments(42), "DataFrame"),
])
def test_bad_calls_are_input_errors(call, match):
    raw = pd.DataFrame({"unit_id": ["7"], "survey_date": ["2024-01-01"], "engagement": ["3"]})
    with pytest.raises(InputError, match=match):
        call(raw)
