"""Hosts for tests, as network namespaces on this one machine.

Each host is a namespace with loopback and one veth to a bridge that lives in a switch namespace
of its own, with an address of a private /24 the test picks; nothing touches the machine's own
network. Everything is removed on exit: the processes left in the namespaces, then the
namespaces (which takes their interfaces with them).
"""

import os
import signal
import subprocess
import time


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available():
    """(True, "") when this process can make namespaces, else (False, why)."""
    if os.geteuid() != 0:
        return False, "making network namespaces needs root"
    name = f"djbt{os.getpid()}probe"
    try:
        done = ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return False, "ip (iproute2) is not installed"
    if done.returncode:
        return False, f"ip netns add failed: {done.stderr.strip()}"
    ip("netns", "del", name, check=False)
    return True, ""


class Hosts:
    def __init__(self, names, subnet="10.213.7"):
        self.tag = f"djbt{os.getpid() % 100000}"
        self.subnet = subnet
        self.names = list(names)
        self.address = {name: f"{subnet}.{i + 2}" for i, name in enumerate(self.names)}
        self.switch = f"{self.tag}-sw"
        self.procs = []

    def ns(self, name):
        return f"{self.tag}-{name}"

    def __enter__(self):
        try:
            ip("netns", "add", self.switch)
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            for i, name in enumerate(self.names):
                ns, outer, inner = self.ns(name), f"{self.tag}s{i}", f"{self.tag}h{i}"
                ip("netns", "add", ns)
                ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                ip("link", "set", outer, "netns", self.switch)
                ip("link", "set", inner, "netns", ns)
                ip("-n", self.switch, "link", "set", outer, "master", "br0", "up")
                ip("-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", inner)
                ip("-n", ns, "link", "set", inner, "up")
                ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self, name, argv, **popen):
        """A process on host `name` (its own session, so its whole tree can be signalled)."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(name), *argv], start_new_session=True, **popen
        )
        self.procs.append(proc)
        return proc

    def pids(self, name):
        done = ip("netns", "pids", self.ns(name), check=False)
        return [int(p) for p in done.stdout.split()]

    def all_pids(self):
        return {name: self.pids(name) for name in self.names}

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for name in self.names:
            for pid in self.pids(name):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.2)
        for ns in [*map(self.ns, self.names), self.switch]:
            ip("netns", "del", ns, check=False)

    def namespaces_left(self):
        listed = ip("netns", "list").stdout
        return [line.split()[0] for line in listed.splitlines() if line.startswith(self.tag)]
