"""The knee search's and the calibration's HTML pages: what they say, and that they read on a
wide screen and on a phone."""

import json

import pytest

from djbench.analysis.report.calibration import write_calibration_page
from djbench.analysis.report.knee_report import write_knee_page
from tests.browser import layout, needs_chromium
from tests.helpers import make_search

CLIENT = {"requests": 200, "rps": 20.0, "cpu_pct": 10.0, "failure_pct": 0.0, "p50_ms": 12.0,
          "p95_ms": 30.4, "requests_per_cpu_s": 200.0, "cpu_ms_per_request": 5.0}  # fmt: skip


@pytest.fixture
def knee_page(tmp_path):
    return write_knee_page(make_search(tmp_path / "knee"))


@pytest.fixture
def calibration_page(tmp_path):
    runs = [{"name": "locust-fast-vote", "label": "Locust FastHttpUser", "scenario": "vote",
             "run": "runs/a"}]  # fmt: skip
    (tmp_path / "calibrate.json").write_text(json.dumps({
        "server": "gunicorn", "workers": 5, "users": 50,
        "machine": {"cpu_model": "Fixture CPU 3000", "cpu_count": 4},
        "runs": runs, "clients": {"locust-fast-vote": CLIENT},
        "conclusions": ["FastHttpUser: 200 requests per CPU-second"],
    }))  # fmt: skip
    return write_calibration_page(tmp_path)


def test_knee_page(knee_page):
    page = knee_page.read_text()
    assert "Knee search: uvicorn (ASGI), 2 workers" in page
    assert "p95 under 1000 ms: 25 users (broken at 28; resolution 3 users)" in page
    assert "no failures: broken already at the smallest count searched, 10 users" in page
    assert "<td>10</td><td>2.0</td><td>300</td><td>probes/p1</td>" in page
    assert "Fixture CPU 3000, 4 cores" in page
    assert page.count('src="data:image/png;base64,') == 1
    assert (knee_page.parent / "charts" / "probes.png").exists()


def test_calibration_page(calibration_page):
    page = calibration_page.read_text()
    assert "<li>FastHttpUser: 200 requests per CPU-second</li>" in page
    assert (
        "<td>Locust FastHttpUser</td><td>vote</td><td>200</td><td>20.0</td><td>0.0</td>"
        "<td>12</td><td>30</td><td>10.0</td><td>200</td><td>5.000</td>"
    ) in page
    assert "Stack: gunicorn (5 workers)" in page


@pytest.mark.parametrize("width", [pytest.param(w, marks=needs_chromium) for w in (1400, 420)])
def test_pages_fit_the_screen(knee_page, calibration_page, width):
    for page in (knee_page, calibration_page):
        found = layout(page, width)
        assert found["scrollWidth"] <= width
        for left, right, _ in found["tables"]:
            assert 0 <= left and right <= width
        for entries in found["legends"]:
            assert entries and all(e["fontPx"] >= 12 and e["right"] <= width for e in entries)


def test_knee_page_of_an_open_model_search_speaks_its_unit(tmp_path):
    search = make_search(tmp_path / "knee")
    data = json.loads((search / "knee.json").read_text())
    (search / "knee.json").write_text(
        json.dumps({**data, "load_model": "open", "unit": "iterations/s"})
    )
    page = write_knee_page(search).read_text()
    assert "p95 under 1000 ms: 25 iterations/s (broken at 28; resolution 3 iterations/s)" in page
