"""Identifier leak test: everything the dashboards, their downloads and the report show to people.

On the sample (``data/sample``: employees.csv / customers.csv hold the person identifiers) this:

- executes every dashboard notebook in ``notebooks/dashboards/`` (nbclient, ``$LINKAGE_PANEL`` at
  the sample panel) and opens the executive dashboard's downloads section, as a viewer would;
- renders the static report with ``linkage report``;
- builds the unit-table download of every selection the executive dashboard offers;

and executes them again as the kernels of two scoped viewers (``linkage dashboard --scopes``: the
viewer's scope in a file named by the kernel's id), the unit table and the sections "The whole
chain" and "When someone leaves" opened (the latter opened by the unscoped run too); then searches every output (text, HTML with entities resolved, widget state, image alt text, the
text chunks of PNG images, every ``data:`` URI decoded, CSV bytes) for any ``employee_id`` or
``customer_id`` value of the sample, and checks that every unit whose figure comes from fewer than
k people reads "suppressed" in every unit table (HTML and CSV); a scoped viewer's outputs are
also searched for every unit, region and district outside their scope, and their small units are
suppressed within it. The last tests plant leaks in a tiny
fake output and show that the checks catch them. Figures drawn inside PNG images are not read here
(``linkage.app`` masks small groups before drawing; tests/test_app.py covers that).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import base64
import binascii
import csv
import html
import io
import pathlib
import re
import struct
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser

import nbformat
import numpy as np
import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
PANEL = SAMPLE / "panel.csv"
DASHBOARDS = sorted((ROOT / "notebooks" / "dashboards").glob("*.ipynb"))
K = 5
SUPPRESSED = "suppressed"

# what a viewer does after the page has loaded: open the section with the unit table and downloads
OPEN_DOWNLOADS = """\
for _name in ("dashboard", "explorer"):
    _box = getattr(globals().get(_name), "table_box", None)
    if _box is not None:
        _box.selected_index = 0
"""
# and the section "When someone leaves" (event studies; the relationship finding)
OPEN_EVENTS = """\
_events = getattr(globals().get("dashboard"), "events_view", None)
if _events is not None:
    _events.widget.selected_index = 0
