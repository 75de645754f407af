"""One stack kept running between the runs of a command (a knee search's probes: natively the
default, `--no-warm-stack` to leave it), on this host.

A probe with a stack of its own starts it, and on a 2-CPU machine most of that start is the app
server's workers importing Django (2.5 to 4.5 s a probe, `startup_s`). A warm stack is started
by the first run of a configuration and serves the next runs of the same stack configuration; a
run is only given it once the run before has drained: no request in flight in any app process
(project/djbench_inflight.py's counters) and no PostgreSQL client backend but the check's own.
One that does not drain within DRAIN_S is stopped and a fresh stack started instead, and a run
that ends in an error stops it too: nothing a broken run left behind is measured again.

Its processes and temp dir are its own (a record of their own for the reaper, leftovers.py),
stopped when the command's runs in a row end, whatever happened. Its logs are its own as well;
each run gets the part written while it ran, under its run's logs/, so the analysis of a run
(PostgreSQL's refusals per step) reads the same files as with a stack of its own.

Only the polls project: a user's project's invariant is checked against the database its run
started with, and a warm database is not that.
"""

import copy
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from djbench.errors import ComponentFailed
from djbench.sampling.server_processes import read_counter
from djbench.stack.host import HostStack, start_stack
from djbench.stack.verify import verify_stack
from djbench.system import run_dirs as results
from djbench.system.leftovers import TEMP_PREFIX, LiveRun
from djbench.system.log import log
from djbench.system.processes import ProcessSet
from djbench.system.waiting import poll_until

DRAIN_S = 30.0  # the client timeout: a request Locust gave up on may run on that long
DRAIN_POLL_S = 0.1
# What the stack is: two runs whose configurations agree on these share it.
STACK_FIELDS = ("server", "workers", "view", "threads", "conn_max_age", "db_pool",
                "pg_max_connections", "client_timeout_s", "questions", "choices",
                "server_cpus", "project")  # fmt: skip
# What start_stack records in a run's meta.json about the stack: copied to each run on it.
STACK_META = ("versions", "postgres", "project", "scenario", "notes")
BUSY_BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


def stack_key(cfg):
    return tuple(getattr(cfg, name) for name in STACK_FIELDS)


@dataclass
class Warm:
    key: tuple
    host: HostStack | None
    procs: ProcessSet
    live: LiveRun
    tmp: Path
    started_by: str  # the run that started it
    meta: dict  # what start_stack recorded about it
    runs: int = 0
    log_offsets: dict = field(default_factory=dict)  # log name -> bytes already handed out

    @property
    def logs(self):
        return self.tmp / "logs"

    def in_flight(self):
        counters = [read_counter(p) for p in (self.tmp / "inflight").iterdir()]
        return sum(c[0] for c in counters if c is not None)

    def drained(self):
        try:
            return self.in_flight() == 0 and self.host.cluster.query_one(BUSY_BACKENDS) == 0
        except Exception:  # PostgreSQL gone: not a stack to measure on
            return False

    def hand_out_logs(self, logs):
        """The part of each of the stack's logs written since the last run's hand-out."""
        logs.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.logs.glob("*")):
            with open(path, "rb") as src, open(logs / path.name, "ab") as dst:
                src.seek(self.log_offsets.get(path.name, 0))
                shutil.copyfileobj(src, dst)
                self.log_offsets[path.name] = src.tell()

    def stop(self):
        self.procs.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.live.__exit__(None, None, None)


class WarmStacks:
    """At most one warm stack at a time: a knee search's probes share it, the next server's
    search starts its own."""

    def __init__(self, seeded):
        self.seeded, self.current = seeded, None

    @contextmanager
    def serving(self, run):
        """The warm stack for this run (started or reused), recorded in its meta.json; any
        error inside stops it."""
        began = time.monotonic()
        warm, restarted = self.current, ""
        if warm is not None and warm.key != stack_key(run.cfg):
            self.close()
        elif warm is not None and not poll_until(warm.drained, DRAIN_S, DRAIN_POLL_S):
            restarted = f"the warm stack did not drain within {DRAIN_S:g} s"
            log.info(f"{restarted}: starting a fresh one")
            self.close()
        logs = run.run_dir / "logs"
        try:
            if self.current is None:
                self.current = self._start(run)
            else:
                self._reuse(run, began)
            warm = self.current
            warm.runs += 1
            run.meta["stack"] = {"warm": True, "started_by": warm.started_by, "run": warm.runs,
                                 "pids": dict(warm.procs.started)}  # fmt: skip
            if restarted:
                run.meta["stack"]["restarted"] = restarted
            yield warm
        except BaseException:
            self.close(logs)
            raise
        self.current.hand_out_logs(logs)

    def _start(self, run):
        tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        live = LiveRun(results.live_runs_dir(), f"{run.run_dir.name}-stack").__enter__()
        procs = ProcessSet(live.data["run_id"])
        warm = Warm(stack_key(run.cfg), None, procs, live, tmp, run.run_dir.name, {})
        try:
            live.add("temp_dirs", tmp)
            warm.host = start_stack(run.cfg, warm.logs, tmp, procs, run.meta, self.seeded)
        except BaseException:
            warm.hand_out_logs(run.run_dir / "logs")
            warm.stop()
            raise
        warm.meta = {k: copy.deepcopy(run.meta[k]) for k in STACK_META if k in run.meta}
        return warm

    def _reuse(self, run, began):
        warm = self.current
        for key, value in copy.deepcopy(warm.meta).items():
            mine = run.meta.get(key)
            if isinstance(value, dict) and isinstance(mine, dict):
                mine.update(value)
            elif isinstance(value, list) and isinstance(mine, list):
                mine.extend(v for v in value if v not in mine)
            else:
                run.meta[key] = value
        try:
            verify_stack(warm.host.base_url, warm.host.total_votes)
        except RuntimeError as e:
            raise ComponentFailed(f"the warm stack: {e}") from None
        run.meta["startup_s"] = round(time.monotonic() - began, 2)
        log.info(f"warm stack ready in {run.meta['startup_s']:.1f} s (drained, verified)")

    def close(self, logs=None):
        """Stop the warm stack, if any; logs: a run's, to hand out what it wrote last."""
        warm, self.current = self.current, None
        if warm is not None:
            if logs is not None and warm.logs.is_dir():
                warm.hand_out_logs(logs)
            warm.stop()
