"""The master's reading of a load worker's clock (locustfiles/distributed.py): the offset from
the ping with the shortest round trip, and a clock that moves mid-run (stepped by 3 s) said,
with how much, and used from then on; a wobble within the round trips' bound is not a step."""

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "locustfiles"))
pytest.importorskip("request_log")  # what distributed.py finds in sys.modules, as Locust loads it
distributed = pytest.importorskip("distributed")


class Sink:
    def __init__(self):
        self.rows = []

    def write(self, name, rows):
        self.rows += rows


def _worker():
    seen = []  # the master is told once per step, when the ping saw it
    worker = distributed.Worker("w1", {"name": "load1-7"}, Sink(), lambda: seen.append(1))
    return worker, seen


def test_the_shortest_round_trip_gives_the_offset():
    worker, steps = _worker()
    worker.pong(100.000, 150.010, 100.020)  # rtt 20 ms: offset 50.000 s
    worker.pong(110.000, 160.0005, 110.002)  # rtt 2 ms: offset 49.9995 s, kept
    worker.pong(120.000, 170.005, 120.010)  # rtt 10 ms, offset 50.000: within both bounds
    assert (round(worker.offset_s, 4), round(worker.rtt_s, 3)) == (49.9995, 0.002)
    assert steps == [] and worker.record()["clock_steps_s"] == []


def test_a_clock_stepped_by_three_seconds_is_said_and_used_from_then_on():
    worker, steps = _worker()
    worker.pong(100.000, 150.001, 100.002)  # offset 50.000
    worker.write({"requests": [["200.000", "vote"]], "../elsewhere": [["1", "x"]]})
    worker.pong(110.000, 163.001, 110.002)  # offset 53.000: the worker's clock jumped 3 s
    worker.write({"requests": [["215.000", "vote"]]})
    assert steps == [1]
    assert worker.record()["clock_steps_s"] == [3.0]
    assert worker.record()["clock_step_errors_s"] == [0.002]
    # Rows on the master's clock: before the step by the old offset, after it by the new one;
    # a log it does not keep is not written.
    assert [r[0] for r in worker.sink.rows] == ["150.000", "162.000"]


def test_a_step_seen_by_a_slow_ping_is_sized_by_the_fast_ones_after_it():
    worker, steps = _worker()
    worker.pong(100.000, 150.001, 100.002)  # offset 50.000, rtt 2 ms
    # The ping that sees the 3 s step took 700 ms: its estimate, 53.350, is off by 350 ms.
    worker.pong(110.000, 163.700, 110.700)
    assert steps == [1] and worker.record()["clock_steps_s"] == [3.35]
    worker.pong(110.800, 163.802, 110.804)  # rtt 4 ms: offset 53.000
    worker.pong(110.900, 163.904, 110.910)  # rtt 10 ms: not better, and not a step
    assert steps == [1]
    assert worker.record()["clock_steps_s"] == [3.0]
    assert worker.record()["clock_step_errors_s"] == [0.003]  # (2 + 4) / 2 ms
    assert round(worker.offset_s, 4) == 53.0
