"""The board pack ("Download this view (PDF)") without a browser: the PDF builder, the dashboard's
control, and what the PDF may hold (no person identifier, no small unit, nothing the page does not
show).

The PDFs are read back with pypdf (an independent reader): its text extraction, its metadata and
the images embedded in the pages.
"""

import base64
import html
import importlib.util
import io
import pathlib
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pypdf  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from linkage.app import executive_dashboard  # noqa: E402
from linkage.app._pdf import pdf_filename, view_pdf  # noqa: E402
from linkage.app._render import CAVEATS, headline_sentences  # noqa: E402
from linkage.app._render_events import EVENT_CAVEATS, RELATIONSHIP_CAVEAT  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PANEL = ROOT / "data" / "sample" / "panel.csv"
N_BOOT = 200


def _privacy_helpers():
    """tests/test_privacy_outputs.py's identifier search (one definition of "a person identifier")."""
    spec = importlib.util.spec_from_file_location("_privacy_outputs", ROOT / "tests" / "test_privacy_outputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PRIVACY = _privacy_helpers()


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LINKAGE_CACHE", str(tmp_path_factory.getbasetemp() / "linkage-cache"))
    d = executive_dashboard(PANEL, n_boot=N_BOOT)
    yield d
    mp.undo()


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _reader(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf), strict=True)


def _text(pdf: bytes) -> str:
    """Every page's text, lines joined with spaces (a sentence may wrap)."""
    return " ".join(p.extract_text() for p in _reader(pdf).pages).replace("\n", " ")


_DRAW = re.compile(rb"([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+cm\s+/(\w+)\s+Do")


def _images(pdf: bytes) -> list[np.ndarray]:
    """The pixels of every image the pages draw, the right way up, each once.

    matplotlib stores an image's rows bottom-up and draws it through a matrix with a negative
    vertical scale (the ``cm`` just before ``/I1 Do``); the image is turned accordingly here."""
    seen, out = set(), []
    for page in _reader(pdf).pages:
        stored = {im.name.rsplit(".", 1)[0]: im for im in page.images}
        for m in _DRAW.finditer(page.get_contents().get_data()):
            a, b, c, d = (float(v) for v in m.groups()[:4])
            assert b == 0 and c == 0 and a > 0, m.group(0)  # no rotation, no mirror
            arr = np.asarray(stored[m.group(7).decode()].image.convert("RGB"))
            arr = arr[::-1] if d < 0 else arr
            key = (arr.shape, arr.tobytes())
            if key not in seen:
                seen.add(key)
                out.append(arr)
    return out


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def _link_pdf(dash) -> tuple[str, bytes]:
    """The download name and the PDF bytes the link in ``dash.pdf_link`` offers."""
    m = re.search(r"download='([^']+)' href='data:application/pdf;base64,([A-Za-z0-9+/=]+)'",
                  dash.pdf_link.value)
    assert m, dash.pdf_link.value
    return m.group(1), base64.b64decode(m.group(2))


# ---- the builder ------------------------------------------------------------------------------


def test_view_pdf_is_a_pdf_with_a_page_of_words_and_a_page_per_figure():
    a = np.zeros((20, 30, 3)); a[:, :15] = (200, 30, 30)  # noqa: E702 - two-colour picture
    # 40 colours: stored as an 8-bit palette image, as matplotlib's figures are (pypdf 7.1 misreads
    # the 1-bit palette rows matplotlib writes for two-colour pictures of odd widths)
    b = np.random.default_rng(1).integers(0, 256, (40, 3))[np.arange(77).reshape(7, 11) % 40]
    pdf = view_pdf(title="Board view", filters=[("Show", "North"), ("Periods", "Jan 2024 \u2013 Dec 2025")],
                   cards=[("Staff", "Employee retention 91.2% a month.")],
                   figures=[("First figure", _png(a)), ("Second figure", _png(b))],
                   caveats=["Correlation is not causation."], note="Figures from fewer than 5 people are suppressed.")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    r = _reader(pdf)
    assert len(r.pages) == 3  # words, then one page per figure
    words = r.pages[0].extract_text()
    for text in ("Board view", "Show: North", "Periods: Jan 2024 \u2013 Dec 2025", "Staff",
                 "Employee retention 91.2% a month.", "Read with care", "Correlation is not causation.",
                 "fewer than 5 people"):
        assert text in words
    assert "First figure" in r.pages[1].extract_text() and "Second figure" in r.pages[2].extract_text()
    assert r.metadata.title == "Board view"
    assert r.metadata.subject == "Show: North; Periods: Jan 2024 \u2013 Dec 2025"
    # the figures are embedded pixel for pixel (not resampled, not redrawn)
    got = _images(pdf)
    assert len(got) == 2
    assert any(np.array_equal(g, a.astype(np.uint8)) for g in got)
    assert any(np.array_equal(g, b.astype(np.uint8)) for g in got)


