"""The open model (a fixed arrival rate) on the real stack at smoke scale."""

import pytest

from tests.helpers import djbench, last_path, meta, rows, survivors

pytestmark = pytest.mark.integration


def test_open_model_starts_its_target_rate_and_keeps_every_vote(tmp_path):
    done = djbench("run", "--server", "gunicorn", "--mode", "native", "--load-model", "open",
                   "--rates", "2,4", "--pacing", "2", "--hold", "8", "--warmup", "1",
                   "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "open model: 2,4 iterations/s (2 s pacing)" in done.stdout
    run_dir = last_path(done.stdout, "results:")
    m = meta(run_dir)
    assert m["integrity"]["ok"] is True, m["integrity"]
    assert m["config"]["load_model"] == "open" and m["config"]["rates"] == [2.0, 4.0]
    assert [int(r["users"]) for r in rows(run_dir / "timeline.csv")] == [4, 8]  # rate x pacing
    steps = rows(run_dir / "steps.csv")
    assert [float(s["target_iter_s"]) for s in steps] == [2.0, 4.0]
    for s in steps:
        # Over whole pacing periods every user starts exactly once per period: the rate started
        # is the target, up to the users whose turn falls on the window's edges.
        assert float(s["window_s"]) >= 2
        assert abs(float(s["started_iter_s"]) - float(s["target_iter_s"])) * float(
            s["window_s"]
        ) <= int(s["users"])
        assert s["generator_limited"] == "0" and float(s["generator_pct"]) >= 80
        assert int(s["requests"]) > 0 and float(s["failure_pct"]) == 0
        assert float(s["cpu_harness_pct"]) >= 0  # the controller's own CPU, sampled
    assert m["load_started_at"] < m["load_ended_at"] < m["ended_at"]
    assert survivors(set(m["pids"].values())) == []
