"""A run second by second, as Locust's own report draws it: requests/s, p50/p95, failures by
cause and users against time, beside the machine's and the components' samples.

Time is seconds since the first step started (timeline.csv); second k holds what happened in
[t0 + k, t0 + k + 1). A request belongs to the second it completed in (the log's ts).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from djbench.analysis.runs.metrics import (
    read_history,
    read_requests,
    read_resources,
    read_timeline,
)
from djbench.analysis.runs.samples import read_pg_activity, read_system

PERCENTILES = {"p50_ms": 50, "p95_ms": 95}


@dataclass(frozen=True)
class TimeSeries:
    t0: float  # epoch seconds of second 0
    steps: pd.DataFrame  # step, users, start, measure_from, end, complete: seconds since t0
    requests: pd.DataFrame  # per second: requests, failures, fail_<cause>..., p50_ms, p95_ms
    users: pd.DataFrame  # t, users (Locust's user count as its history recorded it)
    resources: pd.DataFrame | None  # per second: cpu_pct and rss_mb per component (columns)
    system: pd.DataFrame | None  # per second: system.csv's means, cpus, busy_pct
    pg: pd.DataFrame | None  # per second: active, total, max_connections


def _second(ts: pd.Series, t0: float) -> pd.Series:
    return np.floor(ts - t0).astype(int)


def request_seconds(requests: pd.DataFrame, t0: float, seconds: int) -> pd.DataFrame:
    """Per second 0..seconds-1: requests, failures, one fail_<cause> column per cause seen, and
    nearest-rank p50/p95 of the response times completed in that second (NaN when none)."""
    index = pd.RangeIndex(seconds, name="t")
    frame = requests.assign(t=_second(requests["ts"], t0))
    frame = frame[(frame["t"] >= 0) & (frame["t"] < seconds)]
    grouped = frame.groupby("t")
    out = pd.DataFrame(index=index)
    out["requests"] = grouped.size().reindex(index, fill_value=0)
    failed = frame[frame["ok"] != 1]
    out["failures"] = failed.groupby("t").size().reindex(index, fill_value=0)
    for cause in sorted(failed["cause"].unique()):
        counts = failed[failed["cause"] == cause].groupby("t").size()
        out[f"fail_{cause}"] = counts.reindex(index, fill_value=0)
    for column, q in PERCENTILES.items():
        values = grouped["response_time_ms"].apply(
            lambda s, q=q: np.percentile(s.to_numpy(dtype=float), q, method="inverted_cdf")
        )
        out[column] = values.reindex(index)
    return out


def _users(run_dir: Path, steps: pd.DataFrame, t0: float) -> pd.DataFrame:
    """Locust's user count from its history (it includes the ramp-up); without a history, each
    step's target from its start."""
    history = read_history(run_dir)
    if history is not None and "User Count" in history.columns:
        users = pd.to_numeric(history["User Count"], errors="coerce")
        return pd.DataFrame({"t": history["Timestamp"] - t0, "users": users}).dropna()
    return pd.DataFrame({"t": steps["start"], "users": steps["users"]})


def _per_second(frame: pd.DataFrame, t0: float, seconds: int, by: str | None = None):
    frame = frame.assign(t=_second(frame["ts"], t0)).drop(columns="ts")
    frame = frame[(frame["t"] >= 0) & (frame["t"] < seconds)]
    if by is None:
        return frame.groupby("t").mean()
    return frame.groupby(["t", by]).mean().unstack(by)


def time_series(run_dir: Path) -> TimeSeries:
    run_dir = Path(run_dir)
    timeline = read_timeline(run_dir)
    requests = read_requests(run_dir)
    t0 = float(timeline["start"].min())
    last = max(timeline["end"].max(), requests["ts"].max() if len(requests) else t0)
    seconds = int(np.floor(last - t0)) + 1
    steps = timeline.copy()
    for column in ("start", "measure_from", "end"):
        steps[column] = steps[column] - t0
    resources = read_resources(run_dir)
    if resources is not None:
        keep = ["ts", "component", "cpu_pct"] + (
            ["rss_mb"] if "rss_mb" in resources.columns else []
        )
        resources = _per_second(resources[keep], t0, seconds, by="component")
    system = read_system(run_dir)
    pg = read_pg_activity(run_dir)
    return TimeSeries(
        t0=t0,
        steps=steps,
        requests=request_seconds(requests, t0, seconds),
        users=_users(run_dir, steps, t0),
        resources=resources,
        system=None if system is None else _per_second(system, t0, seconds),
        pg=None if pg is None else _per_second(pg, t0, seconds),
    )
