"""The server registry, the threads and database options, and the matrix command's input."""

import importlib.metadata
import signal
from pathlib import Path

import pytest

from djbench import cli, config
from djbench.commands import benchmark
from djbench.contracts import defaults
from djbench.errors import UserError
from djbench.load import recording
from djbench.paths import BIN
from djbench.stack.servers import SERVERS

EXPECTED_ARGV = {
    "gunicorn": [
        "gunicorn", "mysite.wsgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "sync",
    ],
    "gunicorn-gthread": [
        "gunicorn", "mysite.wsgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "gthread", "--threads", "6",
    ],
    "gunicorn-gevent": [
        "gunicorn", "mysite.wsgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "gevent",
    ],
    "uwsgi": [
        "uwsgi", "--http-socket", "127.0.0.1:8000", "--module", "mysite.wsgi:application",
        "--master", "--processes", "3", "--die-on-term", "--lazy-apps", "--enable-threads",
        "--need-app", "--listen", "2048", "--disable-logging", "--add-header", "Connection:close",
    ],
    "uvicorn": [
        "uvicorn", "mysite.asgi:application", "--host", "127.0.0.1", "--port", "8000",
        "--workers", "3", "--lifespan", "off", "--no-access-log",
    ],
    "gunicorn-uvicorn": [
        "gunicorn", "mysite.asgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "uvicorn_worker.UvicornWorker",
    ],
    "gunicorn-asgi": [
        "gunicorn", "mysite.asgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "asgi", "--asgi-lifespan", "off",
    ],
    "daphne": ["daphne", "-b", "127.0.0.1", "-p", "8000", "-v", "0", "mysite.asgi:application"],
    "hypercorn": [
        "hypercorn", "mysite.asgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "uvloop",
    ],
    "granian-wsgi": [
        "granian", "mysite.wsgi:application", "--interface", "wsgi",
        "--host", "127.0.0.1", "--port", "8000", "--workers", "3",
    ],
    "granian-asgi": [
        "granian", "mysite.asgi:application", "--interface", "asginl",
        "--host", "127.0.0.1", "--port", "8000", "--workers", "3",
    ],
}  # fmt: skip


def test_registry_holds_exactly_the_expected_servers():
    assert list(SERVERS) == list(EXPECTED_ARGV)


@pytest.mark.parametrize("name", EXPECTED_ARGV)
def test_argv(name):
    assert SERVERS[name].command("127.0.0.1", 8000, 3, threads=6) == EXPECTED_ARGV[name]


@pytest.mark.parametrize("name", EXPECTED_ARGV)
def test_server_and_its_packages_are_installed(name):
    server = SERVERS[name]
    assert (BIN / server.command("h", 1, 1)[0]).exists()
    for package in server.packages:
        assert importlib.metadata.version(package), package


def test_interfaces():
    wsgi = {name for name, s in SERVERS.items() if s.interface == "wsgi"}
    assert wsgi == {"gunicorn", "gunicorn-gthread", "gunicorn-gevent", "uwsgi", "granian-wsgi"}
    assert {s.interface for s in SERVERS.values()} == {"wsgi", "asgi"}


def test_daphne_is_one_process_whatever_the_workers():
    assert [n for n, s in SERVERS.items() if s.single_process] == ["daphne"]
    assert not SERVERS["daphne"].uses_workers
    assert config.build("daphne", workers=5).processes == 1
    for name, server in SERVERS.items():
        if name != "daphne":
            assert server.uses_workers, name
            assert config.build(name, workers=5).processes == 5


def test_every_server_but_gevent_takes_both_view_variants():
    # Django runs async views under WSGI too (an event loop per request): slower, supported.
    for name in SERVERS:
        for view in SERVERS[name].views:
            assert config.build(name, view=view).view == view
    assert {n: s.views for n, s in SERVERS.items() if s.views != config.VIEWS} == {
        "gunicorn-gevent": ("sync",)
    }
    with pytest.raises(UserError) as err:
        config.build("gunicorn-gevent", view="async")
    assert str(err.value) == (
        "server 'gunicorn-gevent' does not support async views: its greenlets share one OS "
        "thread, so the thread an async view's ORM call runs in sees the view's event loop and "
        "Django refuses the query (SynchronousOnlyOperation)"
    )


