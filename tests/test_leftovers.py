"""A run killed hard (SIGKILL, the OOM killer) skips all its cleanup; the next run finds what it
left, stops it and says so. Also: set-up steps have a deadline, and the user's environment
cannot change what runs behind meta.json's back."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from djbench.errors import ComponentFailed
from djbench.system import child_env as environ
from djbench.system import leftovers
from djbench.system.packages import engine_available
from djbench.system.processes import ProcessSet
from tests.helpers import ROOT, djbench, last_path, meta, survivors
from tests.test_interrupts import wait_for_line


def _start(results, env, *args):
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "run", "--profile", "smoke",
         "--results-dir", str(results), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


def _kill_mid_step(tmp_path, env, *args):
    """Start a run, SIGKILL the harness once step 1 is measured; returns the run id and the
    live record it left, and every process the run had started (as (pid, start time))."""
    proc = _start(tmp_path / "killed", env, *args)
    wait_for_line(proc, "step 2/2", timeout=300)
    started = {(p.pid, p.create_time()) for p in psutil.Process(proc.pid).children(recursive=True)}
    proc.kill()
    proc.communicate(timeout=30)
    (run_dir,) = list((tmp_path / "killed").iterdir())
    record = tmp_path / "lock.runs" / f"{run_dir.name}.json"
    assert record.exists(), "a running run keeps a record of what it started"
    return run_dir.name, record.read_text(), started


def _alive(started):
    alive = set()
    for pid, created in started:
        try:
            p = psutil.Process(pid)
            if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                alive.add(f"{pid} {p.name()}")
        except psutil.Error:
            continue
    return alive


@pytest.mark.integration
def test_the_next_run_stops_what_a_killed_native_run_left(tmp_path):
    env = {"DJBENCH_LOCK": str(tmp_path / "lock")}
    run_id, record, started = _kill_mid_step(
        tmp_path, env, "--server", "uvicorn", "--mode", "native"
    )
    time.sleep(1)
    temp_dirs = leftovers.json.loads(record)["temp_dirs"]
    left = leftovers.tagged_processes(run_id, temp_dirs)
    # What the kernel's parent-death signal does not reach: nginx and uvicorn workers, the
    # PostgreSQL cluster's processes. Each of them is found as the run's.
    assert left, "SIGKILL of the harness left nothing running: this test shows nothing"
    assert _alive(started) <= {f"{p.pid} {p.name()}" for p in left}
    assert any(p.name() == "nginx" for p in left)
    temp_dir = temp_dirs[0]
    assert os.path.isdir(temp_dir)

    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path / "next", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line = f"stopped what the killed run {run_id} left behind: {len(left)} processes, {temp_dir}"
    assert line in done.stdout.splitlines()
    assert leftovers.tagged_processes(run_id, temp_dirs) == []
    assert _alive(started) == set(), "every process the killed run started is stopped"
    assert not os.path.exists(temp_dir)
    assert not list((tmp_path / "lock.runs").glob("*.json")), "records are removed"
    m = meta(last_path(done.stdout, "results:"))
    assert m["complete"] is True and survivors(set(m["pids"].values())) == []


@pytest.mark.integration
def test_a_run_killed_while_its_stack_starts_leaves_nothing(tmp_path):
    env = {"DJBENCH_LOCK": str(tmp_path / "lock")}
    before = set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*"))
    proc = _start(tmp_path / "killed", env, "--server", "gunicorn", "--mode", "native")
    wait_for_line(proc, "run ", timeout=60)  # its first line; the stack starts next
    time.sleep(0.5)  # PostgreSQL's initdb is running
    started = {(p.pid, p.create_time()) for p in psutil.Process(proc.pid).children(recursive=True)}
    proc.kill()
    proc.communicate(timeout=30)
    assert started, "the stack had not started: this test shows nothing"
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path / "next", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped what the killed run" in done.stdout
    assert _alive(started) == set()
    assert set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*")) <= before


@pytest.mark.integration
def test_a_killed_knee_search_leaves_no_kept_database(tmp_path):
    """A knee search keeps its first probe's database set up, to copy for the next probes; a
    SIGKILL mid-probe leaves that copy's source behind too, and the next run removes it."""
    env = {"DJBENCH_LOCK": str(tmp_path / "lock")}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "knee", "--servers", "gunicorn", "--mode",
         "native", "--start", "2", "--max-users", "4", "--measure", "3", "--warmup", "1",
         "--spawn-rate", "10", "--no-warm-stack", "--results-dir", str(tmp_path / "killed")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    wait_for_line(proc, "prediction:", timeout=300)  # the saturation probe kept its database
    wait_for_line(proc, "stack ready", timeout=120)  # the first probe runs on a copy
    (record,) = (tmp_path / "lock.runs").glob("*.json")
    temp_dirs = leftovers.json.loads(record.read_text())["temp_dirs"]
    proc.kill()
    proc.communicate(timeout=30)
    assert len(temp_dirs) == 2 and all(os.path.isdir(d) for d in temp_dirs)
    kept = [d for d in temp_dirs if (Path(d) / "0" / "PG_VERSION").exists()]
    assert kept, f"no kept database among {temp_dirs}"
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path / "next", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped what the killed run" in done.stdout
    assert not any(os.path.exists(d) for d in temp_dirs)


