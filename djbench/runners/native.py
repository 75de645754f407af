"""Native mode: the whole stack as host processes on loopback.

PostgreSQL (a throwaway cluster) -> migrate + seed -> app server -> nginx -> verification
(stack/host.py); Locust runs as a host process too (load/locust.py). Every process is one of the
run's managed processes, stopped on success, error and interrupt.
"""

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from djbench.config import parse_cpus
from djbench.contracts.files import PG_ACTIVITY, RESOURCES, SERVER_PROCESSES, SYSTEM
from djbench.load.locust import start_locust
from djbench.runners.base import Runner, Stack
from djbench.sampling.resources import Sampler
from djbench.sampling.server_processes import ServerProcessSampler
from djbench.sampling.system import PG_SAMPLER_CONNECTIONS, PgActivitySampler, SystemSampler
from djbench.stack.host import SeededDatabases, preflight, start_stack
from djbench.stack.warm import WarmStacks
from djbench.system.leftovers import TEMP_PREFIX


@dataclass
class NativeStack(Stack):
    components: dict = field(default_factory=dict)  # postgres, server, nginx -> Managed
    connect_db: Callable | None = None  # a new connection to the run's database (sampling)


class NativeRunner(Runner):
    mode = "native"

    def __init__(self, locust_workers=1):
        """locust_workers: 1 runs Locust as one process; N > 1, a master and N worker processes
        (one core each), as across hosts."""
        self.locust_workers = locust_workers
        self.seeded = None  # SeededDatabases while runs in a row share one
        self.warm = None  # WarmStacks while runs in a row share a stack (--warm-stack)

    def preflight(self):
        preflight()

    def with_locust_processes(self, processes):
        copy = type(self)(processes)
        copy.seeded, copy.warm = self.seeded, self.warm
        return copy

    @contextmanager
    def runs_in_a_row(self, warm=False):
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as root:
            self.seeded = SeededDatabases(root)
            self.warm = WarmStacks(self.seeded) if warm else None
            try:
                yield
            finally:
                if self.warm is not None:
                    self.warm.close()
                self.seeded = self.warm = None

    @contextmanager
    def stack(self, run):
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp:
            run.live.add("temp_dirs", tmp)  # before anything starts: a kill may come at once
            if self.seeded is not None:  # a killed search's kept database goes too
                run.live.add("temp_dirs", self.seeded.root)
            run.tmp = Path(tmp)
            with self._started(run) as (host, procs):
                run.save_meta()  # PIDs on disk while the load runs
                yield NativeStack(
                    base_url=host.base_url,
                    total_votes=host.total_votes,
                    poll_path=host.poll_path,
                    check=lambda: host.check(procs),
                    locust_cpus=parse_cpus(run.cfg.locust_cpus),
                    components=host.components,
                    connect_db=host.cluster.connect,
                    query=host.cluster.query_one,
                )

    @contextmanager
    def _started(self, run):
        """(the run's HostStack, the process set holding it): the warm one, or its own."""
        if self.warm is not None:
            with self.warm.serving(run) as warm:
                yield warm.host, warm.procs
            return
        try:
            yield start_stack(run.cfg, run.run_dir / "logs", run.tmp, run.procs, run.meta,
                              self.seeded), run.procs  # fmt: skip
        finally:
            run.procs.stop_all()  # before the temp dir holding their files goes

    @contextmanager
    def load(self, run):
        locust = start_locust(run, self.locust_workers, "127.0.0.1")
        components = {**run.stack.components, "locust": locust.master}
        # What the kernel applied, not what was asked: the report can trust it.
        run.meta["cpu_affinity"] = {
            m.name: sorted(os.sched_getaffinity(m.pid))
            for m in [*components.values(), *locust.workers]
        }
        run.save_meta()  # Locust's PIDs on disk too
        run.meta.setdefault("postgres", {})["sampler_connections"] = PG_SAMPLER_CONNECTIONS
        samplers = [
            Sampler(run.run_dir / RESOURCES, components),
            SystemSampler(run.run_dir / SYSTEM),
            PgActivitySampler(run.run_dir / PG_ACTIVITY, run.stack.connect_db),
            ServerProcessSampler(run.run_dir / SERVER_PROCESSES, run.stack.components["server"]),
        ]
        for sampler in samplers:
            sampler.start()
        try:
            yield locust
        finally:
            for sampler in samplers:
                sampler.stop()
