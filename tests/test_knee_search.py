"""The knee search on simulated servers. The first ones are functions of users -> (failure %,
p95) that ignore early stopping; the ClosedLoop ones (tests/knee_sim.py) produce requests over
time, so their probes stop early as on the real stack."""

import math
import random
from collections import Counter

import pytest

from djbench.search.knee import (
    Prediction,
    Probe,
    extrapolate_users,
    predict_rate,
    predict_users,
    search,
    search_all,
)
from tests.knee_sim import ClosedLoop


def server(knee_users, p95_knee_users=None):
    """Fails linearly above knee_users; p95 crosses 1000 ms at p95_knee_users."""
    p95_knee_users = p95_knee_users or knee_users

    def measure(users, stop_early=None):
        failures = max(0.0, (users - knee_users) * 0.5)
        return Probe(users, failures, 1000.0 * users / p95_knee_users)

    return measure


def counting(measure):
    calls = []

    def wrapped(users, stop_early=None):
        calls.append(users)
        return measure(users)

    return wrapped, calls


def test_coarse_then_bisection_to_the_resolution():
    measure, calls = counting(server(300))
    knee = search(measure, "failures_0", start=10, max_users=5000)
    # doubling: 10 20 40 80 160 320 (bad); resolution 10 % of 320 = 32; bisection 240 280 300;
    # then 300 once more to confirm it
    assert calls[:6] == [10, 20, 40, 80, 160, 320]
    assert knee.users <= 300 < knee.bad_users
    assert knee.bad_users - knee.users <= knee.resolution == 32
    assert knee.users == 300 and knee.bad_users == 320
    assert calls[6:] == [240, 280, 300, 300]
    measure, calls = counting(server(300))
    assert search(measure, "failures_0", start=10, max_users=5000, confirm=0).users == 300
    assert calls[6:] == [240, 280, 300]


def test_a_knee_that_fails_its_confirmation_is_bad():
    # 300 users pass the first time and fail the second (a lucky probe); 280 passes twice.
    seen = {}

    def flaky(users, stop_early=None):
        seen[users] = seen.get(users, 0) + 1
        lucky = users == 300 and seen[users] == 1
        return Probe(users, 0.0 if users <= 280 or lucky else 2.0, 10.0)

    measure, calls = counting(flaky)
    knee = search(measure, "failures_0", start=10, max_users=5000)
    # ... 240 280 300 (good), 300 again (bad): 300 is bad; below it 280, confirmed by a second
    # measurement; 300 - 280 is within the resolution (32)
    assert calls[6:] == [240, 280, 300, 300, 280]
    assert (knee.users, knee.bad_users) == (280, 300)


def test_failed_confirmations_walk_down_and_bisect_again():
    # Only counts up to 200 hold up when measured twice; above, each passes once then fails.
    seen = {}

    def fragile(users, stop_early=None):
        seen[users] = seen.get(users, 0) + 1
        return Probe(users, 0.0 if users <= 200 or seen[users] == 1 else 5.0, 10.0)

    measure, calls = counting(fragile)
    knee = search(measure, "failures_0", start=100, max_users=400)
    # Doubling 100 200 400 (all pass once: never broke) -> unbounded, no confirmation.
    assert (knee.users, knee.bad_users) == (400, None) and calls == [100, 200, 400]
    seen.clear()
    table = {100: 0.0, 200: 0.0, 400: 9.0}

    def fragile_then_bad(users, stop_early=None):
        seen[users] = seen.get(users, 0) + 1
        if users in table:
            return Probe(users, table[users], 10.0)
        return Probe(users, 0.0 if users <= 200 or seen[users] == 1 else 5.0, 10.0)

    measure, calls = counting(fragile_then_bad)
    knee = search(measure, "failures_0", start=100, max_users=1000)
    # 100 200 400 (bad); resolution 10 % of the bad end; bisection 300 350 375 (each passes
    # once); confirm 375: fails -> below it 350, within 38: confirm 350: fails -> a step (35)
    # below: 315, confirm it: fails -> a step below, 300 is known: confirm 300: fails -> 270,
    # confirm: fails -> 243, 219 likewise -> a step below 219 (22) is under 200, known good:
    # confirm 200: passes.
    assert calls == [100, 200, 400, 300, 350, 375, 375, 350, 315, 315, 300, 270, 270, 243,
                     243, 219, 219, 200]  # fmt: skip
    assert (knee.users, knee.bad_users, knee.resolution) == (200, 219, 22)


