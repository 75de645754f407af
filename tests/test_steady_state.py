"""MSER-5 truncation (djbench/search/steady_state.py): hand-computed scores, and probes of
simulated servers (tests/knee_sim.py) with a known transient after their ramp-up."""

import random

from djbench.search import steady_state
from djbench.search.knee import search
from djbench.search.steady_state import mser, truncate
from tests.knee_sim import ClosedLoop


def _batches(means):
    """Observations whose batches of five have these means (each value five times)."""
    return [float(m) for m in means for _ in range(5)]


def test_mser5_truncation_by_hand():
    # Batch means 8, 4, then 0, 2 alternating (12 batches). MSER(d) = spread / (12 - d)^2:
    # d=0: 22 in all, squares 100 -> (100 - 22^2 / 12) / 144 = 0.414
    # d=1: 14, 36 -> (36 - 196 / 11) / 121 = 0.150
    # d=2: 10, 20 -> (20 - 100 / 10) / 100 = 0.100   <- the least
    # d=3: 10, 20 -> (20 - 100 / 9) / 81 = 0.110; d=4: 8, 16 -> 8 / 64 = 0.125; and up from there
    values = _batches([8, 4, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2])
    assert mser(values) == (10, True)  # two batches of five: 10 observations cut
    # A series that rises throughout never settles: the tail of n equally spaced batch means
    # scores 25 (n^2 - 1) / 12 n, least for the fewest batches the first half leaves (d = 6 of
    # 12 batches: the end of the half, where the score was still falling).
    assert mser([float(i) for i in range(60)]) == (30, False)
    # Too short for ten batches: nothing cut.
    assert mser([5.0] * 49) == (0, True)


def test_truncation_is_searched_in_the_first_half_only():
    # One batch of failures at batches 8 (of 12), none after: over the whole series the rule
    # would cut past it (a tail of zeros scores 0); searched in the first half, the score
    # (1 - 1/n) / n^2 is least with nothing cut.
    assert mser([0.0] * 35 + [1.0] * 5 + [0.0] * 20) == (0, True)
    # A burst at the start is the transient: cut with it.
    assert mser([1.0] * 10 + [0.0] * 50) == (10, True)


def _noise(n, phi, seed):
    """800 ms plus an AR(1) noise (phi: how slowly it wanders), seeded: no transient at all."""
    rng, x, out = random.Random(seed), 0.0, []
    for _ in range(n):
        x = phi * x + rng.gauss(0, 1)
        out.append(800 + 100 * x)
    return out


def test_a_series_without_a_transient_is_settled():
    # 2,000 requests of stationary noise, independent (phi 0) or wandering in slow waves as the
    # real stack's latency does near a knee (phi 0.9). Over the whole series, the last batches
    # that happen to agree scored near 0: the unrestricted rule called 6 (phi 0) and 11 (phi
    # 0.9) of these 50 series unsettled, with their minimum in the last tenth.
    for phi in (0.0, 0.9):
        cuts = [mser(_noise(2000, phi, seed)) for seed in range(50)]
        assert all(settled for _, settled in cuts), phi
        assert max(d for d, _ in cuts) < 1000


def test_truncate_takes_the_later_of_latency_and_failures():
    times = _batches([8, 4, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2])
    failed = [True] * 15 + [False] * 45  # a burst over the first three batches
    cut = truncate(times, failed)
    assert (cut.latency_start, cut.failures_start, cut.start, cut.settled) == (10, 15, 15, True)
    rising = truncate([float(i) for i in range(60)], [False] * 60)
    # The latency did not settle: it moves the window no further, and says so.
    assert (rising.start, rising.unsettled) == (0, ("latency",))


def test_nearest_rank():
    assert steady_state.nearest_rank(list(range(1, 21)), 0.95) == 19  # ceil(0.95 x 20) = 19
    assert steady_state.nearest_rank([5.0], 0.95) == 5.0


def _transient(users, t):
    return 3.0 if t <= 2.0 else 1.0  # latency three times its steady value for 2 s


