"""The knee search on the real stack at smoke scale."""

import json

import pytest

from tests.helpers import djbench, last_path, meta, rows, survivors

pytestmark = pytest.mark.integration


def test_knee_search_on_the_real_stack(tmp_path):
    # p95 under 1 ms cannot be met: that objective breaks at every probe, down to --start; nothing
    # fails at 2 to 4 users, so the failure knees are "never broken up to 4". The saturation
    # probe (users with no wait) comes first and predicts far more than 4 users: the search
    # starts at the top of its range and bisects down.
    done = djbench("knee", "--servers", "gunicorn", "--mode", "native", "--start", "2",
                   "--max-users", "4", "--measure", "3", "--warmup", "1", "--spawn-rate", "10",
                   "--p95-slo-ms", "1", "--no-warm-stack", "--results-dir", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    knee_dir = last_path(done.stdout, "knee:")
    data = json.loads((knee_dir / "knee.json").read_text())
    assert [p["users"] for p in data["probes"]] == [4, 3, 2]
    assert data["knees"]["failures_0"] == {
        "objective": "failures_0", "users": 4, "bad_users": None, "resolution": 0,
        "bounded": False,
    }  # fmt: skip
    assert data["knees"]["p95"]["users"] is None and data["knees"]["p95"]["bad_users"] == 2
    saturation = data["prediction"]["saturation"]
    assert saturation["users"] == 20 and saturation["iterations_per_s"] > 0
    assert data["prediction"]["guess"] > 4
    # gunicorn's connections are bounded by its workers: far fewer per request in flight than
    # the limit needs, so PostgreSQL's connections are predicted to last far past 4 users.
    assert saturation["connection_limit"] == 199  # max_connections 200, less the sampler's
    assert 0 < saturation["pg_total_mean"] <= saturation["pg_total_max"]
    assert data["prediction"]["failures"]["guess"] > 4
    assert data["schema"] == {"name": "knee", "version": 2}
    assert data["settings"]["warm_stack"] is False
    assert data["settings"]["sequential"] == {
        "test": "sprt", "p0": 0.005, "p1": 0.02, "alpha": 0.05, "beta": 0.05,
    }  # fmt: skip
    spent = data["spent"]
    assert (spent["probes"], spent["saturation_probes"], spent["stopped_early"]) == (3, 1, 0)
    assert spent["measured_s"] == pytest.approx(
        saturation["measured_s"] + sum(p["measured_s"] for p in data["probes"]), abs=0.2
    )
    assert spent["probe_s"] <= spent["wall_s"]
    for probe in [*data["probes"], saturation]:
        run_dir = knee_dir / probe["run_dir"]
        (step,) = rows(run_dir / "steps.csv")
        assert int(step["requests"]) > 0
        assert float(step["window_s"]) == pytest.approx(probe["measured_s"], abs=0.01)
        m = meta(run_dir)
        assert m["integrity"]["ok"] is True
        assert survivors(set(m["pids"].values())) == []
    # A stack per probe (--no-warm-stack; the warm one: test_warm_stack.py): the saturation
    # probe set its database up, every probe after it started from a copy.
    copied = [
        meta(knee_dir / p["run_dir"])["postgres"]["copied_from_setup"]
        for p in [saturation, *data["probes"]]
    ]
    assert copied == [False, True, True, True]
    for probe in data["probes"]:
        (step,) = rows(knee_dir / probe["run_dir"] / "steps.csv")
        assert int(step["users"]) == probe["users"]
        assert float(step["p95_ms"]) == pytest.approx(probe["p95_ms"])
        assert probe["stopped_early"] is False and probe["duration_s"] > probe["measured_s"]
        # A few users for 3 s: fewer than ten batches of five requests, too few to cut.
        assert (probe["truncation_s"], probe["unsettled"], probe["ramp_failures"]) == (0, [], 0)
        assert probe["sequential"]["requests"] == int(step["requests"])
    text = (knee_dir / "knee.md").read_text()
    assert "- no failures: never broken up to 4 users" in text
    assert "- p95 under 1 ms: broken already at the smallest count searched, 2 users" in text
    assert "Prediction: a saturation probe (20 users with no wait" in text
    assert (knee_dir / "probes.png").stat().st_size > 0
