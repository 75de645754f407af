import json

from djbench.analysis.report.knee_report import write_knee_report
from djbench.contracts import documents

KNEES = {
    "failures_0": {"users": 300, "bad_users": 320, "resolution": 32},
    "failures_1": {"users": 640, "bad_users": None, "resolution": 0},
    "p95": {"users": None, "bad_users": 10, "resolution": 0},
}


def _write(path, **extra):
    probes = [
        {"users": 10, "failure_pct": 0.0, "p95_ms": 1200.0, "run_dir": "probes/a"},
        {"users": 320, "failure_pct": 2.5, "p95_ms": 9000.4, "run_dir": "probes/b"},
    ]
    (path / "knee.json").write_text(json.dumps({
        "server": "gunicorn", "interface": "wsgi", "view": "sync", "workers": 5,
        "settings": {"p95_slo_ms": 1000.0, "confirm": 1, "measure_s": 20.0}, "probes": probes,
        "knees": KNEES, **extra,
    }))  # fmt: skip


def test_knee_report_states_each_objective(tmp_path):
    _write(tmp_path)  # a search recorded before probes carried their times
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text().splitlines()
    assert text[0] == "# Knee search: gunicorn (WSGI, sync views, 5 workers)"
    assert text[2:5] == [
        "- no failures: 300 users (broken at 320; resolution 32 users)",
        "- at most 1 % failures: never broken up to 640 users (the knee is higher)",
        "- p95 under 1000 ms: broken already at the smallest count searched, 10 users",
    ]
    assert "| 2 | 320 | 2.5 | 9000 | fixed warm-up |  |  |  | probes/b |" in text
    assert "No prediction: the search doubled from its start." in text
    assert (tmp_path / "probes.png").read_bytes().startswith(b"\x89PNG")


def test_knee_report_gives_prediction_probe_times_and_what_was_spent(tmp_path):
    _write(
        tmp_path,
        load_model="open",
        unit="iterations/s",
        prediction={
            "saturation": {"users": 20, "measured_s": 10.2, "duration_s": 21.4,
                           "run_dir": "probes/s", "iterations_per_s": 35.04,
                           "iteration_s": 0.571, "p95_ms": 310.0},
            "guess": 31, "low": 17, "high": 42,
        },
        spent={"wall_s": 150.0, "probes": 2, "saturation_probes": 1, "stopped_early": 1,
               "measured_s": 35.2, "probe_s": 98.6},
    )  # fmt: skip
    data = json.loads((tmp_path / "knee.json").read_text())
    data["probes"][0].update(measured_s=20.4, duration_s=33.2)
    data["probes"][1].update(measured_s=4.6, duration_s=19.5, stopped_early=True,
                             early={"failures_0": False, "p95": False})  # fmt: skip
    (tmp_path / "knee.json").write_text(json.dumps(data))
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text()
    assert "- no failures: 300 iterations/s (broken at 320; resolution 32 iterations/s)" in text
    assert "Load model: open (iterations/s)." in text
    assert (
        "completed 35.0 iterations/s, 571 ms per iteration, p95 310 ms. By Little's law the p95 "
        "objective (1000 ms) should break near 31 iterations/s, between 17 and 42" in text
    )
    assert (
        "Spent: 2.5 min in all, 2 probes (+1 saturation), 1 stopped early; 35 s measured of "
        "99 s of probe runs" in text
    )
    assert "| 1 | 10 | 0.0 | 1200 | fixed warm-up | 20.4 | 33 |  | probes/a |" in text
    assert (
        "| 2 | 320 | 2.5 | 9000 | fixed warm-up | 4.6 | 20 | yes: no failures broken, p95 broken "
        "| probes/b |" in text
    )


def test_knee_report_of_version_2_gives_steady_state_failure_prediction_and_the_test(tmp_path):
    from djbench.contracts import documents

    saturation = {"users": 20, "measured_s": 10.0, "duration_s": 18.0, "run_dir": "probes/s",
                  "iterations_per_s": 45.0, "iteration_s": 0.444, "p95_ms": 231.0,
                  "in_flight_mean": 20.0, "pg_total_mean": 9.0, "pg_total_max": 12.0,
                  "connection_limit": 199}  # fmt: skip
    _write(tmp_path, prediction={"saturation": saturation, "guess": 154, "low": 67, "high": 202,
                                 "failures": {"guess": 399, "low": 289, "high": 510}})  # fmt: skip
    data = json.loads((tmp_path / "knee.json").read_text())
    data["settings"].update(ramp_s=4.0, sequential={"test": "sprt", "p0": 0.005, "p1": 0.02,
                                                    "alpha": 0.05, "beta": 0.05})  # fmt: skip
    data["probes"][0].update(truncation_s=1.25, unsettled=[], ramp_failures=0)
    data["probes"][1].update(truncation_s=0.0, unsettled=["latency"], ramp_failures=7,
                             transient_failures=2)  # fmt: skip
    (tmp_path / "knee.json").write_text(json.dumps(documents.stamp(documents.KNEE, data)))
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text()
    # 9 connections for 20 in flight: 0.45; 12 / 9 = 1.33
    assert (
        "PostgreSQL's 199 connections: 0.45 per request in flight, peaks 1.33 times their mean; "
        "by Little's law they run out near 399 users, between 289 and 510" in text
    )
    assert "Wald's SPRT, 0.5% against 2.0% failures, error rates alpha 0.05 and beta 0.05" in text
    assert "| 1 | 10 | 0.0 | 1200 | 1.2 |" in text
    assert (
        "| 2 | 320 | 2.5 | 9000 | 0.0; NOT settled: latency; ramp-up: 7 failed (not counted); "
        "transient: 2 failed (cut) |" in text
    )


def test_a_knee_search_of_a_users_project_names_it(tmp_path):
    # Named as its first probe's meta.json records it; the polls project is named nowhere.
    project = {"name": "bakery", "builtin": False, "path": "/src/bakery",
               "git_revision": "5a01dcd+dirty", "settings": "bakery.settings.dev"}  # fmt: skip
    _write(tmp_path)
    write_knee_report(tmp_path)
    assert (tmp_path / "knee.md").read_text().startswith("# Knee search: gunicorn (WSGI")
    (tmp_path / "probes" / "a").mkdir(parents=True)
    meta = documents.stamp(documents.META, {"project": project})
    (tmp_path / "probes" / "a" / "meta.json").write_text(json.dumps(meta))
    write_knee_report(tmp_path)
    text = (tmp_path / "knee.md").read_text().splitlines()
    assert text[0] == "# Knee search of bakery: gunicorn (WSGI, sync views, 5 workers)"
    assert text[2] == (
        "Project: bakery (/src/bakery, git 5a01dcd+dirty), settings bakery.settings.dev."
    )
    assert text[4] == "- no failures: 300 users (broken at 320; resolution 32 users)"
