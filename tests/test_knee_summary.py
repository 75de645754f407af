"""Several knee searches compared: spreads against the resolution, worked out by hand."""

import json

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.report.knee_summary import spread, summary_lines, write_knee_summary


def _search(path, server, interface, knees, probes=None):
    path.mkdir()
    (path / "knee.json").write_text(json.dumps({
        "server": server, "interface": interface, "view": "sync", "workers": 5,
        "settings": {"p95_slo_ms": 1000.0}, "knees": knees,
        "probes": probes or [{"users": 10, "failure_pct": 0.0, "p95_ms": 50.0, "run_dir": "p"}],
    }))  # fmt: skip
    return path


def _k(users, bad, resolution):
    return {"users": users, "bad_users": bad, "resolution": resolution}


def test_spread_against_the_resolution():
    assert spread([_k(120, 130, 13), _k(130, 140, 14)]) == (10, 14, True)
    assert spread([_k(280, 300, 30), _k(360, 400, 40)]) == (80, 40, False)
    assert spread([_k(640, None, 0), _k(600, 640, 64)]) is None  # never broke once
    assert spread([_k(None, 10, 0)]) is None


def test_summary_rows(tmp_path):
    a = _search(tmp_path / "a", "gunicorn", "wsgi", {
        "failures_0": _k(640, None, 0), "failures_1": _k(640, None, 0), "p95": _k(120, 130, 13),
    })  # fmt: skip
    b = _search(tmp_path / "b", "uvicorn", "asgi", {
        "failures_0": _k(280, 300, 30), "failures_1": _k(300, 320, 32), "p95": _k(65, 70, 7),
    })  # fmt: skip
    c = _search(tmp_path / "c", "gunicorn", "wsgi", {
        "failures_0": _k(640, None, 0), "failures_1": _k(600, None, 0), "p95": _k(140, 150, 15),
    })  # fmt: skip
    d = _search(tmp_path / "d", "uvicorn", "asgi", {
        "failures_0": _k(360, 400, 40), "failures_1": _k(300, 330, 33), "p95": _k(60, 65, 7),
    })  # fmt: skip
    from djbench.analysis.report.knee_summary import load_searches

    lines = summary_lines(load_searches([a, b, c, d]))
    assert lines[2:] == [
        "| gunicorn (WSGI, sync) | no failures | >= 640, >= 640 | n/a | n/a | n/a: never broken, "
        "in any search, up to 640 users |",
        "| gunicorn (WSGI, sync) | at most 1 % failures | >= 640, >= 600 | n/a | n/a | n/a: never "
        "broken, in any search, up to 600 users |",
        # 120 and 140: 20 apart, more than the largest resolution (15)
        "| gunicorn (WSGI, sync) | p95 under 1000 ms | 120 (broken at 130), 140 (broken at 150) "
        "| 20 | 15 | NO |",
        "| uvicorn (ASGI, sync) | no failures | 280 (broken at 300), 360 (broken at 400) | 80 | "
        "40 | NO |",
        "| uvicorn (ASGI, sync) | at most 1 % failures | 300 (broken at 320), 300 (broken at "
        "330) | 0 | 33 | yes |",
        "| uvicorn (ASGI, sync) | p95 under 1000 ms | 65 (broken at 70), 60 (broken at 65) | 5 | "
        "7 | yes |",
    ]
    out = write_knee_summary([a, b, c, d], tmp_path / "out")
    assert (out / "knees.png").read_bytes().startswith(b"\x89PNG")
    assert "| 20 | 15 | NO |" in (out / "knees.md").read_text()


def test_not_a_search(tmp_path):
    with pytest.raises(AnalysisError, match="is not a knee search"):
        write_knee_summary([tmp_path], tmp_path / "out")