"""


# -- the identifiers ---------------------------------------------------------------------------------


#: Columns of the sample's files that hold a person (or a person's response) identifier.
PERSON_COLUMNS = ("employee_id", "customer_id", "respondent_id", "response_id", "Employee ID",
                  "Account ID")


def sample_identifiers() -> set[str]:
    """Every person identifier of the sample: the employee_id and customer_id values of
    employees.csv and customers.csv (canonical files and the raw export), and those of any other
    sample file with a person identifier column (survey respondents, customer segments)."""
    ids = set()
    for path in sorted(SAMPLE.glob("*.csv")) + sorted((SAMPLE / "raw").glob("*.csv")):
        text = path.read_text(encoding="utf-8-sig")
        header = text.split("\n", 1)[0]
        sep = ";" if header.count(";") > header.count(",") else ","
        rows = csv.DictReader(io.StringIO(text), delimiter=sep)
        for col in (c for c in rows.fieldnames if c.strip() in PERSON_COLUMNS):
            rows = csv.DictReader(io.StringIO(text), delimiter=sep)
            ids |= {r[col].strip() for r in rows if r[col] and r[col].strip()}
    return ids


# -- every text an output holds ------------------------------------------------------------------------

_DATA_URI = re.compile(r"data:([\w.+/-]+)?(;[\w-]+=[\w.-]+)*;base64,([A-Za-z0-9+/=\s]+)")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_texts(data: bytes) -> list[str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG image: its metadata, where words can hide."""
    out, pos = [], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            name, _, rest = body.partition(b"\0")
            out.append(name.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            name, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, text = rest.partition(b"\0")  # translated keyword
            text = zlib.decompress(text) if compressed else text
            out.append(name.decode("latin-1") + " " + text.decode("utf-8", "replace"))
        elif kind == b"IEND":
            break
    return out


def _decoded(mime: str, payload: bytes, where: str) -> Iterator[tuple[str, str, str]]:
    if payload.startswith(_PNG_SIGNATURE):
        yield where + " (PNG)", "png", ""
        for text in png_texts(payload):
            yield where + " (PNG text)", "text", text
    elif mime.startswith("image/svg") or mime.startswith("text/") or mime in ("application/json",):
        yield where + f" ({mime})", "csv" if mime == "text/csv" else "text", payload.decode(
            "utf-8", "replace")
    else:
        yield where + f" ({mime or 'bytes'})", "text", payload.decode("latin-1")


def texts(obj, where: str = "") -> Iterator[tuple[str, str, str]]:
    """Every text in a notebook (or any JSON-like object): ``(where, kind, text)``.

    ``data:`` URIs are decoded (CSV as text, PNG images as their text chunks), base64 PNG output
    bundles likewise, HTML entities resolved; ``kind`` is ``"csv"`` for a CSV download."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = f"{where}/{key}"
            if key.startswith("image/") and key != "image/svg+xml" and isinstance(value, str):
                try:
                    payload = base64.b64decode(value)
                except (binascii.Error, ValueError):
                    yield sub, "text", value
                    continue
                yield from _decoded(key, payload, sub)
            else:
                yield from texts(value, sub)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from texts(value, f"{where}[{i}]")
    elif isinstance(obj, str):
        for m in _DATA_URI.finditer(obj):
            try:
                payload = base64.b64decode(re.sub(r"\s", "", m.group(3)))
            except (binascii.Error, ValueError):
                continue
            yield from _decoded(m.group(1) or "", payload, where + " data: URI")
        plain = _DATA_URI.sub("data:...", obj)
        yield where, "text", plain
        unescaped = html.unescape(plain)
        if unescaped != plain:
            yield where + " (entities resolved)", "text", unescaped


_WORD = re.compile(r"[A-Za-z0-9]+")


def find_identifiers(text: str, ids: set[str], others: set[str] | None = None) -> set[str]:
    """Identifiers occurring in ``text`` as a whole word (not inside a longer word or number).

    ``others``: the identifiers that are not made of letters and digits only (computed from ``ids``
    when not given; :func:`leaks` computes them once)."""
    found = set(_WORD.findall(text)) & ids  # identifiers made of letters and digits
    if others is None:
        others = {i for i in ids if not i.isalnum()}
    for other in others:  # any others (few): searched one by one
        if other in text and re.search(
                r"(?<![A-Za-z0-9])" + re.escape(other) + r"(?![A-Za-z0-9])", text):
            found.add(other)
    return found


def leaks(obj, ids: set[str]) -> list[tuple[str, str]]:
    """``(where, identifier)`` for every identifier found in any text of ``obj``."""
    others = {i for i in ids if not i.isalnum()}
    return [(where, i) for where, _, text in texts(obj)
            for i in sorted(find_identifiers(text, ids, others))]


# -- unit tables and small units -----------------------------------------------------------------------


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def unit_tables(obj) -> list[tuple[str, pd.DataFrame]]:
    """Every unit table in ``obj``'s texts: HTML tables and CSV downloads with a unit id column,
    column names as identifiers (``employee_retention``)."""
    found = []
    for where, kind, text in texts(obj):
        if where.endswith("(entities resolved)"):  # the parser resolves entities itself
            continue
        if kind == "csv":
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            if "unit_id" in frame.columns:
                found.append((where, frame))
            continue
        if "<table" not in text:
            continue
        parser = _Tables()
        parser.feed(text)
        for rows in parser.tables:
            if len(rows) < 2:
                continue
            header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
            if "unit_id" in header:
                body = [r for r in rows[1:] if len(r) == len(header)]
                found.append((where, pd.DataFrame(body, columns=header)))
    return found


def small_units(panel: pd.DataFrame, k: int = K) -> set[str]:
    """Units whose figures over the whole panel come from fewer than ``k`` people on average (the
    unit table's head counts), computed here from the panel without linkage."""
    means = panel.groupby("unit_id")[["employee_start", "customer_start"]].mean()
    return set(means.index[(means < k).any(axis=1)])


def unsuppressed(table: pd.DataFrame, small: set[str]) -> list[str]:
    """Small units of ``table`` whose head counts or rates are shown as figures."""
    figures = [c for c in ("employees", "customers", "employee_retention", "customer_retention")
               if c in table.columns]
    rows = table.loc[table["unit_id"].isin(small), ["unit_id", *figures]]
    shown = rows[figures].ne(SUPPRESSED).any(axis=1)
    return rows.loc[shown, "unit_id"].tolist()


# -- running the dashboards and the report ---------------------------------------------------------


@pytest.fixture(scope="module")
def ids() -> set[str]:
    found = sample_identifiers()
    # 3,060 employees and 29,036 customers (plus the raw export's), and the survey respondents
    assert {"E00001", "C00001"} <= found and len(found) > 30_000
    return found


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(PANEL, dtype={"unit_id": str})


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """Every dashboard notebook executed on the sample panel (both at once: two kernels)."""
    from nbclient import NotebookClient

    work = tmp_path_factory.mktemp("dashboards")
    books = {}
    for path in DASHBOARDS:
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(OPEN_DOWNLOADS))
        nb.cells.append(nbformat.v4.new_code_cell(OPEN_EVENTS))
        books[path.stem] = nb

    async def run_all():
        clients = [NotebookClient(nb, timeout=240, kernel_name="python3",
                                  resources={"metadata": {"path": str(work)}})
                   for nb in books.values()]
        await asyncio.gather(*(c.async_execute() for c in clients))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINKAGE_PANEL", str(PANEL))
        # in a thread of its own: a session-wide Playwright (tests/browser) keeps an event loop
        # running in the main thread, where asyncio.run() refuses to start another
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run_all()).result()
    return books


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> str:
    from linkage.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(PANEL), "--out", str(out), "--n-boot", "20"]) == 0
    return out.read_text(encoding="utf-8")


