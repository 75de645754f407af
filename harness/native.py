"""Native mode: the whole stack as host processes on loopback, for one server and one profile.

PostgreSQL (throwaway cluster) -> migrate + seed -> app server -> nginx -> verify -> Locust step
load -> integrity check -> steps.csv. Every process is stopped on success, error and interrupt;
whatever was measured is kept, and meta.json says whether the run is complete.
"""

import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import integrity, nginx, postgres, progress, results
from .config import nginx_proxy_timeout, parse_cpus
from .errors import ComponentFailed
from .paths import DJANGO_DIR, LOCUSTFILES
from .processes import ProcessSet, free_port, wait_http
from .recording import locust_options, record_integrity, recorded_run, stop_timeout
from .resources import Sampler
from .servers import SERVERS
from .verify import verify_stack

BIN = Path(sys.executable).parent


def preflight():
    """Fail fast, before anything starts or any directory is made."""
    postgres.find_binary("initdb")
    postgres.find_binary("postgres")
    nginx.find_binary()


@dataclass
class Stack:
    """A running stack, ready for load."""

    base_url: str
    components: dict  # postgres, server, nginx -> Managed
    total_votes: object  # () -> votes in the database
    poll_path: str  # a poll form that verification voted on
    locust_cpus: set | None
    tmp: Path


def run(cfg, results_root, out=print, load=None):
    """One recorded run: start the stack, apply the load (Locust's step load unless `load`
    says otherwise: load(cfg, stack, run_dir, procs, meta, out)), stop everything."""
    preflight()
    with (
        recorded_run(cfg, results_root, "native", out) as (run_dir, meta),
        tempfile.TemporaryDirectory(prefix="djbench-") as tmp,
        ProcessSet() as procs,
    ):
        meta["pids"] = procs.started  # filled as they start; lets tests check none survive
        # Absolute: nginx resolves relative paths against its own prefix, Locust runs in tmp.
        stack = _start_stack(cfg, run_dir.resolve(), Path(tmp), procs, meta, out)
        (load or _locust_load)(cfg, stack, run_dir.resolve(), procs, meta, out)
    return run_dir


def _start_stack(cfg, run_dir, tmp, procs, meta, out):
    os.chmod(tmp, 0o755)  # nginx workers and PostgreSQL run as other users
    logs = run_dir / "logs"
    logs.mkdir()
    t0 = time.monotonic()
    pg = postgres.Cluster(
        tmp / "pg",
        free_port(),
        secrets.token_urlsafe(16),
        max_connections=cfg.pg_max_connections,
    )
    meta["versions"]["postgresql"] = pg.version()
    meta["postgres"] = {"max_connections": pg.max_connections}
    _started(pg.init, procs, logs / "postgres.log")
    stack_cpus, locust_cpus = parse_cpus(cfg.server_cpus), parse_cpus(cfg.locust_cpus)
    pg_proc = pg.start(procs, logs / "postgres.log", cpus=stack_cpus)
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
        **cfg.app_env(),  # DB_CONN_MAX_AGE, DB_POOL
    }
    manage = [sys.executable, str(DJANGO_DIR / "manage.py")]
    for args in (
        ["migrate", "--noinput"],
        ["seed_polls", "--questions", str(cfg.questions), "--choices", str(cfg.choices)],
    ):
        step = procs.run(args[0], manage + args, logs / "setup.log", env=env, cwd=tmp)
        if step.proc.returncode:
            raise ComponentFailed(f"manage.py {args[0]} failed:\n{step.log_tail()}")

    app_port = free_port()
    argv = SERVERS[cfg.server].command("127.0.0.1", app_port, cfg.workers, cfg.threads)
    argv[0] = str(BIN / argv[0])
    app = procs.start("server", argv, logs / "server.log", env=env, cwd=tmp, cpus=stack_cpus)
    _started(wait_http, f"http://127.0.0.1:{app_port}/polls/", app)

    nginx_bin = nginx.find_binary()
    meta["versions"]["nginx"] = nginx.version(nginx_bin)
    web_port = free_port()
    (tmp / "nginx").mkdir()
    conf = tmp / "nginx.conf"
    settings = {
        **nginx.SETTINGS,
        "NGINX_PID_PATH": tmp / "nginx.pid",
        "NGINX_ERROR_LOG": logs / "nginx.error.log",
        "NGINX_TEMP_DIR": tmp / "nginx",
        "UPSTREAM": f"127.0.0.1:{app_port}",
        "NGINX_LISTEN": f"127.0.0.1:{web_port}",
        "NGINX_PROXY_TIMEOUT": nginx_proxy_timeout(cfg.client_timeout_s),
    }
    conf.write_text(nginx.render(settings))
    web = nginx.start(procs, nginx_bin, conf, logs / "nginx.error.log", cpus=stack_cpus)
    base_url = f"http://127.0.0.1:{web_port}"
    _started(wait_http, base_url + "/polls/", web)

    def total_votes():
        return pg.query_one("SELECT COALESCE(SUM(votes), 0) FROM polls_choice")

    poll_path = _started(verify_stack, base_url, total_votes)
    meta["startup_s"] = round(time.monotonic() - t0, 2)
    results.write_json(run_dir / "meta.json", meta)  # PIDs on disk while the load runs
    out(f"stack ready in {meta['startup_s']:.1f} s: postgres, {cfg.server}, nginx on {base_url}")
    components = {"postgres": pg_proc, "server": app, "nginx": web}
    return Stack(base_url, components, total_votes, poll_path, locust_cpus, tmp)


