"""Knee search: find where a server stops coping, on any machine, without guessing user counts.

Three objectives share the probes: no failures (the article's measure), at most 1 % failures,
and a latency objective (p95 under a threshold, default 1 s), since a server that answers
everything in 10 s has not coped. The load is users (closed model) or iterations started per
second (open model); the search treats both as one integer axis.

Where to look is predicted before probing (Little's law on one short saturation probe, see
predict_users), so bisection starts from a bracket instead of doubling from a small count. A
prediction is only a starting point: the search measures the ends of the bracket it settles on,
and moves the bracket when an end was wrong: halving below a bad bottom; above a good top, to
where Little's law on that probe puts the p95 knee (extrapolate_users), at most double. The
failure objectives are predicted from PostgreSQL's connection limit (predict_failures); without
that prediction their first probe is the top of the range, which settles "never broken" in one
probe for a server that copes. Then bisection (geometric while the bracket spans more than a
factor two) narrows it to the resolution, `resolution_pct` of the bad end; the p95 bracket is
split where Little's law on its measured ends puts the knee, within its middle half, until a
probe there finds the knee on the other side of it than the estimate said (then its middle).

Each probe is measured from its steady state (search/steady_state.py); a probe whose series
never settled gives no verdict on the objectives judged on it (latency: p95; the failures'
series always settles, see there), and a count that did not settle twice counts as broken for
them: its latency was still moving, which is not coping.

A probe stops early once its verdict on the objective it was measured for can no longer change
(search/early_stop.py); its other verdicts may stay unsettled, and a later objective measures
that count again if it needs it.

Near a knee a probe's verdict is noisy (whether PostgreSQL refuses one connection in 20 s is
luck), so the knee found is confirmed: measured `confirm` more times, and only a count that met
the objective every time it was measured is good. A confirmation that fails makes that count
bad, and the knee most likely lies just below it: the search steps one resolution step down
(twice as far each time the step lands on a bad count, never past the predicted bottom before
measuring it) instead of bisecting again from a good count far below.
"""

import math
from dataclasses import dataclass, field
from functools import partial

from djbench.search import early_stop

OBJECTIVES = ("failures_0", "failures_1", "p95")
# What a probe measured for an objective must settle before it may stop early: the two failure
# objectives are searched one after the other over the same counts, so settle both at once.
NEEDS = {
    "failures_0": ("failures_0", "failures_1"),
    "failures_1": ("failures_0", "failures_1"),
    "p95": ("p95",),
}


@dataclass(frozen=True)
class Probe:
    users: int  # users, or iterations/s for the open model
    failure_pct: float  # NaN when no request completed: counts as broken
    p95_ms: float
    run_dir: str = ""
    requests: int = 0
    measured_s: float = 0.0  # the measured window, after ramp-up and warm-up
    duration_s: float = 0.0  # wall time of the whole probe: start-up, load, teardown
    stopped_early: bool = False
    early: dict = field(default_factory=dict)  # objective -> verdict settled when it stopped
    unsettled: tuple = ()  # series (latency, failures) whose transient MSER-5 found no end to
    truncation_s: float = 0.0  # the steady window opens this long after the ramp-up ended
    truncated_requests: int = 0  # requests after the ramp-up dropped as transient
    ramp_failures: int = 0  # failed during the ramp-up: not counted
    transient_failures: int = 0  # failed after it, before the steady window: not counted
    sequential: dict = field(default_factory=dict)  # the 1 % test's counts when it ended


def meets(probe, objective, p95_slo_ms):
    """True, False, or None when the probe stopped before settling this objective."""
    if probe.stopped_early:
        return probe.early.get(objective)
    if early_stop.SERIES[objective] in probe.unsettled:
        return None
    if probe.failure_pct != probe.failure_pct:  # NaN: no evidence is not evidence of coping
        return False
    if objective == "failures_0":
        return probe.failure_pct <= 0
    if objective == "failures_1":
        return probe.failure_pct <= 1
    return probe.p95_ms <= p95_slo_ms


@dataclass(frozen=True)
class Knee:
    objective: str
    users: int | None  # the largest count found good; None: broken already at the start
    bad_users: int | None  # the smallest count found bad above it; None: never broke
    resolution: int

    @property
    def bounded(self):
        """True when the knee lies within [users, bad_users) to the stated resolution."""
        return self.users is not None and self.bad_users is not None


