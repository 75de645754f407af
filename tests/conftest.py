import secrets
import tempfile
from pathlib import Path

import pytest

from harness import postgres
from harness.processes import ProcessSet, free_port


@pytest.fixture(scope="session")
def pg_env():
    """A throwaway PostgreSQL cluster (the harness's own), as POSTGRES_* environment variables."""
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as 'postgres'.
    with tempfile.TemporaryDirectory(prefix="djbench-test-pg-") as tmp, ProcessSet() as procs:
        base = Path(tmp)
        base.chmod(0o755)
        cluster = postgres.Cluster(base / "cluster", free_port(), secrets.token_urlsafe(12))
        cluster.init(procs, base / "postgres.log")
        cluster.wait_ready(cluster.start(procs, base / "postgres.log"))
        yield cluster.env()
