"""`djbench load-worker`: Locust worker processes on a load host, for a controller's master."""

import os
import signal
import tempfile
import time
from pathlib import Path

from djbench.contracts import defaults
from djbench.errors import UserError
from djbench.paths import BIN, IMPORT_ROOT, LOCUSTFILES
from djbench.remote.client import address
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import ProcessSet

REFUSED = 3  # a worker's exit status when the master refused it (locustfiles/distributed.py)


def load_worker(master, processes):
    """`djbench load-worker`: `processes` Locust workers for the master at `master`, started
    again after each run (the master ends them), until Ctrl-C."""
    host, port = address(master, defaults.LOCUST_MASTER_PORT, "--master")
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
        try:
            _serve_workers(p, argv, processes, env, tmp)
        except KeyboardInterrupt:
            log.info("load worker stopped")


def _serve_workers(procs, argv, processes, env, tmp):
    while True:
        workers = [
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
