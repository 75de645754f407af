"""The integrity rule, by hand: the database's new votes against the vote POSTs in the log."""

import csv

from djbench.contracts.files import REQUEST_COLUMNS, WORKER_EVENT_COLUMNS, WORKER_EVENTS
from djbench.load import integrity


def _log(run_dir, posts_ok, posts_failed=0):
    with open(run_dir / "requests-host-1.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(REQUEST_COLUMNS)
        for i in range(posts_ok):
            out.writerow([1000.0 + i, "vote", "POST", 302, 1, "", 12.0, i + 1])
        for i in range(posts_failed):
            out.writerow([2000.0 + i, "vote", "POST", 500, 0, "http_500", 12.0, i + 1])


def _events(run_dir, *events):
    with open(run_dir / WORKER_EVENTS, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(WORKER_EVENT_COLUMNS)
        out.writerows(events)


def test_exact_and_explained_surplus(tmp_path):
    _log(tmp_path, posts_ok=41, posts_failed=2)
    assert integrity.check(tmp_path, 41)["ok"] is True
    assert integrity.check(tmp_path, 43)["ok"] is True  # both 500s may have voted
    assert integrity.check(tmp_path, 44)["ok"] is False  # one more than anything explains
    lost = integrity.check(tmp_path, 40)
    assert lost["ok"] is False and lost["message"].startswith("VOTES LOST: 41 vote POSTs")


def test_a_lost_worker_leaves_the_surplus_unbounded_but_no_vote_may_be_lost(tmp_path):
    # A worker killed mid-run takes its unsent rows and its requests in flight with it: the
    # database may hold votes the log never saw, as many as its users could post.
    _log(tmp_path, posts_ok=41)
    _events(tmp_path, (1000.0, "w1", "joined", ""), (1010.0, "w1", "lost", "no heartbeat"))
    surplus = integrity.check(tmp_path, 42)
    assert surplus["ok"] is True, surplus
    assert surplus["surplus"] == 1 and "w1" in surplus["message"]
    assert "not bounded" in surplus["message"]
    lost = integrity.check(tmp_path, 40)
    assert lost["ok"] is False and lost["message"].startswith("VOTES LOST")


def test_a_worker_that_came_back_still_lost_its_rows(tmp_path):
    _log(tmp_path, posts_ok=10)
    _events(tmp_path, (1.0, "w1", "lost", "no heartbeat"), (2.0, "w1", "back", ""))
    assert integrity.check(tmp_path, 12)["ok"] is True


def test_refused_workers_change_nothing(tmp_path):
    _log(tmp_path, posts_ok=10)
    _events(tmp_path, (1.0, "w9", "refused", "worker w9 refused: its project version differs"))
    assert integrity.check(tmp_path, 11)["ok"] is False
