"""Privacy: small-group suppression of published figures, pseudonymisation of person identifiers.

**Suppression.**
A figure computed from fewer than ``k`` people is not shown: its cells read ``"suppressed"`` (never
0 or blank). Because a table's total is often published too (a region's total, the company's), one
suppressed row could be recovered by subtracting the others from the total; so within each group
that sums to a total, further rows are suppressed (complementary suppression) until at least two
rows are hidden and the hidden rows together cover at least ``k`` people.

Dashboards, downloads and the static report all pass their tables through :func:`suppress`.

**Pseudonymisation.** :func:`pseudonymise` replaces person identifiers (``employee_id``,
``customer_id``, ...) by a keyed hash (HMAC-SHA256, truncated, prefixed ``p_``) as soon as an
extract is read (``linkage.pipeline.prepare(..., pseudonymise=True)``, ``linkage panel
--pseudonymise``). The same key turns the same identifier into the same pseudonym, so people still
match across files and runs; without the key a pseudonym cannot be turned back into the identifier,
nor can anyone check a guessed identifier against it. The key comes from :data:`PSEUDONYM_ENV` or a
key file (:func:`pseudonym_key`) and never belongs in the repository.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.errors import InputError
from linkage.io._read import MISSING_TOKENS, as_text

__all__ = [
    "SUPPRESSED",
    "suppress",
    "PSEUDONYM_ENV",
    "MIN_KEY_BYTES",
    "pseudonym_key",
    "pseudonymise",
]

#: The text shown in place of a suppressed figure.
SUPPRESSED = "suppressed"


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def suppress(
    table: pd.DataFrame,
    *,
    count_cols: str | Sequence[str],
    k: int = 5,
    value_cols: str | Sequence[str] | None = None,
    groups: str | Sequence[str] | None = None,
    label: str = SUPPRESSED,
) -> pd.DataFrame:
    """Hide figures computed from fewer than ``k`` people, and their complements.

    Parameters
    ----------
    table : DataFrame
        One row per published group (unit, unit x period, region ...). Not modified.
    count_cols : str or list of str
        Columns holding how many people each row's figures come from (e.g. ``employee_start``,
        ``customer_start``). A row is primarily suppressed when any of them is below ``k``.
    k : int, default 5
        Minimum number of people behind a figure that is shown.
    value_cols : str or list of str, optional
        Columns blanked out in suppressed rows. Default: every numeric column (counts and rates), so
        labels such as ``unit_id`` or ``region`` stay readable.
    groups : str or list of str, optional
        Columns whose combinations form the sets of rows that add up to a published total (e.g.
        ``"region"``). Default: the whole table is one such set.
    label : str, default "suppressed"
        What suppressed cells read.

    Returns
    -------
    DataFrame
        A copy of ``table`` in which the ``value_cols`` of suppressed rows hold ``label`` (those
        columns become object dtype), plus a boolean column ``suppressed`` and a string column
        ``suppression`` that reads ``"primary"`` (fewer than ``k`` people), ``"complementary"``
        (hidden so that a primary one cannot be recovered from a total) or ``""``.

    Raises
    ------
    InputError
        If a named column is missing, a count column is not numeric, or ``k < 1``.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkage.privacy import suppress
    >>> t = pd.DataFrame({"unit_id": ["a", "b", "c", "d"], "people": [3, 40, 12, 25],
    ...                   "retention": [0.67, 0.90, 0.75, 0.88]})
    >>> out = suppress(t, count_cols="people", k=5)
    >>> out["retention"].tolist()
    ['suppressed', 0.9, 'suppressed', 0.88]
    >>> out["suppression"].tolist()
    ['primary', '', 'complementary', '']
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(table).__name__}", file="table")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a whole number of people >= 1, got {k!r}", file="table")
    counts = _as_list(count_cols)
    if not counts:
        raise InputError("name at least one count column", file="table")
    group_cols = _as_list(groups)
    for col in [*counts, *group_cols, *_as_list(value_cols)]:
        if col not in table.columns:
            raise InputError("column not found", file="table", column=col)
    for col in counts:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise InputError("a count column must be numeric", file="table", column=col)
    reserved = {"suppressed", "suppression"} & set(table.columns)
    if reserved:
        raise InputError(
            "column name is reserved for the suppression flags",
            file="table",
            column=sorted(reserved)[0],
        )
    if value_cols is None:
        values = [
            c
            for c in table.columns
            if pd.api.types.is_numeric_dtype(table[c])
            and not pd.api.types.is_bool_dtype(table[c])
            and c not in group_cols
        ]
    else:
        values = _as_list(value_cols)

    out = table.copy()
    n = len(out)
    if n == 0:
        out["suppressed"] = pd.Series([], dtype=bool, index=out.index)
        out["suppression"] = pd.Series([], dtype="str", index=out.index)
        return out

    # the row's governing head count: the smallest of its count columns (missing = 0 people)
    people = np.nan_to_num(
        np.column_stack([pd.to_numeric(out[c]).to_numpy(dtype=float) for c in counts]).min(axis=1),
        nan=0.0,
    )
    primary = people < k

    # complementary suppression, vectorised: within each group, order the rows by head count and
    # hide the smallest unsuppressed rows until >= 2 rows are hidden and they cover >= k people
    gcodes = (
        out.groupby(group_cols, sort=False, dropna=False).ngroup().to_numpy()
        if group_cols
        else np.zeros(n, dtype=np.int64)
    )
    n_groups = int(gcodes.max()) + 1
    n_prim = np.bincount(gcodes, weights=primary, minlength=n_groups)
    sum_prim = np.bincount(gcodes, weights=people * primary, minlength=n_groups)
    cand = np.flatnonzero(~primary)
    cand = cand[np.lexsort((cand, people[cand], gcodes[cand]))]  # by group, head count, position
    g = gcodes[cand]
    first = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(cand) else np.zeros(0, dtype=np.int64)
    start_of = np.repeat(first, np.diff(np.r_[first, len(cand)]))  # each candidate's group start
    rank = np.arange(len(cand)) - start_of  # 0 for the smallest unsuppressed row
    cum = np.cumsum(people[cand])
    cum_before = cum - people[cand] - np.where(start_of > 0, cum[start_of - 1], 0.0)
    hidden_before = n_prim[g] + rank  # rows hidden before this one is considered
    people_before = sum_prim[g] + cum_before
    need = (n_prim[g] > 0) & ((hidden_before < 2) | (people_before < k))
    secondary = np.zeros(n, dtype=bool)
    secondary[cand[need]] = True

    hide = primary | secondary
    for col in values:
        col_values = out[col].astype(object)
        col_values[hide] = label
        out[col] = col_values
    out["suppressed"] = hide
    out["suppression"] = np.where(primary, "primary", np.where(secondary, "complementary", ""))
    out["suppression"] = out["suppression"].astype("str")
    return out


