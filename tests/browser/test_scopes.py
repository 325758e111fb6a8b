"""Each leader their own view, in headless Chromium: two people side by side, one refused.

The server runs as ``linkage dashboard --scopes`` runs it (the scopes checked and resolved by
:func:`linkage.app.serve.prepare_scopes`, the person in ``X-Forwarded-User``). Alice sees the
North region, Carol the South; each page's whole HTML (the document Voila sent and the page as
drawn) and every websocket message the kernel sent to it (widget state, dropdown options, figures,
the unit table and its download, the whole-chain section) is searched for the other's units. A
request without the header, or naming a person not in the file, gets 403 and starts no kernel.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request

import pytest

from conftest import DASHBOARDS, ROOT, STUCK, VoilaServer, assert_no_error

pytestmark = pytest.mark.browser

PANEL = ROOT / "data" / "sample" / "panel.csv"
HEADER = "X-Forwarded-User"
SCOPES = """users:
  alice: {region: [North]}
  carol: {region: [South]}
  bob: all
"""
READY = ".linkage-executive img[alt='Lag profile']"


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    from linkage.app import load_panel
    from linkage.app.serve import prepare_scopes

    work = tmp_path_factory.mktemp("scoped")
    (work / "scopes.yaml").write_text(SCOPES, encoding="utf-8")
    frame = load_panel(PANEL)
    folder, args = prepare_scopes(work / "scopes.yaml", frame, user_header=HEADER)
    server = VoilaServer(DASHBOARDS, work / "voila.log",
                         env={"LINKAGE_PANEL": str(PANEL), "LINKAGE_SCOPE_DIR": str(folder)},
                         extra=tuple(args))
    try:
        assert server.pool_filled("executive.ipynb") and server.pool_filled("unit_explorer.ipynb")
        yield server, frame, folder
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Viewer:
    """One person's browser context: every document and websocket message it received."""

    def __init__(self, browser, user: str | None):
        headers = {HEADER: user} if user is not None else {}
        self.context = browser.new_context(extra_http_headers=headers,
                                           viewport={"width": 1280, "height": 900})
        self.received: list[str] = []
        self.responses: list = []

    def _listen(self, page) -> None:
        def on_ws(ws):
            ws.on("framereceived", lambda payload: self.received.append(
                payload if isinstance(payload, str) else payload.decode("utf-8", "replace")))
        page.on("websocket", on_ws)

    def open(self, url: str):
        page = self.context.new_page()
        self._listen(page)
        self.responses.append(page.goto(url, wait_until="commit", timeout=60_000))
        return page

    def everything(self, page) -> str:
        """The page as drawn, the documents as sent, and every websocket message received."""
        docs = []
        for resp in self.responses:
            try:
                docs.append(resp.text())
            except Exception:  # noqa: BLE001 - a document still streaming when the page closed
                pass
        return "\n".join([page.content(), *docs, *self.received])

    def close(self) -> None:
        for page in self.context.pages:
            page.close(run_before_unload=True)
        self.context.close()


def _ready(viewer: Viewer, page, url: str, selector: str):
    """Wait for ``selector``; reload once if Voila stopped at "Executing 2 of 3"."""
    try:
        page.wait_for_selector(selector, state="visible", timeout=180_000)
        return page
    except Exception:
        if STUCK not in page.content():
            raise
        page.close(run_before_unload=True)
        page = viewer.open(url)
        page.wait_for_selector(selector, state="visible", timeout=180_000)
        return page


def _open_sections(page) -> None:
    """What a viewer can open: the unit table with its downloads, and the whole chain."""
    page.get_by_text("Downloads and the unit table").click()
    page.wait_for_selector(".linkage-table table", timeout=60_000)
    page.get_by_text("The whole chain").click()
    page.wait_for_function("() => { const t = document.querySelector('.linkage-chain');"
                           " return t && /Units to visit/.test(t.innerText)"
                           " && !/Computing the chain/.test(t.innerText); }", timeout=180_000)


def outside(frame, region: str) -> dict[str, set[str]]:
    """What must not reach a viewer of ``region``: other regions, their districts, their units."""
    units = frame.drop_duplicates("unit_id")
    other = units.loc[units["region"] != region]
    return {"regions": set(other["region"]), "districts": set(other["district"]),
            "units": set(other["unit_id"])}


