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
import hmac
import json
import logging
import os
import platform
import re
import socket
import sys
import time

import gevent
import locust
import psutil
from locust import events
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_RUNNING, MasterRunner, WorkerRunner

from djbench.contracts import defaults
from djbench.contracts.files import (
    RESOURCE_LOG_PREFIX,
    WORKER_EVENT_COLUMNS,
    WORKER_EVENTS,
    WORKERS_JSON,
)

FINGERPRINT = os.environ.get("DJBENCH_FINGERPRINT", "")
# The run's own secret, when the controller gave one (load hosts over ssh): only a worker that
# knows it joins, so a process that reaches the master's port cannot run users or send rows.
WORKER_TOKEN = os.environ.get("DJBENCH_WORKER_TOKEN", "")
# vote.py picks its user class when imported, so a worker's must be the master's.
USER_CLASS = os.environ.get("USER_CLASS", defaults.USER_CLASS)
PINGS_AT_HELLO = 5
PING_EVERY_S = 10.0
log = logging.getLogger("djbench")


def _request_log():
    # Loaded by Locust from its own file (as "request_log"): import it only once every
    # locustfile is loaded, so the same module, and its listeners, exist once.
    return sys.modules["request_log"]


def _names_a_process(hello):
    host, pid = hello.get("host"), hello.get("pid")
    return (isinstance(host, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", host)
            is not None and isinstance(pid, int) and 0 < pid < 2**31)  # fmt: skip


# -- worker side ------------------------------------------------------------------------------


def _worker(environment):
    runner = environment.runner
    host, pid = _request_log().process_identity()
    name = f"{host}-{pid}"
    runner.register_message("djbench_ping", lambda msg, **_: _pong(runner, msg))
    runner.register_message("djbench_refused", lambda msg, **_: _refused(runner, msg))
    address = os.environ.get("DJBENCH_WORKER_ADDRESS") or _address_towards(
        environment.parsed_options.master_host
    )
    runner.send_message(
        "djbench_hello",
        {
            "name": name,
            "host": host,
            "address": address,
            "pid": pid,
            "fingerprint": FINGERPRINT,
            "token": WORKER_TOKEN,
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
    def __init__(self, client_id, hello, sink, on_step=lambda: None):
        self.client_id, self.hello, self.sink = client_id, hello, sink
        self.offset_s = None  # worker clock - master clock
        self.rtt_s = None
        self.steps_s = []  # the clock moved by these, while the load ran
        self.step_errors_s = []  # each one's bound: half the two round trips it came from
        self.before = None  # (offset, rtt) before the last step
        self.reported = 0  # steps in workers.csv
        self.on_step = on_step
        self.waiting = []  # rows that came before the first offset

    def pong(self, t0, tw, t1):
        rtt, offset = t1 - t0, tw - (t0 + t1) / 2
        # Each estimate is off by at most half its round trip: two that differ by more than
        # that mean the worker's clock moved (stepped, or drifted that far) in between.
        if (
            self.rtt_s is not None
            and abs(offset - self.offset_s) > (rtt + self.rtt_s) / 2 + defaults.CLOCK_SLACK_S
        ):
            self.before = (self.offset_s, self.rtt_s)
            self.rtt_s, self.offset_s = rtt, offset  # rows from now on: the new offset
            self.steps_s.append(offset - self.before[0])
            self.step_errors_s.append((rtt + self.before[1]) / 2)
            self.on_step()
        elif self.rtt_s is None or rtt < self.rtt_s:
            self.rtt_s, self.offset_s = rtt, offset
            if self.before is not None:  # a step's size, from the best estimates on both sides
                self.steps_s[-1] = offset - self.before[0]
                self.step_errors_s[-1] = (rtt + self.before[1]) / 2
        for rows in self.waiting:
            self.write(rows)
        self.waiting = []

    def write(self, rows):
        if self.offset_s is None:
            self.waiting.append(rows)
            return
        for log_name, items in rows.items():
            if log_name not in _request_log().LOGS:
                continue  # only the logs a worker keeps, under our names for them
            moved = [[f"{float(row[0]) - self.offset_s:.3f}", *row[1:]] for row in items]
            if moved:
                self.sink.write(log_name, moved)

    def record(self):
        return {
            **self.hello,
            "clock_offset_s": None if self.offset_s is None else round(self.offset_s, 6),
            "clock_rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 3),
            "clock_steps_s": [round(step, 3) for step in self.steps_s],
            "clock_step_errors_s": [round(error, 3) for error in self.step_errors_s],
        }


class Master:
    def __init__(self, environment, directory):
        self.environment, self.runner, self.directory = environment, environment.runner, directory
        self.workers = {}  # client id -> Worker
        self.states = {}  # client id -> last state seen
        self.refused = set()  # client ids: gone because refused, not lost
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
        if WORKER_TOKEN and not hmac.compare_digest(
            str(data.get("token", "")).encode(), WORKER_TOKEN.encode()
        ):
            reason = "it does not know this run's token"
        elif not _names_a_process(data):
            reason = "its host name or process id is not one (they name its files here)"
        elif any((w.hello["host"], w.hello["pid"]) == (data["host"], data["pid"])
                 for w in self.workers.values()):  # fmt: skip
            reason = f"it names worker {data['host']}-{data['pid']}, which joined already"
        elif data.get("fingerprint") != FINGERPRINT:
            theirs = data.get("fingerprint") or "unknown"
            reason = f"its project version {theirs} differs from the controller's {FINGERPRINT}"
        elif data.get("user_class") != USER_CLASS:
            reason = f"its user class {data.get('user_class')} is not the controller's {USER_CLASS}"
        if reason:
            reason = f"worker {data.get('name')} refused: {reason}"
            log.error(reason)
            self.event(data.get("name"), "refused", reason)
            self.refused.add(msg.node_id)
            self.runner.send_message("djbench_refused", {"reason": reason}, client_id=msg.node_id)
            self._drop(msg.node_id)
            return
        sink = _request_log().FileSink(self.directory, data["host"], data["pid"])
        data = {k: v for k, v in data.items() if k != "token"}  # never written to workers.json
        on_step = lambda: gevent.spawn(self.settle, msg.node_id)  # noqa: E731
        self.workers[msg.node_id] = Worker(msg.node_id, data, sink, on_step)
        self.event(data["name"], "joined")
        gevent.spawn(self.ping, msg.node_id, PINGS_AT_HELLO)

    def _drop(self, client_id):
        """Out of Locust's count at once, so the load never starts with it; and, as Locust's
        own "quit" does, out of its user dispatcher, so that users it was given mid-run (Locust
        rebalances as soon as a worker connects) go back to the run's own workers."""
        runner = self.runner
        client = runner.clients.pop(client_id, None)
        dispatcher = getattr(runner, "_users_dispatcher", None)
        if client is not None and dispatcher is not None:
            dispatcher.remove_worker(client)
            if not dispatcher.dispatch_in_progress and runner.state == STATE_RUNNING:
                runner.start(runner.target_user_count, runner.spawn_rate)

    def settle(self, client_id):
        """A clock that moved, measured again at once: the ping that saw it may have had a long
        round trip, and the shortest of a few more gives its size."""
        self.ping(client_id, PINGS_AT_HELLO)
        gevent.sleep(1.0)
        self.report_steps(self.workers[client_id])

    def report_steps(self, worker):
        if self.events.closed:
            return
        steps = list(zip(worker.steps_s, worker.step_errors_s, strict=True))
        for step, error in steps[worker.reported :]:
            self.event(worker.hello["name"], "clock", f"moved {step * 1000:+.0f} ms (within "
                       f"{error * 1000:.0f} ms; the rows since its last ping, at most "
                       f"{PING_EVERY_S:g} s, are placed by the old offset)")  # fmt: skip
        worker.reported = len(worker.steps_s)

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
        while True:
            gevent.sleep(0.5)
            self.watch_once()

    def watch_once(self):
        """Workers that went missing or left while the load ran, as Locust sees them; one it
        refused (and dropped) is not lost."""
        current = {c.id: c.state for c in self.runner.clients.all}
        running = self.runner.state in ("spawning", "running")
        for client_id, state in current.items():
            before = self.states.get(client_id)
            if state == STATE_MISSING and before != STATE_MISSING:
                self.event(self.name(client_id), "lost", "no heartbeat")
            elif before == STATE_MISSING and state != STATE_MISSING:
                self.event(self.name(client_id), "back", state)
        for client_id in set(self.states) - set(current) - self.refused:
            if running and self.states[client_id] != STATE_MISSING:
                self.event(self.name(client_id), "lost", "left")
        self.states = current

    def close(self):
        for worker in self.workers.values():
            self.report_steps(worker)  # a step seen in the last second of the run
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
