"""PostgreSQL's refusals of new connections, read from a run's PostgreSQL log.

When the app opens more connections than `max_connections`, PostgreSQL answers "sorry, too many
clients already" and the user only sees an HTTP 500; counting the refusals per step tells that
story apart from a server that failed on its own.

Each refusal is counted in the step of the request it failed: PostgreSQL stamps a refusal when
it refuses, the request log stamps a request when its answer arrives, so near a window's edge the
two would fall into different steps. A refusal is matched to a failed request with HTTP status
500 that was in flight when it happened (sent at ts - response time, answered at ts) and moves
to that request's ts; one refusal per request, the request that ended first when several could
be it. A refusal that no failed request explains keeps its own time.
"""

import heapq
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from djbench.contracts.documents import DocumentError, load_meta

TOO_MANY_CLIENTS = "sorry, too many clients already"
LOG_NAMES = ("postgres.log", "db.log")  # native mode, compose mode (`docker compose logs db`)
# '%m' and '%t' print the time in log_timezone with its abbreviation ('2026-11-25 17:05:01.123
# UTC', 'EST', 'CET') or, for a zone that has none, its offset ('+0530', '-03'). Compose logs
# put 'db-1  | ' in front.
STAMP = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ([A-Za-z]{2,6}|[+-]\d\d(?::?\d\d)?)(?=\s|$)"
)
UTC_NAMES = {"UTC", "UCT", "GMT", "Z"}
# Both logs print milliseconds: a refusal may be stamped up to a millisecond after the answer
# it caused (or before its request was sent); a few more for the two writers' clocks.
MATCH_SLACK_S = 0.005


@dataclass
class Refusals:
    times: np.ndarray  # epoch seconds; NaN where the time stamp could not be read
    unreadable_example: str | None  # a zone (or "no time stamp") that could not be read

    @property
    def unreadable(self) -> np.ndarray:
        return np.isnan(self.times)


def host_zones() -> tuple[ZoneInfo, ...]:
    """This machine's time zone: where a PostgreSQL left at initdb's default logged (runs
    recorded before the cluster was told to log in UTC)."""
    keys = [os.environ.get("TZ", "").lstrip(":")]
    try:
        keys.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    try:
        keys.append(os.readlink("/etc/localtime").partition("zoneinfo/")[2])
    except OSError:
        pass
    zones = []
    for key in filter(None, keys):
        try:
            zones.append(ZoneInfo(key))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)


def _epoch(stamp: str, zone: str, zones) -> float:
    naive = datetime.fromisoformat(stamp)
    if zone in UTC_NAMES:
        return naive.replace(tzinfo=UTC).timestamp()
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        return naive.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset)).timestamp()
    # An abbreviation means something only in its zone (IST is India's or Ireland's); there,
    # it also tells which of a repeated hour (EDT or EST) was meant.
    for tz in zones:
        for fold in (0, 1):
            aware = naive.replace(tzinfo=tz, fold=fold)
            if aware.tzname() == zone:
                return aware.timestamp()
    return math.nan


def read_refusals(run_dir: Path, zones=None) -> Refusals | None:
    """Every refusal in the run's PostgreSQL logs; None when the run has no PostgreSQL log.
    zones: where to resolve a zone abbreviation (keys or ZoneInfo); default: host_zones()."""
    logs = [Path(run_dir) / "logs" / name for name in LOG_NAMES]
    logs = [log for log in logs if log.exists()]
    if not logs:
        return None
    zones = host_zones() if zones is None else tuple(
        z if isinstance(z, ZoneInfo) else ZoneInfo(z) for z in zones
    )  # fmt: skip
    times, example = [], None
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if TOO_MANY_CLIENTS not in line:
                continue
            match = STAMP.search(line)
            epoch = _epoch(*match.groups(), zones) if match else math.nan
            if math.isnan(epoch) and example is None:
                example = match.group(2) if match else "no time stamp"
            times.append(epoch)
    # A database on a host of its own stamps on its own clock (distributed mode measures the
    # offset: its clock minus the controller's) and every other time is on the controller's.
    offset = _database_clock_offset(run_dir)
    return Refusals(np.array(times, dtype=float) - offset, example)


def _database_clock_offset(run_dir: Path) -> float:
    try:
        meta = load_meta(run_dir)
        return float((meta.get("postgres") or {}).get("clock_offset_s") or 0.0)
    except (DocumentError, ValueError, TypeError, AttributeError):
        return 0.0


def refusal_times(run_dir: Path, zones=None) -> np.ndarray | None:
    """Epoch seconds of every refusal (NaN when its time stamp cannot be read); None when the
    run has no PostgreSQL log."""
    found = read_refusals(run_dir, zones)
    return None if found is None else found.times


def aligned(times: np.ndarray, requests: pd.DataFrame) -> np.ndarray:
    """`times` with each refusal moved to the answer of the failed request it caused (see the
    module's docstring)."""
    failed = requests[requests["status"] == 500]
    ends = failed["ts"].to_numpy(dtype=float)
    starts = ends - failed["response_time_ms"].to_numpy(dtype=float) / 1000
    by_start = np.argsort(starts, kind="stable")
    out = times.copy()
    in_flight, i = [], 0  # answer times of requests sent by now (a heap)
    for k in np.argsort(times, kind="stable"):  # NaN sorts last
        t = times[k]
        if math.isnan(t):
            break
        while i < len(by_start) and starts[by_start[i]] - MATCH_SLACK_S <= t:
            heapq.heappush(in_flight, ends[by_start[i]])
            i += 1
        while in_flight and in_flight[0] + MATCH_SLACK_S < t:
            heapq.heappop(in_flight)  # answered before this refusal: it cannot be its cause
        if in_flight:
            out[k] = heapq.heappop(in_flight)
    return out


def refusals_per_step(run_dir: Path, timeline: pd.DataFrame, requests: pd.DataFrame, zones=None):
    """Refusals in each step's measured window [measure_from, end), aligned to the requests they
    failed; None when the run has no PostgreSQL log."""
    found = read_refusals(run_dir, zones)
    if found is None:
        return None
    at = aligned(found.times, requests)
    return [
        int(((at >= lo) & (at < hi)).sum())
        for lo, hi in zip(timeline["measure_from"], timeline["end"], strict=True)
    ]
