"""The board pack: one dashboard view as a PDF file (matplotlib's ``PdfPages``, no other library).

The PDF is built only from what the view already shows: its filters, its headline cards, the
figures it has drawn (PNG bytes, embedded pixel for pixel) and its caveats. Nothing here reads a
panel, so the PDF cannot hold a figure the page does not (small groups are suppressed before
anything reaches this module).

Page 1 holds the words (title, the filters of the view, the headline cards, the caveats); each
following page holds one figure at its drawn resolution. Text is set in matplotlib's default Type 3
fonts (its glyphs named, so readers can search and copy it); TrueType (``pdf.fonttype`` 42) was
five times slower to build, because of the font subsetting, and the build is what a viewer waits
for after clicking.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import textwrap
import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["view_pdf", "pdf_filename", "PDF_MIME"]

PDF_MIME = "application/pdf"
PAGE = (11.69, 8.27)  # A4 landscape, inches
_MARGIN = 0.6  # inches
_WRAP = 120  # characters per line of body text at 10 pt on the A4 width


def pdf_filename(parts: Sequence[str], prefix: str = "linkage-view") -> str:
    """A safe download name naming the selection: ``prefix-part-part.pdf``.

    Letters, digits, dots and hyphens only (anything else becomes a hyphen), at most 120
    characters.

    Examples
    --------
    >>> pdf_filename(["region", "North East", "2024-01", "2025-12", "lag 1"])
    'linkage-view-region-North-East-2024-01-2025-12-lag-1.pdf'
    >>> pdf_filename(["../etc", "a/b"])
    'linkage-view-etc-a-b.pdf'
    """
    slug = "-".join(p for p in (re.sub(r"[^A-Za-z0-9.]+", "-", s).strip("-.") for s in parts) if p)
    slug = re.sub(r"-{2,}", "-", slug)[: 120 - len(prefix) - 5].strip("-.")
    return f"{prefix}-{slug}.pdf" if slug else f"{prefix}.pdf"


def _lines(text: str, width: int = _WRAP) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=True) or [""]


def _words_pages(
    title: str,
    filters: Sequence[tuple[str, str]],
    cards: Sequence[tuple[str, str]],
    caveats: Sequence[str],
    note: str,
) -> list[Figure]:
    """Lay the words out top to bottom; lines past the bottom margin continue on a new page."""
    w, h = PAGE
    x = _MARGIN / w
    pages = [Figure(figsize=PAGE)]
    y = h - _MARGIN

    def put(text: str, size: float, *, bold: bool = False, gap: float = 1.45) -> None:
        nonlocal y
        y -= size * gap / 72
        if y < _MARGIN:
            pages.append(Figure(figsize=PAGE))
            y = h - _MARGIN - size * 1.45 / 72
        pages[-1].text(
            x,
            y / h,
            text,
            fontsize=size,
            fontweight="bold" if bold else "normal",
            va="baseline",
            parse_math=False,  # a "$" in a unit's name is text, not mathematics
        )

    put(title, 16, bold=True)
    y -= 0.08
    put("This view", 11, bold=True, gap=1.9)
    for label, value in filters:
        for line in _lines(f"{label}: {value}"):
            put(line, 10)
    for label, text in cards:
        put(label, 11, bold=True, gap=1.9)
        for line in _lines(text):
            put(line, 10)
    put("Read with care", 11, bold=True, gap=1.9)
    for caveat in caveats:
        for i, line in enumerate(_lines(caveat, _WRAP - 3)):
            put(("\u2022 " if i == 0 else "   ") + line, 9.5)
    if note:
        y -= 0.1
        for line in _lines(note):
            put(line, 8.5)
    return pages


def _figure_page(fig: Figure, caption: str, png: bytes) -> None:
    """One figure, its pixels embedded unresampled, scaled to fit the page under its caption."""
    w, h = PAGE
    fig.text(_MARGIN / w, 1 - _MARGIN / h, caption, fontsize=13, fontweight="bold", va="top",
             parse_math=False)  # fmt: skip
    with Image.open(io.BytesIO(png)) as im:
        pixels = np.asarray(im.convert("RGB"))
    ph, pw = pixels.shape[:2]
    box_w, box_h = w - 2 * _MARGIN, h - 2 * _MARGIN - 0.45
    scale = min(box_w / pw, box_h / ph)
    iw, ih = pw * scale, ph * scale
    ax = fig.add_axes(((w - iw) / 2 / w, (_MARGIN + (box_h - ih) / 2) / h, iw / w, ih / h))
    ax.imshow(pixels, interpolation="none", aspect="auto")
    ax.set_axis_off()


def view_pdf(
    *,
    title: str,
    filters: Sequence[tuple[str, str]],
    cards: Sequence[tuple[str, str]],
    figures: Sequence[tuple[str, bytes]],
    caveats: Sequence[str],
    note: str = "",
    created: dt.datetime | None = None,
) -> bytes:
    """One dashboard view as PDF bytes: a page of words, then a page per figure.

    Parameters
    ----------
    title : str
        The page's title.
    filters : sequence of (label, value)
        The filters of the view as the page shows them, written on page 1.
    cards : sequence of (label, text)
        The headline cards.
    figures : sequence of (caption, PNG bytes)
        The figures the view shows, each on its own page, pixel for pixel.
    caveats : sequence of str
        The "read with care" notes.
    note : str
        A closing line (suppression threshold, when made).
    created : datetime, optional
        The creation date written in the PDF's metadata (default: now, UTC).

    Returns
    -------
    bytes
        A PDF file (starts with ``%PDF-``).

    Examples
    --------
    >>> pdf = view_pdf(title="A view", filters=[("Show", "North")], cards=[], figures=[],
    ...                caveats=["Correlation is not causation."])
    >>> pdf[:5]
    b'%PDF-'
    """
    buf = io.BytesIO()
    when = created or dt.datetime.now(dt.UTC)
    metadata = {
        "Title": title,
        "Subject": "; ".join(f"{label}: {value}" for label, value in filters),
        "Creator": "linkage",
        "CreationDate": when,
    }
    with (
        warnings.catch_warnings(),
        matplotlib.rc_context({"pdf.fonttype": 3, "pdf.compression": 6}),
        PdfPages(buf, metadata=metadata) as pdf,
    ):
        # a character the font lacks (a unit named in another script) is drawn as a box; the
        # text itself stays in the file
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        for page in _words_pages(title, filters, cards, caveats, note):
            pdf.savefig(page)
        for caption, png in figures:
            fig = Figure(figsize=PAGE)
            _figure_page(fig, caption, png)
            pdf.savefig(fig)
    return buf.getvalue()
