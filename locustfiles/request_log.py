"""Two compact logs of every Locust process that runs users.

``requests-<host>-<pid>.csv``: one row per request, from Locust's ``request`` event. Locust's
``_stats_history.csv`` gives trailing-window percentiles and current rates, not per-step
numbers; this log lets the analysis compute exact per-step counts, percentiles and failure
causes. Columns: see contracts/files.py (ts at completion, name, method, status, ok, cause,
response_time_ms, and the iteration the request belongs to, from the request's context).

``loop-lag-<host>-<pid>.csv``: how late this process's event loop woke up from a 0.1 s sleep,
ten times a second. A starved or overloaded generator wakes up late, and then every latency it
measures includes its own delay; its CPU share alone does not show that (a process pinned to a
busy CPU can be starved at 5 % CPU). Columns: ts, lag_ms.

A process running on its own writes both files itself. A Locust worker writes no file: its rows
go to the master over Locust's messaging (distributed.py), which writes them, so no disk needs
to be shared between hosts.

Options:
  --request-log-dir / REQUEST_LOG_DIR  directory for the logs (off when empty); host and pid
                                       keep processes apart
"""

import os
import socket
import time

import gevent
from locust import events
from locust.exception import CatchResponseError
from locust.runners import LocalRunner, WorkerRunner

from djbench.contracts.files import (
    LAG_COLUMNS,
    LAG_INTERVAL_S,
    LAG_LOG_PREFIX,
    NO_ITERATION,
    REQUEST_COLUMNS,
    REQUEST_LOG_PREFIX,
    RESOURCE_COLUMNS,
    RESOURCE_LOG_PREFIX,
    process_log_name,
)
from djbench.contracts.row_file import RowFile

FLUSH_INTERVAL_S = 1.0
LOGS = {
    REQUEST_LOG_PREFIX: REQUEST_COLUMNS,
    LAG_LOG_PREFIX: LAG_COLUMNS,
    RESOURCE_LOG_PREFIX: RESOURCE_COLUMNS,
}


def process_identity():
    """(host, pid): how this process's logs are named, here or on the master."""
    return socket.gethostname(), os.getpid()


class FileSink:
    """Writes the logs of one Locust process (this one, or a worker, on the master), in whole
    rows that a full disk delays rather than tears or drops (contracts/row_file.py)."""

    def __init__(self, directory, host, pid):
        self.files = {}
        self.directory, self.host, self.pid = directory, host, pid

    def write(self, log, rows):
        if log not in self.files:
            path = os.path.join(self.directory, process_log_name(log, self.host, self.pid))
            self.files[log] = RowFile(path, LOGS[log], f"{log} log")
        for row in rows:
            self.files[log].row(row)

    def flush(self):
        for f in self.files.values():
            f.flush()

    def close(self):
        for f in self.files.values():
            f.close()
        self.files = {}


class BufferSink:
    """Holds a worker's rows until they are sent to the master."""

    def __init__(self):
        self.rows = {log: [] for log in LOGS}

    def write(self, log, rows):
        self.rows[log].extend(rows)

    def drain(self):
        rows, self.rows = self.rows, {log: [] for log in LOGS}
        return rows

    def flush(self):
        pass

    def close(self):
        pass


sink = None  # where this process's rows go; None: not logging


@events.init_command_line_parser.add_listener
def _add_options(parser):
    parser.add_argument(
        "--request-log-dir",
        type=str,
        env_var="REQUEST_LOG_DIR",
        default="",
        help="Directory for the per-request and loop-lag logs (requests-<host>-<pid>.csv)",
    )


def classify(status, exception):
    """The failure cause label of one request; empty when it succeeded."""
    if exception is None:
        return ""
    if status >= 400:
        return f"http_{status}"
    if isinstance(exception, CatchResponseError):
        return "unexpected"
    if isinstance(exception, TimeoutError) or "timeout" in type(exception).__name__.lower():
        return "timeout"
    if isinstance(exception, OSError):
        return "connection"
    return "error_" + type(exception).__name__


@events.init.add_listener
def _open(environment, **_kwargs):
    global sink
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        sink = BufferSink()  # distributed.py sends it to the master
    elif isinstance(runner, LocalRunner):
        directory = environment.parsed_options and environment.parsed_options.request_log_dir
        if not directory:
            return
        sink = FileSink(directory, *process_identity())
        gevent.spawn(_flush_every_second)
    else:
        return  # the master runs no users
    gevent.spawn(_measure_loop_lag)


def _measure_loop_lag():
    while sink is not None:
        before = time.monotonic()
        gevent.sleep(LAG_INTERVAL_S)
        lag_ms = max(0.0, (time.monotonic() - before - LAG_INTERVAL_S) * 1000)
        if sink is not None:
            sink.write(LAG_LOG_PREFIX, [[f"{time.time():.3f}", f"{lag_ms:.1f}"]])


def _flush_every_second():
    while sink is not None:
        sink.flush()
        gevent.sleep(FLUSH_INTERVAL_S)


@events.request.add_listener
def _log(request_type, name, response_time, response=None, exception=None, context=None, **_):
    if sink is None:
        return
    status = getattr(response, "status_code", 0) or 0
    cause = classify(status, exception)
    iteration = (context or {}).get("iteration", NO_ITERATION)
    row = [f"{time.time():.3f}", name, request_type, status, 0 if cause else 1, cause,
           f"{response_time:.1f}", iteration]  # fmt: skip
    sink.write(REQUEST_LOG_PREFIX, [row])


@events.quitting.add_listener
def _close(**_kwargs):
    global sink
    if sink is not None and not isinstance(sink, BufferSink):
        done, sink = sink, None
        done.close()