_CHROME = re.compile(r"<style[^>]*>.*?</style>|data:[^'\")\s]*", re.S)
# head counts, which can equal a unit id ("about 14 employees and 100 customers", and the unit
# table's employees and customers cells after the opened date): not names
_COUNTS = re.compile(r"\d+(?= (?:employees|customers)\b)")
_COUNT_CELLS = re.compile(
    r"(\d{4}-\d{2}-\d{2}</td>(?:\s|\\n)*<td>)\d+(</td>(?:\s|\\n)*<td>)\d+(?=</td>)")


def found(text: str, banned: dict[str, set[str]]) -> list[str]:
    """Banned names in ``text`` as whole words (a unit id not inside a number such as 0.001).

    Style sheets and ``data:`` URIs (icons, the figures' pixels) are left out: their numbers are
    drawing instructions (the figures' own texts are searched by tests/test_privacy_outputs.py);
    so are head counts (a unit of 100 customers is not unit 100)."""
    text = _COUNT_CELLS.sub(r"\1#\2#", _COUNTS.sub("#", _CHROME.sub(" ", text)))
    hits = []
    for name in banned["regions"] | banned["districts"]:
        if re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text):
            hits.append(name)
    words = set(re.findall(r"(?<![\w.,])(\d{3})(?![\w.%])", text))
    hits += sorted(words & banned["units"])
    return hits


def context(text: str, hits: list[str]) -> list[str]:
    """Where the hits are (for the failure message)."""
    out = []
    for hit in hits:
        for m in list(re.finditer(re.escape(hit), text))[:3]:
            out.append(text[max(0, m.start() - 80):m.end() + 40])
    return out


def test_two_people_side_by_side_see_only_their_units(scoped, browser, screenshots):
    server, frame, folder = scoped
    url = f"{server.url}/voila/render/executive.ipynb"
    alice, carol = Viewer(browser, "alice"), Viewer(browser, "carol")
    try:
        pages = {"alice": alice.open(url), "carol": carol.open(url)}  # arriving together
        pages["alice"] = _ready(alice, pages["alice"], url, READY)
        pages["carol"] = _ready(carol, pages["carol"], url, READY)
        for name, viewer, region, mine in (("alice", alice, "South", "North"),
                                           ("carol", carol, "North", "South")):
            page = pages[name]
            assert_no_error(page)
            _open_sections(page)
            assert_no_error(page)
            page.screenshot(path=str(screenshots / f"scoped_{name}.png"), full_page=True)
            # what they see is theirs: the "Show" options are districts of their region only
            options = [o.replace("\xa0", " ") for o in  # ipywidgets writes spaces as nbsp
                       page.get_by_label("Show", exact=True).locator("option").all_inner_texts()]
            assert len(options) > 2 and all(o == "All units" or o.startswith(mine) for o in options)
            own_units = set(frame.loc[frame["region"] == mine, "unit_id"])
            table = page.inner_text(".linkage-table table")
            assert set(re.findall(r"^(\d{3})\b", table, re.M)) <= own_units
            assert len(set(re.findall(r"^(\d{3})\b", table, re.M))) == len(own_units)
            # nothing of anyone else's, anywhere they received
            everything = viewer.everything(page)
            assert len(viewer.received) > 20 and "Units to visit" in everything
            hits = found(everything, outside(frame, mine))
            assert hits == [], (name, context(everything, hits))
            assert region not in everything
        # the kernels were bound to them: each scope file names its person
        bound = {json.loads(p.read_text())["user"]: json.loads(p.read_text())["scope"]
                 for p in folder.glob("*-*.json")}
        assert bound["alice"] == {"region": ["North"]} and bound["carol"] == {"region": ["South"]}
    finally:
        alice.close()
        carol.close()


def test_the_planted_unit_is_found():
    banned = {"regions": {"South"}, "districts": {"South-2"}, "units": {"042"}}
    assert found("p = 0.042, 42%, 1042, 2023-01-01", banned) == []
    assert found("<option>042 (South-2)</option>", banned) == ["South-2", "042"]
    assert found("region South", banned) == ["South"]


