"""SSH as the one channel between the controller and the other hosts.

The controller starts every remote process itself, over OpenSSH (`ssh`, with the user's own
keys, known hosts and ~/.ssh/config, or DJBENCH_SSH_CONFIG): the stack host's `djbench
stack-host --stdio`, whose calls and answers are JSON lines on the session's standard input
and output, and the load hosts' `djbench load-worker --stdio`, which reach the controller's
Locust master through a port forwarded back over their session (`ssh -R`). Nothing of
djbench listens on a network address but nginx; no secret crosses the network outside SSH,
and none is in an argv: what a remote process must know arrives on its standard input.

A session is a lease: when it ends (the controller stopped, was killed, or the network
between went silent for SERVER_ALIVE_S x 3), the remote process stops what it started; and a
remote process that hears nothing from its controller for LEASE_S stops too.
"""

import json
import os
import re
import selectors
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from djbench.errors import ComponentFailed, UserError
from djbench.paths import IMPORT_ROOT
from djbench.remote.addresses import NAME

SCHEME = "ssh://"
# Silence after which a remote process stops what its controller started (DJBENCH_LEASE_S: the
# remote host's own setting, for a network known to stall longer, or a test that waits less).
LEASE_S = float(os.environ.get("DJBENCH_LEASE_S") or 60.0)
HEARTBEAT_S = LEASE_S / 4  # the controller speaks at least this often
SERVER_ALIVE_S = 5  # ssh's own keep-alive: a dead network ends the session in 3 x this
MAX_LINE = 64 << 20  # the largest answer read (a run's logs and samples), and request
CONNECT_TIMEOUT_S = 10
REMOTE_ERROR = "djbench: error: "

_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def is_ssh(text) -> bool:
    return bool(text) and text.startswith(SCHEME)


@dataclass(frozen=True)
class Target:
    """ssh://[user@]host[:port]: a host the controller reaches over SSH."""

    host: str
    user: str = ""
    port: int = 0  # 0: ssh's own default (22, or ~/.ssh/config)

    @classmethod
    def parse(cls, text, what):
        bad = f"bad {what} {text!r}: expected ssh://[USER@]HOST[:PORT]"
        rest = text.removeprefix(SCHEME) if is_ssh(text) else ""
        user, _, hostport = rest.rpartition("@")
        host, port = hostport, ""
        if hostport.startswith("["):  # an IPv6 literal: [::1]:22
            host, closed, port = hostport[1:].partition("]")
            if port and not port.startswith(":"):
                raise UserError(bad)
            port = port.removeprefix(":")
            if not closed or not re.fullmatch(r"[0-9A-Fa-f:.]+", host or "-"):
                raise UserError(bad)
        elif ":" in hostport:
            host, _, port = hostport.partition(":")
            if not NAME.match(host):
                raise UserError(bad)
        elif not NAME.match(host):
            raise UserError(bad)
        if user and not _USER.match(user):
            raise UserError(bad)
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise UserError(bad)
        return cls(host, user, int(port or 0))

    @property
    def name(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}:{self.port}" if self.port else f"{user}{host}"


def remote_command(args):
    """The shell command line `djbench ARGS` is on the remote host: the same checkout, at the
    same path, unless DJBENCH_REMOTE_ROOT and DJBENCH_REMOTE_PYTHON say where it is there."""
    root = os.environ.get("DJBENCH_REMOTE_ROOT") or str(IMPORT_ROOT)
    python = os.environ.get("DJBENCH_REMOTE_PYTHON") or sys.executable
    line = " ".join(shlex.quote(str(a)) for a in args)
    return f"cd {shlex.quote(root)} && exec {shlex.quote(python)} -m djbench {line}"


def ssh_argv(target, args, forwards=()):
    """ssh to `target` running `djbench ARGS`; forwards: -R specifications."""
    argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
            "-o", f"ServerAliveInterval={SERVER_ALIVE_S}", "-o", "ServerAliveCountMax=3",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}"]  # fmt: skip
    if os.environ.get("DJBENCH_SSH_CONFIG"):
        argv += ["-F", os.environ["DJBENCH_SSH_CONFIG"]]
    if target.port:
        argv += ["-p", str(target.port)]
    for forward in forwards:
        argv += ["-R", forward]
    destination = f"{target.user}@{target.host}" if target.user else target.host
    return [*argv, destination, "--", remote_command(args)]


def start_session(procs, name, target, args, log_path, forwards=()):
    """One ssh session as a process of the run (stopped with it): its stdin and stdout are
    pipes, its stderr (ssh's and the remote process's) goes to log_path."""
    return procs.start(name, ssh_argv(target, args, forwards), log_path,
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip


class Channel:
    """Calls to a remote `djbench ... --stdio` over its ssh session: one JSON line each way,
    each with a timeout, answers bounded in size; a heartbeat keeps the lease while idle."""

    def __init__(self, managed, name):
        self.managed, self.name = managed, name
        self.lock = threading.Lock()
        self.buffer = b""
        self.broken = ""
        self.last = time.monotonic()
        self.stopping = threading.Event()
        self.heartbeat = threading.Thread(target=self._beat, daemon=True)
        self.heartbeat.start()

    def send(self, message):
        """One line to the remote process, without waiting for anything back."""
        line = json.dumps(message).encode() + b"\n"
        try:
            self.managed.proc.stdin.write(line)
            self.managed.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._fail("the ssh session ended")

    def call(self, path, body=None, timeout=300.0):
        with self.lock:
            if self.broken:
                raise ComponentFailed(self.broken)
            self.send({"call": path, "body": body or {}})
            answer = self._read_line(path, timeout)
            self.last = time.monotonic()
        try:
            message = json.loads(answer)
            status, data = int(message["status"]), message["data"]
        except (ValueError, KeyError, TypeError):
            self._fail(f"an answer to {path} that is not one")
        if status != 200:
            error = data.get("error") if isinstance(data, dict) else None
            raise ComponentFailed(f"stack host {self.name}: {error or status}")
        return data

    def _read_line(self, path, timeout):
        deadline = time.monotonic() + timeout
        out = self.managed.proc.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(f"no answer to {path} within {timeout:g} s")
                if not selector.select(min(left, 1.0)):
                    continue
                chunk = os.read(out.fileno(), 1 << 16)
                if not chunk:
                    self._fail("the ssh session ended")
                self.buffer += chunk
                if len(self.buffer) > MAX_LINE:
                    self._fail(f"an answer to {path} larger than {MAX_LINE >> 20} MB")
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def _fail(self, why):
        lines = self.managed.log_tail(3).strip().splitlines()
        said = [ln for ln in lines if ln.startswith(REMOTE_ERROR)]
        if said:  # the remote djbench said why it ended: that is the line
            self.broken = f"stack host {self.name}: {said[-1].removeprefix(REMOTE_ERROR)}"
        else:
            tail = " | ".join(lines)
            self.broken = f"stack host {self.name}: {why}" + (f" ({tail})" if tail else "")
        raise ComponentFailed(self.broken)

    def _beat(self):
        while not self.stopping.wait(1.0):
            if time.monotonic() - self.last < HEARTBEAT_S or self.broken:
                continue
            if self.lock.acquire(blocking=False):
                self.lock.release()
                try:
                    self.call("/time", timeout=CONNECT_TIMEOUT_S)
                except ComponentFailed:
                    pass  # the next call says so

    def close(self, timeout=30.0):
        """End the session: the remote process sees its input end and stops what it started."""
        self.stopping.set()
        try:
            self.managed.proc.stdin.close()
        except OSError:
            pass
        try:
            self.managed.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
