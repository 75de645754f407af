"""`djbench bench` end to end at smoke scale: both servers, then the comparison report."""

import csv
import os
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, read_report
from tests.helpers import djbench, last_path, meta, rows

pytestmark = pytest.mark.integration
FIXTURE_RUN = Path(__file__).parent / "fixtures" / "runs" / "wsgi_gunicorn"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    # A relative results directory, as `make bench` passes it, from another working directory.
    cwd = tmp_path_factory.mktemp("work")
    done = djbench("bench", "--servers", "gunicorn,uvicorn", "--profile", "smoke",
                   "--mode", "native", "--results-dir", "results", cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    runs = [last_path(ln, "results:", cwd) for ln in lines if ln.startswith("results:")]
    assert all(r.parent == cwd / "results" for r in runs)
    return runs, last_path(done.stdout, "report:", cwd)


def test_report_directory_holds_everything(bench):
    _, report = bench
    for name in ("table.md", "table.csv", "report.html", "report.md"):
        assert (report / name).stat().st_size > 0, name
    charts = {p.name for p in (report / "charts").glob("*.png")}
    assert {"failure_pct.png", "rps.png", "latency.png", "cpu.png"} <= charts
    runs, _ = bench
    assert {f"time-{run.name}.png" for run in runs} <= charts
    for run in runs:  # the machine and PostgreSQL's connections, sampled once a second
        steps = rows(run / "steps.csv")
        assert all(float(s["pg_total_max"]) >= 0 for s in steps)
        assert all(0 < float(s["machine_cpu_pct"]) <= 100 * os.cpu_count() for s in steps)


def test_table_rows_come_from_the_runs(bench):
    runs, report = bench
    assert [meta(r)["server"] for r in runs] == ["gunicorn", "uvicorn"]
    with open(report / "table.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        table = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in reader}
    assert table["WSGI (article, 2020)"]["400"] == "5.0"
    assert table["ASGI (article, 2020)"]["700"] == "20.0"
    for run in runs:
        label = f"{meta(run)['server']} ({meta(run)['interface'].upper()})"
        for step in rows(run / "steps.csv"):
            assert float(table[label][step["users"]]) == pytest.approx(float(step["failure_pct"]))
    text = (report / "table.md").read_text()
    assert "gunicorn (WSGI)" in text and "| 0 | 0 | 0 | 5 | 12 | 35 | 50 |" in text


def test_report_of_incomparable_runs_is_refused(bench, tmp_path):
    runs, _ = bench
    refused = djbench("report", runs[0], FIXTURE_RUN, "--results-dir", tmp_path)
    assert refused.returncode == 2
    assert "not comparable" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_real_report_renders_in_chromium(bench):
    runs, report = bench
    cells, _, widths, _ = read_report(report / "report.html")
    for run in runs:
        label = f"{meta(run)['server']} ({meta(run)['interface'].upper()})"
        pcts = [f"{float(s['failure_pct']):.1f}" for s in rows(run / "steps.csv")]
        assert [label, *pcts] in [r[:3] for r in cells]
    # Four charts against users, one per run over time.
    assert len(widths) == 6 and all(w > 0 for w in widths)
