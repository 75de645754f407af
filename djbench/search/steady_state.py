"""Where a probe's transient after its ramp-up ends: MSER-5 truncation (White 1997; White,
Cobb & Spratt 2000), applied to the probe's own requests instead of a fixed warm-up.

MSER-5 groups the observations into batches of BATCH and takes the batch means b_1..b_k. For
each candidate truncation d (in batches) it scores the rest of the series by

    MSER(d) = sum_{j > d} (b_j - mean(b_{d+1..k}))^2 / (k - d)^2

(the squared standard error of the truncated mean, up to a constant) and keeps the d that
minimises it: dropping a transient lowers the spread faster than losing its batches raises the
score. d is searched in the first half of the series, the rule's usual restriction: near the
end a few batch means that happen to agree score close to 0 (on the real stack's probes near a
knee, whose latency moves in slow waves, the unrestricted minimum fell in the last few batches
of most of them, which were then called unsettled; in about one series of independent noise
in eight, too). A minimum in the last tenth of that half (LATE) is the rule's sign that the
series had not settled (the score still falling, or nearly: the transient may be the whole
run): such a probe is reported as not settled, and the objectives judged on that series get
no verdict from it.

The observations are the probe's requests in the order they completed, from the end of its
ramp-up: their response times, and their failures as 0/1 (a per-second series of a 20 s probe
would give four batch means of five seconds, too few for the rule to place a transient of a
few seconds; per request, a probe of 2,000 requests has 400). Each series gets its truncation,
and the window opens after the later of the two.

Failures are rare events: a burst confined to the start is cut as transient, failures that go
on into the second half are kept, and the failures never count as unsettled (a tail without
failures scores 0 wherever it starts); the latency decides that.
"""

import math
from dataclasses import dataclass

BATCH = 5  # MSER-5
# Fewer batch means than this: too short a series for the rule to place a transient in, so
# nothing is cut (a probe of a few users for a few seconds, as the smoke tests run).
MIN_BATCHES = 10
# A truncation point this far into the searched half, or further: not settled.
LATE = 0.9


def mser(values, batch=BATCH):
    """(d, settled): the truncation point in observations (a multiple of `batch`), searched in
    the first half of the series, and whether it lies before the last tenth of that half.
    Observations past the last whole batch are kept but not scored."""
    k = len(values) // batch
    if k < MIN_BATCHES:
        return 0, True
    means = [sum(values[j * batch : (j + 1) * batch]) / batch for j in range(k)]
    # Suffix sums of the batch means and their squares: each score in O(1).
    total, squares = [0.0] * (k + 1), [0.0] * (k + 1)
    for j in range(k - 1, -1, -1):
        total[j] = total[j + 1] + means[j]
        squares[j] = squares[j + 1] + means[j] ** 2
    best, best_score = 0, None
    for d in range(k // 2 + 1):
        n = k - d
        spread = squares[d] - total[d] ** 2 / n
        score = max(spread, 0.0) / n**2
        if best_score is None or score < best_score - 1e-12 * (1 + abs(best_score)):
            best, best_score = d, score
    return best * batch, best < LATE * (k // 2)


@dataclass(frozen=True)
class Truncation:
    """The steady part of a series of requests: from index `start` on."""

    start: int  # requests dropped as transient
    latency_start: int  # each series' own truncation point
    failures_start: int
    unsettled: tuple = ()  # the series ("latency", "failures") whose transient did not end

    @property
    def settled(self):
        return not self.unsettled


def truncate(times_ms, failed):
    """times_ms: response times in completion order; failed: one bool per request."""
    latency_d, latency_ok = mser(times_ms)
    failures_d, _ = mser([1.0 if f else 0.0 for f in failed])
    found = {"latency": (latency_d, latency_ok), "failures": (failures_d, True)}
    start = max((d for d, ok in found.values() if ok), default=0)
    unsettled = tuple(name for name, (_, ok) in found.items() if not ok)
    return Truncation(start, latency_d, failures_d, unsettled)


def nearest_rank(times_ms, q):
    """The q-quantile by nearest rank (numpy's inverted_cdf, as the run metrics use)."""
    if not times_ms:
        return float("nan")
    ordered = sorted(times_ms)
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[min(len(ordered), rank) - 1]