def _locust_load(cfg, stack, run_dir, procs, meta, out):
    votes_before = stack.total_votes()
    locust = procs.start(
        "locust",
        _locust_argv(stack.base_url, run_dir),
        run_dir / "logs" / "locust.log",
        cwd=stack.tmp,
        env={**os.environ, **locust_options(cfg)},
        cpus=stack.locust_cpus,
        stop_timeout=20.0,
        # SIGINT, not SIGTERM: only then does Locust (2.47) stop gracefully, writing its
        # CSVs and the interrupted step's timeline row.
        stop_signal=signal.SIGINT,
    )
    # What the kernel applied, not what was asked: the report can trust it.
    components = {**stack.components, "locust": locust}
    meta["cpu_affinity"] = {
        m.name: sorted(os.sched_getaffinity(m.pid)) for m in components.values()
    }
    results.write_json(run_dir / "meta.json", meta)  # Locust's PID on disk too
    sampler = Sampler(run_dir / "resources.csv", components)
    sampler.start()

    def check_components():
        for managed in procs.dead():
            if managed is not locust:
                raise ComponentFailed(
                    f"{managed.name} died mid-run (exit status {managed.proc.returncode}); "
                    f"last lines of its log:\n{managed.log_tail()}"
                )

    try:
        deadline = cfg.planned_s + stop_timeout(cfg) + 60
        progress.follow(run_dir, cfg, locust.alive, check_components, deadline, out)
    finally:
        sampler.stop()
        if locust.alive():
            locust.stop()
        users_at_stop = 0 if locust.proc.returncode == 0 else max(cfg.users)
        try:
            votes_added = stack.total_votes() - votes_before
            record_integrity(meta, integrity.check(run_dir, votes_added, users_at_stop))
        except Exception as e:  # PostgreSQL itself may be what failed
            meta["warnings"].append(f"integrity not checked: {e}")
    if locust.proc.returncode != 0:
        raise ComponentFailed(
            f"locust exited with status {locust.proc.returncode}:\n{locust.log_tail()}"
        )


def _started(check, *args):
    try:
        return check(*args)
    except RuntimeError as e:
        raise ComponentFailed(str(e)) from None


def _locust_argv(base_url, run_dir):
    """Paths and host only: the load's settings come from locust_options() in the environment."""
    return [
        str(BIN / "locust"), "-f", ",".join(map(str, LOCUSTFILES)),
        "--headless", "--only-summary", "--csv-full-history", "--exit-code-on-error", "0",
        "--host", base_url, "--csv", str(run_dir / "locust"),
        "--timeline", str(run_dir / "timeline.csv"), "--request-log-dir", str(run_dir),
    ]  # fmt: skip
