"""CPU and memory of each component, sampled once a second into resources.csv.

The controller (this djbench process: progress lines that re-read the request log at every step
end, the sampling itself) is a component too, "harness": on a small machine it competes with the
stack and the load generator for the same cores, so its share belongs beside theirs.
"""

import socket
import threading
import time

import psutil

from djbench.contracts.files import RESOURCE_COLUMNS
from djbench.contracts.row_file import RowFile

HARNESS = "harness"


def own_totals():
    """(CPU seconds, RSS bytes) of this process alone: its children are the stack's components
    (counted under their own names) or finished set-up steps, not the harness's work."""
    me = psutil.Process()
    t = me.cpu_times()
    return t.user + t.system, me.memory_info().rss


def tree_totals(pid):
    """(CPU seconds, RSS bytes) of a process tree so far.

    Children that already exited count too: their CPU time is in their parent's children_user /
    children_system once reaped. Sampling only live processes would miss PostgreSQL's backends,
    which live for one request each with CONN_MAX_AGE=0.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0
    cpu = rss = 0
    for proc in procs:
        try:
            t = proc.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
            rss += proc.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss


class Sampler(threading.Thread):
    def __init__(self, path, components, interval=1.0, host=None, own_name=HARNESS):
        """components: name -> Managed (its whole process tree is summed). own_name: how this
        process itself is named among them (a stack host's server is "stack-host", not the
        controller's "harness")."""
        super().__init__(daemon=True)
        self.path, self.components, self.interval = path, components, interval
        self.host = host or socket.gethostname()
        self.own_name = own_name
        self.stopped = threading.Event()

    def run(self):
        last = {name: (time.monotonic(), self._totals(name)[0]) for name in self._names()}
        # Appends: a run with a fresh stack per step samples each step's stack in turn. Whole
        # rows only, and rows the disk refuses are kept for the next try (a full disk stops the
        # run; its reserve then makes room for them).
        log = RowFile(self.path, RESOURCE_COLUMNS, "resources.csv", append=True)
        try:
            while not self.stopped.wait(self.interval):
                now = time.time()
                for name in self._names():
                    cpu_s, rss = self._totals(name)
                    then, cpu_then = last[name]
                    last[name] = (time.monotonic(), cpu_s)
                    # A worker replaced mid-interval can make the total step back: count 0 then.
                    pct = max(0.0, 100 * (cpu_s - cpu_then) / (last[name][0] - then))
                    log.row([f"{now:.3f}", name, f"{pct:.1f}", f"{rss / 2**20:.1f}", self.host])
                log.flush()
        finally:
            log.close()

    def _names(self):
        return [*self.components, self.own_name]

    def _totals(self, name):
        return own_totals() if name == self.own_name else tree_totals(self.components[name].pid)

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)
