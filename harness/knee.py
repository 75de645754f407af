"""Knee search: find where a server stops coping, on any machine, without guessing user counts.

A coarse pass doubles the users from a small start until an objective breaks, then bisection
between the last good and the first bad count narrows it to the resolution. Each probe is a
one-step run of its own (a fresh stack, so probes do not depend on each other) whose warm-up is
discarded like any step's. Three objectives share the probes: no failures (the article's
measure), at most 1 % failures, and a latency objective (p95 under a threshold, default 1 s),
since a server that answers everything in 10 s has not coped.

Near a knee a probe's verdict is noisy (whether PostgreSQL refuses one connection in 20 s is
luck), so the knee found is confirmed: measured `confirm` more times, and only a count that met
the objective every time it was measured is good. A confirmation that fails makes that count
bad and the bisection goes on below it.
"""

from dataclasses import dataclass

OBJECTIVES = ("failures_0", "failures_1", "p95")


@dataclass(frozen=True)
class Probe:
    users: int
    failure_pct: float  # NaN when no request completed: counts as broken
    p95_ms: float
    run_dir: str = ""


def meets(probe, objective, p95_slo_ms):
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


def search(measure, objective, start, max_users, resolution_pct=10.0, p95_slo_ms=1000.0,
           cache=None, confirm=1):  # fmt: skip
    """measure(users) -> Probe. Returns the Knee; probes land in cache (users -> [Probe, ...]),
    which several objectives can share so no user count is measured more than it needs."""
    cache = {} if cache is None else cache

    def good(users, times=1):
        probes = cache.setdefault(users, [])
        while len(probes) < times:
            probes.append(measure(users))
        return all(meets(probe, objective, p95_slo_ms) for probe in probes)

    last_good = first_bad = None
    users = start
    while users <= max_users:
        if good(users):
            last_good = users
            users *= 2
        else:
            first_bad = users
            break
    if first_bad is None or last_good is None:
        return Knee(objective, last_good, first_bad, 0)
    resolution = max(1, round(first_bad * resolution_pct / 100))
    low, high = last_good, first_bad
    while True:
        while high - low > resolution:
            middle = (low + high) // 2
            if good(middle):
                low = middle
            else:
                high = middle
        if low is None or good(low, times=1 + confirm):
            return Knee(objective, low, high, resolution)
        # Not confirmed: the bad side starts here; below, the largest count still good.
        high = low
        below = [u for u in cache if u < high and good(u)]
        low = max(below) if below else None
        if low is None:
            return Knee(objective, None, high, resolution)


def search_all(measure, start, max_users, resolution_pct=10.0, p95_slo_ms=1000.0, confirm=1):
    """The knee of every objective, and every probe measured (by users, then in order)."""
    cache = {}
    knees = {
        objective: search(
            measure, objective, start, max_users, resolution_pct, p95_slo_ms, cache, confirm
        )
        for objective in OBJECTIVES
    }
    return knees, [probe for users in sorted(cache) for probe in cache[users]]


def scaled_steps(knees, steps=7, knee_step=3):
    """The article's evenly spaced steps (100..700), rescaled so that its WSGI knee step (the
    3rd: about 300 users) lands on this machine's WSGI knee: the first objective it broke,
    no failures or p95. None when neither knee was bounded by the search."""
    found = [k.users for k in (knees["failures_0"], knees["p95"]) if k.bounded]
    if not found:
        return None
    unit = max(1, round(min(found) / knee_step))
    return tuple(unit * i for i in range(1, steps + 1))
