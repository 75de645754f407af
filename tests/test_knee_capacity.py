"""A knee search's report says how far the machine's speed moved between two measurements of
one count (analysis/report/capacity.py), from each probe's steps.csv."""

import json

from djbench.analysis.report.capacity import capacity
from djbench.analysis.report.knee_report import write_knee_report

KNEES = {
    "failures_0": {"users": 640, "bad_users": None, "resolution": 0},
    "failures_1": {"users": 640, "bad_users": None, "resolution": 0},
    "p95": {"users": 200, "bad_users": 220, "resolution": 22},
}


def _search(path, steps):
    """steps: (users, rps, machine CPU %, failure %) per probe, in the order measured."""
    probes = []
    for i, (users, rps, cpu, failed) in enumerate(steps):
        run = path / "probes" / str(i)
        run.mkdir(parents=True)
        (run / "steps.csv").write_text(
            f"step,users,rps,machine_cpu_pct,failure_pct\n1,{users},{rps},{cpu},{failed}\n"
        )
        probes.append({"users": users, "failure_pct": failed, "p95_ms": 900.0,
                       "run_dir": f"probes/{i}"})  # fmt: skip
    (path / "knee.json").write_text(json.dumps({
        "server": "gunicorn", "interface": "wsgi", "view": "sync", "workers": 5,
        "settings": {"p95_slo_ms": 1000.0, "confirm": 1, "measure_s": 20.0,
                     "resolution_pct": 10.0},
        "probes": probes, "knees": KNEES,
    }))  # fmt: skip
    return probes


def test_two_measurements_of_one_count_say_how_far_the_machine_moved(tmp_path):
    probes = _search(tmp_path, [
        (200, 180.0, 100.0, 0.0),  # 180 requests/s at full use
        (250, 190.0, 95.0, 0.0),  # 200, but measured once
        (300, 100.0, 50.0, 0.0),  # the CPUs half idle: not the machine's limit
        (300, 150.0, 100.0, 1.0),  # failed requests: not counted
        (200, 144.0, 90.0, 0.0),  # 160: 180 / 160 = 1.125
    ])  # fmt: skip
    assert capacity(tmp_path, probes) == {"users": 200, "rates": [180.0, 160.0],
                                          "moved_pct": 12.5}  # fmt: skip
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text().splitlines()
    assert text[5] == (
        "- machine speed: 200 users, measured 2 times with the CPUs busy and no failure, "
        "completed 180, 160 requests/s at full use: 12 % apart, more than the search's "
        "resolution (10 %): a knee measured while the machine was slower is lower by about as "
        "much, and another search may not repeat it (`djbench machine-speed` measures the "
        "machine alone)"
    )


def test_without_a_repeated_count_the_report_says_nothing_of_it(tmp_path):
    probes = _search(tmp_path, [(200, 180.0, 100.0, 0.0), (220, 150.0, 100.0, 0.0),
                                (220, 180.0, 60.0, 0.0)])  # fmt: skip
    assert capacity(tmp_path, probes) is None
    write_knee_report(tmp_path)
    assert "machine speed" not in (tmp_path / "knee.md").read_text()
