"""The stack as managed processes of one host: a throwaway PostgreSQL cluster, migrate + seed,
the app server and nginx, verified before any load. Native runs use it on loopback; the stack
host (remote/stack_host.py) on its own address."""

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from djbench.config import nginx_proxy_timeout, parse_cpus
from djbench.errors import ComponentFailed
from djbench.project import app as project_app
from djbench.project import data, scenario, services
from djbench.stack import nginx, postgres
from djbench.stack.servers import SERVERS
from djbench.stack.verify import verify_stack
from djbench.system.log import log
from djbench.system.processes import free_port, wait_http, wait_listening


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

    builtin: bool = True  # the polls project, whose votes are counted

    def total_votes(self):
        if not self.builtin:
            return 0  # a project of the user's has no votes; its invariant is its own
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
        return cfg.questions, cfg.choices, cfg.project  # all that makes one set-up differ

    def get(self, cfg):
        return self.made.get(self._key(cfg))

    def keep(self, cfg, pg, pg_proc, procs, logs, media):
        """Stop the just-seeded cluster (a fast shutdown checkpoints it), keep a copy of its data
        directory and of the media files the seed wrote, and start it again: returns its new
        process."""
        procs.stop(pg_proc)
        kept = self.root / str(len(self.made))
        postgres.copy_data_dir(pg.data_dir, kept)
        if media.is_dir():
            shutil.copytree(media, _media_of(kept))
        self.made[self._key(cfg)] = (kept, pg.password)
        return _start_cluster(cfg, pg, procs, logs, create=False)


def _media_of(kept):
    return kept.with_name(kept.name + "-media")


def start_stack(cfg, logs, tmp, procs, meta, seeded=None):
    """Start and verify PostgreSQL, the app server and nginx on loopback. Records versions and
    start-up time in meta. seeded: SeededDatabases to copy the database from, or to keep it in."""
    t0 = time.monotonic()
    kept = seeded.get(cfg) if seeded is not None else None
    if kept and cfg.project.builtin:
        # The polls app touches no database before its first request: its copy is made and
        # started while the app server boots (a knee search starts a stack for every probe).
        pg, pg_proc = _cluster(cfg, logs, tmp, meta, kept), None

        def database():
            nonlocal pg_proc
            pg_proc = _fill_and_start(cfg, pg, kept, tmp, procs, logs)

        base_url, web = start_web(cfg, logs, tmp, procs, meta, pg.env(), set_up=False,
                                  meanwhile=database)  # fmt: skip
        procs.stop_last(pg_proc)  # after the app server and nginx, as when started first
    else:
        pg, pg_proc = start_database(cfg, logs, tmp, procs, meta, seeded=seeded)
        if not kept:
            set_up_database(cfg, logs, tmp, procs, pg.env())
            if seeded is not None:
                pg_proc = seeded.keep(cfg, pg, pg_proc, procs, logs, tmp / "media")
        base_url, web = start_web(cfg, logs, tmp, procs, meta, pg.env(), set_up=False)
    stack = HostStack(base_url, {"postgres": pg_proc, **web}, pg, "", cfg.project.builtin)
    if cfg.project.builtin:
        meta["scenario"] = {"kind": "polls"}
        stack.poll_path = _started(verify_stack, base_url, stack.total_votes)
    else:
        stack.poll_path = project_scenario(cfg, tmp, pg.env(), base_url, logs, meta)
    meta["startup_s"] = round(time.monotonic() - t0, 2)
    log.info(
        f"stack ready in {meta['startup_s']:.1f} s: postgres, {cfg.server}, nginx on {base_url}"
    )
    return stack


def project_scenario(cfg, tmp, db_env, base_url, logs, meta, listen="127.0.0.1"):
    """A user's project's scenario, chosen and verified through nginx (meta["scenario"]): the
    first page it loads."""
    app, files = _run_files(cfg, tmp, db_env, listen)
    found = scenario.prepare(app, files, base_url, logs.parent, meta, cfg.client_timeout_s,
                             server=f"{cfg.server} {cfg.view}")  # fmt: skip
    return found["pages"][0]["path"] if found.get("pages") else "/"


def start_database(cfg, logs, tmp, procs, meta, seeded=None):
    """A throwaway PostgreSQL cluster on loopback (password authentication):
    (cluster, its managed process). A copy of the database `seeded` keeps, when it has one
    (meta's postgres.copied_from_setup says which)."""
    kept = seeded.get(cfg) if seeded is not None else None
    pg = _cluster(cfg, logs, tmp, meta, kept)
    return pg, _fill_and_start(cfg, pg, kept, tmp, procs, logs)


def _cluster(cfg, logs, tmp, meta, kept):
    """The cluster's settings (port, password), recorded in meta; nothing on disk yet."""
    os.chmod(tmp, 0o755)  # nginx workers and PostgreSQL run as other users
    logs.mkdir(exist_ok=True)
    pg = postgres.Cluster(
        tmp / "pg",
        free_port("127.0.0.1"),
        kept[1] if kept else secrets.token_urlsafe(16),
        max_connections=cfg.pg_max_connections,
    )
    meta["versions"]["postgresql"] = pg.version()
    meta["postgres"] = {"max_connections": pg.max_connections, "copied_from_setup": bool(kept)}
    return pg


def _fill_and_start(cfg, pg, kept, tmp, procs, logs):
    """The cluster's data directory, a copy of `kept` or a new one, and then its process,
    ready."""
    if kept:
        pg.copy_from(kept[0])
        if _media_of(kept[0]).is_dir():  # what the seed wrote besides the database
            shutil.copytree(_media_of(kept[0]), tmp / "media", dirs_exist_ok=True)
    else:
        _started(pg.init, procs, logs / "postgres.log")
    return _start_cluster(cfg, pg, procs, logs, create=not kept)


