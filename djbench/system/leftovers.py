"""What a killed run leaves behind, found and stopped by the next one.

SIGKILL, the OOM killer or a crash of the harness skip every cleanup: PostgreSQL's cluster in its
temp dir, nginx and uvicorn workers, compose containers would run on beside the next run and be
measured with it. So every run keeps a record of what it started while it runs (its id, its own
PID, temp dirs, compose project) in the user's state directory, beside the benchmark lock, and
every process it starts carries its id in the environment (DJBENCH_RUN, inherited by workers and
PostgreSQL backends, so PIDs reused since cannot be mistaken for ours). Processes that overwrite
their environment with a process title (nginx, PostgreSQL) are known by their working directory
instead: the run's temp dir, or a directory in it. Whoever takes the lock next stops what the
records of dead runs name, and says so in one line.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import psutil

from djbench.system.child_env import RUN_TAG
from djbench.system.log import log

TEMP_PREFIX = "djbench-"  # of every temp dir a run makes


class LiveRun:
    """The record of one running run; removed when the run ends, whatever happened."""

    def __init__(self, directory, run_id):
        self.path = Path(directory) / f"{run_id}.json"
        self.data = {"run_id": run_id, "pid": os.getpid(), "started": _started(os.getpid()),
                     "temp_dirs": [], "compose_projects": []}  # fmt: skip

    def add(self, key, value):
        self.data[key].append(str(value))
        self._write()

    def _write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(self.path.parent):
            return  # not ours alone: a record there could not be trusted by the next run
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)

    def __enter__(self):
        self._write()
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def _started(pid):
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _owner_alive(record):
    started = _started(record.get("pid", -1))
    return started is not None and abs(started - float(record.get("started") or 0)) < 1


def live_run_ids(directory):
    """The ids of the runs whose records in `directory` belong to a live process."""
    ids = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _owner_alive(record):
            ids.append(record["run_id"])
    return ids


def tagged_processes(run_id, temp_dirs=()):
    """The processes of a run: tagged with its id, or working in one of its temp dirs."""
    roots = [str(Path(d)) for d in temp_dirs if Path(d).name.startswith(TEMP_PREFIX)]
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and (
                proc.environ().get(RUN_TAG) == run_id or (roots and _inside(proc.cwd(), roots))
            ):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def _inside(cwd, roots):
    cwd = cwd.removesuffix(" (deleted)")
    return any(cwd == root or cwd.startswith(root + os.sep) for root in roots)


def stop_processes(run_id, temp_dirs=()):
    """SIGKILL every process of the run; returns how many there were."""
    procs = tagged_processes(run_id, temp_dirs)
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


def _compose_down(project):
    try:
        argv = ["docker", "compose", "-p", project, "down", "-v", "--remove-orphans"]
        # By project name (its containers' labels): the compose file needs the dead run's
        # variables, so it is not read (cwd "/" has none).
        done = subprocess.run(argv, capture_output=True, timeout=120, cwd="/")
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _private(directory):
    """Only a directory of our own, closed to others, is trusted: a record names temp dirs to
    delete and processes to kill."""
    try:
        st = directory.stat()
    except FileNotFoundError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o077


def reap(directory):
    """Stop what the records of dead runs in `directory` name; one line per such run."""
    directory = Path(directory)
    if not _private(directory):
        return
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if _owner_alive(record):
            continue
        left = []
        count = stop_processes(record["run_id"], record.get("temp_dirs", []))
        if count:
            left.append(f"{count} processes")
        for tmp in record.get("temp_dirs", []):
            if Path(tmp).name.startswith(TEMP_PREFIX) and Path(tmp).exists():
                shutil.rmtree(tmp, ignore_errors=True)
                left.append(tmp)
        for project in record.get("compose_projects", []):
            if shutil.which("docker") and _compose_down(project):
                left.append(f"compose project {project}")
        path.unlink(missing_ok=True)
        if left:
            log.info(
                f"stopped what the killed run {record['run_id']} left behind: {', '.join(left)}"
            )
