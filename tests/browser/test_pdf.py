"""The board pack in headless Chromium: "Download this view (PDF)" gives a file the browser downloads
(no new tab), a PDF whose text names the view's selection."""

import io
import re
import time

import pypdf
import pytest

from conftest import assert_no_error, open_dashboard  # tests/browser/conftest.py

pytestmark = pytest.mark.browser

READY = ".linkage-executive img.linkage-fig"
TRENDS = "img[alt='Trends by group']"
LINK = ".linkage-pdf a[download]"


def test_download_this_view_as_pdf(served, browser, tmp_path, screenshots):
    page = open_dashboard(browser, f"{served.url}/voila/render/executive.ipynb", READY)
    try:
        page.wait_for_selector("img[alt='Lag profile']", timeout=30_000)
        assert_no_error(page)
        button = page.get_by_role("button", name="Download this view (PDF)")
        assert button.count() == 1
        assert page.locator(LINK).count() == 0  # nothing is built before it is asked for

        # a region: the PDF must name it
        show = page.get_by_label("Show", exact=True)
        region = show.locator("option").all_inner_texts()[2]
        old = page.get_attribute(TRENDS, "src")
        show.select_option(label=region)
        page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
                               arg=[TRENDS, old], timeout=30_000)
        periods = page.locator(".widget-slider, .widget-hslider").filter(has_text=re.compile("^Periods"))
        span = periods.locator(".widget-readout").inner_text()

        started = time.monotonic()
        button.click()
        link = page.locator(LINK)
        link.wait_for(state="visible", timeout=30_000)
        built = time.monotonic()
        page.screenshot(path=str(screenshots / "executive_pdf.png"))
        with page.expect_download(timeout=30_000) as info:
            link.click()
        download = info.value
        saved = time.monotonic()
        print(f"\nboard pack: click to link {built - started:.2f} s, link click to download "
              f"{saved - built:.2f} s")

        assert len(page.context.pages) == 1  # downloaded, not opened in a new tab
        name = download.suggested_filename
        assert re.fullmatch(r"linkage-view-region-[A-Za-z0-9.-]+\.pdf", name), name
        lag = page.locator(".widget-slider, .widget-hslider").filter(has_text="Employees lead by")
        assert f"-{region}-" in name and name.endswith(f"-lag-{lag.locator('.widget-readout').inner_text().strip()}.pdf")
        path = tmp_path / name
        download.save_as(path)
        data = path.read_bytes()
        assert data[:5] == b"%PDF-"
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        assert len(reader.pages) == 4  # the words, then the three figures
        text = reader.pages[0].extract_text()
        assert f"Show: {region}" in text and "Split by: region" in text
        lo, _, hi = span.partition("\u2013") if "\u2013" in span else span.partition("-")
        assert lo.strip() in text and hi.strip() in text
        assert page.inner_text(".linkage-cards").split("\n")[1].split(" (")[0] in text.replace("\n", " ")
        assert "Read with care" in text
        assert_no_error(page)

        # another view: the PDF of the previous one is withdrawn
        show.select_option(label=show.locator("option").all_inner_texts()[0])
        page.wait_for_selector(LINK, state="detached", timeout=30_000)
    finally:
        page.close(run_before_unload=True)
