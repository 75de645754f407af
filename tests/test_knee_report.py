import json

from analysis.knee_report import write_knee_report


def test_knee_report_states_each_objective(tmp_path):
    knees = {
        "failures_0": {"users": 300, "bad_users": 320, "resolution": 32},
        "failures_1": {"users": 640, "bad_users": None, "resolution": 0},
        "p95": {"users": None, "bad_users": 10, "resolution": 0},
    }
    probes = [
        {"users": 10, "failure_pct": 0.0, "p95_ms": 1200.0, "run_dir": "probes/a"},
        {"users": 320, "failure_pct": 2.5, "p95_ms": 9000.4, "run_dir": "probes/b"},
    ]
    (tmp_path / "knee.json").write_text(json.dumps({
        "server": "gunicorn", "interface": "wsgi", "view": "sync", "workers": 5,
        "settings": {"p95_slo_ms": 1000.0}, "probes": probes, "knees": knees,
    }))  # fmt: skip
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text().splitlines()
    assert text[0] == "# Knee search: gunicorn (WSGI, sync views, 5 workers)"
    assert text[2:5] == [
        "- no failures: 300 users (broken at 320; resolution 32 users)",
        "- at most 1 % failures: never broken up to 640 users (the knee is higher)",
        "- p95 under 1000 ms: broken already at the first probe, 10 users",
    ]
    assert "| 320 | 2.5 | 9000 | probes/b |" in text
    assert (tmp_path / "probes.png").read_bytes().startswith(b"\x89PNG")
