"""Requests the app is running at once in this process, for djbench's sampler to read.

It runs in the project's environment, not djbench's: each run copies this file beside its
settings module (app.py), which puts it first in the project's MIDDLEWARE when
DJBENCH_INFLIGHT_DIR is set (settings_file.py), whatever the project. Each process keeps one
small file there, named by its pid, mapped into memory: three doubles, the requests inside
Django now, the request-seconds so far (the integral of that count over time) and when the count
last changed (CLOCK_MONOTONIC, the same clock for every process of the machine). A reader gets
the mean over any interval from two readings of the integral, so a sample once a second still
sees every request, however short.
"""

import mmap
import os
import struct
import threading
import time
from pathlib import Path

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
except ImportError:  # asgiref before 3.6 (Django before 4.2): chains before 3.1 are all sync
    from asyncio import iscoroutinefunction

    def markcoroutinefunction(func):
        import asyncio

        func._is_coroutine = asyncio.coroutines._is_coroutine
        return func


FORMAT = "<3d"  # in flight, request-seconds, monotonic time of the last change


class Counter:
    def __init__(self, directory):
        path = Path(directory) / str(os.getpid())
        with open(path, "w+b") as f:
            f.write(b"\0" * struct.calcsize(FORMAT))
            f.flush()
            self.map = mmap.mmap(f.fileno(), struct.calcsize(FORMAT))
        self.lock = threading.Lock()  # threads (gthread, ASGI's sync views) share the count
        self.now, self.total, self.since = 0, 0.0, time.monotonic()

    def add(self, delta):
        with self.lock:
            t = time.monotonic()
            self.total += self.now * (t - self.since)
            self.now, self.since = self.now + delta, t
            struct.pack_into(FORMAT, self.map, 0, self.now, self.total, self.since)


_counter = None


def counter():
    """This process's counter, made on first use: a server may load the app before it forks."""
    global _counter
    if _counter is None or _counter.pid != os.getpid():
        _counter = Counter(os.environ["DJBENCH_INFLIGHT_DIR"])
        _counter.pid = os.getpid()
    return _counter


class InFlight:
    """Counts a request from its entry into Django until its response is returned, sync or
    async alike (it adds no thread hop: it runs in whichever mode the chain is in)."""

    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        counter()  # as the app loads: the sampler then knows this process runs it
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        count = counter()
        count.add(1)
        try:
            return self.get_response(request)
        finally:
            count.add(-1)

    async def _acall(self, request):
        count = counter()
        count.add(1)
        try:
            return await self.get_response(request)
        finally:
            count.add(-1)
