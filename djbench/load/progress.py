"""Progress while Locust runs: one line when a step starts and one with its numbers when it
ends (on a terminal, above a live bar of the step: djbench/load/bar.py); watches every other
component and stops the run if one dies."""

import csv
import time

from djbench.analysis.runs.metrics import step_metrics
from djbench.contracts.files import TIMELINE
from djbench.errors import ComponentFailed
from djbench.load import bar
from djbench.system import run_dirs as results
from djbench.system.log import log

FLUSH_S = 1.5  # the request log is flushed every second


def _ended_steps(run_dir, settled_before):
    """Steps recorded as ended early enough for their requests to be on disk."""
    try:
        with open(run_dir / TIMELINE, newline="") as f:
            return sum(1 for row in csv.DictReader(f) if float(row["end"]) <= settled_before)
    except FileNotFoundError:
        return 0


class StepReporter:
    def __init__(self, run_dir, total, reported=0):
        self.run_dir, self.total, self.reported = run_dir, total, reported

    def poll(self, settled_before):
        done = _ended_steps(self.run_dir, settled_before)
        if done > self.reported:
            rows = step_metrics(self.run_dir).to_dict("records")
            for row in rows[self.reported : done]:
                log.info(step_line(row, self.total))
            self.reported = done


def step_line(row, total):
    if row["requests"] == 0:
        return f"  step {row['step']}/{total}: {row['users']:>5} users   no requests measured"
    return (
        f"  step {row['step']}/{total}: {row['users']:>5} users  {row['rps']:7.1f} req/s  "
        f"{row['failure_pct']:5.1f} % failed  p95 {row['p95_ms']:7.0f} ms"
    )


def follow(
    run_dir, cfg, locust_alive, check_components, deadline_s, total=None, stop=None, console=None
):
    """Until Locust exits: announce steps, report finished ones, and let check_components()
    raise if a part of the stack died. A part-run (cfg.first_step > 1) runs some of the
    `total` steps of its run. stop(run_dir), when given, is asked at every poll; True ends the
    following early (the caller then stops the load) and follow returns True.

    On a terminal (bar.terminal(); or `console`, a rich Console, when given) the same lines
    print above a live bar of the current step; elsewhere they are all there is."""
    console = console or bar.terminal()
    if console is None:
        return _follow(run_dir, cfg, locust_alive, check_components, deadline_s, total, stop)
    with bar.LiveSteps(console, run_dir, cfg.hold_s) as live:
        return _follow(run_dir, cfg, locust_alive, check_components, deadline_s, total, stop, live)


def _follow(run_dir, cfg, locust_alive, check_components, deadline_s, total, stop, live=None):
    done_before = cfg.first_step - 1
    total = total or len(cfg.users)
    started, started_at = time.monotonic(), time.time()
    announced = 0
    reporter = StepReporter(run_dir, total, reported=done_before)
    while locust_alive():
        check_components()
        results.check_disk(run_dir)
        elapsed = time.monotonic() - started
        if elapsed > deadline_s:
            raise ComponentFailed(f"locust still running after {deadline_s:.0f} s; stopped it")
        current = min(int(elapsed // cfg.hold_s) + 1, len(cfg.users))
        step_from = (current - 1) * cfg.hold_s  # s after the start, as the announcement has it
        if current > announced:
            announced = current
            left = cfg.planned_s - elapsed
            number, users = done_before + current, cfg.users[current - 1]
            log.info(
                f"step {number}/{total}: {users} users for "
                f"{cfg.hold_s:g} s (about {left:.0f} s left)"
            )
            if live is not None:
                live.step(bar.label(cfg, number, total, users), started_at + step_from)
        settled = time.time() - FLUSH_S
        reporter.poll(settled)
        if live is not None:
            live.update(elapsed - step_from, settled)
        if stop is not None and stop(run_dir):
            return True
        time.sleep(0.5)
    reporter.poll(float("inf"))  # Locust has exited: its logs are complete
    return False