def test_the_servers_people_deploy_record_their_own_packages():
    assert SERVERS["gunicorn-gevent"].packages == ("gunicorn", "gevent", "greenlet")
    assert SERVERS["uwsgi"].packages == ("pyuwsgi",)
    assert SERVERS["gunicorn-asgi"].packages == ("gunicorn", "uvloop")
    # gunicorn's ASGI worker came with gunicorn 24.
    assert int(importlib.metadata.version("gunicorn").split(".")[0]) >= 24


def test_threads_default_validation_and_record():
    assert config.build("gunicorn-gthread").threads == 4
    assert [s for s, server in SERVERS.items() if server.uses_threads] == ["gunicorn-gthread"]
    for bad in (0, -1):
        with pytest.raises(UserError, match="threads must be positive"):
            config.build("gunicorn-gthread", threads=bad)
    # Servers without threads ignore the option, but the run still records it.
    cfg = config.build("gunicorn", threads=8)
    assert cfg.as_dict()["threads"] == 8
    assert "8" not in SERVERS["gunicorn"].command("h", 1, 3, threads=8)


def test_database_options_reach_the_app_environment():
    cfg = config.build("uvicorn")
    assert (cfg.conn_max_age, cfg.db_pool, cfg.pg_max_connections) == (0, None, 200)
    assert cfg.app_env() == {"DB_CONN_MAX_AGE": "0", "DB_POOL": ""}
    cfg = config.build("uvicorn", db_pool="2:10", pg_max_connections=300)
    assert cfg.db_pool == (2, 10)
    assert cfg.app_env() == {"DB_CONN_MAX_AGE": "0", "DB_POOL": "2:10"}
    d = cfg.as_dict()
    assert (d["db_pool"], d["conn_max_age"], d["pg_max_connections"]) == ([2, 10], 0, 300)
    assert config.build("gunicorn", conn_max_age=60).app_env()["DB_CONN_MAX_AGE"] == "60"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"db_pool": "10"}, "expected MIN:MAX"),
        ({"db_pool": "a:b"}, "expected MIN:MAX"),
        ({"db_pool": "1:2:3"}, "expected MIN:MAX"),
        ({"db_pool": "5:2"}, "MIN <= MAX"),
        ({"db_pool": "0:0"}, "MAX >= 1"),
        ({"db_pool": "-1:4"}, "MIN <= MAX"),
        ({"db_pool": "1:4", "conn_max_age": 60}, "--db-pool needs --conn-max-age 0"),
        ({"conn_max_age": -1}, "conn-max-age must not be negative"),
        ({"pg_max_connections": 0}, "pg-max-connections must be at least 4"),
    ],
)
def test_bad_database_options(kwargs, message):
    with pytest.raises(UserError, match=message):
        config.build("uvicorn", **kwargs)


def test_pool_must_fit_below_max_connections():
    # 5 processes x 40 = 200: not below 200, so PostgreSQL could refuse the harness itself.
    with pytest.raises(UserError) as err:
        config.build("uvicorn", workers=5, db_pool="1:40", pg_max_connections=200)
    assert str(err.value) == (
        "db pool of up to 40 connections x 5 processes = 200, not below --pg-max-connections "
        "200; lower the pool's MAX or the workers, or raise --pg-max-connections"
    )
    config.build("uvicorn", workers=5, db_pool="1:39", pg_max_connections=200)
    config.build("uvicorn", workers=5, db_pool="1:40", pg_max_connections=201)
    # daphne's single process holds one pool, whatever the workers setting says.
    config.build("daphne", workers=5, db_pool="1:150", pg_max_connections=200)