# -- pseudonymisation ------------------------------------------------------------------------------

#: Environment variable holding the pseudonymisation key (used when no key or key file is given).
PSEUDONYM_ENV = "LINKAGE_PSEUDONYM_KEY"
#: Shortest key accepted, in bytes (128 bits: out of reach of guessing).
MIN_KEY_BYTES = 16

_KEY_HINT = (
    'make one with: python -c "import secrets; print(secrets.token_hex(32))" and keep it '
    "outside the repository"
)


def pseudonym_key(
    key: str | bytes | None = None,
    *,
    key_file: str | os.PathLike[str] | None = None,
) -> bytes:
    """The secret key for :func:`pseudonymise`: given, from a key file, or from the environment.

    Parameters
    ----------
    key : str or bytes, optional
        The key itself (a str is UTF-8 encoded).
    key_file : path, optional
        A file holding the key (surrounding whitespace, such as the final newline, is ignored).
        Used when ``key`` is not given.

    Returns
    -------
    bytes
        The key; without ``key`` and ``key_file``, the value of ``$LINKAGE_PSEUDONYM_KEY``.

    Raises
    ------
    InputError
        No key anywhere, a key file that cannot be read, or a key shorter than
        :data:`MIN_KEY_BYTES` bytes. The message never contains the key.

    Examples
    --------
    >>> pseudonym_key("0123456789abcdef0123")
    b'0123456789abcdef0123'
    >>> pseudonym_key("secret")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: pseudonym key: the key is 6 bytes long; it needs at least 16
    (make one with: python -c "import secrets; print(secrets.token_hex(32))" and keep it outside
    the repository)
    """
    where = "pseudonym key"
    if key is None and key_file is not None:
        path = Path(key_file)
        where = path.name
        if not path.is_file():
            raise InputError("key file not found", file=where)
        try:
            key = path.read_bytes().strip()
        except OSError as err:
            raise InputError(f"key file cannot be read ({err.strerror})", file=where) from None
    elif key is None:
        env = os.environ.get(PSEUDONYM_ENV)
        if env is None:
            raise InputError(
                f"pseudonymising needs a secret key: set the environment variable {PSEUDONYM_ENV} "
                f"or give a key file (--pseudonym-key-file); {_KEY_HINT}",
                file=where,
            )
        where = f"${PSEUDONYM_ENV}"
        key = env.strip()
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise InputError(f"the key must be text or bytes, not {type(key).__name__}", file=where)
    if len(key) == 0:
        raise InputError(f"the key is empty; {_KEY_HINT}", file=where)
    if len(key) < MIN_KEY_BYTES:
        raise InputError(
            f"the key is {len(key)} bytes long; it needs at least {MIN_KEY_BYTES} ({_KEY_HINT})",
            file=where,
        )
    return bytes(key)


