"""Shared by the integration tests: run the CLI for real and inspect what it left."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def djbench(*args, timeout=600, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, "-m", "djbench", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_path(stdout, prefix, cwd=ROOT):
    line = stdout.strip().splitlines()[-1]
    assert line.startswith(prefix), stdout
    return Path(cwd) / line.removeprefix(prefix).strip()


def meta(run_dir):
    return json.loads((Path(run_dir) / "meta.json").read_text())


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def server_threads(run, out):
    """Thread counts of the server processes of every run written under `out` (pid -> every
    count seen), sampled until the benchmark process `run` ends."""
    seen = {}
    while run.poll() is None:
        for path in out.glob("*/meta.json"):
            try:
                pid = meta(path.parent).get("pids", {}).get("server")
                for proc in psutil.Process(pid).children(recursive=True) if pid else []:
                    seen.setdefault(proc.pid, set()).add(proc.num_threads())
            except (psutil.Error, ValueError):
                pass  # a process that just exited, a meta.json being written
        time.sleep(0.1)
    return seen


def survivors(pids):
    """Processes still alive that belong to any of the given process groups."""
    left = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(proc.pid) in pids or proc.pid in pids:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])}")
        except (psutil.Error, ProcessLookupError):
            continue
    return left


FIXTURE_MACHINE = {"cpu_model": "Fixture CPU 3000", "cpu_count": 4}


def make_search(path, server="uvicorn", interface="asgi", workers=2, knees=None, **probe_meta):
    """A knee search directory as `djbench knee` leaves it: knee.json and its probes' meta."""
    knees = knees or {
        "p95": {"users": 25, "bad_users": 28, "resolution": 3},
        "failures_0": {"users": None, "bad_users": 10, "resolution": 0},
        "failures_1": {"users": 40, "bad_users": None, "resolution": 0},
    }
    probe = path / "probes" / "p1"
    probe.mkdir(parents=True)
    meta = {"mode": "native", "machine": FIXTURE_MACHINE} | probe_meta
    (probe / "meta.json").write_text(json.dumps(meta))
    (path / "knee.json").write_text(json.dumps({
        "server": server, "interface": interface, "view": "sync", "workers": workers,
        "settings": {"p95_slo_ms": 1000.0, "measure_s": 20.0},
        "probes": [{"users": 10, "failure_pct": 2.0, "p95_ms": 300.0, "run_dir": "probes/p1"}],
        "knees": knees,
    }))  # fmt: skip
    return path
