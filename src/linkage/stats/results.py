"""The shared shape of every result object in :mod:`linkage.stats`.

A result has a machine view and a human view (as ``lifelines``' ``StatisticalResult``):

- :attr:`Result.summary`: the headline figures as one tidy DataFrame;
- :meth:`Result.to_dict` / :meth:`Result.to_json`: JSON-ready (numpy scalars as Python numbers,
  NaN as ``None``, dates as ``YYYY-MM-DD``; see :func:`jsonable`);
- :attr:`text`: the plain-language summary; ``_repr_html_`` renders it (escaped) with the tables
  in Jupyter and Voila; ``repr`` says what was fitted.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "jsonable", "records", "html_tables"]

_HTML_FORMAT: dict[str, Any] = {
    "float_format": lambda v: f"{v:.3g}",
    "index": False,
    "border": 0,
    "na_rep": "",
}


def jsonable(v: Any) -> Any:
    """``v`` with numpy scalars, NaN / NA / NaT and Timestamps turned into JSON-ready values.

    Examples
    --------
    >>> jsonable({"r": np.float64(0.5), "n": np.int64(3), "p": float("nan"),
    ...           "when": pd.Timestamp("2024-03-01"), "ok": np.bool_(True)})
    {'r': 0.5, 'n': 3, 'p': None, 'when': '2024-03-01', 'ok': True}
    """
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v


def records(df: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``df`` as JSON-ready dicts, with those of ``columns`` that ``df`` has.

    Examples
    --------
    >>> records(pd.DataFrame({"lag": [0, 1], "r": [0.5, np.nan]}), ["lag", "r", "p_val"])
    [{'lag': 0, 'r': 0.5}, {'lag': 1, 'r': None}]
    """
    cols = [c for c in columns if c in df.columns]
    return [jsonable(dict(zip(cols, row, strict=True))) for row in df[cols].itertuples(index=False)]


def html_tables(sections: Sequence[tuple[str | None, pd.DataFrame]]) -> str:
    """HTML of ``(heading, table)`` pairs (no heading when it is ``None``); headings are escaped."""
    parts = []
    for heading, table in sections:
        if heading is not None:
            parts.append(f"<h4>{html.escape(heading)}</h4>")
        parts.append(table.to_html(**_HTML_FORMAT))
    return "".join(parts)


class Result:
    """Base of the result objects: ``summary``, ``to_dict``, ``to_json``, ``text``, HTML, repr.

    Subclasses are frozen dataclasses with a ``text`` field; they define :attr:`summary` and
    :meth:`to_dict`, and shape the HTML through ``_html_title`` and ``_html_sections``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Mean(Result):
    ...     value: float
    ...     text: str = ""
    ...     @property
    ...     def summary(self):
    ...         return pd.DataFrame({"mean": [self.value]})
    ...     def to_dict(self):
    ...         return jsonable({"mean": self.value, "text": self.text})
    >>> m = Mean(np.float64(0.25), text="a <b> quarter")
    >>> m.to_json(indent=None)
    '{"mean": 0.25, "text": "a <b> quarter"}'
    >>> "<p>a &lt;b&gt; quarter</p>" in m._repr_html_()
    True
    """

    text: str
    _html_class = "linkage-result"

    @property
    def summary(self) -> pd.DataFrame:
        """The headline figures as one tidy table."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (plain Python types, NaN as ``None``)."""
        raise NotImplementedError

    def to_json(self, *, indent: int | None = 1) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(jsonable(self.to_dict()), indent=indent, default=str)

    def _html_title(self) -> str:
        return type(self).__name__

    def _html_sections(self) -> list[tuple[str | None, pd.DataFrame]]:
        return [(None, self.summary)]

    def _repr_html_(self) -> str:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in self.text.split("\n\n"))
        return (
            f"<div class='{self._html_class}'><h3>{html.escape(self._html_title())}</h3>"
            f"{paras}{html_tables(self._html_sections())}</div>"
        )
