"""Profiles and the validated settings of one benchmark run."""

import dataclasses
import math
import os
import re
import resource
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil

from djbench.contracts import defaults
from djbench.errors import UserError
from djbench.project.spec import POLLS, VERSIONS, ProjectSpec
from djbench.project.spec import check as check_project
from djbench.rates import default_rates, parse_rates, users_for_rates
from djbench.stack import nginx
from djbench.stack.servers import SERVERS

# Upper bounds, each from what the machine or a component can take. Every value is checked
# before anything starts: a bound reached mid-run would hang the run or exhaust the machine.
DAY_S = 24 * 3600  # any duration (hold, warm-up, timeouts, a whole run): HOLD=1e9 is a slip

# Resident memory of the server processes under load, measured here (results/reference/runs,
# article profile up to 700 users): uvicorn with sync views peaked at 471.8 MB for 5 workers
# and their master, gunicorn at 300.5 MB. Per worker, rounded up.
SERVER_WORKER_MB = 95

# What PostgreSQL accepts: max_connections above superuser_reserved_connections (3), and with its
# background slots below 262142 (PostgreSQL 18 with default settings: 262107; 15: 262121).
PG_MAX_CONNECTIONS = (4, 262107)
# Its shared memory grows by about 48 KB a slot (`postgres -C shared_memory_size` with
# PostgreSQL 15 here: 143 MB at 100, 4813 MB at 100,000).
PG_SLOT_KB = 48

# Open files Locust needs besides one socket per user (its logs, CSVs, libraries).
LOCUST_SPARE_FILES = 100


@dataclass(frozen=True)
class Profile:
    users: tuple[int, ...]
    hold_s: float  # per step, ramp-up and warm-up included
    warmup_s: float  # discarded after each step's ramp-up
    spawn_rate: float  # users started per second


PROFILES = {
    # The article's table: 100..700 users by 100.
    "article": Profile(users=tuple(range(100, 701, 100)), hold_s=60, warmup_s=10, spawn_rate=50),
    "quick": Profile(users=(25, 50, 100, 150, 200, 250, 300), hold_s=20, warmup_s=5, spawn_rate=50),
    "smoke": Profile(users=(2, 4), hold_s=6, warmup_s=1, spawn_rate=10),
    # Not fixed steps: a knee search (djbench/search/knee.py); each probe's users and hold are
    # set as it runs, these are the first probe's. No fixed warm-up: each probe's steady state is
    # found in its own requests (djbench/search/steady_state.py).
    "knee": Profile(users=(10,), hold_s=25, warmup_s=0, spawn_rate=50),
}

VIEWS = ("sync", "async")
LOAD_MODELS = ("closed", "open")


@dataclass(frozen=True)
class RunConfig:
    server: str
    profile: str
    users: tuple[int, ...]
    hold_s: float
    warmup_s: float
    spawn_rate: float
    workers: int
    view: str = "sync"
    client_timeout_s: float = defaults.CLIENT_TIMEOUT_S
    threads: int = defaults.THREADS  # per worker, for servers with threads (gunicorn-gthread)
    conn_max_age: int = defaults.CONN_MAX_AGE_S  # Django's CONN_MAX_AGE, seconds
    db_pool: tuple[int, int] | None = None  # psycopg pool (min_size, max_size) per process
    pg_max_connections: int = defaults.PG_MAX_CONNECTIONS
    questions: int = defaults.QUESTIONS
    choices: int = defaults.CHOICES
    # CPU sets ("0", "0-1", "0,2"): keep the server stack and the load generator apart.
    # Native mode pins processes (affinity), compose sets the containers' cpuset. "" = any CPU.
    server_cpus: str = ""
    locust_cpus: str = ""
    scale: str = ""  # how the user steps were chosen when not the profile's own (--scale auto)
    repetition: int = 1  # which of --repeat N runs this is
    # Each step on a stack of its own, started afresh: no step inherits the previous one's
    # backlog (queues, connections, caches). first_step numbers the steps of such a part-run.
    fresh_stack_per_step: bool = False
    first_step: int = 1
    wait_s: tuple[float, float] = defaults.WAIT_S  # between iterations
    user_class: str = defaults.USER_CLASS  # FastHttpUser ("http": HttpUser)
    scenario: str = defaults.SCENARIO  # "detail": GET the poll form only (calibration)
    # "closed": the article's users, who wait after each answer; "open": iterations started at
    # a fixed rate whatever the answers, users / pacing_s per second (users = rate x pacing_s)
    load_model: str = "closed"
    pacing_s: float = defaults.PACING_S  # open model: seconds between one user's starts
    project: ProjectSpec = POLLS  # the Django project under test

    @property
    def interface(self):
        return SERVERS[self.server].interface

    @property
    def variant(self):  # a run's name beside its server: polls' view, or the user's project
        name = self.view if self.project.builtin else re.sub(r"[^\w.-]+", "-", self.project.name)
        versions = [f"{what}{getattr(self.project, what)}" for what in VERSIONS
                    if getattr(self.project, what)]  # fmt: skip
        return "-".join([name, *versions])

    @property
    def processes(self):
        return SERVERS[self.server].processes(self.workers)

    @property
    def mean_wait_s(self):
        """The closed loop's mean wait between a user's iterations."""
        return sum(self.wait_s) / 2

    @property
    def rates(self):
        """The open model's iterations/s per step; empty for the closed loop."""
        if self.load_model != "open":
            return ()
        return tuple(users / self.pacing_s for users in self.users)

    @property
    def planned_s(self):
        return len(self.users) * self.hold_s

    def failure_definition(self):
        return {
            "http_status": ">= 400",
            "vote_must_redirect": self.project.builtin,  # a project's scenario has no votes
            "client_timeout_s": self.client_timeout_s,
            "nginx_proxy_read_timeout_s": nginx_proxy_timeout(self.client_timeout_s),
        }

    def as_dict(self):
        d = asdict(self)
        d["users"] = list(self.users)
        d["wait_s"] = list(self.wait_s)
        d["rates"] = list(self.rates)
        d["db_pool"] = list(self.db_pool) if self.db_pool else None
        return d

    def app_env(self):
        """The database settings as the environment variables polls_project/mysite reads."""
        pool = f"{self.db_pool[0]}:{self.db_pool[1]}" if self.db_pool else ""
        return {"DB_CONN_MAX_AGE": str(self.conn_max_age), "DB_POOL": pool}


