"""A compact per-request log, written by every Locust process that runs users.

Locust's ``_stats_history.csv`` gives trailing-window percentiles and current rates, not
per-step numbers; this log (one row per request, from Locust's ``request`` event) lets the
analysis compute exact per-step counts, percentiles and failure causes.

Options:
  --request-log-dir / REQUEST_LOG_DIR  directory for ``requests-<host>-<pid>.csv`` (off when
                                       empty); host and pid keep worker containers apart

Columns: ts (epoch s at completion), name, method, status (0 = no response), ok (1/0),
cause (empty when ok), response_time_ms.
"""

import csv
import os
import socket
import time

import gevent
from locust import events
from locust.exception import CatchResponseError

COLUMNS = ["ts", "name", "method", "status", "ok", "cause", "response_time_ms"]
_writer = None
_file = None


@events.init_command_line_parser.add_listener
def _add_options(parser):
    parser.add_argument(
        "--request-log-dir",
        type=str,
        env_var="REQUEST_LOG_DIR",
        default="",
        help="Directory for the per-request log (requests-<pid>.csv)",
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
    global _writer, _file
    directory = environment.parsed_options and environment.parsed_options.request_log_dir
    if not directory or environment.runner is None:
        return
    if type(environment.runner).__name__ == "MasterRunner":
        return  # the master runs no users
    name = f"requests-{socket.gethostname()}-{os.getpid()}.csv"
    _file = open(os.path.join(directory, name), "w", newline="")
    _writer = csv.writer(_file)
    _writer.writerow(COLUMNS)
    gevent.spawn(_flush_every_second)


def _flush_every_second():
    while _file is not None and not _file.closed:
        _file.flush()
        gevent.sleep(1)


@events.request.add_listener
def _log(request_type, name, response_time, response=None, exception=None, **_kwargs):
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
        ]
    )


@events.quitting.add_listener
def _close(**_kwargs):
    global _writer
    if _file is not None:
        _writer = None
        _file.close()
