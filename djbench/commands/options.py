"""Argument types and groups that several subcommands share, and what they turn into."""

import argparse
import dataclasses
import math
import re

from djbench import config
from djbench.contracts import defaults
from djbench.errors import UserError
from djbench.project import spec, versions
from djbench.project.spec import ProjectSpec
from djbench.runners.base import ModeOptions
from djbench.runners.factory import MODES
from djbench.search.settings import KNEE_DEFAULTS


class Parser(argparse.ArgumentParser):
    """Bad arguments get the same one line as every other user mistake, and exit status 2; an
    option is only ever its whole name (--db is not --db-pool)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(2, f"djbench: error: {message}\n")


def number(text):
    """argparse type: a finite number (float() alone lets 'nan' and 'inf' through)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def whole(text):
    """argparse type: a whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def port(text):
    """argparse type: a TCP port."""
    value = whole(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return value


def names(text, what):
    """'a,b' or 'a b' -> ['a', 'b'] (make passes its variables either way)."""
    found = [n for n in re.split(r"[,\s]+", text) if n]
    if not found:
        raise UserError(f"no {what} given")
    return found


def add_results_dir(p, help="where runs are written"):
    p.add_argument("--results-dir", default="results", help=help)


def add_stack_options(p, view=True):
    """The stack under test: what every command that starts one takes."""
    p.add_argument("--workers", type=whole, help="server worker processes (default 2 x cores + 1)")
    if view:
        p.add_argument("--view", default="sync", help="Django view variant: sync or async")
    p.add_argument(
        "--threads",
        type=whole,
        help=f"threads per worker (gunicorn-gthread only; default {defaults.THREADS})",
    )
    p.add_argument(
        "--conn-max-age",
        type=whole,
        default=defaults.CONN_MAX_AGE_S,
        help="Django CONN_MAX_AGE in seconds (default %(default)s: a connection per request; "
        "not for ASGI)",
    )
    p.add_argument(
        "--db-pool",
        metavar="MIN:MAX",
        help="psycopg connection pool per server process (needs --conn-max-age 0)",
    )
    p.add_argument(
        "--pg-max-connections",
        type=whole,
        default=defaults.PG_MAX_CONNECTIONS,
        help="PostgreSQL max_connections (default %(default)s)",
    )
    p.add_argument(
        "--client-timeout",
        type=number,
        default=defaults.CLIENT_TIMEOUT_S,
        help="seconds before a request counts as a timeout failure (default %(default)g)",
    )
    p.add_argument(
        "--server-cpus",
        metavar="CPUS",
        help="pin the server stack (app, PostgreSQL, nginx) to these CPUs, e.g. 0 or 0-1",
    )
    p.add_argument("--locust-cpus", metavar="CPUS", help="pin Locust to these CPUs, e.g. 1")
    add_project_options(p)
    add_results_dir(p)


def add_project_options(p):
    group = p.add_argument_group("your Django project (default: the built-in polls project)")
    group.add_argument("--project", metavar="DIR", default="", help="a directory with manage.py")
    group.add_argument(
        "--settings",
        metavar="MODULE",
        default="",
        help="its settings module (default: the one manage.py sets)",
    )
    group.add_argument(
        "--requirements",
        metavar="FILE",
        default="",
        help="what its environment is built from (default: its requirements.txt, "
        "else its pyproject.toml's dependencies)",
    )
    group.add_argument(
        "--app-python",
        metavar="PYTHON",
        default="",
        help="run it in an environment you have (djbench adds missing servers)",
    )
    group.add_argument(
        "--seed",
        metavar='"COMMAND ARGS"',
        default="",
        help="a management command that loads its data, run after migrate",
    )
    group.add_argument(
        "--dump",
        metavar="FILE",
        default="",
        help="a pg_dump (plain or custom format) restored instead of a seed",
    )
    group.add_argument(
        "--locustfile",
        metavar="FILE",
        default="",
        help="your Locust file: its user classes are the scenario",
    )
    group.add_argument(
        "--urls",
        metavar="FILE",
        default="",
        help="one path per line with an optional weight: a GET scenario",
    )
    group.add_argument(
        "--django",
        metavar="VERSION",
        default="",
        help=f"run on another Django (a series: {', '.join(versions.SERIES)}, or a release), in "
        "an environment of its own with the asgiref and driver it supports",
    )
    group.add_argument(
        "--asgiref",
        metavar="VERSION",
        default="",
        help="pin asgiref apart from Django (to tell a change of one from the other)",
    )
    group.add_argument(
        "--releases",
        metavar="YEAR",
        default="",
        help="the Django, asgiref, gunicorn, uvicorn and daphne of a day: 2020 is the "
        "article's (March 2020), as far as they install here",
    )


def project_spec(args, django="") -> ProjectSpec:
    """The project options, checked (absolute paths, files that exist); `django`: one Django of
    the matrix's --djangos instead of --django."""
    given = {name: getattr(args, option[2:].replace("-", "_")) for name, option in
             spec.OPTIONS.items()}  # fmt: skip
    return spec.check(ProjectSpec(**given | ({"django": django} if django else {})))


