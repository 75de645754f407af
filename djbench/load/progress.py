"""Progress while Locust runs: one line when a step starts and one with its numbers when it
ends; watches every other component and stops the run if one dies."""

import csv
import time

from djbench.analysis.runs.metrics import step_metrics
from djbench.contracts.files import TIMELINE
from djbench.errors import ComponentFailed
from djbench.system import run_dirs as results

FLUSH_S = 1.5  # the request log is flushed every second


def _ended_steps(run_dir, settled_before):
    """Steps recorded as ended early enough for their requests to be on disk."""
    try:
        with open(run_dir / TIMELINE, newline="") as f:
            return sum(1 for row in csv.DictReader(f) if float(row["end"]) <= settled_before)
    except FileNotFoundError:
        return 0


class StepReporter:
    def __init__(self, run_dir, total, out, reported=0):
        self.run_dir, self.total, self.out, self.reported = run_dir, total, out, reported

    def poll(self, settled_before):
        done = _ended_steps(self.run_dir, settled_before)
        if done > self.reported:
            rows = step_metrics(self.run_dir).to_dict("records")
            for row in rows[self.reported : done]:
                self.out(step_line(row, self.total))
            self.reported = done


def step_line(row, total):
    if row["requests"] == 0:
        return f"  step {row['step']}/{total}: {row['users']:>5} users   no requests measured"
    return (
        f"  step {row['step']}/{total}: {row['users']:>5} users  {row['rps']:7.1f} req/s  "
        f"{row['failure_pct']:5.1f} % failed  p95 {row['p95_ms']:7.0f} ms"
    )


def follow(run_dir, cfg, locust_alive, check_components, deadline_s, out, total=None, stop=None):
    """Until Locust exits: announce steps, report finished ones, and let check_components()
    raise if a part of the stack died. A part-run (cfg.first_step > 1) runs some of the
    `total` steps of its run. stop(run_dir), when given, is asked at every poll; True ends the
    following early (the caller then stops the load) and follow returns True."""
    done_before = cfg.first_step - 1
    total = total or len(cfg.users)
    started = time.monotonic()
    announced = 0
    reporter = StepReporter(run_dir, total, out, reported=done_before)
    while locust_alive():
        check_components()
        results.check_disk(run_dir)
        elapsed = time.monotonic() - started
        if elapsed > deadline_s:
            raise ComponentFailed(f"locust still running after {deadline_s:.0f} s; stopped it")
        current = min(int(elapsed // cfg.hold_s) + 1, len(cfg.users))
        if current > announced:
            announced = current
            left = cfg.planned_s - elapsed
            out(
                f"step {done_before + current}/{total}: {cfg.users[current - 1]} users for "
                f"{cfg.hold_s:g} s (about {left:.0f} s left)"
            )
        reporter.poll(time.time() - FLUSH_S)
        if stop is not None and stop(run_dir):
            return True
        time.sleep(0.5)
    reporter.poll(float("inf"))  # Locust has exited: its logs are complete
    return False
