"""Native mode: the whole stack as host processes on loopback, for one server and one profile.

PostgreSQL (throwaway cluster) -> migrate + seed -> app server -> nginx -> verify -> Locust step
load -> integrity check -> steps.csv. Every process is stopped on success, error and interrupt;
whatever was measured is kept, and meta.json says whether the run is complete.
"""

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.metrics import write_steps

from . import environment, integrity, nginx, postgres, progress, results
from .config import nginx_proxy_timeout
from .paths import DJANGO_DIR, LOCUSTFILES
from .processes import ProcessSet, free_port, wait_http
from .resources import Sampler
from .servers import SERVERS
from .verify import verify_stack

BIN = Path(sys.executable).parent


class ComponentFailed(RuntimeError):
    pass


def preflight():
    """Fail fast, before anything starts or any directory is made."""
    postgres.find_binary("initdb")
    postgres.find_binary("postgres")
    nginx.find_binary()


def run(cfg, results_root, out=print):
    preflight()
    run_dir = results.new_dir(results_root, f"{cfg.server}-{cfg.view}-{cfg.profile}")
    server = SERVERS[cfg.server]
    meta = {
        "run_id": run_dir.name,
        "complete": False,
        "mode": "native",
        "server": cfg.server,
        "interface": cfg.interface,
        "workers": cfg.workers,
        "view": cfg.view,
        "profile": cfg.profile,
        "users": list(cfg.users),
        "spawn_rate": cfg.spawn_rate,
        "hold_s": cfg.hold_s,
        "warmup_s": cfg.warmup_s,
        "failure_definition": cfg.failure_definition(),
        "config": cfg.as_dict(),
        "server_command": server.command("127.0.0.1", "PORT", cfg.workers),
        "nginx": dict(nginx.SETTINGS),
        "versions": environment.versions(server.packages),
        "machine": environment.machine(),
        "git_revision": environment.git_revision(),
        "started_at": results.utc_now().isoformat(),
        "ended_at": None,
        "warnings": [],
    }
    meta_path = run_dir / "meta.json"
    results.write_json(meta_path, meta)
    out(
        f"run {run_dir.name}: {cfg.server} ({cfg.interface.upper()}, {cfg.workers} workers, "
        f"{cfg.view} views), users {','.join(map(str, cfg.users))}, {cfg.hold_s:g} s per step"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="djbench-") as tmp, ProcessSet() as procs:
            meta["pids"] = procs.started  # filled as they start; lets tests check none survive
            # Absolute: nginx resolves relative paths against its own prefix, Locust runs in tmp.
            _execute(cfg, run_dir.resolve(), Path(tmp), procs, meta, out)
        meta["complete"] = True
    except ComponentFailed as e:
        meta["error"] = str(e)
        meta["warnings"].append(str(e).splitlines()[0])
        raise
    finally:
        meta["ended_at"] = results.utc_now().isoformat()
        _finish(run_dir, meta)
        results.write_json(meta_path, meta)
        if not meta["complete"]:
            out(f"partial results: {run_dir}")
    return run_dir


def _finish(run_dir, meta):
    """Per-step numbers from whatever was measured, also for a partial run."""
    if (run_dir / "timeline.csv").exists():
        try:
            write_steps(run_dir)
        except Exception as e:  # a broken partial log must not hide the original error
            meta["warnings"].append(f"steps.csv not written: {e}")
    log = run_dir / "logs" / "locust.log"
    if log.exists() and "CPU usage above" in log.read_text(errors="replace"):
        meta["warnings"].append(
            "Locust reported CPU usage above 90 %: the load generator may have been the "
            "bottleneck; its latencies and failures are not only the server's"
        )


