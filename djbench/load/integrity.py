"""No vote lost: the votes the database gained against the vote POSTs Locust saw succeed."""

from djbench.analysis.runs.metrics import read_requests, read_worker_events


def check(run_dir, votes_added, users_at_stop=0):
    """votes_added: the database's vote total after the load minus before it.

    A successful POST (302 to results) must have added a vote. A POST that failed on the client
    side may still have reached the server (timeout, connection dropped, 5xx from nginx), so it
    can explain a surplus; so can users cut off mid-request by an interrupt (users_at_stop).
    A Locust worker lost mid-run takes its unsent rows and its requests in flight with it, so
    the surplus is then not bounded (only reported). Fewer votes than successful POSTs is always
    an error.
    """
    requests = read_requests(run_dir)
    posts = requests[(requests["name"] == "vote") & (requests["method"] == "POST")]
    ok = int(posts["ok"].sum())
    failed = posts[posts["ok"] == 0]
    maybe_counted = int(((failed["status"] == 0) | (failed["status"] >= 500)).sum())
    surplus = votes_added - ok
    events = read_worker_events(run_dir)
    lost = [] if events is None else sorted(set(events[events["event"] == "lost"]["worker"]))
    result = {
        "votes_in_db": int(votes_added),
        "votes_posted_ok": ok,
        "vote_posts_failed": len(failed),
        "vote_posts_maybe_counted": maybe_counted,
        "surplus": surplus,
    }
    if surplus < 0:
        result["ok"] = False
        result["message"] = (
            f"VOTES LOST: {ok} vote POSTs succeeded but the database gained only {votes_added}"
        )
    elif surplus and lost:
        result["ok"] = True
        result["message"] = (
            f"{votes_added} votes in the database for {ok} successful vote POSTs; the {surplus} "
            f"extra are not bounded: Locust worker(s) {', '.join(lost)} were lost mid-run with "
            "the rows they had not sent and their requests in flight"
        )
    elif surplus > maybe_counted + users_at_stop:
        result["ok"] = False
        result["message"] = (
            f"unexplained votes: the database gained {votes_added}, {ok} POSTs succeeded and "
            f"only {maybe_counted + users_at_stop} failed POSTs could have reached the server"
        )
    else:
        result["ok"] = True
        result["message"] = f"{votes_added} votes in the database for {ok} successful vote POSTs"
        if surplus:
            result["message"] += (
                f"; the {surplus} extra are explained by {maybe_counted} failed POSTs "
                f"that may have reached the server"
                + (f" and {users_at_stop} users cut off by the interrupt" if users_at_stop else "")
            )
    return result