def test_a_probe_is_measured_after_its_known_transient():
    # ClosedLoop at 103 users completes 105 requests/s, 52 a poll; the first four polls (2 s,
    # 208 requests) are three times slower (mean 1443 ms against 481). Over the whole window
    # 10 % of requests would sit above 1 s: p95 broken. MSER-5 cuts the transient: 208 requests
    # end inside the batch 205..209, and the cut lands one batch past it (the simulator's
    # first requests of each poll are its fastest), at 215, 2.07 s.
    sim = ClosedLoop(backlog=_transient)
    probe = sim(103, lambda snapshot: False)
    assert (probe.truncated_requests, probe.truncation_s, probe.unsettled) == (215, 2.07, ())
    assert probe.measured_s == 17.93
    steady = ClosedLoop()(103, lambda snapshot: False)
    assert probe.p95_ms == steady.p95_ms < 1000  # what the steady window measures, exactly
    assert steady.truncated_requests == 5
    knee = search(ClosedLoop(backlog=_transient), "p95", start=103, max_users=103)
    assert (knee.users, knee.bad_users) == (103, None)  # met, as without the transient


def test_a_probe_that_never_settles_is_no_evidence_and_twice_is_broken():
    # Latency rising all through the window (x1 to x3), with little spread around its trend
    # (0.9 to 1.1 times it): MSER-5 finds no end to the transient. (With the default spread,
    # 0.5 to 1.5 times a rising mean, the later requests' wider spread outweighs the trend and
    # the rule cuts 20 requests: it measures variance, not drift.)
    sim = ClosedLoop(backlog=lambda users, t: 1 + t / 10, spread=0.2)
    probe = sim(60, lambda snapshot: False)
    assert probe.unsettled == ("latency",)
    # The search measures the count again rather than judge it; unsettled twice, it is broken
    # for p95 (still moving: not coping) while its failures (none) settled as met.
    calls = []
    counted = lambda users, stop: calls.append(users) or sim(users, stop)  # noqa: E731
    knee = search(counted, "p95", start=60, max_users=60)
    assert calls == [60, 60] and (knee.users, knee.bad_users) == (None, 60)
    assert search(sim, "failures_0", start=60, max_users=60).users == 60


def test_a_finished_probe_is_measured_from_its_steady_state(tmp_path):
    # The real stack's reading of a probe run (search/probes.py steady_probe): ramp-up from
    # 100 s to 104 s, window to 124 s. 3 requests fail during the ramp-up (not counted); after
    # it, 100 requests of 500 ms, the first two failing, then 400 of 100 ms, one every 0.04 s.
    # MSER-5 cuts the latency at request 100 (the rest has no spread: the least score) and the
    # failures at 5 (their batch); the window opens after request 99, 3.96 s into the window.
    from djbench.search.probes import steady_probe

    (tmp_path / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete,target_iter_s\n1,50,100,104,124,1,\n"
    )
    rows = ["ts,name,method,status,ok,cause,response_time_ms,iteration"]
    rows += [f"{100 + i:.3f},index,GET,500,0,http_500,50.0,{i}" for i in range(3)]
    for i in range(500):
        ok = 0 if i < 2 else 1
        rows.append(f"{104 + i * 0.04:.3f},detail,GET,200,{ok},,{500.0 if i < 100 else 100.0},1")
    (tmp_path / "requests-h-1.csv").write_text("\n".join(rows) + "\n")
    window, cut, steady = steady_probe(tmp_path, 20.0)
    assert (cut.latency_start, cut.failures_start, cut.start) == (100, 5, 100)
    assert steady == {
        "failure_pct": 0.0, "p95_ms": 100.0, "requests": 400, "measured_s": 16.04,
        "unsettled": (), "truncation_s": 3.96, "truncated_requests": 100, "ramp_failures": 3,
        "transient_failures": 2,
    }  # fmt: skip
    assert window.requests == 400 and window.failures == 0
