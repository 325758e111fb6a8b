"""Reading extracts (CSV, Parquet, Excel) into a DataFrame of strings.

I/O only: no renaming, no type conversion beyond "every cell is text or missing". The cleaning layer
does the rest.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.errors import InputError

__all__ = ["read_table", "MISSING_TOKENS"]

#: Cell texts read as missing (after trimming surrounding whitespace). A blank cell is the usual one
#: ("still employed"); the others are what databases and spreadsheets write for "nothing".
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "None", "#N/A")

_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other MS Office binary files)
_SNIFF_BYTES = 64 * 1024
#: Longest cell accepted, in characters: what a spreadsheet cell holds (Excel's limit). A longer
#: cell in an extract is nearly always an unclosed quote that swallowed the rows after it.
MAX_CELL_CHARS = 32_767
_MAX_NAME_CHARS = 1_000  # a column name, even a descriptive one


def read_table(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read one extract into a DataFrame whose cells are all strings (or missing).

    The format is recognised from the file's content (Parquet and Excel files start with their own
    magic bytes), so an Excel workbook saved under a ``.csv`` name is still read. Text files may be
    UTF-8 with or without a byte-order mark (or UTF-16 with one), with LF or CRLF line endings, and
    comma, semicolon or tab separated (sniffed from the header line). Blank cells, and cells reading
    one of :data:`MISSING_TOKENS` such as ``NULL``, are missing. Surrounding whitespace is trimmed
    from the header names (not from the cells: the cleaning layer decides what to trim). Rows that
    are entirely blank are skipped. The file is only read, never modified.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` / ``.txt`` / ``.tsv`` text file, a ``.parquet`` file or an ``.xlsx`` workbook
        (first sheet).
    name : str, optional
        How the file is named in error messages and cleaning reports (default: its file name).
    encoding : str, optional
        Text encoding of a CSV file (default: UTF-8, or UTF-16 when the file starts with its
        byte-order mark). The error for a file that is not UTF-8 says which encoding to try.

    Returns
    -------
    pandas.DataFrame
        One column per column of the file (string dtype, missing cells as ``NaN``), indexed by the
        1-based data row number in the file (the header is row 0), index name ``"row"``. The
        cleaning layer reports set-aside rows by this number.

    Raises
    ------
    linkage.errors.InputError
        Missing file, empty file, a file that is not a table (binary content, legacy ``.xls``),
        ragged rows, duplicated or blank column names, a header without data rows, a cell longer
        than :data:`MAX_CELL_CHARS` characters, or text that is not in the expected encoding
        (UTF-16 without a byte-order mark included). The message names the file, on one line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = folder / "units.csv"
    >>> _ = path.write_bytes(b"\\xef\\xbb\\xbfunit_id;region\\r\\n007;North\\r\\n008;\\r\\n")
    >>> table = read_table(path)
    >>> table.to_dict(orient="index")
    {1: {'unit_id': '007', 'region': 'North'}, 2: {'unit_id': '008', 'region': nan}}
    >>> read_table(folder / "nope.csv")
    Traceback (most recent call last):
    ...
    linkage.errors.InputError: nope.csv: file not found
    """
    path = Path(path)
    label = name if name is not None else path.name
    if not path.exists():
        raise InputError("file not found", file=label)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=label)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as err:
        raise InputError(f"cannot be read ({err.strerror})", file=label) from None
    if not head.strip():
        raise InputError("file is empty", file=label)

    if head.startswith(_PARQUET_MAGIC):
        table = _read_parquet(path, label)
    elif head.startswith(_ZIP_MAGIC):
        table = _read_excel(path, label)
    elif head.startswith(_OLE_MAGIC):
        raise InputError(
            "is a legacy Excel (.xls) or other binary Office file: save it as .xlsx or CSV",
            file=label,
        )
    else:
        table = _read_text(path, label, head, encoding)
    return _finish(table, label)


# -- text ------------------------------------------------------------------------------------------


def _decode(raw: bytes, label: str, encoding: str | None) -> str:
    if encoding is not None:
        try:
            return raw.decode(encoding)
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r}", file=label) from None
        except UnicodeDecodeError as err:
            raise InputError(
                f"is not valid {encoding} text (byte {err.start})", file=label
            ) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise InputError(f"is not valid UTF-16 text (byte {err.start})", file=label) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        suggestion = _suggest_encoding(raw)
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"is not UTF-8 text (first bad byte 0x{raw[err.start]:02x} on line {line}); "
            f"it is probably {suggestion}: save it as UTF-8, or read it with "
            f"read_table(..., encoding={suggestion!r})",
            file=label,
        ) from None


