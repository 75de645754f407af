"""The knee search on simulated servers: functions of users -> (failure %, p95)."""

import math
import random

import pytest

from harness.knee import Probe, search, search_all


def server(knee_users, p95_knee_users=None):
    """Fails linearly above knee_users; p95 crosses 1000 ms at p95_knee_users."""
    p95_knee_users = p95_knee_users or knee_users

    def measure(users):
        failures = max(0.0, (users - knee_users) * 0.5)
        return Probe(users, failures, 1000.0 * users / p95_knee_users)

    return measure


def counting(measure):
    calls = []

    def wrapped(users):
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

    def flaky(users):
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

    def fragile(users):
        seen[users] = seen.get(users, 0) + 1
        return Probe(users, 0.0 if users <= 200 or seen[users] == 1 else 5.0, 10.0)

    measure, calls = counting(fragile)
    knee = search(measure, "failures_0", start=100, max_users=400)
    # Doubling 100 200 400 (all pass once: never broke) -> unbounded, no confirmation.
    assert (knee.users, knee.bad_users) == (400, None) and calls == [100, 200, 400]
    seen.clear()
    table = {100: 0.0, 200: 0.0, 400: 9.0}

    def fragile_then_bad(users):
        seen[users] = seen.get(users, 0) + 1
        if users in table:
            return Probe(users, table[users], 10.0)
        return Probe(users, 0.0 if users <= 200 or seen[users] == 1 else 5.0, 10.0)

    measure, calls = counting(fragile_then_bad)
    knee = search(measure, "failures_0", start=100, max_users=1000)
    # 100 200 400 (bad); resolution 40; bisection 300 350 375 (each passes once); confirm 375:
    # fails -> below it 350, within 40: confirm 350: fails -> below 300, 50 apart: bisect 325,
    # confirm 325: fails -> confirm 300: fails -> below 200: bisect 250, 275; confirm 275 and 250:
    # fail -> 200..250: bisect 225, confirm 225: fails -> confirm 200: passes.
    assert calls == [100, 200, 400, 300, 350, 375, 375, 350, 325, 325, 300, 250, 275, 275,
                     250, 225, 225, 200]  # fmt: skip
    assert (knee.users, knee.bad_users, knee.resolution) == (200, 225, 40)


def test_objectives_share_probes_and_differ():
    measure, calls = counting(server(knee_users=300, p95_knee_users=100))
    knees, probes = search_all(measure, start=10, max_users=5000)
    assert len(calls) == len(probes)
    # Each count measured once, the knees a second time to confirm them: 300 (no failures)
    # and 100 (p95) are each the knee of an objective; 302 that of the 1 % one.
    twice = {u for u in calls if calls.count(u) == 2}
    assert max(calls.count(u) for u in calls) <= 2
    assert twice == {knees[o].users for o in knees}
    assert knees["failures_0"].users == 300
    assert 300 <= knees["failures_1"].users < knees["failures_1"].bad_users
    # exactly 1 % failures at 302 users, 1.5 % at 303
    assert knees["failures_1"].users <= 302 < knees["failures_1"].bad_users
    assert knees["p95"].users <= 100 < knees["p95"].bad_users


def test_never_breaks_and_broken_from_the_start():
    never = search(server(10_000), "failures_0", start=10, max_users=100)
    assert (never.users, never.bad_users, never.bounded) == (80, None, False)
    broken = search(server(5), "failures_0", start=10, max_users=100)
    assert (broken.users, broken.bad_users, broken.bounded) == (None, 10, False)


def test_no_requests_counts_as_broken():
    knee = search(lambda u: Probe(u, math.nan, math.nan), "p95", start=10, max_users=100)
    assert knee.users is None


def test_noisy_server_lands_within_the_resolution():
    for seed in range(20):
        rng = random.Random(seed)

        def noisy(users, rng=rng):
            p95 = 1000.0 * users / 400 * (1 + rng.uniform(-0.03, 0.03))
            return Probe(users, 0.0, p95)

        knee = search(noisy, "p95", start=25, max_users=5000)
        # 3 % noise moves the true crossing to 388..412 users
        assert knee.users - knee.resolution <= 412 and knee.bad_users + knee.resolution >= 388


def test_non_monotonic_server_gives_a_good_count_below_a_bad_one():
    # Breaks at 160 users, recovers at 200 (e.g. a lucky step), breaks for good above 240.
    table = {10: 0, 20: 0, 40: 0, 80: 0, 160: 5.0}

    def odd(users):
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
    from harness.knee import Knee, scaled_steps

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


def test_scale_auto_rewrites_every_configuration(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    from harness import cli, config

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
    searched = []
    monkeypatch.setattr(cli, "_knee_all", lambda cfgs, args: searched.extend(cfgs) or [knee_dir])
    cfgs = [config.build(s, profile="article", workers=3) for s in ("uvicorn", "gunicorn")]
    args = SimpleNamespace(users=None, start=10)
    scaled = cli._auto_scale(cfgs, args)
    assert [c.server for c in searched] == ["gunicorn"]  # the WSGI server's knee
    assert searched[0].profile == "knee"
    assert [c.users for c in scaled] == [(30, 60, 90, 120, 150, 180, 210)] * 2
    assert all("steps of 30 users" in c.scale and knee_dir.name in c.scale for c in scaled)
