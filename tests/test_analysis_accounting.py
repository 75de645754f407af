"""The article's accounting, failed iterations and carry-over on the `iterations` fixture run.

Fixture: two processes' logs (requests-a-1.csv, requests-b-2.csv) whose iteration ids overlap
(1, 2, ... in each), timeline windows [110, 120) and [125, 135). Every expected number is worked
out below from those files.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from djbench.analysis.runs.metrics import step_metrics

RUN = Path(__file__).parent / "fixtures" / "runs" / "iterations"


@pytest.fixture(scope="module")
def steps():
    return step_metrics(RUN).set_index("step")


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory):
    """The same run as logged before requests carried their iteration."""
    run = tmp_path_factory.mktemp("unpaired")
    for path in RUN.iterdir():
        shutil.copy(path, run / path.name)
    for path in run.glob("requests*.csv"):
        pd.read_csv(path).drop(columns="iteration").to_csv(path, index=False)
    return step_metrics(run).set_index("step")


def test_per_request_counts_are_unchanged(steps):
    # Step 1 [110, 120): a: 111.0 111.5F 112.0 112.2 112.4 113.0F 119.9 119.95 (8),
    # b: 110.0 110.5 114.0 114.3 114.6F (5) -> 13 requests, 3 failed.
    assert (steps.loc[1, "requests"], steps.loc[1, "failures"]) == (13, 3)
    assert steps.loc[1, "failure_pct"] == pytest.approx(100 * 3 / 13)
    # Step 2 [125, 135): a: 126.0 127.0F, b: 130.0 130.4F 131.0 131.2 131.5 -> 7, 2 failed.
    assert (steps.loc[2, "requests"], steps.loc[2, "failures"]) == (7, 2)


def test_article_samples_pair_vote_and_results_within_each_process(steps):
    # Step 1. Form samples (detail): a 112.0, 113.0F, 119.9; b 114.0 -> 4, 1 failed.
    # Vote samples end with their last request: a#1 111.5 (results 500: failed), a#2 112.4,
    # b#1 110.5, b#2 114.6 (results 502: failed) -> 4, 2 failed. a#4 ends at 120.3 (its results
    # page), after the window. Pairing a#1 with b#1 (ids per process!) would give 6 samples.
    s = steps.loc[1]
    assert (s["article_samples"], s["article_failures"]) == (8, 3)
    assert s["article_failure_pct"] == 37.5
    # Step 2. Forms a 126.0, b 130.0, 131.0 (3, none failed); votes a#5 127.0 (connection),
    # b#3 130.4 (a 200 instead of the redirect), b#4 131.5 -> 3, 2 failed.
    s = steps.loc[2]
    assert (s["article_samples"], s["article_failures"]) == (6, 2)
    assert s["article_failure_pct"] == pytest.approx(100 * 2 / 6)
    assert list(steps["iteration_ids"]) == [1, 1]


def test_failed_iterations(steps):
    # Iterations end with their last request. Step 1: a#1 111.5 (failed), a#2 112.4,
    # a#3 113.0 (detail 500: failed), b#1 110.5, b#2 114.6 (failed) -> 5, 3 failed; a#4 ends at
    # 120.3. Step 2: a#5 127.0 (failed), b#3 130.4 (failed), b#4 131.5 -> 3, 2 failed.
    assert list(steps["iterations"]) == [5, 3]
    assert list(steps["iterations_failed"]) == [3, 2]
    assert steps.loc[1, "iteration_failure_pct"] == 60.0
    assert steps.loc[2, "iteration_failure_pct"] == pytest.approx(100 * 2 / 3)


def test_unpaired_log_reads_the_scenarios_control_flow(steps, unpaired):
    # Without ids a vote sample ends with a results page or a failed vote, an iteration with a
    # results page or a failed request. Step 1: forms 4 (1 failed) + results a 111.5F, 112.4,
    # b 110.5, 114.6F (4, 2 failed) -> 8 samples, 3 failed; iterations: those results and the
    # failed form a 113.0 -> 5, 3 failed. Step 2: forms 3 + failed votes a 127.0, b 130.4 +
    # results b 131.5 -> 6 samples, 2 failed; iterations 3, 2 failed. The paired numbers.
    columns = ["article_samples", "article_failures", "iterations", "iterations_failed"]
    assert unpaired[columns].to_dict("records") == steps[columns].to_dict("records")
    assert list(unpaired["iteration_ids"]) == [0, 0]


def test_unpaired_log_misses_an_iteration_cut_off_after_its_vote(tmp_path):
    # a#4's results page (120.3) never logged, as when a run stops mid-iteration: with its id
    # the vote at 119.95 ends a successful vote sample and iteration in step 1; without, the
    # successful vote alone ends nothing.
    for path in RUN.iterdir():
        shutil.copy(path, tmp_path / path.name)
    log = tmp_path / "requests-a-1.csv"
    log.write_text(log.read_text().replace("120.3,results,GET,200,1,,300,4\n", ""))
    paired = step_metrics(tmp_path).set_index("step").loc[1]
    assert (paired["article_samples"], paired["iterations"]) == (9, 6)
    for path in tmp_path.glob("requests*.csv"):
        pd.read_csv(path).drop(columns="iteration").to_csv(path, index=False)
    unpaired = step_metrics(tmp_path).set_index("step").loc[1]
    assert (unpaired["article_samples"], unpaired["iterations"]) == (8, 5)


def test_carry_over(steps):
    # start = ts - response time. Step 1 opens at 110: a's vote 108.5-111.0 and b's vote
    # 108.8-110.0 (completing exactly at the opening counts) are in flight: 2. Step 2 opens at
    # 125: a's detail 120.0-126.0 only: 1.
    assert list(steps["inflight_at_open"]) == [2, 1]
    # Time in flight inside [110, 120): a 1.0 (vote from 110) + .4 + .1 + .2 + .2 + .1 + .1
    # + .05, the results page 120.0-120.3 none; b 0 (its vote ends at 110) + .3 + .1 + .3 + .3
    # -> 3.15 s / 10 s. Inside [125, 135): a 1.0 (detail from 125) + .5; b .1 + .4 + .1 + .2 + .3
    # -> 2.6 s / 10 s.
    assert steps.loc[1, "inflight_mean"] == pytest.approx(0.315)
    assert steps.loc[2, "inflight_mean"] == pytest.approx(0.26)
