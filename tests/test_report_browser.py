"""report.html in headless Chromium: the table reads right, every chart renders, and the page
reads on a wide screen and on a phone: nothing overflows the page, legends keep their size."""

import shutil
from pathlib import Path

import pytest

from djbench.analysis.report import build as report
from tests.browser import layout, needs_chromium, read_report
from tests.helpers import make_search

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = FIXTURES / "runs"
WIDTHS = (1400, 420)
MIN_LEGEND_PX = 12  # the page's own text size for the legends, at any width
MIN_CHART_TEXT_PX = 9  # a chart's tick labels as shown on a wide screen

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    """Both fixture runs (uvicorn with machine and PostgreSQL samples) and a knee search."""
    results = tmp_path_factory.mktemp("results")
    for name in ("wsgi_gunicorn", "asgi_uvicorn"):
        shutil.copytree(RUNS / name, results / name)
    for name in ("system.csv", "pg_activity.csv"):
        shutil.copy(FIXTURES / "samples" / name, results / "asgi_uvicorn" / name)
    make_search(results / "knee-uvicorn")
    return report.build([results / "wsgi_gunicorn", results / "asgi_uvicorn"], results / "r")


def test_report_renders_in_chromium(page_path):
    rows, table, widths, warnings = read_report(page_path)
    # The article's accounting (two samples per iteration; see test_report.py's numbers).
    assert ["gunicorn (WSGI)", "0.0", "37.5", ""] in rows
    assert ["uvicorn (ASGI)", "0.0", "0.0", "n/a"] in rows
    assert ["WSGI (article, 2020)", "0", "0", "0", "5", "12", "35", "50"] in rows
    assert "The article used 100..700 users" in table
    # Four charts against users, one per run over time, one of the knee search's probes.
    assert len(widths) == 7 and all(w > 0 for w in widths)
    assert "<locust-worker-1>" in warnings


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_the_screen(page_path, width):
    found = layout(page_path, width)
    assert found["scrollWidth"] <= width
    assert found["tables"], "no table found"
    for left, right, _ in found["tables"]:
        assert 0 <= left and right <= width
    for image in found["images"]:
        assert image["natural"] > 0 and 0 < image["shown"] <= width
    assert len(found["legends"]) == len(found["images"])
    for entries in found["legends"]:
        assert entries, "a chart without a legend"
        for entry in entries:
            assert entry["shown"] and entry["right"] <= width
            assert entry["fontPx"] >= MIN_LEGEND_PX
    if width >= 1000:
        for image in found["images"]:
            assert image["textPx"] * image["shown"] / image["natural"] >= MIN_CHART_TEXT_PX