def test_meta_records_processes_threads_database_and_notes(tmp_path):
    run_dir = tmp_path / "20260101-000000-daphne-sync-smoke"
    cfg = config.build("daphne", workers=5, db_pool="2:8", pg_max_connections=150)
    m = recording._base_meta(cfg, run_dir, "native")
    assert (m["workers"], m["processes"], m["threads_used"]) == (5, 1, False)
    assert m["database"] == {
        "conn_max_age": 0,
        "pool": {"min_size": 2, "max_size": 8},
        "pg_max_connections": 150,
    }
    assert m["config"]["db_pool"] == [2, 8] and m["config"]["threads"] == 4
    assert len(m["notes"]) == 1 and m["notes"][0].startswith("daphne runs one process")
    assert m["versions"]["daphne"] and m["versions"]["psycopg-pool"]

    m = recording._base_meta(config.build("gunicorn-gthread", threads=3), run_dir, "native")
    assert (m["processes"], m["threads"], m["threads_used"], m["notes"]) == (
        defaults.workers(),
        3,
        True,
        [],
    )
    assert m["server_command"][-2:] == ["--threads", "3"]


def test_persistent_connections_under_asgi_are_allowed_with_a_note():
    assert recording.notes(config.build("gunicorn", conn_max_age=60)) == []
    (note,) = recording.notes(config.build("uvicorn", conn_max_age=60))
    assert "not supported under ASGI" in note and "#33497" in note


def test_run_line_and_note_for_a_single_process_server(tmp_path, capsys):
    with recording.recorded_run(config.build("daphne", workers=5), tmp_path, "native"):
        pass
    lines = capsys.readouterr().out.splitlines()
    assert "daphne (ASGI, 1 process, sync views)" in lines[0]
    assert lines[1].startswith("note: daphne runs one process")


def parse(*argv):
    return cli.parser().parse_args(list(argv))


def test_matrix_runs_every_server_with_every_view():
    args = parse("matrix", "--servers", "gunicorn, daphne", "--views", "sync async")
    assert benchmark.combinations(args, args.views) == [
        ("gunicorn", "sync"), ("gunicorn", "async"), ("daphne", "sync"), ("daphne", "async")
    ]  # fmt: skip
    cfgs = benchmark.configs(args, benchmark.combinations(args, args.views))
    assert [(c.server, c.view) for c in cfgs] == benchmark.combinations(args, args.views)
    # A view variant a server cannot run is left out of the matrix, with a note.
    args = parse("matrix", "--servers", "gunicorn-gevent,uwsgi")
    assert benchmark.combinations(args, "sync,async") == [
        ("gunicorn-gevent", "sync"), ("uwsgi", "sync"), ("uwsgi", "async")
    ]  # fmt: skip
    # ... unless nothing is left: then the refusal says why.
    args = parse("matrix", "--servers", "gunicorn-gevent")
    assert benchmark.combinations(args, "async") == [("gunicorn-gevent", "async")]
    with pytest.raises(UserError, match="does not support async views: its greenlets"):
        benchmark.configs(args, benchmark.combinations(args, "async"))
    assert benchmark.combinations(parse("matrix"), "sync,async") == [
        ("gunicorn", "sync"), ("gunicorn", "async"), ("uvicorn", "sync"), ("uvicorn", "async")
    ]  # fmt: skip


MATRIX_ERRORS = [
    (["--servers", "gunicorn,nope"], "unknown server 'nope'"),
    (["--servers", " , "], "no servers given"),
    (["--views", ""], "no views given"),
    (["--views", "sync,turbo"], "unknown view variant 'turbo'"),
    (["--servers", "gunicorn-gevent", "--views", "async"], "does not support async views: its"),
    (["--threads", "0"], "threads must be positive"),
    (["--db-pool", "4"], "expected MIN:MAX"),
    (["--db-pool", "1:4", "--conn-max-age", "30"], "--db-pool needs --conn-max-age 0"),
    (["--workers", "4", "--db-pool", "1:50"], "not below --pg-max-connections 200"),
    (["--pg-max-connections", "-5"], "pg-max-connections must be at least 4"),
]


@pytest.fixture
def keep_signal_handlers():
    # cli.main() installs its own SIGINT and SIGTERM handlers; pytest's must come back.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("keep_signal_handlers")
@pytest.mark.parametrize(
    "args, message", MATRIX_ERRORS, ids=[" ".join(a) for a, _ in MATRIX_ERRORS]
)
def test_matrix_bad_input_gets_one_line(args, message, tmp_path, capsys):
    results = tmp_path / "results"
    assert cli.main(["matrix", "--mode", "native", "--results-dir", str(results), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("djbench: error:"), captured.err
    assert message in lines[0]
    assert captured.out == "" and not Path(results).exists()
