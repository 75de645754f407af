"""`djbench calibrate` at smoke scale on the real stack: every client's numbers in the report are
recomputed here from that client's raw data."""

import json
import math
import os
import shutil

import pytest

from djbench.analysis.report.calibration import client_numbers, conclusions
from djbench.analysis.runs.metrics import step_metrics
from tests.helpers import djbench, last_path, meta, survivors

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    results = tmp_path_factory.mktemp("results")
    done = djbench(
        "calibrate", "--users", 4, "--hold", 6, "--warmup", 1, "--workers", 2, "--mode", "native",
        "--results-dir", results,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return last_path(done.stdout, "calibration:"), done.stdout


def _report(cal_dir):
    """calibrate.json, and each client's run directory by name."""
    report = json.loads((cal_dir / "calibrate.json").read_text())
    return report, {r["name"]: cal_dir / r["run"] for r in report["runs"]}


def test_every_client_ran_and_nothing_is_left(calibration):
    cal_dir, stdout = calibration
    report, runs = _report(cal_dir)
    names = ["locust-fast-vote", "locust-http-vote", "locust-fast-detail", "wrk-detail",
             "locust-fast-vote-processes"]  # fmt: skip
    assert list(runs) == names
    for run_dir in runs.values():
        m = meta(run_dir)
        assert m["complete"] is True
        assert survivors(set(m["pids"].values())) == []
    assert "FastHttpUser is" in stdout
    # The first client's run set the database up; the others started from copies of it.
    copied = [meta(run_dir)["postgres"]["copied_from_setup"] for run_dir in runs.values()]
    assert copied == [False, True, True, True, True]


def test_locust_numbers_come_from_the_runs(calibration):
    cal_dir, _ = calibration
    report, runs = _report(cal_dir)
    for name, user_class, scenario in (
        ("locust-fast-vote", "fast", "vote"),
        ("locust-http-vote", "http", "vote"),
        ("locust-fast-detail", "fast", "detail"),
    ):
        run_dir = runs[name]
        config = meta(run_dir)["config"]
        assert (config["user_class"], config["scenario"], config["wait_s"]) == (
            user_class, scenario, [0.0, 0.0]
        )  # fmt: skip
        step = step_metrics(run_dir).iloc[0]
        got = report["clients"][name]
        assert got["requests"] == step["requests"] > 0
        assert got["rps"] == pytest.approx(step["rps"])
        assert got["requests_per_cpu_s"] == pytest.approx(
            step["rps"] / (step["cpu_locust_pct"] / 100)
        )
        names = set(step_metrics(run_dir).columns)
        assert "cpu_locust_pct" in names
    detail = step_metrics(runs["locust-fast-detail"]).iloc[0]
    assert detail["vote_posts"] == 0  # the detail scenario only reads


def test_one_locust_process_per_core(calibration):
    """The same load from a master and one worker per core: its client CPU is every process's."""
    cal_dir, _ = calibration
    report, runs = _report(cal_dir)
    run_dir = runs["locust-fast-vote-processes"]
    cores = os.cpu_count()
    assert meta(run_dir)["locust"]["processes"] == cores
    assert len(list(run_dir.glob("requests-*.csv"))) == cores
    step = step_metrics(run_dir).iloc[0]
    cpu = [c for c in step.index if c.startswith("cpu_locust")]
    assert len(cpu) == cores + 1  # the master and each worker
    got = report["clients"]["locust-fast-vote-processes"]
    assert got["requests"] == step["requests"] > 0
    assert got["cpu_pct"] == pytest.approx(sum(step[c] for c in cpu))
    processes = [r["processes"] for r in report["runs"]]
    assert processes == [1, 1, 1, 1, cores]


def test_wrk_numbers_come_from_its_summary(calibration):
    cal_dir, _ = calibration
    report, runs = _report(cal_dir)
    run_dir = runs["wrk-detail"]
    raw = json.loads((run_dir / "wrk.json").read_text())
    assert raw["requests"] > 0 and raw["connections"] == 4 and raw["url"].endswith("/")
    seconds = raw["duration_us"] / 1e6
    assert 4 <= seconds <= 7  # hold 6 - warm-up 1 = 5 s measured
    got = report["clients"]["wrk-detail"]
    assert got["rps"] == pytest.approx(raw["requests"] / seconds)
    assert got["cpu_pct"] == pytest.approx(100 * raw["cpu_s"] / seconds)
    assert 0 < raw["cpu_s"] < seconds  # one thread: under one core


def test_conclusions_by_hand():
    clients = {
        "locust-fast-vote": {"rps": 100.0, "requests_per_cpu_s": 1000.0, "cpu_ms_per_request": 1.0},
        "locust-http-vote": {"rps": 80.0, "requests_per_cpu_s": 250.0, "cpu_ms_per_request": 4.0},
        "locust-fast-detail": {"rps": 300.0, "cpu_ms_per_request": 0.9},
        "wrk-detail": {"rps": 400.0, "cpu_ms_per_request": 0.05},
    }
    lines = conclusions(clients)
    assert lines[0].startswith("FastHttpUser: 1000 requests per CPU-second (1.00 ms")
    assert "FastHttpUser is 4.0x cheaper" in lines[0]
    # Peak 100 req/s at 1000 per CPU-second: 10 % of a core, one process.
    assert "up to 100 requests/s" in lines[1] and "needs 10 % of one core" in lines[1]
    assert "1 process keeps each under 50 %" in lines[1]
    assert "got 300 requests/s and wrk 400 (75 % of wrk's)" in lines[2]
    clients["locust-fast-vote"]["rps"] = 1200.0  # 120 % of a core: three processes of <= 50 %
    assert "3 processes keep each under 50 %" in conclusions(clients)[1]
    clients["locust-fast-vote-processes"] = {"rps": 1800.0, "cpu_ms_per_request": 1.1}
    assert conclusions(clients, worker_processes=2)[3] == (
        "With 2 worker processes Locust reached 1800 requests/s, with one 1200 (150 %), at "
        "1.10 ms of client CPU per request against 1.00: more processes got more through: one "
        "process held the load back"
    )
    clients["locust-fast-vote-processes"]["rps"] = 1250.0  # within 10 %: the same rate
    assert conclusions(clients, worker_processes=2)[3].endswith(
        "(104 %), at 1.10 ms of client CPU per request against 1.00: about the same rate, so the "
        "stack, not the generator, set it"
    )


def test_client_numbers_of_a_wrk_summary(tmp_path):
    (tmp_path / "wrk.json").write_text(json.dumps({
        "requests": 1000, "duration_us": 5_000_000, "bytes": 1, "connect_errors": 0,
        "read_errors": 2, "write_errors": 0, "status_errors": 8, "timeouts": 0,
        "p50_us": 12000, "p95_us": 40000, "p99_us": 50000, "cpu_s": 0.5,
    }))  # fmt: skip
    n = client_numbers(tmp_path)
    # 1000 requests in 5 s = 200/s; 0.5 CPU-s in 5 s = 10 % of a core -> 2000 per CPU-second.
    assert (n["rps"], n["cpu_pct"], n["failure_pct"]) == (200, 10, 1.0)
    assert n["requests_per_cpu_s"] == pytest.approx(2000)
    assert n["cpu_ms_per_request"] == pytest.approx(0.5)
    assert (n["p50_ms"], n["p95_ms"]) == (12, 40)
    assert not math.isnan(n["window_s"])
