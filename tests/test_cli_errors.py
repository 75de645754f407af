"""Bad input: one clear line on stderr, exit status 2, no traceback, nothing written."""

import fcntl
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def run_cli(args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        # A lock of its own: a benchmark running on this machine must not change the answers.
        env={**os.environ, "DJBENCH_LOCK": f"/tmp/djbench-test-{os.getpid()}.lock", **(env or {})},
    )


CASES = [
    (["run", "--server", "nope"], "unknown server 'nope'"),
    (["run", "--server", "gunicorn", "--profile", "huge"], "unknown profile 'huge'"),
    (["run", "--server", "gunicorn", "--users", "10,5"], "user counts must increase"),
    (["run", "--server", "gunicorn", "--users", "10,10"], "user counts must increase"),
    (["run", "--server", "gunicorn", "--users", "a,b"], "expected comma-separated integers"),
    (["run", "--server", "gunicorn", "--users", "0,1"], "user counts must be positive"),
    (["run", "--server", "gunicorn", "--hold", "-1"], "hold must be positive"),
    (["run", "--server", "gunicorn", "--hold", "0"], "hold must be positive"),
    (["run", "--server", "gunicorn", "--workers", "0"], "workers must be positive"),
    (["run", "--server", "gunicorn", "--workers", "-2"], "workers must be positive"),
    (["run", "--server", "gunicorn", "--warmup", "-1"], "warmup must not be negative"),
    (["run", "--server", "gunicorn", "--hold", "1"], "leaves no measured time"),
    (["run", "--server", "gunicorn", "--view", "turbo"], "unknown view variant 'turbo'"),
    (["bench", "--servers", "gunicorn,nope"], "unknown server 'nope'"),
    (["run", "--server", "gunicorn", "--server-cpus", "99"], "bad --server-cpus '99': usable"),
    (["run", "--server", "gunicorn", "--locust-cpus", "a-b"], "bad --locust-cpus 'a-b'"),
    (["report"], "no runs given"),
    (["report", "/nonexistent/run"], "does not exist"),
    (["report", "{empty}"], "is not a run directory"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_gets_one_line(args, message, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results = tmp_path / "results"
    args = [a.replace("{empty}", str(empty)) for a in args]
    done = run_cli([*args, "--results-dir", str(results)])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("djbench: error:"), done.stderr
    assert message in lines[0]
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
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = run_cli(
            ["run", "--server", "gunicorn", "--results-dir", str(tmp_path / "r")],
            env={"DJBENCH_LOCK": str(lock)},
        )
    assert done.returncode == 2
    assert "another benchmark is running (PID 4242)" in done.stderr


def test_disk_nearly_full_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from harness import cli

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10 * 2**30, 10 * 2**30, 2**20))
    monkeypatch.setenv("DJBENCH_LOCK", str(tmp_path / "lock"))
    status = cli.main(["run", "--server", "gunicorn", "--mode", "native",
                       "--results-dir", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == f"djbench: error: disk nearly full: less than 200 MB free under {tmp_path / 'r'}"
    assert not any((tmp_path / "r").iterdir())
