"""`djbench load-worker`: Locust worker processes on a load host, for a controller's master.

Started by hand, it serves run after run until Ctrl-C. Started by the controller over ssh
(--stdio, remote/ssh.py), it serves one run: the run's token arrives on standard input, the
master is reached through the port the session forwards, and the workers stop when the session
ends."""

import json
import os
import select
import signal
import sys
import tempfile
import time
from pathlib import Path

from djbench.contracts import defaults
from djbench.errors import UserError
from djbench.paths import BIN, IMPORT_ROOT, LOCUSTFILES
from djbench.remote.addresses import host_port, reachable_host
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import ProcessSet

REFUSED = 3  # a worker's exit status when the master refused it (locustfiles/distributed.py)


def load_worker(master, processes, stdio=False, own_address=""):
    """`djbench load-worker`: `processes` Locust workers for the master at `master`, started
    again after each run (the master ends them), until Ctrl-C; stdio: for one run, until the
    session ends. own_address: this host's, as the controller reaches it (for the run's records)."""
    if stdio:
        os.dup2(2, 1)  # its session's output is not read: progress goes with stderr
    host, port = host_port(master, defaults.LOCUST_MASTER_PORT, "--master")
    if not stdio:  # by hand, the master is on another host; over ssh, its port is forwarded here
        reachable_host(host, "--master")
    if processes < 1:
        raise UserError(f"processes must be positive, got {processes}")
    fingerprint = environment.project_fingerprint()
    log.info(f"{processes} Locust worker(s) of project version {fingerprint} for the master at "
        f"{host}:{port}; Ctrl-C stops them")  # fmt: skip
    argv = [str(BIN / "locust"), "-f", ",".join(map(str, LOCUSTFILES)), "--worker",
            "--master-host", host, "--master-port", str(port)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet("load-worker") as p:
        # The load's settings come from the master with each run (Locust sends its custom
        # options to the workers); the user class is chosen at import, so it is passed on.
        env = {"PYTHONPATH": str(IMPORT_ROOT), "HOME": tmp, "DJBENCH_FINGERPRINT": fingerprint,
               "USER_CLASS": os.environ.get("USER_CLASS", defaults.USER_CLASS)}  # fmt: skip
        if own_address:
            env["DJBENCH_WORKER_ADDRESS"] = own_address
        try:
            if stdio:
                _serve_one_run(p, argv, processes, {**env, **_given()}, tmp)
            else:
                _serve_workers(p, argv, processes, env, tmp)
        except KeyboardInterrupt:
            log.info("load worker stopped")


def _given():
    """What the controller sends first over the session: the run's token, and the user class."""
    line = sys.stdin.readline(4096)
    try:
        given = json.loads(line)
        token = given["token"]
    except (ValueError, KeyError, TypeError):
        raise UserError("the controller sent no run token") from None
    env = {"DJBENCH_WORKER_TOKEN": str(token)}
    if given.get("user_class"):
        env["USER_CLASS"] = str(given["user_class"])
    return env


def _start(procs, argv, processes, env, tmp):
    return [
        procs.start(
            f"worker-{i + 1}",
            argv,
            Path(tmp) / f"worker-{i + 1}.log",
            env=env,
            cwd=tmp,
            stop_signal=signal.SIGINT,
        )  # fmt: skip
        for i in range(processes)
    ]


def _serve_one_run(procs, argv, processes, env, tmp):
    """Until the workers end (their master quit) or the session does (the input ends)."""
    workers = _start(procs, argv, processes, env, tmp)
    while any(w.alive() for w in workers):
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.readline():
            log.info("the controller's session ended: stopping the workers")
            return
    for worker in workers:
        if worker.proc.returncode == REFUSED:
            raise UserError(_refusal(worker.log_tail(50)))


def _serve_workers(procs, argv, processes, env, tmp):
    while True:
        workers = _start(procs, argv, processes, env, tmp)
        while any(w.alive() for w in workers):
            time.sleep(0.5)
        for worker in workers:
            procs.items.remove(worker)
            if worker.proc.returncode == REFUSED:
                raise UserError(_refusal(worker.log_tail(50)))
        log.info("workers ended (their master quit or was not there); waiting for the next run")
        time.sleep(1.0)


def _refusal(log_tail):
    lines = [ln for ln in log_tail.splitlines() if ln.startswith("djbench: error: ")]
    return lines[-1].removeprefix("djbench: error: ") if lines else "refused by the master"
