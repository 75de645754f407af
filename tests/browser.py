"""Open a report in Debian's headless Chromium through Playwright, as a reader would."""

from pathlib import Path

import pytest

from djbench.system.prerequisites import CHROMIUM  # where `djbench setup` installs it

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def read_report(page_path):
    """(failure-table rows as cell texts, table text, natural widths of all images, warnings)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(Path(page_path).resolve().as_uri())
            page.wait_for_load_state("load")
            rows = page.eval_on_selector_all(
                "#failure-table tr",
                "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))",
            )
            table = page.inner_text("#failure-table")
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            warnings = page.inner_text("#warnings") if page.query_selector("#warnings") else ""
        finally:
            browser.close()
    return rows, table, widths, warnings


LAYOUT_JS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; };
  return {
    scrollWidth: document.documentElement.scrollWidth,
    tables: [...document.querySelectorAll("table")].map(t => box(t.closest(".scroll") || t)),
    images: [...document.images].map(i => ({
      natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
      textPx: parseFloat(i.dataset.textPx || "0")})),
    legends: [...document.querySelectorAll("figure")].map(f =>
      [...f.querySelectorAll(".legend li")].map(li => ({
        fontPx: parseFloat(getComputedStyle(li).fontSize), right: box(li)[1],
        shown: li.offsetWidth > 0 && li.offsetHeight > 0}))),
  };
}"""


def layout(page_path, width, screenshot=None):
    """How the page lays out in a viewport `width` px wide: the document's scroll width, each
    table's box, each image's natural and shown width, each figure's legend entries."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(Path(page_path).resolve().as_uri())
            page.wait_for_load_state("load")
            found = page.evaluate(LAYOUT_JS)
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return found
