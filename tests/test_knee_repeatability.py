"""The repeatability study's inputs: this machine's speeds, and a server that takes them."""

import json

from djbench.analysis.studies.reference_notes import REFERENCE
from tests import knee_repeatability as study


def _run(ref, name, units):
    run = ref / "machine-speed" / name
    run.mkdir(parents=True)
    rows = ["window,start_s,cpu,units"] + [f"{i},{i},0,{u}" for i, u in enumerate(units)]
    (run / "machine-speed.csv").write_text("\n".join(rows) + "\n")
    summary = {"machine": {}, "git_revision": "abcdef0123", "window_s": 1}
    (run / "summary.json").write_text(json.dumps(summary))


def test_speeds_are_blocks_over_their_runs_median(tmp_path):
    # 1 s windows, 20 s blocks: 100 then 120 units/s (median 110), and 50, 50, 80 (median 50)
    _run(tmp_path, "20261207-120000-machine-speed", [100] * 20 + [120] * 20)
    _run(tmp_path, "20261207-130000-machine-speed", [50] * 40 + [80] * 20)
    assert [round(s, 3) for s in study.speeds(tmp_path)] == [0.909, 1.091, 1.0, 1.0, 1.6]


def test_each_probe_runs_at_the_speed_asked_then():
    asked = iter([0.5, 2.0])
    sim = study.MovingMachine(lambda: next(asked), seed=0)
    sim(100, lambda snapshot: False)
    assert sim.rate == 20.0
    sim(100, lambda snapshot: False)
    assert sim.rate == 80.0


def test_the_committed_speeds_are_read():
    assert len(study.speeds(REFERENCE)) > 10
