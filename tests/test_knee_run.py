"""The knee search on the real stack at smoke scale."""

import json

import pytest

from tests.helpers import djbench, last_path, meta, rows, survivors

pytestmark = pytest.mark.integration


def test_knee_search_on_the_real_stack(tmp_path):
    # p95 under 1 ms cannot be met: that objective breaks at the first probe; nothing fails at
    # 2 or 4 users, so the failure knees are "never broken up to 4".
    done = djbench("knee", "--servers", "gunicorn", "--mode", "native", "--start", "2",
                   "--max-users", "4", "--measure", "3", "--warmup", "1", "--spawn-rate", "10",
                   "--p95-slo-ms", "1", "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    knee_dir = last_path(done.stdout, "knee:")
    data = json.loads((knee_dir / "knee.json").read_text())
    assert [p["users"] for p in data["probes"]] == [2, 4]
    assert data["knees"]["failures_0"] == {
        "objective": "failures_0", "users": 4, "bad_users": None, "resolution": 0,
        "bounded": False,
    }  # fmt: skip
    assert data["knees"]["p95"]["users"] is None and data["knees"]["p95"]["bad_users"] == 2
    for probe in data["probes"]:
        run_dir = knee_dir / probe["run_dir"]
        (step,) = rows(run_dir / "steps.csv")
        assert int(step["users"]) == probe["users"] and int(step["requests"]) > 0
        assert float(step["p95_ms"]) == pytest.approx(probe["p95_ms"])
        m = meta(run_dir)
        assert m["profile"] == "knee" and m["integrity"]["ok"] is True
        assert survivors(set(m["pids"].values())) == []
    text = (knee_dir / "knee.md").read_text()
    assert "- no failures: never broken up to 4 users" in text
    assert "- p95 under 1 ms: broken already at the first probe, 2 users" in text
    assert (knee_dir / "probes.png").stat().st_size > 0