def test_every_dashboard_notebook_ran(executed):
    assert {"executive", "unit_explorer"} <= set(executed)
    for name, nb in executed.items():
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, name
        assert "widgets" in nb.metadata, name  # the widget state is part of what is searched


def test_dashboards_show_no_person_identifier(executed, ids):
    for name, nb in executed.items():
        assert leaks(nb, ids) == [], name
    # the search saw what a viewer sees: figures (alt text, PNG chunks), the unit table, the CSV
    every = [(where, kind, text) for nb in executed.values() for where, kind, text in texts(nb)]
    assert any(kind == "csv" for _, kind, _ in every)
    assert any(kind == "png" for _, kind, _ in every)
    assert any("alt='Trends by group'" in text for _, _, text in every)
    # the section "When someone leaves" was searched too: its picture and the company finding
    assert any('alt="Event study of manager_departure"' in text for _, _, text in every)
    assert any('alt="Event study of staff_shock"' in text for _, _, text in every)
    assert any("times as likely to leave" in text for _, _, text in every)


def test_dashboards_show_small_units_as_suppressed(executed, panel):
    small = small_units(panel)
    assert len(small) >= 3  # the sample has units below k = 5
    tables = unit_tables(executed["executive"])
    kinds = {"csv" if "text/csv" in where else "html" for where, _ in tables}
    assert kinds == {"csv", "html"}  # the on-page table and the CSV download
    for where, table in tables:
        assert small & set(table["unit_id"]), where
        assert unsuppressed(table, small) == [], where


_LINK = re.compile(r"<a class='linkage-point[^']*' href='unit_explorer\.ipynb\?unit=([^'&]+)'")


def linked_units(obj) -> set[str]:
    """Units the executive's quadrant links (each with its hover text and a link to the unit
    explorer), in any text of ``obj``."""
    return {u for _, _, text in texts(obj) for u in _LINK.findall(text)}


def test_quadrant_links_leave_small_units_out(executed, panel):
    linked = linked_units(executed["executive"])
    assert len(linked) >= 80 and not linked & small_units(panel)


def test_report_shows_no_identifier_and_suppresses_small_units(report_html, ids, panel):
    assert leaks(report_html, ids) == []
    tables = unit_tables(report_html)
    assert len(tables) == 1
    small = small_units(panel)
    assert small <= set(tables[0][1]["unit_id"])
    assert unsuppressed(tables[0][1], small) == []


