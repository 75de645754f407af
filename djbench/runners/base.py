"""One interface for every way of running the stack, and the run sequence written once.

A Runner (native host processes, Docker Compose, or hosts of their own) knows how to start the
stack and how to start Locust against it. Everything else is the same in every mode and lives
here: record the run, start the stack (which verifies it before any load), apply the load while
reporting progress and watching the stack, stop the load, check integrity with one rule, stop
the stack. Calibration, the knee search and the server matrix only use `Runner.run`, so each works
in every mode.
"""

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from djbench import config
from djbench.analysis.runs.metrics import read_requests
from djbench.config import RunConfig
from djbench.contracts import defaults
from djbench.errors import ComponentFailed, UserError
from djbench.load import integrity, progress
from djbench.load.recording import record_integrity, recorded_run, stop_timeout, write_meta
from djbench.scenario import invariant
from djbench.system import run_dirs as results
from djbench.system.leftovers import LiveRun
from djbench.system.log import log
from djbench.system.processes import ProcessSet


@dataclass
class Stack:
    """A running, verified stack, ready for load."""

    base_url: str  # where the load goes (nginx), as the load generator reaches it
    total_votes: Callable[[], int]  # the database's vote total
    poll_path: str  # a poll form that verification voted on
    check: Callable[[], None]  # raises ComponentFailed when a part of the stack died
    locust_cpus: set | None = None  # CPUs for load-generator processes started on this host
    query: Callable[[str], object] | None = None  # one value of a query of the run's database


@dataclass
class Run:
    """What one run carries from start to end: Locust's Environment, for a benchmark run.
    Each mode's own state lives on its Stack (a subclass of Stack), not here."""

    cfg: RunConfig
    run_dir: Path  # absolute: nginx and Locust resolve relative paths against their own cwd
    meta: dict
    procs: ProcessSet  # host processes of the run, stopped in reverse order at its end
    live: LiveRun  # what a later run must stop if this one is killed
    tmp: Path | None = None  # this host's temp dir of the run: Locust's home and working dir
    stack: Stack | None = None

    def save_meta(self):
        write_meta(self.run_dir, self.meta)


class Load(Protocol):
    """A running load generator, as the run sequence sees it."""

    def alive(self) -> bool: ...

    def stop(self) -> None:
        """Stop gracefully (users finish the iteration in hand), then for good."""

    def failure(self) -> str | None:
        """Why the load did not end cleanly (exit status, last log lines); None if it did."""


@dataclass(frozen=True)
class ModeOptions:
    """Where the stack and the load run: what --mode and its options say."""

    mode: str = "auto"
    locust_workers: int | None = None  # None: the mode's default
    stack: str | None = None  # distributed: the stack host, ssh://HOST
    master_port: int = defaults.LOCUST_MASTER_PORT
    load_hosts: str | None = None  # distributed: ssh://HOST,...
    load_processes: int = 1


class Runner:
    mode = ""
    # The fewest Locust processes on this host the mode can run with (distributed: 0, the load
    # hosts' workers only).
    least_local_workers = 1

    @classmethod
    def check_options(cls, o: ModeOptions) -> None:
        """The values this mode takes, checked before anything else is looked at."""
        most = len(os.sched_getaffinity(0))
        if o.locust_workers is not None:
            why = f" (one a CPU; {most} here)"
            config.check_range("locust-workers", o.locust_workers, high=most, why=why,
                               low_ok=cls.least_local_workers == 0)  # fmt: skip

    @classmethod
    def from_options(cls, o: ModeOptions) -> "Runner":
        """Native and compose run everything here: the distributed options do not apply."""
        for option in ("stack", "load_hosts"):
            if getattr(o, option):
                raise UserError(f"--{option.replace('_', '-')} is for --mode distributed")
        return cls(1 if o.locust_workers is None else o.locust_workers)

    # Seconds the load may take beyond its planned time before the run is declared hung:
    # Locust's start-up, and (compose, distributed) its workers connecting.
    load_startup_s = 60.0

    def preflight(self) -> None:
        """Fail fast with a UserError, before anything starts or any directory is made."""

    def with_locust_processes(self, processes: int) -> "Runner":
        """The same runner with `processes` Locust worker processes on this host."""
        return self

    @contextmanager
    def runs_in_a_row(self, warm=False):
        """Around several runs of one command (a knee search's probes): what they may share
        without sharing a stack (native: the database as set up, copied into each cluster);
        warm: one stack too, kept running between them (native only, stack/warm.py)."""
        if warm:
            refuse_warm_stack(self.mode)
        yield

    def stack(self, run: Run) -> AbstractContextManager[Stack]:
        """Start and verify the stack; stop it (and collect its logs) on exit."""
        raise NotImplementedError

    def load(self, run: Run) -> AbstractContextManager[Load]:
        """Start Locust and the resource sampling; stop both on exit."""
        raise NotImplementedError

    def run(self, cfg, results_root, load=None, stop=None) -> Path:
        """One recorded run. `load(runner, run)` replaces Locust's step load (calibration's wrk).
        stop(run_dir) -> True ends Locust's load early, keeping what was measured (the knee
        search's probes, see progress.follow)."""
        self.preflight()
        with (
            recorded_run(cfg, results_root, self.mode) as (run_dir, meta),
            LiveRun(results.live_runs_dir(), run_dir.name) as live,
            ProcessSet(run_dir.name) as procs,
        ):
            run = Run(cfg, run_dir.resolve(), meta, procs, live)
            meta["pids"] = procs.started  # filled as they start; lets tests check none survive
            if cfg.fresh_stack_per_step and load is None:
                fresh_stack_per_step(self, run)
            else:
                with self.stack(run) as stack:
                    run.stack = stack
                    if load is None:
                        locust_load(self, run, stop)
                    else:
                        load(self, run)
        return run_dir