@pytest.mark.compose
@pytest.mark.skipif(not engine_available(), reason="no Docker engine answers (docker info)")
def test_the_next_run_removes_the_containers_of_a_killed_compose_run(tmp_path):
    env = {"DJBENCH_LOCK": str(tmp_path / "lock")}
    run_id, _, _ = _kill_mid_step(tmp_path, env, "--server", "gunicorn", "--mode", "compose")
    project = f"djbench-{run_id.lower()}"
    label = f"label=com.docker.compose.project={project}"

    def containers():
        done = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True,
                              text=True)  # fmt: skip
        return done.stdout.split()

    assert containers(), "the killed run's containers run on"
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path / "next", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Its build context's temp dir goes too (named first), then the compose project.
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("stopped what")]
    assert line.startswith(f"stopped what the killed run {run_id} left behind: ")
    assert "/djbench-" in line
    assert line.endswith(f", compose project {project}")
    assert containers() == []


def test_a_hung_set_up_step_ends_the_run_with_its_log(tmp_path):
    with ProcessSet("test") as procs:
        argv = ["sh", "-c", "echo migrating; exec sleep 60"]
        with pytest.raises(ComponentFailed) as failed:
            procs.run("migrate", argv, tmp_path / "setup.log", timeout=1)
        assert procs.items == []
    assert str(failed.value) == (
        "migrate did not finish within 1 s; last lines of its log:\nmigrating"
    )


def test_the_users_environment_does_not_reach_the_run(monkeypatch):
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 64")
    monkeypatch.setenv("UVICORN_WORKERS", "64")
    monkeypatch.setenv("LOCUST_HOST", "http://elsewhere")
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=1")
    monkeypatch.setenv("WEB_CONCURRENCY", "64")
    monkeypatch.setenv("STEPS", "1,2,3")  # a docker-compose.yml variable
    monkeypatch.setenv("KEEP_ME", "1")
    env = environ.child_environ({"LOCUST_STOP_TIMEOUT": "95"}, run_id="r1")
    for name in ("GUNICORN_CMD_ARGS", "UVICORN_WORKERS", "LOCUST_HOST", "PGOPTIONS",
                 "WEB_CONCURRENCY"):  # fmt: skip
        assert name not in env
    assert env["KEEP_ME"] == "1" and env["LOCUST_STOP_TIMEOUT"] == "95"
    assert env["DJBENCH_RUN"] == "r1"
    compose = environ.compose_environ({"HOLD": "6"})
    assert "STEPS" not in compose and compose["HOLD"] == "6"
    ignored = environ.ignored()
    for name in ("GUNICORN_CMD_ARGS", "LOCUST_HOST", "PGOPTIONS", "STEPS", "UVICORN_WORKERS"):
        assert name in ignored
    assert "KEEP_ME" not in ignored


@pytest.mark.integration
def test_a_run_records_and_ignores_the_users_environment(tmp_path):
    done = djbench("run", "--server", "gunicorn", "--profile", "smoke", "--mode", "native",
                   "--results-dir", tmp_path,
                   env={"GUNICORN_CMD_ARGS": "--workers 1 --bind 127.0.0.1:1",
                        "LOCUST_USERS": "50", "DJBENCH_LOCK": str(tmp_path / "lock")})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    m = meta(last_path(done.stdout, "results:"))
    assert {"GUNICORN_CMD_ARGS", "LOCUST_USERS"} <= set(m["environment_ignored"])
    assert any("left out of the environment" in note for note in m["notes"])
    # gunicorn ran with the registry's workers, not the environment's
    server_log = (last_path(done.stdout, "results:") / "logs" / "server.log").read_text()
    assert server_log.count("Booting worker") == m["workers"]
