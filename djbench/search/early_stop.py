"""When a knee probe's verdict can no longer change, so the probe can stop before its full time.

A probe measures for a planned time; the search only needs to know whether it met an objective.
Its requests so far can already decide that:

- failures: a failed request in the measured window stays in it, so one failure settles "no
  failures" as broken; "at most 1 %" is broken once the failures exceed 1 % of every request the
  probe could still complete at its current rate (with a margin). Coping can never be settled
  early: the rest of the window may still fail.
- p95: a distribution-free confidence interval for the 95th percentile from order statistics
  (the count of requests under a time is binomial); the verdict is settled when the interval lies
  wholly on one side of the objective, both for all requests so far and for the latest half of
  them. The latest half guards against a server whose backlog only builds as the probe runs.

The check runs every half second, so the confidence level is strict (Z), and nothing is settled
on fewer than MIN_REQUESTS requests or before MIN_SHARE of the planned time (except a failure,
which is a fact, not an estimate). "Met" waits for MET_SHARE: near saturation a closed loop's
queue can keep building, or jump to a slower regime, well into the window (seen on the real
stack: p95 80 ms for 8 s, then 250-290 ms), and latency only goes wrong in that direction. A
confirmation, which exists because single probes are noisy, may stop early only as broken.
"""

import math
from dataclasses import dataclass

Z = 3.29  # two-sided 99.9 %
MIN_REQUESTS = 200
MIN_SHARE = 0.25
MET_SHARE = 0.5
PROJECTION_MARGIN = 1.25  # the request rate may still rise this much before the window ends
QUANTILE = 0.95


@dataclass(frozen=True)
class Snapshot:
    """A running probe's measured window so far."""

    times_ms: tuple  # response times in completion order, failed requests included
    failures: int
    elapsed_s: float  # measured so far
    planned_s: float  # measured time the probe would run to the end

    @property
    def requests(self):
        return len(self.times_ms)


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


def _failures_verdict(snapshot, limit_pct):
    if snapshot.failures == 0:
        return None
    if limit_pct == 0:
        return False
    if snapshot.requests < MIN_REQUESTS or snapshot.elapsed_s <= 0:
        return None
    share = min(1.0, snapshot.elapsed_s / snapshot.planned_s)
    projected = snapshot.requests / share * PROJECTION_MARGIN
    return False if 100 * snapshot.failures / projected > limit_pct else None


def verdict(objective, snapshot, slo_ms):
    """True (met), False (broken) or None (not settled yet) for one objective."""
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
    them is settled as broken (a confirmation runs its full time unless it fails)."""
    verdicts = settled(objectives, snapshot, slo_ms).values()
    return all(v is False for v in verdicts) if not met else all(v is not None for v in verdicts)
