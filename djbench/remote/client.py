"""The controller's side of a stack host: calls over the ssh session the controller starts it in
(remote/ssh.py), with their errors as one line, and the stack host's clock offset."""

import socket
import time

from djbench.errors import ComponentFailed, UserError
from djbench.remote import ssh

CLOCK_SAMPLES = 5


class ClockMixin:
    offset_s = rtt_s = None

    def measure_clock(self):
        """Its clock minus ours, from the round trip with the shortest time (NTP's way)."""
        self.offset_s = self.rtt_s = None
        for _ in range(CLOCK_SAMPLES):
            t0 = time.time()
            theirs = self.call("/time", timeout=10)["time"]
            t1 = time.time()
            if self.rtt_s is None or t1 - t0 < self.rtt_s:
                self.rtt_s, self.offset_s = t1 - t0, theirs - (t0 + t1) / 2


class StackClient(ClockMixin):
    """Calls to the `djbench stack-host --stdio` this controller starts over ssh, one session
    a run (its lease): open() starts it, close() ends it and with it the stack."""

    def __init__(self, text):
        self.target = ssh.Target.parse(text, "--stack")
        self.host, self.name = self.target.host, self.target.name
        self.channel = None

    def open(self, procs, log_path):
        address = resolve(self.target.host, "--stack")  # nginx's, for the load hosts
        args = ["stack-host", "--stdio", "--bind", address]
        managed = ssh.start_session(procs, "ssh-stack", self.target, args, log_path)
        self.channel = ssh.Channel(managed, self.name)
        return address

    def call(self, path, body=None, timeout=300):
        if self.channel is None:
            raise ComponentFailed(f"stack host {self.name}: no session")
        return self.channel.call(path, body, timeout)

    def close(self):
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def resolve(host, what):
    """A host name's IPv4 address (an address as it is)."""
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except (socket.gaierror, IndexError):
        raise UserError(f"bad {what}: cannot resolve {host!r}") from None


def local_address_towards(host):
    """The address of this host's interface that routes to `host` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))
        return s.getsockname()[0]
