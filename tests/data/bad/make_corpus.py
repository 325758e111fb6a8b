"""Rebuild the bad-input corpus of ``tests/test_bad_inputs.py``: ``python tests/data/bad/make_corpus.py``.

Every file is generated here, byte for byte, so the corpus can be rebuilt and reviewed:

- ``good_*``: a tiny clean world (3 units, 18 employees, 30 customers) that every case starts from;
- every other file is one broken or hostile variant of one of them (the case table in
  ``tests/test_bad_inputs.py`` says which input it replaces and what must happen).

The huge-cell case (a 10 MB cell) is not committed: :func:`huge_cell` builds it at test time.
``tests/test_bad_inputs.py`` checks that the committed files equal what :func:`corpus` gives.
"""

from __future__ import annotations

import codecs
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent

UNITS = ("001", "002", "003")


def _good_employees() -> list[list[str]]:
    rows = []
    for u, unit in enumerate(UNITS):
        for i in range(6):
            n = u * 6 + i + 1
            hire = f"2023-{1 + i:02d}-{5 + u:02d}"
            end = f"2024-{2 + i:02d}-{10 + u:02d}" if i % 3 == 0 else ""
            rows.append([f"E{n:03d}", unit, hire, end])
    return rows


def _good_customers() -> list[list[str]]:
    rows = []
    for u, unit in enumerate(UNITS):
        for i in range(10):
            n = u * 10 + i + 1
            start = f"2023-{1 + i:02d}-{3 + u:02d}"
            end = f"2024-{1 + i:02d}-{20 + u:02d}" if i % 4 == 1 else ""
            rows.append([f"C{n:03d}", unit, start, end])
    return rows


EMP_HEADER = ["employee_id", "unit_id", "hire_date", "termination_date"]
CUS_HEADER = ["customer_id", "unit_id", "start_date", "end_date"]


def _csv(header: list[str], rows: list[list[str]], sep: str = ",", eol: str = "\n") -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in (sep, '"', "\n")) else v

    return "".join(sep.join(cell(v) for v in r) + eol for r in [header, *rows])


def huge_cell(size: int = 10 * 1024 * 1024) -> bytes:
    """An employee extract whose second row holds an identifier of ``size`` characters."""
    rows = _good_employees()
    rows[1] = ["X" * size, *rows[1][1:]]
    return _csv(EMP_HEADER, rows).encode()


