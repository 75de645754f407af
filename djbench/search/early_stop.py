"""When a knee probe's verdict can no longer change, so the probe can stop before its full time.

A probe measures for a planned time; the search only needs to know whether it met an objective.
Its requests so far can already decide that. A snapshot is the probe's steady window so far:
its requests after the transient that followed the ramp-up (search/steady_state.py).

- "no failures": a failed request in the steady window stays in it, so one failure settles it
  as broken. Coping can never be settled early: the rest of the window may still fail.
- "at most 1 % failures": a sequential probability ratio test (Wald) of the failure share p,
  H0: p = P0 (met) against H1: p = P1 (broken), on the window's requests so far. Its thresholds
  are log(1 / ALPHA) and log(BETA): the likelihood ratio is a martingale under H0 (its inverse
  under H1), so by Ville's inequality P(broken | p = P0) <= ALPHA and P(met | p = P1) <= BETA
  however often it is looked at; looking only from MET_SHARE on, and calling "met" only when
  the latest half of the window passes the test on its own too (failures that come with a
  backlog come late), make "met" rarer and keep both bounds. Between P0 and P1 either verdict
  is acceptable; a window that ends undecided is judged by its share.
- p95: a distribution-free confidence interval for the 95th percentile from order statistics
  (the count of requests under a time is binomial); the verdict is settled when the interval lies
  wholly on one side of the objective, both for all requests so far and for the latest half of
  them. The latest half guards against a server whose backlog only builds as the probe runs.

The check runs every half second, so the confidence level is strict (Z), and nothing is settled
on fewer than MIN_REQUESTS requests or before MIN_SHARE of the planned time (except a failure,
which is a fact, not an estimate). "Met" waits for MET_SHARE: near saturation a closed loop's
queue can keep building, or jump to a slower regime, well into the window (seen on the real
stack: p95 80 ms for 8 s, then 250-290 ms), and latency only goes wrong in that direction; the
failures of a connection limit also come late. A confirmation of a failure knee, which exists
because single probes are noisy, may stop early only as broken (search/knee.py).
"""

import math
from dataclasses import dataclass

from djbench.search import steady_state

Z = 3.29  # two-sided 99.9 %
MIN_REQUESTS = 200
MIN_SHARE = 0.25
MET_SHARE = 0.5
QUANTILE = 0.95
# The sequential test of "at most 1 % failures": an indifference zone around 1 %.
P0, P1 = 0.005, 0.02
ALPHA, BETA = 0.05, 0.05
SEQUENTIAL = {"test": "sprt", "p0": P0, "p1": P1, "alpha": ALPHA, "beta": BETA}


@dataclass(frozen=True)
class Snapshot:
    """A running probe's measured window so far."""

    times_ms: tuple  # response times in completion order, failed requests included
    failures: int
    elapsed_s: float  # measured so far
    planned_s: float  # measured time the probe would run to the end
    unsettled: tuple = ()  # series whose transient has not ended: no verdict on them yet
    failed: tuple = ()  # one bool per request of times_ms (empty: the failures' order unknown)

    @property
    def requests(self):
        return len(self.times_ms)


def steady_window(times_ms, failed, offsets_s, planned_s):
    """(Snapshot of the steady window so far, Truncation) of a probe's requests since its
    ramp-up ended: times_ms, failed (bools) and offsets_s (completion times, seconds since the
    ramp-up ended) in completion order; planned_s: the time planned after the ramp-up."""
    cut = steady_state.truncate(times_ms, failed)
    opened = offsets_s[cut.start - 1] if cut.start else 0.0  # the last transient request
    kept = times_ms[cut.start :]
    snapshot = Snapshot(
        tuple(kept),
        sum(1 for f in failed[cut.start :] if f),
        (offsets_s[-1] - opened) if kept else 0.0,
        max(planned_s - opened, 0.0),
        cut.unsettled,
        tuple(failed[cut.start :]),
    )
    return snapshot, cut


