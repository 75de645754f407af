"""Every request row against Locust's own totals (locust_stats.csv): a run whose rows Locust
counted passes; rows Locust never counted (made up by a process that is not one of the run's
workers) or made-up response times are a warning with both numbers. Numbers chosen by hand."""

import csv
from pathlib import Path

import pandas as pd

from djbench.analysis.report.checks import _locust_stats
from djbench.analysis.runs.run import Run
from djbench.contracts.files import LOCUST_STATS, REQUEST_COLUMNS


def _run(tmp_path, times, locust_count, p50, p95, p99, users=10, rps=20.0):
    tmp_path.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / "requests-h-1.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(REQUEST_COLUMNS)
        for i, ms in enumerate(times):
            w.writerow([f"{100 + i * 0.01:.3f}", "detail", "GET", 200, 1, "", ms, i])
    pd.DataFrame([{"Type": "", "Name": "Aggregated", "Request Count": locust_count,
                   "Failure Count": 0, "50%": p50, "95%": p95, "99%": p99}]).to_csv(
        tmp_path / LOCUST_STATS, index=False)  # fmt: skip
    steps = pd.DataFrame({"step": [1], "users": [users], "rps": [rps]})
    meta = {"complete": True, "users": [users]}
    return Run(Path(tmp_path), meta, steps, "gunicorn")


# 1000 requests: 500 at 20 ms, 450 at 230 ms, 40 at 1540 ms, 10 at 4000 ms.
TIMES = [20.0] * 500 + [230.0] * 450 + [1540.0] * 40 + [4000.0] * 10


def test_rows_locust_counted_pass(tmp_path):
    # Locust's rounding: 230 -> 230, 1540 -> 1500; 990 counted, 10 still in flight at its end.
    assert _locust_stats(_run(tmp_path, TIMES, 990, 20, 230, 1500)) == []


def test_rows_locust_never_counted_are_said(tmp_path):
    # 1000 rows, Locust counted 900: 100 more than the 10 users and 2 % + 2 s at 20/s allow.
    assert _locust_stats(_run(tmp_path, TIMES, 900, 20, 230, 1500)) == [
        "the request log has 1000 requests in all, Locust's own stats 900: rows Locust did not "
        "count, or counted requests without a row"
    ]
    # Fewer rows than Locust counted: rows lost.
    assert _locust_stats(_run(tmp_path / "lost", TIMES, 1001, 20, 230, 1500)) != []


def test_made_up_response_times_are_said(tmp_path):
    # The same count, but Locust saw a p95 of 900 ms where the rows say 230.
    assert _locust_stats(_run(tmp_path, TIMES, 1000, 20, 900, 1500)) == [
        "the request log's p95 is 230 ms, Locust's own 900 ms: their response times are not the "
        "same requests'"
    ]
