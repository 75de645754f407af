"""The stack as managed processes of one host: a throwaway PostgreSQL cluster, migrate + seed,
the app server and nginx, verified before any load. Native runs use it on loopback; the stack
host (remote/stack_host.py) on its own address."""

import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from djbench.config import nginx_proxy_timeout, parse_cpus
from djbench.errors import ComponentFailed
from djbench.paths import BIN, DJANGO_DIR
from djbench.stack import nginx, postgres
from djbench.stack.servers import SERVERS
from djbench.stack.verify import verify_stack
from djbench.system.log import log
from djbench.system.processes import free_port, wait_http


def preflight():
    """Fail fast, before anything starts or any directory is made."""
    postgres.find_binary("initdb")
    postgres.find_binary("postgres")
    nginx.find_binary()


@dataclass
class HostStack:
    """PostgreSQL, the app server and nginx, started as managed processes of one host."""

    base_url: str
    components: dict  # postgres, server, nginx -> Managed
    cluster: postgres.Cluster
    poll_path: str

    def total_votes(self):
        return self.cluster.query_one("SELECT COALESCE(SUM(votes), 0) FROM polls_choice")

    def check(self, procs):
        for managed in procs.dead():
            if managed in self.components.values():
                raise ComponentFailed(
                    f"{managed.name} died mid-run (exit status {managed.proc.returncode}); "
                    f"last lines of its log:\n{managed.log_tail()}"
                )


class SeededDatabases:
    """The benchmark's database as set up by the first of several runs in a row (initdb, migrate,
    seed), kept as a data directory and copied into the next runs' clusters.

    A knee search starts a fresh stack for every probe, and initdb, migrate and seed are most of
    a stack's start (the README gives the measured start-up with and without). A copy of a cluster
    set up the same way and shut down cleanly is the same database, file for file: each run
    still starts from an untouched database, in a PostgreSQL of its own."""

    def __init__(self, root):
        self.root, self.made = Path(root), {}  # (questions, choices) -> (data dir, password)

    @staticmethod
    def _key(cfg):
        return cfg.questions, cfg.choices  # all that makes one set-up differ from another

    def get(self, cfg):
        return self.made.get(self._key(cfg))

    def keep(self, cfg, pg, pg_proc, procs, logs):
        """Stop the just-seeded cluster (a fast shutdown checkpoints it), keep a copy of its data
        directory, and start it again: returns its new process."""
        procs.stop(pg_proc)
        kept = self.root / str(len(self.made))
        postgres.copy_data_dir(pg.data_dir, kept)
        self.made[self._key(cfg)] = (kept, pg.password)
        return _start_cluster(cfg, pg, procs, logs, create=False)


def start_stack(cfg, logs, tmp, procs, meta, seeded=None):
    """Start and verify PostgreSQL, the app server and nginx on loopback. Records versions and
    start-up time in meta. seeded: SeededDatabases to copy the database from, or to keep it in."""
    t0 = time.monotonic()
    pg, pg_proc = start_database(cfg, logs, tmp, procs, meta, seeded=seeded)
    if not meta["postgres"]["copied_from_setup"]:
        set_up_database(cfg, logs, tmp, procs, pg.env())
        if seeded is not None:
            pg_proc = seeded.keep(cfg, pg, pg_proc, procs, logs)
    base_url, web = start_web(cfg, logs, tmp, procs, meta, pg.env(), set_up=False)
    stack = HostStack(base_url, {"postgres": pg_proc, **web}, pg, poll_path="")
    stack.poll_path = _started(verify_stack, base_url, stack.total_votes)
    meta["startup_s"] = round(time.monotonic() - t0, 2)
    log.info(
        f"stack ready in {meta['startup_s']:.1f} s: postgres, {cfg.server}, nginx on {base_url}"
    )
    return stack