@pytest.fixture(scope="module")
def dash_data():
    from linkage.app import DashboardData, load_panel

    return DashboardData(load_panel(PANEL), k=K, n_boot=20)


@pytest.fixture(scope="module")
def downloads(dash_data) -> list[tuple[str, str, pd.DataFrame, bytes]]:
    """``(attribute, value, table, CSV bytes)`` of the unit-table download of every selection the
    executive dashboard offers (every attribute: all units, then each value)."""
    from linkage.app import ALL, Selection
    from linkage.app.executive import unit_table_csv

    out = []
    for attribute in dash_data.attributes:
        for value in [ALL, *dash_data.values[attribute]]:
            payload = unit_table_csv(dash_data.unit_table(Selection(attribute=attribute, value=value)))
            frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
            out.append((attribute, value, frame, payload))
    return out


def test_unit_explorer_on_a_small_unit_shows_no_figure_of_it(dash_data, panel, ids):
    from linkage.app.explorer import WINDOW, UnitExplorer

    recent = panel.loc[panel["period"] >= sorted(panel["period"].unique())[-WINDOW]]
    small = sorted(small_units(recent))
    assert small
    ex = UnitExplorer(dash_data, unit=small[0])
    text = html.unescape(ex.summary.value)
    assert f"Unit {small[0]}" in text
    assert "suppressed" in text and not re.search(r"\d+(\.\d)?% a month", text)
    assert leaks([ex.summary.value, ex.series.value, ex.standing.value], ids) == []


def test_every_selections_download_has_no_identifier(downloads, ids, panel):
    from linkage.app import ALL

    assert len(downloads) > 20
    for attribute, value, frame, payload in downloads:
        assert leaks(payload.decode("utf-8"), ids) == [], (attribute, value)
    small = small_units(panel)
    for attribute, value, frame, _ in downloads:
        if value == ALL:  # every unit, in groups that add up to the attribute's totals
            assert small <= set(frame["unit_id"])
            assert unsuppressed(frame, small) == [], (attribute, value)


def test_every_single_group_download_suppresses_small_units(downloads, panel):
    from linkage.app import ALL

    small = small_units(panel)
    shown = {(a, v): unsuppressed(frame, small) for a, v, frame, _ in downloads if v != ALL}
    assert {key: units for key, units in shown.items() if units} == {}


# -- scoped viewers (linkage dashboard --scopes) --------------------------------------------------------

#: Two viewers' scopes: a region, and a cut across regions by size (a district can then be partly
#: inside). Their kernels get them as the server hands them over: a file named by the kernel's id.
SCOPES = {"alice": {"region": ["East"]},
          "carol": {"region": ["South", "West"], "size_band": ["large"]}}

# what a viewer can open besides the unit table: the section "The whole chain"
OPEN_CHAIN = """\
_chain = getattr(globals().get("dashboard"), "chain_view", None)
if _chain is not None:
    _chain.widget.selected_index = 0
"""


def scope_units(panel: pd.DataFrame, scope: dict[str, list[str]]) -> set[str]:
    """The units inside a scope, computed here from the panel without linkage."""
    units = panel.drop_duplicates("unit_id")
    keep = np.ones(len(units), dtype=bool)
    for attr, values in scope.items():
        keep &= units[attr].astype(str).isin(values).to_numpy()
    return set(units.loc[keep, "unit_id"])


def outside_names(panel: pd.DataFrame, inside: set[str]) -> dict[str, set[str]]:
    """What must not reach a viewer whose units are ``inside``: the other units, and the regions
    and districts that hold none of theirs."""
    units = panel.drop_duplicates("unit_id")
    mine = units["unit_id"].isin(inside)
    names = set()
    for attr in ("region", "district"):
        names |= set(units.loc[~mine, attr]) - set(units.loc[mine, attr])
    return {"names": names, "units": set(units.loc[~mine, "unit_id"])}


_UNIT_WORD = re.compile(r"(?<![\w.,#])(\d{3})(?![\w.%])")  # not 0.001, 100%, #555


