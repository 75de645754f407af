"""What the controller keeps of a stack host's answers at the end of a run: logs only under the
names a stack host may send and bounded in size, sample rows on our clock with torn ones left
out, and the stack stopped whatever the answers were."""

from pathlib import Path
from types import SimpleNamespace

from djbench.remote.stack_host import LOGS
from djbench.runners import distributed
from djbench.runners.distributed import DistributedRunner


class FakeStackHost:
    """Answers as a stack host would, or as a hostile one might."""

    name, host, offset_s, rtt_s = "10.0.0.2", "10.0.0.2", 2.0, 0.004

    def __init__(self, logs, samples, offset_at_end_s=2.001):
        self.answers = {"/logs": logs, "/resources": samples, "/stop": {"ok": True}}
        self.calls = []
        self.offset_at_end_s = offset_at_end_s

    def measure_clock(self):
        self.calls.append("/time")
        self.offset_s, self.rtt_s = self.offset_at_end_s, 0.002

    def call(self, path, body=None, timeout=300):
        self.calls.append(path)
        return self.answers[path]


def _collect(tmp_path, host):
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    run = SimpleNamespace(run_dir=run_dir, meta={"warnings": []})
    runner = DistributedRunner.__new__(DistributedRunner)
    runner.stack_host = host
    runner.collect(run)
    return run


def test_a_log_named_outside_the_run_directory_is_never_written(tmp_path):
    outside = [tmp_path / "x", Path("/tmp/djbench-test-x")]
    host = FakeStackHost({str(outside[1]): "pwned", "../x": "pwned", "server.log": "ok\n",
                          "nginx.conf": "pwned"}, {})  # fmt: skip
    run = _collect(tmp_path, host)
    assert not any(p.exists() for p in outside)
    assert sorted(p.name for p in (run.run_dir / "logs").iterdir()) == ["server.log"]
    assert (run.run_dir / "logs" / "server.log").read_text() == "ok\n"
    left_out = [w for w in run.meta["warnings"] if "not one it may send" in w]
    assert len(left_out) == 3 and "'../x'" in "".join(left_out)
    assert host.calls[-1] == "/stop"
    assert "server.log" in LOGS


def test_a_log_past_the_bound_keeps_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "MAX_LOG_BYTES", 1 << 20)
    host = FakeStackHost({"server.log": "a" * (1 << 20) + "the end\n"}, {})
    run = _collect(tmp_path, host)
    kept = (run.run_dir / "logs" / "server.log").read_text()
    assert len(kept) == 1 << 20 and kept.endswith("the end\n")
    assert run.meta["warnings"] == ["10.0.0.2's server.log cut to its last 1 MB"]


def test_torn_sample_rows_are_left_out_and_the_stack_still_stopped(tmp_path):
    system = "ts,cpus,cpu_pct\n100.5,2,50.0\n101.5,2\n10x,2,1.0\n102.5,2,40.0\n"
    host = FakeStackHost({}, {"system.csv": system, "../../evil.csv": "ts\n1\n"})
    run = _collect(tmp_path, host)
    text = (run.run_dir / "system.csv").read_text().splitlines()
    # On our clock: the stack host's is 2 s ahead.
    assert text == ["ts,cpus,cpu_pct", "98.500,2,50.0", "100.500,2,40.0"]
    assert run.meta["warnings"] == ["2 torn sample rows from 10.0.0.2 left out"]
    assert not (tmp_path / "evil.csv").exists()
    assert host.calls[-1] == "/stop"


def test_a_clock_that_moved_during_the_run_is_a_warning_with_how_much(tmp_path):
    # Measured at the start 2 s ahead (round trip 4 ms), at the end 1 ms more: within the bound.
    run = _collect(tmp_path, FakeStackHost({}, {}))
    assert run.meta["warnings"] == []
    assert run.meta["clock_checks"]["10.0.0.2"] == {
        "offset_start_s": 2.0,
        "offset_end_s": 2.001,
        "rtt_start_ms": 4.0,
        "rtt_end_ms": 2.0,
    }
    # Stepped by 3 s: said, and the samples keep the offset they were placed by.
    host = FakeStackHost({}, {}, offset_at_end_s=5.0)
    run = _collect(tmp_path / "stepped", host)
    assert run.meta["warnings"] == [
        "stack host 10.0.0.2's clock moved +3000 ms during the run: its samples are "
        "placed by the offset measured at the start"
    ]
    assert host.offset_s == 2.0
