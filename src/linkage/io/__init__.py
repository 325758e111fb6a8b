"""Reading extracts, column mappings, input schemas and atomic writes (I/O only).

- :func:`read_table`: CSV (UTF-8 with or without BOM, CRLF, comma / semicolon / tab sniffed),
  Parquet or Excel into a DataFrame of strings indexed by the file's data row number.
- :func:`load_mapping` / :func:`validate_mapping` / :func:`apply_mapping`: from a file's own column
  names to the canonical ones (``docs/design.md``), in Python or as YAML; :func:`section`,
  :func:`table_options`, :func:`date_options` and :func:`pseudonymised_columns` read one table's
  part of a mapping, :data:`REQUIRED` / :data:`OPTIONAL` list each table's canonical columns and
  :func:`as_text` / :data:`MISSING_TOKENS` are the shared text cleaning of the readers.
- :mod:`linkage.io.schemas`: pandera schemas of the canonical tables, checked at the boundary.
- :func:`read_panel`: the one reader of a unit x period panel file (typed, checked against
  :data:`~linkage.io.panel.PANEL_SCHEMA`); :func:`require_columns`: the one missing-column check.
- :mod:`linkage.io.periods`: a period column as integer steps (``read_periods`` /
  ``period_index``), the one inference of a period's length, shared by the reader and the stats.
- :func:`write_table`: atomic CSV / Parquet writes that refuse to overwrite inputs and neutralise
  spreadsheet formulas in CSV text cells.
"""

import importlib
from typing import TYPE_CHECKING, Any

from linkage.io._columns import require_columns
from linkage.io._mapping import (
    apply_mapping,
    date_options,
    load_mapping,
    pseudonymised_columns,
    section,
    table_options,
    validate_mapping,
)
from linkage.io._read import MISSING_TOKENS, as_text, read_table
from linkage.io._tables import OPTIONAL, REQUIRED
from linkage.io._write import neutralise_formulas, write_table
from linkage.io.datasets import load_jolts, load_sample_panel, load_sample_world

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from linkage.io import schemas
    from linkage.io.panel import PANEL_SCHEMA, read_panel, validate_panel

_LAZY = {"read_panel", "PANEL_SCHEMA", "validate_panel"}


def __getattr__(name: str) -> Any:
    # the pandera schemas load on first use: ``import linkage.io`` stays light
    if name == "schemas":
        return importlib.import_module("linkage.io.schemas")
    if name in _LAZY:  # the panel reader imports pandera too
        return getattr(importlib.import_module("linkage.io.panel"), name)
    raise AttributeError(f"module 'linkage.io' has no attribute {name!r}")


__all__ = [
    "read_table",
    "as_text",
    "MISSING_TOKENS",
    "REQUIRED",
    "OPTIONAL",
    "load_mapping",
    "validate_mapping",
    "apply_mapping",
    "section",
    "table_options",
    "date_options",
    "pseudonymised_columns",
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
