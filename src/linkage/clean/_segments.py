"""Cleaning the customer segments extract.

The contract (rows kept or set aside with a reason, mappings, dates) is the one of
:mod:`linkage.clean._extracts`, whose cleaning pass does the work.
"""

from __future__ import annotations

from typing import Any

from linkage.clean._core import CleanResult
from linkage.clean._extracts import Raw, clean_extract

__all__ = ["clean_segments"]


def clean_segments(
    raw: Raw,
    *,
    mapping: dict[str, Any] | None = None,
    source: str | None = None,
) -> CleanResult:
    """Clean a customer segments table (``customer_id``, ``segment``: one segment per customer).

    Parameters
    ----------
    raw : pandas.DataFrame or path
        ``customer_id`` and ``segment`` (or vertical, tier: map it with ``mapping``).
    mapping, source
        As in :func:`clean_employee_survey`.

    Returns
    -------
    CleanResult
        ``data``: ``customer_id`` and ``segment`` (str), then other columns as text. Reasons:
        ``duplicate_row``, ``missing_identifier``, ``missing_segment``, ``duplicate_customer``
        (a customer listed again, even with another segment: the first is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Account": ["c1", "c2", "c2", "c3"],
    ...                     "Tier": ["enterprise", "consumer", "enterprise", " "]})
    >>> result = clean_segments(raw, mapping={"customer_id": "Account", "segment": "Tier"})
    >>> result.data
      customer_id     segment
    0          c1  enterprise
    1          c2    consumer
    >>> result.rejects["reason"].tolist()
    ['duplicate_customer', 'missing_segment']
    """
    return clean_extract(
        raw,
        table="segments",
        ids=("customer_id",),
        segment="segment",
        mapping=mapping,
        source=source,
    )
