"""Profiles and the validated settings of one benchmark run."""

import dataclasses
import os
import re
from dataclasses import asdict, dataclass, replace

from contracts import defaults

from .errors import UserError
from .servers import SERVERS


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
    # Not fixed steps: a knee search (harness/knee.py); each probe's users and hold are set as it
    # runs, these are the first probe's.
    "knee": Profile(users=(10,), hold_s=25, warmup_s=5, spawn_rate=50),
}

VIEWS = ("sync", "async")


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

    @property
    def interface(self):
        return SERVERS[self.server].interface

    @property
    def processes(self):
        return SERVERS[self.server].processes(self.workers)

    @property
    def planned_s(self):
        return len(self.users) * self.hold_s

    def failure_definition(self):
        return {
            "http_status": ">= 400",
            "vote_must_redirect": True,
            "client_timeout_s": self.client_timeout_s,
            "nginx_proxy_read_timeout_s": nginx_proxy_timeout(self.client_timeout_s),
        }

    def as_dict(self):
        d = asdict(self)
        d["users"] = list(self.users)
        d["wait_s"] = list(self.wait_s)
        d["db_pool"] = list(self.db_pool) if self.db_pool else None
        return d

    def app_env(self):
        """The database settings as the environment variables polls_project/mysite reads."""
        pool = f"{self.db_pool[0]}:{self.db_pool[1]}" if self.db_pool else ""
        return {"DB_CONN_MAX_AGE": str(self.conn_max_age), "DB_POOL": pool}


def nginx_proxy_timeout(client_timeout_s):
    # Longer than the client's, so a slow request is always reported as a client timeout.
    return int(client_timeout_s * 2)


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
    threads=defaults.THREADS,
    conn_max_age=defaults.CONN_MAX_AGE_S,
    db_pool=None,
    pg_max_connections=defaults.PG_MAX_CONNECTIONS,
    server_cpus="",
    locust_cpus="",
    fresh_stack_per_step=False,
):
    if server not in SERVERS:
        raise UserError(f"unknown server {server!r}; choose from: {', '.join(SERVERS)}")
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose from: {', '.join(PROFILES)}")
    if view not in VIEWS:
        raise UserError(f"unknown view variant {view!r}; choose from: {', '.join(VIEWS)}")
    if view not in SERVERS[server].views:
        raise UserError(f"server {server!r} does not support {view} views")
    p = PROFILES[profile]
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
        threads=int(threads),
        conn_max_age=int(conn_max_age),
        db_pool=parse_pool(db_pool) if isinstance(db_pool, str) else db_pool,
        pg_max_connections=int(pg_max_connections),
        server_cpus=server_cpus or "",
        locust_cpus=locust_cpus or "",
        fresh_stack_per_step=bool(fresh_stack_per_step),
    )
    validate(cfg)
    return cfg


def validate(cfg):
    for name in (
        "hold_s", "spawn_rate", "workers", "client_timeout_s", "threads", "pg_max_connections"
    ):  # fmt: skip
        if getattr(cfg, name) <= 0:
            option = name.removesuffix("_s").replace("_", "-")
            raise UserError(f"{option} must be positive, got {getattr(cfg, name)}")
    if cfg.warmup_s < 0:
        raise UserError(f"warmup must not be negative, got {cfg.warmup_s}")
    if cfg.conn_max_age < 0:
        raise UserError(f"conn-max-age must not be negative, got {cfg.conn_max_age}")
    if cfg.db_pool:
        _validate_pool(cfg)
    for option in ("server_cpus", "locust_cpus"):
        parse_cpus(getattr(cfg, option), option.replace("_", "-"))
    previous = 0
    for users in cfg.users:
        lost = abs(users - previous) / cfg.spawn_rate + cfg.warmup_s
        if lost >= cfg.hold_s:
            raise UserError(
                f"hold {cfg.hold_s:g} s leaves no measured time at {users} users "
                f"(ramp-up + warm-up = {lost:g} s); raise hold or the spawn rate"
            )
        previous = users


def parse_cpus(text, option="cpus"):
    """'0-1,3' -> {0, 1, 3}; empty -> None (no pinning). Only CPUs this process may use."""
    if not text:
        return None
    parts = [re.fullmatch(r"(\d+)(?:-(\d+))?", part) for part in text.split(",")]
    if not all(parts):
        raise UserError(f"bad --{option} {text!r}: expected CPU numbers like 0, 0-1 or 0,2")
    cpus = {cpu for m in parts for cpu in range(int(m[1]), int(m[2] or m[1]) + 1)}
    usable = os.sched_getaffinity(0)
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
    cfg = RunConfig(**values)
    validate(cfg)
    return cfg
