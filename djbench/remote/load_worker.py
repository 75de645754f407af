"""`djbench load-worker --stdio`: Locust worker processes on a load host, for the master of the
controller that started it over ssh (remote/ssh.py). It serves one run: the run's token arrives
on standard input, the master is reached through the port the session forwards, and the workers
stop when the session ends."""

import json
import os
import select
import signal
import sys
import tempfile
from pathlib import Path

from djbench.contracts import defaults
from djbench.contracts.urls import URLS_ENV
from djbench.errors import UserError
from djbench.paths import BIN, IMPORT_ROOT, ROOT
from djbench.project import fingerprint
from djbench.project.scenario import locustfiles
from djbench.remote.addresses import host_port
from djbench.scenario import urls_file
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import ProcessSet

REFUSED = 3  # a worker's exit status when the master refused it (locustfiles/distributed.py)


def load_worker(master, processes, own_address=""):
    """`processes` Locust workers for the master at `master` (its port forwarded here), for one
    run, until the session ends. own_address: this host's, as the controller reaches it (for the
    run's records)."""
    os.dup2(2, 1)  # its session's output is not read: progress goes with stderr
    host, port = host_port(master, defaults.LOCUST_MASTER_PORT, "--master")
    if processes < 1:
        raise UserError(f"processes must be positive, got {processes}")
    fingerprint = environment.project_fingerprint()
    log.info(f"{processes} Locust worker(s) of project version {fingerprint} for the master at "
        f"{host}:{port}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet("load-worker") as p:
        # The load's settings come from the master with each run (Locust sends its custom
        # options to the workers); the user class is chosen at import, so it is passed on.
        # PYTHONPATH: a user's Locust file imports django_helpers from locustfiles/.
        env = {"PYTHONPATH": f"{IMPORT_ROOT}:{ROOT / 'locustfiles'}", "HOME": tmp,
               "DJBENCH_FINGERPRINT": fingerprint,
               "USER_CLASS": os.environ.get("USER_CLASS", defaults.USER_CLASS)}  # fmt: skip
        if own_address:
            env["DJBENCH_WORKER_ADDRESS"] = own_address
        given, scenario = _given(Path(tmp))
        argv = [str(BIN / "locust"), "-f", ",".join(locustfiles(scenario)), "--worker",
                "--master-host", host, "--master-port", str(port)]  # fmt: skip
        try:
            _serve_one_run(p, argv, processes, {**env, **given}, tmp)
        except KeyboardInterrupt:
            log.info("load worker stopped")


def _given(tmp):
    """What the controller sends first over the session: the run's token, the user class, and
    the scenario (polls', the pages of a URLS file, or a Locust file of the user's): (the
    workers' environment, the scenario as project/scenario.locustfiles takes it)."""
    line = sys.stdin.readline(1 << 20)
    try:
        given = json.loads(line)
        token = given["token"]
    except (ValueError, KeyError, TypeError):
        raise UserError("the controller sent no run token") from None
    env = {"DJBENCH_WORKER_TOKEN": str(token)}
    if given.get("user_class"):
        env["USER_CLASS"] = str(given["user_class"])
    scenario = {}
    if given.get("pages"):
        try:
            urls_file.write(tmp / "urls.txt", [(str(p), int(w)) for p, w in given["pages"]])
        except (ValueError, TypeError):
            raise UserError("the controller sent pages that are not a URLS file's") from None
        env[URLS_ENV] = str(tmp / "urls.txt")
        scenario = {"user_file": "pages.py"}
    elif given.get("locustfile"):
        path = Path(str(given["locustfile"]))
        if not path.is_file():
            raise UserError(f"no Locust file {path} on this host: the run's Locust file, at "
                            "the same path on every host")  # fmt: skip
        if fingerprint.file_hash(path) != given.get("locustfile_sha256"):
            raise UserError(f"the Locust file {path} here differs from the controller's")
        scenario = {"locustfile": str(path)}
    return env, scenario


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


def _refusal(log_tail):
    lines = [ln for ln in log_tail.splitlines() if ln.startswith("djbench: error: ")]
    return lines[-1].removeprefix("djbench: error: ") if lines else "refused by the master"
