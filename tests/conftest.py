import secrets

import pytest

from harness import postgres
from harness.processes import ProcessSet, free_port


@pytest.fixture(scope="session")
def pg_env(tmp_path_factory):
    """A throwaway PostgreSQL cluster (the harness's own), as POSTGRES_* environment variables."""
    base = tmp_path_factory.mktemp("pg")
    base.chmod(0o755)
    with ProcessSet() as procs:
        cluster = postgres.Cluster(base / "cluster", free_port(), secrets.token_urlsafe(12))
        cluster.init(base / "postgres.log")
        cluster.wait_ready(cluster.start(procs, base / "postgres.log"))
        yield cluster.env()
