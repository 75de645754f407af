"""Locust across processes and hosts: every worker's raw data reaches the master over Locust's
own messaging, on the master's clock.

Workers write no files (request_log.py buffers their rows). Once a second each worker sends its
new request-log, loop-lag and CPU rows to the master ("djbench_rows"), which writes them into the
same files a process on its own writes (requests-<host>-<pid>.csv, ...), so the analysis reads
one layout whatever ran, and no disk is shared between hosts.

Clocks: the step windows come from the master's timeline, so every timestamp must be on the
master's clock. The master measures each worker's offset with Locust messages (ping at t0,
worker's time tw, pong back at t1: offset = tw - (t0 + t1) / 2, wrong by at most (t1 - t0) / 2),
keeps the sample with the shortest round trip, and subtracts it from the worker's timestamps
before writing them. Offsets and round trips are written to workers.json for meta.json.

Each worker says hello with the project's fingerprint (DJBENCH_FINGERPRINT, set by djbench); the
master refuses a worker whose fingerprint differs from its own, and the worker exits with one
line. workers.csv records, on the master's clock, every worker that joined, was refused, went
missing (Locust's heartbeat), came back or left while the load ran: a lost worker means fewer
users than planned, and the analysis marks the steps it touched.
"""

import csv
import json
import logging
import os
import platform
import socket
import sys
import time

import gevent
import locust
import psutil
from locust import events
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from djbench.contracts import defaults
from djbench.contracts.files import (
    RESOURCE_LOG_PREFIX,
    WORKER_EVENT_COLUMNS,
    WORKER_EVENTS,
    WORKERS_JSON,
)

FINGERPRINT = os.environ.get("DJBENCH_FINGERPRINT", "")
# vote.py picks its user class when imported, so a worker's must be the master's.
USER_CLASS = os.environ.get("USER_CLASS", defaults.USER_CLASS)
PINGS_AT_HELLO = 5
PING_EVERY_S = 10.0
log = logging.getLogger("djbench")


def _request_log():
    # Loaded by Locust from its own file (as "request_log"): import it only once every
    # locustfile is loaded, so the same module, and its listeners, exist once.
    return sys.modules["request_log"]


# -- worker side ------------------------------------------------------------------------------


def _worker(environment):
    runner = environment.runner
    host, pid = _request_log().process_identity()
    name = f"{host}-{pid}"
    runner.register_message("djbench_ping", lambda msg, **_: _pong(runner, msg))
    runner.register_message("djbench_refused", lambda msg, **_: _refused(runner, msg))
    address = _address_towards(environment.parsed_options.master_host)
    runner.send_message(
        "djbench_hello",
        {
            "name": name,
            "host": host,
            "address": address,
            "pid": pid,
            "fingerprint": FINGERPRINT,
            "user_class": USER_CLASS,
            "cpu_count": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "versions": {"python": platform.python_version(), "locust": locust.__version__},
        },
    )
    gevent.spawn(_send_rows_every_second, runner, name, address)
    environment.events.test_stop.add_listener(lambda **_: _send_rows(runner))


def _pong(runner, msg):
    runner.send_message("djbench_pong", {"t0": msg.data["t0"], "tw": time.time()})


def _refused(runner, msg):
    print(f"djbench: error: {msg.data['reason']}", file=sys.stderr, flush=True)
    # Tell the master this worker is gone (Locust's own "quit"), then end at once: the refused
    # worker must not run a single user.
    runner.client.send(Message("quit", None, runner.client_id))
    os._exit(3)


def _send_rows(runner):
    rows = _request_log().sink.drain()
    if any(rows.values()):
        runner.send_message("djbench_rows", rows)


def _send_rows_every_second(runner, name, address):
    me = psutil.Process()
    me.cpu_percent()
    while True:
        gevent.sleep(1.0)
        rss = me.memory_info().rss / 2**20
        cpu = me.cpu_percent()
        row = [f"{time.time():.3f}", f"locust@{name}", f"{cpu:.1f}", f"{rss:.1f}", address]
        _request_log().sink.write(RESOURCE_LOG_PREFIX, [row])
        _send_rows(runner)