def corpus() -> dict[str, bytes]:
    """Every committed file of the corpus: name -> bytes."""
    emp, cus = _good_employees(), _good_customers()
    files: dict[str, str | bytes] = {}
    files["good_employees.csv"] = _csv(EMP_HEADER, emp)
    files["good_customers.csv"] = _csv(CUS_HEADER, cus)
    files["good_units.csv"] = "unit_id,region\n001,North\n002,North\n003,South\n"
    # the same employees under an HR system's own column names, and the mapping that reads them
    files["good_mapping.yaml"] = (
        "employees: {employee_id: Person Number, unit_id: Store, hire_date: Hire Date,\n"
        "            termination_date: Leaving Date}\n")
    files["mapped_employees.csv"] = _csv(["Person Number", "Store", "Hire Date", "Leaving Date"], emp)

    # -- files that are no table at all --------------------------------------------------------
    files["empty.csv"] = b""
    files["blank_lines.csv"] = b"\n \r\n\t\n"
    rng = random.Random(6)
    files["binary_junk.csv"] = bytes(rng.randrange(256) for _ in range(600))
    files["binary_junk_no_nul.csv"] = bytes(rng.randrange(128, 256) for _ in range(600))
    files["fake_excel.xlsx"] = b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(200))
    files["fake_parquet.parquet"] = b"PAR1" + bytes(rng.randrange(256) for _ in range(200))
    files["header_line_break.csv"] = _csv(["employee\nid", *EMP_HEADER[1:]], emp)
    files["header_only.csv"] = ",".join(EMP_HEADER) + "\n"
    files["nul_bytes.csv"] = _csv(EMP_HEADER, emp).replace("E004", "E0\x0004").encode()
    # -- columns ---------------------------------------------------------------------------------
    files["missing_column.csv"] = _csv(["employee_id", "unit_id", "termination_date"],
                                       [[r[0], r[1], r[3]] for r in emp])
    files["misspelled_column.csv"] = _csv(["employee_id", "unit_id", "hire_dte", "termination_date"],
                                          emp)
    # -- dates -------------------------------------------------------------------------------------
    files["dates_unparseable.csv"] = _csv(EMP_HEADER, [[r[0], r[1], "soon", "later?"] for r in emp])
    files["dates_year_9999.csv"] = _csv(EMP_HEADER, [[r[0], r[1], r[2], "9999-12-31"] if i % 2 else
                                                     [r[0], r[1], "9999-01-01", ""]
                                                     for i, r in enumerate(emp)])
    files["dates_year_2999.csv"] = _csv(EMP_HEADER, [[r[0], r[1], "2999-05-01", r[3]] if i % 3 == 0
                                                     else [r[0], r[1], r[2], "2999-05-01"]
                                                     for i, r in enumerate(emp)])
    files["negative_spans.csv"] = _csv(EMP_HEADER, [[r[0], r[1], "2024-06-01", "2023-01-01"]
                                                    if i % 2 else r for i, r in enumerate(emp)])
    files["absurd_spans.csv"] = _csv(EMP_HEADER, [[r[0], r[1], "1800-01-01", r[3]] if i % 2 else r
                                                  for i, r in enumerate(emp)])
    files["customers_dates_unparseable.csv"] = _csv(CUS_HEADER, [[r[0], r[1], "n.d.", ""]
                                                                 for r in cus])
    # -- formula injection ----------------------------------------------------------------------
    attacks = ['=HYPERLINK("http://x","click")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1+1)",
               "=1+1", "\t=2+2"]
    inj = [r[:] for r in emp]
    for i, a in enumerate(attacks):
        inj[i][0] = a
    inj.append(inj[0][:])  # an exact copy: the attack string also lands in the rejects
    inj.append([attacks[3], "999", "2023-03-01", ""])  # an unknown unit: rejected too
    files["formula_ids.csv"] = _csv(EMP_HEADER, inj)
    files["formula_header.csv"] = _csv(EMP_HEADER + ['=HYPERLINK("http://x","click")'],
                                       [[*r, "@SUM(1)"] for r in emp] + [[*emp[0], "@SUM(1)"]])
    files["formula_units.csv"] = _csv(["unit_id", "region"], [
        ["001", "North"], ["=1+1", '=HYPERLINK("http://x","click")'], ["@SUM(1)", "-2+3"]])
    files["formula_units_employees.csv"] = _csv(EMP_HEADER, [
        [r[0], {"002": "=1+1", "003": "@SUM(1)"}.get(r[1], r[1]), *r[2:]] for r in emp])
    # -- encodings -------------------------------------------------------------------------------
    latin = _csv(EMP_HEADER + ["name"], [[*r, "José Müller"] for r in emp])
    files["latin1.csv"] = latin.encode("latin-1")
    files["utf16_no_bom.csv"] = _csv(EMP_HEADER, emp).encode("utf-16-le")
    files["utf16be_no_bom.csv"] = _csv(EMP_HEADER, emp).encode("utf-16-be")
    files["utf16_bom.csv"] = codecs.BOM_UTF16_LE + _csv(EMP_HEADER, emp).encode("utf-16-le")
    files["cp1252_smart_quotes.csv"] = _csv(EMP_HEADER + ["note"],
                                            [[*r, "\u201cgood\u201d \u2013 ok"] for r in emp]
                                            ).encode("cp1252")
    # -- separators ----------------------------------------------------------------------------
    mixed = [",".join(EMP_HEADER)] + [(";" if i % 3 == 0 else ",").join(r)
                                     for i, r in enumerate(emp)]
    files["mixed_separators.csv"] = "\n".join(mixed) + "\n"
    wide = [",".join(EMP_HEADER)] + [",".join(r) + (",x,y" if i == 4 else "")
                                     for i, r in enumerate(emp)]
    files["extra_cells.csv"] = "\n".join(wide) + "\n"
    files["unclosed_quote.csv"] = _csv(EMP_HEADER, emp).replace("E005,", '"E005,', 1)
    # -- mappings ---------------------------------------------------------------------------------
    files["mapping_invalid.yaml"] = "employees: {employee_id: Person Number, unit_id: [Store\n"
    files["mapping_list.yaml"] = "- employee_id\n- unit_id\n"
    files["mapping_scalar.yaml"] = "just some text\n"
    files["mapping_absent_column.yaml"] = (
        "employees: {employee_id: Person No, unit_id: Store, hire_date: Hire Date,\n"
        "            termination_date: Leaving Date}\n")
    files["mapping_deep.yaml"] = "employees: " + "[" * 1000 + "]" * 1000 + "\n"
    bomb = ["units: {z0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    bomb += [f"        z{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    files["mapping_alias_bomb.yaml"] = ",\n".join(bomb) + "}\n"  # 9**9 cells if expanded
    files["mapping_binary.yaml"] = bytes(rng.randrange(256) for _ in range(100))
    return {name: (v.encode() if isinstance(v, str) else v) for name, v in files.items()}


def main() -> None:
    for old in HERE.iterdir():
        if old.is_file() and old.name != pathlib.Path(__file__).name:
            old.unlink()
    for name, data in corpus().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(corpus())} files to {HERE}")


if __name__ == "__main__":
    main()