def nginx_proxy_timeout(client_timeout_s):
    # Longer than the client's, so a slow request is always reported as a client timeout. Whole
    # seconds rounded up: a client timeout under 0.5 s must not give nginx a timeout of 0.
    return math.ceil(client_timeout_s * 2)


def parse_users(text):
    """'100,200,300' -> (100, 200, 300); positive and strictly increasing."""
    try:
        users = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"bad user list {text!r}: expected comma-separated integers") from None
    if any(u <= 0 for u in users):
        raise UserError(f"bad user list {text!r}: user counts must be positive")
    if any(b <= a for a, b in zip(users, users[1:], strict=False)):
        raise UserError(f"bad user list {text!r}: user counts must increase")
    return users


def max_users():
    """The most users a run can hold here, and why: each user keeps a connection to nginx and
    one from nginx to the server (worker_connections), and an open file in Locust."""
    per_nginx = int(nginx.SETTINGS["NGINX_WORKER_CONNECTIONS"]) // 2
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if files != resource.RLIM_INFINITY and files - LOCUST_SPARE_FILES < per_nginx:
        return max(1, files - LOCUST_SPARE_FILES), f"ulimit -Hn allows {files} open files"
    return per_nginx, (
        f"nginx's {nginx.SETTINGS['NGINX_WORKER_CONNECTIONS']} worker connections, two per user"
    )


def check_range(option, value, low=0, high=None, why="", low_ok=False):
    """One line naming the option unless low < value <= high (low <= value with low_ok):
    NaN and infinity never pass, whatever the bounds."""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{option} must be a finite number, got {shown}")
    if value < low or (value == low and not low_ok):
        if low == 0:
            must = "must not be negative" if low_ok else "must be positive"
        else:
            must = f"must be at least {low}" if low_ok else f"must be above {low}"
        raise UserError(f"{option} {must}, got {shown}")
    if high is not None and value > high:
        raise UserError(f"{option} must be at most {high:g}{why}, got {shown}")


def parse_pool(text):
    """'2:8' -> (2, 8): psycopg's pool min_size and max_size, per server process."""
    try:
        min_size, max_size = (int(part) for part in text.split(":"))
    except ValueError:
        raise UserError(f"bad db pool {text!r}: expected MIN:MAX, e.g. 2:10") from None
    if min_size < 0 or max_size < 1 or min_size > max_size:
        raise UserError(f"bad db pool {text!r}: need 0 <= MIN <= MAX and MAX >= 1")
    return min_size, max_size


