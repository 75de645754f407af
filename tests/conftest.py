import secrets
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from djbench.errors import UserError
from djbench.stack import nginx, postgres
from djbench.system import leftovers
from djbench.system.processes import ProcessSet, free_port


def _missing_for_the_stack():
    """Why the real stack cannot start here (a system package missing), or None."""
    try:
        nginx.find_binary()
        postgres.find_binary("initdb")
        postgres.find_binary("postgres")
    except UserError as e:
        return str(e)
    return None


def pytest_collection_modifyitems(config, items):
    # A missing system package skips the tests that need it, saying why; it fails none.
    # (make test installs it first where it can: root with apt-get.)
    reason = _missing_for_the_stack()
    if reason:
        for item in items:
            if "integration" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def pg_env():
    """A throwaway PostgreSQL cluster (the harness's own), as POSTGRES_* environment variables."""
    try:
        postgres.find_binary("initdb")
    except UserError as e:
        pytest.skip(str(e))
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as 'postgres'.
    with tempfile.TemporaryDirectory(prefix="djbench-test-pg-") as tmp, ProcessSet() as procs:
        base = Path(tmp)
        base.chmod(0o755)
        cluster = postgres.Cluster(base / "cluster", free_port(), secrets.token_urlsafe(12))
        cluster.init(procs, base / "postgres.log")
        cluster.wait_ready(cluster.start(procs, base / "postgres.log"))
        # Django's test runner creates a test database of its own, which a benchmark's role may
        # not: the tests' cluster lets theirs.
        with cluster.connect("postgres", admin=True) as conn:
            conn.execute(f'ALTER ROLE "{postgres.USER}" CREATEDB')
        yield cluster.env()


def _ours_now():
    """Temp dirs of runs, and processes tagged with a run, on this machine now."""
    dirs = set(Path(tempfile.gettempdir()).glob(f"{leftovers.TEMP_PREFIX}*"))
    procs = set()
    for proc in psutil.process_iter():
        try:
            if leftovers.RUN_TAG in proc.environ() and proc.status() != psutil.STATUS_ZOMBIE:
                procs.add((proc.pid, proc.create_time(), proc.name()))
        except (psutil.Error, OSError):
            continue
    return dirs, procs


@pytest.fixture(scope="session", autouse=True)
def nothing_of_ours_left():
    """After the suite, no run's temp dir and no run's process that was not there before."""
    dirs_before, procs_before = _ours_now()
    yield
    deadline = time.monotonic() + 10  # processes of the last test may still be exiting
    while True:
        dirs, procs = _ours_now()
        left = sorted(map(str, dirs - dirs_before)) + [
            f"{name} (pid {pid})" for pid, _, name in procs - procs_before
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, f"left behind by the tests: {', '.join(left)}"
