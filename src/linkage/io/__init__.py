"""Reading extracts, column mappings, input schemas and atomic writes (I/O only).

- :func:`read_table`: CSV (UTF-8 with or without BOM, CRLF, comma / semicolon / tab sniffed),
  Parquet or Excel into a DataFrame of strings indexed by the file's data row number.
- :func:`load_mapping` / :func:`validate_mapping` / :func:`apply_mapping`: from a file's own column
  names to the canonical ones (``docs/design.md``), in Python or as YAML.
- :mod:`linkage.io.schemas`: pandera schemas of the canonical tables, checked at the boundary.
- :func:`read_panel`: the one reader of a unit x period panel file (typed, checked against
  :data:`~linkage.io.panel.PANEL_SCHEMA`); :func:`require_columns`: the one missing-column check.
- :func:`write_table`: atomic CSV / Parquet writes that refuse to overwrite inputs and neutralise
  spreadsheet formulas in CSV text cells.
"""

import importlib
from types import ModuleType

from linkage.io._mapping import apply_mapping, load_mapping, table_options, validate_mapping
from linkage.io._read import MISSING_TOKENS, read_table
from linkage.io._write import neutralise_formulas, write_table
from linkage.io.datasets import load_jolts, load_sample_panel, load_sample_world

_LAZY = {"read_panel", "require_columns", "PANEL_SCHEMA", "validate_panel"}


def __getattr__(name: str) -> ModuleType:
    # the pandera schemas load on first use: ``import linkage.io`` stays light
    if name == "schemas":
        return importlib.import_module("linkage.io.schemas")
    if name in _LAZY:  # the panel reader imports pandera too
        return getattr(importlib.import_module("linkage.io.panel"), name)
    raise AttributeError(f"module 'linkage.io' has no attribute {name!r}")


__all__ = [
    "read_table",
    "MISSING_TOKENS",
    "load_mapping",
    "validate_mapping",
    "apply_mapping",
    "table_options",
    "write_table",
    "neutralise_formulas",
    "schemas",
    "read_panel",
    "require_columns",
    "PANEL_SCHEMA",
    "validate_panel",
    "load_sample_panel",
    "load_sample_world",
    "load_jolts",
]
