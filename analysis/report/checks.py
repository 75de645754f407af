"""What a reader must be warned about before trusting a run's numbers."""

import math

import numpy as np
import pandas as pd

from djbench.analysis.runs.metrics import generator_reasons, read_requests
from djbench.analysis.runs.postgres_log import read_refusals
from djbench.analysis.runs.run import Run
from djbench.contracts.files import LOCUST_STATS, WORKER_EVENTS

# Locust writes its cumulative counters once a second, stamped with the whole second, so each end
# of a window can be off by up to one interval's requests; beyond that plus this share of the
# step's requests the two disagree for real.
HISTORY_TOLERANCE = 0.02
HISTORY_INTERVAL_S = 1.0
# With workers, the master's counters only move when a worker reports: every 3 s in Locust.
WORKER_REPORT_INTERVAL_S = 3.0


def _step_name(row) -> str:
    return f"step {int(row['step'])} ({int(row['users'])} users)"


def _completeness(run: Run) -> list[str]:
    out = []
    if run.meta.get("complete") is False:
        out.append("the run did not finish (meta.json: complete is false); partial results shown")
    for _, row in run.steps[run.steps["complete"] == 0].iterrows():
        out.append(f"{_step_name(row)} was cut short: its window is {row['window_s']:.1f} s")
    ran = set(run.steps["users"].astype(int))
    missing = [u for u in run.planned_users if u not in ran]
    if missing:
        out.append(f"planned but never run: {', '.join(map(str, missing))} users")
    for _, row in run.steps[run.steps["requests"] == 0].iterrows():
        out.append(f"{_step_name(row)}: no request completed in its measured window")
    return out


def _integrity(run: Run) -> list[str]:
    integrity = run.meta.get("integrity")
    if not integrity:
        return ["no integrity check recorded (votes in the database were not compared)"]
    if integrity.get("ok"):
        return []
    counts = ", ".join(
        f"{key} {integrity[key]}"
        for key in ("votes_in_db", "votes_posted_ok", "vote_posts_failed")
        if key in integrity
    )
    return [f"integrity check failed: {integrity.get('message', '')} ({counts})"]


def _history(run: Run) -> list[str]:
    out = []
    workers = (run.path / WORKER_EVENTS).exists()
    interval = WORKER_REPORT_INTERVAL_S if workers else HISTORY_INTERVAL_S
    for _, row in run.steps.iterrows():
        if math.isnan(row["history_requests"]):
            continue
        rps = row["rps"] if not math.isnan(row["rps"]) else 0.0
        allowed = HISTORY_TOLERANCE * row["requests"] + 2 * interval * rps
        for ours, theirs, what in (
            (row["requests"], row["history_requests"], "requests"),
            (row["failures"], row["history_failures"], "failures"),
        ):
            if abs(ours - theirs) > allowed:
                out.append(
                    f"{_step_name(row)}: the request log has {int(ours)} {what}, Locust's "
                    f"history {int(theirs)} (more apart than {HISTORY_TOLERANCE * 100:g} % of "
                    f"requests plus {2 * interval:g} seconds of traffic)"
                )
    return out


def _locust_bucket(ms: float) -> float:
    """Locust keeps response times to two significant digits (exact below 100 ms)."""
    return 1.0 if ms < 100 else 10.0 ** (math.floor(math.log10(ms)) - 1)


