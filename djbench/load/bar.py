"""The live bar of the current step, on a terminal only: its description, a bar over the step's
hold time, elapsed and remaining time, and the requests/s of the last few seconds and the
failures so far in the step, read from the growing request logs.

It is transient: the permanent lines (progress.follow's, through the log) print above it, so the
scroll-back reads as the plain output does, and the bar is gone when the load ends. A pipe, a
dumb terminal or DJBENCH_PLAIN=1 gets the plain lines alone (terminal() says None).
"""

import math
import os
import sys
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from djbench.load.tail import RequestTail
from djbench.system.log import printed_through

RATE_WINDOW_S = 5.0  # requests/s over this long: steady enough to read, recent enough to follow
PROBE_LABELS = {"knee": "probe", "knee-saturation": "saturation probe"}  # profile: its runs


def terminal():
    """A Console for the live bar, or None for the plain lines of a pipe, a file or CI."""
    if os.environ.get("DJBENCH_PLAIN") == "1" or os.environ.get("TERM") == "dumb":
        return None
    stdout = sys.stdout
    if not (getattr(stdout, "isatty", None) and stdout.isatty()):
        return None
    return Console(file=stdout)


def label(cfg, number, total, users):
    """'step 2/5: 40 users'; a knee search's probe is a run of one step: 'probe: 40 users'."""
    probe = PROBE_LABELS.get(getattr(cfg, "profile", ""))
    if probe:
        return f"{probe}: {users} users"
    return f"step {number}/{total}: {users} users"


class StepStats:
    """What the bar says of the current step's requests, from the rows read so far. Rows come
    late (the log is flushed once a second) and, across several Locust processes' logs, out of
    time order; each counts for the step its timestamp falls in."""

    def __init__(self):
        self.start = float("inf")  # nothing counts before the first step begins
        self.recent = []  # (ts, ok) of the step, the last RATE_WINDOW_S and later
        self.failures = 0

    def begin(self, start):
        """A new step from `start` (epoch s): rows already read from it on stay."""
        self.start = start
        self.recent = [(ts, ok) for ts, ok in self.recent if ts >= start]
        self.failures = sum(1 for _, ok in self.recent if not ok)

    def add(self, rows):
        for ts, ok, _ in rows:
            if ts >= self.start:
                self.recent.append((ts, ok))
                self.failures += not ok

    def rate(self, settled):
        """Requests/s over [settled - RATE_WINDOW_S, settled), not before the step's start;
        None until a second of it is on disk. settled: before it, the logs are complete."""
        since = max(self.start, settled - RATE_WINDOW_S)
        self.recent = [(ts, ok) for ts, ok in self.recent if ts >= since]
        if settled - since < 1.0:
            return None
        return sum(1 for ts, _ in self.recent if ts < settled) / (settled - since)


def numbers(rate, failures):
    shown = "   -- req/s" if rate is None else f"{rate:7.1f} req/s"
    return f"{shown}  {failures} failed"


class _Clock(ProgressColumn):
    """Seconds into the step (elapsed) or left of its hold time (remaining), as the bar has them:
    follow's own clock, not rich's, so the two never disagree."""

    def __init__(self, remaining):
        super().__init__()
        self.remaining = remaining

    def render(self, task):
        if self.remaining:  # a countdown: its last second shows as 1 until it is over
            seconds, style = math.ceil((task.total or 0) - task.completed), "progress.remaining"
        else:
            seconds, style = int(task.completed), "progress.elapsed"
        return Text(str(timedelta(seconds=max(0, seconds))), style=style)


class LiveSteps:
    """A context: the live bar of one run's steps, one at a time; log lines print above it.
    Stopped on the way out whatever ends the block (an error, Ctrl-C), so the terminal is left
    with its cursor and without a half-drawn bar."""

    def __init__(self, console, run_dir, hold_s):
        self.hold_s, self.tail, self.stats = hold_s, RequestTail(run_dir), StepStats()
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _Clock(remaining=False),
            _Clock(remaining=True),
            TextColumn("{task.fields[numbers]}", markup=False),
            console=console,
            transient=True,
            # Refreshed at each of follow's polls: the numbers change no faster, and no thread
            # of rich's draws while the harness prints.
            auto_refresh=False,
            redirect_stdout=False,  # the log goes through printed_through, not a stdout swap
            redirect_stderr=False,
        )
        self.task = None
        self._routing = None

    def __enter__(self):
        self.progress.start()
        self._routing = printed_through(self._print)
        self._routing.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.progress.stop()
        finally:
            self._routing.__exit__(*exc)
        return False

    def _print(self, line):
        # As the plain output has it: no markup, colouring, emoji or wrapping of its own.
        self.progress.console.print(
            line, markup=False, highlight=False, emoji=False, soft_wrap=True
        )

    def step(self, description, start):
        """The bar of a new step, which began at `start` (epoch s), replaces the last one."""
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.stats.begin(start)
        self.task = self.progress.add_task(description, total=self.hold_s, numbers=numbers(None, 0))

    def update(self, in_step_s, settled):
        """in_step_s: seconds since the step began; settled: as for StepStats.rate."""
        self.stats.add(self.tail.new_rows())
        if self.task is not None:
            self.progress.update(
                self.task,
                completed=min(in_step_s, self.hold_s),
                numbers=numbers(self.stats.rate(settled), self.stats.failures),
            )
        self.progress.refresh()
