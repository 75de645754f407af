"""The request logs of a running load (requests-*.csv), read while Locust still writes them: the
knee search's early stop (djbench/search/probes.py) and the live step bar (djbench/load/bar.py)
both watch the same growing files."""

import csv

from djbench.contracts.files import REQUEST_LOG_PREFIX, process_log_glob

COLUMNS = ("ts", "ok", "response_time_ms")  # by name: columns are only ever appended


class RequestTail:
    """Incremental: only whole lines, each once. A line still being written stays for the next
    read, so a row is never parsed from half a line."""

    def __init__(self, run_dir):
        self.run_dir, self.offsets, self.partial, self.columns = run_dir, {}, {}, {}

    def new_rows(self):
        """The rows written since the last call: (ts, ok, response_time_ms), file by file (so
        not in time order across the logs of several Locust processes)."""
        rows = []
        for path in sorted(self.run_dir.glob(process_log_glob(REQUEST_LOG_PREFIX))):
            with open(path, "rb") as f:
                f.seek(self.offsets.get(path, 0))
                chunk = f.read()
            self.offsets[path] = self.offsets.get(path, 0) + len(chunk)
            text = self.partial.pop(path, b"") + chunk
            *lines, rest = text.split(b"\n")
            if rest:
                self.partial[path] = rest
            for row in csv.reader(line.decode() for line in lines):
                if not row:
                    continue
                if path not in self.columns:  # the header: columns by name
                    self.columns[path] = [row.index(c) for c in COLUMNS]
                    continue
                ts, ok, ms = (row[i] for i in self.columns[path])
                rows.append((float(ts), ok == "1", float(ms)))
        return rows
