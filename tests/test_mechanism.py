"""The mechanism's per-step columns (analysis/runs/mechanism.py) on hand-made samples, and the
counter file the app's middleware writes."""

import math
import struct
import time

import pytest

from djbench.analysis.runs import mechanism
from djbench.analysis.runs.samples import read_pg_activity
from djbench.contracts.files import (
    PG_ACTIVITY,
    PG_ACTIVITY_COLUMNS,
    PG_STATE_COLUMNS,
    SERVER_PROCESS_COLUMNS,
    SERVER_PROCESSES,
)
from djbench.sampling.server_processes import FORMAT, read_counter

# Two windows, [100, 103) and [103, 106). A master (pid 1, not serving) and two workers; worker
# 3 is gone in the second window. Sample at 103 belongs to the second window.
SERVER_ROWS = [
    # ts, pid, serving, threads, inflight, inflight_mean
    (100, 1, 0, 9, "", ""),
    (100, 2, 1, 2, 1, ""),
    (100, 3, 1, 4, 3, ""),
    (101, 1, 0, 9, "", ""),
    (101, 2, 1, 2, 0, 0.5),
    (101, 3, 1, 6, 5, 4.5),
    (102, 2, 1, 3, 2, 1.0),
    (102, 3, 1, 8, 1, 2.0),
    (103, 2, 1, 5, 4, 3.0),
    (104, 2, 1, 7, 6, 5.0),
]
PG_ROWS = [
    # ts, active, total, max_connections, idle, idle_in_transaction, sessions
    (100, 1, 10, 200, 8, 1, 50),
    (101, 0, 12, 200, 11, 1, 56),
    (102, 2, 14, 200, 10, 2, 62),
    (103, 1, 20, 200, 19, 0, 70),
    (105, 3, 30, 200, 20, 7, 90),
]
WINDOWS = [(100.0, 103.0), (103.0, 106.0)]


def write(path, columns, rows):
    path.write_text(",".join(columns) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))


@pytest.fixture
def run_dir(tmp_path):
    write(tmp_path / SERVER_PROCESSES, SERVER_PROCESS_COLUMNS, SERVER_ROWS)
    write(tmp_path / PG_ACTIVITY, PG_ACTIVITY_COLUMNS + PG_STATE_COLUMNS, PG_ROWS)
    return tmp_path


def test_server_columns_by_hand(run_dir):
    out = mechanism.step_columns(run_dir, WINDOWS, read_pg_activity(run_dir))
    # Window 1: samples at 100, 101, 102 with 2 serving processes each (the master left out).
    assert out["server_processes"] == [2.0, 1.0]
    assert out["threads_per_process_mean"] == [(2 + 4 + 2 + 6 + 3 + 8) / 6, (5 + 7) / 2]
    assert out["threads_per_process_max"] == [8, 7]
    # The first samples have no mean yet: (0.5 + 4.5 + 1 + 2) / 4 per process.
    assert out["inflight_per_process_mean"] == [2.0, 4.0]
    assert out["inflight_per_process_max"] == [5, 6]
    # Summed over the processes of each sample: 101 -> 5.0, 102 -> 3.0 (100 has none).
    assert out["inflight_app_mean"] == [4.0, 4.0]


def test_postgresql_states_and_connections_opened_by_hand(run_dir):
    out = mechanism.step_columns(run_dir, WINDOWS, read_pg_activity(run_dir))
    assert out["pg_idle_mean"] == [(8 + 11 + 10) / 3, (19 + 20) / 2]
    assert out["pg_idle_max"] == [11, 20]
    assert out["pg_idle_in_transaction_mean"] == [4 / 3, 3.5]
    assert out["pg_idle_in_transaction_max"] == [2, 7]
    assert out["pg_max_connections"] == [200, 200]
    # (62 - 50) sessions over 2 s; (90 - 70) over 2 s.
    assert out["pg_opened_per_s"] == [6.0, 10.0]


def test_a_window_without_samples_and_a_run_without_the_files(run_dir, tmp_path_factory):
    out = mechanism.step_columns(run_dir, [(200.0, 210.0)], read_pg_activity(run_dir))
    assert all(math.isnan(v[0]) for v in out.values()) and len(out) == 12
    # An older run: pg_activity.csv without the states, no server_processes.csv.
    old = tmp_path_factory.mktemp("old")
    write(old / PG_ACTIVITY, PG_ACTIVITY_COLUMNS, [r[:4] for r in PG_ROWS])
    assert mechanism.step_columns(old, WINDOWS, read_pg_activity(old)) == {}


def test_the_counter_file_gives_the_integral_up_to_now(tmp_path):
    # 2 requests in flight since 10 s ago, 7.5 request-seconds before that.
    path = tmp_path / "123"
    since = time.monotonic() - 10
    path.write_bytes(struct.pack(FORMAT, 2, 7.5, since))
    before = time.monotonic()
    now, total = read_counter(path)
    after = time.monotonic()
    assert now == 2 and 7.5 + 2 * (before - since) <= total <= 7.5 + 2 * (after - since)
    path.write_bytes(b"\0" * 4)  # half a file: not a counter yet
    assert read_counter(path) is None and read_counter(tmp_path / "gone") is None
