"""The run over time (1 s bins) and the per-step summaries of system.csv and pg_activity.csv,
against numbers worked out by hand from the fixture files."""

import math
import shutil
from pathlib import Path

import pytest

from djbench.analysis.runs.metrics import step_metrics
from djbench.analysis.runs.timeseries import time_series

FIXTURES = Path(__file__).parent / "fixtures"
ASGI = FIXTURES / "runs" / "asgi_uvicorn"
SAMPLES = FIXTURES / "samples"


@pytest.fixture
def sampled(tmp_path):
    """The ASGI fixture run with machine and PostgreSQL samples beside it."""
    run = tmp_path / "run"
    shutil.copytree(ASGI, run)
    for name in ("system.csv", "pg_activity.csv"):
        shutil.copy(SAMPLES / name, run / name)
    return run


def test_requests_per_second():
    # t0 = 1700000100.0 (step 1 starts). Second 12 holds 112.2 (14 ms), 112.6 (35), 112.7 (22):
    # nearest rank p50 = 2nd of 14, 22, 35 = 22; p95 = ceil(2.85) = 3rd = 35.
    # Second 14: 41, 90, 16 -> sorted 16, 41, 90: p50 41, p95 90. Second 3: 30, 7 -> p50 7
    # (1st of 2), p95 30. Second 30: the failed connection at 130.0 (3 ms).
    r = time_series(ASGI).requests
    assert len(r) == 31  # seconds 0..30: the last request completed at 130.0
    assert r["requests"].sum() == 24
    assert list(r.loc[[0, 1, 3, 7, 12, 14], "requests"]) == [0, 1, 2, 0, 3, 3]
    assert list(r.loc[[3, 12, 14, 30], "p50_ms"]) == [7, 22, 41, 3]
    assert list(r.loc[[3, 12, 14, 30], "p95_ms"]) == [30, 35, 90, 3]
    assert math.isnan(r.loc[0, "p50_ms"])
    assert r["failures"].sum() == 1 and r.loc[30, "failures"] == 1
    assert r.loc[30, "fail_connection"] == 1 and r["fail_connection"].sum() == 1


def test_users_steps_and_resources_over_time():
    series = time_series(ASGI)
    # Locust's Aggregated history rows, relative to t0; the GET index row at 106 is not one.
    assert list(series.users["t"]) == [1, 2, 10, 12, 20, 22, 30, 31]
    assert list(series.users["users"]) == [10, 10, 10, 20, 20, 30, 30, 30]
    assert list(series.steps["measure_from"]) == [2, 12, 22]
    assert list(series.steps["end"]) == [10, 20, 30]
    cpu = series.resources["cpu_pct"]
    assert cpu.loc[14, "locust"] == 92 and cpu.loc[10, "server"] == 500
    assert series.resources["rss_mb"].loc[4, "postgres"] == 60
    assert series.system is None and series.pg is None


def test_samples_per_second(sampled):
    series = time_series(sampled)
    # Second 15 holds two system samples: 115.0 (user 50) and 115.5 (user 30).
    assert series.system.loc[15, "user_pct"] == 40
    assert series.system.loc[15, "busy_pct"] == 70  # idle 0 and 60
    assert series.pg.loc[19, "total"] == 40 and series.pg.loc[13, "active"] == 10


def test_step_columns(sampled):
    steps = step_metrics(sampled).set_index("step")
    # Windows [102, 110), [112, 120), [122, 130).
    # PostgreSQL: step 1 holds 103, 105, 109.5 (110.0 is the window's end, out):
    # active 2, 4, 3 -> mean 3, max 4; total 5, 7, 6 -> mean 6, max 7.
    # Step 2: 113, 119.9 -> active 10, 20; total 20, 40. Step 3: 125 -> active 0, total 3.
    assert list(steps["pg_active_mean"]) == [3, 15, 0]
    assert list(steps["pg_active_max"]) == [4, 20, 0]
    assert list(steps["pg_total_mean"]) == [6, 30, 3]
    assert list(steps["pg_total_max"]) == [7, 40, 3]
    # Machine, % of one core with 4 CPUs: step 1 busy 30 % and 50 % -> 120 and 200, mean 160;
    # steal 5 % and 0 -> 20 and 0, mean 10. Step 2: busy 100 % and 40 % -> 400 and 160, mean
    # 280; steal 25 % and 0 -> 100 and 0, mean 50. The sample at 111 is in no window.
    assert steps.loc[1, "machine_cpu_pct"] == 160 and steps.loc[1, "machine_steal_pct"] == 10
    assert steps.loc[2, "machine_cpu_pct"] == 280 and steps.loc[2, "machine_steal_pct"] == 50
    assert math.isnan(steps.loc[3, "machine_cpu_pct"])


def test_no_sample_columns_without_the_files():
    columns = set(step_metrics(ASGI).columns)
    assert not columns & {"pg_total_mean", "machine_cpu_pct"}