def _hmac_sha256_hex(key: bytes, messages: Sequence[str]) -> list[str]:
    """HMAC-SHA256 (RFC 2104) of each message, hex: the key's inner and outer states are hashed once
    and copied per message (twice as fast as ``hmac.digest`` per value; same result)."""
    block = 64  # SHA-256 block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    out = []
    for text in messages:  # one hash per distinct identifier: no vectorised SHA-256 in numpy
        h = inner.copy()
        h.update(text.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        out.append(o.hexdigest())
    return out


def pseudonymise(
    data: pd.DataFrame,
    *,
    columns: str | Sequence[str],
    key: str | bytes,
    prefix: str = "p_",
    length: int = 16,
    file: str | None = None,
) -> pd.DataFrame:
    """Replace identifiers by keyed-hash pseudonyms (HMAC-SHA256), the same for the same key and id.

    Each identifier is trimmed of surrounding whitespace first (as the cleaning does), so ``" E1"``
    and ``"E1"`` get the same pseudonym; missing cells (blank, ``NULL``, ... see
    :data:`linkage.io.MISSING_TOKENS`) stay missing, so the cleaning still sets those rows aside.

    Parameters
    ----------
    data : DataFrame
        A table (not modified), typically an extract as :func:`linkage.io.read_table` gives it.
    columns : str or list of str
        The identifier columns, as named in ``data``. Other columns are left as they are.
    key : str or bytes
        The secret key (at least :data:`MIN_KEY_BYTES` bytes; see :func:`pseudonym_key`).
    prefix : str, default "p_"
        Put before each pseudonym, so a pseudonymised table is recognisable.
    length : int, default 16
        Hex digits kept of the 64-digit digest (16 digits = 64 bits: for a million people the chance
        that two share a pseudonym is below one in ten million, and a clash raises an error).
    file : str, optional
        How ``data`` is named in error messages.

    Returns
    -------
    DataFrame
        A copy of ``data`` whose ``columns`` hold ``prefix`` + ``length`` hex digits (string dtype),
        missing where the identifier was missing.

    Raises
    ------
    InputError
        A column not in ``data``, a short key, ``length`` outside 8..64, or two different
        identifiers with the same pseudonym (use a larger ``length``).

    Examples
    --------
    >>> import pandas as pd
    >>> key = "a key of at least sixteen bytes"
    >>> t = pd.DataFrame({"employee_id": ["E1", " E1", "E2", None], "unit_id": ["007"] * 4})
    >>> out = pseudonymise(t, columns="employee_id", key=key)
    >>> out["employee_id"].tolist()  # = hmac.new(key, b"E1", "sha256").hexdigest()[:16], ...
    ['p_79473acfb16969cb', 'p_79473acfb16969cb', 'p_fd81870c794e97e8', nan]
    >>> out["unit_id"].tolist() == t["unit_id"].tolist()  # unit ids untouched
    True
    >>> pseudonymise(t, columns="employee_id", key=key + "!")["employee_id"].iloc[0]
    'p_204d2e983dc0ea32'
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(data).__name__}", file=file or "table")
    label = file or "table"
    secret = pseudonym_key(key)
    if (
        isinstance(length, bool)
        or not isinstance(length, (int, np.integer))
        or not 8 <= length <= 64
    ):
        raise InputError(
            f"length must be a whole number of hex digits in 8..64, got {length!r}", file=label
        )
    cols = _as_list(columns)
    for col in cols:
        if col not in data.columns:
            raise InputError("identifier column not found", file=label, column=col)
    out = data.copy()
    for col in cols:
        text = as_text(out[col]).str.strip()
        text = text.where(text.notna() & ~text.isin(MISSING_TOKENS))
        codes, uniques = pd.factorize(text)  # missing -> -1
        digests = np.asarray(
            [prefix + h[:length] for h in _hmac_sha256_hex(secret, uniques.astype(str).tolist())],
            dtype=object,
        )
        if len(set(digests.tolist())) < len(digests):
            raise InputError(
                f"two different identifiers got the same pseudonym; use a larger "
                f"length than {length}",
                file=label,
                column=col,
            )
        values = np.full(len(codes), None, dtype=object)  # missing identifiers stay missing
        known = codes >= 0
        values[known] = digests[codes[known]]
        out[col] = pd.Series(values, index=out.index, dtype="str")
    return out
