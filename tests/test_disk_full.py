"""A disk that fills up mid-run, for real: a small tmpfs mounted by the test (needs root)."""

import csv
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djbench.contracts.files import REQUEST_COLUMNS
from djbench.contracts.row_file import RowFile
from tests.helpers import ROOT, survivors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path):
    def mount(size):
        mnt = tmp_path / f"disk-{size}"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       check=True)  # fmt: skip
        mounted.append(mnt)
        return mnt

    mounted = []
    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def free_bytes(directory):
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def fill(directory, leave=0):
    """Take the free space of the file system under `directory` but `leave` bytes."""
    filler = directory / f"filler-{leave}"
    with open(filler, "wb", buffering=0) as f:
        try:
            os.posix_fallocate(f.fileno(), 0, max(0, free_bytes(directory) - leave))
        except OSError:
            pass
        try:
            while not leave:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_rows_the_disk_refuses_are_kept_and_written_later(small_disk, caplog):
    disk = small_disk("1m")
    log = RowFile(disk / "rows.csv", ["a", "b"], "test log")
    log.row([1, "x"])
    assert log.flush()
    filler = fill(disk)
    for i in range(2, 2000):
        log.row([i, "y" * 50])
    with caplog.at_level(logging.WARNING, logger="djbench.rows"):
        assert not log.flush()
        # nothing torn: the file holds its whole rows only
        assert (disk / "rows.csv").read_bytes() == b"a,b\r\n1,x\r\n"
        filler.unlink()
        assert log.flush()
    log.close()
    with open(disk / "rows.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 2000))
    assert [r.getMessage() for r in caplog.records] == [
        f"test log: cannot write to {disk / 'rows.csv'} (No space left on device); rows kept "
        "in memory meanwhile",
        f"test log: writing to {disk / 'rows.csv'} again",
    ]


def test_rows_never_written_are_counted_at_close(small_disk, caplog):
    disk = small_disk("1m")
    log = RowFile(disk / "rows.csv", ["a"], "test log")
    fill(disk)
    for i in range(5000):
        log.row([i])
    with caplog.at_level(logging.ERROR, logger="djbench.rows"):
        log.close()
    assert caplog.records[-1].getMessage() == (
        f"test log: 5001 rows not written to {disk / 'rows.csv'}: No space left on device"
    )
    assert (disk / "rows.csv").read_bytes() == b""


@pytest.mark.integration
def test_disk_full_mid_run_stops_it_with_one_line_and_keeps_results(small_disk, tmp_path):
    # 200 MB must be free for a run to start (results.MIN_FREE_BYTES).
    results = small_disk("230m") / "results"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "run", "--server", "gunicorn", "--mode",
         "native", "--users", "2,4", "--hold", "15", "--warmup", "1", "--results-dir",
         str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT),
             "DJBENCH_LOCK": str(tmp_path / "djbench.lock")},
    )  # fmt: skip
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("step 2/2"):
            break
    time.sleep(3)  # inside step 2's window
    # Fill it at once, as another process could: first to just above the level at which the
    # run stops itself (the harness checks twice a second), then the rest within milliseconds.
    fill(results.parent, leave=24 * 2**20)
    filled_at = time.time()
    fill(results.parent)
    out, err = proc.communicate(timeout=180)
    out = "".join(seen) + out
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"djbench: run failed: disk full under {results}"), err
    assert lines[0].endswith("the run was stopped; results so far are kept, marked incomplete")
    (run_dir,) = results.iterdir()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["complete"] is False
    assert any(w.startswith(f"disk full under {results}") for w in meta["warnings"]), (
        out,
        meta["warnings"],
    )
    assert not survivors(set(meta["pids"].values()))
    assert not list(run_dir.glob(".disk-reserve*"))
    # what was measured is kept: step 1 whole, step 2 cut short where the disk filled
    with open(run_dir / "steps.csv", newline="") as f:
        steps = list(csv.DictReader(f))
    assert [(s["step"], s["complete"]) for s in steps] == [("1", "1"), ("2", "0")]
    assert all(int(s["requests"]) > 0 for s in steps)
    with open(run_dir / "timeline.csv", newline="") as f:
        ended = float(list(csv.DictReader(f))[-1]["end"])
    assert filled_at < ended < filled_at + 5
    # no row lost: every request Locust counted is in the request log, every row whole
    (log,) = run_dir.glob("requests-*.csv")
    with open(log, newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert all(len(r) == len(REQUEST_COLUMNS) for r in rows)
    with open(run_dir / "locust_stats.csv", newline="") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    # Locust's own table may be from its last periodic write: it can only lag the log behind
    assert len(rows) >= int(total["Request Count"]) > 0
    assert not [w for w in meta["warnings"] if "rows not written" in w]
    assert "rows not written" not in Path(run_dir / "logs" / "locust.log").read_text()


def test_reserve_is_freed_when_the_disk_runs_low(small_disk):
    from djbench.system import run_dirs as results

    run_dir = small_disk("64m") / "run"
    run_dir.mkdir()
    results.reserve_space(run_dir)
    assert (run_dir / ".disk-reserve").stat().st_size == results.RESERVE_BYTES
    results.check_disk(run_dir)  # plenty left
    fill(run_dir.parent, leave=results.LOW_FREE_BYTES - 2**20)
    with pytest.raises(results.DiskFull, match=f"disk full under {run_dir.parent} \\(15.0 MB"):
        results.check_disk(run_dir)
    assert not (run_dir / ".disk-reserve").exists()
    assert free_bytes(run_dir) >= results.LOW_FREE_BYTES - 2**20 + results.RESERVE_BYTES


def test_meta_still_fits_when_the_filler_takes_the_first_reserve(small_disk):
    from djbench.system import run_dirs as results

    run_dir = small_disk("64m") / "run"
    run_dir.mkdir()
    results.reserve_space(run_dir)
    fill(run_dir.parent, leave=results.LOW_FREE_BYTES - 2**20)
    with pytest.raises(results.DiskFull):
        results.check_disk(run_dir)
    fill(run_dir.parent)  # whatever filled the disk goes on, and takes what was freed
    results.release_space(run_dir, final=True)  # the run's processes have stopped
    results.write_json(run_dir / "meta.json", {"warnings": ["x" * 500_000]})
    assert not list(run_dir.glob(".disk-reserve*"))