def _suggest_encoding(raw: bytes) -> str:
    # cp1252 (Windows "ANSI", what Excel writes on Western European Windows) leaves 5 bytes
    # undefined; latin-1 decodes everything.
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _utf16_without_bom(head: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` when ``head`` reads as such text (ASCII-range text has a
    zero byte at every odd / even position), else None."""
    sample = head[: len(head) - len(head) % 2][:4096]
    if len(sample) < 4:
        return None
    for name, zeros, chars in (
        ("utf-16-le", sample[1::2], sample[0::2]),
        ("utf-16-be", sample[0::2], sample[1::2]),
    ):
        if zeros.count(0) >= 0.9 * len(zeros) and chars.count(0) == 0:
            try:
                sample.decode(name)
            except UnicodeDecodeError:
                continue
            return name
    return None


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (third-party messages may span several)."""
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _sniff_separator(header: str) -> str:
    counts = {sep: 0 for sep in (",", ";", "\t", "|")}
    in_quotes = False
    for char in header:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


_TOKENIZE_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_text(path: Path, label: str, head: bytes, encoding: str | None) -> pd.DataFrame:
    if (
        b"\x00" in head
        and encoding is None
        and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        utf16 = _utf16_without_bom(head)
        if utf16:
            raise InputError(
                f"is UTF-16 text without a byte-order mark: save it as UTF-8, or read it with "
                f"read_table(..., encoding={utf16!r})",
                file=label,
            )
        raise InputError("does not look like a table (binary content)", file=label)
    text = _decode(path.read_bytes(), label, encoding)
    if not text.strip():
        raise InputError("file is empty", file=label)
    text = text.lstrip(" \t\r\n")  # blank lines before the header
    header_line = re.split(r"\r\n|\r|\n", text[:_SNIFF_BYTES], maxsplit=1)[0]
    sep = _sniff_separator(header_line)
    try:
        header = next(csv.reader([header_line], delimiter=sep))
    except csv.Error as err:
        raise InputError(f"has an unreadable header line ({_one_line(err)})", file=label) from None
    names = [h.strip() for h in header]
    # some exports end every line with a separator: blank header cells at the end
    named = len(names)
    while named > 1 and not names[named - 1]:
        named -= 1
    trailing = len(names) - named
    _check_header(names[: len(names) - trailing], label)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,  # keep numbering; all-blank rows are dropped later
            skipinitialspace=False,
            engine="c",
        )
    except pd.errors.ParserError as err:
        m = _TOKENIZE_RE.search(str(err))
        if m:
            expected, line, saw = m.groups()
            raise InputError(
                f"line {line} has {saw} cells but the header has {expected} "
                f"(separator {sep!r}; is a cell missing its quotes?)",
                file=label,
            ) from None
        raise InputError(f"is not a readable table ({_one_line(err)})", file=label) from None
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=label) from None
    if trailing:
        extra = table.iloc[:, len(names) - trailing :]
        if all(
            extra.iloc[:, i].fillna("").astype("str").str.strip().eq("").all()
            for i in range(extra.shape[1])
        ):
            table = table.iloc[:, : len(names) - trailing]
        else:
            raise InputError(
                f"column {len(names) - trailing + 1} of the header has no name", file=label
            )
    # number the data rows as in the file (1-based, header excluded); blank ones are dropped later
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


# -- binary formats --------------------------------------------------------------------------------


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pd.read_parquet(path)
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise InputError(f"is not a readable Parquet file ({_one_line(err)})", file=label) from None
    # date columns (one date object per cell) as ISO text made by Arrow: the text str() gives
    # each date, without one Python call per cell (ten times quicker on 200,000 dates, measured)
    for field in schema:
        if pa.types.is_date(field.type) and table.get(field.name) is not None:
            col = table[field.name]
            if col.dtype == object:
                days = pa.array(col, type=pa.date32(), from_pandas=True)
                text = pc.cast(days, pa.string()).to_pandas()
                table[field.name] = pd.Series(text.to_numpy(), index=col.index, dtype="str")
    table = table.reset_index(drop=True)
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


def _read_excel(path: Path, label: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbooks without a default style (common in exports)
            warnings.simplefilter("ignore")
            # dtype=object: cells as openpyxl gives them (text "007" stays text, no inference)
            table = pd.read_excel(path, sheet_name=0, header=0, engine="openpyxl", dtype=object)
    except Exception as err:  # zip / openpyxl errors for a file that is not a workbook
        raise InputError(
            f"is not a readable Excel workbook ({_one_line(err)})", file=label
        ) from None
    table.columns = [str(c) for c in table.columns]
    # date cells as ISO text, whole numbers without ".0" (openpyxl already made one Python
    # object per cell, so one more call per cell does not change the order of the cost)
    table = pd.DataFrame(
        {c: table[c].map(_excel_cell, na_action="ignore") for c in table.columns},
        index=table.index,
    )
    # Excel row r+2 holds data row r+1 (header on Excel row 1): keep the data row number
    table.index = pd.RangeIndex(1, len(table) + 1)
    _check_header([c.strip() for c in table.columns], label, unnamed_prefix="Unnamed: ")
    return table


def _excel_cell(value: object) -> object:
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- common ----------------------------------------------------------------------------------------


def _check_header(names: list[str], label: str, unnamed_prefix: str | None = None) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        if not name or (unnamed_prefix and name.startswith(unnamed_prefix)):
            raise InputError(f"column {i} of the header has no name", file=label)
        if len(name) > _MAX_NAME_CHARS:
            raise InputError(
                f"column {i} of the header is {len(name):,} characters long (at most "
                f"{_MAX_NAME_CHARS:,}): is the first line a header?",
                file=label,
            )
        if any(ch in name for ch in "\r\n\x00"):
            raise InputError(
                f"column {i} of the header has a line break in its name {name!r}", file=label
            )
        if name in seen:
            raise InputError(f"column {name!r} appears twice in the header", file=label)
        seen.add(name)


def as_text(col: pd.Series) -> pd.Series:
    """One column as strings, missing as NaN; integral floats print without '.0'."""
    if isinstance(col.dtype, pd.StringDtype) or col.dtype == object:
        out = col.astype("str")
        return out.where(col.notna())
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.astype("str").where(col.notna())
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        values = col.dt.tz_localize(None) if getattr(col.dt, "tz", None) is not None else col
        midnight = values.dropna().dt.normalize().eq(values.dropna()).all()
        fmt = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S"
        return values.dt.strftime(fmt).astype("str").where(values.notna())
    if pd.api.types.is_float_dtype(col.dtype):
        finite = col.dropna()
        if len(finite) and np.all(np.mod(finite.to_numpy(dtype="float64"), 1) == 0):
            return col.astype("Int64").astype("str").where(col.notna())
        return col.astype("str").where(col.notna())
    return col.astype("str").where(col.notna())


def _text_column(col: pd.Series, label: str, name: str) -> pd.Series:
    """:func:`as_text`, or the package's error for values that have no text form (a Parquet
    binary column of bytes that are not UTF-8, for instance)."""
    try:
        return as_text(col)
    except (UnicodeDecodeError, TypeError, ValueError) as err:
        raise InputError(
            f"holds values that are not text ({type(err).__name__})", file=label, column=name
        ) from None


def _finish(table: pd.DataFrame, label: str) -> pd.DataFrame:
    table.columns = [str(c).strip() for c in table.columns]
    _check_header(list(table.columns), label)
    if len(table.columns) == 0:
        raise InputError("has no columns", file=label)
    out = pd.DataFrame(
        {c: _text_column(table[c], label, c) for c in table.columns}, index=table.index
    )
    # missing tokens: blank cells and the usual database spellings of "nothing"
    tokens = set(MISSING_TOKENS)
    for c in out.columns:
        col = out[c]
        stripped = col.str.strip()
        out[c] = col.where(~stripped.isin(tokens) & col.notna())
    for c in out.columns:
        lengths = out[c].str.len()
        if lengths.max() > MAX_CELL_CHARS:  # NaN-safe: all-missing columns give NaN > n == False
            where = lengths.to_numpy(dtype=float)
            first = int(np.flatnonzero(where > MAX_CELL_CHARS)[0])
            raise InputError(
                f"a cell of {int(where[first]):,} characters (a spreadsheet cell holds at most "
                f"{MAX_CELL_CHARS:,}); is a quote left open?",
                file=label,
                row=int(out.index[first]),
                column=c,
            )
    blank = out.isna().all(axis=1)
    if blank.any():
        out = out.loc[~blank]
    if len(out) == 0:
        raise InputError("has a header but no data rows", file=label)
    out.index.name = "row"
    return out
