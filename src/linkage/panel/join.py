"""The join: :func:`join_chain` appends unit x period chain tables to the retention panel.

The tables come from :func:`linkage.panel.employee_survey_panel`,
:func:`linkage.panel.customer_survey_panel` and :func:`linkage.panel.revenue_panel`, each keyed by
``unit_id, period`` (``period`` = the first day of the period, as in the panel).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.panel._inputs import as_frame, need_columns

__all__ = ["join_chain"]


def join_chain(
    panel: pd.DataFrame,
    *,
    employee_survey: pd.DataFrame | None = None,
    customer_survey: pd.DataFrame | None = None,
    revenue: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Append unit x period chain tables to the retention panel, keyed by ``unit_id, period``.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`linkage.panel.build_panel` (or any table keyed by ``unit_id,
        period``, one row per key).
    employee_survey, customer_survey, revenue : pandas.DataFrame, optional
        Outputs of :func:`employee_survey_panel`, :func:`customer_survey_panel` and
        :func:`revenue_panel` with the panel's ``freq`` (or your own unit x period tables with
        those column names, e.g. item means as ``es_<item>`` with ``es_respondents``).

    Returns
    -------
    pandas.DataFrame
        The panel, its rows and columns unchanged, with the other tables' columns appended in
        the order given (employee survey, customer survey, revenue). Panel rows a table does not
        cover get NaN (NaT for ``*_wave``), and 0 respondents.

    Raises
    ------
    InputError
        When a table lacks ``unit_id`` / ``period``, repeats a key, brings a column the panel
        already has, or shares no ``unit_id, period`` key at all with the panel (a different
        ``freq`` or window).

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"unit_id": ["s1", "s1"],
    ...                       "period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                       "employee_retention": [0.9, 1.0]})
    >>> es = pd.DataFrame({"unit_id": ["s1"], "period": pd.to_datetime(["2024-02-01"]),
    ...                    "es_engagement": [3.5], "es_respondents": [4]})
    >>> join_chain(panel, employee_survey=es)
      unit_id     period  employee_retention  es_engagement  es_respondents
    0      s1 2024-01-01                 0.9            NaN               0
    1      s1 2024-02-01                 1.0            3.5               4
    """
    panel = as_frame(panel, "panel")
    need_columns(panel, ["unit_id", "period"], "panel")
    left_key = pd.MultiIndex.from_arrays(
        [panel["unit_id"].astype("str"), pd.DatetimeIndex(panel["period"]).as_unit("us")]
    )
    if left_key.has_duplicates:
        raise InputError("repeats a unit_id, period pair", file="panel")
    out = panel.copy()
    for name, table in (
        ("employee survey", employee_survey),
        ("customer survey", customer_survey),
        ("revenue", revenue),
    ):
        if table is None:
            continue
        table = as_frame(table, name)
        need_columns(table, ["unit_id", "period"], name)
        extra = [c for c in table.columns if c not in ("unit_id", "period")]
        clash = [c for c in extra if c in out.columns]
        if clash:
            raise InputError(
                f"brings column {clash[0]!r}, which the panel already has",
                file=name,
                column=clash[0],
            )
        key = pd.MultiIndex.from_arrays(
            [table["unit_id"].astype("str"), pd.DatetimeIndex(table["period"]).as_unit("us")]
        )
        if key.has_duplicates:
            row = int(np.flatnonzero(key.duplicated())[0])
            raise InputError("repeats a unit_id, period pair", file=name, row=row + 1)
        where = key.get_indexer(left_key)
        if len(table) and len(out) and not (where >= 0).any():
            raise InputError(
                "shares no unit_id, period with the panel (another freq or window?)", file=name
            )
        joined = table[extra].set_axis(key, axis=0).reindex(left_key).set_axis(out.index, axis=0)
        for col in extra:
            if col.endswith("_respondents"):
                out[col] = joined[col].fillna(0).astype(np.int64)
            else:
                out[col] = joined[col]
    return out