def _locust_stats(run: Run) -> list[str]:
    """The request log against Locust's own totals for the whole run (locust_stats.csv): the
    same requests, the same percentiles to Locust's rounding. Rows Locust never counted (a
    process that is not one of the run's workers sending made-up ones) or lost rows show here.
    The log may hold more: a request per user still in flight when Locust wrote its totals and
    stopped its users, and with workers their last report's worth."""
    path = run.path / LOCUST_STATS
    if run.meta.get("complete") is False or not path.exists():
        return []
    try:
        stats = pd.read_csv(path)
        total = stats[stats["Name"] == "Aggregated"].iloc[0]
        theirs = int(total["Request Count"])
    except (ValueError, KeyError, IndexError, pd.errors.ParserError):
        return [f"{LOCUST_STATS} not read: no Aggregated row"]
    times = read_requests(run.path)["response_time_ms"].to_numpy()
    out = []
    # With workers, the master counts what they report every few seconds: the last report's
    # worth of the final step may be missing from its totals.
    workers = (run.path / WORKER_EVENTS).exists()
    interval = WORKER_REPORT_INTERVAL_S if workers else HISTORY_INTERVAL_S
    rps = float(run.steps["rps"].iloc[-1]) if len(run.steps) else 0.0
    rps = 0.0 if math.isnan(rps) else rps
    extra = HISTORY_TOLERANCE * theirs + 2 * interval * rps + max(run.planned_users, default=0)
    if not theirs <= times.size <= theirs + extra:
        out.append(
            f"the request log has {times.size} requests in all, Locust's own stats {theirs}: "
            "rows Locust did not count, or counted requests without a row"
        )
    elif times.size:
        for label, q in (("50%", 50), ("95%", 95), ("99%", 99)):
            ours, locust = np.percentile(times, q, method="inverted_cdf"), float(total[label])
            if abs(ours - locust) > 2 * _locust_bucket(locust) + HISTORY_TOLERANCE * locust:
                out.append(f"the request log's p{q} is {ours:.0f} ms, Locust's own {locust:.0f} "
                           "ms: their response times are not the same requests'")  # fmt: skip
    return out


def _generator(run: Run) -> list[str]:
    """One line per step where the load generator, not only the server, shaped the numbers."""
    if "generator_limited" not in run.steps.columns:
        return []
    return [
        f"{_step_name(row)}: LOAD GENERATOR LIMITED: {'; '.join(generator_reasons(row))}; this "
        "step measured Locust as much as the server"
        for _, row in run.steps[run.steps["generator_limited"] == 1].iterrows()
    ]


def _postgres_refusals(run: Run) -> list[str]:
    out = []
    found = read_refusals(run.path)
    if found is not None and found.unreadable.any():
        out.append(
            f"{int(found.unreadable.sum())} PostgreSQL refusals in the log carry a time stamp in "
            f"a zone that could not be resolved ({found.unreadable_example}): they are in no "
            "step's count"
        )
    if "pg_refused" not in run.steps.columns or not run.steps["pg_refused"].sum():
        return out
    steps = run.steps[run.steps["pg_refused"] > 0]
    where = ", ".join(
        f"{int(row['pg_refused'])} at {int(row['users'])} users" for _, row in steps.iterrows()
    )
    limit = (run.meta.get("postgres") or {}).get("max_connections", "?")
    return out + [
        f"PostgreSQL refused connections in the measured windows ({where}; max_connections "
        f"{limit}): the app opened more database connections than the database allows, and "
        "users saw HTTP 500 (each refusal is counted in the step where the HTTP 500 it caused "
        "was answered)"
    ]


def _lost_workers(run: Run) -> list[str]:
    if "workers_missing" not in run.steps.columns:
        return []
    return [
        f"{_step_name(row)}: {int(row['workers_missing'])} Locust worker(s) lost by its end "
        "(workers.csv): it ran fewer users than planned, or the same users on fewer cores"
        for _, row in run.steps[run.steps["workers_missing"] > 0].iterrows()
    ]


def run_warnings(run: Run) -> list[str]:
    """Every warning for one run, most fundamental first; the producer's own warnings last."""
    producer = [str(w) for w in run.meta.get("warnings") or []]
    return (
        _completeness(run)
        + _integrity(run)
        + _history(run)
        + _locust_stats(run)
        + _generator(run)
        + _lost_workers(run)
        + _postgres_refusals(run)
        + producer
    )