def _start_cluster(cfg, pg, procs, logs, create):
    pg_proc = pg.start(procs, logs / "postgres.log", cpus=parse_cpus(cfg.server_cpus))
    _started(lambda: pg.wait_ready(pg_proc, create=create))
    return pg_proc


def _hosts(listen):
    return ["127.0.0.1", "localhost", listen]


def _run_files(cfg, tmp, db_env, listen):
    """The project (prepared once per command) and what this run writes beside it."""
    app = project_app.prepare(cfg.project)
    files = project_app.run_files(app, cfg, tmp, db_env, _hosts(listen))
    if cfg.project.builtin:
        files.env["POLLS_VIEWS"] = cfg.view
    return app, files


def set_up_database(cfg, logs, tmp, procs, db_env, listen="127.0.0.1"):
    """The project's database set up in the cluster db_env names: a dump restored, migrate,
    the seed."""
    logs.mkdir(exist_ok=True)
    app, files = _run_files(cfg, tmp, db_env, listen)
    return data.set_up(app, files, cfg, procs, logs, tmp)


def start_web(cfg, logs, tmp, procs, meta, db_env, listen="127.0.0.1", set_up=True, clients=(),
              meanwhile=None):  # fmt: skip
    """Set up the database db_env names (unless set_up is False: done already), collect static
    files, then the app server (on loopback) and nginx (on `listen`, answering only `clients`
    when given, and loopback): (nginx's URL, {"server": ..., "nginx": ...}). meanwhile(): what
    to do while the app server boots, before it is asked for a page."""
    os.chmod(tmp, 0o755)
    logs.mkdir(exist_ok=True)
    stack_cpus = parse_cpus(cfg.server_cpus)
    app, files = _run_files(cfg, tmp, db_env, listen)
    # Where each app process keeps its count of requests in flight (project/djbench_inflight.py).
    files.env["DJBENCH_INFLIGHT_DIR"] = str(tmp / "inflight")
    (tmp / "inflight").mkdir(exist_ok=True)
    if set_up:
        set_up_database(cfg, logs, tmp, procs, db_env, listen)
    data.collect_static(app, files, procs, logs)
    record_project(meta, app, files, cfg)

    app_port = free_port()
    server = SERVERS[cfg.server]
    argv = server.command("127.0.0.1", app_port, cfg.workers, cfg.threads,
                          app=files.entry_points[server.interface])  # fmt: skip
    argv[0] = str(app.env.bin / argv[0])
    # From the project's directory, as deployed: settings may hold paths relative to it.
    proc = procs.start("server", argv, logs / "server.log", env=files.env, cwd=app.spec.root,
                       cpus=stack_cpus)  # fmt: skip
    probe = "/polls/" if cfg.project.builtin else "/"
    if meanwhile is not None:
        meanwhile()
    try:
        if cfg.project.builtin:
            wait_http(f"http://127.0.0.1:{app_port}{probe}", proc)
        else:  # its first page may take long (caches, thumbnails): verification waits for it
            wait_listening("127.0.0.1", app_port, proc)
    except RuntimeError as e:
        why = services.hint(str(e))
        raise ComponentFailed(f"{why}:\n{e}" if why else str(e)) from None

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
    # Loopback and this host's own address: the stack's checks and a scenario's verification.
    clients = sorted({*clients, "127.0.0.1", listen}) if clients else ()
    conf.write_text(nginx.render(settings, files=served_files(app, files), clients=clients))
    web = nginx.start(procs, nginx_bin, conf, logs / "nginx.error.log", cpus=stack_cpus)
    base_url = f"http://{listen}:{web_port}"
    _started(wait_listening, listen, web_port, web)
    return base_url, {"server": proc, "nginx": web}


def served_files(app, files):
    """URL prefix -> directory for nginx: STATIC_URL and MEDIA_URL where they are paths here."""
    served = {}
    for url, root, wanted in ((app.info["static_url"], files.static_root, app.static),
                              (app.info["media_url"], files.media_root, True)):  # fmt: skip
        if wanted and url and url.startswith("/") and url != "/":
            served[url if url.endswith("/") else url + "/"] = root
    return served


def record_project(meta, app, files, cfg):
    """The project, its environment and what the run set, in meta.json; the versions that ran
    are the project environment's."""
    meta["project"] = {
        **app.summary(),
        "overrides": files.overrides + ["DATABASE_URL (environment)"],
        "notes": files.notes,
        "asgi_generated": files.asgi_generated,
        "entry_points": files.entry_points,
        "served_by_nginx": {url: str(d) for url, d in served_files(app, files).items()},
    }
    for name in recorded_packages(cfg):
        meta["versions"][name] = app.env.version(name)
    meta["versions"]["python"] = app.info["python"]
    stood_in = [f"--releases {cfg.project.releases}: {line}"
                for line in meta["project"]["environment"]["stand_ins"]]  # fmt: skip
    for note in [*files.notes, *stood_in]:
        if note not in meta["notes"]:
            meta["notes"].append(note)


def recorded_packages(cfg):
    """The distributions whose versions meta.json gives for a run of the project."""
    return ("Django", "asgiref", "psycopg", "psycopg-pool", "psycopg2-binary",
            *SERVERS[cfg.server].packages)  # fmt: skip


def _started(check, *args):
    try:
        return check(*args)
    except RuntimeError as e:
        raise ComponentFailed(str(e)) from None
