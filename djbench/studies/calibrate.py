"""`djbench calibrate`: what one load-generator process can drive on this machine.

Each client drives the same stack (a fresh one per client, as for every run) closed-loop: a
fixed number of users or connections with no wait, so it sends as fast as the stack answers.
Requests per CPU-second of the client are what the numbers are for: how much of a core Locust
needs at a given rate, with HttpUser and FastHttpUser, and wrk (a C client) as the reference
for the stack's raw capacity on one request.
"""

import json
import os
import resource
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from djbench import config
from djbench.contracts.documents import load_meta
from djbench.errors import ComponentFailed, UserError
from djbench.system import run_dirs as results
from djbench.system.log import log

WRK_SCRIPT = Path(__file__).with_name("wrk_summary.lua")
WRK_MARKER = "wrk-summary: "


@dataclass(frozen=True)
class Client:
    name: str
    label: str
    scenario: str  # vote: the benchmark's iteration; detail: GET the poll form only
    user_class: str = ""  # Locust's; empty for wrk
    all_cores: bool = False  # Locust as a master and one worker process per core


CLIENTS = (
    Client("locust-fast-vote", "Locust FastHttpUser", "vote", "fast"),
    Client("locust-http-vote", "Locust HttpUser", "vote", "http"),
    Client("locust-fast-detail", "Locust FastHttpUser", "detail", "fast"),
    Client("wrk-detail", "wrk, 1 thread", "detail"),
    Client(
        "locust-fast-vote-processes",
        "Locust FastHttpUser, one process per core",
        "vote",
        "fast",
        all_cores=True,
    ),
)


def find_wrk():
    path = shutil.which("wrk")
    if path is None:
        raise UserError("wrk was not found; install it (Debian/Ubuntu: apt-get install wrk)")
    return path


def run(runner, cfg, results_root):
    """cfg: the stack (server, workers...) and users, hold_s, warmup_s of the one step; each
    client's stack is started by `runner`, in whichever mode it runs."""
    cal_dir = results.new_dir(results_root, "calibrate")
    with results.removed_if_unused(cal_dir):
        return _calibrate(runner, cfg, cal_dir)


def _calibrate(runner, cfg, cal_dir):
    users = cfg.users[0]
    log.info(
        f"calibration {cal_dir.name}: {len(CLIENTS)} clients, each {users} users/connections "
        f"with no wait against {cfg.server} ({cfg.workers} workers), {cfg.hold_s:g} s each"
    )
    runs = []
    for client in CLIENTS:
        log.info(f"client {client.name}: {client.label}, {client.scenario} scenario")
        client_cfg = config.with_overrides(
            cfg,
            wait_s=(0.0, 0.0),
            user_class=client.user_class or "fast",
            scenario=client.scenario,
            profile=f"calibrate-{client.name}",
        )
        load = _wrk_load if client.user_class == "" else None
        client_runner = runner.with_locust_processes(os.cpu_count()) if client.all_cores else runner
        run_dir = client_runner.run(client_cfg, cal_dir / "runs", load=load)
        processes = load_meta(run_dir).get("locust", {})
        runs.append({**asdict(client), "run": str(run_dir.relative_to(cal_dir)),
                     "processes": processes.get("processes", 1)})  # fmt: skip
    from djbench.analysis.report.calibration import write_report

    write_report(cal_dir, runs)
    for line in (cal_dir / "calibrate.md").read_text().splitlines():
        if line.startswith("- "):
            log.info(line)
    return cal_dir


def _wrk_load(runner, run):
    """wrk on the poll form page: a warm-up run, discarded, then the measured one. Its CPU time
    is exact: both runs are reaped children of this process (getrusage)."""
    cfg, stack, run_dir, procs = run.cfg, run.stack, run.run_dir, run.procs
    url = stack.base_url + stack.poll_path
    argv = [find_wrk(), "-t1", f"-c{cfg.users[0]}", "--timeout", f"{cfg.client_timeout_s:g}s"]
    argv += ["--latency", "-s", str(WRK_SCRIPT)]
    wrk_log = run_dir / "logs" / "wrk.log"
    measure_s = max(1, round(cfg.hold_s - cfg.warmup_s))
    if cfg.warmup_s >= 1:
        procs.run(
            "wrk-warmup", argv + [f"-d{cfg.warmup_s:g}s", url], wrk_log, cpus=stack.locust_cpus
        )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = procs.run("wrk", argv + [f"-d{measure_s}s", url], wrk_log, cpus=stack.locust_cpus)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if wrk.proc.returncode != 0:
        raise ComponentFailed(f"wrk exited with status {wrk.proc.returncode}:\n{wrk.log_tail()}")
    summary = _summary(wrk_log)
    summary["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary["url"] = url
    summary["connections"] = cfg.users[0]
    results.write_json(run_dir / "wrk.json", summary)
    log.info(f"wrk: {summary['requests']} requests in {summary['duration_us'] / 1e6:.1f} s")


def _summary(log):
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith(WRK_MARKER)]
    if not lines:
        raise ComponentFailed(f"wrk printed no summary; see {log}")
    return json.loads(lines[-1].removeprefix(WRK_MARKER))
