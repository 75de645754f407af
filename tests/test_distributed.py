"""Across hosts, built as network namespaces on this machine: the stack on one, Locust's workers
on two load hosts (two processes each), the controller (Locust's master, the analysis) on a
fourth. Then the faults: a worker of another project version, a worker lost mid-run, Ctrl-C on
the controller, the stack host gone mid-run or unreachable."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from djbench.analysis.runs.run import load_run
from djbench.system import leftovers
from tests import netns
from tests.helpers import ROOT, last_path, meta, rows
from tests.test_interrupts import wait_for_line

OK, WHY = netns.available()
pytestmark = [pytest.mark.integration, pytest.mark.skipif(not OK, reason=WHY)]
TOKEN = "test-token-not-secret"
HOSTS = ["stack", "load1", "load2", "ctl"]
# Connects and says nothing, holding the connection for as long as the other side does.
IDLE = """
import socket, sys, time
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as s:
    s.recv(1)
time.sleep(600)
"""


def _env(tmp, name, **extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_TOKEN": TOKEN,
            "DJBENCH_LOCK": str(tmp / f"{name}.lock"), **extra}  # fmt: skip


def _djbench(hosts, name, tmp, *args, root=ROOT, log=None):
    """`djbench ...` on host `name`, its output in <tmp>/<log or name>.out."""
    out = open(tmp / f"{log or name}.out", "w")
    return hosts.start(name, [sys.executable, "-u", "-m", "djbench", *map(str, args)],
                       cwd=root, env=_env(tmp, log or name), stdout=out,
                       stderr=subprocess.STDOUT)  # fmt: skip


def _wait_for(path, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never in {path}: {path.read_text()}")


def _controller(hosts, tmp, *args):
    a = hosts.address
    return hosts.start(
        "ctl",
        [sys.executable, "-u", "-m", "djbench", "run", "--mode", "distributed",
         "--stack", a["stack"], "--server", "gunicorn", "--results-dir", tmp / "results",
         *map(str, args)],
        cwd=ROOT, env=_env(tmp, "ctl"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _stop(proc, timeout=60):
    """Ctrl-C, as a user ends a stack host or a load worker; returns its exit status."""
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(timeout)


@pytest.fixture
def hosts(tmp_path):
    temp_before = set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*"))
    with netns.Hosts(HOSTS) as made:
        a = made.address
        made.stack = _djbench(made, "stack", tmp_path, "stack-host", "--bind", a["stack"])
        made.workers = [
            _djbench(made, name, tmp_path, "load-worker", "--master", a["ctl"], "--processes", 2)
            for name in ("load1", "load2")
        ]
        _wait_for(tmp_path / "stack.out", "stack host serving db, web on")
        yield made
        names = made.namespaces_left
        for proc in (*made.workers, made.stack):  # Ctrl-C, as their users end them
            if proc.poll() is None:
                _stop(proc)
    # A stack host killed by a test left its stack: what its next start would stop.
    leftovers.reap(tmp_path / "stack.lock.runs")
    assert names() == [], "every namespace is removed"
    assert set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*")) <= temp_before


def test_a_smoke_run_across_four_hosts(hosts, tmp_path):
    # A connection to the stack host's API that never says a word, opened before the run: the
    # one-at-a-time API times it out instead of freezing (it held /hello for ever).
    idle = hosts.start("load1", [sys.executable, "-c", IDLE, hosts.address["stack"], "7700"],
                       stdout=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1)
    ctl = _controller(hosts, tmp_path, "--profile", "smoke", "--expect-workers", 4)
    out, err = ctl.communicate(timeout=300)
    assert ctl.returncode == 0, out + err
    run_dir = last_path(out, "results:")
    m = meta(run_dir)
    assert m["mode"] == "distributed" and m["complete"] is True and m["warnings"] == []
    assert idle.poll() is None, "the idle connection's process lived through the run"
    idle.kill()

    # Raw data from all four workers, through Locust's messaging: every step's counts match it.
    workers = m["load_generators"]
    assert sorted(w["address"] for w in workers) == sorted(
        [hosts.address["load1"]] * 2 + [hosts.address["load2"]] * 2
    )
    logs = sorted(run_dir.glob("requests-*.csv"))
    assert len(logs) == 4 and all(rows(log) for log in logs), "every worker ran users"
    requests = [r for log in logs for r in rows(log)]
    for step, window in zip(rows(run_dir / "steps.csv"), rows(run_dir / "timeline.csv"),
                            strict=True):  # fmt: skip
        lo, hi = float(window["measure_from"]), float(window["end"])
        inside = [r for r in requests if lo <= float(r["ts"]) < hi]
        assert int(step["requests"]) == len(inside) > 0
        assert int(step["failures"]) == 0 and int(step["workers_missing"]) == 0

    # Integrity over TCP with the password, against the stack host's PostgreSQL.
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    assert m["votes_in_db"] == m["votes_posted_ok"] == posted_ok > 0

    # Resources from every host, the host named; clock offsets measured and recorded.
    run = load_run(run_dir)
    cpu = [c for c in run.steps.columns if c.startswith("cpu_")]
    assert {"cpu_postgres_pct", "cpu_server_pct", "cpu_nginx_pct", "cpu_locust_pct"} <= set(cpu)
    assert len([c for c in cpu if c.startswith("cpu_locust_") and c != "cpu_locust_pct"]) == 4
    for log in run_dir.glob(f"resources-{socket.gethostname()}-*.csv"):  # workers' own reports
        assert {r["host"] for r in rows(log)} <= {hosts.address["load1"], hosts.address["load2"]}
    stack_rows = rows(run_dir / f"resources-stack-{hosts.address['stack']}.csv")
    assert {r["component"] for r in stack_rows} == {"postgres", "server", "nginx", "stack-host"}
    assert {r["host"] for r in stack_rows} == {hosts.address["stack"]}
    roles = {h["address"]: h["roles"] for h in m["topology"]["hosts"]}
    assert roles == {
        hosts.address["ctl"]: ["controller", "locust-master"],
        hosts.address["stack"]: ["db", "web"],
        hosts.address["load1"]: ["load"],
        hosts.address["load2"]: ["load"],
    }
    assert all(abs(w["clock_offset_s"]) < 0.05 for w in workers)  # one machine: one clock
    for host in m["topology"]["hosts"]:  # software versions per host
        assert host["versions"]["python"], host
    # The stack host's machine and its database's connections, on the controller's clock.
    assert float(rows(run_dir / "system.csv")[0]["cpus"]) >= 1
    assert max(int(r["total"]) for r in rows(run_dir / "pg_activity.csv")) >= 0
    assert {"machine_cpu_pct", "pg_total_max"} <= set(run.steps.columns)
    # The stack host's server processes too: the mechanism's columns, as in native mode.
    assert {
        "server_processes",
        "inflight_per_process_mean",
        "pg_idle_mean",
        "pg_opened_per_s",
    } <= set(run.steps.columns)
    assert (run.steps["server_processes"] == m["processes"]).all()
    for name in ("postgres.log", "server.log", "nginx.error.log"):
        assert (run_dir / "logs" / name).exists(), name

    # The stack host and the load workers stop cleanly on their own Ctrl-C, leaving nothing.
    assert _stop(hosts.stack) == 0
    assert all(_stop(w) == 0 for w in hosts.workers)
    assert hosts.all_pids() == {name: [] for name in HOSTS}


def _project_copy(tmp_path):
    """The same checkout with one change: another project version."""
    copy = tmp_path / "other-version"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "results", "__pycache__", "*.egg-info"),
    )
    with open(copy / "locustfiles" / "vote.py", "a") as f:
        f.write("\n# another version\n")
    return copy


def test_faults_across_hosts(hosts, tmp_path):
    a = hosts.address
    # A worker of another project version is refused, with one line on both sides.
    other = _djbench(hosts, "load2", tmp_path, "load-worker", "--master", a["ctl"],
                     root=_project_copy(tmp_path), log="other")  # fmt: skip
    ctl = _controller(hosts, tmp_path, "--users", "4,8", "--hold", "12", "--warmup", "1",
                      "--expect-workers", 4)  # fmt: skip
    assert other.wait(90) == 2
    refusal = (tmp_path / "other.out").read_text().strip().splitlines()[-1]
    assert refusal.startswith("djbench: error: worker ") and "refused: its project version" in (
        refusal
    )
    # A worker lost mid-run: one Locust worker process of load1 killed during step 1.
    seen = wait_for_line(ctl, "step 1/2", timeout=180)
    time.sleep(3)
    worker_pids = [
        p for p in hosts.pids("load1") if "--worker" in Path(f"/proc/{p}/cmdline").read_text()
    ]
    os.kill(worker_pids[0], signal.SIGKILL)
    # Ctrl-C on the controller during step 2 stops the run and its workers.
    seen += wait_for_line(ctl, "step 2/2", timeout=120)
    time.sleep(4)
    os.killpg(ctl.pid, signal.SIGINT)
    out, err = ctl.communicate(timeout=180)
    assert ctl.returncode == 130, "".join(seen) + out + err
    run_dir = last_path("".join(seen) + out, "partial results:")
    m = meta(run_dir)
    assert m["complete"] is False and m["integrity"]["ok"] is True
    warnings = "\n".join(m["warnings"])
    assert "refused: its project version" in warnings and "lost" in warnings
    steps = rows(run_dir / "steps.csv")
    assert int(steps[0]["workers_missing"]) == 1 or int(steps[1]["workers_missing"]) == 1
    # The master told its workers to quit: each load worker is idle again, waiting for a run.
    _wait_for(tmp_path / "load1.out", "waiting for the next run", timeout=60)
    _wait_for(tmp_path / "load2.out", "waiting for the next run", timeout=60)

    # The stack host gone mid-run ends the run with one line; what was measured is kept.
    ctl = _controller(hosts, tmp_path, "--users", "4,8", "--hold", "12", "--warmup", "1",
                      "--expect-workers", 2)  # fmt: skip
    seen = wait_for_line(ctl, "step 2/2", timeout=180)
    os.killpg(hosts.stack.pid, signal.SIGKILL)
    out, err = ctl.communicate(timeout=180)
    assert ctl.returncode == 1, "".join(seen) + out + err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"djbench: run failed: stack host {a['stack']}:7700 unreachable")
    run_dir = last_path("".join(seen) + out, "partial results:")
    steps = rows(run_dir / "steps.csv")
    assert int(steps[0]["requests"]) > 0

    # Unreachable from the start: one line, nothing started.
    ctl = _controller(hosts, tmp_path, "--profile", "smoke", "--expect-workers", 2)
    out, err = ctl.communicate(timeout=120)
    assert ctl.returncode == 2
    assert err.strip().startswith(f"djbench: error: stack host {a['stack']}:7700 unreachable")
    assert len(err.strip().splitlines()) == 1
