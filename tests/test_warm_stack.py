"""A knee search's probes share one stack (natively by default, --warm-stack), each once the
one before drained."""

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from djbench import config
from djbench.runners.native import NativeRunner
from djbench.stack import warm
from djbench.system import leftovers
from tests.helpers import ROOT, djbench, last_path, meta, rows, survivors
from tests.test_interrupts import wait_for_line
from tests.test_leftovers import _alive

pytestmark = pytest.mark.integration


def _temp_dirs():
    return set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*"))


def test_a_knee_search_s_probes_share_one_warm_stack(tmp_path):
    before = _temp_dirs()
    lock = tmp_path / "lock"
    # Natively, for the polls project, without being asked.
    done = djbench("knee", "--servers", "gunicorn", "--mode", "native", "--start", "2",
                   "--max-users", "4", "--measure", "3", "--warmup", "1", "--spawn-rate", "10",
                   "--results-dir", tmp_path / "out",
                   env={"DJBENCH_LOCK": str(lock)})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    knee_dir = last_path(done.stdout, "knee:")
    data = json.loads((knee_dir / "knee.json").read_text())
    assert data["settings"]["warm_stack"] is True
    saturation = data["prediction"]["saturation"]
    runs = [saturation["run_dir"], *(p["run_dir"] for p in data["probes"])]
    metas = [meta(knee_dir / r) for r in runs]
    first = Path(runs[0]).name
    # One stack, started by the saturation probe: the same app server, PostgreSQL and nginx.
    assert [m["stack"]["started_by"] for m in metas] == [first] * len(runs)
    assert [m["stack"]["run"] for m in metas] == list(range(1, len(runs) + 1))
    stack_pids = metas[0]["stack"]["pids"]
    assert all(m["stack"]["pids"] == stack_pids for m in metas)
    assert {"postgres", "server", "nginx"} <= set(stack_pids)
    assert done.stdout.count("warm stack ready in") == len(runs) - 1
    assert done.stdout.count("stack ready in") == len(runs)  # started once, reused after
    for run_dir, m in zip(runs, metas, strict=True):
        # Each run counts its own votes on the shared database, and gets its part of the
        # stack's logs (PostgreSQL's, which the analysis reads for refused connections).
        assert m["integrity"]["ok"] is True, m["integrity"]
        (step,) = rows(knee_dir / run_dir / "steps.csv")
        assert int(step["requests"]) > 0
        assert (knee_dir / run_dir / "logs" / "postgres.log").exists()
        assert "Django" in m["versions"] and m["scenario"] == {"kind": "polls"}
        assert survivors({*m["pids"].values(), *stack_pids.values()}) == []
    # The first run's logs hold the stack's start; no later run's repeats it.
    assert "Booting worker" in (knee_dir / runs[0] / "logs" / "server.log").read_text()
    assert "Booting worker" not in (knee_dir / runs[-1] / "logs" / "server.log").read_text()
    assert "shared a warm stack (`--warm-stack`)" in (knee_dir / "knee.md").read_text()
    assert f"1 of the {len(runs)} runs started one" in (knee_dir / "knee.md").read_text()
    assert list((tmp_path / "lock.runs").glob("*.json")) == []
    assert _temp_dirs() <= before


def test_a_warm_stack_that_does_not_drain_is_started_afresh(tmp_path, monkeypatch):
    """A request still in flight when the next run would start (a counter the app's middleware
    keeps, here one of a process that claims one) means a backlog: that stack is not measured
    again, a fresh one is started."""
    monkeypatch.setenv("DJBENCH_LOCK", str(tmp_path / "lock"))
    monkeypatch.setattr(warm, "DRAIN_S", 0.5)
    cfg = config.build("gunicorn", "smoke", users=(2,), hold_s=2, warmup_s=0, spawn_rate=10)
    runner = NativeRunner()
    with runner.runs_in_a_row(warm=True):
        first = runner.run(cfg, tmp_path / "out")
        stuck = runner.warm.current.tmp / "inflight" / "999999"
        stuck.write_bytes(struct.pack("<3d", 1, 0.0, time.monotonic()))
        second = runner.run(cfg, tmp_path / "out")
        third = runner.run(cfg, tmp_path / "out")
    one, two, three = meta(first), meta(second), meta(third)
    assert two["stack"]["restarted"] == "the warm stack did not drain within 0.5 s"
    assert two["stack"]["started_by"] == second.name != one["stack"]["started_by"]
    assert two["stack"]["pids"]["server"] != one["stack"]["pids"]["server"]
    assert three["stack"]["pids"] == two["stack"]["pids"] and "restarted" not in three["stack"]
    for m in (one, two, three):
        assert m["integrity"]["ok"] is True
        assert survivors({*m["pids"].values(), *m["stack"]["pids"].values()}) == []
    assert not stuck.exists()  # the stopped stack's temp dir went with it


def test_warm_stack_is_refused_where_it_cannot_work(tmp_path):
    done = djbench("knee", "--servers", "gunicorn", "--mode", "compose", "--warm-stack",
                   "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.endswith("--warm-stack runs natively only, not in compose mode (--mode native)")
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


def test_a_killed_search_s_warm_stack_is_stopped_by_the_next_run(tmp_path):
    """The warm stack outlives each probe's own record, so it keeps one of its own: after a
    SIGKILL of the harness the next run stops its processes and removes its temp dir."""
    env = {"DJBENCH_LOCK": str(tmp_path / "lock")}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "knee", "--servers", "gunicorn", "--mode",
         "native", "--start", "2", "--max-users", "4", "--measure", "3", "--warmup", "1",
         "--spawn-rate", "10", "--warm-stack", "--results-dir", str(tmp_path / "killed")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    wait_for_line(proc, "warm stack ready", timeout=300)
    started = {(p.pid, p.create_time()) for p in psutil.Process(proc.pid).children(recursive=True)}
    (record,) = (tmp_path / "lock.runs").glob("*-stack.json")
    temp_dirs = json.loads(record.read_text())["temp_dirs"]
    proc.kill()
    proc.communicate(timeout=30)
    assert temp_dirs and all(os.path.isdir(d) for d in temp_dirs)
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path / "next", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped what the killed run" in done.stdout
    assert _alive(started) == set()
    assert not any(os.path.exists(d) for d in temp_dirs)
