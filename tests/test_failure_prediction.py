"""The failure knees predicted from PostgreSQL's connection limit (knee.predict_failures, and
the real stack's reading of a saturation probe, probes._predict_failures), on ClosedLoop servers
whose requests fail once their connections peak past the limit (tests/knee_sim.py)."""

from types import SimpleNamespace

from djbench.search.knee import Prediction, predict_failures, search_all
from djbench.search.probes import _predict_failures
from tests.knee_sim import ClosedLoop


def test_failure_prediction_by_hand():
    # 45 iterations/s with a 1.5 s wait keep 67.5 users waiting; 0.45 connections per request
    # in flight, peaks 1.333 times the mean, 199 connections for the app:
    # guess 67.5 + 199 / (0.45 x 1.333) = 399.2; low (peaks twice the mean) 67.5 + 199 / 0.9 =
    # 288.6; high (the mean at the limit) 67.5 + 199 / 0.45 = 509.7
    assert predict_failures(45, 1.5, 0.45, 4 / 3, 199) == Prediction(399, 289, 510)
    # Peaks of 1.6 times the mean: low has them 1.5 times as far out, 2.4
    assert predict_failures(45, 1.5, 0.45, 1.6, 199).low == round(67.5 + 199 / (0.45 * 2.4))
    # gunicorn-like: 2.4 connections for 20 in flight (its 5 workers hold at most 5): far past
    # any range searched
    assert predict_failures(58, 1.5, 0.12, 1.6, 199).guess == 1123
    assert predict_failures(45, 1.5, 0.0, 1.5, 199) is None


def _sim(**kwargs):
    """uvicorn-like: 24 iterations/s; 0.45 connections per request in flight, peaking 1.5 times
    their mean; 199 of them. 24 x 1.5 = 36 users wait, so the peak reaches 199 where
    1.5 x 0.45 x (N - 36) = 199: N = 330.8. Below that nothing fails, above it 3 %."""
    return ClosedLoop(rate=24, max_connections=199, **kwargs)


def _predicted(sim, peak_ratio=None):
    saturation = {**sim.saturation(), "connection_limit": 199}
    if peak_ratio is not None:  # what a saturation probe that saw other peaks would predict
        saturation["pg_total_max"] = peak_ratio * saturation["pg_total_mean"]
    cfg = SimpleNamespace(load_model="closed", mean_wait_s=sim.wait_s)
    return _predict_failures(cfg, {**saturation, "in_flight_mean": saturation["in_flight_mean"]})


def _failure_probes(sim, prediction):
    knees, probes = search_all(sim, 10, 640, failure_prediction=prediction)
    p95_probes = len(search_all(type(sim)(rate=24), 10, 640)[1]) - 1  # its own, and the top
    return knees, len(probes) - p95_probes


def test_the_failure_knees_are_searched_from_the_prediction():
    sim = _sim()
    # The saturation probe (20 users, no wait) has 20 in flight holding 9 connections, peaks
    # 13.5: guess 36 + 199 / (0.45 x 1.5) = 330.8; low 36 + 199 / (0.45 x 2.25) = 232.5
    assert _predicted(sim) == Prediction(331, 233, 478)
    knees, measured = _failure_probes(sim, _predicted(sim))
    # 331 broken (3 %), 282 and 306 met, 306 confirmed: 306..331 is within 10 % of 331.
    assert sim.calls[-4:] == [331, 282, 306, 306]
    for name in ("failures_0", "failures_1"):
        assert (knees[name].users, knees[name].bad_users) == (306, 331)
    # From the top of the range instead: more probes, and of more users, to the same bracket.
    unpredicted = _sim()
    knees_top, measured_top = _failure_probes(unpredicted, None)
    assert knees_top["failures_0"].users <= 330 < knees_top["failures_0"].bad_users
    assert measured == 4 < measured_top


def test_a_prediction_that_misses_is_corrected_by_measuring_its_bracket():
    # The saturation probe saw peaks of 1.5 times the mean, but at load they reach 1.1 (the
    # knee at 36 + 199 / (0.45 x 1.1) = 438, above the guess) or 2.5 (212.9, below the
    # predicted bottom, 233).
    cost = {}
    for true_peak in (1.1, 2.5):
        sim = _sim(peak_ratio=true_peak)
        knees, measured = _failure_probes(sim, _predicted(sim, peak_ratio=1.5))
        knee = 36 + 199 / (0.45 * true_peak)
        assert knees["failures_0"].users <= knee < knees["failures_0"].bad_users
        _, measured_top = _failure_probes(_sim(peak_ratio=true_peak), None)
        cost[true_peak] = (sim.calls[10:], measured, measured_top)
    # Above: 331 met, 404 (inside the predicted bracket, up to 478) met, 441 broken: 4 probes
    # against 6 from the top of the range.
    assert cost[1.1] == ([331, 404, 441, 404], 4, 6)
    # Below: 331, 282, 258 and the bottom 233 broken, then halving to 116..233: 164, 198 met,
    # 216 broken, 198 confirmed: 8 probes against 6. The worst case: two probes more than the
    # bisection from the top, where a right prediction saves two.
    assert cost[2.5] == ([331, 282, 258, 233, 164, 198, 216, 198], 8, 6)
