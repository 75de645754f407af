"""PostgreSQL's refusals of new connections, read from a run's PostgreSQL log.

When the app opens more connections than `max_connections`, PostgreSQL answers "sorry, too many
clients already" and the user only sees an HTTP 500; counting the refusals per step tells that
story apart from a server that failed on its own.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

TOO_MANY_CLIENTS = "sorry, too many clients already"
LOG_NAMES = ("postgres.log", "db.log")  # native mode, compose mode (`docker compose logs db`)
# PostgreSQL's default log_line_prefix starts with '%m': '2026-11-25 17:05:01.123 UTC'; compose
# logs put 'db-1  | ' in front.
STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")


def refusal_times(run_dir: Path) -> np.ndarray | None:
    """Epoch seconds of every refusal (NaN when a line carries no UTC time stamp); None when
    the run has no PostgreSQL log."""
    logs = [Path(run_dir) / "logs" / name for name in LOG_NAMES]
    logs = [log for log in logs if log.exists()]
    if not logs:
        return None
    stamps = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if TOO_MANY_CLIENTS in line:
                match = STAMP.search(line)
                stamps.append(match.group(1) if match else None)
    times = pd.to_datetime(pd.Series(stamps, dtype=object), utc=True, errors="coerce")
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((times - epoch) / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
