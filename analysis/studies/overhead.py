"""What a run spends besides measuring: start-up, Locust's start, ramp-up and warm-up, teardown,
as a share of the measured time, and the controller's own CPU, from the run's own records.

djbench overhead results/<run> ...   prints one Markdown row per run

Phases, from meta.json (started_at, load_started_at, load_ended_at, ended_at) and timeline.csv:
start-up is the stack's start and verification up to Locust's launch; Locust start is its launch
up to the first step; ramp-up + warm-up are each step's [start, measure_from); measured its
[measure_from, end); teardown from the last step's end to the run's end (Locust's graceful stop,
the integrity check, steps.csv, stopping the stack). Runs recorded before load_started_at
existed count Locust's start as start-up.
"""

from datetime import datetime
from pathlib import Path

import pandas as pd

from djbench.analysis.errors import AnalysisError
from djbench.analysis.markdown import markdown_table
from djbench.analysis.runs.metrics import read_resources, read_timeline
from djbench.analysis.runs.run import read_meta

COLUMNS = [
    "run", "profile", "steps", "measured (s)", "start-up (s)", "Locust start (s)",
    "ramp-up + warm-up (s)", "teardown (s)", "overhead (% of measured)", "harness CPU (%)",
    "harness CPU (s)",
]  # fmt: skip


def epoch(text):
    return datetime.fromisoformat(text).timestamp() if text else None


def run_overhead(run_dir):
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    timeline = read_timeline(run_dir)
    started, ended = epoch(meta.get("started_at")), epoch(meta.get("ended_at"))
    if started is None or ended is None or timeline.empty:
        raise AnalysisError(f"{run_dir}: no start, end or step recorded")
    first, last = float(timeline["start"].min()), float(timeline["end"].max())
    load_started = epoch(meta.get("load_started_at")) or first
    measured = float((timeline["end"] - timeline["measure_from"]).sum())
    warm = float((timeline["measure_from"] - timeline["start"]).sum())
    phases = {
        "start-up (s)": load_started - started,
        "Locust start (s)": first - load_started,
        "ramp-up + warm-up (s)": warm,
        "teardown (s)": ended - last,
    }
    harness_pct = harness_s = float("nan")
    resources = read_resources(run_dir)
    if resources is not None:
        own = resources[resources["component"] == "harness"].sort_values("ts")
        if not own.empty:
            harness_pct = float(own["cpu_pct"].mean())
            # Each sample covers the interval since the one before it (the first: ~1 s).
            gaps = own["ts"].diff().fillna(1.0)
            harness_s = float((own["cpu_pct"] / 100 * gaps).sum())
    return {
        "run": run_dir.name,
        "profile": meta.get("profile"),
        "steps": len(timeline),
        "measured (s)": measured,
        **phases,
        "overhead (% of measured)": 100 * sum(phases.values()) / measured if measured else None,
        "harness CPU (%)": harness_pct,
        "harness CPU (s)": harness_s,
    }


def overhead_table(run_dirs):
    return pd.DataFrame([run_overhead(d) for d in run_dirs], columns=COLUMNS)


def markdown(table):
    def cell(value):
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    return markdown_table(table.columns, [map(cell, row) for row in table.to_numpy()])