def test_objectives_share_probes_and_differ():
    measure, calls = counting(server(knee_users=300, p95_knee_users=100))
    knees, probes = search_all(measure, start=10, max_users=5000)
    assert len(calls) == len(probes)
    # Each count measured once, the knees a second time to confirm them: 300 (no failures)
    # and 100 (p95) are each the knee of an objective; 302 that of the 1 % one.
    twice = {u for u in calls if calls.count(u) == 2}
    assert max(calls.count(u) for u in calls) <= 2
    assert twice == {knees[o].users for o in knees}
    # The failure search starts at the top (5000) and bisects geometrically down to 296..312.
    assert knees["failures_0"].users <= 300 < knees["failures_0"].bad_users
    assert knees["failures_0"].bad_users - knees["failures_0"].users <= 31
    # exactly 1 % failures at 302 users, 1.5 % at 303
    assert knees["failures_1"].users <= 302 < knees["failures_1"].bad_users
    assert knees["p95"].users <= 100 < knees["p95"].bad_users


def test_never_breaks_and_broken_from_the_start():
    never = search(server(10_000), "failures_0", start=10, max_users=100)
    # Doubling from 10 ends at the top of the range itself, not at 80: "never broken up to 100".
    assert (never.users, never.bad_users, never.bounded) == (100, None, False)
    broken = search(server(5), "failures_0", start=10, max_users=100)
    assert (broken.users, broken.bad_users, broken.bounded) == (None, 10, False)


def test_no_requests_counts_as_broken():
    knee = search(lambda u, stop: Probe(u, math.nan, math.nan), "p95", start=10, max_users=100)
    assert knee.users is None


def test_noisy_server_lands_within_the_resolution():
    for seed in range(20):
        rng = random.Random(seed)

        def noisy(users, stop_early=None, rng=rng):
            p95 = 1000.0 * users / 400 * (1 + rng.uniform(-0.03, 0.03))
            return Probe(users, 0.0, p95)

        knee = search(noisy, "p95", start=25, max_users=5000)
        # 3 % noise moves the true crossing to 388..412 users
        assert knee.users - knee.resolution <= 412 and knee.bad_users + knee.resolution >= 388


def test_non_monotonic_server_gives_a_good_count_below_a_bad_one():
    # Breaks at 160 users, recovers at 200 (e.g. a lucky step), breaks for good above 240.
    table = {10: 0, 20: 0, 40: 0, 80: 0, 160: 5.0}

    def odd(users, stop_early=None):
        pct = table.get(users, 0.0 if users < 150 or 190 <= users < 240 else 5.0)
        return Probe(users, pct, 10.0)

    knee = search(odd, "failures_0", start=10, max_users=5000)
    # The search does not chase the recovery above the first breach: it reports a good count
    # directly below a bad one, within the resolution, between the coarse bracket 80..160.
    assert odd(knee.users).failure_pct == 0 and odd(knee.bad_users).failure_pct > 0
    assert 80 <= knee.users < knee.bad_users <= 160
    assert knee.bad_users - knee.users <= knee.resolution


@pytest.mark.parametrize("start, max_users", [(1, 1), (3, 50)])
def test_small_ranges_terminate(start, max_users):
    knee = search(server(2), "failures_0", start=start, max_users=max_users)
    assert knee.users in (None, 1, 2)


def test_article_steps_scaled_to_the_wsgi_knee():
    from djbench.search.knee import Knee, scaled_steps

    knees = {
        "failures_0": Knee("failures_0", 640, None, 0),  # never broke: not used
        "failures_1": Knee("failures_1", 640, None, 0),
        "p95": Knee("p95", 96, 104, 10),
    }
    # 96 users / the article's 3rd step -> steps of 32: 32, 64, 96 (the knee), ..., 224
    assert scaled_steps(knees) == (32, 64, 96, 128, 160, 192, 224)
    knees["failures_0"] = Knee("failures_0", 60, 64, 6)  # broke first: it sets the scale
    assert scaled_steps(knees, steps=3) == (20, 40, 60)
    knees["failures_0"] = knees["p95"] = Knee("p95", None, 10, 0)
    assert scaled_steps(knees) is None


