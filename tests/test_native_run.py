"""The real stack at smoke scale: PostgreSQL, nginx, the app server, Locust."""

import math
import os
from pathlib import Path

import pytest

from tests.helpers import djbench, last_path, meta, rows, survivors

pytestmark = pytest.mark.integration


def nearest_rank(values, pct):
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def smoke_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    done = djbench(
        "run", "--server", request.param, "--profile", "smoke", "--mode", "native",
        "--results-dir", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return request.param, done, last_path(done.stdout, "results:")


def test_results_directory_is_complete(smoke_run):
    server, _, run_dir = smoke_run
    m = meta(run_dir)
    assert m["complete"] is True
    assert m["server"] == server and m["mode"] == "native" and m["profile"] == "smoke"
    assert m["users"] == [2, 4]
    for name in ("python", "Django", server, "locust", "postgresql", "nginx"):
        assert m["versions"].get(name), name
    assert m["machine"]["cpu_count"] >= 1
    for name in ("steps.csv", "timeline.csv", "locust_stats_history.csv", "resources.csv"):
        assert (run_dir / name).stat().st_size > 0, name
    for log in ("server.log", "postgres.log", "nginx.error.log", "locust.log"):
        assert (run_dir / "logs" / log).exists(), log


def test_steps_match_the_raw_request_log(smoke_run):
    """Recompute each step from requests-*.csv by hand and compare with steps.csv."""
    _, _, run_dir = smoke_run
    requests = [r for f in sorted(Path(run_dir).glob("requests*.csv")) for r in rows(f)]
    steps = rows(run_dir / "steps.csv")
    timeline = rows(run_dir / "timeline.csv")
    assert [int(s["users"]) for s in steps] == [2, 4]
    for step, window in zip(steps, timeline, strict=True):
        lo, hi = float(window["measure_from"]), float(window["end"])
        inside = [r for r in requests if lo <= float(r["ts"]) < hi]
        times = [float(r["response_time_ms"]) for r in inside]
        assert len(inside) > 0
        assert int(step["requests"]) == len(inside)
        assert int(step["failures"]) == sum(r["ok"] == "0" for r in inside) == 0
        assert float(step["failure_pct"]) == 0.0
        assert float(step["rps"]) == pytest.approx(len(inside) / (hi - lo), rel=1e-6)
        assert float(step["p50_ms"]) == pytest.approx(nearest_rank(times, 50))
        assert float(step["p95_ms"]) == pytest.approx(nearest_rank(times, 95))
        assert float(step["max_ms"]) == pytest.approx(max(times))


def test_integrity_votes_match(smoke_run):
    _, _, run_dir = smoke_run
    requests = [r for f in Path(run_dir).glob("requests*.csv") for r in rows(f)]
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    m = meta(run_dir)
    assert posted_ok > 0
    assert m["votes_posted_ok"] == posted_ok
    assert m["votes_in_db"] == posted_ok
    assert m["integrity"]["ok"] is True


def test_nothing_left_running(smoke_run):
    _, _, run_dir = smoke_run
    pids = set(meta(run_dir)["pids"].values())
    assert {"postgres", "server", "nginx", "locust"} <= set(meta(run_dir)["pids"])
    assert survivors(pids) == []


def test_progress_and_last_line(smoke_run):
    _, done, run_dir = smoke_run
    lines = done.stdout.strip().splitlines()
    assert any("step 1/2:" in ln and "req/s" in ln for ln in lines)
    assert any("step 2/2:" in ln and "req/s" in ln for ln in lines)
    assert lines[-1] == f"results: {run_dir}"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs")
def test_server_stack_and_locust_pinned_apart(tmp_path):
    done = djbench("run", "--server", "uvicorn", "--profile", "smoke", "--mode", "native",
                   "--server-cpus", "0", "--locust-cpus", "1",
                   "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    m = meta(last_path(done.stdout, "results:"))
    assert m["config"]["server_cpus"] == "0" and m["config"]["locust_cpus"] == "1"
    assert m["cpu_affinity"] == {"postgres": [0], "server": [0], "nginx": [0], "locust": [1]}


def test_several_locust_processes_on_one_host(tmp_path):
    """A master and two workers: the workers' rows reach the master over Locust's messaging,
    every step still matches the raw log of both, and integrity is exact."""
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--locust-workers", "2", "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = last_path(done.stdout, "results:")
    m = meta(run_dir)
    assert m["locust"] == {
        "processes": 2, "master": True, "local_workers": 2, "remote_workers": 0
    }  # fmt: skip
    workers = m["load_generators"]
    assert len(workers) == 2 and all(w["clock_rtt_ms"] is not None for w in workers)
    logs = sorted(run_dir.glob("requests*.csv"))
    assert [p.name for p in logs] == sorted(f"requests-{w['name']}.csv" for w in workers)
    requests = [r for f in logs for r in rows(f)]
    assert all(rows(f) for f in logs), "both workers ran users"
    for step, window in zip(rows(run_dir / "steps.csv"), rows(run_dir / "timeline.csv"),
                            strict=True):  # fmt: skip
        lo, hi = float(window["measure_from"]), float(window["end"])
        assert int(step["requests"]) == sum(lo <= float(r["ts"]) < hi for r in requests) > 0
        assert int(step["workers_missing"]) == 0
    assert sorted(m["cpu_affinity"]) == [
        "locust", "locust-worker-1", "locust-worker-2", "nginx", "postgres", "server"
    ]  # fmt: skip
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    assert m["votes_in_db"] == m["votes_posted_ok"] == posted_ok > 0
    assert m["warnings"] == []
    assert survivors(set(m["pids"].values())) == []


def test_a_fresh_stack_per_step(tmp_path):
    """Each step on a stack of its own: two PostgreSQL clusters, two servers; the steps keep
    their numbers, counts match the raw log, one integrity check covers both."""
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--fresh-stack-per-step", "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(ln.startswith("stack ready in") for ln in lines) == 2
    assert [ln for ln in lines if ln.startswith("  step ")][0].startswith("  step 1/2:")
    assert [ln for ln in lines if ln.startswith("  step ")][1].startswith("  step 2/2:")
    run_dir = last_path(done.stdout, "results:")
    m = meta(run_dir)
    assert m["config"]["fresh_stack_per_step"] is True and m["complete"] is True
    timeline = rows(run_dir / "timeline.csv")
    assert [(t["step"], t["users"]) for t in timeline] == [("1", "2"), ("2", "4")]
    # Each step ramps up from zero users on its own stack.
    assert [float(t["measure_from"]) - float(t["start"]) for t in timeline] == pytest.approx(
        [2 / 10 + 1, 4 / 10 + 1], abs=0.05
    )
    requests = [r for f in sorted(run_dir.glob("requests*.csv")) for r in rows(f)]
    assert len(list(run_dir.glob("requests*.csv"))) == 2  # a Locust process per step
    for step, window in zip(rows(run_dir / "steps.csv"), timeline, strict=True):
        lo, hi = float(window["measure_from"]), float(window["end"])
        assert int(step["requests"]) == sum(lo <= float(r["ts"]) < hi for r in requests) > 0
        assert step["history_requests"] == ""  # one Locust run per step: no history to check
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    assert m["votes_in_db"] == m["votes_posted_ok"] == posted_ok > 0
    assert (run_dir / "logs" / "postgres.log").read_text().count("database system is ready") == 2
    assert survivors(set(m["pids"].values())) == []
