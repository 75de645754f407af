"""Compose mode: the compose file validates; with a Docker engine, the stack runs at smoke scale
and leaves no container, network or volume behind."""

import json
import subprocess

import pytest

from djbench.system.packages import engine_available
from tests.helpers import ROOT, djbench, last_path, meta, rows

REQUIRED_ENV = {"POSTGRES_PASSWORD": "x", "DJANGO_SECRET_KEY": "y"}


def compose_cli():
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not compose_cli(), reason="the docker compose CLI is not installed")
def test_compose_file_validates():
    import os

    done = subprocess.run(
        ["docker", "compose", "--profile", "load", "config", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, **REQUIRED_ENV},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    services = config["services"]
    assert set(services) == {"db", "app", "nginx", "locust-master", "locust-worker"}
    assert services["db"]["image"] == "postgres:15" and services["nginx"]["image"] == "nginx:1.27"
    for service in services.values():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1"


@pytest.mark.compose
@pytest.mark.skipif(not engine_available(), reason="no Docker engine answers (docker info)")
@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_compose_smoke_run(server, tmp_path):
    done = djbench("run", "--mode", "compose", "--server", server, "--profile", "smoke",
                   "--results-dir", tmp_path, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = last_path(done.stdout, "results:")
    m = meta(run_dir)
    assert m["mode"] == "compose" and m["complete"] is True and m["server"] == server
    assert m["compose"]["images"], "image tags and ids are recorded"
    steps = rows(run_dir / "steps.csv")
    assert [int(s["users"]) for s in steps] == [2, 4]
    assert all(int(s["requests"]) > 0 and float(s["failure_pct"]) == 0.0 for s in steps)
    requests = [r for f in run_dir.glob("requests*.csv") for r in rows(f)]
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    assert posted_ok > 0
    assert m["votes_in_db"] == m["votes_posted_ok"] == posted_ok
    assert_nothing_left(m["compose"]["project"])


def assert_nothing_left(project):
    """No container, network or volume of the run's compose project."""
    label = f"label=com.docker.compose.project={project}"
    for kind in ("container", "network", "volume"):
        left = subprocess.run(
            ["docker", kind, "ls", *(["-a"] if kind == "container" else []), "-q",
             "--filter", label],
            capture_output=True, text=True,
        )  # fmt: skip
        assert left.stdout.strip() == "", f"{kind}s left: {left.stdout}"