def out_of_scope(obj, banned: dict[str, set[str]]) -> list[tuple[str, str]]:
    """``(where, name)`` for every unit, region or district outside the scope in any text of
    ``obj``: unit ids as whole three-digit words, names as whole words (``South-1``, not inside
    ``South-10``); every unit table's unit ids besides."""
    hits = []
    for where, _, text in texts(obj):
        for name in banned["names"]:
            if name in text and re.search(
                    r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text):
                hits.append((where, name))
        hits += [(where, u) for u in sorted(set(_UNIT_WORD.findall(text)) & banned["units"])]
    for where, table in unit_tables(obj):
        hits += [(where + " (table)", u) for u in sorted(set(table["unit_id"]) & banned["units"])]
    return hits


@pytest.fixture(scope="module")
def scoped_runs(tmp_path_factory) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """Every dashboard notebook executed as each scoped viewer's kernel, the unit table and the
    whole-chain section opened: ``{viewer: {notebook: executed}}``."""
    import json
    import os
    import uuid

    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("scopes")
    work = tmp_path_factory.mktemp("scoped")
    out = {}
    for user, scope in SCOPES.items():
        kernel_id = str(uuid.uuid4())
        (folder / f"{kernel_id}.json").write_text(json.dumps({"user": user, "scope": scope}))
        env = {**os.environ, "LINKAGE_PANEL": str(PANEL), "LINKAGE_SCOPE_DIR": str(folder),
               "VOILA_KERNEL_ID": kernel_id}
        books = {}
        for path in DASHBOARDS:
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(OPEN_DOWNLOADS))
            nb.cells.append(nbformat.v4.new_code_cell(OPEN_CHAIN))
            nb.cells.append(nbformat.v4.new_code_cell(OPEN_EVENTS))
            books[path.stem] = nb

        async def run_all(books=books, env=env):
            clients = [NotebookClient(nb, timeout=300, kernel_name="python3",
                                      resources={"metadata": {"path": str(work)}})
                       for nb in books.values()]
            await asyncio.gather(*(c.async_execute(env=env) for c in clients))

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run_all()).result()
        out[user] = books
    return out


def test_every_scoped_viewer_sees_only_their_units(scoped_runs, panel, ids):
    for user, books in scoped_runs.items():
        inside = scope_units(panel, SCOPES[user])
        banned = outside_names(panel, inside)
        assert 5 <= len(inside) <= 40 and banned["units"]
        for name, nb in books.items():
            errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
            assert not errors, (user, name)
            assert "widgets" in nb.metadata, (user, name)
            assert leaks(nb, ids) == [], (user, name)  # no person either
            assert out_of_scope(nb, banned) == [], (user, name)
        # what was searched holds the viewer's own units: the unit table, its CSV, the watchlist
        tables = unit_tables(books["executive"])
        assert {"csv", "html"} <= {"csv" if "text/csv" in w else "html" for w, _ in tables}
        assert any(set(t["unit_id"]) == inside for _, t in tables), user
        every = " ".join(text for _, _, text in texts(books["executive"]))
        assert "Units to visit" in every and "Trends by group" in every
        # "When someone leaves": the whole company's relationship finding is not theirs to see
        assert "measured across the whole company" in every, user
        assert "times as likely to leave" not in every and "per departing employee" not in every


def test_every_scoped_viewer_sees_small_units_suppressed_within_the_scope(scoped_runs, panel):
    checked = 0
    for user, books in scoped_runs.items():
        inside = scope_units(panel, SCOPES[user])
        small = small_units(panel.loc[panel["unit_id"].isin(inside)])
        for where, table in unit_tables(books["executive"]):
            if "employee_retention" in table.columns:
                assert unsuppressed(table, small) == [], (user, where)
                checked += len(small & set(table["unit_id"]))
    # East holds 3 units below k = 5 on the sample (the large units of carol's scope none)
    assert checked >= 4


