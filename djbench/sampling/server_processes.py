"""The app server's processes once a second: how many threads each has and how many requests
the app is running in it (what djbench/project/djbench_inflight.py's middleware counts), into
server_processes.csv.

A process runs the app when it has a counter file (the middleware makes one as the app loads):
gunicorn's or uWSGI's master does not, its workers do, and daphne's single process does. For an
app without the middleware, every process but a root with children counts as serving, with
no in-flight figures.
"""

import struct
import time
from pathlib import Path

import psutil

from djbench.contracts.files import SERVER_PROCESS_COLUMNS
from djbench.sampling.system import Periodic

INFLIGHT_ENV = "DJBENCH_INFLIGHT_DIR"
FORMAT = "<3d"  # as djbench_inflight.py writes it


def read_counter(path):
    """(in flight now, request-seconds up to now), or None without a (whole) file."""
    try:
        data = Path(path).read_bytes()
        now, total, since = struct.unpack(FORMAT, data[: struct.calcsize(FORMAT)])
    except (OSError, struct.error):
        return None
    return now, total + now * max(0.0, time.monotonic() - since)


class ServerProcessSampler(Periodic):
    columns = SERVER_PROCESS_COLUMNS
    many_rows = True

    def __init__(self, path, server, interval=1.0):
        """server: the Managed app server (its whole process tree is sampled)."""
        super().__init__(path, interval)
        self.server, self.directory, self.last = server, None, {}  # pid -> (t, request-s)

    def prepare(self):
        try:
            directory = psutil.Process(self.server.pid).environ().get(INFLIGHT_ENV)
        except psutil.Error:
            directory = None
        self.directory = Path(directory) if directory else None

    def _tree(self):
        try:
            root = psutil.Process(self.server.pid)
            return root, [root, *root.children(recursive=True)]
        except psutil.Error:
            return None, []

    def sample(self):
        root, procs = self._tree()
        now = time.time()
        counters = {}
        if self.directory is not None:
            counters = {p.pid: read_counter(self.directory / str(p.pid)) for p in procs}
            counters = {pid: c for pid, c in counters.items() if c is not None}
        rows = []
        for proc in procs:
            try:
                threads = proc.num_threads()
            except psutil.Error:
                continue
            counter = counters.get(proc.pid)
            serving = counter is not None or (
                not counters and (proc.pid != root.pid or len(procs) == 1)
            )
            inflight = mean = ""
            if counter is not None:
                inflight, total = counter
                then = self.last.get(proc.pid)
                if then is not None and now > then[0]:
                    mean = f"{(total - then[1]) / (now - then[0]):.3f}"
                self.last[proc.pid] = (now, total)
                inflight = int(inflight)
            rows.append([f"{now:.3f}", proc.pid, int(serving), threads, inflight, mean])
        return rows
