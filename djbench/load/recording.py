"""What every run records, whichever mode ran it: meta.json from start to end, steps.csv from
whatever was measured, and the partial-results notice when it did not complete."""

import json
import re
from contextlib import contextmanager

from djbench.analysis import AnalysisError
from djbench.analysis.runs.metrics import read_worker_events, write_steps
from djbench.contracts import documents
from djbench.contracts.files import TIMELINE, WORKERS_JSON
from djbench.errors import ComponentFailed
from djbench.stack import nginx
from djbench.stack.servers import SERVERS
from djbench.system import child_env as environ
from djbench.system import machine as environment
from djbench.system import run_dirs as results
from djbench.system.log import log

LOST_ROWS = re.compile(r"\S+ log: \d+ rows not written to .*")


def locust_options(cfg):
    """The load's settings as the environment variables the locustfiles (and Locust) read."""
    return {
        "STEPS": ",".join(map(str, cfg.users)),
        "FIRST_STEP": str(cfg.first_step),
        "HOLD": f"{cfg.hold_s:g}",
        "STEP_SPAWN_RATE": f"{cfg.spawn_rate:g}",
        "WARMUP": f"{cfg.warmup_s:g}",
        "CLIENT_TIMEOUT": f"{cfg.client_timeout_s:g}",
        "WAIT_TIME": ",".join(f"{s:g}" for s in cfg.wait_s),
        "USER_CLASS": cfg.user_class,
        "SCENARIO": cfg.scenario,
        "DJBENCH_FINGERPRINT": environment.project_fingerprint(),
        "PACING": f"{cfg.pacing_s:g}" if cfg.load_model == "open" else "0",
        # Users finish the request in hand when the load stops (locustfiles/vote.py), so every
        # vote POST that reached the server is also seen by Locust.
        "LOCUST_STOP_TIMEOUT": f"{stop_timeout(cfg):g}",
    }


def stop_timeout(cfg):
    return 3 * cfg.client_timeout_s + 5


def _base_meta(cfg, run_dir, mode):
    server = SERVERS[cfg.server]
    return {
        "run_id": run_dir.name,
        "complete": False,
        "mode": mode,
        "server": cfg.server,
        "interface": cfg.interface,
        "workers": cfg.workers,
        # What really serves: daphne is one process whatever the workers setting says.
        "processes": cfg.processes,
        "threads": cfg.threads,
        "threads_used": server.uses_threads,
        "database": {
            "conn_max_age": cfg.conn_max_age,
            "pool": {"min_size": cfg.db_pool[0], "max_size": cfg.db_pool[1]}
            if cfg.db_pool
            else None,
            "pg_max_connections": cfg.pg_max_connections,
        },
        "view": cfg.view,
        "profile": cfg.profile,
        "users": list(cfg.users),
        "spawn_rate": cfg.spawn_rate,
        "hold_s": cfg.hold_s,
        "warmup_s": cfg.warmup_s,
        "failure_definition": cfg.failure_definition(),
        "config": cfg.as_dict(),
        "server_command": server.command("HOST", "PORT", cfg.workers, cfg.threads),
        "nginx": dict(nginx.SETTINGS),
        "versions": environment.versions(server.packages),
        "machine": environment.machine(),
        # One host with every role; a distributed run replaces it with its hosts.
        "topology": {
            "hosts": [
                {
                    "address": "127.0.0.1",
                    "roles": ["controller", "db", "web", "load"],
                    **environment.host_summary(),
                }
            ]
        },
        "git_revision": environment.git_revision(),
        "project_fingerprint": environment.project_fingerprint(),
        "started_at": results.utc_now().isoformat(),
        "ended_at": None,
        "notes": notes(cfg),
        "environment_ignored": environ.ignored(),
        "warnings": [],
    }


def notes(cfg):
    """One line each for what a reader of the numbers must know about this setup."""
    server = SERVERS[cfg.server]
    lines = []
    if server.single_process:
        lines.append(
            f"{cfg.server} runs one process (it has no worker option): the workers setting "
            f"({cfg.workers}) does not apply to it"
        )
    if ignored := environ.ignored():
        lines.append(
            f"left out of the environment, since they would change what runs: {', '.join(ignored)}"
        )
    if cfg.conn_max_age and cfg.interface == "asgi":
        lines.append(
            "persistent connections (conn-max-age > 0) are not supported under ASGI "
            "(Django ticket #33497): connections can pile up with requests in flight"
        )
    return lines


def write_meta(run_dir, meta):
    """The one writer of a run's meta.json: atomically, with its schema version."""
    results.write_json(run_dir / documents.META.file, documents.stamp(documents.META, meta))


