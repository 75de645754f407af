"""Per-step numbers of one run: the single definition behind `steps.csv` and every report.

A step's measured window is [measure_from, end) from `timeline.csv`; the producer has already
left ramp-up and warm-up out of it. Counts and latency percentiles come from the per-request log
(`requests*.csv`), not from Locust's `_stats_history.csv`: the percentiles there cover a ~10 s
trailing window and are bucketed to about two significant figures, so they cannot describe a
step. The history's cumulative counters are only used as a cross-check.
"""

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from djbench.analysis.errors import AnalysisError
from djbench.analysis.files import numeric, read_csv
from djbench.analysis.runs import accounting, carryover
from djbench.analysis.runs.postgres_log import refusals_per_step
from djbench.analysis.runs.samples import step_columns
from djbench.contracts import defaults
from djbench.contracts.documents import DocumentError, load_meta, meta_config
from djbench.contracts.files import (
    HISTORY_COLUMNS,
    LAG_COLUMNS,
    LAG_INTERVAL_S,
    LAG_LOG_PREFIX,
    LOCUST_HISTORY,
    NO_ITERATION,
    REQUEST_COLUMNS,
    REQUEST_COLUMNS_REQUIRED,
    REQUEST_LOG_PREFIX,
    RESOURCE_LOG_PREFIX,
    TIMELINE,
    TIMELINE_COLUMNS,
    TIMELINE_COLUMNS_REQUIRED,
    WORKER_EVENT_COLUMNS,
    WORKER_EVENTS,
    process_log_glob,
)

RESOURCE_COLUMNS_REQUIRED = ["ts", "component", "cpu_pct"]
TARGET_COLUMN = TIMELINE_COLUMNS[-1]  # the open model's arrival rate; absent or empty: closed

# Load-generator health. A step is flagged `generator_limited` when:
# - Locust started fewer iterations than its users offer with an instant generator (below
#   GENERATOR_MIN_PCT), judged only when the window spans MIN_PERIODS iteration periods: in a
#   shorter one, users that just arrived and iterations still in flight skew the count (healthy
#   steps measured 93-106 %; the margin is for few users and random waits); under the open
#   model, fewer than its target rate, judged once the window spans one pacing period (every
#   user then had its turn: the rate started is exact, not a sample);
# - its event loop woke up late: every latency it measured may include up to that delay, so the
#   p95 of the lag is held against the step's median latency (LAG_SHARE of it) above a floor
#   under which timer granularity dominates (LOOP_LAG_FLOOR_MS);
# - it averaged near one core (LOCUST_CPU_WARN_PCT, Locust's own warning threshold).
GENERATOR_MIN_PCT = 80.0
MIN_PERIODS = 5
LAG_SHARE = 0.10
LOOP_LAG_FLOOR_MS = 20.0
LOCUST_CPU_WARN_PCT = 90.0
# For runs recorded before meta.json carried the wait.
DEFAULT_WAIT_S = defaults.WAIT_S

# A failed request whose producer gave no cause still has to land in some fail_ column.
UNCLASSIFIED = "unclassified"

BASE_COLUMNS = [
    "step",
    "users",
    "complete",
    "window_s",
    "requests",
    "failures",
    "failure_pct",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "vote_posts",
    "vote_posts_ok",
    "iterations_per_s",
    "offered_iter_s",
    "target_iter_s",
    "started_iter_s",
    "generator_pct",
    "iteration_period_s",
    "loop_lag_p95_ms",
    "loop_lag_max_ms",
    "generator_limited",
    "history_requests",
    "history_failures",
    *accounting.COLUMNS,
    *carryover.COLUMNS,
]


