"""A CSV file written in whole rows, that a full disk delays instead of tearing or emptying.

Rows collect in memory and are appended at each flush(). When the disk refuses a write (full,
over quota), the file is cut back to its last whole row and the rows are kept for the next flush:
once there is room again (the harness frees its reserve when it stops a run on a full disk),
nothing is lost. Rows still unwritten at close() are counted in one logged line ("<label>: N rows
not written ...") that the harness turns into a warning of the run. Standard library only: it
serves Locust's processes and the harness alike.
"""

import csv
import io
import logging
import os

log = logging.getLogger("djbench.rows")
# In Locust these lines go to its log through the root logger; the harness prints none of them
# (it says "disk full" once, and records what was lost in meta.json).
log.addHandler(logging.NullHandler())


class RowFile:
    def __init__(self, path, columns, label, append=False):
        """append: go on after the rows already in the file (its header written once)."""
        self.path, self.label = str(path), label
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (0 if append else os.O_TRUNC)
        self.fd = os.open(self.path, flags, 0o644)
        self.size = os.fstat(self.fd).st_size  # bytes of whole rows on disk
        self.rows = 0  # rows waiting in the buffer
        self.error = None  # the last write the disk refused, until one succeeds again
        self._new_buffer()
        if self.size == 0:
            self.row(columns)

    def _new_buffer(self):
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def row(self, values):
        self.writer.writerow(values)
        self.rows += 1

    def flush(self):
        """Append the buffered rows; False (rows kept for the next try) when the disk refuses."""
        data = self.buffer.getvalue().encode()
        if not data or self.fd is None:
            return True
        try:
            done = 0
            while done < len(data):
                done += os.pwrite(self.fd, data[done:], self.size + done)
        except OSError as e:
            os.ftruncate(self.fd, self.size)  # no half row on disk
            if self.error is None:
                log.error("%s: cannot write to %s (%s); rows kept in memory meanwhile",
                              self.label, self.path, e.strerror)  # fmt: skip
            self.error = e
            return False
        self.size += len(data)
        self.rows = 0
        self._new_buffer()
        if self.error is not None:
            log.warning("%s: writing to %s again", self.label, self.path)
            self.error = None
        return True

    def close(self):
        if self.fd is None:
            return
        if not self.flush():
            log.error("%s: %d rows not written to %s: %s",
                          self.label, self.rows, self.path, self.error.strerror)  # fmt: skip
        os.close(self.fd)
        self.fd = None
