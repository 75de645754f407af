"""Bad input: one clear line on stderr, exit status 2, no traceback, nothing written."""

import fcntl
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from djbench import config
from tests.helpers import ROOT


def run_cli(args, env=None):
    # A lock of its own: a benchmark running on this machine must not change the answers.
    with tempfile.TemporaryDirectory() as tmp:
        return subprocess.run(
            [sys.executable, "-m", "djbench", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DJBENCH_LOCK": f"{tmp}/djbench.lock", **(env or {})},
        )


# Facts of this machine that some lines name.
USABLE = ",".join(map(str, sorted(os.sched_getaffinity(0))))
MOST_USERS, WHY_USERS = config.max_users()
THREADS_MAX = Path("/proc/sys/kernel/threads-max").read_text().strip()
SERVER_NAMES = "gunicorn, gunicorn-gthread, gunicorn-gevent, uwsgi, uvicorn, gunicorn-uvicorn, "
SERVER_NAMES += "gunicorn-asgi, daphne, hypercorn, granian-wsgi, granian-asgi"
RUN = ["run", "--server", "gunicorn"]
KNEE = ["run", "--server", "gunicorn", "--profile", "knee"]

# (arguments, the line printed after "djbench: error: ", or a pattern for it)
CASES = [
    (
        ["run", "--server", "nope"],
        f"unknown server 'nope'; choose from: {SERVER_NAMES}",
    ),
    (
        ["run", "--server", "gunicorn-gevent", "--view", "async"],
        "server 'gunicorn-gevent' does not support async views: its greenlets share one OS "
        "thread, so the thread an async view's ORM call runs in sees the view's event loop and "
        "Django refuses the query (SynchronousOnlyOperation)",
    ),
    (
        [*RUN, "--profile", "huge"],
        "unknown profile 'huge'; choose from: article, quick, smoke, knee",
    ),
    ([*RUN, "--users", "10,5"], "bad user list '10,5': user counts must increase"),
    ([*RUN, "--users", "10,10"], "bad user list '10,10': user counts must increase"),
    ([*RUN, "--users", "a,b"], "bad user list 'a,b': expected comma-separated integers"),
    ([*RUN, "--users", "0,1"], "bad user list '0,1': user counts must be positive"),
    ([*RUN, "--hold", "-1"], "hold must be positive, got -1"),
    ([*RUN, "--hold", "0"], "hold must be positive, got 0"),
    ([*RUN, "--workers", "0"], "workers must be positive, got 0"),
    ([*RUN, "--workers", "-2"], "workers must be positive, got -2"),
    ([*RUN, "--warmup", "-1"], "warmup must not be negative, got -1"),
    (
        [*RUN, "--hold", "1"],
        "hold 1 s leaves no measured time at 2 users (ramp-up + warm-up = "
        "1.2 s); raise hold or the spawn rate",
    ),
    ([*RUN, "--view", "turbo"], "unknown view variant 'turbo'; choose from: sync, async"),
    (
        ["bench", "--servers", "gunicorn,nope"],
        f"unknown server 'nope'; choose from: {SERVER_NAMES}",
    ),
    ([*RUN, "--server-cpus", "99"], f"bad --server-cpus '99': usable CPUs are {USABLE}"),
    (
        [*RUN, "--locust-cpus", "a-b"],
        "bad --locust-cpus 'a-b': expected CPU numbers like 0, 0-1 or 0,2",
    ),
    (["report"], "no runs given: djbench report results/<run-id> ..."),
    (["report", "/nonexistent/run"], "/nonexistent/run does not exist"),
    (["report", "{empty}"], "{empty} is not a run directory (no meta.json)"),
    # NaN and infinity: refused by name before anything starts.
    ([*RUN, "--hold", "nan"], "argument --hold: expected a finite number, got 'nan'"),
    ([*RUN, "--hold", "inf"], "argument --hold: expected a finite number, got 'inf'"),
    ([*RUN, "--hold", "1e400"], "argument --hold: expected a finite number, got '1e400'"),
    (
        [*RUN, "--client-timeout", "nan"],
        "argument --client-timeout: expected a finite number, got 'nan'",
    ),
    ([*RUN, "--spawn-rate", "nan"], "argument --spawn-rate: expected a finite number, got 'nan'"),
    ([*RUN, "--warmup", "inf"], "argument --warmup: expected a finite number, got 'inf'"),
    ([*KNEE, "--measure", "nan"], "argument --measure: expected a finite number, got 'nan'"),
    ([*KNEE, "--p95-slo-ms", "inf"], "argument --p95-slo-ms: expected a finite number, got 'inf'"),
    (
        [*KNEE, "--resolution-pct", "nan"],
        "argument --resolution-pct: expected a finite number, got 'nan'",
    ),
    (["calibrate", "--hold", "nan"], "argument --hold: expected a finite number, got 'nan'"),
    (["calibrate", "--warmup", "inf"], "argument --warmup: expected a finite number, got 'inf'"),
    ([*RUN, "--workers", "abc"], "argument --workers: expected a whole number, got 'abc'"),
    (
        [*RUN, "--conn-max-age", "nan"],
        "argument --conn-max-age: expected a whole number, got 'nan'",
    ),
    ([*RUN, "--repeat", "two"], "argument --repeat: expected a whole number, got 'two'"),
    # Upper bounds, from the machine or from what a component accepts.
    (
        [*RUN, "--workers", "100000"],
        re.compile(
            r"workers 100000 need about 9277\.3 GB \(95 MB each under load\), [\d.]+ GB is "
            r"available here; at most \d+ workers"
        ),
    ),
    (["calibrate", "--workers", "100000"], re.compile(r"workers 100000 need about 9277\.3 GB .*")),
    (
        [*RUN, "--users", "1000000000"],
        f"at most {MOST_USERS} users here ({WHY_USERS}), got 1000000000",
    ),
    (
        [*RUN, "--users", "1000000000", "--hold", "1e9"],
        "hold must be at most 86400 s (a day), got 1e+09",
    ),
    (["calibrate", "--users", "5000"], f"at most {MOST_USERS} users here ({WHY_USERS}), got 5000"),
    (
        [*RUN, "--server-cpus", "0-999999999"],
        f"bad --server-cpus '0-999999999': usable CPUs are {USABLE}",
    ),
    ([*RUN, "--locust-cpus", "0,4096"], f"bad --locust-cpus '0,4096': usable CPUs are {USABLE}"),
    (
        [*RUN, "--client-timeout", "1e9"],
        "client-timeout must be at most 86400 s (a day), got 1e+09",
    ),
    ([*RUN, "--client-timeout", "0"], "client-timeout must be positive, got 0"),
    ([*RUN, "--warmup", "100000"], "warmup must be at most 86400 s (a day), got 100000"),
    ([*RUN, "--users", "1,2", "--spawn-rate", "0"], "spawn-rate must be positive, got 0"),
    (["run", "--server", "gunicorn-gthread", "--threads", "0"], "threads must be positive, got 0"),
    (
        ["run", "--server", "gunicorn-gthread", "--threads", "100000"],
        f"threads 100000 x 5 workers exceed the kernel's limit of {THREADS_MAX} threads "
        "(kernel.threads-max)",
    ),
    ([*RUN, "--conn-max-age", "-1"], "conn-max-age must not be negative, got -1"),
    (
        [*RUN, "--conn-max-age", "1000000000"],
        "conn-max-age must be at most 86400 s (a day), got 1000000000",
    ),
    ([*RUN, "--db-pool", "5:2"], "bad db pool '5:2': need 0 <= MIN <= MAX and MAX >= 1"),
    ([*RUN, "--pg-max-connections", "3"], "pg-max-connections must be at least 4, got 3"),
    (
        [*RUN, "--pg-max-connections", "1000000"],
        "pg-max-connections must be at most 262107 (what PostgreSQL accepts), got 1000000",
    ),
    ([*RUN, "--repeat", "0"], "repeat must be positive, got 0"),
    (
        [*RUN, "--profile", "article", "--repeat", "300"],
        "1 configuration(s) x 300 repetition(s) plan 126000 s, more than a day (86400 s)",
    ),
    ([*RUN, "--locust-workers", "0"], "locust-workers must be positive, got 0"),
    (
        [*RUN, "--locust-workers", "64"],
        f"locust-workers must be at most {len(USABLE.split(','))} "
        f"(one a CPU; {len(USABLE.split(','))} here), got 64",
    ),
    # Knee search settings.
    ([*KNEE, "--start", "0"], "start must be positive, got 0"),
    (
        [*KNEE, "--max-users", "100000"],
        f"max-users must be at most {MOST_USERS} ({WHY_USERS}), got 100000",
    ),
    ([*KNEE, "--start", "100", "--max-users", "50"], "max-users (50) is below start (100)"),
    ([*KNEE, "--measure", "0"], "measure must be positive, got 0"),
    ([*KNEE, "--p95-slo-ms", "0"], "p95-slo-ms must be positive, got 0"),
    (
        [*KNEE, "--p95-slo-ms", "60000"],
        "p95-slo-ms must be at most 30000 (the client timeout), got 60000",
    ),
    ([*KNEE, "--resolution-pct", "150"], "resolution-pct must be at most 100, got 150"),
    ([*KNEE, "--confirm", "-1"], "confirm must not be negative, got -1"),
    (
        [*KNEE, "--confirm", "100000"],
        "this knee search would take more than a day (86400 s); "
        "lower --measure, --max-users, --confirm or --repeat",
    ),
    # Options that would change nothing are refused, not dropped.
    (
        [*RUN, "--p95-slo-ms", "500"],
        "--p95-slo-ms applies to knee searches only (djbench knee, --profile knee or --scale auto)",
    ),
    (
        [*KNEE, "--users", "10,20"],
        "--users does not apply to a knee search, which sets each "
        "probe's own (--start, --max-users)",
    ),
    (
        ["knee", "--hold", "30"],
        "--hold does not apply to a knee search, which sets each probe's own (--measure)",
    ),
    (["knee", "--profile", "quick"], "djbench knee searches; leave out --profile quick"),
    ([*KNEE, "--scale", "auto"], "--scale auto scales the steps of a benchmark, not a knee search"),
    ([*RUN, "--threads", "8"], "--threads applies only to servers with threads (gunicorn-gthread)"),
    (
        [*RUN, "--mode", "distributed", "--locust-workers", "-1"],
        "locust-workers must not be negative, got -1",
    ),
    ([*RUN, "--expect-workers", "2"], "unrecognized arguments: --expect-workers 2"),
    (
        [*RUN, "--master-port", "70000"],
        "argument --master-port: expected a port from 1 to 65535, got '70000'",
    ),
    (
        ["run", "--server", "granian-asgi", "--releases", "2020"],
        "--releases 2020 has gunicorn, gunicorn-gthread, uvicorn, daphne (the servers of "
        "2020-03-10), not granian-asgi",
    ),
    (["calibrate", "--users", "10,20"], "calibrate takes one user count, got '10,20'"),
    (
        ["calibrate", "--server", "gunicorn uvicorn"],
        "calibrate takes one server, got 'gunicorn uvicorn'",
    ),
]
# Nothing may start even where a check is missing: no nginx, no Docker engine.
NOTHING_STARTS = {"DJBENCH_NGINX": "/nonexistent/nginx", "DOCKER_HOST": "unix:///nonexistent"}


@pytest.mark.parametrize("args, line", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_gets_one_line(args, line, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results = tmp_path / "results"
    args = [a.replace("{empty}", str(empty)) for a in args]
    done = run_cli([*args, "--results-dir", str(results)], env=NOTHING_STARTS)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("djbench: error: "), done.stderr
    said = lines[0].removeprefix("djbench: error: ")
    if isinstance(line, str):
        assert said == line.replace("{empty}", str(empty))
    else:
        assert line.fullmatch(said), said
    assert not results.exists() or not any(results.iterdir()), "nothing may be written"


def test_results_dir_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_cli(["run", "--server", "gunicorn", "--results-dir", str(blocker / "results")])
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"djbench: error: cannot create results directory {blocker / 'results'}: Not a directory"
    )


def test_missing_nginx_binary(tmp_path):
    done = run_cli(
        ["run", "--server", "gunicorn", "--mode", "native", "--results-dir", str(tmp_path / "r")],
        env={"DJBENCH_NGINX": str(tmp_path / "no-nginx")},
    )
    assert done.returncode == 2
    assert "nginx was not found" in done.stderr and "apt-get install nginx" in done.stderr
    assert not (tmp_path / "r").exists()


def test_compose_asked_for_without_docker(tmp_path):
    done = run_cli(
        ["run", "--server", "gunicorn", "--mode", "compose", "--results-dir", str(tmp_path / "r")],
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "djbench: error: Docker is not running (docker info failed); start it or use MODE=native"
    )
    assert not (tmp_path / "r").exists()


def test_second_benchmark_is_refused_with_the_holders_pid(tmp_path):
    lock = tmp_path / "lock"
    with open(lock, "w") as held:
        held.write(str(os.getpid()))  # a live holder: a dead one is reported as stale
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = run_cli(
            ["run", "--server", "gunicorn", "--results-dir", str(tmp_path / "r")],
            env={"DJBENCH_LOCK": str(lock)},
        )
    assert done.returncode == 2
    assert f"another benchmark is running (PID {os.getpid()})" in done.stderr


def test_disk_nearly_full_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from djbench import cli
    from djbench.errors import UserError
    from djbench.stack import nginx

    try:
        nginx.find_binary()  # the native run's own check comes first
    except UserError as e:
        pytest.skip(str(e))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10 * 2**30, 10 * 2**30, 2**20))
    monkeypatch.setenv("DJBENCH_LOCK", str(tmp_path / "lock"))
    status = cli.main(["run", "--server", "gunicorn", "--mode", "native",
                       "--results-dir", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == f"djbench: error: disk nearly full: less than 200 MB free under {tmp_path / 'r'}"
    assert not any((tmp_path / "r").iterdir())
