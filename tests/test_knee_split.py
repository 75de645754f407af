"""Where the knee search measures next inside a bracket: after a failed confirmation, and
where Little's law puts the p95 knee (simulated servers, tests/knee_sim.py)."""

from collections import Counter

from djbench.search.knee import Prediction, Probe, extrapolate_users, search, search_all
from tests.knee_sim import ClosedLoop


def _passes_once(knee_users, lucky):
    """Fails (3 %) above knee_users, except `lucky`, which passes the first time it is measured."""
    seen, calls = Counter(), []

    def measure(users, stop_early=None):
        calls.append(users)
        seen[users] += 1
        good = users <= knee_users or (users == lucky and seen[users] == 1)
        return Probe(users, 0.0 if good else 3.0, 5000.0)

    return measure, calls


def test_a_failed_confirmation_steps_down_to_where_the_knee_most_likely_is():
    # As on the real stack (uvicorn: 309 users 0 % failed, then 0.5 % when confirmed; the knee
    # 286): the failure knee at 290 users; 300, the guess, passes only the first time. A count
    # far below (150, good for the p95 search) was known; bisecting up from it measured 225,
    # 262 and 281 before confirming 281.
    measure, calls = _passes_once(290, lucky=300)
    cache = {150: [Probe(150, 0.0, 800.0)]}
    knee = search(measure, "failures_0", start=10, max_users=640, cache=cache, guess=300,
                  high=400)  # fmt: skip
    # 300 met; 350 and 325 broken; confirming 300 fails: one step (30) below it, 270, met and
    # confirmed.
    assert calls == [300, 350, 325, 300, 270, 270]
    assert (knee.users, knee.bad_users, knee.resolution) == (270, 300, 30)


def test_stepping_down_doubles_its_step_to_the_predicted_bottom():
    # The failure knee at 290 users, 1.6 steps below 341 (the guess, lucky once).
    measure, calls = _passes_once(290, lucky=341)
    cache = {75: [Probe(75, 0.0, 800.0)]}
    knee = search(measure, "failures_0", start=10, max_users=640, cache=cache, guess=341,
                  low=239, high=477)  # fmt: skip
    # 341 met; 409 and 375 broken; confirming 341 fails: a step below (34), 307, broken; twice
    # as far is the predicted bottom, 239: met; 239..307 bisected: 273 and 290 met, 290
    # confirmed.
    assert calls == [341, 409, 375, 341, 307, 239, 273, 290, 290]
    assert (knee.users, knee.bad_users) == (290, 307)


def test_inside_a_bracket_the_p95_search_splits_where_littles_law_puts_the_knee():
    # ClosedLoop's p95 knee: 1.45 x the mean reaches 1 s at 35 x (1.5 + 3 x 0.690) = 124.9
    # users. The guess, 139, is broken (p95 1203 ms): Little's law on it says 35 x (1.5 +
    # (139 / 35 - 1.5) x 1000 / 1203) = 124.4; kept within the bracket's middle half
    # (51..139: 73..117), 117 is measured first.
    def grow(probe):
        return extrapolate_users(probe.users, probe.p95_ms, 35, 1.5, 1000)

    prediction = Prediction(139, 51, 154)
    sim = ClosedLoop()
    knees, _ = search_all(sim, 10, 640, prediction=prediction, grow_p95=grow)
    # 117 met; both ends say 124 (within 122..134): met; 124..139 spans 15 > 13.9: 127
    # (124 + a quarter) broken; 124 confirmed, a resolution step from the true knee.
    assert sim.calls == [139, 117, 124, 127, 124, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (124, 127)
    # Bisection by the middle instead: one probe more, and a knee 6 users lower.
    middle = ClosedLoop()
    knees, _ = search_all(middle, 10, 640, prediction=prediction)
    assert middle.calls == [139, 84, 112, 126, 119, 119, 640]
    assert (knees["p95"].users, knees["p95"].bad_users) == (119, 126)


def test_estimates_proved_wrong_no_longer_decide_the_split():
    # As uvicorn on the real stack (p95 knee near 125 users; 136 broken, then 99 to 124 in five
    # probes): Little's law on each probe put the knee just above that probe, far below the
    # knee, and each split kept to the bracket's middle half shrank it by a quarter only.
    calls = []

    def measure(users, stop_early=None):
        calls.append(users)
        return Probe(users, 0.0, 500.0 if users <= 125 else 1500.0)

    def biased(probe):
        return probe.users + 3 if probe.p95_ms <= 1000 else 103

    knee = search(measure, "p95", start=10, max_users=640, guess=136, low=99, high=179,
                  grow=biased)  # fmt: skip
    # 136 broken; its estimate, 103, kept to the middle half of 99..136: 108, met, above the
    # estimate: estimates no longer trusted; then the middle, 122, met; 122..136 is within 14
    # users (10 %): 122 confirmed (before: 115, 120 and 124 aimed at the bottom, two probes
    # more).
    assert calls == [136, 108, 122, 122]
    assert (knee.users, knee.bad_users) == (122, 136)
