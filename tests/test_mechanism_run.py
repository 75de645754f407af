"""The mechanism's per-step columns of a real smoke run, against the processes this test saw
itself: gunicorn's sync workers, two of them, each one thread running one request at a time
with at most one PostgreSQL connection."""

import os
import subprocess
import sys

import pytest

from djbench.contracts.files import SERVER_PROCESSES
from tests.helpers import ROOT, meta, rows, server_threads

pytestmark = pytest.mark.integration

WORKERS = 2


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    lock = tmp_path_factory.mktemp("lock") / "djbench.lock"
    argv = [sys.executable, "-m", "djbench", "run", "--server", "gunicorn",
            "--workers", str(WORKERS), "--profile", "smoke", "--mode", "native",
            "--results-dir", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(lock)}
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) as run:
        seen = server_threads(run, out)
    assert run.returncode == 0
    (run_dir,) = [p.parent for p in out.glob("*/meta.json")]
    return run_dir, seen


def test_the_serving_processes_are_the_workers_this_test_saw(observed):
    run_dir, seen = observed
    samples = [r for r in rows(run_dir / SERVER_PROCESSES) if r["serving"] == "1"]
    assert {int(r["pid"]) for r in samples} <= set(seen)
    assert len({r["pid"] for r in samples}) == WORKERS
    for r in samples:
        assert int(r["threads"]) in seen[int(r["pid"])], r


def test_per_step_columns_match_a_sync_worker(observed):
    run_dir, seen = observed
    workers = {pid: counts for pid, counts in seen.items() if pid in _serving(run_dir)}
    for step in rows(run_dir / "steps.csv"):
        assert float(step["server_processes"]) == WORKERS
        lowest = min(min(c) for c in workers.values())
        highest = max(max(c) for c in workers.values())
        assert lowest <= float(step["threads_per_process_mean"]) <= highest
        assert lowest <= int(float(step["threads_per_process_max"])) <= highest
        # One request at a time per process, and the load kept some in the app.
        assert 0 < float(step["inflight_per_process_mean"]) <= 1
        assert float(step["inflight_per_process_max"]) <= 1
        assert float(step["inflight_app_mean"]) <= WORKERS
        # One connection per process at most (CONN_MAX_AGE 0: one per request, in turn).
        assert float(step["pg_total_max"]) <= WORKERS
        assert float(step["pg_max_connections"]) == meta(run_dir)["postgres"]["max_connections"]
        assert float(step["pg_opened_per_s"]) > 0


def _serving(run_dir):
    return {int(r["pid"]) for r in rows(run_dir / SERVER_PROCESSES) if r["serving"] == "1"}