def p95_interval(times_ms, z=Z):
    """(low, high) bounds of the 95th percentile, or None when too few requests for them.

    The number of requests at or under the true p95 is Binomial(n, 0.95); the order statistics at
    its z-sigma ranks bound the percentile (normal approximation, fine for n >= 200).
    """
    n = len(times_ms)
    if n == 0:
        return None
    spread = z * math.sqrt(n * QUANTILE * (1 - QUANTILE))
    low_rank = math.floor(n * QUANTILE - spread)
    high_rank = math.ceil(n * QUANTILE + spread)
    if low_rank < 1 or high_rank > n:
        return None
    ordered = sorted(times_ms)
    return ordered[low_rank - 1], ordered[high_rank - 1]


def _p95_verdict(snapshot, slo_ms):
    if snapshot.elapsed_s < MIN_SHARE * snapshot.planned_s or snapshot.requests < MIN_REQUESTS:
        return None
    times = snapshot.times_ms
    bounds = [p95_interval(times), p95_interval(times[len(times) // 2 :])]
    if any(b is None for b in bounds):
        return None
    if all(high <= slo_ms for _, high in bounds):
        return True if snapshot.elapsed_s >= MET_SHARE * snapshot.planned_s else None
    if all(low > slo_ms for low, _ in bounds):
        return False
    return None


def log_likelihood_ratio(failures, requests, p0=P0, p1=P1):
    """log of P(these failures | p1) / P(them | p0), for `failures` of `requests` (Bernoulli)."""
    return failures * math.log(p1 / p0) + (requests - failures) * math.log((1 - p1) / (1 - p0))


def sprt(failures, requests, p0=P0, p1=P1, alpha=ALPHA, beta=BETA):
    """False (H1, p = p1: broken), True (H0, p = p0: met) or None (go on sampling)."""
    llr = log_likelihood_ratio(failures, requests, p0, p1)
    if llr >= math.log(1 / alpha):
        return False
    if llr <= math.log(beta):
        return True
    return None


def _failures_verdict(snapshot, limit_pct):
    if limit_pct == 0:
        return False if snapshot.failures else None
    if snapshot.requests < MIN_REQUESTS:
        return None
    decided = sprt(snapshot.failures, snapshot.requests)
    if decided is True:
        if snapshot.elapsed_s < MET_SHARE * snapshot.planned_s:
            return None
        # The latest half must pass on its own too: failures that come with a backlog, late in
        # the window, are not diluted by the clean start (only makes "met" rarer: BETA holds).
        latest = snapshot.failed[len(snapshot.failed) // 2 :]
        if snapshot.failed and sprt(sum(latest), len(latest)) is not True:
            return None
    return decided


def sequential_record(snapshot):
    """What the sequential test saw when the probe stopped, for knee.json."""
    return {
        "failures": snapshot.failures,
        "requests": snapshot.requests,
        "llr": round(log_likelihood_ratio(snapshot.failures, snapshot.requests), 3),
        "decision": {True: "met", False: "broken", None: None}[_failures_verdict(snapshot, 1)],
    }


# The series of a probe each objective is judged on (steady_state.truncate names them).
SERIES = {"failures_0": "failures", "failures_1": "failures", "p95": "latency"}


def verdict(objective, snapshot, slo_ms):
    """True (met), False (broken) or None (not settled yet) for one objective."""
    if SERIES[objective] in snapshot.unsettled:
        return None
    if objective == "failures_0":
        return _failures_verdict(snapshot, 0)
    if objective == "failures_1":
        return _failures_verdict(snapshot, 1)
    return _p95_verdict(snapshot, slo_ms)


def settled(objectives, snapshot, slo_ms):
    """Each objective's verdict; a probe can stop once none of them is None."""
    return {objective: verdict(objective, snapshot, slo_ms) for objective in objectives}


def can_stop(objectives, snapshot, slo_ms, met=True):
    """True once every objective's verdict is settled; with met=False only once every one of
    them is settled as broken (a failure knee's confirmation runs its full time unless it
    fails)."""
    verdicts = settled(objectives, snapshot, slo_ms).values()
    return all(v is False for v in verdicts) if not met else all(v is not None for v in verdicts)
