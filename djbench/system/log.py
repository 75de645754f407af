"""Progress and notes go through `logging`, one formatter that writes today's plain lines to
standard output, errors to standard error (each looked up at every record, so a redirected or
captured stream gets them). While a live display owns the terminal (the step bar,
djbench/load/bar.py), printed_through() sends the same lines through it instead."""

import logging
import sys
from contextlib import contextmanager


class _Stdout(logging.Handler):
    def __init__(self):
        super().__init__()
        self.through = None  # print(line) of a live display, while one is shown

    def emit(self, record):
        try:
            error = record.levelno >= logging.ERROR
            # An error goes through the display only when standard error is a terminal too
            # (most likely the same one); redirected, it stays where the user sent it.
            if self.through is not None and (not error or _is_terminal(sys.stderr)):
                self.through(self.format(record))
                return
            stream = sys.stderr if error else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()  # progress must show as it happens, also through a pipe
        except Exception:
            self.handleError(record)


def _is_terminal(stream):
    return bool(getattr(stream, "isatty", None) and stream.isatty())


@contextmanager
def printed_through(print_line):
    """Lines go to print_line(text) instead of the streams until the block ends: a line
    written to the terminal under a live display would be overwritten by its next frame."""
    handlers = [h for h in log.handlers if isinstance(h, _Stdout)]
    saved = [h.through for h in handlers]
    for h in handlers:
        h.through = print_line
    try:
        yield
    finally:
        for h, before in zip(handlers, saved, strict=True):
            h.through = before


log = logging.getLogger("djbench")
if not log.handlers:
    _handler = _Stdout()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # the lines are the product's output, not a host application's log