@dataclass(frozen=True)
class Prediction:
    """Where the p95 knee should lie: first probe `guess`, bracket [low, high] (not measured)."""

    guess: int
    low: int
    high: int


def _ordered(low, guess, high):
    low = max(1, round(low))
    guess = max(low + 1, round(guess))
    return Prediction(guess, low, max(guess + 1, round(high)))


def predict_users(rate, wait_s, iteration_s, p95_ms, p95_slo_ms, requests_per_iteration):
    """The p95 knee in users, from a closed-loop saturation probe (users with no wait).

    rate: the iterations/s the saturated stack completed (X); iteration_s and p95_ms: its mean
    iteration time and request p95 there. By Little's law N users with a mean wait Z and
    iteration time R offer N / (Z + R) iterations/s, so the users that keep the stack at X are
    N = X (Z + R): low, with R = 0, is where a queue starts to form; guess takes R at the knee as
    the saturation probe's iteration time scaled so that its p95 is the objective; high has every
    request of the iteration take the objective (the mean there: the p95 is past it).
    """
    slo_s = p95_slo_ms / 1000
    scaled = iteration_s * p95_slo_ms / p95_ms if p95_ms > 0 else requests_per_iteration * slo_s
    return _ordered(
        rate * wait_s, rate * (wait_s + scaled), rate * (wait_s + requests_per_iteration * slo_s)
    )


def extrapolate_users(users, p95_ms, rate, wait_s, p95_slo_ms):
    """Where the p95 knee lies above a count that met the objective, or None if that count
    says nothing: by Little's law `users` at the saturated rate X spend R = users / X - Z per
    iteration; with R scaled so that its p95 becomes the objective, users' = X (Z + R').
    None when the stack was not saturated there (R <= 0: no queue to scale)."""
    iteration_s = users / rate - wait_s
    if not (iteration_s > 0 and p95_ms > 0):
        return None
    return round(rate * (wait_s + iteration_s * p95_slo_ms / p95_ms))


def predict_failures(rate, wait_s, per_in_flight, peak_ratio, limit):
    """Where the failure knees should lie: the users at which PostgreSQL's open connections reach
    `limit` (max_connections less the sampler's), from a closed-loop saturation probe.

    per_in_flight: connections open per request in flight there (mean over mean); peak_ratio:
    their peak over their mean. By Little's law N users with a wait Z at the saturated rate X
    keep N - X Z requests in flight, holding per_in_flight times that many connections on
    average. guess: the peak reaches the limit at the saturation probe's peak ratio; low: with
    peaks 1.5 times as far out (at least twice the mean): bursts grow with the queue; high: the
    mean reaches it. None when the probe saw no connections. A server whose connections are
    bounded by its workers (gunicorn's sync workers) is predicted far past any range searched,
    which is also what it does.
    """
    if not (per_in_flight > 0 and peak_ratio > 0 and limit > 0):
        return None
    queued = rate * wait_s
    peak = max(1.0, peak_ratio)
    return _ordered(
        queued + limit / (per_in_flight * max(2.0, 1.5 * peak)),
        queued + limit / (per_in_flight * peak),
        queued + limit / per_in_flight,
    )


def predict_rate(rate):
    """The p95 knee in iterations/s (open model): below the saturated rate X, where the queue
    stays short, and above it the backlog grows for as long as the probe lasts."""
    return _ordered(0.5 * rate, 0.9 * rate, 1.2 * rate)


def _midpoint(low, high):
    # Geometric while the bracket spans more than a factor two: the knee's position is a ratio.
    mid = math.sqrt(low * high) if high > 2 * low else (low + high) / 2
    return min(high - 1, max(low + 1, round(mid)))


