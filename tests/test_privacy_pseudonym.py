"""Pseudonymisation at ingestion: keyed hash of person identifiers (linkage.privacy.pseudonymise),
wired into prepare() and ``linkage panel --pseudonymise``."""

from __future__ import annotations

import hashlib
import hmac
import pathlib
import shutil

import numpy as np
import pandas as pd
import pytest

from linkage.cli import main
from linkage.errors import InputError
from linkage.io import load_mapping, read_table
from linkage.pipeline import prepare
from linkage.privacy import MIN_KEY_BYTES, PSEUDONYM_ENV, pseudonym_key, pseudonymise

DATA = pathlib.Path(__file__).resolve().parent / "data"
AS_OF = "2024-06-30"
KEY = "test key: 32 bytes of not-secret"
OTHER = "another key, also long enough!!"


def _reference(key: str, ident: str) -> str:
    # the standard library's HMAC (RFC 2104) as the reference of the hand-rolled inner/outer states
    return "p_" + hmac.new(key.encode(), ident.encode(), hashlib.sha256).hexdigest()[:16]


# -- the function ------------------------------------------------------------------------------------


def test_pseudonyms_are_the_standard_hmac_sha256_truncated():
    ids = ["E1", "007", "Zoë", "=HYPERLINK(\"x\")", "a" * 200]
    out = pseudonymise(pd.DataFrame({"employee_id": ids}), columns="employee_id", key=KEY)
    assert out["employee_id"].tolist() == [_reference(KEY, i) for i in ids]
    # a key longer than SHA-256's block is hashed first (RFC 2104), as hmac does
    long_key = "k" * 100
    got = pseudonymise(pd.DataFrame({"c": ["E1"]}), columns="c", key=long_key)["c"].iloc[0]
    assert got == _reference(long_key, "E1")


def test_deterministic_across_calls_and_tables():
    emp = pd.DataFrame({"employee_id": ["E1", "E2", "E1"], "unit_id": ["1", "1", "2"]})
    cus = pd.DataFrame({"customer_id": ["E2", "C9"], "unit_id": ["1", "1"]})
    a = pseudonymise(emp, columns="employee_id", key=KEY)
    b = pseudonymise(emp.iloc[::-1], columns="employee_id", key=KEY.encode())
    c = pseudonymise(cus, columns="customer_id", key=KEY)
    assert a["employee_id"].iloc[0] == a["employee_id"].iloc[2]
    assert a["employee_id"].tolist() == b["employee_id"].tolist()[::-1]
    assert c["customer_id"].iloc[0] == a["employee_id"].iloc[1]  # joins across files still work
    assert a["employee_id"].nunique() == 2


def test_different_keys_give_different_pseudonyms():
    ids = pd.DataFrame({"id": [f"E{i:04d}" for i in range(500)]})
    a = pseudonymise(ids, columns="id", key=KEY)["id"]
    b = pseudonymise(ids, columns="id", key=OTHER)["id"]
    assert not set(a) & set(b)
    assert a.str.fullmatch(r"p_[0-9a-f]{16}").all()


def test_trims_keeps_missing_leaves_other_columns_and_input_alone():
    t = pd.DataFrame({"employee_id": [" E1 ", "E1", None, "", "NULL", "  "],
                      "unit_id": ["007", "007", "008", "008", "009", "009"]})
    before = t.copy()
    out = pseudonymise(t, columns="employee_id", key=KEY)
    pd.testing.assert_frame_equal(t, before)
    assert out["employee_id"].iloc[0] == out["employee_id"].iloc[1] == _reference(KEY, "E1")
    assert out["employee_id"].iloc[2:].isna().all()  # missing stays missing (cleaning sets it aside)
    assert out["unit_id"].tolist() == t["unit_id"].tolist()
    assert pd.api.types.is_string_dtype(out["employee_id"].dtype)


def test_numbers_as_identifiers_hash_like_their_text():
    out = pseudonymise(pd.DataFrame({"id": [7.0, 12.0, np.nan]}), columns="id", key=KEY)
    assert out["id"].tolist()[:2] == [_reference(KEY, "7"), _reference(KEY, "12")]


def test_prefix_and_length():
    out = pseudonymise(pd.DataFrame({"id": ["E1"]}), columns="id", key=KEY, prefix="emp-", length=32)
    full = hmac.new(KEY.encode(), b"E1", hashlib.sha256).hexdigest()
    assert out["id"].iloc[0] == "emp-" + full[:32]
    for bad in (4, 65, 16.0, True):
        with pytest.raises(InputError, match="length"):
            pseudonymise(pd.DataFrame({"id": ["E1"]}), columns="id", key=KEY, length=bad)


def test_clash_raises(monkeypatch):
    import linkage.privacy as privacy

    monkeypatch.setattr(privacy, "_hmac_sha256_hex", lambda key, msgs: ["0" * 64 for _ in msgs])
    with pytest.raises(InputError, match="same pseudonym"):
        pseudonymise(pd.DataFrame({"id": ["E1", "E2"]}), columns="id", key=KEY, file="hr.csv")


