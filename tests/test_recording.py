from harness.recording import _finish


def test_postgres_refusals_and_locust_cpu_are_reported(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    refusal = "FATAL:  sorry, too many clients already\n"
    (logs / "postgres.log").write_text("LOG:  database system is ready\n" + refusal * 3)
    (logs / "server.log").write_text("sorry, too many clients already\n")  # not PostgreSQL's log
    (logs / "locust.log").write_text("WARNING/root: CPU usage above 90%! This may constrain...\n")
    meta = {"warnings": [], "config": {"pg_max_connections": 200}}
    _finish(tmp_path, meta)
    assert meta["postgres_refused_connections"] == 3
    assert meta["warnings"][0].startswith("Locust reported CPU usage above 90 %")
    assert meta["warnings"][1].startswith("PostgreSQL refused 3 connections")
    assert "max_connections 200" in meta["warnings"][1]


def test_nothing_to_report(tmp_path):
    (tmp_path / "logs").mkdir()
    meta = {"warnings": []}
    _finish(tmp_path, meta)
    assert meta == {"warnings": []}