def build(
    server,
    profile="smoke",
    users=None,
    hold_s=None,
    warmup_s=None,
    spawn_rate=None,
    workers=None,
    view="sync",
    client_timeout_s=defaults.CLIENT_TIMEOUT_S,
    threads=None,
    conn_max_age=defaults.CONN_MAX_AGE_S,
    db_pool=None,
    pg_max_connections=defaults.PG_MAX_CONNECTIONS,
    server_cpus="",
    locust_cpus="",
    fresh_stack_per_step=False,
    load_model="closed",
    rates=None,
    pacing_s=None,
    project=POLLS,
):
    if server not in SERVERS:
        raise UserError(f"unknown server {server!r}; choose from: {', '.join(SERVERS)}")
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose from: {', '.join(PROFILES)}")
    if view not in VIEWS:
        raise UserError(f"unknown view variant {view!r}; choose from: {', '.join(VIEWS)}")
    if view not in SERVERS[server].views:
        why = SERVERS[server].why_not
        raise UserError(f"server {server!r} does not support {view} views{': ' * bool(why)}{why}")
    if view != "sync" and not project.builtin:  # a project of the user's runs its own views
        raise UserError("--view chooses the polls project's views; a project runs its own")
    if load_model not in LOAD_MODELS:
        raise UserError(f"unknown load model {load_model!r}; choose from: {', '.join(LOAD_MODELS)}")
    p = PROFILES[profile]
    if load_model != "open":
        if rates:
            raise UserError("--rates needs --load-model open")
        if pacing_s is not None:
            raise UserError("--pacing needs --load-model open")
    pacing_s = defaults.PACING_S if pacing_s is None else float(pacing_s)
    if load_model == "open":
        if users:
            raise UserError("the open model takes --rates (iterations/s), not --users")
        if isinstance(rates, str):
            rates = parse_rates(rates)
        users = users_for_rates(rates or default_rates(p, RunConfig.wait_s, pacing_s), pacing_s)
    cfg = RunConfig(
        server=server,
        profile=profile,
        users=parse_users(users) if isinstance(users, str) else tuple(users or p.users),
        hold_s=p.hold_s if hold_s is None else float(hold_s),
        warmup_s=p.warmup_s if warmup_s is None else float(warmup_s),
        spawn_rate=p.spawn_rate if spawn_rate is None else float(spawn_rate),
        workers=defaults.workers() if workers is None else int(workers),
        view=view,
        client_timeout_s=float(client_timeout_s),
        threads=defaults.THREADS if threads is None else int(threads),
        conn_max_age=int(conn_max_age),
        db_pool=parse_pool(db_pool) if isinstance(db_pool, str) else db_pool,
        pg_max_connections=int(pg_max_connections),
        server_cpus=server_cpus or "",
        locust_cpus=locust_cpus or "",
        fresh_stack_per_step=bool(fresh_stack_per_step),
        load_model=load_model,
        pacing_s=pacing_s,
        project=project,
    )
    validate(cfg)
    return cfg


def validate(cfg):
    for name, high in (("hold_s", DAY_S), ("spawn_rate", None), ("client_timeout_s", DAY_S)):
        check_range(_option(name), getattr(cfg, name), high=high, why=_why(high))
    check_range("warmup", cfg.warmup_s, high=DAY_S, why=_why(DAY_S), low_ok=True)
    check_range("conn-max-age", cfg.conn_max_age, high=DAY_S, why=_why(DAY_S), low_ok=True)
    check_range("workers", cfg.workers)
    low, high = PG_MAX_CONNECTIONS
    check_range("pg-max-connections", cfg.pg_max_connections, low, high,
                why=" (what PostgreSQL accepts)", low_ok=True)  # fmt: skip
    _check_memory(cfg)
    check_range("threads", cfg.threads)
    limit = _thread_limit() if SERVERS[cfg.server].uses_threads else None
    if limit is not None and cfg.threads * cfg.processes > limit:
        raise UserError(
            f"threads {cfg.threads} x {cfg.processes} workers exceed the kernel's limit of "
            f"{limit} threads (kernel.threads-max)"
        )
    if cfg.db_pool:
        _validate_pool(cfg)
    for option in ("server_cpus", "locust_cpus"):
        parse_cpus(getattr(cfg, option), option.replace("_", "-"))
    most, why = max_users()
    if cfg.users[-1] > most:
        raise UserError(f"at most {most} users here ({why}), got {cfg.users[-1]}")
    if cfg.load_model not in LOAD_MODELS:
        raise UserError(f"unknown load model {cfg.load_model!r}")
    # The open model's started rate is only exact over whole pacing periods.
    needed = cfg.pacing_s if cfg.load_model == "open" else 0
    previous = 0
    for users in cfg.users:
        lost = abs(users - previous) / cfg.spawn_rate + cfg.warmup_s
        if lost + needed >= cfg.hold_s:
            what = f"{users} users" if not needed else f"{users / cfg.pacing_s:g} iterations/s"
            raise UserError(
                f"hold {cfg.hold_s:g} s leaves "
                + (f"less than one pacing period ({needed:g} s) " if needed else "no ")
                + f"measured time at {what} (ramp-up + warm-up = {lost:g} s); raise hold or the "
                "spawn rate"
            )
        previous = users
    if cfg.planned_s > DAY_S:
        raise UserError(
            f"{len(cfg.users)} steps of {cfg.hold_s:g} s plan {cfg.planned_s:g} s, more than "
            f"a day ({DAY_S} s); fewer steps or a shorter hold"
        )


