from djbench.load.recording import _finish


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


def test_rows_a_full_disk_refused_are_recorded(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "locust.log").write_text(
        "[2026-11-26 00:16:13,264] vm/ERROR/djbench.rows: request log: 12 rows not written to "
        "/r/requests-vm-1.csv: No space left on device\n"
    )
    meta = {"warnings": []}
    _finish(tmp_path, meta)
    assert meta["warnings"] == [
        "request log: 12 rows not written to /r/requests-vm-1.csv: No space left on device: the "
        "measured numbers miss them"
    ]
