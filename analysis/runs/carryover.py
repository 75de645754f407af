"""What a step's measured window inherits when it opens: the requests already in flight.

In a stepped run the window of step N opens while requests started earlier (during this step's
ramp-up and warm-up, and the backlog of step N-1) are still queued; each one that completes
inside the window counts there, with its failure or its long wait. Two numbers show it:

- inflight_at_open: requests with start < measure_from <= completion, where start =
  completion - response time (the log records completions);
- inflight_mean: the mean number in flight over the window, the sum of each request's time
  in flight inside [measure_from, end) divided by the window's length (Little's law:
  throughput x mean time in the system).

A window that opens with more in flight than it averages inherited a backlog above its own
steady state. With a fresh stack per step only the step's own ramp-up and warm-up are
inherited. Requests still in flight when Locust stopped were never logged and are not counted.
"""

import numpy as np
import pandas as pd

COLUMNS = ["inflight_at_open", "inflight_mean"]


def carry_over(requests: pd.DataFrame, measure_from: float, end: float) -> dict:
    done = requests["ts"].to_numpy(dtype=float)
    start = done - requests["response_time_ms"].to_numpy(dtype=float) / 1000
    at_open = int(((start < measure_from) & (measure_from <= done)).sum())
    window_s = end - measure_from
    if window_s <= 0:
        return {"inflight_at_open": at_open, "inflight_mean": np.nan}
    overlap = np.minimum(done, end) - np.maximum(start, measure_from)
    return {
        "inflight_at_open": at_open,
        "inflight_mean": float(np.clip(overlap, 0, None).sum() / window_s),
    }
