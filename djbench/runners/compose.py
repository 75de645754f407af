"""Compose mode: the same stack as the article ran it, in Docker Compose.

Builds the app image, starts db/app/nginx and waits on their healthchecks, verifies the routes,
runs Locust as a master plus workers, samples `docker stats`, checks integrity against the db
container, collects container logs, and always tears the project down (`down -v`).
"""

import decimal
import json
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from djbench.config import nginx_proxy_timeout
from djbench.contracts.files import RESOURCE_COLUMNS, RESOURCES, SYSTEM
from djbench.errors import ComponentFailed, UserError
from djbench.load.recording import locust_options, stop_timeout
from djbench.paths import IMAGE_FILES, PACKAGE, PRODUCT_DIRS, ROOT
from djbench.project import app as project_app
from djbench.runners import compose_project
from djbench.runners.base import Load, Runner, Stack
from djbench.sampling.system import SystemSampler
from djbench.stack import nginx
from djbench.stack.verify import verify_stack
from djbench.system.child_env import compose_environ
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.packages import engine_available
from djbench.system.processes import free_port, signals_deferred
from djbench.system.waiting import poll_until

STACK = ("db", "app", "nginx")
LOAD = ("locust-master", "locust-worker")
# Workers are left out: each reports its own CPU to the master (resources-<host>-<pid>.csv), as
# in every mode, and counting their containers too would count them twice.
COMPONENT = {"app": "server", "db": "postgres", "nginx": "nginx", "locust-master": "locust"}


