"""Every server of the registry on the real stack at smoke scale, sync views, plus every view a
server runs for two WSGI and two ASGI servers and the three servers people deploy (gunicorn's
gevent and ASGI workers, uWSGI); the latter through `djbench matrix`, which must end in one
report and leave out, with a note, the view a server cannot run. One more run goes through
psycopg's connection pool."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from djbench.stack.servers import SERVERS
from tests.helpers import djbench, last_path, meta, rows, survivors

pytestmark = pytest.mark.integration

MATRIX_SERVERS = (
    *("gunicorn", "uvicorn", "granian-asgi"),
    *("gunicorn-gevent", "uwsgi", "gunicorn-asgi"),  # the servers people deploy
)
POOL = ("--workers", "2", "--db-pool", "1:3")
CASES = [
    *[(s, v, ()) for s in MATRIX_SERVERS for v in SERVERS[s].views],
    *[(s, "sync", ()) for s in SERVERS if s not in MATRIX_SERVERS],
    ("uvicorn", "async", POOL),
]
SMOKE = ("--profile", "smoke", "--mode", "native")


@dataclass
class Run:
    stdout: str  # of the djbench command that made the run
    path: Path
    pooled: bool

    @property
    def meta(self):
        return meta(self.path)


def _lock(tmp_path_factory):
    # A lock of its own: a benchmark elsewhere on the machine must not refuse these runs.
    return {"DJBENCH_LOCK": str(tmp_path_factory.mktemp("lock") / "djbench.lock")}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    out = tmp_path_factory.mktemp("matrix")
    # Eleven smoke runs in a row: about a minute each on a busy 2-core machine.
    done = djbench("matrix", "--servers", ",".join(MATRIX_SERVERS), "--views", "sync,async",
                   *SMOKE, "--results-dir", out, env=_lock(tmp_path_factory),
                   timeout=2400)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    runs = [last_path(ln, "results:") for ln in lines if ln.startswith("results:")]
    by_case = {(meta(r)["server"], meta(r)["view"]): r for r in runs}
    return done, by_case, last_path(done.stdout, "report:")


@pytest.fixture(
    scope="module", params=CASES, ids=[f"{s}-{v}{'-pool' if o else ''}" for s, v, o in CASES]
)
def run(request, tmp_path_factory):
    server, view, options = request.param
    if server in MATRIX_SERVERS and not options:
        done, by_case, _ = request.getfixturevalue("matrix")
        return Run(done.stdout, by_case[(server, view)], pooled=False)
    out = tmp_path_factory.mktemp("results")
    done = djbench("run", "--server", server, "--view", view, *options, *SMOKE,
                   "--results-dir", out, env=_lock(tmp_path_factory))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return Run(done.stdout, last_path(done.stdout, "results:"), pooled=options == POOL)


def test_every_step_served_without_failures(run):
    steps = rows(run.path / "steps.csv")
    assert [int(s["users"]) for s in steps] == [2, 4]
    for step in steps:
        assert int(step["requests"]) > 0 and float(step["failure_pct"]) == 0.0, step


def test_votes_and_versions_recorded(run):
    m = run.meta
    assert m["complete"] is True and m["integrity"]["ok"] is True
    assert m["votes_posted_ok"] > 0 and m["votes_in_db"] == m["votes_posted_ok"]
    for package in (*SERVERS[m["server"]].packages, "Django", "psycopg", "postgresql", "nginx"):
        assert m["versions"].get(package), package


def test_start_up_and_process_count_are_reported(run):
    m = run.meta
    assert f"stack ready in {m['startup_s']:.1f} s: postgres, {m['server']}," in run.stdout
    if m["server"] == "daphne":
        assert m["processes"] == 1 and "note: daphne runs one process" in run.stdout
    else:
        assert m["processes"] == m["workers"]


def test_database_settings_recorded(run):
    m = run.meta
    pool = {"min_size": 1, "max_size": 3} if run.pooled else None
    assert m["database"] == {"conn_max_age": 0, "pool": pool, "pg_max_connections": 200}
    # The PostgreSQL connection sampler holds one of them.
    assert m["postgres"] == {
        "max_connections": 200,
        "sampler_connections": 1,
        "copied_from_setup": False,
    }
    if run.pooled:
        assert m["versions"]["psycopg-pool"]


def test_nothing_left_running(run):
    pids = run.meta["pids"]
    assert {"postgres", "server", "nginx", "locust"} <= set(pids)
    assert survivors(set(pids.values())) == []


def test_matrix_ends_in_one_report_of_every_combination(matrix):
    done, by_case, report = matrix
    assert sorted(by_case) == sorted((s, v) for s, v, o in CASES if s in MATRIX_SERVERS and not o)
    assert sum(ln.startswith("report:") for ln in done.stdout.splitlines()) == 1
    text = (report / "report.md").read_text()
    for server in MATRIX_SERVERS:
        interface = SERVERS[server].interface.upper()
        assert f"| {server} ({interface}) | 0.0 | 0.0 |" in text
        async_row = f"| {server} ({interface}, async views) | 0.0 | 0.0 |" in text
        assert async_row == ("async" in SERVERS[server].views), server
    assert "note: gunicorn-gevent does not run async views (" in done.stdout