def _option(field):
    return field.removesuffix("_s").replace("_", "-")


def _why(high):
    return " s (a day)" if high == DAY_S else ""


def _thread_limit():
    try:
        return int(Path("/proc/sys/kernel/threads-max").read_text())
    except (OSError, ValueError):
        return 2**22  # not Linux: the kernel's default ceiling (FUTEX_TID_MASK)


def _check_memory(cfg):
    """The server's processes and PostgreSQL's shared memory must fit in the memory available
    now; past it the machine swaps or kills processes mid-run."""
    available_mb = psutil.virtual_memory().available / 2**20
    pg_mb = cfg.pg_max_connections * PG_SLOT_KB / 1024
    if pg_mb > available_mb:
        raise UserError(
            f"pg-max-connections {cfg.pg_max_connections} needs about {pg_mb / 1024:.1f} GB of "
            f"PostgreSQL shared memory ({PG_SLOT_KB} KB a connection), "
            f"{available_mb / 1024:.1f} GB is available here"
        )
    server_mb = cfg.processes * SERVER_WORKER_MB
    if server_mb + pg_mb > available_mb:
        most = int((available_mb - pg_mb) // SERVER_WORKER_MB)
        raise UserError(
            f"workers {cfg.workers} need about {server_mb / 1024:.1f} GB ({SERVER_WORKER_MB} MB "
            f"each under load), {available_mb / 1024:.1f} GB is available here; "
            f"at most {most} workers"
        )


def parse_cpus(text, option="cpus"):
    """'0-1,3' -> {0, 1, 3}; empty -> None (no pinning). Only CPUs this process may use."""
    if not text:
        return None
    parts = [re.fullmatch(r"(\d+)(?:-(\d+))?", part) for part in text.split(",")]
    if not all(parts):
        raise UserError(f"bad --{option} {text!r}: expected CPU numbers like 0, 0-1 or 0,2")
    usable = os.sched_getaffinity(0)
    ranges = [(int(m[1]), int(m[2] or m[1])) for m in parts]
    # The ends first: 0-999999999 would otherwise build a set of a billion CPU numbers.
    if any(last > max(usable) for _, last in ranges):
        ranges = []
    cpus = {cpu for first, last in ranges for cpu in range(first, last + 1)}
    if not cpus or not cpus <= usable:
        raise UserError(
            f"bad --{option} {text!r}: usable CPUs are {','.join(map(str, sorted(usable)))}"
        )
    return cpus


def _validate_pool(cfg):
    if cfg.conn_max_age > 0:
        # Django refuses the combination too, but only at the first query of a running server.
        raise UserError(
            "--db-pool needs --conn-max-age 0: the pool replaces persistent connections"
        )
    # Every process may fill its own pool; the harness needs one more connection to count votes.
    # Past max_connections PostgreSQL, not the server under test, would produce the failures.
    needed = cfg.processes * cfg.db_pool[1]
    if needed >= cfg.pg_max_connections:
        raise UserError(
            f"db pool of up to {cfg.db_pool[1]} connections x {cfg.processes} processes = "
            f"{needed}, not below --pg-max-connections {cfg.pg_max_connections}; lower the "
            "pool's MAX or the workers, or raise --pg-max-connections"
        )


def with_overrides(cfg, **changes):
    cfg = replace(cfg, **changes)
    validate(cfg)
    return cfg


def from_dict(data):
    """A RunConfig from its as_dict() (sent to another host), validated like any other."""
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in data.items() if k in fields}
    for name in ("users", "wait_s"):
        values[name] = tuple(values[name])
    if values.get("db_pool"):
        values["db_pool"] = tuple(values["db_pool"])
    try:
        if isinstance(values.get("project"), dict):
            values["project"] = ProjectSpec(**values["project"])
        cfg = RunConfig(**values)
    except TypeError as e:
        raise UserError(f"bad run settings: {e}") from None
    # What reaches another host's command lines and environment: only values it can run.
    if cfg.server not in SERVERS or cfg.view not in VIEWS:
        raise UserError(f"bad run settings: server {cfg.server!r}, view {cfg.view!r}")
    for name in ("questions", "choices"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or not 0 < value <= 1000:
            raise UserError(f"bad run settings: {name} {value!r}")
    if not isinstance(cfg.project, ProjectSpec):
        raise UserError("bad run settings: project")
    try:  # the project at the same path as the controller's, checked here as it was there
        cfg = replace(cfg, project=check_project(cfg.project))
    except UserError as e:
        raise UserError(f"bad run settings: {e}") from None
    validate(cfg)
    return cfg