def test_scale_auto_rewrites_every_configuration(tmp_path):
    import json

    from djbench import config
    from djbench.search import auto_scale

    knee_dir = tmp_path / "20260101-000000-knee-gunicorn-sync"
    knee_dir.mkdir()
    knees = {
        "failures_0": {"objective": "failures_0", "users": 700, "bad_users": None,
                       "resolution": 0, "bounded": False},
        "failures_1": {"objective": "failures_1", "users": 700, "bad_users": None,
                       "resolution": 0, "bounded": False},
        "p95": {"objective": "p95", "users": 90, "bad_users": 99, "resolution": 10,
                "bounded": True},
    }  # fmt: skip
    (knee_dir / "knee.json").write_text(json.dumps({"knees": knees}))
    cfgs = [config.build(s, profile="article", workers=3) for s in ("uvicorn", "gunicorn")]
    searched = auto_scale.knee_config(cfgs, start=10)
    assert searched.server == "gunicorn"  # the WSGI server's knee
    assert searched.profile == "knee" and searched.users == (10,)
    scaled, how = auto_scale.scaled(cfgs, searched, knee_dir)
    assert how.startswith("auto: steps of 30 users")
    assert [c.users for c in scaled] == [(30, 60, 90, 120, 150, 180, 210)] * 2
    assert all("steps of 30 users" in c.scale and knee_dir.name in c.scale for c in scaled)


# --- the predicted search, early stopping, on ClosedLoop servers (tests/knee_sim.py) ---------


def _predicted(sim):
    s = sim.saturation()
    return predict_users(s["iterations_per_s"], sim.wait_s, s["iteration_s"], s["p95_ms"], 1000,
                         s["requests_per_iteration"])  # fmt: skip


def test_prediction_by_littles_law_by_hand():
    # 35 iterations/s saturated, 0.571 s per iteration there with a p95 of 276 ms, 1.5 s wait:
    # low 35 x 1.5 = 52.5; guess 35 x (1.5 + 0.571 x 1000 / 276) = 124.9; high 35 x (1.5 + 3 x 1)
    assert predict_users(35, 1.5, 0.571, 276, 1000, 3) == Prediction(125, 52, 158)
    assert predict_rate(40) == Prediction(36, 20, 48)  # 0.9 X, between X / 2 and 1.2 X
    assert predict_users(35, 0, 0.5, 0, 1000, 3) == Prediction(105, 1, 106)  # degenerate inputs
    # ClosedLoop's knee is where 1.45 x (N / 35 - 1.5) / 3 s = 1 s: N = 124.9, as predicted
    assert _predicted(ClosedLoop()) == Prediction(125, 52, 158)