def test_view_pdf_writes_dollars_as_text_and_continues_long_words_on_a_new_page():
    caveats = [f"Caveat number {i}: " + "word " * 60 for i in range(30)]
    pdf = view_pdf(title="Unit $A$ and $B", filters=[("Show", "50$ stores")], cards=[], figures=[],
                   caveats=caveats)
    r = _reader(pdf)
    assert len(r.pages) > 1  # nothing cut at the bottom of page 1
    text = _text(pdf)
    assert "Unit $A$ and $B" in text and "Show: 50$ stores" in text
    assert all(f"Caveat number {i}:" in text for i in range(30))


@pytest.mark.parametrize("parts, name", [
    (["region", "North", "Jan 2024", "Dec 2025", "lag 1"], "linkage-view-region-North-Jan-2024-Dec-2025-lag-1.pdf"),
    (["", "All units", "2024", "2024", "lag -2"], "linkage-view-All-units-2024-2024-lag-2.pdf"),
    (["../../etc/passwd", "<b>'x'</b>"], "linkage-view-etc-passwd-b-x-b.pdf"),
    (["Zürich"], "linkage-view-Z-rich.pdf"),
    ([], "linkage-view.pdf"),
])
def test_pdf_filename_is_safe_and_names_the_selection(parts, name):
    assert pdf_filename(parts) == name


def test_pdf_filename_is_bounded():
    assert len(pdf_filename(["x" * 500])) <= 120


# ---- the dashboard's control --------------------------------------------------------------------


def test_pdf_is_built_on_click_only_and_names_the_selection(dash, monkeypatch):
    import linkage.app.executive as executive

    built = []
    real = executive.view_pdf
    monkeypatch.setattr(executive, "view_pdf", lambda **kw: built.append(kw) or real(**kw))
    assert dash.pdf_button.description == "Download this view (PDF)"
    dash.value.value = "North"
    dash.lag.value = 1
    assert built == [] and dash.pdf_link.value == ""  # filter changes build nothing
    dash.pdf_button.click()
    assert len(built) == 1 and dash.status.value == ""
    name, pdf = _link_pdf(dash)
    lo, hi = dash.periods.value
    assert name == pdf_filename(["region", "North", lo, hi, "lag 1"])
    assert name.startswith("linkage-view-region-North-") and name.endswith("-lag-1.pdf")
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for line in ("Split by: region", "Show: North", f"Periods: {lo} \u2013 {hi}",
                 "Employees lead by (periods): 1"):
        assert line in text
    # the view changes: the PDF of the previous view is withdrawn, not rebuilt
    dash.value.value = "South"
    assert dash.pdf_link.value == "" and len(built) == 1
    dash.pdf_button.click()
    assert "Show: South" in _text(_link_pdf(dash)[1]) and len(built) == 2


def test_pdf_holds_the_cards_figures_and_caveats_the_page_shows(dash):
    dash.value.value = "East"
    dash.pdf_button.click()
    _, pdf = _link_pdf(dash)
    text = re.sub(r"\s+", " ", _text(pdf))
    s = headline_sentences(dash.data, dash.selection())
    for key in ("employee", "customer", "link"):
        assert re.sub(r"\s+", " ", s[key]) in text
        assert s[key].split(" (")[0] in dash.headline.value  # the same sentence is on the page
    for caveat in CAVEATS:
        assert re.sub(r"\s+", " ", caveat.format(k=dash.data.k)) in text
    # the three figures are the page's own images, pixel for pixel
    page_pngs = [base64.b64decode(m) for m in re.findall(
        r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'",
        dash.trends.value + dash.quadrants.value + dash.lag_plot.value)]
    assert len(page_pngs) == 3
    got = _images(pdf)
    assert len(got) == 3
    for png in page_pngs:
        assert any(np.array_equal(g, _pixels(png)) for g in got)


def test_pdf_holds_the_section_when_someone_leaves_while_it_is_open(tmp_path, monkeypatch):
    # a dashboard of its own: opening the section changes what its board pack holds
    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    d = executive_dashboard(PANEL, n_boot=N_BOOT)
    closed = _text(d.board_pack())
    assert "When someone" not in closed and "after a manager departure" not in closed
    d.events_view.widget.selected_index = 0  # the viewer opens it
    pdf = d.board_pack()
    text = re.sub(r"\s+", " ", _text(pdf))
    page = d.events_view.studies.value + d.events_view.relationships.value
    # the page's words: each event type's heading and finding, the relationship finding
    headings = re.findall(r"<h3>([^<]+)</h3>", page)
    assert headings[:2] == ["What happened to customer retention after a manager departure",
                            "What happened to customer retention after a staff shock"]
    assert headings[2] == "Do customers follow the person who served them?"
    findings = [html.unescape(t) for t in re.findall(r"<p(?: class='linkage-relationship')?>([^<]+)</p>", page)]
    assert len(findings) >= 3
    for words in [*headings, *findings[:3]]:
        assert re.sub(r"\s+", " ", words) in text, words
    for caveat in (*EVENT_CAVEATS, RELATIONSHIP_CAVEAT):
        assert re.sub(r"\s+", " ", caveat) in text
    # its pictures are the page's own, pixel for pixel, after the view's three figures
    page_pngs = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]
    assert len(page_pngs) == 2
    assert _only_these_pictures(pdf, [*d.figures(d.selection()).values(), *page_pngs])
    # closed again: the pack holds what the page shows, the view alone
    d.events_view.widget.selected_index = None
    assert "after a manager departure" not in _text(d.board_pack())


