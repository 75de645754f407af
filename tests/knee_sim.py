"""Simulated servers for the knee search: each probe produces requests over time, half a second
at a time as progress.follow polls, and asks the search's stop_early about each snapshot of its
steady window (MSER-5 truncation, as the real stack's Watcher does), so early stopping and the
steady-state rule are exercised as on the real stack."""

import math
import random
from collections import Counter

from djbench.search import early_stop, steady_state
from djbench.search.knee import OBJECTIVES, Probe

POLL_S = 0.5


class ClosedLoop:
    """A stack that completes at most `rate` iterations/s of `per_iteration` requests, driven by
    users who wait `wait_s` after each answer. By Little's law N users then queue for
    N / rate - wait_s per iteration, so a request's mean latency is that over per_iteration,
    never below base_ms. Within a poll, latencies spread evenly from 0.5 to 1.5 times the mean
    (spread=1; so a probe's p95 is 1.45 times it).

    fail(users, t): the share of requests failing at t seconds after the ramp-up; backlog(users,
    t): a factor on latency at t (a transient after the ramp-up, or a queue that only builds as
    the probe runs); noise: a seeded per-probe factor on latency (run-to-run variation) and
    per-request jitter.

    PostgreSQL (max_connections given): each request in flight holds per_in_flight connections
    on average, peaking at peak_ratio times the mean; requests fail (3 %) at loads whose peak
    passes the limit, so the failure knee is where peak_ratio x per_in_flight x (N - X Z)
    reaches it. The saturation probe sees these connections.
    """

    def __init__(self, rate=35.0, wait_s=1.5, per_iteration=3, base_ms=20.0, fail=None,
                 backlog=None, noise=0.0, seed=0, measure_s=20.0, overhead_s=12.0,
                 p95_slo_ms=1000.0, max_connections=None, per_in_flight=0.45,
                 peak_ratio=1.5, spread=1.0):  # fmt: skip
        self.rate, self.wait_s, self.per_iteration = rate, wait_s, per_iteration
        self.base_ms = base_ms
        self.max_connections, self.per_in_flight = max_connections, per_in_flight
        self.peak_ratio, self.spread = peak_ratio, spread
        self.fail = fail or self.connection_failures
        self.backlog = backlog or (lambda users, t: 1.0)
        self.noise, self.seed = noise, seed
        self.measure_s, self.overhead_s, self.slo = measure_s, overhead_s, p95_slo_ms
        self.calls = []
        self.seen = Counter()

    def mean_ms(self, users, wait_s=None):
        wait_s = self.wait_s if wait_s is None else wait_s
        queue_s = max(0.0, users / self.rate - wait_s) / self.per_iteration
        return max(self.base_ms, 1000 * queue_s)

    def requests_per_s(self, users, wait_s=None):
        wait_s = self.wait_s if wait_s is None else wait_s
        iteration_s = wait_s + self.per_iteration * self.mean_ms(users, wait_s) / 1000
        return self.per_iteration * min(self.rate, users / iteration_s)

    def in_flight(self, users, wait_s=None):
        """Users not waiting, by Little's law: N - X Z, X the iterations/s completed."""
        wait_s = self.wait_s if wait_s is None else wait_s
        return users - self.requests_per_s(users, wait_s) / self.per_iteration * wait_s

    def connection_failures(self, users, t):
        if self.max_connections is None:
            return 0.0
        peak = self.peak_ratio * self.per_in_flight * self.in_flight(users)
        return 0.03 if peak > self.max_connections else 0.0

    def saturation(self, users=20):
        """What the saturation probe measures: users with no wait."""
        mean = self.mean_ms(users, wait_s=0.0)
        connections = self.per_in_flight * self.in_flight(users, 0.0)
        return {
            "iterations_per_s": self.requests_per_s(users, 0.0) / self.per_iteration,
            "iteration_s": self.per_iteration * mean / 1000,
            "p95_ms": 1.45 * mean,
            "requests_per_iteration": self.per_iteration,
            "in_flight_mean": self.in_flight(users, 0.0),
            "pg_total_mean": connections,
            "pg_total_max": self.peak_ratio * connections,
        }

    def __call__(self, users, stop_early):
        self.calls.append(users)
        self.seen[users] += 1
        rng = random.Random(f"{self.seed}-{users}-{self.seen[users]}")
        factor = 1 + self.noise * rng.uniform(-1, 1)
        times, failed, offsets, owed, t, snapshot = [], [], [], 0.0, 0.0, None
        while t < self.measure_s - 1e-9:
            t += POLL_S
            n = max(1, round(self.requests_per_s(users) * POLL_S))
            mean = self.mean_ms(users) * self.backlog(users, t) * factor
            owed += n * self.fail(users, t)
            failing, owed = math.floor(owed), owed - math.floor(owed)
            for j in range(n):
                spread = 1 + self.spread * (j / max(1, n - 1) - 0.5)
                jitter = 1 + self.noise * rng.gauss(0, 1) if self.noise else 1
                times.append(mean * spread * max(0.1, jitter))
                failed.append(j >= n - failing)
                offsets.append(t - POLL_S + POLL_S * (j + 1) / n)
            current, cut = early_stop.steady_window(times, failed, offsets, self.measure_s)
            if stop_early(current):
                snapshot = current
                break
        window, cut = early_stop.steady_window(times, failed, offsets, self.measure_s)
        if snapshot is not None:
            window = snapshot
        early = {}
        if snapshot is not None:
            early = early_stop.settled(OBJECTIVES, snapshot, self.slo)
            early = {name: v for name, v in early.items() if v is not None}
        kept = window.times_ms
        return Probe(
            users,
            100 * window.failures / len(kept) if kept else math.nan,
            steady_state.nearest_rank(kept, 0.95),
            requests=len(kept),
            measured_s=round(window.elapsed_s, 2),
            duration_s=self.overhead_s + t,
            stopped_early=snapshot is not None,
            early=early,
            unsettled=window.unsettled,
            truncation_s=round(t - window.elapsed_s, 2) if kept else t,
            truncated_requests=len(times) - len(kept),
            transient_failures=sum(failed) - window.failures,
            sequential=early_stop.sequential_record(window),
        )
