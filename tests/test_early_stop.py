"""When a probe's verdict is settled: hand-computed ranks and projections."""

from djbench.search.early_stop import MIN_REQUESTS, Snapshot, can_stop, p95_interval, verdict


def test_p95_interval_ranks_by_hand():
    # n = 400: 0.95 n = 380, 3.29 * sqrt(400 * 0.95 * 0.05) = 14.34 -> ranks 365 and 395
    times = list(range(1, 401))  # the k-th smallest is k
    assert p95_interval(times) == (365, 395)
    assert p95_interval(list(reversed(times))) == (365, 395)  # order of arrival does not matter
    # n = 100: ranks 95 -/+ 7.17 -> 87 and 103 > n: too few requests to bound it
    assert p95_interval(list(range(100))) is None
    assert p95_interval([]) is None


def _snap(times, failures=0, elapsed=10.0, planned=20.0):
    return Snapshot(tuple(times), failures, elapsed, planned)


def test_one_failure_settles_no_failures_at_once():
    snap = _snap([10.0] * 5, failures=1, elapsed=0.5)
    assert verdict("failures_0", snap, 1000) is False
    assert verdict("failures_0", _snap([10.0] * 500), 1000) is None  # coping is never early
    assert verdict("failures_1", snap, 1000) is None  # 1 of 5 requests: too few to project


def test_one_percent_is_broken_once_the_failures_exceed_every_request_still_to_come():
    # 400 requests in 10 s of 20: about 800 by the end, x 1.25 margin = 1000 -> 1 % is 10
    assert verdict("failures_1", _snap([10.0] * 400, failures=10), 1000) is None
    assert verdict("failures_1", _snap([10.0] * 400, failures=11), 1000) is False


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
    snap = _snap([100.0] * 500, failures=1)
    assert can_stop(("p95",), snap, 1000) is True
    assert can_stop(("p95", "failures_0"), snap, 1000) is True
    assert can_stop(("p95", "failures_1"), snap, 1000) is False
    assert can_stop(("p95",), snap, 1000, met=False) is False  # met: run the confirmation out
    assert can_stop(("failures_0",), snap, 1000, met=False) is True
