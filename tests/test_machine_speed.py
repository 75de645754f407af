"""The machine-speed check: its numbers recompute by hand, and from the CSV it writes."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from djbench import cli
from djbench.commands.machine_speed import INTERRUPTED
from djbench.errors import ComponentFailed
from djbench.search import machine_speed
from tests.helpers import ROOT


def test_summary_by_hand():
    # Two CPUs, 1 s windows: 20, 40, 60, 80 units/s together; 2 s blocks: 30 and 70.
    s = machine_speed.summary({0: [10, 20, 30, 40], 1: [10, 20, 30, 40]}, 1.0, block_s=2.0)
    assert s["window_rate"] == {"min": 20, "median": 50, "max": 80}
    assert s["window_spread_pct"] == 300.0
    assert s["block_rates"] == [30.0, 70.0]
    assert s["block_spread_pct"] == 133.3


def test_a_partial_block_is_left_out():
    s = machine_speed.summary({0: [10, 10, 10, 10, 99]}, 0.5, block_s=1.0)
    assert s["block_rates"] == [20.0, 20.0]
    assert s["block_spread_pct"] == 0.0


def test_the_verdict_compares_blocks_with_the_resolution():
    steady = machine_speed.summary({0: [100, 104, 100, 104]}, 1.0, block_s=2.0)
    moving = machine_speed.summary({0: [100, 100, 120, 120]}, 1.0, block_s=2.0)
    assert "within a knee search's 10 % resolution" in machine_speed.verdict(steady)
    assert "20 % apart between 2 s blocks" in machine_speed.verdict(moving)
    assert "may not repeat" in machine_speed.verdict(moving)
    short = machine_speed.summary({0: [5, 5]}, 1.0, block_s=20.0)
    assert "too short" in machine_speed.verdict(short)


def test_every_cpu_counts_in_every_window():
    counts = machine_speed.measure(1.0, 0.25, cpus=2)
    assert sorted(counts) == [0, 1]
    assert all(len(c) == 4 and min(c) > 0 for c in counts.values())


def test_the_command_writes_what_it_summarises(tmp_path, capsys):
    assert cli.main(["machine-speed", "--seconds", "2", "--window", "0.5",
                     "--results-dir", str(tmp_path)]) == 0  # fmt: skip
    (out,) = tmp_path.iterdir()
    rows = pd.read_csv(out / machine_speed.CSV)
    summary = json.loads((out / "summary.json").read_text())
    rates = rows.groupby("window")["units"].sum() / 0.5
    assert len(rates) == 4 and summary["cpus"] == rows["cpu"].nunique()
    assert summary["window_rate"]["max"] == rates.max()
    assert summary["window_spread_pct"] == round(100 * (rates.max() / rates.min() - 1), 1)
    assert "too short for two 20 s blocks" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--window", "0"], ["--seconds", "1", "--window", "2"],
                                  ["--seconds", "7200"]])  # fmt: skip
def test_bad_input_is_one_line(tmp_path, capsys, args):
    assert cli.main(["machine-speed", *args, "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("djbench: error: ") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_a_counter_that_dies_fails_the_measurement(monkeypatch):
    # Forked, the counters run this module's _count: one that exits without its counts must
    # fail the measurement, not leave it waiting for them.
    monkeypatch.setattr(machine_speed, "_count", lambda *args: os._exit(3))
    with pytest.raises(ComponentFailed, match="died without its counts"):
        machine_speed.measure(1.0, 0.5, cpus=2)


def test_ctrl_c_stops_every_counter_and_writes_nothing(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "djbench", "machine-speed", "--seconds", "60",
         "--results-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "counting a fixed CPU loop" in proc.stdout.readline()
    deadline = time.monotonic() + 10
    while len(counters := psutil.Process(proc.pid).children()) < 2:
        assert time.monotonic() < deadline, "the counters never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert err == f"djbench: interrupted; {INTERRUPTED}\n"
    assert not [p for p in counters if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not list(tmp_path.iterdir())  # the empty results directory was removed