def read_timeline(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / TIMELINE
    frame = read_csv(path, TIMELINE_COLUMNS_REQUIRED)
    if TARGET_COLUMN not in frame.columns:
        frame[TARGET_COLUMN] = np.nan
    frame = numeric(frame, TIMELINE_COLUMNS, path)
    for name in ("step", "users", "complete"):
        if frame[name].isna().any():
            raise AnalysisError(f"{path}: column {name} has an empty value")
        frame[name] = frame[name].astype(int)
    return frame.sort_values("step", kind="stable").reset_index(drop=True)


def read_requests(run_dir: Path) -> pd.DataFrame:
    """All request logs of a run (one per Locust process), concatenated and sorted by time.

    `source` numbers the files: iteration ids are unique within one process's file only. A log
    written before the `iteration` column existed gets NaN there.
    """
    frames = []
    paths = sorted(Path(run_dir).glob(process_log_glob(REQUEST_LOG_PREFIX)))
    for source, path in enumerate(paths):
        frame = read_csv(
            path, REQUEST_COLUMNS_REQUIRED, dtype={"name": str, "method": str, "cause": str}
        )
        if "iteration" not in frame.columns:
            frame["iteration"] = np.nan
        frame = numeric(frame, ["ts", "status", "ok", "response_time_ms", "iteration"], path)
        frames.append(frame[REQUEST_COLUMNS].assign(source=source))
    if not frames:
        columns = [*REQUEST_COLUMNS, "source"]
        frames = [pd.DataFrame({name: pd.Series(dtype=float) for name in columns})]
    requests = pd.concat(frames, ignore_index=True)
    requests["cause"] = requests["cause"].fillna("").astype(str).str.strip()
    requests["name"] = requests["name"].fillna("").astype(str)
    requests["method"] = requests["method"].fillna("").astype(str).str.upper()
    failed = requests["ok"] != 1
    requests.loc[failed & (requests["cause"] == ""), "cause"] = UNCLASSIFIED
    return requests.sort_values("ts", kind="stable").reset_index(drop=True)


def read_loop_lag(run_dir: Path) -> pd.DataFrame | None:
    """Every Locust process's event-loop lag samples (`process`: its log's name), or None for a
    run without them."""
    paths = sorted(Path(run_dir).glob(process_log_glob(LAG_LOG_PREFIX)))
    if not paths:
        return None
    frames = [
        numeric(read_csv(path, LAG_COLUMNS), LAG_COLUMNS, path).assign(process=path.stem)
        for path in paths
    ]
    return pd.concat(frames, ignore_index=True)


def read_worker_events(run_dir: Path) -> pd.DataFrame | None:
    """Locust workers that joined, were refused, went missing or came back (workers.csv, on the
    master's clock); None for a run without workers."""
    path = Path(run_dir) / WORKER_EVENTS
    if not path.exists():
        return None
    frame = read_csv(path, WORKER_EVENT_COLUMNS, dtype={"worker": str, "event": str})
    return numeric(frame, ["ts"], path)


def workers_missing(events: pd.DataFrame, t: float) -> int:
    """Workers lost by time t and not back: the step then ran fewer users than planned, or
    the same users on fewer cores."""
    before = events[events["ts"] < t]
    return int((before["event"] == "lost").sum() - (before["event"] == "back").sum())


def _run_config(run_dir: Path) -> dict:
    """The run's settings as meta.json records them; {} when it cannot be read."""
    try:
        return meta_config(load_meta(run_dir))
    except DocumentError:
        return {}


def mean_wait_s(run_dir: Path) -> float:
    """The mean of the users' wait between iterations, as recorded in meta.json."""
    low, high = _run_config(run_dir).get("wait_s") or DEFAULT_WAIT_S
    return (float(low) + float(high)) / 2


def pacing_s(run_dir: Path) -> float:
    """The open model's seconds between one user's iteration starts (NaN: closed loop)."""
    config = _run_config(run_dir)
    return float(config.get("pacing_s", np.nan)) if config.get("load_model") == "open" else np.nan


def read_history(run_dir: Path) -> pd.DataFrame | None:
    """The Aggregated rows of Locust's history, or None when there is no history to check.

    A run with a fresh stack per step ran Locust once per step, each run's counters from zero
    in the same file: only the last one is left, so there is nothing to check against."""
    path = Path(run_dir) / LOCUST_HISTORY
    if not path.exists() or _run_config(run_dir).get("fresh_stack_per_step"):
        return None
    frame = read_csv(path, HISTORY_COLUMNS, dtype={"Name": str})
    frame = frame[frame["Name"] == "Aggregated"].copy()
    if frame.empty:
        return None
    numeric(frame, ["Timestamp", "Total Request Count", "Total Failure Count"], path)
    return frame.sort_values("Timestamp", kind="stable").reset_index(drop=True)


def read_resources(run_dir: Path) -> pd.DataFrame | None:
    """resources.csv (the host's components), and resources-<process>.csv: what each Locust
    worker reported of itself, on the master's clock."""
    paths = sorted(Path(run_dir).glob(process_log_glob(RESOURCE_LOG_PREFIX)))
    if not paths:
        return None
    frames = []
    for path in paths:
        frame = read_csv(path, RESOURCE_COLUMNS_REQUIRED, dtype={"component": str})
        frames.append(numeric(frame, ["ts", "cpu_pct"], path))
    frame = pd.concat(frames, ignore_index=True)
    frame["component"] = frame["component"].fillna("").astype(str)
    return frame


def column_name(label: str) -> str:
    """A cause or component label as it appears inside a column name (`fail_http_502`)."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_") or UNCLASSIFIED


def _percentiles(times: np.ndarray) -> dict[str, float]:
    if times.size == 0:
        return {"p50_ms": np.nan, "p95_ms": np.nan, "p99_ms": np.nan, "max_ms": np.nan}
    # Nearest rank: every value reported is a response time that was actually observed.
    p50, p95, p99 = np.percentile(times, [50, 95, 99], method="inverted_cdf")
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": times.max()}


def _cumulative_at(history: pd.DataFrame, t: float) -> tuple[float, float]:
    """Locust's cumulative (requests, failures) as of the last history row at or before `t`."""
    rows = history[history["Timestamp"] <= t]
    if rows.empty:
        # The counters start at zero with the test, before the first row is written.
        return 0.0, 0.0
    last = rows.iloc[-1]
    return float(last["Total Request Count"]), float(last["Total Failure Count"])


def _history_counts(history: pd.DataFrame | None, start: float, end: float) -> dict[str, float]:
    if history is None:
        return {"history_requests": np.nan, "history_failures": np.nan}
    req_end, fail_end = _cumulative_at(history, end)
    req_start, fail_start = _cumulative_at(history, start)
    return {"history_requests": req_end - req_start, "history_failures": fail_end - fail_start}


def _generator(step, window, window_s, lag, wait_s, pacing) -> dict:
    """Offered vs achieved iterations, and how late the generator's event loop woke up.

    Each iteration starts with the detail GET; a user with an instant generator starts one every
    wait + the iteration's response times, so its users offer users / (wait + mean iteration
    time) per second. Requests outside iterations (the index page on start) are left out.
    Under the open model the offer is the target rate, one iteration per user and pacing period.
    Another scenario's iterations (a project's pages: one GET each) are the distinct iteration
    ids of its requests in the window.
    """
    in_iterations = window[window["name"].isin(accounting.ITERATION_REQUESTS)]
    started = int((window["name"] == "detail").sum())
    if in_iterations.empty and "iteration" in window:
        in_iterations = window[window["iteration"].fillna(NO_ITERATION) != NO_ITERATION]
        started = int((~in_iterations[["source", "iteration"]].duplicated()).sum())
    offered = period = np.nan
    target = float(step.get(TARGET_COLUMN, np.nan))
    if target > 0:
        offered, period = target, pacing
    elif started:
        period = wait_s + in_iterations["response_time_ms"].sum() / 1000 / started
        offered = int(step["users"]) / period
    started_rate = started / window_s if window_s > 0 else np.nan
    # Every generator process is judged on its own: the worst one's p95, not a p95 of all
    # samples, in which one starved process among several would be diluted.
    p95 = worst = np.nan
    if lag is not None:
        start, end = float(step["measure_from"]), float(step["end"])
        # A sample is stamped when the loop woke up; a stall that began before the window's end
        # belongs to it even if the loop woke up after (a loop stalled through a whole window
        # writes nothing in it).
        slept_from = lag["ts"] - lag["lag_ms"] / 1000 - LAG_INTERVAL_S
        window = lag[(lag["ts"] >= start) & ((lag["ts"] < end) | (slept_from < end))]
        if not window.empty:
            p95 = max(
                np.percentile(lags.to_numpy(dtype=float), 95, method="inverted_cdf")
                for _, lags in window.groupby("process")["lag_ms"]
            )
            worst = window["lag_ms"].max()
    return {
        "offered_iter_s": offered,
        "target_iter_s": target if target > 0 else np.nan,
        "started_iter_s": started_rate,
        "generator_pct": 100 * started_rate / offered if offered > 0 else np.nan,
        "iteration_period_s": period,
        "loop_lag_p95_ms": p95,
        "loop_lag_max_ms": worst,
    }


def generator_reasons(row) -> list[str]:
    """Why the load generator, not only the server, shaped this step's numbers; empty if not."""
    why = []
    period, pct = row.get("iteration_period_s", np.nan), row.get("generator_pct", np.nan)
    open_model = row.get(TARGET_COLUMN, np.nan) > 0
    periods = 1 if open_model else MIN_PERIODS
    if row["window_s"] >= periods * period and pct < GENERATOR_MIN_PCT:
        offer = "target rate (open model)" if open_model else "its users offered"
        why.append(
            f"it started {row['started_iter_s']:.1f} iterations/s of the "
            f"{row['offered_iter_s']:.1f} {offer} ({pct:.0f} %)"
        )
    lag, p50 = row.get("loop_lag_p95_ms", np.nan), row["p50_ms"]
    if lag > max(LOOP_LAG_FLOOR_MS, LAG_SHARE * p50):  # p50 NaN (no request): the floor
        worst = row["loop_lag_max_ms"]
        late = f"its event loop woke up {lag:.0f} ms late (p95; max {worst:.0f} ms)"
        why.append(
            f"{late}: it measured no request"
            if p50 != p50
            else f"{late} against a median latency of {p50:.0f} ms: its own delay is in its "
            "latencies"
        )
    # One Locust process runs on one core: the busiest process is the one to judge.
    cpus = [row[k] for k in row.keys() if str(k).startswith("cpu_locust") and row[k] == row[k]]
    if cpus and max(cpus) >= LOCUST_CPU_WARN_PCT:
        why.append(f"a Locust process averaged {max(cpus):.0f} % CPU, near one core")
    return why


def _step_row(step, window, history, causes, resources, lag, wait_s, pacing, counts) -> dict:
    start, end = float(step["measure_from"]), float(step["end"])
    window_s = max(end - start, 0.0)
    count = len(window)
    failed = window[window["ok"] != 1]
    votes = window[(window["name"] == "vote") & (window["method"] == "POST")]
    row = {
        "step": int(step["step"]),
        "users": int(step["users"]),
        "complete": int(step["complete"]),
        "window_s": window_s,
        "requests": count,
        "failures": len(failed),
        "failure_pct": 100.0 * len(failed) / count if count else np.nan,
        "rps": count / window_s if window_s > 0 else np.nan,
        **_percentiles(window["response_time_ms"].to_numpy(dtype=float)),
        "vote_posts": len(votes),
        "vote_posts_ok": int((votes["ok"] == 1).sum()),
        "iterations_per_s": len(votes) / window_s if window_s > 0 else np.nan,
        **_generator(step, window, window_s, lag, wait_s, pacing),
        **_history_counts(history, start, end),
        **counts,
    }
    for cause in causes:
        # Two spellings of one cause may share a column; add them up rather than overwrite.
        name = f"fail_{column_name(cause)}"
        row[name] = row.get(name, 0) + int((failed["cause"] == cause).sum())
    if resources is not None:
        in_window = resources[(resources["ts"] >= start) & (resources["ts"] < end)]
        means = in_window.groupby("component")["cpu_pct"].mean()
        for component in sorted(resources["component"].unique()):
            row[f"cpu_{column_name(component)}_pct"] = means.get(component, np.nan)
    row["generator_limited"] = int(bool(generator_reasons(row)))
    return row


def step_metrics(run_dir: Path) -> pd.DataFrame:
    """One row per step in timeline.csv: BASE_COLUMNS, then fail_<cause>, cpu_<component>_pct,
    pg_refused (PostgreSQL's "too many clients" refusals, each in the window of the request it
    failed: analysis/postgres_log.py) when the run has a PostgreSQL log, and the per-step
    summaries of system.csv and pg_activity.csv when it has them (analysis.samples).

    failure_pct counts every request; article_failure_pct counts as the article did, two samples
    per iteration (analysis/accounting.py); inflight_* show what the window inherited when it
    opened (analysis/carryover.py).

    Columns fail_<cause> cover every cause seen anywhere in the run's request log, so the set of
    columns does not depend on where the windows fall. Percentiles are nearest-rank over all
    requests of the window, failed ones included: a timed-out request is the slowest experience.
    """
    run_dir = Path(run_dir)
    timeline = read_timeline(run_dir)
    requests = read_requests(run_dir)
    history = read_history(run_dir)
    resources = read_resources(run_dir)
    lag, wait_s, pacing = read_loop_lag(run_dir), mean_wait_s(run_dir), pacing_s(run_dir)
    causes = sorted(requests.loc[requests["ok"] != 1, "cause"].unique())
    ts = requests["ts"].to_numpy(dtype=float)
    samples = accounting.Accounting(requests)
    rows = []
    for _, step in timeline.iterrows():
        start, end = float(step["measure_from"]), float(step["end"])
        # side="left" on both ends gives the half-open window [measure_from, end).
        lo = np.searchsorted(ts, start, side="left")
        hi = np.searchsorted(ts, end, side="left")
        window = requests.iloc[lo : max(lo, hi)]
        counts = {**samples.window(start, end), **carryover.carry_over(requests, start, end)}
        rows.append(
            _step_row(step, window, history, causes, resources, lag, wait_s, pacing, counts)
        )
    columns = BASE_COLUMNS + sorted({f"fail_{column_name(c)}" for c in causes})
    if resources is not None:
        columns += sorted({f"cpu_{column_name(c)}_pct" for c in resources["component"].unique()})
    steps = pd.DataFrame(rows, columns=columns)
    events = read_worker_events(run_dir)
    if events is not None:
        steps["workers_missing"] = [workers_missing(events, end) for end in timeline["end"]]
    refused = refusals_per_step(run_dir, timeline, requests)
    if refused is not None:
        steps["pg_refused"] = refused
    for column, values in step_columns(run_dir, timeline).items():
        steps[column] = values
    return steps


def write_steps(run_dir: Path) -> Path:
    """Write `steps.csv` into the run directory and return its path.

    steps.csv is derived data, so rewriting it is safe; it goes through a temporary file so a
    reader never sees half of it.
    """
    run_dir = Path(run_dir)
    steps = step_metrics(run_dir)
    path = run_dir / "steps.csv"
    tmp = run_dir / f".steps.csv.{os.getpid()}.tmp"
    try:
        steps.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
    return path


def knee(steps: pd.DataFrame, threshold_pct: float, column: str = "failure_pct") -> int | None:
    """The largest user count such that it and every earlier step stayed at or under the threshold
    (of `column`: failure_pct per request, article_failure_pct in the article's accounting).

    A step with no request in its window breaks the run of good steps: no evidence is not
    evidence of no failure. A frame without a `requests` column (a published table) counts every
    row as measured. None when the first step already breaches.
    """
    order = steps.sort_values("step" if "step" in steps.columns else "users", kind="stable")
    found = None
    for _, row in order.iterrows():
        measured = "requests" not in order.columns or row["requests"] > 0
        if not (measured and row[column] <= threshold_pct):
            break
        found = int(row["users"])
    return found