def test_predicted_search_needs_few_probes_and_stops_far_ones_early():
    sim = ClosedLoop()  # gunicorn-like: 35 iterations/s, no failures at any load
    knees, probes = search_all(sim, 10, 640, prediction=_predicted(sim))
    # 125 is the guess (p95 1009 ms: broken, a full probe: the interval straddles 1 s), then
    # bisection down the predicted bracket 52..125: 81 (geometric: the bracket spans more than
    # a factor two), 103, 114, all met; 114..125 is within 10 % of 125: 114 confirmed; then the
    # failure knees: the top, 640, never broken.
    assert sim.calls == [125, 81, 103, 114, 114, 640]
    # The confirmation of a p95 knee stops early as met too; the top, 640, runs out (a failure
    # objective's "met" is never called early).
    assert [p.stopped_early for p in probes] == [False, True, True, True, True, False]
    # MSER-5 cuts the first batch of five requests (the simulator's first poll starts with its
    # fastest), 0.05 s; "met" waits for half of the 19.95 s left: the poll at 10.5 s.
    assert [p.truncated_requests for p in probes] == [5] * 6
    assert [p.measured_s for p in probes] == [19.95, 10.45, 10.45, 10.45, 10.45, 19.95]
    assert (knees["p95"].users, knees["p95"].bad_users, knees["p95"].resolution) == (114, 125, 12)
    for name in ("failures_0", "failures_1"):
        assert (knees[name].users, knees[name].bad_users) == (640, None)
    # Doubling from 10, as before: 10 probes and 109 s measured for a coarser bracket.
    sim = ClosedLoop()
    knees, probes = search_all(sim, 10, 640)
    assert sim.calls == [10, 20, 40, 80, 160, 120, 140, 130, 120, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (120, 130)
    assert sum(p.measured_s for p in probes) == pytest.approx(108.95)


def test_a_wrong_prediction_is_corrected_by_measuring_the_bracket():
    sim = ClosedLoop()
    knees, _ = search_all(sim, 10, 640, prediction=Prediction(20, 10, 30))
    # 20 25 28 met; the predicted top, 30, met too: double 60 120 240, then bisect 240 down.
    assert sim.calls[:7] == [20, 25, 28, 30, 60, 120, 240]
    assert (knees["p95"].users, knees["p95"].bad_users) == (120, 128)
    sim = ClosedLoop()
    knees, _ = search_all(sim, 10, 640, prediction=Prediction(400, 300, 500))
    # 400 broken, bisection down to the predicted bottom 300: broken too, so halve the bracket
    # to 150..300, bisect down to 150: broken, halve to 75..150, then bisect to 112..131.
    assert sim.calls == [400, 350, 325, 300, 225, 188, 169, 160, 150, 112, 131, 122, 122, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (122, 131)


def test_above_a_good_top_the_search_grows_by_littles_law_not_by_doubling():
    # A predicted top that proved good: Little's law on its own measurement says how far the
    # knee is. At 110 users ClosedLoop (35 iterations/s, 1.5 s wait) spends 110 / 35 - 1.5 =
    # 1.643 s per iteration, its p95 794 ms; scaled to 1 s: 35 x (1.5 + 1.643 / 0.794) = 124.9.
    assert extrapolate_users(110, 794.3, 35, 1.5, 1000) == 125
    assert extrapolate_users(30, 29, 35, 1.5, 1000) is None  # 30 / 35 < 1.5: no queue there

    def grow(probe):
        return extrapolate_users(probe.users, probe.p95_ms, 35, 1.5, 1000)

    sim = ClosedLoop()
    knees, probes = search_all(sim, 10, 640, prediction=Prediction(100, 50, 110), grow_p95=grow)
    # 100 and 110 met; 124 from 110's measurement: met; 137 from 124's: broken; 124 confirmed.
    assert sim.calls == [100, 110, 124, 137, 124, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (124, 137)
    # Doubling instead: 220, then three bisections back down to the same knee.
    doubling = ClosedLoop()
    knees, _ = search_all(doubling, 10, 640, prediction=Prediction(100, 50, 110))
    assert doubling.calls == [100, 110, 220, 165, 138, 124, 124, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (124, 138)
    # Where the stack does not queue yet (30 users), it doubles: 60; from there, Little's law.
    sim = ClosedLoop()
    knees, _ = search_all(sim, 10, 640, prediction=Prediction(20, 10, 30), grow_p95=grow)
    assert sim.calls == [20, 25, 28, 30, 60, 120, 133, 120, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (120, 133)


def _backlog_server(**kwargs):
    """uvicorn-like: 24 iterations/s; above 100 users the latency keeps growing through the
    window (0.6x at its start, 1.4x at its end); above 270 users requests fail (2 %), but only
    once a backlog has built up: from 15 s x 270 / users into the window, so at 280 users only in
    its last 5.5 s. Nothing early in a probe shows the failures to come."""

    def backlog(users, t):
        return 1.0 if users <= 100 else 0.6 + 0.04 * t

    def fail(users, t):
        return 0.02 if users > 270 and t > 15 * 270 / users else 0.0

    return ClosedLoop(rate=24, backlog=backlog, fail=fail, **kwargs)


def test_a_server_that_fails_only_after_a_backlog_builds():
    sim = _backlog_server()
    knees, probes = search_all(sim, 10, 640, prediction=_predicted(sim))
    # no failures: the top, then bisection from the largest count that saw none (86, met by
    # p95 early, so not yet settled for failures) up; at most 1 %: from 388 up.
    assert sim.calls == [86, 56, 71, 78, 78,  # p95, as for the server above
                         640, 235, 388, 312, 274, 254, 254,
                         514, 451, 420, 420, 388]  # fmt: skip
    assert (knees["failures_0"].users, knees["failures_0"].bad_users) == (254, 274)
    assert knees["failures_0"].resolution == 27
    # 1 % of requests fail at about 380 users: 2 % in the last part of the window only
    assert (knees["failures_1"].users, knees["failures_1"].bad_users) == (388, 420)
    assert (knees["p95"].users, knees["p95"].bad_users) == (78, 86)
    # "No failures" is never met early: failures come late.
    assert all(p.early.get("failures_0") is not True for p in probes)
    # The sequential test called 420 met after half its window, before most of its failures
    # came (from 9.6 s on); its confirmation, run to its end, broke it (1.05 %), so the knee is
    # the count that held up twice (388: 0.13 % early, then 0.98 % in full).
    assert [p.users for p in probes if p.early.get("failures_1") and p.users > 300] == [
        388,
        312,
        420,
    ]
    confirmations = [p for p in probes[-2:] if not p.stopped_early]
    assert [(p.users, round(p.failure_pct, 2)) for p in confirmations] == [(420, 1.05), (388, 0.98)]


@pytest.mark.parametrize("seed", range(10))
def test_noisy_server_two_searches_in_a_row_agree_within_a_resolution_step(seed):
    # 5 % run-to-run variation of latency and 20 % jitter per request, seeded.
    runs = []
    for repeat in range(2):
        sim = _backlog_server(noise=0.05, seed=f"{seed}-{repeat}")
        knees, probes = search_all(sim, 10, 640, prediction=_predicted(sim))
        runs.append(knees)
        assert len(probes) <= 20
    for name in ("failures_0", "failures_1", "p95"):
        a, b = runs[0][name], runs[1][name]
        assert a.bounded and b.bounded
        assert abs(a.users - b.users) <= max(a.resolution, b.resolution)
    # The true failure knee is 270 users; each search brackets it to its resolution.
    for knees in runs:
        k = knees["failures_0"]
        assert k.users <= 270 < k.bad_users + k.resolution


def test_progress_follow_ends_when_stop_says_so(tmp_path, capsys):
    # The hook the runners call: stop(run_dir) at every poll; True ends the following at once,
    # with Locust still running (its caller stops it), and follow says so.
    from types import SimpleNamespace

    from djbench.load import progress

    cfg = SimpleNamespace(users=(10,), hold_s=60.0, planned_s=60.0, first_step=1)
    asked = []

    def stop(run_dir):
        asked.append(run_dir)
        return len(asked) == 3

    stopped = progress.follow(tmp_path, cfg, lambda: True, lambda: None, 600, stop=stop)
    assert stopped is True and asked == [tmp_path] * 3
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["step 1/1: 10 users for 60 s (about 60 s left)"]
    done = progress.follow(tmp_path, cfg, lambda: False, lambda: None, 600)
    assert done is False


def test_a_probe_is_watched_through_its_growing_request_log(tmp_path):
    # The runner's stop(run_dir): whole lines only, each read once, the window after ramp-up
    # and warm-up (counted from the first request), asked of stop_early as a Snapshot.
    from djbench import config
    from djbench.search.probes import Watcher

    probe_cfg = config.build("gunicorn", "knee", users=(10,), hold_s=30, warmup_s=5)
    seen, now = [], [106.0]
    watcher = Watcher(
        probe_cfg, 20.0, lambda snap: seen.append(snap) or snap.failures > 0, lambda: now[0]
    )
    log = tmp_path / "requests-h-1.csv"
    log.write_text(
        "ts,name,method,status,ok,cause,response_time_ms,iteration\n"
        "100.0,index,GET,200,1,,5.0,0\n105.1,detail,GET,200,1,,7.0,1\n106.0,vo"
    )
    assert watcher(tmp_path) is False  # 10 users at 50/s: ramp 0.2 s + warm-up 5 s -> 105.2
    assert seen == []  # nothing in the window yet; the half line is not read
    with open(log, "a") as f:
        f.write("te,POST,302,1,,9.0,1\n107.2,results,GET,500,0,http_500,11.0,1\n")
    assert watcher(tmp_path) is True
    assert seen[-1].times_ms == (9.0, 11.0) and seen[-1].failures == 1
    assert seen[-1].elapsed_s == pytest.approx(2.0) and seen[-1].planned_s == 20.0
    assert watcher.snapshot is seen[-1]
    # Within the window's last 3 s it no longer stops a probe: Locust is about to end it, and a
    # stop signal during its own shutdown would kill it.
    now[0] = 105.2 + 17.1
    assert watcher(tmp_path) is False and len(seen) == 1


def test_failed_confirmations_step_down_no_further_than_the_predicted_bottom():
    # Up to 60 users always fine; 100 (the guess) passes only the first time; the rest breaks.
    seen = Counter()

    def lucky_guess(users, stop_early=None):
        seen[users] += 1
        good = users <= 60 or (users == 100 and seen[users] == 1)
        return Probe(users, 0.0, 500.0 if good else 1500.0)

    measure, calls = counting(lucky_guess)
    knee = search(measure, "p95", start=10, max_users=640, guess=100, low=60, high=110)
    # 100 met, the predicted top 110 broken; confirming 100 fails: a step below (10), 90,
    # broken; twice as far, 70, broken; 40 below would pass the predicted bottom: 60, met;
    # 60..70 bisected: 65 broken; 60 confirmed.
    assert calls == [100, 110, 100, 90, 70, 60, 65, 60]
    assert (knee.users, knee.bad_users, knee.resolution) == (60, 65, 6)