def search(measure, objective, start, max_users, resolution_pct=10.0, p95_slo_ms=1000.0,
           cache=None, confirm=1, guess=None, low=None, high=None, grow=None):  # fmt: skip
    """measure(users, stop_early) -> Probe, where stop_early(Snapshot) says when the probe's
    verdict is settled. Returns the Knee; probes land in cache (users -> [Probe, ...]), which
    several objectives share so no count is measured more than it needs.

    guess: the first count to measure; low, high: a predicted bracket, measured only when the
    search ends up next to it. Without any: from `start`, doubling, as a coarse pass.
    grow(probe) -> count or None: where the knee lies by that probe's measurement (Little's
    law for p95): above a good count, where to look next instead of doubling (kept between one
    resolution step and double); inside a measured bracket, where to split it instead of its
    middle (kept within the bracket's middle half, so it still shrinks by a quarter at least).
    """
    cache = {} if cache is None else cache
    stop_early = partial(early_stop.can_stop, NEEDS[objective], slo_ms=p95_slo_ms)
    # A confirmation of a failure knee stops early only as broken: failures that come with a
    # backlog come late, after "met" could already be called. Latency's "met" already waits for
    # the latest half of the window to agree, a confirmation's as a first probe's.
    stop_confirming = stop_early if objective == "p95" else partial(stop_early, met=False)

    def verdicts(users):
        probes = cache.get(users, [])
        found = [v for p in probes if (v := meets(p, objective, p95_slo_ms)) is not None]
        # Twice without settling: still moving at that load, which is not coping.
        moving = sum(early_stop.SERIES[objective] in p.unsettled for p in probes)
        return found + [False] if moving >= 2 else found

    def good(users, times=1):
        while len(verdicts(users)) < times:
            stop = stop_early if times == 1 else stop_confirming
            cache.setdefault(users, []).append(measure(users, stop))
        return all(verdicts(users))

    def resolution(users):
        return max(1, round(users * resolution_pct / 100))

    def state(users):
        """True: met every time measured; False: broken at least once; None: not settled."""
        found = verdicts(users)
        return all(found) if found else None

    def next_above(users):
        step = users + resolution(users) + 1
        guessed = grow(cache[users][-1]) if grow and users in cache else None
        return 2 * users if guessed is None else min(2 * users, max(step, guessed))

    def split(lo, hi, lo_ok, hi_ok):
        """Where to measure inside (lo, hi), and the estimate it was aimed at (None: the
        middle): the measured ends' own estimates of the knee while the search has them and
        they have not been proved wrong, else the middle."""
        ends = [u for u, known in ((lo, lo_ok), (hi, hi_ok)) if known and u in cache]
        aimed = [g for u in ends if grow and (g := grow(cache[u][-1])) is not None]
        if not aimed or not trusted:
            return _midpoint(lo, hi), None
        aim = sum(aimed) / len(aimed)
        quarter = max(1, (hi - lo) // 4)
        return min(hi - quarter, max(lo + quarter, round(aim))), aim

    def known_good_below(limit):
        good = [u for u in cache if (limit is None or u < limit) and state(u)]
        return max(good, default=None)

    def step_down(hi, stride):
        """The bottom to try below a count that failed its confirmation: `stride` below it,
        where the knee most likely is (that count met the objective once: its verdict is noisy
        there), unless a count known good lies at or above that; never past the predicted
        bottom until that is measured. (bottom, known good)."""
        aim = max(start, hi - stride)
        if low is not None and aim < low < hi:
            aim = low
        found = known_good_below(hi)
        return (found, True) if found is not None and found >= aim else (aim, False)

    stride = None  # set once a confirmation failed: how far below it the search steps
    trusted = True  # whether grow's estimates still decide where a bracket is split
    # What earlier probes already settled, then the prediction where they said nothing.
    bad = [u for u in cache if state(u) is False]
    hi = min(bad) if bad else None
    lo = known_good_below(hi)
    lo_ok, hi_ok = lo is not None, hi is not None
    if low is not None and (lo is None or lo < low) and (hi is None or low < hi):
        # A predicted bottom above what earlier probes found good: it is measured before it
        # is trusted, and only if the search ends next to it.
        lo, lo_ok = min(max(start, low), max_users), False
    elif not lo_ok:
        lo = start
    if not hi_ok and high is not None and high > lo:
        hi = min(max_users, high)
    if guess is not None and not hi_ok:
        guess = min(max_users, max(start, guess))
        if guess > lo or not lo_ok:
            if good(guess):
                lo, lo_ok = guess, True
                hi = hi if hi is not None and hi > guess else None
            else:
                hi, hi_ok = guess, True
                lo = lo if lo < guess else max(start, guess // 2)
    while True:
        # A bottom stepped down to is measured before the bracket above it is split.
        stepping = stride and not lo_ok
        if hi is not None and hi - lo > resolution(hi) and not stepping:
            middle, aim = split(lo, hi, lo_ok, hi_ok)
            met = good(middle)
            if aim is not None and (aim < middle if met else aim > middle):
                # Kept in the middle half, and the knee lies on the other side of it than the
                # estimate said: the estimates are off here (seen with uvicorn: each aimed at
                # the bracket's bottom, the bracket shrank by a quarter a probe).
                trusted = False
            if met:
                lo, lo_ok = middle, True
            else:
                hi, hi_ok = middle, True
            continue
        if not lo_ok:  # the bracket's bottom was predicted: measure it, or look further down
            if good(lo):
                lo_ok = True
            elif lo <= start:
                return Knee(objective, None, lo, 0)
            elif stride:  # stepping down from a failed confirmation: twice as far
                stride *= 2
                hi, hi_ok = lo, True
                lo, lo_ok = step_down(hi, stride)
            else:
                hi, hi_ok, lo = lo, True, max(start, lo // 2)
            continue
        if not hi_ok:  # the top was predicted, or nothing broke yet: measure it, or grow
            top = min(max_users, hi if hi is not None else next_above(lo))
            if top <= lo:
                return Knee(objective, lo, None, 0)
            if good(top):
                lo, hi = top, None
            else:
                hi, hi_ok = top, True
            continue
        if good(lo, times=1 + confirm):
            return Knee(objective, lo, hi, resolution(hi))
        # Not confirmed: the bad side starts here, and the knee is most likely just below.
        hi, stride = lo, resolution(lo)
        if hi <= start:
            return Knee(objective, None, hi, 0)
        lo, lo_ok = step_down(hi, stride)


def search_all(measure, start, max_users, resolution_pct=10.0, p95_slo_ms=1000.0, confirm=1,
               prediction=None, grow_p95=None, failure_prediction=None):  # fmt: skip
    """The knee of every objective, and every probe in the order measured.

    The p95 knee first, from the prediction (and grow_p95: search's grow for it); then the
    failure knees, each from failure_prediction's guess, or else the top of the range, unless an
    earlier probe already broke it.
    """
    cache, measured = {}, []

    def recorded(users, stop_early):
        probe = measure(users, stop_early)
        measured.append(probe)
        return probe

    common = {
        "start": start, "max_users": max_users, "resolution_pct": resolution_pct,
        "p95_slo_ms": p95_slo_ms, "cache": cache, "confirm": confirm,
    }  # fmt: skip
    p = prediction
    bracket = {} if p is None else {"guess": p.guess, "low": p.low, "high": p.high}
    knees = {"p95": search(recorded, "p95", **common, **bracket, grow=grow_p95)}
    for objective in ("failures_0", "failures_1"):
        bad = [q.users for q in measured if meets(q, objective, p95_slo_ms) is False]
        # Probes stopped early for p95 without a failure: not settled, but the likeliest
        # bottom of the bracket (measured again if the search ends next to it).
        fp = failure_prediction
        below = min(bad, default=max_users if fp is None else fp.guess)
        clean = [q.users for q in measured if q.failure_pct == 0 and q.users < below]
        if fp is not None and fp.low < below:
            clean.append(fp.low)
        bracket = {"guess": None if bad else max_users, "low": max(clean, default=None)}
        if fp is not None and not bad:
            bracket.update(guess=fp.guess, high=fp.high)
        knees[objective] = search(recorded, objective, **common, **bracket)
    return {objective: knees[objective] for objective in OBJECTIVES}, measured


def scaled_steps(knees, steps=7, knee_step=3):
    """The article's evenly spaced steps (100..700), rescaled so that its WSGI knee step (the
    3rd: about 300 users) lands on this machine's WSGI knee: the first objective it broke,
    no failures or p95. None when neither knee was bounded by the search."""
    found = [k.users for k in (knees["failures_0"], knees["p95"]) if k.bounded]
    if not found:
        return None
    unit = max(1, round(min(found) / knee_step))
    return tuple(unit * i for i in range(1, steps + 1))
