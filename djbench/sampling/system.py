"""Once-a-second samples of the whole machine and of PostgreSQL's connections, beside the
per-component resources.csv, so a report can tell a stall of the machine from the server's own.

Each sampler is a self-contained thread: start() it, stop() it; it writes one CSV and needs
nothing from the run but a path (and, for PostgreSQL, a function that opens a connection).
"""

import os
import threading
import time
from pathlib import Path

import psutil

from djbench.contracts.files import PG_ACTIVITY_COLUMNS, PG_STATE_COLUMNS, SYSTEM_COLUMNS
from djbench.contracts.row_file import RowFile

# The sampler's own session is left out of the counts (pid <> pg_backend_pid()) but takes one of
# max_connections while the run lasts: the app can open at most max_connections - 1.
PG_SAMPLER_CONNECTIONS = 1
PG_QUERY = (
    "SELECT count(*) FILTER (WHERE state = 'active'), count(*),"
    " count(*) FILTER (WHERE state = 'idle'),"
    " count(*) FILTER (WHERE state LIKE 'idle in transaction%'),"
    " (SELECT sum(sessions) FROM pg_stat_database)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


class Periodic(threading.Thread):
    """Calls sample() every `interval` seconds until stop() and writes the row it returns (the
    rows, with many_rows); the CSV is flushed each time."""

    columns: list[str] = []
    many_rows = False

    def __init__(self, path, interval=1.0):
        super().__init__(daemon=True)
        self.path, self.interval = path, interval
        self.stopped = threading.Event()

    def run(self):
        # Appends: a run with a fresh stack per step samples each step's stack in turn. Whole
        # rows only, kept for the next try when the disk refuses them (as resources.csv).
        log = RowFile(self.path, self.columns, Path(self.path).name, append=True)
        try:
            while not self.stopped.wait(self.interval):
                row = self.sample()
                if row is not None:
                    for one in row if self.many_rows else [row]:
                        log.row(one)
                    log.flush()
        finally:
            log.close()
            self.close()

    def start(self):
        self.prepare()  # in the caller's thread: ready before the load begins
        super().start()

    def prepare(self):
        pass

    def sample(self):
        raise NotImplementedError

    def close(self):
        pass

    def stop(self):
        self.stopped.set()
        self.join(timeout=10)


class SystemSampler(Periodic):
    """Machine-wide CPU (user, system, iowait, steal, idle: % of all CPUs together, as top shows
    them) and memory, into system.csv. Steal is time a virtual machine's CPUs were ready to run
    but the hypervisor ran something else: every process slows down together."""

    columns = SYSTEM_COLUMNS

    def prepare(self):
        self.last = psutil.cpu_times()

    def sample(self):
        now, times = time.time(), psutil.cpu_times()
        delta = {name: getattr(times, name) - getattr(self.last, name) for name in times._fields}
        self.last = times
        # guest time is already counted in user time on Linux.
        total = sum(v for k, v in delta.items() if k not in ("guest", "guest_nice"))
        if total <= 0:
            return None

        def pct(*names):
            return f"{100 * sum(delta.get(n, 0.0) for n in names) / total:.1f}"

        memory = psutil.virtual_memory()
        return [
            f"{now:.3f}",
            os.cpu_count(),
            pct("user", "nice"),
            pct("system", "irq", "softirq"),
            pct("iowait"),
            pct("steal"),
            pct("idle"),
            f"{memory.used / 2**20:.0f}",
            f"{memory.available / 2**20:.0f}",
        ]


class PgActivitySampler(Periodic):
    """Client connections PostgreSQL holds (total), by state (active: running a query; idle;
    idle in transaction), from pg_stat_activity, and the sessions ever opened, into
    pg_activity.csv. One connection, opened before the load starts and
    kept: opening one per sample could itself be refused once the app holds every slot."""

    columns = PG_ACTIVITY_COLUMNS + PG_STATE_COLUMNS

    def __init__(self, path, connect, interval=1.0):
        super().__init__(path, interval)
        self.connect, self.conn = connect, None

    def prepare(self):
        self._open()

    def _open(self):
        try:
            self.conn = self.connect()
            self.max_connections = int(self.conn.execute("SHOW max_connections").fetchone()[0])
        except Exception:  # PostgreSQL gone or full: try again at the next sample
            self.conn = None

    def sample(self):
        if self.conn is None:
            self._open()
            if self.conn is None:
                return None
        try:
            active, total, idle, in_transaction, sessions = self.conn.execute(PG_QUERY).fetchone()
        except Exception:
            self.close()
            return None
        return [
            f"{time.time():.3f}", active, total, self.max_connections, idle, in_transaction,
            sessions,
        ]  # fmt: skip

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None
