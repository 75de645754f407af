"""The one loop behind the harness's waits: until a server answers, until a process has ended."""

import time
from collections.abc import Callable

# How often a stack's start-up waits look (PostgreSQL, the app server, nginx): a knee search
# starts a stack for every probe, and a failed look costs a refused connection.
STARTUP_POLL_S = 0.05


def poll_until(check: Callable, timeout_s: float, interval_s: float, error: Callable | None = None):
    """Call check() every interval_s until it returns something truthy, and return that.

    After timeout_s without success: raise error() when given (an exception class, or a lambda
    that builds the caller's own exception, message and all), else return check's last, falsy,
    result, for the waits that give up quietly and let their caller go on. An exception from
    check() ends the wait at once: that is how a caller reports that what it waits for exited
    meanwhile.
    """
    deadline = time.monotonic() + timeout_s
    result = None
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval_s)
    if error is not None:
        raise error()
    return result
