"""A knee probe as the real stack's search sets it up and reads it (search/probes.py): its
ramp-up, users admitted at the pace the saturated stack completes iterations within RAMP_S, and
Little's law on its own rate."""

from djbench import config
from djbench.contracts.documents import load_knee
from djbench.search import probes
from djbench.search.knee import Probe


def _cfg(**kwargs):
    return config.build("gunicorn", profile="knee", **kwargs)


def test_users_are_admitted_at_the_saturated_pace_within_the_longest_ramp():
    cfg = _cfg()
    # 34.2 iterations/s at saturation: 126 users in 126 / 34.2 = 3.7 s, not 2.5 s at 50/s.
    probe = probes._probe_cfg(cfg, 126, 20.0, pace=34.2)
    assert probe.users == (126,) and probe.spawn_rate == 34.2
    assert probe.hold_s == 126 / 34.2 + 20.0
    # 640 users at that pace would take 18.7 s: the ramp is held to 5 s (128 users/s).
    assert probes._probe_cfg(cfg, 640, 20.0, pace=34.2).spawn_rate == 640 / probes.RAMP_S
    # Without a saturation probe: the configured rate (the knee profile's 50/s).
    assert probes._probe_cfg(cfg, 126, 20.0).spawn_rate == cfg.spawn_rate == 50


def test_the_pace_is_the_saturation_probes_rate_in_the_closed_model_only():
    saturation = {"iterations_per_s": 23.456}
    assert probes._pace(_cfg(), saturation) == 23.46
    assert probes._pace(_cfg(), None) is None
    assert probes._pace(_cfg(), {"iterations_per_s": 0.0}) is None
    assert probes._pace(_cfg(load_model="open", pacing_s=4.0), saturation) is None


def test_littles_law_on_a_probe_takes_its_own_rate():
    saturation = {"iterations_per_s": 37.6, "requests_per_iteration": 3.0}
    grow = probes._grow(_cfg(), saturation, 1000.0)
    # 600 requests in 6.82 s: 29.33 iterations/s. At 110 users with a 1.5 s wait an iteration
    # took 110 / 29.33 - 1.5 = 2.251 s, its p95 1825 ms; scaled to 1 s: 1.233 s, so the knee is
    # 29.33 x (1.5 + 1.233) = 80.2 users.
    assert grow(Probe(110, 0.0, 1825.0, requests=600, measured_s=6.82)) == 80
    # A probe that measured nothing: the saturation probe's rate, 37.6 x (1.5 + (110 / 37.6 -
    # 1.5) x 1000 / 1825) = 85.8.
    assert grow(Probe(110, 0.0, 1825.0)) == 86
    assert probes._grow(_cfg(load_model="open", pacing_s=4.0), saturation, 1000.0) is None


def test_a_probe_that_stopped_early_records_the_window_it_was_judged_on(tmp_path, monkeypatch):
    # The probe's first 12 s: 600 requests of 100 ms, one every 0.02 s, enough for "p95 met"
    # (half the window, 200 requests, the interval under 1 s). Then, as Locust stops, 100
    # requests of 5 s complete: over the whole log the p95 is 5 s (100 of 700). The probe
    # records the window it stopped on: p95 100 ms, 600 requests, 12 s measured.
    import time

    from djbench.analysis.report import knee_report

    monkeypatch.setattr(knee_report, "write_knee_report", lambda d: (d / "knee.md").write_text(""))
    numbers = iter(range(100))
    header = "ts,name,method,status,ok,cause,response_time_ms,iteration\n"

    def run_probe(cfg, root, stop):
        run_dir = root / f"p{next(numbers)}"
        run_dir.mkdir(parents=True)
        first = time.time()
        opened = first + cfg.users[0] / cfg.spawn_rate  # the ramp-up's end: no warm-up
        rows = [f"{first:.3f},index,GET,200,1,,5.0,0\n"]
        rows += [f"{opened + 0.02 * (i + 1):.3f},detail,GET,200,1,,100.0,1\n" for i in range(600)]
        (run_dir / "requests-h-1.csv").write_text(header + "".join(rows))
        stopped = stop(run_dir)
        tail = [f"{opened + 12 + 0.02 * i:.3f},vote,POST,302,1,,5000.0,1\n" for i in range(100)]
        with open(run_dir / "requests-h-1.csv", "a") as f:
            f.write("".join(tail))
        end = opened + (14 if stopped else 20)
        (run_dir / "timeline.csv").write_text(
            "step,users,start,measure_from,end,complete,target_iter_s\n"
            f"1,{cfg.users[0]},{first},{opened},{end},1,\n"
        )
        return run_dir

    settings = {"start": 10, "max_users": 10, "measure_s": 20.0, "p95_slo_ms": 1000.0,
                "resolution_pct": 10.0, "confirm": 0, "predict": False}  # fmt: skip
    knee_dir = probes.run(_cfg(), tmp_path, run_probe, settings)
    first = load_knee(knee_dir)["probes"][0]
    assert first["stopped_early"] and first["early"] == {"p95": True, "failures_1": True}
    assert (first["p95_ms"], first["requests"], first["failure_pct"]) == (100.0, 600, 0.0)
    assert first["measured_s"] == 12.0 and first["truncation_s"] == 0.0
