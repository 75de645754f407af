"""Start and stop the processes of a run: each in its own session, so its whole tree (workers,
backends) can be signalled at once and a Ctrl-C in the terminal reaches only the harness, which
then stops them in order."""

import ctypes
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from djbench.errors import ComponentFailed, UserError
from djbench.system.child_env import child_environ
from djbench.system.waiting import STARTUP_POLL_S, poll_until

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup(cpus):
    def setup():
        # If the harness itself is killed hard (SIGKILL), the kernel kills the child too.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)  # inherited by the process's own children

    return setup


# What stops a run: Ctrl-C, `kill`, and the terminal going away. Each one stops the run the same
# way, and none of them may cut the cleanup short.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_deferred():
    """Ignore the stop signals while cleaning up: a second Ctrl-C, or a SIGTERM from a
    supervisor, must not leave half of the run's processes or containers behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Managed:
    """One started process (and its process group)."""

    def __init__(
        self, name, argv, log_path, stop_signal=signal.SIGTERM, stop_timeout=10.0, cpus=None,
        env=None, run_id="", **popen,
    ):  # fmt: skip
        """env: what this process needs beyond the user's environment (environ.py decides
        which of the user's variables it sees)."""
        self.name, self.log_path, self.stop_signal = name, Path(log_path), stop_signal
        self.stop_timeout = stop_timeout
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # stdin, stdout: pipes for a process spoken to (an ssh session); its stderr is logged.
        stdin, stdout = popen.pop("stdin", subprocess.DEVNULL), popen.pop("stdout", None)
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    argv,
                    stdin=stdin,
                    stdout=log if stdout is None else stdout,
                    stderr=subprocess.STDOUT if stdout is None else log,
                    start_new_session=True,
                    preexec_fn=_child_setup(cpus),
                    env=child_environ(env, run_id),
                    **popen,
                )
            except FileNotFoundError:
                raise UserError(f"cannot start {name}: {argv[0]} not found") from None
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """Signal the leader, wait, then kill whatever is left of the group."""
        if self.alive():
            _signal_group(self.pid, self.stop_signal)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.pid, signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# Set-up steps (initdb, migrate, seed) take seconds; a hung one must not hang the harness.
SETUP_TIMEOUT_S = 300.0


class ProcessSet:
    """Processes of a run, stopped in reverse start order on exit, whatever happened. Each
    carries the run's id in its environment (see leftovers.py)."""

    def __init__(self, run_id=""):
        self.items = []
        self.started = {}  # name -> pid, kept after stopping (recorded in meta.json)
        self.run_id = run_id

    def start(self, name, argv, log_path, **kwargs):
        managed = Managed(name, argv, log_path, run_id=self.run_id, **kwargs)
        self.items.append(managed)
        self.started[name] = managed.pid
        return managed

    def run(self, name, argv, log_path, timeout=SETUP_TIMEOUT_S, **kwargs):
        """Start, wait for the end (at most `timeout` seconds), then clean up its group: a
        short-lived step that an interrupt still stops along with everything it started."""
        managed = self.start(name, argv, log_path, **kwargs)
        try:
            managed.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ComponentFailed(
                f"{name} did not finish within {timeout:g} s; last lines of its log:\n"
                f"{managed.log_tail()}"
            ) from None
        finally:
            managed.stop()  # reaps anything it left in its group
            self.items.remove(managed)
        return managed

    def stop_last(self, managed):
        """Stop this one after all the others (they are stopped newest first)."""
        self.items.remove(managed)
        self.items.insert(0, managed)

    def stop(self, managed):
        """Stop one process before the others, and forget it."""
        managed.stop()
        self.items.remove(managed)

    def dead(self):
        return [m for m in self.items if not m.alive()]

    def stop_all(self):
        with signals_deferred():
            while self.items:
                self.items.pop().stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()


def wait_listening(host, port, managed, timeout=60.0):
    """Wait until host:port accepts a connection, or fail with the process's log tail."""

    def listening():
        if not managed.alive():
            raise RuntimeError(f"{managed.name} exited during start-up:\n{managed.log_tail()}")
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            return False
        return True

    timed_out = f"{managed.name} did not listen on {host}:{port} within {timeout:g} s"
    poll_until(listening, timeout, STARTUP_POLL_S, lambda: RuntimeError(timed_out))


def wait_http(url, managed, timeout=60.0):
    """Wait until url answers (any HTTP status), or fail with the process's log tail."""

    def answers():
        if not managed.alive():
            raise RuntimeError(f"{managed.name} exited during start-up:\n{managed.log_tail()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
        except urllib.error.HTTPError:
            pass  # any status is an answer
        except OSError:
            return False
        return True

    timed_out = f"{managed.name} did not answer {url} within {timeout:g} s"
    poll_until(answers, timeout, STARTUP_POLL_S, lambda: RuntimeError(timed_out))
