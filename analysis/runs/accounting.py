"""The article's accounting and the share of failed iterations, from the per-request log.

Our scenario logs three requests per iteration (detail GET, vote POST without following its
redirect, results GET). The article describes its test as "opening a poll form ... and
submitting a random vote": with Locust's HttpUser defaults that is two samples, the form GET
and the vote POST with the redirect to the results page followed inside it. So in the
article's accounting a refused database connection on the vote or on the results page is one
failed vote sample, and the failure % has two samples per iteration under it, not three.

A vote sample ends when its last request does (the results page, or the vote when that
failed): it is counted in the window where it ends, as Locust counts a sample when it
completes. An iteration (one vote attempted) ends with its last request too, and fails when
any of its requests fails.

The request log pairs a vote with its results page by the iteration id each row carries. Logs
written before that column existed are read by the scenario's control flow instead
(locustfiles/vote.py): an iteration stops at its first failure, and a successful vote is
always followed by its results page. So a vote sample ends with a results page or with a
failed vote, and an iteration with a results page or a failed request; a successful vote or
form adds nothing on its own. The one thing this misses is an iteration cut off after a
successful vote, whose results page was never logged (a run stopped mid-iteration); and a log
of forms only (the calibration's "detail" scenario) counts each form as an iteration.
"""

import numpy as np
import pandas as pd

from djbench.contracts.files import NO_ITERATION

ITERATION_REQUESTS = ("detail", "vote", "results")  # in order; an iteration starts with detail
FORM, VOTE, RESULTS = ITERATION_REQUESTS

COLUMNS = [
    "article_samples",
    "article_failures",
    "article_failure_pct",
    "iterations",
    "iterations_failed",
    "iteration_failure_pct",
    "iteration_ids",
]


def _paired(requests: pd.DataFrame) -> pd.Series:
    """Rows of an iteration whose log carries its id."""
    iteration = requests.get("iteration", pd.Series(np.nan, index=requests.index))
    return (
        requests["name"].isin(ITERATION_REQUESTS) & iteration.notna() & (iteration != NO_ITERATION)
    )


def _events(ts, sample, failed) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": np.asarray(ts, dtype=float),
            "sample": np.asarray(sample, dtype=int),
            "failed": np.asarray(failed, dtype=int),
        }
    )


def _iteration_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (process file, iteration): when it ended and whether any request failed."""
    grouped = rows.assign(bad=(rows["ok"] != 1).astype(int)).groupby(["source", "iteration"])
    return grouped.agg(ts=("ts", "max"), failed=("bad", "max")).reset_index(drop=True)


def sample_events(requests: pd.DataFrame) -> pd.DataFrame:
    """The article's samples as (ts, sample, failed) events, sorted by ts; a window's samples
    and failures are the sums of `sample` and `failed` over the events inside it."""
    paired = _paired(requests)
    forms = requests[requests["name"] == FORM]
    votes = requests[paired & requests["name"].isin([VOTE, RESULTS])]
    loose = requests[~paired & requests["name"].isin([VOTE, RESULTS])]
    vote_samples = _iteration_groups(votes)
    frames = [
        _events(forms["ts"], 1, forms["ok"] != 1),
        _events(vote_samples["ts"], 1, vote_samples["failed"]),
        _events(loose["ts"], _ends_unpaired(loose), loose["ok"] != 1),
    ]
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")


def _ends_unpaired(rows: pd.DataFrame, forms_only: bool = False) -> pd.Series:
    """Whether each request of an unpaired log ends its sample or iteration: a results page,
    a failed request, or (in a log of forms only) every form."""
    ends = (rows["name"] == RESULTS) | (rows["ok"] != 1)
    return ends | (rows["name"] == FORM) if forms_only else ends


def iteration_events(requests: pd.DataFrame) -> pd.DataFrame:
    """Iterations as (ts, sample, failed) events at the iteration's end."""
    paired = _paired(requests)
    iterations = _iteration_groups(requests[paired])
    loose = requests[~paired & requests["name"].isin(ITERATION_REQUESTS)]
    forms_only = not loose["name"].isin([VOTE, RESULTS]).any()
    frames = [
        _events(iterations["ts"], 1, iterations["failed"]),
        _events(loose["ts"], _ends_unpaired(loose, forms_only), loose["ok"] != 1),
    ]
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")


def _window_sums(events: pd.DataFrame, start: float, end: float) -> tuple[int, int]:
    ts = events["ts"].to_numpy()
    lo, hi = np.searchsorted(ts, start, side="left"), np.searchsorted(ts, end, side="left")
    inside = events.iloc[lo : max(lo, hi)]
    return int(inside["sample"].sum()), int(inside["failed"].sum())


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else np.nan


class Accounting:
    """The article's samples and the iterations of one run, counted per window [start, end)."""

    def __init__(self, requests: pd.DataFrame):
        self.samples = sample_events(requests)
        self.iterations = iteration_events(requests)
        in_iterations = requests["name"].isin(ITERATION_REQUESTS)
        self.ids = int(bool(in_iterations.any()) and bool(_paired(requests)[in_iterations].all()))

    def window(self, start: float, end: float) -> dict:
        samples, failures = _window_sums(self.samples, start, end)
        iterations, failed = _window_sums(self.iterations, start, end)
        return {
            "article_samples": samples,
            "article_failures": failures,
            "article_failure_pct": _pct(failures, samples),
            "iterations": iterations,
            "iterations_failed": failed,
            "iteration_failure_pct": _pct(failed, iterations),
            # 1: vote samples and iterations paired by the log's ids; 0: by request names only
            "iteration_ids": self.ids,
        }
