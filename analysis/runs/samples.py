"""The once-a-second samples of a run beside its request log: the whole machine (system.csv) and
PostgreSQL's connections (pg_activity.csv), read and summarised per step."""

from pathlib import Path

import numpy as np
import pandas as pd

from djbench.analysis.files import numeric, read_csv
from djbench.analysis.runs import mechanism
from djbench.contracts.files import PG_ACTIVITY, PG_ACTIVITY_COLUMNS, SYSTEM, SYSTEM_COLUMNS

# Per-step columns, only for runs that have the samples. machine_*: % of one core, all CPUs
# together (the capacity is cpus x 100), the scale of cpu_<component>_pct.
MACHINE_STEP_COLUMNS = ["machine_cpu_pct", "machine_steal_pct"]
PG_STEP_COLUMNS = ["pg_active_mean", "pg_active_max", "pg_total_mean", "pg_total_max"]


def _read(path: Path, columns: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    frame = numeric(read_csv(path, columns), columns, path)
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def read_system(run_dir: Path) -> pd.DataFrame | None:
    """system.csv with `busy_pct` (100 - idle) added; None for a run without it."""
    frame = _read(Path(run_dir) / SYSTEM, SYSTEM_COLUMNS)
    if frame is not None:
        frame["busy_pct"] = 100.0 - frame["idle_pct"]
    return frame


def read_pg_activity(run_dir: Path) -> pd.DataFrame | None:
    return _read(Path(run_dir) / PG_ACTIVITY, PG_ACTIVITY_COLUMNS)


def _in_window(frame: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    return frame[(frame["ts"] >= start) & (frame["ts"] < end)]


def step_columns(run_dir: Path, timeline: pd.DataFrame) -> dict[str, list[float]]:
    """Per-step summaries of the samples over each measured window [measure_from, end):
    machine CPU and steal (means, % of one core) and PostgreSQL connections (mean and max).
    Columns are present only when the run has the file; a window without samples is NaN."""
    windows = list(zip(timeline["measure_from"], timeline["end"], strict=True))
    out: dict[str, list[float]] = {}
    system = read_system(run_dir)
    if system is not None:
        for column, source in zip(MACHINE_STEP_COLUMNS, ("busy_pct", "steal_pct"), strict=True):
            out[column] = []
            for start, end in windows:
                rows = _in_window(system, start, end)
                value = (rows[source] * rows["cpus"]).mean() if len(rows) else np.nan
                out[column].append(value)
    pg = read_pg_activity(run_dir)
    if pg is not None:
        for column in PG_STEP_COLUMNS:
            source, how = column.removeprefix("pg_").rsplit("_", 1)
            out[column] = [
                getattr(rows[source], how)() if len(rows) else np.nan
                for rows in (_in_window(pg, start, end) for start, end in windows)
            ]
    # Threads and requests in flight per server process, PostgreSQL's connections by state.
    out.update(mechanism.step_columns(run_dir, windows, pg))
    return out