@contextmanager
def recorded_run(cfg, results_root, mode):
    """Create the run's directory and meta.json; on exit, whatever happened, finish both."""
    project = cfg.project
    run_dir = results.new_dir(results_root, f"{cfg.server}-{cfg.variant}-{cfg.profile}")
    meta = _base_meta(cfg, run_dir, mode)
    write_meta(run_dir, meta)
    results.reserve_space(run_dir)
    processes = f"{cfg.processes} process" + ("es" if cfg.processes > 1 else "")
    views = f"{cfg.view} views" if project.builtin else f"project {project.name}"
    log.info(
        f"run {run_dir.name} ({mode}): {cfg.server} ({cfg.interface.upper()}, {processes}, "
        f"{views}), {_load(cfg)}, {cfg.hold_s:g} s per step"
    )
    for line in meta["notes"]:
        log.info(f"note: {line}")
    try:
        yield run_dir, meta
        meta["complete"] = True
    except (ComponentFailed, OSError) as e:
        failure = e if isinstance(e, ComponentFailed) else results.as_disk_full(e, run_dir)
        if failure is None:
            raise
        meta["error"] = str(failure)
        meta["warnings"].append(str(failure).splitlines()[0])
        if failure is e:
            raise
        raise failure from None
    finally:
        results.release_space(run_dir, final=True)  # room for steps.csv and meta.json
        meta["ended_at"] = results.utc_now().isoformat()
        _finish(run_dir, meta)
        try:
            write_meta(run_dir, meta)
        except OSError as e:  # the meta.json of the start stays, saying complete: false
            meta["complete"] = False
            log.info(f"meta.json not updated ({e.strerror})")
        if not meta["complete"]:
            log.info(f"partial results: {run_dir}")


def _load(cfg):
    if cfg.load_model == "open":
        rates = ",".join(f"{r:g}" for r in cfg.rates)
        return f"open model: {rates} iterations/s ({cfg.pacing_s:g} s pacing)"
    return f"users {','.join(map(str, cfg.users))}"


def _finish(run_dir, meta):
    """Per-step numbers from whatever was measured, also for a partial run."""
    if (run_dir / TIMELINE).exists():
        try:
            write_steps(run_dir)
        except Exception as e:  # a broken partial log must not hide the original error
            meta["warnings"].append(f"steps.csv not written: {e}")
    _load_generators(run_dir, meta)
    texts = [_read(log) for log in sorted((run_dir / "logs").glob("locust*.log"))]
    for text in texts:
        # contracts/row_file.py: rows a full disk refused to the end
        for lost in LOST_ROWS.findall(text):
            meta["warnings"].append(f"{lost}: the measured numbers miss them")
    if any("CPU usage above" in text for text in texts):
        meta["warnings"].append(
            "Locust reported CPU usage above 90 %: the load generator may have been the "
            "bottleneck; its latencies and failures are not only the server's"
        )


def _load_generators(run_dir, meta):
    """Locust's workers as they said hello to the master (host, CPU, clock offset), and the
    ones refused or lost: never silently fewer users."""
    try:
        workers = json.loads((run_dir / WORKERS_JSON).read_text())
    except (OSError, ValueError):
        workers = []
    if workers:
        meta["load_generators"] = workers
        _add_load_hosts(meta, workers)
    try:
        events = read_worker_events(run_dir)
    except AnalysisError as e:
        meta["warnings"].append(f"workers.csv not read: {e}")
        return
    if events is None:
        return
    for _, row in events[events["event"].isin(["lost", "refused", "clock"])].iterrows():
        if row["event"] == "refused":
            meta["warnings"].append(f"Locust {row['detail']}")  # "worker X refused: why"
        elif row["event"] == "clock":
            meta["warnings"].append(f"Locust worker {row['worker']}'s clock {row['detail']}")
        else:
            meta["warnings"].append(f"Locust worker {row['worker']} lost ({row['detail']})")


def _add_load_hosts(meta, workers):
    """Each load host of the topology with its worker processes, as they said hello."""
    hosts = meta.setdefault("topology", {}).setdefault("hosts", [])
    by_address = {}
    for worker in workers:
        by_address.setdefault(worker.get("address") or worker["host"], []).append(worker)
    for address, group in by_address.items():
        known = next((h for h in hosts if h.get("address") == address), None)
        if known is None:
            known = {"address": address, "roles": [], "cpu_model": group[0].get("cpu_model"),
                     "cpu_count": group[0].get("cpu_count"),
                     "versions": group[0].get("versions", {})}  # fmt: skip
            hosts.append(known)
        if "load" not in known["roles"]:
            known["roles"].append("load")
        known["locust_workers"] = sorted(w["name"] for w in group)
        offsets = [w["clock_offset_s"] for w in group if w.get("clock_offset_s") is not None]
        if offsets:
            known["worker_clock_offsets_s"] = offsets


def _read(path):
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def record_integrity(meta, result):
    meta["integrity"] = result
    meta["votes_in_db"] = result["votes_in_db"]
    meta["votes_posted_ok"] = result["votes_posted_ok"]
    if not result["ok"]:
        meta["warnings"].append(result["message"])