def build_context(directory):
    """docker-compose.yml with what it builds and mounts, copied into `directory`: the same
    context whether djbench runs from a checkout or from an installed package, whose folders
    sit elsewhere (paths.py). Unchanged files keep Docker's layer cache."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", *PRODUCT_DIRS)
    for name in ("docker-compose.yml", *IMAGE_FILES):
        shutil.copy2(ROOT / name, directory / name)
    shutil.copytree(PACKAGE, directory / "djbench", ignore=skip)
    for name in ("polls_project", "locustfiles", "nginx"):
        shutil.copytree(ROOT / name, directory / name, ignore=skip)
    return directory


class Project:
    """`docker compose` for one run's project name, environment and build context; more: the
    compose files over docker-compose.yml (a project of the user's)."""

    def __init__(self, name, env, logs, context, more=()):
        self.name, self.env, self.logs, self.context = name, env, logs, context
        self.files = [context / "docker-compose.yml", *more]

    def argv(self):
        files = [arg for path in self.files for arg in ("-f", str(path))]
        return ["docker", "compose", *files, "--project-directory", str(self.context),
                "-p", self.name]  # fmt: skip

    def __call__(self, *args, check=True, timeout=600, log="compose.log"):
        argv = self.argv()
        with open(self.logs / log, "ab") as out:
            done = subprocess.run(
                [*argv, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                timeout=timeout, cwd=self.context,
            )  # fmt: skip
        if check and done.returncode:
            raise ComponentFailed(
                f"docker compose {args[0]} failed (exit status {done.returncode}):\n"
                + _tail(self.logs / log)
            )
        return done

    def output(self, *args, timeout=60):
        done = subprocess.run(
            [*self.argv(), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout, cwd=self.context,
        )  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    def states(self):
        """service -> list of container states, e.g. {'app': ['running']}."""
        states = {}
        for line in self.output("ps", "-a", "--format", "json").splitlines():
            for item in _json_items(line):
                states.setdefault(item["Service"], []).append(item["State"])
        return states


def _json_items(line):
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else [data]


def _tail(path, lines=15):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def preflight():
    if not engine_available():
        raise UserError("Docker is not running (docker info failed); start it or use MODE=native")


@dataclass
class ComposeStack(Stack):
    project: Project | None = None  # the run's `docker compose` project


class ComposeRunner(Runner):
    mode = "compose"
    load_startup_s = 120.0  # the master waits up to 120 s for its workers (docker-compose.yml)

    def __init__(self, locust_workers=1):
        if locust_workers < 1:
            raise UserError(f"locust workers must be positive, got {locust_workers}")
        self.locust_workers = locust_workers

    def preflight(self):
        preflight()

    def with_locust_processes(self, processes):
        return type(self)(processes)

    @contextmanager
    def stack(self, run):
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp:
            run.live.add("temp_dirs", tmp)
            run.tmp = Path(tmp)
            with self._stack(run) as stack:
                yield stack

    @contextmanager
    def _stack(self, run):
        cfg, logs = run.cfg, run.run_dir / "logs"
        logs.mkdir(exist_ok=True)
        web_port = free_port()
        context = build_context(run.tmp)
        own = None if cfg.project.builtin else project_app.prepare(cfg.project)
        if own is not None:  # the user's project: an image of its own, its scenario
            files = compose_project.write(own, cfg, context)
        project = Project(
            f"djbench-{run.run_dir.name.lower()}",
            compose_environ(_settings(cfg, run.run_dir, web_port, self.locust_workers),
                            run.run_dir.name),
            logs,
            context,
            () if own is None else [context / compose_project.OVERRIDE],
        )  # fmt: skip
        run.live.add("compose_projects", project.name)
        run.meta["compose"] = {"project": project.name, "locust_workers": self.locust_workers}
        run.meta["postgres"] = {"max_connections": cfg.pg_max_connections}
        try:
            t0 = time.monotonic()
            if own is None:
                project("build", log="build.log")
            else:  # the Locust image is not the app's
                project("--profile", "load", "build", log="build.log", timeout=3600)
            run.meta["compose"]["build_s"] = round(time.monotonic() - t0, 2)
            if own is not None:
                project("up", "-d", "--wait", "db")
                compose_project.set_up(project, own, cfg, logs)
            project("up", "-d", "--wait", *STACK)
            base_url = f"http://127.0.0.1:{web_port}"
            if own is None:
                total_votes, query = _vote_counter(project), None
                try:
                    poll_path = verify_stack(base_url, total_votes)
                except RuntimeError as e:
                    raise ComponentFailed(str(e)) from None
            else:  # a project of the user's has no votes; its invariant is its own
                total_votes = lambda: 0  # noqa: E731
                query = lambda sql: _query(project, sql)  # noqa: E731
                poll_path = compose_project.prepare_scenario(own, cfg, run, base_url, context)
            run.meta["startup_s"] = round(time.monotonic() - t0, 2)
            _record_images(project, run.meta)
            if own is not None:
                compose_project.record(run.meta, own, cfg, files, project)
            log.info(
                f"stack ready in {run.meta['startup_s']:.1f} s (build "
                f"{run.meta['compose']['build_s']:.1f} s): db, app ({cfg.server}), nginx on "
                f"{base_url}"
            )
            yield ComposeStack(
                base_url,
                total_votes,
                poll_path,
                check=lambda: _check_stack(project),
                query=query,
                project=project,
            )
        finally:
            _teardown(project, run.meta)

    @contextmanager
    def load(self, run):
        project = run.stack.project
        project("--profile", "load", "up", "-d", "--no-deps", "--scale",
                f"locust-worker={self.locust_workers}", *LOAD)  # fmt: skip
        # The host's CPUs are the containers' CPUs: machine-wide sampling works from here.
        samplers = [
            StatsSampler(run.run_dir / RESOURCES, project),
            SystemSampler(run.run_dir / SYSTEM),
        ]
        for sampler in samplers:
            sampler.start()
        try:
            yield LocustMaster(project)
        finally:
            for sampler in samplers:
                sampler.stop()


def _vote_counter(project):
    def total_votes():
        try:
            value = _query(project, "SELECT COALESCE(SUM(votes), 0) FROM polls_choice")
        except RuntimeError:
            value = None
        if not isinstance(value, int):
            raise RuntimeError("cannot read the vote total from the db container")
        return value

    return total_votes


def _query(project, sql):
    """One value of a query of the db container's database, as psql prints it: a number when
    it is one."""
    done = subprocess.run([*project.argv(), "exec", "-T", "db", "psql", "-U", "polls", "-d",
                           "polls", "-tAc", sql], capture_output=True, text=True,
                          env=project.env, cwd=project.context, timeout=60)  # fmt: skip
    if done.returncode:
        raise RuntimeError((done.stderr.strip().splitlines() or ["psql failed"])[-1])
    value = done.stdout.strip()
    for number in (int, decimal.Decimal):
        try:
            return number(value)
        except (ValueError, decimal.InvalidOperation):
            pass
    return value


def _check_stack(project):
    states = project.states()
    for service in STACK:
        if states.get(service) != ["running"]:
            tail = project.output("logs", "--no-color", "--tail", "15", service)
            raise ComponentFailed(
                f"{service} died mid-run ({states.get(service)}); last lines of its log:\n{tail}"
            )


class LocustMaster(Load):
    def __init__(self, project):
        self.project = project

    def alive(self):
        return "running" in self.project.states().get("locust-master", [])

    def stop(self):
        if self.alive():
            # Locust stops gracefully on SIGINT: its CSVs and the timeline are kept.
            self.project("kill", "-s", "SIGINT", "locust-master", check=False)
            # Not stopped within 20 s: the teardown removes its container anyway.
            poll_until(lambda: not self.alive(), 20, 0.5)

    def failure(self):
        status = self.project.output("ps", "-a", "--format", "{{.ExitCode}}", "locust-master")
        if status in ("", "0"):
            return None
        tail = self.project.output("logs", "--no-color", "--tail", "15", "locust-master")
        return f"locust-master exited with status {status}:\n{tail}"


def _settings(cfg, run_dir, web_port, locust_workers):
    settings = {
        **nginx.SETTINGS,
        "NGINX_PROXY_TIMEOUT": str(nginx_proxy_timeout(cfg.client_timeout_s)),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "SERVER": cfg.server,
        "WORKERS": str(cfg.workers),
        "POLLS_VIEWS": cfg.view,
        "THREADS": str(cfg.threads),
        **cfg.app_env(),
        "PG_MAX_CONNECTIONS": str(cfg.pg_max_connections),
        "WEB_PORT": str(web_port),
        "RUN_DIR": str(run_dir),
        "LOCUST_WORKERS": str(locust_workers),
        "STOP_TIMEOUT": f"{stop_timeout(cfg):g}",
        "APP_CPUS": cfg.server_cpus,
        "DB_CPUS": cfg.server_cpus,
        "NGINX_CPUS": cfg.server_cpus,
        "LOCUST_CPUS": cfg.locust_cpus,
        "COMPOSE_BAKE": "false",
        **locust_options(cfg),
    }
    return settings


def _teardown(project, meta):
    """Keep the container logs, remove the project: each step even if one fails, and neither
    a Ctrl-C nor a SIGTERM meanwhile leaves containers behind."""
    steps = [
        lambda service=service: project(
            "--profile", "load", "logs", "--no-color", service, check=False, log=f"{service}.log"
        )
        for service in (*STACK, *LOAD)
    ]
    steps.append(
        lambda: project("--profile", "load", "down", "-v", "--remove-orphans", "--timeout", "10")
    )
    with signals_deferred():
        for step in steps:
            try:
                step()
            except Exception as e:
                meta["warnings"].append(f"teardown: {e}")


def _record_images(project, meta):
    images = {}
    for item in _json_items(project.output("images", "--format", "json")):
        images[item.get("ContainerName", "")] = {
            "image": f"{item.get('Repository')}:{item.get('Tag')}",
            "id": item.get("ID"),
        }
    meta["compose"]["images"] = images
    # Python and package versions as the app container has them, not as the host's venv does.
    code = (
        "import json; from djbench.system.machine import versions; "
        "from djbench.stack.servers import SERVERS; "
        f"print(json.dumps(versions(SERVERS[{meta['server']!r}].packages)))"
    )
    inside = _json_items(project.output("exec", "-T", "app", "python", "-c", code))
    if inside:
        meta["versions"] = inside[0]
    meta["versions"]["postgresql"] = project.output("exec", "-T", "db", "postgres", "--version")
    nginx_v = project.output("exec", "-T", "nginx", "sh", "-c", "nginx -v 2>&1")
    meta["versions"]["nginx"] = nginx_v.removeprefix("nginx version: ")


class StatsSampler(threading.Thread):
    """`docker stats` for the project's containers, summed per component, into resources.csv."""

    def __init__(self, path, project):
        super().__init__(daemon=True)
        self.host = socket.gethostname()  # the Docker engine's host
        self.path, self.project = path, project
        self.proc = None

    def run(self):
        names = self.project.output("ps", "--format", "{{.Name}}").split()
        self.proc = subprocess.Popen(
            ["docker", "stats", "--format", "{{json .}}", *names],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        frame = {}
        with open(self.path, "a") as f:  # a fresh stack per step: each step's in turn
            if f.tell() == 0:
                f.write(",".join(RESOURCE_COLUMNS) + "\n")
            for line in self.proc.stdout:
                line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).strip()
                for item in _json_items(line):
                    name = item.get("Name", "")
                    if name in frame:  # a new refresh begins
                        self._write(f, frame)
                        frame = {}
                    frame[name] = item

    def _write(self, f, frame):
        now = time.time()
        totals = {}
        for name, item in frame.items():
            service = name.removeprefix(self.project.name + "-").rsplit("-", 1)[0]
            component = COMPONENT.get(service)
            if component is None:
                continue
            cpu, mem = totals.get(component, (0.0, 0.0))
            totals[component] = (cpu + _percent(item.get("CPUPerc")), mem + _mib(item))
        for component, (cpu, mem) in totals.items():
            f.write(f"{now:.3f},{component},{cpu:.1f},{mem:.1f},{self.host}\n")
        f.flush()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.join(timeout=5)


def _percent(text):
    try:
        return float(str(text).rstrip("%"))
    except ValueError:
        return 0.0


UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1e3 / 2**20,
         "MB": 1e6 / 2**20, "GB": 1e9 / 2**20}  # fmt: skip


def _mib(item):
    used = str(item.get("MemUsage", "0B")).split("/")[0].strip()
    match = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", used)
    if not match:
        return 0.0
    return float(match.group(1)) * UNITS.get(match.group(2), 0.0)