def test_missing_column_names_it():
    with pytest.raises(InputError, match="hr.csv, column 'Emp': identifier column not found"):
        pseudonymise(pd.DataFrame({"id": ["E1"]}), columns=["Emp"], key=KEY, file="hr.csv")


# -- the key -----------------------------------------------------------------------------------------


def test_key_from_environment_file_and_argument(monkeypatch, tmp_path):
    monkeypatch.setenv(PSEUDONYM_ENV, f"  {KEY}\n")
    assert pseudonym_key() == KEY.encode()
    f = tmp_path / "key.txt"
    f.write_text(OTHER + "\n")
    assert pseudonym_key(key_file=f) == OTHER.encode()  # the file wins over the environment
    assert pseudonym_key("x" * MIN_KEY_BYTES) == b"x" * MIN_KEY_BYTES


@pytest.mark.parametrize("value, problem", [
    (None, "needs a secret key: set the environment variable LINKAGE_PSEUDONYM_KEY"),
    ("", "the key is empty"),
    ("   \n", "the key is empty"),
    ("short-secret", "the key is 12 bytes long; it needs at least 16"),
])
def test_no_empty_or_short_key_from_environment(monkeypatch, value, problem):
    if value is None:
        monkeypatch.delenv(PSEUDONYM_ENV, raising=False)
    else:
        monkeypatch.setenv(PSEUDONYM_ENV, value)
    with pytest.raises(InputError, match=problem) as info:
        pseudonym_key()
    if value and value.strip():
        assert value.strip() not in str(info.value)  # the key never appears in a message


@pytest.mark.parametrize("content, problem", [
    (None, "key.txt: key file not found"),
    (b"", "key.txt: the key is empty"),
    (b"0123456789\n", "key.txt: the key is 10 bytes long"),
])
def test_bad_key_files(tmp_path, content, problem):
    f = tmp_path / "key.txt"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(InputError, match=problem):
        pseudonym_key(key_file=f)


# -- prepare() ---------------------------------------------------------------------------------------

def _fixture(**kwargs):
    return prepare(employees=DATA / "hr_export.csv", customers=DATA / "crm_export.csv",
                   units=DATA / "stores.csv", mapping=DATA / "mapping.yaml", as_of=AS_OF, **kwargs)


def _ids(path: pathlib.Path, column: str) -> set[str]:
    raw = read_table(path)
    return set(raw[column].dropna().str.strip()) - {""}


def test_prepare_pseudonymised_has_no_raw_identifier_and_the_same_panel(monkeypatch):
    monkeypatch.setenv(PSEUDONYM_ENV, KEY)
    plain = _fixture()
    pseudo = _fixture(pseudonymise=True)
    pd.testing.assert_frame_equal(pseudo.panel, plain.panel)  # unit ids and counts untouched
    pd.testing.assert_frame_equal(pseudo.report.table, plain.report.table)
    raw_ids = (_ids(DATA / "hr_export.csv", "Employee ID")
               | _ids(DATA / "crm_export.csv", "Account ID"))
    assert raw_ids >= {"E001", "A1"}
    rejects_text = pseudo.rejects.to_csv(index=False)
    assert not [i for i in raw_ids if i in rejects_text]
    assert not [i for i in raw_ids if i in pseudo.panel.to_csv(index=False)]
    ids = pseudo.rejects["Employee ID"].dropna()
    assert len(ids) and ids.str.fullmatch(r"p_[0-9a-f]{16}").all()
    # the same rows set aside, for the same reasons, with the identifier hashed
    pd.testing.assert_frame_equal(pseudo.rejects[["file", "row", "reason", "column", "Cost Center"]],
                                  plain.rejects[["file", "row", "reason", "column", "Cost Center"]])
    expected = plain.rejects["Employee ID"].map(
        lambda v: _reference(KEY, v.strip()) if isinstance(v, str) and v.strip() else "-")
    assert pseudo.rejects["Employee ID"].fillna("-").tolist() == expected.tolist()


def test_prepare_key_file_and_the_mappings_extra_columns(tmp_path, monkeypatch):
    monkeypatch.delenv(PSEUDONYM_ENV, raising=False)
    key = tmp_path / "key"
    key.write_text(KEY + "\n")
    hr = read_table(DATA / "hr_export.csv").assign(**{"Manager ID": "M77"})
    mapping = {**load_mapping(DATA / "mapping.yaml"), "pseudonymise": {"employees": ["Manager ID"]}}
    before = hr.copy()
    result = prepare(employees=hr, units=DATA / "stores.csv", mapping=mapping, as_of=AS_OF,
                     pseudonymise=True, pseudonym_key_file=key)
    pd.testing.assert_frame_equal(hr, before)  # the caller's table is not changed
    assert (result.rejects["Manager ID"] == _reference(KEY, "M77")).all()
    assert "M77" not in result.rejects.to_csv(index=False)


