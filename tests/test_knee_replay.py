"""A search is replayed from what knee.json records: its probes, in order, fed back to the
search decide the same counts and knees (every decision is in the record)."""

import json
from collections import Counter

from djbench.search.knee import Probe, search_all
from tests.test_failure_prediction import _predicted as failure_predicted
from tests.test_failure_prediction import _sim
from tests.test_knee_search import _predicted


def test_a_recorded_search_replays_to_the_same_knees():
    sim = _sim(noise=0.05, seed="replay")
    predictions = {"prediction": _predicted(sim), "failure_prediction": failure_predicted(sim)}
    knees, probes = search_all(sim, 10, 640, **predictions)
    # As probes.py writes them into knee.json, and as they load back.
    recorded = [Probe(**json.loads(json.dumps(p.__dict__))) for p in probes]
    seen, asked = Counter(), []

    def replay(users, stop_early):
        asked.append(users)
        seen[users] += 1
        return [p for p in recorded if p.users == users][seen[users] - 1]

    replayed, _ = search_all(replay, 10, 640, **predictions)
    assert asked == sim.calls and replayed == knees
    # Each probe says where its steady window opened and what the sequential test saw.
    assert all(p.truncation_s >= 0 and "llr" in p.sequential for p in recorded)
