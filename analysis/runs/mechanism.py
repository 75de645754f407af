"""The mechanism per step: what the server ran at once and what PostgreSQL held for it.

From server_processes.csv (djbench/sampling/server_processes.py) and pg_activity.csv, over each
step's measured window [measure_from, end), only the processes that run the app (`serving`):

- server_processes: how many ran the app (mean over the samples);
- threads_per_process_mean / _max: threads of one such process (mean over processes and
  samples; the most any had);
- inflight_per_process_mean: requests the app was running at once in one process (the mean of
  each sample's mean since the previous sample, exact from the middleware's integral), and
  inflight_per_process_max (the most one process held in any sample), inflight_app_mean: the
  same mean summed over the processes;
- pg_idle_*, pg_idle_in_transaction_*: connections open but not running a query, beside
  pg_active_* and pg_total_* (analysis/runs/samples.py), and pg_max_connections;
- pg_opened_per_s: sessions PostgreSQL opened per second (pg_stat_database.sessions over the
  window's first and last samples).
Columns are present only when the run has the file (or, for PostgreSQL's states, the column).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from djbench.analysis.files import numeric, read_csv
from djbench.contracts.files import PG_STATE_COLUMNS, SERVER_PROCESS_COLUMNS, SERVER_PROCESSES

SERVER_STEP_COLUMNS = [
    "server_processes",
    "threads_per_process_mean",
    "threads_per_process_max",
    "inflight_per_process_mean",
    "inflight_per_process_max",
    "inflight_app_mean",
]
PG_STATE_STEP_COLUMNS = [
    "pg_idle_mean",
    "pg_idle_max",
    "pg_idle_in_transaction_mean",
    "pg_idle_in_transaction_max",
    "pg_max_connections",
    "pg_opened_per_s",
]


def read_server_processes(run_dir: Path) -> pd.DataFrame | None:
    path = Path(run_dir) / SERVER_PROCESSES
    if not path.exists():
        return None
    frame = numeric(read_csv(path, SERVER_PROCESS_COLUMNS), SERVER_PROCESS_COLUMNS, path)
    return frame[frame["serving"] == 1].sort_values("ts", kind="stable")


def _server_step(rows: pd.DataFrame) -> list[float]:
    if rows.empty:
        return [np.nan] * len(SERVER_STEP_COLUMNS)
    per_sample = rows.groupby("ts")
    return [
        per_sample.size().mean(),
        rows["threads"].mean(),
        rows["threads"].max(),
        rows["inflight_mean"].mean(),
        rows["inflight"].max(),
        per_sample["inflight_mean"].sum(min_count=1).mean(),
    ]


def _pg_step(rows: pd.DataFrame) -> list[float]:
    if rows.empty:
        return [np.nan] * len(PG_STATE_STEP_COLUMNS)
    opened = np.nan
    if len(rows) >= 2 and rows["ts"].iloc[-1] > rows["ts"].iloc[0]:
        sessions = rows["sessions"].iloc[-1] - rows["sessions"].iloc[0]
        opened = sessions / (rows["ts"].iloc[-1] - rows["ts"].iloc[0])
    return [
        rows["idle"].mean(),
        rows["idle"].max(),
        rows["idle_in_transaction"].mean(),
        rows["idle_in_transaction"].max(),
        rows["max_connections"].max(),
        opened,
    ]


def _per_window(frame, windows, summary, columns) -> dict[str, list[float]]:
    values = [
        summary(frame[(frame["ts"] >= start) & (frame["ts"] < end)]) for start, end in windows
    ]
    return {column: [v[i] for v in values] for i, column in enumerate(columns)}


def step_columns(run_dir: Path, windows: list, pg: pd.DataFrame | None) -> dict[str, list]:
    """The columns above for each (start, end) window; pg: pg_activity.csv as read."""
    out = {}
    server = read_server_processes(run_dir)
    if server is not None:
        out.update(_per_window(server, windows, _server_step, SERVER_STEP_COLUMNS))
    if pg is not None and set(PG_STATE_COLUMNS) <= set(pg.columns):
        pg = numeric(pg, PG_STATE_COLUMNS, Path(run_dir) / "pg_activity.csv")
        out.update(_per_window(pg, windows, _pg_step, PG_STATE_STEP_COLUMNS))
    return out