def test_every_scoped_viewers_quadrant_links_are_their_own_units_above_k(scoped_runs, panel):
    for user, books in scoped_runs.items():
        inside = scope_units(panel, SCOPES[user])
        small = small_units(panel.loc[panel["unit_id"].isin(inside)])
        linked = linked_units(books["executive"])
        assert linked and linked <= inside - small, user


def test_the_scope_search_finds_units_outside_the_scope(executed, panel):
    """The same search on the unscoped dashboards (every unit): it sees what it looks for."""
    inside = scope_units(panel, SCOPES["alice"])
    found = {name for _, name in out_of_scope(executed["executive"], outside_names(panel, inside))}
    assert {"South", "Central", "North", "West"} <= found
    assert len(found & outside_names(panel, inside)["units"]) > 50
    planted = {"text/html": "<p>p = 0.042, 42%, #042, 1042, South-10</p><td>042</td>"}
    assert out_of_scope(planted, {"names": {"South-1"}, "units": {"042"}}) == [
        ("/text/html", "042")]


# -- the checks can fail -----------------------------------------------------------------------------


def _png_with_text(text: str) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (_PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"tEXt", b"Title\0" + text.encode())
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


def _fake_notebook(csv_text: str, table_html: str) -> dict:
    uri = "data:text/csv;base64," + base64.b64encode(csv_text.encode()).decode()
    png = base64.b64encode(_png_with_text("customer C90004")).decode()
    return {
        "cells": [{"cell_type": "code", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "rows of E90001 (E-90006)\n"},
            {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"}},
        ]}],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {
            "m1": {"model_name": "HTMLModel", "state": {
                "value": f"<img alt='E90002' src='x'/><a download='u.csv' href='{uri}'>CSV</a>"}},
            "m2": {"model_name": "HTMLModel", "state": {"value": "<b>&#67;90005</b>" + table_html}},
        }}}},
    }


def test_planted_leaks_are_caught():
    ids = {"E90001", "E90002", "C90003", "C90004", "C90005", "E9", "E-90006"}
    csv_text = "unit_id,employees,employee_retention\n001,C90003,0.5\n"
    found = leaks(_fake_notebook(csv_text, ""), ids)
    assert {i for _, i in found} == {"E90001", "E90002", "C90003", "C90004", "C90005", "E-90006"}
    places = {i: where for where, i in found}
    assert "text/csv" in places["C90003"] and "PNG text" in places["C90004"]
    assert "entities resolved" in places["C90005"]
    # whole words only: "E9" inside E90001 is no hit, a unit id "1001" does not match "001"
    assert find_identifiers("E90001 and 1001 xE-90006", {"E9", "001", "E-90006"}) == set()


def test_a_planted_quadrant_link_is_found():
    page = {"text/html": "<div><a class='linkage-point tip-left' "
                         "href='unit_explorer.ipynb?unit=042' data-unit='042'>x</a></div>"}
    assert linked_units(page) == {"042"} and linked_units({"text/html": "unit=042"}) == set()


def test_a_small_unit_shown_as_a_figure_is_caught():
    panel = pd.DataFrame({"unit_id": ["a", "a", "b", "b"], "employee_start": [3, 4, 10, 12],
                          "customer_start": [50, 50, 60, 60]})
    small = small_units(panel)
    assert small == {"a"}
    leaky = ("<table><tr><th>unit id</th><th>employees</th><th>employee retention</th></tr>"
             "<tr><td>a</td><td>3.5</td><td>90.0%</td></tr>"
             "<tr><td>b</td><td>11</td><td>95.0%</td></tr></table>")
    csv_ok = "unit_id,employees,employee_retention\na,suppressed,suppressed\nb,11,0.95\n"
    tables = unit_tables(_fake_notebook(csv_ok, leaky))
    verdict = {("csv" if "text/csv" in where else "html"): unsuppressed(t, small)
               for where, t in tables}
    assert verdict == {"html": ["a"], "csv": []}
    # rates alone shown (head count suppressed) is still a leak
    half = pd.DataFrame({"unit_id": ["a"], "employees": [SUPPRESSED], "employee_retention": ["0.9"]})
    assert unsuppressed(half, small) == ["a"]
    assert np.isfinite(panel["employee_start"]).all()
