"""Two compact logs, written by every Locust process that runs users.

``requests-<host>-<pid>.csv``: one row per request, from Locust's ``request`` event. Locust's
``_stats_history.csv`` gives trailing-window percentiles and current rates, not per-step
numbers; this log lets the analysis compute exact per-step counts, percentiles and failure
causes. Columns: see contracts/files.py (ts at completion, name, method, status, ok, cause,
response_time_ms, and the iteration the request belongs to, from the request's context).

``loop-lag-<host>-<pid>.csv``: how late this process's event loop woke up from a 0.1 s sleep,
ten times a second. A starved or overloaded generator wakes up late, and then every latency it
measures includes its own delay; its CPU share alone does not show that (a process pinned to a
busy CPU can be starved at 5 % CPU). Columns: ts, lag_ms.

Options:
  --request-log-dir / REQUEST_LOG_DIR  directory for both logs (off when empty); host and pid
                                       keep worker containers apart
"""

import csv
import os
import socket
import time

import gevent
from locust import events
from locust.exception import CatchResponseError

from contracts.files import (
    LAG_COLUMNS,
    LAG_LOG_PREFIX,
    NO_ITERATION,
    REQUEST_COLUMNS,
    REQUEST_LOG_PREFIX,
    process_log_name,
)

LAG_INTERVAL_S = 0.1
_writer = None
_file = None
_lag_file = None


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
    global _writer, _file, _lag_file
    directory = environment.parsed_options and environment.parsed_options.request_log_dir
    if not directory or environment.runner is None:
        return
    if type(environment.runner).__name__ == "MasterRunner":
        return  # the master runs no users
    _file = _open_log(directory, REQUEST_LOG_PREFIX)
    _writer = csv.writer(_file)
    _writer.writerow(REQUEST_COLUMNS)
    _lag_file = _open_log(directory, LAG_LOG_PREFIX)
    gevent.spawn(_measure_loop_lag, csv.writer(_lag_file))
    gevent.spawn(_flush_every_second)


def _open_log(directory, prefix):
    name = process_log_name(prefix, socket.gethostname(), os.getpid())
    return open(os.path.join(directory, name), "w", newline="")


def _measure_loop_lag(writer):
    writer.writerow(LAG_COLUMNS)
    while not _lag_file.closed:
        before = time.monotonic()
        gevent.sleep(LAG_INTERVAL_S)
        lag_ms = max(0.0, (time.monotonic() - before - LAG_INTERVAL_S) * 1000)
        if not _lag_file.closed:
            writer.writerow([f"{time.time():.3f}", f"{lag_ms:.1f}"])


def _flush_every_second():
    while _file is not None and not _file.closed:
        _file.flush()
        _lag_file.flush()
        gevent.sleep(1)


@events.request.add_listener
def _log(request_type, name, response_time, response=None, exception=None, context=None, **_):
    if _writer is None:
        return
    status = getattr(response, "status_code", 0) or 0
    cause = classify(status, exception)
    _writer.writerow(
        [
            f"{time.time():.3f}",
            name,
            request_type,
            status,
            0 if cause else 1,
            cause,
            f"{response_time:.1f}",
            (context or {}).get("iteration", NO_ITERATION),
        ]
    )


@events.quitting.add_listener
def _close(**_kwargs):
    global _writer
    if _file is not None:
        _writer = None
        _file.close()
        _lag_file.close()
