"""Shared by the integration tests: run the CLI for real and inspect what it left."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def djbench(*args, timeout=600, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
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
