"""Locust on this host: one process, or a master with worker processes, as the run's managed
processes; its settings come from load/recording.py's locust_options in the environment."""

import signal

from djbench.contracts.files import LOCUST_CSV_PREFIX, TIMELINE
from djbench.contracts.urls import URLS_ENV
from djbench.load.recording import locust_options
from djbench.paths import BIN, IMPORT_ROOT, LOCUSTFILES, ROOT
from djbench.project.scenario import locustfiles
from djbench.system.processes import free_port
from djbench.system.waiting import poll_until


def start_locust(run, workers, bind, expect_remote=0, port=None, token=""):
    """Locust on this host: one process, or a master bound to `bind` (`port`, else a free one)
    with `workers` local worker processes, expecting `expect_remote` more from other hosts;
    token: the secret a worker must know to join (locustfiles/distributed.py)."""
    cfg, stack = run.cfg, run.stack
    log = run.run_dir / "logs" / "locust.log"
    # HOME: Locust would read ~/.locust.conf; the run's settings are all in locust_options.
    # PYTHONPATH: the locustfiles import contracts/ from this checkout; a user's Locust file
    # imports django_helpers from locustfiles/ (Locust takes each file's folder off the path).
    env = {**locust_options(cfg), "HOME": run.tmp,
           "PYTHONPATH": f"{IMPORT_ROOT}:{ROOT / 'locustfiles'}"}  # fmt: skip
    if token:
        env["DJBENCH_WORKER_TOKEN"] = token
    scenario = run.meta.get("scenario", {})
    if scenario.get("urls_file"):
        env[URLS_ENV] = scenario["urls_file"]
    files = ",".join(locustfiles(scenario))
    argv = _locust_argv(stack.base_url, run.run_dir, files)
    expected = workers + expect_remote if workers > 1 or expect_remote else 0
    if expected:
        port = port or free_port(bind)
        argv += ["--master", "--master-bind-host", bind, "--master-bind-port", str(port),
                 "--expect-workers", str(expected), "--expect-workers-max-wait", "60"]  # fmt: skip
    run.meta["locust"] = {"processes": expected or 1, "master": bool(expected),
                          "local_workers": workers if expected else 0,
                          "remote_workers": expect_remote}  # fmt: skip
    master = run.procs.start(
        "locust", argv, log, cwd=run.tmp, env=env, cpus=stack.locust_cpus,
        stop_timeout=20.0,
        # SIGINT, not SIGTERM: only then does Locust (2.47) stop gracefully, writing its
        # CSVs and the interrupted step's timeline row.
        stop_signal=signal.SIGINT,
    )  # fmt: skip
    local = []
    for i in range(workers if expected else 0):
        worker_argv = [str(BIN / "locust"), "-f", files, "--worker",
                       "--master-host", bind, "--master-port", str(port)]  # fmt: skip
        local.append(run.procs.start(
            f"locust-worker-{i + 1}", worker_argv, log.with_name(f"locust-worker-{i + 1}.log"),
            cwd=run.tmp, env=env, cpus=stack.locust_cpus, stop_signal=signal.SIGINT,
        ))  # fmt: skip
    return LocustProcesses(master, local)


class LocustProcesses:
    """Locust's master (or only process) and its local workers: a runners.base.Load."""

    def __init__(self, master, workers):
        self.master, self.workers = master, workers

    def alive(self):
        return self.master.alive()

    def stop(self):
        if self.master.alive():
            self.master.stop()
        # Workers end when their master tells them to quit; only then are they made to.
        poll_until(lambda: not any(w.alive() for w in self.workers), 10, 0.2)
        for worker in self.workers:
            worker.stop()

    def failure(self):
        status = self.master.proc.returncode
        if status == 0:
            return None
        return f"locust exited with status {status}:\n{self.master.log_tail()}"


def _locust_argv(base_url, run_dir, files=None):
    """Paths and host only: the load's settings come from locust_options() in the environment.
    files: the scenario's Locust files, comma-separated (default: the polls scenario's)."""
    return [
        str(BIN / "locust"), "-f", files or ",".join(map(str, LOCUSTFILES)),
        "--headless", "--only-summary", "--csv-full-history", "--exit-code-on-error", "0",
        "--host", base_url, "--csv", str(run_dir / LOCUST_CSV_PREFIX),
        "--timeline", str(run_dir / TIMELINE), "--request-log-dir", str(run_dir),
    ]  # fmt: skip