def _execute(cfg, run_dir, tmp, procs, meta, out):
    os.chmod(tmp, 0o755)  # nginx workers and PostgreSQL run as other users
    logs = run_dir / "logs"
    logs.mkdir()
    t0 = time.monotonic()
    pg = postgres.Cluster(
        tmp / "pg",
        free_port(),
        secrets.token_urlsafe(16),
        max_connections=cfg.extra.get("max_connections", 200),
    )
    meta["versions"]["postgresql"] = pg.version()
    meta["postgres"] = {"max_connections": pg.max_connections}
    _started(pg.init, logs / "postgres.log")
    pg_proc = pg.start(procs, logs / "postgres.log")
    _started(pg.wait_ready, pg_proc)

    env = {
        **os.environ,
        **pg.env(),
        "PYTHONPATH": str(DJANGO_DIR),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "POLLS_VIEWS": cfg.view,
    }
    manage = [sys.executable, str(DJANGO_DIR / "manage.py")]
    with open(logs / "setup.log", "ab") as log:
        for args in (
            ["migrate", "--noinput"],
            ["seed_polls", "--questions", str(cfg.questions), "--choices", str(cfg.choices)],
        ):
            done = subprocess.run(
                manage + args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp
            )
            if done.returncode:
                raise ComponentFailed(f"manage.py {args[0]} failed; see {log.name}")

    server = SERVERS[cfg.server]
    app_port = free_port()
    argv = server.command("127.0.0.1", app_port, cfg.workers)
    argv[0] = str(BIN / argv[0])
    app = procs.start("server", argv, logs / "server.log", env=env, cwd=tmp)
    _started(wait_http, f"http://127.0.0.1:{app_port}/polls/", app)

    nginx_bin = nginx.find_binary()
    meta["versions"]["nginx"] = nginx.version(nginx_bin)
    web_port = free_port()
    (tmp / "nginx").mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        nginx.render(
            {
                **nginx.SETTINGS,
                "NGINX_PID_PATH": tmp / "nginx.pid",
                "NGINX_ERROR_LOG": logs / "nginx.error.log",
                "NGINX_TEMP_DIR": tmp / "nginx",
                "UPSTREAM": f"127.0.0.1:{app_port}",
                "NGINX_LISTEN": f"127.0.0.1:{web_port}",
                "NGINX_PROXY_TIMEOUT": nginx_proxy_timeout(cfg.client_timeout_s),
            }
        )
    )
    web = nginx.start(procs, nginx_bin, conf, logs / "nginx.error.log")
    base_url = f"http://127.0.0.1:{web_port}"
    _started(wait_http, base_url + "/polls/", web)

    def total_votes():
        return pg.query_one("SELECT COALESCE(SUM(votes), 0) FROM polls_choice")

    _started(verify_stack, base_url, total_votes)
    votes_before = total_votes()
    meta["startup_s"] = round(time.monotonic() - t0, 2)
    results.write_json(run_dir / "meta.json", meta)  # PIDs on disk while the load runs
    out(f"stack ready in {meta['startup_s']:.1f} s: postgres, {cfg.server}, nginx on {base_url}")

    stop_timeout = 3 * cfg.client_timeout_s + 5  # one iteration is up to three requests
    locust = procs.start(
        "locust",
        _locust_argv(cfg, base_url, run_dir, stop_timeout),
        logs / "locust.log",
        cwd=tmp,
        stop_timeout=20.0,
        # SIGINT, not SIGTERM: only then does Locust (2.47) stop gracefully, writing its
        # CSVs and the interrupted step's timeline row.
        stop_signal=signal.SIGINT,
    )
    sampler = Sampler(
        run_dir / "resources.csv",
        {"server": app, "postgres": pg_proc, "nginx": web, "locust": locust},
    )
    sampler.start()
    try:
        deadline = cfg.planned_s + stop_timeout + 60
        progress.follow(run_dir, cfg, locust, procs, deadline, out, ComponentFailed)
    finally:
        sampler.stop()
        if locust.alive():
            locust.stop()
        users_at_stop = 0 if locust.proc.returncode == 0 else max(cfg.users)
        try:
            meta["integrity"] = integrity.check(
                run_dir, total_votes() - votes_before, users_at_stop
            )
            meta["votes_in_db"] = meta["integrity"]["votes_in_db"]
            meta["votes_posted_ok"] = meta["integrity"]["votes_posted_ok"]
        except Exception as e:  # PostgreSQL itself may be what failed
            meta["warnings"].append(f"integrity not checked: {e}")
    if locust.proc.returncode != 0:
        raise ComponentFailed(
            f"locust exited with status {locust.proc.returncode}:\n{locust.log_tail()}"
        )
    if not meta["integrity"]["ok"]:
        meta["warnings"].append(meta["integrity"]["message"])


def _started(check, *args):
    try:
        check(*args)
    except RuntimeError as e:
        raise ComponentFailed(str(e)) from None


def _locust_argv(cfg, base_url, run_dir, stop_timeout):
    options = {
        "--host": base_url,
        "--csv": run_dir / "locust",
        "--stop-timeout": stop_timeout,
        "--exit-code-on-error": 0,  # failures are measurements, not errors of Locust
        "--steps": ",".join(map(str, cfg.users)),
        "--hold": cfg.hold_s,
        "--step-spawn-rate": cfg.spawn_rate,
        "--warmup": cfg.warmup_s,
        "--timeline": run_dir / "timeline.csv",
        "--request-log-dir": run_dir,
        "--client-timeout": cfg.client_timeout_s,
    }
    argv = [str(BIN / "locust"), "-f", ",".join(map(str, LOCUSTFILES))]
    argv += ["--headless", "--only-summary", "--csv-full-history"]
    for name, value in options.items():
        argv += [name, f"{value:g}" if isinstance(value, float) else str(value)]
    return argv
