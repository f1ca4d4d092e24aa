"""make report's site in a real browser: headless Chromium on file:// URLs, driven by selenium.

Build the site from the stored notebooks, open index.html, click each chapter's link as a
reader would, and check the page: its title and heading are the chapter's; every figure has
decoded in the browser and, decoded again here with PIL, is a sensible size and not one flat
colour; nothing was fetched from the internet; nothing SEVERE in the browser's log. Then
back to the index by the page's own link.

(Named test_report_site.py, not test_report.py: tests/ and tests/browser/ are not packages,
so two test_report modules would collide when pytest collects both folders.) Needs Debian's
chromium and chromium-driver, like test_jupyterlab.py.
"""

import base64
import io
import time
from pathlib import Path

import pytest

from rewritelib.report import build

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    t0 = time.perf_counter()
    out = build(tmp_path_factory.mktemp("report") / "site", NOTEBOOKS)
    print(f"built the site in {time.perf_counter() - t0:.1f} s")
    return out


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def wait(driver, what, timeout=30, message="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if value := what(driver):
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def loaded(driver, title):
    return driver.title == title and driver.execute_script("return document.readyState") == "complete"


def check_figure(driver, img, what):
    """Decoded by the browser, and by PIL: a sensible size, more than one colour."""
    from PIL import Image

    assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img), \
        f"{what}: the browser did not decode it"
    src = img.get_attribute("src")
    assert src.startswith("data:image/png;base64,"), f"{what}: not an embedded PNG ({src[:40]})"
    im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    im.load()
    w, h = im.size
    assert 100 <= w <= 5000 and 100 <= h <= 5000, f"{what}: odd size {w} x {h}"
    extrema = im.convert("RGB").getextrema()
    assert any(lo != hi for lo, hi in extrema), f"{what}: one flat colour {extrema} (a blank plot)"


def test_every_chapter_from_the_index(site, browser):
    from selenium.webdriver.common.by import By

    index_url = (site / "index.html").as_uri()
    browser.get(index_url)
    study = browser.find_element(By.TAG_NAME, "h1").text
    assert study and browser.title == study
    chapters = [(a.get_attribute("href").rsplit("/", 1)[1], a.text) for a in browser.find_elements(By.CSS_SELECTOR, "ol a")]
    assert [page for page, _ in chapters] == [f"{nb.stem}.html" for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    for page, title in chapters:
        t0 = time.perf_counter()
        browser.find_element(By.LINK_TEXT, title).click()
        wait(browser, lambda d: loaded(d, title), message=f"{page} to open with the title {title!r}")
        assert browser.current_url.endswith("/" + page)
        assert browser.find_element(By.TAG_NAME, "h1").text == title
        figures = browser.find_elements(By.CSS_SELECTOR, "img")
        assert figures, f"{page}: no figure"  # every notebook in the study draws at least one
        for i, img in enumerate(figures):
            check_figure(browser, img, f"{page} figure {i + 1}")
        fetched = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith('data:') && !n.startsWith('file:'))")
        assert not fetched, f"{page} fetched from outside the site: {fetched}"
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, f"{page}: browser log: {severe[:3]}"
        print(f"{page}: {len(figures)} figures, {time.perf_counter() - t0:.2f} s")
        browser.find_element(By.LINK_TEXT, "← All chapters").click()
        wait(browser, lambda d: loaded(d, study) and d.current_url == index_url, message="the index again")