def add_run_options(p, view=True):
    p.add_argument("--profile", default="smoke", help=f"one of {', '.join(config.PROFILES)}")
    p.add_argument("--users", help="comma-separated user counts, overriding the profile's")
    p.add_argument(
        "--load-model",
        default="closed",
        choices=config.LOAD_MODELS,
        help="closed (default): the article's users, who wait 1-2 s after each answer; open: "
        "iterations started at a fixed rate per step (--rates), whatever the answers",
    )
    p.add_argument(
        "--rates",
        help="open model: comma-separated iterations/s per step (default: the profile's users "
        "divided by their mean wait, what they would offer if answered instantly)",
    )
    p.add_argument(
        "--pacing",
        type=number,
        help=f"open model: seconds between one user's iteration starts (default "
        f"{defaults.PACING_S:g}); users per "
        "step = rate x pacing, and an iteration longer than this lowers the rate started",
    )
    p.add_argument("--hold", type=number, help="seconds per step (ramp-up and warm-up included)")
    p.add_argument("--warmup", type=number, help="seconds discarded after each step's ramp-up")
    p.add_argument("--spawn-rate", type=number, help="users started per second")
    add_stack_options(p, view)
    p.add_argument(
        "--fresh-stack-per-step",
        action="store_true",
        help="start each step on a stack of its own, so no step inherits the previous one's "
        "backlog (the report says which way ran)",
    )
    p.add_argument(
        "--repeat",
        type=whole,
        default=1,
        help="run every configuration N times, interleaved (A B A B), and report the spread",
    )
    p.add_argument(
        "--scale",
        choices=["none", "auto"],
        default="none",
        help="auto: search the WSGI server's knee first, then run the profile's number of steps "
        "evenly spaced so that the article's WSGI knee step (300 of 100..700) lands on ours",
    )
    add_knee_options(p)
    add_mode_options(p)


def add_knee_options(p):
    d = KNEE_DEFAULTS
    group = p.add_argument_group("knee search (--profile knee, --scale auto, or djbench knee)")
    group.add_argument(
        "--start",
        type=whole,
        help=f"smallest probe (users, or iterations/s for the open model; default {d['start']})",
    )
    group.add_argument(
        "--max-users",
        type=whole,
        help=f"largest probe (default {d['max_users']} users; open model: twice the saturated "
        "iterations/s)",
    )
    group.add_argument(
        "--no-predict",
        dest="predict",
        action="store_const",
        const=False,
        help="skip the saturation probe that predicts the knee; double from --start instead",
    )
    group.add_argument(
        "--warm-stack",
        action="store_const",
        const=True,
        help="one stack for all of a server's probes, each started once the one before has "
        "drained (the default natively, for the polls project; elsewhere refused)",
    )
    group.add_argument(
        "--no-warm-stack",
        dest="warm_stack",
        action="store_const",
        const=False,
        help="start a stack for each probe instead",
    )
    group.add_argument(
        "--measure", type=number, help=f"seconds measured per probe (default {d['measure']:g})"
    )
    group.add_argument(
        "--p95-slo-ms",
        type=number,
        help=f"latency objective (default {d['p95_slo_ms']:g} ms)",
    )
    group.add_argument(
        "--resolution-pct",
        type=number,
        help=f"knee resolution, %% of users (default {d['resolution_pct']:g})",
    )
    group.add_argument(
        "--confirm",
        type=whole,
        help=f"extra measurements of each knee found (default {d['confirm']}); a count must "
        "pass them all",
    )


def add_mode_options(p):
    p.add_argument(
        "--mode",
        default="auto",
        choices=MODES,
        help="compose: Docker Compose; native: host processes; distributed: the stack on a "
        "stack host, Locust's workers on load hosts; auto (default): compose when a Docker "
        "engine answers, else native",
    )
    p.add_argument(
        "--locust-workers",
        type=whole,
        help="Locust processes here: 1 (default; 0 in distributed mode) runs one; N > 1 runs "
        "a master and N workers, one core each",
    )
    group = p.add_argument_group("distributed mode (see README, Across machines)")
    group.add_argument(
        "--stack",
        metavar="ssh://HOST",
        help="the stack host, ssh://[USER@]HOST[:PORT]: the controller starts it over SSH",
    )
    group.add_argument(
        "--load-hosts",
        metavar="ssh://HOST,...",
        help="load hosts the controller starts Locust's workers on over SSH",
    )
    group.add_argument(
        "--load-processes",
        type=whole,
        default=1,
        help="Locust worker processes on each load host (default 1; one core each)",
    )
    group.add_argument(
        "--master-port",
        type=port,
        default=defaults.LOCUST_MASTER_PORT,
        help="the master's port on the controller's loopback and, forwarded, the load hosts' "
        "(default 5557)",
    )
    p.add_argument(
        "--install-missing",
        action="store_true",
        help="install what the run lacks (nginx, wrk) with apt-get when running as root; "
        "otherwise the run stops saying the command (make bench passes it)",
    )


def mode_options(args) -> ModeOptions:
    """--mode and its options (add_mode_options), named as ModeOptions names them."""
    return ModeOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ModeOptions)})


def stack_settings(args, view=None, django=""):
    return dict(
        workers=args.workers,
        view=view or args.view,
        client_timeout_s=args.client_timeout,
        threads=args.threads,
        conn_max_age=args.conn_max_age,
        db_pool=args.db_pool,
        pg_max_connections=args.pg_max_connections,
        server_cpus=args.server_cpus,
        locust_cpus=args.locust_cpus,
        project=project_spec(args, django),
    )