def test_the_explorer_keeps_to_the_scope(scoped, browser):
    server, frame, _ = scoped
    south = sorted(frame.loc[frame["region"] == "South", "unit_id"].unique())
    url = f"{server.url}/voila/render/unit_explorer.ipynb?unit={south[0]}"  # not Alice's
    alice = Viewer(browser, "alice")
    try:
        page = _ready(alice, alice.open(url), url, "img[alt='unit standing']")
        assert_no_error(page)
        labels = page.get_by_label("Unit", exact=True).locator("option").all_inner_texts()
        north = set(frame.loc[frame["region"] == "North", "unit_id"])
        assert {label.replace("\xa0", " ").split()[0] for label in labels} == north
        assert f"Unit {south[0]}" not in page.inner_text("body")
        # the only place the South unit may appear is where the page repeats her own request
        # (the address she typed and the notice that there is no such unit for her)
        assert "There is no unit" in page.inner_text("body")
        everything = alice.everything(page)
        asked = re.escape(south[0])
        everything = re.sub(rf"unit=({asked})(?!\w)|no unit \W*{asked}\W", " ", everything)
        hits = found(everything, outside(frame, "North"))
        assert hits == [], context(everything, hits)
        # the same search finds her own units and districts: it can see what it looks for
        own = {"regions": set(), "districts": {"North-1"}, "units": north}
        assert len(found(everything, own)) > 10
    finally:
        alice.close()


def _get(url: str, user: str | None) -> int:
    request = urllib.request.Request(url, headers={HEADER: user} if user else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _settled(server, timeout: float = 120) -> bool:
    """Both preheated pools refilled (they refill once no page is loading) and nothing loading."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{server.url}/linkage/api/places", headers={HEADER: "bob"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            places = json.loads(resp.read())
        if places["loading"] == 0 and all(places["ready"].get(nb) == 1 for nb in
                                          ("executive.ipynb", "unit_explorer.ipynb")):
            return True
        time.sleep(0.5)
    return False


def test_no_person_or_an_unknown_one_is_refused_and_starts_no_kernel(scoped, browser):
    server, _, folder = scoped
    url = f"{server.url}/voila/render/executive.ipynb"
    assert _settled(server), server.log()[-3000:]
    assert server.wait_for_kernels(len(server.kernels()), timeout=5)
    before = {k.pid for k in server.kernels()}
    for user in (None, "mallory", "Alice", ""):
        viewer = Viewer(browser, user)
        try:
            page = viewer.open(url)
            assert viewer.responses[-1].status == 403, user
            page.wait_for_selector(".linkage-refused")
            assert "not allowed" in page.inner_text("body")
            assert "Executing" not in page.content()
        finally:
            viewer.close()
    assert _get(f"{server.url}/voila/render/unit_explorer.ipynb", None) == 403
    assert _get(f"{server.url}/voila/static/", "mallory") == 403
    time.sleep(2)  # a kernel started by a refused request would show by now
    assert {k.pid for k in server.kernels()} - before == set()  # the server's kernels: none new
    assert server.log().count("linkage: refused") >= 6  # four pages, two plain requests


def test_a_person_cannot_reach_another_persons_kernel(scoped, browser):
    server, _, folder = scoped
    url = f"{server.url}/voila/render/executive.ipynb"
    alice = Viewer(browser, "alice")
    try:
        _ready(alice, alice.open(url), url, READY)
        kernel = next(p.stem for p in folder.glob("*-*.json")
                      if json.loads(p.read_text())["user"] == "alice")
        channels = f"{server.url}/api/kernels/{kernel}/channels"
        assert _get(channels, "carol") == 403
        assert _get(channels, "bob") == 403
        assert _get(f"{server.url}/voila/api/shutdown/{kernel}", "carol") == 403
        assert _get(channels, "alice") != 403  # hers (a plain GET is no websocket: 400)
        # the route a waiting kernel uses is not for viewers (they come through the proxy)
        assert _get(f"{server.url}/voila/query/{kernel}", "alice") == 403
    finally:
        alice.close()