def start_database(cfg, logs, tmp, procs, meta, listen="127.0.0.1", seeded=None):
    """A throwaway PostgreSQL cluster, reachable on `listen` too (password authentication):
    (cluster, its managed process). A copy of the database `seeded` keeps, when it has one
    (meta's postgres.copied_from_setup says which)."""
    os.chmod(tmp, 0o755)  # nginx workers and PostgreSQL run as other users
    logs.mkdir(exist_ok=True)
    kept = seeded.get(cfg) if seeded is not None else None
    pg = postgres.Cluster(
        tmp / "pg",
        free_port(listen),
        kept[1] if kept else secrets.token_urlsafe(16),
        max_connections=cfg.pg_max_connections,
        listen=listen,
    )
    meta["versions"]["postgresql"] = pg.version()
    meta["postgres"] = {"max_connections": pg.max_connections, "copied_from_setup": bool(kept)}
    if kept:
        pg.copy_from(kept[0])
    else:
        _started(pg.init, procs, logs / "postgres.log")
    return pg, _start_cluster(cfg, pg, procs, logs, create=not kept)


def _start_cluster(cfg, pg, procs, logs, create):
    pg_proc = pg.start(procs, logs / "postgres.log", cpus=parse_cpus(cfg.server_cpus))
    _started(lambda: pg.wait_ready(pg_proc, create=create))
    return pg_proc


def _app_env(cfg, db_env, listen):
    return {
        **db_env,
        "PYTHONPATH": str(DJANGO_DIR),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{listen}",
        "POLLS_VIEWS": cfg.view,
        **cfg.app_env(),  # DB_CONN_MAX_AGE, DB_POOL
    }


def set_up_database(cfg, logs, tmp, procs, db_env, listen="127.0.0.1"):
    """migrate + seed the database db_env names."""
    env = _app_env(cfg, db_env, listen)
    manage = [sys.executable, str(DJANGO_DIR / "manage.py")]
    for args in (
        ["migrate", "--noinput"],
        ["seed_polls", "--questions", str(cfg.questions), "--choices", str(cfg.choices)],
    ):
        step = procs.run(args[0], manage + args, logs / "setup.log", env=env, cwd=tmp)
        if step.proc.returncode:
            raise ComponentFailed(f"manage.py {args[0]} failed:\n{step.log_tail()}")


def start_web(cfg, logs, tmp, procs, meta, db_env, listen="127.0.0.1", set_up=True):
    """migrate + seed the database db_env names (unless set_up is False: done already), then
    the app server (on loopback) and nginx (on `listen`): (nginx's URL, {"server": ...,
    "nginx": ...})."""
    os.chmod(tmp, 0o755)
    logs.mkdir(exist_ok=True)
    stack_cpus = parse_cpus(cfg.server_cpus)
    env = _app_env(cfg, db_env, listen)
    # Where each app process keeps its count of requests in flight (mysite/inflight.py).
    env["DJBENCH_INFLIGHT_DIR"] = str(tmp / "inflight")
    (tmp / "inflight").mkdir(exist_ok=True)
    if set_up:
        set_up_database(cfg, logs, tmp, procs, db_env, listen)

    app_port = free_port()
    argv = SERVERS[cfg.server].command("127.0.0.1", app_port, cfg.workers, cfg.threads)
    argv[0] = str(BIN / argv[0])
    app = procs.start("server", argv, logs / "server.log", env=env, cwd=tmp, cpus=stack_cpus)
    _started(wait_http, f"http://127.0.0.1:{app_port}/polls/", app)

    nginx_bin = nginx.find_binary()
    meta["versions"]["nginx"] = nginx.version(nginx_bin)
    web_port = free_port(listen)
    (tmp / "nginx").mkdir()
    conf = tmp / "nginx.conf"
    settings = {
        **nginx.SETTINGS,
        "NGINX_PID_PATH": tmp / "nginx.pid",
        "NGINX_ERROR_LOG": logs / "nginx.error.log",
        "NGINX_TEMP_DIR": tmp / "nginx",
        "UPSTREAM": f"127.0.0.1:{app_port}",
        "NGINX_LISTEN": f"{listen}:{web_port}",
        "NGINX_PROXY_TIMEOUT": nginx_proxy_timeout(cfg.client_timeout_s),
    }
    conf.write_text(nginx.render(settings))
    web = nginx.start(procs, nginx_bin, conf, logs / "nginx.error.log", cpus=stack_cpus)
    base_url = f"http://{listen}:{web_port}"
    _started(wait_http, base_url + "/polls/", web)
    return base_url, {"server": app, "nginx": web}


def _started(check, *args):
    try:
        return check(*args)
    except RuntimeError as e:
        raise ComponentFailed(str(e)) from None
