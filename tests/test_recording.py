from harness.recording import _finish


def test_locust_cpu_warning_is_recorded(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "locust.log").write_text("WARNING/root: CPU usage above 90%! This may constrain...\n")
    meta = {"warnings": []}
    _finish(tmp_path, meta)
    assert len(meta["warnings"]) == 1
    assert meta["warnings"][0].startswith("Locust reported CPU usage above 90 %")


def test_nothing_to_report(tmp_path):
    (tmp_path / "logs").mkdir()
    meta = {"warnings": []}
    _finish(tmp_path, meta)
    assert meta == {"warnings": []}
