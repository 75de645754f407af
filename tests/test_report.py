"""report.build over the fixture runs: the files it writes, what they say, what it refuses."""

import html
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.report import build as report
from djbench.analysis.report.checks import run_warnings
from djbench.analysis.runs.run import load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
WSGI = RUNS / "wsgi_gunicorn"
ASGI = RUNS / "asgi_uvicorn"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "cmp"
    return report.build([WSGI, ASGI], out)


def test_history_cross_check_warns_beyond_its_tolerance():
    run = load_run(ASGI)
    steps = run.steps.copy()
    # 100 requests at 10 req/s: allowed gap 2 + 2 x 10 = 22 requests.
    steps.loc[0, ["requests", "rps", "history_requests"]] = [100, 10.0, 122]
    steps.loc[1, ["requests", "rps", "history_requests"]] = [100, 10.0, 123]
    warnings = run_warnings(replace(run, steps=steps, meta={**run.meta, "warnings": []}))
    history = [w for w in warnings if "history" in w]
    assert history == [
        "step 2 (20 users): the request log has 100 requests, Locust's history 123 (more apart "
        "than 2 % of requests plus 2 seconds of traffic)"
    ]


def test_build_writes_every_file(built):
    out = built.parent
    assert built == out / "report.html"
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "charts/cpu.png",
        "charts/failure_pct.png",
        "charts/latency.png",
        "charts/rps.png",
        "charts/time-20240101T000000-gunicorn.png",
        "charts/time-20240101T010000-uvicorn.png",
        "report.html",
        "report.md",
        "table.csv",
        "table.md",
    ]
    for png in out.glob("charts/*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_warnings():
    assert run_warnings(load_run(WSGI)) == [
        "the run did not finish (meta.json: complete is false); partial results shown",
        "step 2 (20 users) was cut short: its window is 5.0 s",
        "planned but never run: 30 users",
        "no integrity check recorded (votes in the database were not compared)",
        "step 2 (20 users): LOAD GENERATOR LIMITED: its event loop woke up 200 ms late (p95; "
        "max 200 ms) against a median latency of 35 ms: its own delay is in its latencies; this "
        "step measured Locust as much as the server",
    ]
    assert run_warnings(load_run(ASGI)) == [
        "step 3 (30 users): no request completed in its measured window",
        # History 23 - 11 = 12 against 10 in the log: 2 apart, within 2 % of 10 plus two
        # seconds at 1.25 req/s (2.7), so no cross-check warning.
        "step 2 (20 users): LOAD GENERATOR LIMITED: a Locust process averaged 95 % CPU, near one "
        "core; this step measured Locust as much as the server",
        'Locust reported "CPU usage above 90%" on <locust-worker-1>',
    ]


def test_integrity_failure_is_a_warning(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(ASGI, run_dir)
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["integrity"] = {
        "votes_in_db": 3,
        "votes_posted_ok": 5,
        "vote_posts_failed": 0,
        "ok": False,
        "message": "2 successful vote POSTs missing from the database",
    }
    (run_dir / "meta.json").write_text(json.dumps(meta))
    assert (
        "integrity check failed: 2 successful vote POSTs missing from the database "
        "(votes_in_db 3, votes_posted_ok 5, vote_posts_failed 0)"
    ) in run_warnings(load_run(run_dir))


def test_html_is_self_contained_and_escaped(built):
    page = built.read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    # Four charts against users, one over time per run.
    assert len(sources) == 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(href|src)="https?:', page)
    # The producer's warning holds markup-like text: it must arrive as text.
    assert "&lt;locust-worker-1&gt;" in page and "<locust-worker-1>" not in page
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for expected in [
        "About 10 users without error under WSGI (gunicorn) and 20 under ASGI (uvicorn): "
        "ASGI/WSGI knee ratio 2.00 (+100 %). The article: about 300 and 500 (+66 %).",
        "About 10 users with at most 1 % failures under WSGI (gunicorn)",
        "no complete response within 30 s (client timeout)",
        "a response with HTTP status >= 400",
        "a vote POST not answered with a redirect",
        "nginx proxy_read_timeout is 60 s",
        "Locust history (requests / failures)",
        "planned but never run: 30 users",
        "http_502: 2, timeout: 1",
        "exact nearest-rank values",
        "Fixture CPU 3000, 4 cores, virtualisation not recorded",
        "0123abc",
        "2023-11-14T22:15:35+00:00",
    ]:
        assert expected in text, expected


def test_markdown_report(built):
    md = (built.parent / "report.md").read_text()
    assert "![Failure % vs users (ours solid, the article's dashed)](charts/failure_pct.png)" in md
    assert (
        "![Mean CPU per component vs users, stacked, with the machine's capacity](charts/cpu.png)"
    ) in md
    # The article's accounting in the table (tests/test_analysis_table.py works it out).
    assert "| gunicorn (WSGI) | 0.0 | 37.5 |  |" in md
    assert "| WSGI (article, 2020) | 0 | 0 | 0 | 5 | 12 | 35 | 50 |" in md
    # Per-step row: users, status, window, requests, failure %, rps, vote POSTs/s,
    # p50, p95, p99, max, causes, Locust history, iterations started / offered %, loop lag p95,
    # generator verdict (then CPU per component, ASGI only).
    assert (
        "| 20 | cut short | 5.0 | 12 | 25.0 | 2.40 | 0.80 | 35 | 30000 | 30000 | 30000 | "
        "http_502: 2, timeout: 1 | 12 / 3 | 110 | 200 | LIMITED |"
    ) in md
    assert "| 30 | not run |" in md
    row_10 = (
        "| 10 | complete | 8.0 | 8 | 0.0 | 1.00 | 0.25 | 15 | 40 | 40 | 40 |  | 8 / 0 | 98 |  | ok "
        "| 30 |"
    )
    assert row_10 in md
    row_30 = "| 30 | complete | 8.0 | 0 | n/a | 0.00 | 0.00 |  |  |  |  |  | 0 / 0 |  |  | ok | 5 |"
    assert row_30 in md
    assert "| Version: uvicorn | 0.32.0 |" in md
    assert "data:image" not in md


def test_table_files_in_report(built):
    assert (built.parent / "table.csv").read_text().splitlines()[1] == (
        "gunicorn (WSGI),0.0,37.5,,,,,,,,"
    )
    assert "| uvicorn (ASGI) | 0.0 | 0.0 | n/a |" in (built.parent / "table.md").read_text()


def test_no_cpu_chart_without_resources(tmp_path):
    out = tmp_path / "r"
    report.build([WSGI], out)
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "failure_pct.png",
        "latency.png",
        "rps.png",
        "time-20240101T000000-gunicorn.png",
    ]


def test_refuses_existing_out_dir(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("earlier")
    with pytest.raises(AnalysisError, match=r"r already exists; a report is never overwritten$"):
        report.build([WSGI, ASGI], out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "earlier"


def test_no_runs(tmp_path):
    with pytest.raises(AnalysisError, match="^no runs given$"):
        report.build([], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_runs_with_different_user_steps(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ASGI, other)
    meta = json.loads((other / "meta.json").read_text())
    meta["users"] = [10, 20]
    (other / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(AnalysisError) as info:
        report.build([WSGI, other], tmp_path / "r")
    assert str(info.value) == (
        "runs are not comparable: different user steps "
        "(gunicorn (WSGI): 10, 20, 30; uvicorn (ASGI): 10, 20)"
    )
    assert not (tmp_path / "r").exists()


def test_same_run_twice(tmp_path):
    with pytest.raises(AnalysisError, match="is given more than once"):
        report.build([WSGI, WSGI], tmp_path / "r")


def test_bad_run_dir_creates_nothing(tmp_path):
    with pytest.raises(AnalysisError, match="is not a run directory"):
        report.build([WSGI, tmp_path], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_failure_half_way_removes_the_new_dir(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_charts", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        report.build([WSGI, ASGI], tmp_path / "r")
    assert not (tmp_path / "r").exists()
