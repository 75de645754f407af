"""When a probe's verdict is settled: hand-computed ranks and likelihood ratios, and the
sequential test's error rates on simulated probes."""

import math

import numpy as np

from djbench.search.early_stop import (
    ALPHA,
    BETA,
    MIN_REQUESTS,
    P0,
    P1,
    Snapshot,
    can_stop,
    p95_interval,
    sprt,
    verdict,
)


def test_p95_interval_ranks_by_hand():
    # n = 400: 0.95 n = 380, 3.29 * sqrt(400 * 0.95 * 0.05) = 14.34 -> ranks 365 and 395
    times = list(range(1, 401))  # the k-th smallest is k
    assert p95_interval(times) == (365, 395)
    assert p95_interval(list(reversed(times))) == (365, 395)  # order of arrival does not matter
    # n = 100: ranks 95 -/+ 7.17 -> 87 and 103 > n: too few requests to bound it
    assert p95_interval(list(range(100))) is None
    assert p95_interval([]) is None


def _snap(times, failures=0, elapsed=10.0, planned=20.0, late=False):
    """The failures are the first requests (late: the last ones)."""
    failed = [i < failures for i in range(len(times))]
    return Snapshot(
        tuple(times), failures, elapsed, planned, (), tuple(failed[::-1] if late else failed)
    )


def test_one_failure_settles_no_failures_at_once():
    snap = _snap([10.0] * 5, failures=1, elapsed=0.5)
    assert verdict("failures_0", snap, 1000) is False
    assert verdict("failures_0", _snap([10.0] * 500), 1000) is None  # coping is never early
    assert verdict("failures_1", snap, 1000) is None  # 1 of 5 requests: too few to project


def test_one_percent_is_decided_by_the_sequential_test_by_hand():
    # log(P1 / P0) = log 4 = 1.3863 a failure, log(0.98 / 0.995) = -0.01519 a success; the
    # thresholds are log(1 / 0.05) = 2.9957 (broken) and log(0.05) = -2.9957 (met).
    # 2 of 400: 2.7726 - 398 x 0.01519 = -3.273: met (10 s of 20: half the time, as "met" needs)
    assert verdict("failures_1", _snap([10.0] * 400, failures=2), 1000) is True
    assert verdict("failures_1", _snap([10.0] * 400, failures=2, elapsed=9.0), 1000) is None
    # 3 of 400: -1.872; 6: 2.333: neither; 7: 3.734: broken, however early
    assert verdict("failures_1", _snap([10.0] * 400, failures=3), 1000) is None
    assert verdict("failures_1", _snap([10.0] * 400, failures=6), 1000) is None
    assert verdict("failures_1", _snap([10.0] * 400, failures=7, elapsed=1.0), 1000) is False
    # The same 2 of 400 in the latest half: 2 of 200 there, -0.235: not met yet
    assert verdict("failures_1", _snap([10.0] * 400, failures=2, late=True), 1000) is None
    # No failure: met from 198 requests (197 x 0.01519 = 2.992), but not on fewer than 200
    assert sprt(0, 197) is None and sprt(0, 198) is True
    assert verdict("failures_1", _snap([10.0] * (MIN_REQUESTS - 1)), 1000) is None
    assert verdict("failures_1", _snap([10.0] * 394), 1000) is None  # latest half: 198 needed
    assert verdict("failures_1", _snap([10.0] * 396), 1000) is True


def _error_rates(p, runs=2000, requests=4000, look_every=50, seed=7):
    """Share of simulated probes (Bernoulli(p) failures, looked at every `look_every` requests
    as the half-second polls do) that the test called broken, met, or left undecided."""
    rng = np.random.default_rng(seed)
    fails = np.cumsum(rng.random((runs, requests)) < p, axis=1)
    decided = {True: 0, False: 0, None: 0}
    for row in fails:
        verdict_ = None
        for n in range(look_every, requests + 1, look_every):
            verdict_ = sprt(int(row[n - 1]), n)
            if verdict_ is not None:
                break
        decided[verdict_] += 1
    return {k: v / runs for k, v in decided.items()}


def test_the_sequential_tests_error_rates_hold_on_simulated_probes():
    # At p0 = 0.5 % it may call "broken" at most ALPHA of the time, at p1 = 2 % "met" at most
    # BETA, plus three standard errors of 2,000 runs (0.015). Ville's inequality bounds both for
    # any schedule of looks; the Wald approximation ALPHA / (1 - BETA) = 0.053 would too.
    margin = 3 * math.sqrt(0.05 * 0.95 / 2000)
    at_p0, at_p1 = _error_rates(P0), _error_rates(P1)
    assert at_p0[False] <= ALPHA + margin and at_p1[True] <= BETA + margin
    # Nearly every probe is decided within 4,000 requests (20 s at 200 requests/s), and the
    # right way; at 1 %, in the indifference zone, either verdict is fine.
    assert at_p0[True] >= 0.9 and at_p1[False] >= 0.9
    # Not vacuous: at p0 some runs are called broken (the bound above is what is tested).
    assert at_p0[False] > 0.005


def test_p95_settled_either_way_only_with_enough_time_and_requests():
    # 500: the latest half alone (250) has enough requests for an interval; 400 would not (200)
    fast, slow = [100.0] * 500, [2000.0] * 500
    assert verdict("p95", _snap(fast[:400], elapsed=10.0), 1000) is None
    assert verdict("p95", _snap(fast, elapsed=10.0), 1000) is True  # half the time
    assert verdict("p95", _snap(fast, elapsed=9.0), 1000) is None  # "met" needs half
    assert verdict("p95", _snap(slow, elapsed=5.0), 1000) is False  # "broken": a quarter
    assert verdict("p95", _snap(slow, elapsed=4.0), 1000) is None
    assert verdict("p95", _snap(slow[: MIN_REQUESTS - 1], elapsed=10.0), 1000) is None


def test_p95_waits_while_the_latest_requests_disagree():
    # A backlog building: the first 300 fast, the latest 300 slow. All 600 together and the
    # latest half alone have their p95 interval wholly above 1 s: "broken" is settled. The
    # reverse (slow, then fast: a recovery) is settled neither way: the whole is slow, the
    # latest half fast.
    building = [100.0] * 300 + [3000.0] * 300
    assert verdict("p95", _snap(building), 1000) is False
    recovering = [3000.0] * 300 + [100.0] * 300
    assert verdict("p95", _snap(recovering), 1000) is None
    # Fast overall but the latest half slow at its tail: not settled as met.
    late = [100.0] * 570 + [3000.0] * 30  # 5 % slow overall: the interval straddles 1 s
    assert verdict("p95", _snap(late), 1000) is None


def test_can_stop_needs_every_objective_and_a_confirmation_only_stops_broken():
    snap = _snap([100.0] * 500, failures=4)  # 1 % test: 5.545 - 496 x 0.01519 = -1.99: open
    assert can_stop(("p95",), snap, 1000) is True
    assert can_stop(("p95", "failures_0"), snap, 1000) is True
    assert can_stop(("p95", "failures_1"), snap, 1000) is False
    assert can_stop(("p95",), snap, 1000, met=False) is False  # met: run the confirmation out
    assert can_stop(("failures_0",), snap, 1000, met=False) is True