def test_a_scoped_viewers_pack_holds_no_company_wide_relationship_finding(tmp_path, monkeypatch):
    from linkage.app import EventsView

    monkeypatch.setenv("LINKAGE_CACHE", str(tmp_path / "cache"))
    d = executive_dashboard(PANEL, n_boot=N_BOOT)
    view = EventsView(d.data, sample=True, env={}, whole_company=False)
    view.widget.selected_index = 0
    words, pictures, caveats = view.board()
    assert [w for w, _ in words] == ["What happened to customer retention after a manager departure",
                                     "What happened to customer retention after a staff shock"]
    assert len(pictures) == 2 and RELATIONSHIP_CAVEAT not in caveats
    # a second kernel reads the same section from the disk cache, board pack included
    again = EventsView(d.data, sample=True, env={}, whole_company=False)
    again.widget.selected_index = 0
    assert again.board() == (words, pictures, caveats)


# ---- privacy --------------------------------------------------------------------------------------


def _only_these_pictures(pdf: bytes, pngs: list[bytes]) -> bool:
    """The PDF draws exactly these pictures, pixel for pixel, and no other."""
    got = _images(pdf)
    want = [_pixels(p) for p in pngs]
    return len(got) == len(want) and all(any(np.array_equal(g, w) for g in got) for w in want)


def _pdf_words(pdf: bytes) -> str:
    """Everything a reader of the file can see as text: the pages' text and the metadata."""
    r = _reader(pdf)
    meta = " ".join(str(v) for v in (r.metadata or {}).values())
    return _text(pdf) + " " + meta


def test_pdfs_of_every_view_hold_no_person_identifier_and_no_small_unit(dash):
    ids = PRIVACY.sample_identifiers()
    assert len(ids) > 1000
    dash.lag.value = dash.data.best_lag
    for value in dash.value.options:
        dash.value.value = value
        dash.pdf_button.click()
        _, pdf = _link_pdf(dash)
        words = _pdf_words(pdf)
        assert PRIVACY.find_identifiers(words, ids) == set(), value
        table = dash.data.unit_table(dash.selection())
        small = set(table.loc[table["suppressed"], "unit_id"].astype(str))
        assert small, value  # every region of the sample has a suppressed unit
        found = {u for u in small if re.search(rf"(?<![A-Za-z0-9]){re.escape(u)}(?![A-Za-z0-9])", words)}
        assert found == set(), value
        # the only pictures are the page's figures (drawn with small units left out, tests/test_app.py)
        assert _only_these_pictures(pdf, list(dash.figures(dash.selection()).values())), value
        assert "/" not in (_reader(pdf).metadata.title or "")  # no file path in the metadata


def test_the_privacy_checks_catch_a_planted_identifier_and_a_planted_picture():
    ids = PRIVACY.sample_identifiers()
    planted = sorted(ids)[0]
    pdf = view_pdf(title="t", filters=[], cards=[("Staff", f"retention of {planted} was 10%")], figures=[],
                   caveats=[])
    assert PRIVACY.find_identifiers(_pdf_words(pdf), ids) == {planted}
    pdf = view_pdf(title=f"about {planted}", filters=[], cards=[], figures=[], caveats=[])
    assert PRIVACY.find_identifiers(_pdf_words(pdf), ids) == {planted}  # the metadata is searched too
    pngs = [_png(np.random.default_rng(i).integers(0, 256, (6, 9, 3))) for i in range(3)]
    pdf = view_pdf(title="t", filters=[], cards=[], caveats=[], figures=[("x", p) for p in pngs])
    assert _only_these_pictures(pdf, pngs)
    # a fourth picture (a small unit's chart, say), or one changed pixel, is caught
    pdf = view_pdf(title="t", filters=[], cards=[], caveats=[],
                   figures=[("x", p) for p in [*pngs, _png(np.full((4, 4, 3), 7.0))]])
    assert not _only_these_pictures(pdf, pngs)
    changed = _pixels(pngs[2]).copy()
    changed[0, 0] = 255 - changed[0, 0]
    pdf = view_pdf(title="t", filters=[], cards=[], caveats=[],
                   figures=[("x", p) for p in [*pngs[:2], _png(changed)]])
    assert not _only_these_pictures(pdf, pngs)


def test_a_failed_build_shows_a_neutral_line_and_frees_the_button(dash, monkeypatch):
    import linkage.app.executive as executive

    def broken(**kw):
        raise RuntimeError("SECRET detail /some/path.py")

    monkeypatch.setattr(executive, "view_pdf", broken)
    dash.value.value = "West"
    dash.pdf_button.click()
    assert "went wrong" in dash.status.value and "SECRET" not in dash.status.value
    assert dash.pdf_link.value == "" and not dash.pdf_button.disabled
    monkeypatch.undo()
    dash.pdf_button.click()
    assert _link_pdf(dash)[1].startswith(b"%PDF-") and dash.status.value == ""
