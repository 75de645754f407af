"""Ctrl-C, SIGTERM and a crashed component: nothing left running, partial results readable."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from djbench.analysis.runs.run import load_run
from tests.helpers import ROOT, meta, survivors

pytestmark = pytest.mark.integration


def start_run(results, *extra):
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "run", "--server", "gunicorn",
         "--profile", "smoke", "--mode", "native", "--results-dir", str(results), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_line(proc, fragment, timeout=120):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if fragment in line:
            return seen
    raise AssertionError(f"never saw {fragment!r}; output: {''.join(seen)}")


def only_run(results):
    (run_dir,) = list(results.iterdir())
    return run_dir


@pytest.mark.parametrize(
    "sig, when",
    [
        (signal.SIGINT, "run "),  # during start-up: PostgreSQL is being created
        (signal.SIGINT, "step 2/2"),  # mid-step
        (signal.SIGTERM, "step 2/2"),
        (signal.SIGHUP, "step 2/2"),  # the terminal closed
    ],
    ids=["sigint-startup", "sigint-mid-step", "sigterm-mid-step", "sighup-mid-step"],
)
def test_interrupt_stops_everything_and_keeps_partial_results(sig, when, tmp_path):
    proc = start_run(tmp_path)
    wait_for_line(proc, when)
    # start-up: PostgreSQL is being created or Django migrated; mid-step: inside step 2's window
    time.sleep(1.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    run_dir = only_run(tmp_path)
    m = meta(run_dir)
    assert m["complete"] is False
    assert survivors(set(m["pids"].values())) == []
    if when == "step 2/2":
        run = load_run(run_dir)  # the analysis reads the partial run
        steps = run.steps
        assert list(steps["users"]) == [2, 4]
        assert list(steps["complete"]) == [1, 0]
        assert steps["requests"].iloc[0] > 0
        assert m["integrity"]["ok"] is True


def test_a_second_ctrl_c_during_shutdown_leaves_nothing(tmp_path):
    proc = start_run(tmp_path)
    wait_for_line(proc, "step 2/2")
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # the harness is now stopping Locust and the stack
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    m = meta(only_run(tmp_path))
    assert m["complete"] is False
    assert survivors(set(m["pids"].values())) == []


def test_a_sigterm_during_shutdown_does_not_cut_it_short(tmp_path):
    proc = start_run(tmp_path)
    wait_for_line(proc, "step 2/2")
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # the harness is now stopping Locust and the stack
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    m = meta(only_run(tmp_path))
    assert m["complete"] is False and m["integrity"]["ok"] is True
    assert survivors(set(m["pids"].values())) == []


def test_a_killed_app_server_ends_the_run_with_its_log(tmp_path):
    proc = start_run(tmp_path)
    wait_for_line(proc, "step 2/2")  # step 1 measured: a report can be built
    run_dir = only_run(tmp_path)
    server_pid = meta(run_dir)["pids"]["server"]
    os.killpg(server_pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "server died mid-run" in err
    m = meta(run_dir)
    assert m["complete"] is False
    assert any("server died mid-run" in w for w in m["warnings"])
    assert survivors(set(m["pids"].values())) == []
    assert not psutil.pid_exists(server_pid)
    # ...and the report of that partial run says so.
    from djbench.analysis.report import build as report

    report.build([run_dir], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "server died mid-run" in text and "the run did not finish" in text
