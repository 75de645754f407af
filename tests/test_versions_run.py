"""The polls project on Django 3.0 and 5.2 side by side at smoke scale (one matrix): each run's
meta.json names the versions its environment had, and its per-step columns agree with the
server processes this test saw itself."""

import os
import subprocess
import sys

import pytest

from djbench.contracts.files import SERVER_PROCESSES
from tests.helpers import ROOT, meta, rows, server_threads

pytestmark = pytest.mark.integration

WORKERS = 2


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    lock = tmp_path_factory.mktemp("lock") / "djbench.lock"
    argv = [sys.executable, "-m", "djbench", "matrix", "--servers", "uvicorn", "--views",
            "sync", "--djangos", "3.0 5.2", "--workers", str(WORKERS), "--profile", "smoke",
            "--mode", "native", "--results-dir", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(lock)}
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) as run:
        seen = server_threads(run, out)
    assert run.returncode == 0
    runs = {meta(p.parent)["versions"]["Django"]: p.parent for p in out.glob("*/meta.json")}
    return runs, seen, next(out.glob("*-report"))


def test_each_run_names_the_versions_its_environment_had(matrix):
    runs, _, _ = matrix
    assert sorted(runs) == ["3.0.14", "5.2.19"]
    old, new = meta(runs["3.0.14"]), meta(runs["5.2.19"])
    assert old["versions"]["asgiref"].startswith("3.2.")
    assert old["versions"]["psycopg2-binary"].startswith("2.9.")
    assert old["project"]["environment"]["compat"] == ["utc_offset"]
    assert old["project"]["environment"]["servers_instead"] == {"daphne": ["4.2.3", "3.0.2"]}
    assert new["project"]["environment"]["compat"] == []
    assert old["project"]["environment"]["key"] != new["project"]["environment"]["key"]
    for m in (old, new):
        assert m["integrity"]["ok"], m["integrity"]
        assert m["project"]["builtin"] and m["versions"]["uvicorn"] == "0.54.0"


def test_per_step_columns_match_the_processes_seen(matrix):
    runs, seen, _ = matrix
    for run_dir in runs.values():
        serving = {int(r["pid"]) for r in rows(run_dir / SERVER_PROCESSES) if r["serving"] == "1"}
        assert len(serving) == WORKERS and serving <= set(seen)
        counts = [c for pid in serving for c in seen[pid]]
        for step in rows(run_dir / "steps.csv"):
            assert float(step["server_processes"]) == WORKERS
            assert min(counts) <= float(step["threads_per_process_mean"]) <= max(counts)
            assert 0 < float(step["inflight_app_mean"]) <= int(step["users"])
            assert float(step["pg_total_max"]) <= float(step["pg_max_connections"])


def test_the_report_compares_the_two_djangos(matrix):
    _, _, report = matrix
    text = (report / "report.md").read_text()
    assert "## By Django version" in text
    assert "| 3.0.14 | 3.2." in text and "| 5.2.19 | 3.13.0 | — | uvicorn |" in text
    assert "uvicorn (ASGI, Django 3.0)" not in text  # labels give the release that ran
    assert "uvicorn (ASGI, Django 3.0.14)" in text