def _address_towards(master_host):
    """This worker's address as its master sees it (its route there; no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((master_host, 9))
            return s.getsockname()[0]
    except OSError:
        return ""


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        return ""


# -- master side ------------------------------------------------------------------------------


class Worker:
    def __init__(self, client_id, hello, sink):
        self.client_id, self.hello, self.sink = client_id, hello, sink
        self.offset_s = None  # worker clock - master clock
        self.rtt_s = None
        self.waiting = []  # rows that came before the first offset

    def pong(self, t0, tw, t1):
        if self.rtt_s is None or t1 - t0 < self.rtt_s:
            self.rtt_s, self.offset_s = t1 - t0, tw - (t0 + t1) / 2
        for rows in self.waiting:
            self.write(rows)
        self.waiting = []

    def write(self, rows):
        if self.offset_s is None:
            self.waiting.append(rows)
            return
        for log_name, items in rows.items():
            moved = [[f"{float(row[0]) - self.offset_s:.3f}", *row[1:]] for row in items]
            if moved:
                self.sink.write(log_name, moved)

    def record(self):
        return {
            **self.hello,
            "clock_offset_s": None if self.offset_s is None else round(self.offset_s, 6),
            "clock_rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 3),
        }


class Master:
    def __init__(self, environment, directory):
        self.environment, self.runner, self.directory = environment, environment.runner, directory
        self.workers = {}  # client id -> Worker
        self.states = {}  # client id -> last state seen
        self.events = open(os.path.join(directory, WORKER_EVENTS), "w", newline="")
        self.writer = csv.writer(self.events)
        self.writer.writerow(WORKER_EVENT_COLUMNS)
        for name, handler in (("djbench_hello", self.hello), ("djbench_pong", self.pong),
                              ("djbench_rows", self.rows)):  # fmt: skip
            self.runner.register_message(name, handler)
        gevent.spawn(self.watch)
        gevent.spawn(self.ping_every)

    def event(self, worker, event, detail=""):
        self.writer.writerow([f"{time.time():.3f}", worker, event, detail])
        self.events.flush()

    def name(self, client_id):
        worker = self.workers.get(client_id)
        return worker.hello["name"] if worker else client_id

    def hello(self, environment, msg, **_):
        data = msg.data
        reason = None
        if data.get("fingerprint") != FINGERPRINT:
            theirs = data.get("fingerprint") or "unknown"
            reason = f"its project version {theirs} differs from the controller's {FINGERPRINT}"
        elif data.get("user_class") != USER_CLASS:
            reason = f"its user class {data.get('user_class')} is not the controller's {USER_CLASS}"
        if reason:
            reason = f"worker {data.get('name')} refused: {reason}"
            log.error(reason)
            self.event(data.get("name"), "refused", reason)
            self.runner.send_message("djbench_refused", {"reason": reason}, client_id=msg.node_id)
            # Out of Locust's count at once, so the load never starts with it.
            self.runner.clients.pop(msg.node_id, None)
            return
        sink = _request_log().FileSink(self.directory, data["host"], data["pid"])
        self.workers[msg.node_id] = Worker(msg.node_id, data, sink)
        self.event(data["name"], "joined")
        gevent.spawn(self.ping, msg.node_id, PINGS_AT_HELLO)

    def ping(self, client_id, times=1):
        for _ in range(times):
            self.runner.send_message("djbench_ping", {"t0": time.time()}, client_id=client_id)
            gevent.sleep(0.1)

    def ping_every(self):
        while True:
            gevent.sleep(PING_EVERY_S)
            for client_id in list(self.workers):
                self.ping(client_id)

    def pong(self, environment, msg, **_):
        t1 = time.time()
        worker = self.workers.get(msg.node_id)
        if worker is not None:
            worker.pong(float(msg.data["t0"]), float(msg.data["tw"]), t1)

    def rows(self, environment, msg, **_):
        worker = self.workers.get(msg.node_id)
        if worker is not None:
            worker.write(msg.data)
            worker.sink.flush()

    def watch(self):
        """Workers that go missing or leave while the load runs, as Locust sees them."""
        while True:
            gevent.sleep(0.5)
            current = {c.id: c.state for c in self.runner.clients.all}
            running = self.runner.state in ("spawning", "running")
            for client_id, state in current.items():
                before = self.states.get(client_id)
                if state == STATE_MISSING and before != STATE_MISSING:
                    self.event(self.name(client_id), "lost", "no heartbeat")
                elif before == STATE_MISSING and state != STATE_MISSING:
                    self.event(self.name(client_id), "back", state)
            for client_id in set(self.states) - set(current):
                if running and self.states[client_id] != STATE_MISSING:
                    self.event(self.name(client_id), "lost", "left")
            self.states = current

    def close(self):
        with open(os.path.join(self.directory, WORKERS_JSON), "w") as f:
            json.dump([w.record() for w in self.workers.values()], f, indent=2)
        for worker in self.workers.values():
            worker.sink.close()
        self.events.close()


master = None


@events.init.add_listener
def _init(environment, **_kwargs):
    global master
    if isinstance(environment.runner, WorkerRunner):
        _worker(environment)
    elif isinstance(environment.runner, MasterRunner):
        directory = environment.parsed_options.request_log_dir
        if directory:
            master = Master(environment, directory)


@events.quitting.add_listener
def _close(**_kwargs):
    if master is not None:
        master.close()
