"""Make variables: honoured, or refused with one line; never dropped without a word.

Each case stops at validation, before anything starts: no nginx, no Docker engine and no
apt-get are reachable, so even a variable that slipped through could start nothing."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

MAKE = shutil.which("make")
MAKE_ENV = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
CPUS = len(os.sched_getaffinity(0))


def make(tmp_path, *args):
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    # Not the outer make's level and flags (`make test` runs pytest): make[1] would say so.
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV}
    env = {
        **env,
        "PATH": str(empty),  # no apt-get: nothing may be installed from a test
        "DJBENCH_NGINX": str(tmp_path / "no-nginx"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
        "DJBENCH_LOCK": str(tmp_path / "lock"),
    }
    # -o: the virtualenv counts as installed; DJBENCH: this checkout's code, not the venv's.
    djbench = f"DJBENCH={sys.executable} -m djbench"
    argv = [MAKE, "-s", "--no-print-directory", "-o", ".venv/.installed", djbench,
            f"RESULTS={tmp_path / 'results'}", *args]  # fmt: skip

    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


CASES = [
    # Refused by the Makefile: the target has no use for the variable.
    (
        ["bench-matrix", "VIEW=async"],
        "make bench-matrix does not use VIEW: bench-matrix runs every view in VIEWS",
    ),
    (
        ["bench", "VIEWS=sync"],
        "make bench does not use VIEWS: VIEWS is for bench-matrix; "
        "VIEW=async chooses the view elsewhere",
    ),
    (
        ["bench-wsgi", "SERVERS=uvicorn"],
        "make bench-wsgi does not use SERVERS: it runs its own "
        'server; make bench SERVERS="..." runs others',
    ),
    (
        ["knee", "PROFILE=quick"],
        "make knee does not use PROFILE: a knee search or calibration chooses its own steps",
    ),
    (
        ["knee", "SCALE=auto"],
        "make knee does not use SCALE: SCALE=auto scales the steps of make "
        "bench, bench-wsgi, bench-asgi, bench-matrix",
    ),
    (
        ["calibrate", "REPEAT=3"],
        "make calibrate does not use REPEAT: calibrate measures each client once",
    ),
    (
        ["calibrate", "P95_SLO_MS=500"],
        "make calibrate does not use P95_SLO_MS: knee variables are for knee searches",
    ),
    (
        ["report", "RUNS=results/a", "WORKERS=3"],
        "make report does not use WORKERS: it only reads existing runs",
    ),
    # Passed on, and refused by the CLI where they would change nothing.
    (
        ["bench-wsgi", "P95_SLO_MS=500"],
        "--p95-slo-ms applies to knee searches only (djbench knee, --profile knee or --scale auto)",
    ),
    (
        ["bench-asgi", "MAX_USERS=300"],
        "--max-users applies to knee searches only (djbench knee, --profile knee or --scale auto)",
    ),
    (
        ["bench", "CONFIRM=2"],
        "--confirm applies to knee searches only (djbench knee, --profile knee or --scale auto)",
    ),
    (
        ["bench-wsgi", "WARM_STACK=0"],
        "--no-warm-stack applies to knee searches only (djbench knee, --profile knee or --scale "
        "auto)",
    ),
    (
        ["bench-wsgi", "WARM_STACK=1"],
        "--warm-stack applies to knee searches only (djbench knee, --profile knee or --scale auto)",
    ),
    (["bench", "THREADS=8"], "--threads applies only to servers with threads (gunicorn-gthread)"),
    (
        ["bench-wsgi", "LOCUST_WORKERS=64"],
        f"locust-workers must be at most {CPUS} (one a CPU; {CPUS} here), got 64",
    ),
    (
        ["bench-wsgi", "MODE=distributed", "STACK=10.0.0.1", "LOAD_HOSTS=ssh://10.0.0.2"],
        "bad --stack '10.0.0.1': expected ssh://[USER@]HOST[:PORT] (the controller starts the "
        "stack host over ssh)",
    ),
    (["bench-wsgi", "HOLD=nan"], "argument --hold: expected a finite number, got 'nan'"),
    (["bench-wsgi", "HOLD=inf"], "argument --hold: expected a finite number, got 'inf'"),
    (
        ["bench-wsgi", "USERS=1000000000", "HOLD=1e9"],
        "hold must be at most 86400 s (a day), got 1e+09",
    ),
    # Honoured where they used to be dropped: SCALE and the knee variables in bench-matrix,
    # the stack's variables in calibrate. Bad values show that they arrive.
    (["bench-matrix", "SCALE=auto", "P95_SLO_MS=0"], "p95-slo-ms must be positive, got 0"),
    (
        ["bench-matrix", "PROFILE=knee", "MAX_USERS=1", "SERVERS=gunicorn"],
        "max-users (1) is below start (10)",
    ),
    (
        ["calibrate", "SERVERS=gunicorn uvicorn"],
        "calibrate takes one server, got 'gunicorn uvicorn'",
    ),
    (["calibrate", "HOLD=nan"], "argument --hold: expected a finite number, got 'nan'"),
    (["calibrate", "WARMUP=nan"], "argument --warmup: expected a finite number, got 'nan'"),
    (["knee", "WARMUP=nan"], "argument --warmup: expected a finite number, got 'nan'"),
    (["calibrate", "PG_MAX_CONNECTIONS=2"], "pg-max-connections must be at least 4, got 2"),
    (["calibrate", "VIEW=turbo"], "unknown view variant 'turbo'; choose from: sync, async"),
    (["calibrate", "LOCUST_WORKERS=0"], "locust-workers must be positive, got 0"),
    # Paths with spaces arrive as one argument each, the project's variables included.
    (
        ["bench-wsgi", "RESULTS=/tmp/my results", "PROJECT=/no such dir"],
        "--project /no such dir: not a directory",
    ),
    (["bench", "SEED=loaddata a b.json"], "--seed need --project (the polls project is built in)"),
    (
        ["knee", "URLS=/x y", "DUMP=/d e"],
        "--dump, --urls need --project (the polls project is built in)",
    ),
    (
        ["calibrate", "LOCUSTFILE=/no file.py"],
        "--locustfile need --project (the polls project is built in)",
    ),
    (
        ["report", "RUNS=results/a", "PROJECT=x"],
        "make report does not use PROJECT: it only reads existing runs",
    ),
    (
        ["calibrate", "FRESH_STACK=1"],
        "make calibrate does not use FRESH_STACK: calibrate starts a stack for each client already",
    ),
]


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
@pytest.mark.parametrize("args, line", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_variable_is_honoured_or_refused(args, line, tmp_path):
    done = make(tmp_path, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    # make adds its own "make: *** [...] Error 2" after the target's one line.
    ours = [ln for ln in done.stderr.splitlines() if not ln.startswith("make: ***")]
    assert ours == [f"djbench: error: {line}"], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_variable_from_the_environment_counts_too(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEW", "async")
    done = make(tmp_path, "bench-matrix")
    assert "djbench: error: make bench-matrix does not use VIEW" in done.stderr
