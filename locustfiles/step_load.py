"""Step load: hold each user count of a list for a fixed time, then stop.

Options (Locust command line or environment):
  --steps / STEPS            comma-separated user counts, e.g. 100,200,300
  --hold / HOLD              seconds per step, ramp-up and warm-up included
  --step-spawn-rate / STEP_SPAWN_RATE  users started (or stopped) per second
  --warmup / WARMUP          seconds discarded after each step's ramp-up
  --timeline / TIMELINE      CSV file that records each step's measured window
  --first-step / FIRST_STEP  the number of the first step (a run with a fresh stack per step
                             runs its steps one Locust run each)

The timeline (step, users, start, measure_from, end, complete, target_iter_s:
contracts/files.py; epoch seconds) is what the analysis uses to cut per-step windows out of the
per-request log: the measured window of a step is [measure_from, end), i.e. after the ramp-up
(|users change| / spawn rate) and the warm-up. ``complete`` is 0 for a step cut short by an
interrupt. ``target_iter_s`` is the open model's arrival rate, users / pacing (vote.py's
--pacing), empty for the closed loop.
"""

import csv
import time

from locust import LoadTestShape, events

from djbench.contracts import defaults
from djbench.contracts.files import TIMELINE_COLUMNS


@events.init_command_line_parser.add_listener
def _add_options(parser):
    steps = ",".join(map(str, defaults.STEPS))
    parser.add_argument("--steps", type=str, env_var="STEPS", default=steps)
    parser.add_argument("--hold", type=float, env_var="HOLD", default=defaults.HOLD_S)
    parser.add_argument(
        "--step-spawn-rate", type=float, env_var="STEP_SPAWN_RATE", default=defaults.SPAWN_RATE
    )
    parser.add_argument("--warmup", type=float, env_var="WARMUP", default=defaults.WARMUP_S)
    parser.add_argument("--timeline", type=str, env_var="TIMELINE", default="")
    parser.add_argument("--first-step", type=int, env_var="FIRST_STEP", default=1)


class StepLoad(LoadTestShape):
    current = None  # (step, users, start, measure_from) of the step being held

    def tick(self):
        opts = self.runner.environment.parsed_options
        steps = [int(u) for u in opts.steps.split(",")]
        index = int(self.get_run_time() // opts.hold)
        if index >= len(steps):
            self.close(complete=True)
            return None
        number = opts.first_step + index
        if self.current is None or self.current[0] != number:
            self.close(complete=True)
            previous = steps[index - 1] if index else 0
            start = time.time()
            ramp = abs(steps[index] - previous) / opts.step_spawn_rate
            self.current = (number, steps[index], start, start + ramp + opts.warmup)
        return steps[index], opts.step_spawn_rate

    def close(self, complete):
        """Record the step being held as ended now."""
        if self.current is None:
            return
        step, users, start, measure_from = self.current
        self.current = None
        path = self.runner.environment.parsed_options.timeline
        if not path:
            return
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if f.tell() == 0:
                writer.writerow(TIMELINE_COLUMNS)
            pacing = getattr(self.runner.environment.parsed_options, "pacing", 0.0)
            writer.writerow(
                [
                    step,
                    users,
                    f"{start:.3f}",
                    f"{measure_from:.3f}",
                    f"{time.time():.3f}",
                    int(complete),
                    f"{users / pacing:g}" if pacing > 0 else "",
                ]
            )


@events.test_stop.add_listener
def _record_interrupted_step(environment, **_kwargs):
    # Stopped before the shape ran out of steps (Ctrl-C, SIGTERM): keep what was measured.
    shape = environment.shape_class
    if isinstance(shape, StepLoad):
        shape.close(complete=False)
