"""CPU and memory of each component, sampled once a second into resources.csv."""

import csv
import threading
import time

import psutil


class Sampler(threading.Thread):
    def __init__(self, path, components, interval=1.0):
        """components: name -> Managed (its whole process tree is summed)."""
        super().__init__(daemon=True)
        self.path, self.components, self.interval = path, components, interval
        self.stopped = threading.Event()
        self.cache = {}  # pid -> psutil.Process, so cpu_percent measures since the last sample

    def _tree(self, pid):
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _sample(self, pid):
        cpu = rss = 0.0
        for proc in self._tree(pid):
            proc = self.cache.setdefault(proc.pid, proc)
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss
            except psutil.Error:
                self.cache.pop(proc.pid, None)
        return cpu, rss / 2**20

    def run(self):
        with open(self.path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ts", "component", "cpu_pct", "rss_mb"])
            while not self.stopped.wait(self.interval):
                now = time.time()
                for name, managed in list(self.components.items()):
                    cpu, rss = self._sample(managed.pid)
                    writer.writerow([f"{now:.3f}", name, f"{cpu:.1f}", f"{rss:.1f}"])
                f.flush()

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)
