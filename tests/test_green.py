"""gunicorn's gevent workers and psycopg 3: a query waiting in PostgreSQL yields to the other
requests of the same process. Measured in PostgreSQL itself: with the test holding an advisory
lock, one gevent worker has every request waiting on it at once, through Django's connection."""

import secrets
import threading
import urllib.request

import psycopg
import pytest

from djbench.paths import BIN, DJANGO_DIR, ROOT
from djbench.stack.servers import SERVERS
from djbench.system.processes import ProcessSet, free_port, wait_http
from djbench.system.waiting import poll_until

pytestmark = pytest.mark.integration

APP_DIR = ROOT / "tests" / "fixtures" / "green"
REQUESTS = 4


def waiting_on_the_lock(conn):
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
    ).fetchone()[0]


def serve(procs, name, pg_env, tmp_path):
    port = free_port()
    argv = SERVERS[name].command("127.0.0.1", port, 1, app="green_app:app")
    argv[0] = str(BIN / argv[0])
    env = {
        **pg_env,
        "PYTHONPATH": f"{APP_DIR}:{DJANGO_DIR}",
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    server = procs.start(name, argv, tmp_path / f"{name}.log", env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, server)
    return url


def get(url, answers):
    with urllib.request.urlopen(url, timeout=60) as response:
        answers.append(response.read().decode())


def test_one_gevent_worker_has_every_request_waiting_in_postgresql_at_once(pg_env, tmp_path):
    dsn = {
        "host": pg_env["POSTGRES_HOST"], "port": pg_env["POSTGRES_PORT"],
        "dbname": pg_env["POSTGRES_DB"], "user": pg_env["POSTGRES_USER"],
        "password": pg_env["POSTGRES_PASSWORD"],
    }  # fmt: skip
    with ProcessSet() as procs, psycopg.connect(**dsn, autocommit=True) as holder:
        url = serve(procs, "gunicorn-gevent", pg_env, tmp_path)
        holder.execute("SELECT pg_advisory_lock(21)")
        answers = []
        clients = [threading.Thread(target=get, args=(url, answers)) for _ in range(REQUESTS)]
        for client in clients:
            client.start()
        try:
            # A blocking wait would hold the process's only thread: one request at most.
            poll_until(
                lambda: waiting_on_the_lock(holder) == REQUESTS,
                30,
                0.1,
                lambda: AssertionError(f"{waiting_on_the_lock(holder)} of {REQUESTS} waiting"),
            )
        finally:
            holder.execute("SELECT pg_advisory_unlock(21)")
            for client in clients:
                client.join(60)
        # psycopg chose its pure-Python wait (on gevent's patched poll) over the blocking C one,
        # and one process served them all.
        assert len(answers) == REQUESTS
        assert {a.split()[0] for a in answers} == {"wait_poll"}
        assert len({a.split()[1] for a in answers}) == 1

        # The sync worker, unpatched, keeps psycopg's C wait.
        with urllib.request.urlopen(serve(procs, "gunicorn", pg_env, tmp_path)) as response:
            assert response.read().decode().split()[0] == "wait_c"
