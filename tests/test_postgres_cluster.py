"""The throwaway PostgreSQL cluster: only the harness, with the password, gets in."""

import os
import pwd
import secrets
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from djbench.analysis.runs.postgres_log import refusal_times
from djbench.errors import ComponentFailed
from djbench.stack import postgres
from djbench.system.processes import ProcessSet, free_port


class WatchedProcessSet(ProcessSet):
    """A ProcessSet that records the password file's state when initdb starts."""

    def run(self, name, argv, log_path, **kwargs):
        if name == "initdb":
            pwfile = Path(next(a for a in argv if a.startswith("--pwfile=")).split("=", 1)[1])
            self.pwfile = pwfile, os.stat(pwfile)
        return super().run(name, argv, log_path, **kwargs)


@pytest.fixture(scope="module")
def cluster():
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as 'postgres'.
    with (
        tempfile.TemporaryDirectory(prefix="djbench-test-pg-") as tmp,
        WatchedProcessSet() as procs,
    ):
        base = Path(tmp)
        base.chmod(0o755)  # as the native runner's temp dir
        pg = postgres.Cluster(base / "pg", free_port(), secrets.token_urlsafe(12))
        pg.init(procs, base / "postgres.log")
        pg.wait_ready(pg.start(procs, base / "postgres.log"))
        pg.watched = procs.pwfile
        yield pg


def owner(pg):
    return pg.account.pw_uid if pg.account else os.geteuid()


def connect(pg, host, **kwargs):
    return psycopg.connect(
        host=host, port=pg.port, user=postgres.USER, dbname=postgres.DB, connect_timeout=5,
        **kwargs,
    )  # fmt: skip


def test_the_harness_gets_in_with_the_password(cluster):
    assert cluster.query_one("SELECT 1") == 1


@pytest.mark.parametrize("where", ["tcp", "socket"])
def test_no_or_wrong_password_is_refused(cluster, where):
    host = "127.0.0.1" if where == "tcp" else str(cluster.socket_dir)
    for password in ("", "wrong"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            connect(cluster, host, password=password).close()
    connect(cluster, host, password=cluster.password).close()


def test_the_benchmarks_role_owns_its_database_and_nothing_else(cluster):
    with cluster.connect() as conn:
        role = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False, False, False, False)
        owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        assert conn.execute(owner).fetchone()[0] == postgres.USER
        conn.execute("CREATE TABLE mine (n int)")  # what migrate needs: it owns the schema
        conn.execute("DROP TABLE mine")
        # What a superuser's password would give whoever learnt it: the host's shell and files.
        for sql in ("COPY (SELECT 1) TO PROGRAM 'true'", "SELECT pg_read_file('PG_VERSION')",
                    "CREATE ROLE other LOGIN", "CREATE DATABASE other"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    # The superuser's password is not the role's, and the role's log stays free of it.
    assert cluster.admin_password != cluster.password
    assert cluster.password not in (cluster.base_dir.parent / "postgres.log").read_text()


def test_socket_directory_is_private(cluster):
    st = os.stat(cluster.socket_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == owner(cluster)
    assert (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()


def test_password_file_was_private_and_is_gone(cluster):
    pwfile, st = cluster.watched
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == owner(cluster)
    assert not pwfile.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another local user needs root")
def test_another_local_user_cannot_reach_the_socket(cluster):
    nobody = pwd.getpwnam("nobody")
    done = subprocess.run(
        ["psql", "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", postgres.USER,
         "-d", postgres.DB, "-w", "-c", "SELECT 1"],
        user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], cwd="/",
        env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Permission denied" in done.stderr, done.stderr


def test_refusals_are_stamped_in_utc_whatever_the_host_zone(monkeypatch):
    """A host in New York: initdb takes its zone for the log, unless the cluster says UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    with tempfile.TemporaryDirectory(prefix="djbench-test-pg-") as tmp, ProcessSet() as procs:
        base = Path(tmp)
        base.chmod(0o755)
        log = base / "logs" / "postgres.log"
        pg = postgres.Cluster(base / "pg", free_port(), secrets.token_urlsafe(12), 5)
        pg.init(procs, log)
        pg.wait_ready(pg.start(procs, log))
        held = [pg.connect() for _ in range(4)]  # wait_ready's connection is gone: 4 + 1 = 5
        before = time.time()
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            held.append(pg.connect())
            held.append(pg.connect())
        after = time.time()
        for conn in held:
            conn.close()
        # zones=(): only a UTC or numeric stamp can be read, as on any host
        (refused,) = refusal_times(base, zones=())
        assert before - 0.001 <= refused <= after + 0.001, (before, refused, after)
        assert " UTC [" in next(line for line in log.read_text().splitlines() if "too many" in line)


def test_a_failed_copy_of_a_data_directory_is_one_line(tmp_path):
    with pytest.raises(ComponentFailed, match="^copying PostgreSQL's data directory failed: cp: "):
        postgres.copy_data_dir(tmp_path / "missing", tmp_path / "copy")
