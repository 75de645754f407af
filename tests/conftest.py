import secrets
import tempfile
from pathlib import Path

import pytest

from harness import nginx, postgres
from harness.errors import UserError
from harness.processes import ProcessSet, free_port


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
        yield cluster.env()