def refuse_warm_stack(mode):
    raise UserError(f"--warm-stack runs natively only, not in {mode} mode (--mode native)")


@dataclass
class Votes:
    """What the database gained during a load, and whether Locust stopped gracefully."""

    added: int | None = None  # None: the database could not be read
    cut_off: bool = False
    error: str = ""

    def __add__(self, other):
        known = None if None in (self.added, other.added) else self.added + other.added
        return Votes(known, self.cut_off or other.cut_off, self.error or other.error)


def locust_load(runner: Runner, run: Run, stop=None) -> None:
    """The benchmark's load: Locust's step load with progress lines, then the integrity check."""
    votes = Votes()
    try:
        apply_load(runner, run, votes, stop=stop)
    finally:
        check_integrity(run, votes)


def fresh_stack_per_step(runner: Runner, run: Run) -> None:
    """Each step a Locust run of its own on a stack started for it; one integrity check over
    them all. The run's files are shared: logs and samples append, steps keep their numbers."""
    cfg, total = run.cfg, len(run.cfg.users)
    votes = Votes(0)
    try:
        for number, users in enumerate(cfg.users, 1):
            run.cfg = config.with_overrides(cfg, users=(users,), first_step=number)
            log.info(f"a fresh stack for step {number}/{total}")
            with runner.stack(run) as stack:
                run.stack = stack
                part = Votes()
                try:
                    apply_load(runner, run, part, total)
                finally:
                    votes = votes + part
    finally:
        run.cfg = cfg
        check_integrity(run, votes)


def apply_load(runner: Runner, run: Run, votes: Votes, total: int | None = None, stop=None):
    """Locust's step load on the running stack, with progress lines; `votes` gets what it
    added, also when the load ends in an error or an interrupt."""
    cfg, stack = run.cfg, run.stack
    votes_before = stack.total_votes()
    run.meta.setdefault("load_started_at", results.utc_now().isoformat())  # start-up ends
    with runner.load(run) as load:
        try:
            deadline = cfg.planned_s + stop_timeout(cfg) + runner.load_startup_s
            progress.follow(run.run_dir, cfg, load.alive, stack.check, deadline, total, stop)
        finally:
            load.stop()
            run.meta["load_ended_at"] = results.utc_now().isoformat()  # teardown starts
            failure = load.failure()
            votes.cut_off = failure is not None
            try:
                votes.added = stack.total_votes() - votes_before
            except Exception as e:  # the database itself may be what failed
                votes.error = str(e)
    if failure:
        raise ComponentFailed(failure)


def check_integrity(run: Run, votes: Votes) -> None:
    """No vote lost. Locust stops gracefully also on an interrupt: its users finish the
    iteration in hand, so every vote POST that reached the server is in its log. Only a Locust
    that did not stop gracefully (`cut_off`) may have left each user's last POST unseen."""
    if votes.added is None:
        reason = votes.error or "the load did not start"
        run.meta["warnings"].append(f"integrity not checked: {reason}")
        return
    if not run.cfg.project.builtin:
        return project_integrity(run)
    users_at_stop = max(run.cfg.users) if votes.cut_off else 0
    try:
        record_integrity(run.meta, integrity.check(run.run_dir, votes.added, users_at_stop))
    except Exception as e:  # a broken request log
        run.meta["warnings"].append(f"integrity not checked: {e}")


def project_integrity(run: Run) -> None:
    """A user's project: the invariant its Locust file declares, checked against the run's
    successful requests; without one, integrity is not checked, and the run says so."""
    declared = run.meta.get("scenario", {}).get("invariant")
    if not declared:
        run.meta["integrity"] = {"ok": True, "checked": False, "message": (
            "integrity not checked: the scenario declares no invariant (a Locust file can, "
            "with DJBENCH_INVARIANT)")}  # fmt: skip
        return
    try:
        successes = invariant.successes_by_name(read_requests(run.run_dir))
        # The Locust file's check before the load wrote to this run's database too.
        checked = run.meta["scenario"].get("checked") or {}
        for key, n in checked.get("successes", {}).items():
            method, name = key.split(" ", 1)
            successes[method, name] = successes.get((method, name), 0) + n
        result = invariant.check(declared, run.stack.query, successes)
    except Exception as e:  # a broken request log
        run.meta["warnings"].append(f"integrity not checked: {e}")
        return
    relation = "=" if result["relation"] == "equals" else ">="
    result["checked"] = True
    result["message"] = (
        f"invariant {'holds' if result['ok'] else 'BROKEN'}: {result['sql']} gave "
        f"{result['got']}, expected {relation} {result['expected']} ({result['expected_from']})"
        + (f": {result['error']}" if result["error"] else "")
    )
    run.meta["integrity"] = result
    if not result["ok"]:
        run.meta["warnings"].append(result["message"])