def test_the_unit_id_column_is_never_pseudonymised(monkeypatch):
    monkeypatch.setenv(PSEUDONYM_ENV, KEY)
    mapping = {**load_mapping(DATA / "mapping.yaml"), "pseudonymise": {"employees": ["Cost Center"]}}
    with pytest.raises(InputError, match="'Cost Center', the unit id column"):
        prepare(employees=DATA / "hr_export.csv", mapping=mapping, as_of=AS_OF, pseudonymise=True)
    with pytest.raises(InputError, match="unknown table 'units'"):
        prepare(employees=DATA / "hr_export.csv", as_of=AS_OF, pseudonymise=True,
                mapping={**load_mapping(DATA / "mapping.yaml"), "pseudonymise": {"units": ["Store"]}})


def test_prepare_without_a_key_or_with_a_key_but_no_flag(monkeypatch, tmp_path):
    monkeypatch.delenv(PSEUDONYM_ENV, raising=False)
    with pytest.raises(InputError, match="needs a secret key"):
        _fixture(pseudonymise=True)
    with pytest.raises(InputError, match="pseudonymise is off"):
        _fixture(pseudonym_key_file=tmp_path / "key")


def test_sample_raw_export_same_panel_pseudonymised(sample_dir, monkeypatch):
    """The sample's raw export (3,083 + 29,059 rows, planted defects): the same panel and the same
    accounting with and without pseudonyms, and no raw identifier in the rejects."""
    monkeypatch.setenv(PSEUDONYM_ENV, KEY)
    raw = sample_dir / "raw"
    kwargs = dict(employees=raw / "employees.csv", customers=raw / "customers.csv",
                  units=raw / "units.csv", mapping=raw / "mapping.yaml", as_of="2026-01-01")
    plain, pseudo = prepare(**kwargs), prepare(**kwargs, pseudonymise=True)
    pd.testing.assert_frame_equal(pseudo.panel, plain.panel)
    pd.testing.assert_frame_equal(pseudo.report.table, plain.report.table)
    text = pseudo.rejects.to_csv(index=False)
    for column in ("Employee ID", "Account ID"):
        raw_ids = plain.rejects[column].dropna().str.strip()
        raw_ids = raw_ids[raw_ids.ne("")]
        assert len(raw_ids) > 5
        assert not [i for i in raw_ids if i in text]


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture()
def inputs(tmp_path):
    for name in ("hr_export.csv", "crm_export.csv", "stores.csv", "mapping.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _args(folder: pathlib.Path, *extra: str) -> list[str]:
    return ["panel", "--employees", str(folder / "hr_export.csv"),
            "--customers", str(folder / "crm_export.csv"), "--units", str(folder / "stores.csv"),
            "--map", str(folder / "mapping.yaml"), "--as-of", AS_OF,
            "--out", str(folder / "panel.csv"), "--rejects", str(folder / "rejects.csv"), *extra]


def test_cli_pseudonymise_from_environment(inputs, capsys, monkeypatch):
    monkeypatch.setenv(PSEUDONYM_ENV, KEY)
    assert main(_args(inputs, "--pseudonymise")) == 0
    assert "pseudonymised" in capsys.readouterr().out
    rejects = (inputs / "rejects.csv").read_text(encoding="utf-8")
    panel = (inputs / "panel.csv").read_text(encoding="utf-8")
    raw_ids = _ids(inputs / "hr_export.csv", "Employee ID") | _ids(inputs / "crm_export.csv",
                                                                   "Account ID")
    assert not [i for i in raw_ids if i in rejects or i in panel]
    assert _reference(KEY, "E002") in rejects  # the duplicate of E002 is set aside, hashed
    assert KEY not in rejects + panel


def test_cli_key_file_and_errors(inputs, capsys, monkeypatch):
    monkeypatch.delenv(PSEUDONYM_ENV, raising=False)
    assert main(_args(inputs, "--pseudonymise")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LINKAGE_PSEUDONYM_KEY" in err
    key = inputs / "key.txt"
    key.write_text("too short\n")
    assert main(_args(inputs, "--pseudonym-key-file", str(key))) == 2
    err = capsys.readouterr().err
    assert "key.txt: the key is 9 bytes long" in err and "too short" not in err
    key.write_text(KEY + "\n")
    assert main(_args(inputs, "--pseudonym-key-file", str(key))) == 0
    assert _reference(KEY, "E002") in (inputs / "rejects.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    # the key file is an input: never overwritten
    args = _args(inputs, "--pseudonym-key-file", str(key))
    args[args.index("--rejects") + 1] = str(inputs / "key.csv")
    shutil.copy(key, inputs / "key.csv")
    args[args.index("--pseudonym-key-file") + 1] = str(inputs / "key.csv")
    assert main(args) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert (inputs / "key.csv").read_text() == KEY + "\n"


def test_cli_engines_refuse_pseudonymise(inputs, capsys, monkeypatch):
    monkeypatch.setenv(PSEUDONYM_ENV, KEY)
    args = ["panel", "--employees", str(inputs / "hr_export.csv"), "--customers",
            str(inputs / "crm_export.csv"), "--out", str(inputs / "p.csv"), "--engine", "duckdb",
            "--pseudonymise"]
    assert main(args) == 2
    assert "--pseudonymise needs the pandas engine" in capsys.readouterr().err
