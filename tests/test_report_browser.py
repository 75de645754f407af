"""report.html in headless Chromium: the table reads right and every chart renders."""

from pathlib import Path

from analysis import report
from tests.browser import needs_chromium, read_report

RUNS = Path(__file__).parent / "fixtures" / "runs"

pytestmark = needs_chromium


def test_report_renders_in_chromium(tmp_path):
    page_path = report.build([RUNS / "wsgi_gunicorn", RUNS / "asgi_uvicorn"], tmp_path / "r")
    rows, table, widths, warnings = read_report(page_path)
    # The article's accounting (two samples per iteration; see test_report.py's numbers).
    assert ["gunicorn (WSGI)", "0.0", "37.5", ""] in rows
    assert ["uvicorn (ASGI)", "0.0", "0.0", "n/a"] in rows
    assert ["WSGI (article, 2020)", "0", "0", "0", "5", "12", "35", "50"] in rows
    assert "The article used 100..700 users" in table
    assert len(widths) == 4 and all(w > 0 for w in widths)
    assert "<locust-worker-1>" in warnings
