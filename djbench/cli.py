"""djbench: run the article's Django WSGI/ASGI benchmark and build its reports.

djbench run --server gunicorn --profile smoke     one server, one results directory
djbench bench --servers gunicorn,uvicorn          several servers, then a comparison report
djbench matrix --servers a,b --views sync,async   every server x view, then one comparison
djbench report results/<a> results/<b>            rebuild a comparison from existing runs
djbench calibrate                                 what one Locust process can drive here
"""

import argparse
import json
import math
import os
import re
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from djbench import config
from djbench.analysis import AnalysisError
from djbench.analysis.runs.run import read_meta
from djbench.contracts import defaults
from djbench.errors import ComponentFailed, UserError
from djbench.remote import stack_host
from djbench.runners import compose, distributed, native
from djbench.search import knee
from djbench.search import probes as knee_runner
from djbench.stack.servers import SERVERS
from djbench.studies import calibrate
from djbench.system import leftovers, prerequisites
from djbench.system import run_dirs as results
from djbench.system.processes import STOP_SIGNALS


class _Parser(argparse.ArgumentParser):
    """Bad arguments get the same one line as every other user mistake, and exit status 2."""

    def error(self, message):
        self.exit(2, f"djbench: error: {message}\n")


def _number(text):
    """argparse type: a finite number (float() alone lets 'nan' and 'inf' through)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _whole(text):
    """argparse type: a whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _port(text):
    """argparse type: a TCP port."""
    port = _whole(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return port


# The knee search's settings; None on the command line means "not given", so that a knee
# option given to a run that searches no knee is refused instead of ignored.
KNEE_DEFAULTS = {
    "start": 10,
    "max_users": knee_runner.DEFAULT_MAX_USERS,
    "measure": 20.0,
    "p95_slo_ms": 1000.0,
    "resolution_pct": 10.0,
    "confirm": 1,
    "predict": True,  # --no-predict: double from --start instead
}


def _add_stack_options(p, view=True):
    """The stack under test: what every command that starts one takes."""
    p.add_argument("--workers", type=_whole, help="server worker processes (default 2 x cores + 1)")
    if view:
        p.add_argument("--view", default="sync", help="Django view variant: sync or async")
    p.add_argument(
        "--threads",
        type=_whole,
        help=f"threads per worker (gunicorn-gthread only; default {defaults.THREADS})",
    )
    p.add_argument(
        "--conn-max-age",
        type=_whole,
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
        type=_whole,
        default=defaults.PG_MAX_CONNECTIONS,
        help="PostgreSQL max_connections (default %(default)s)",
    )
    p.add_argument(
        "--client-timeout",
        type=_number,
        default=defaults.CLIENT_TIMEOUT_S,
        help="seconds before a request counts as a timeout failure (default %(default)g)",
    )
    p.add_argument(
        "--server-cpus",
        metavar="CPUS",
        help="pin the server stack (app, PostgreSQL, nginx) to these CPUs, e.g. 0 or 0-1",
    )
    p.add_argument("--locust-cpus", metavar="CPUS", help="pin Locust to these CPUs, e.g. 1")
    p.add_argument("--results-dir", default="results", help="where runs are written")


def _add_run_options(p, view=True):
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
        type=_number,
        help=f"open model: seconds between one user's iteration starts (default "
        f"{defaults.PACING_S:g}); users per "
        "step = rate x pacing, and an iteration longer than this lowers the rate started",
    )
    p.add_argument("--hold", type=_number, help="seconds per step (ramp-up and warm-up included)")
    p.add_argument("--warmup", type=_number, help="seconds discarded after each step's ramp-up")
    p.add_argument("--spawn-rate", type=_number, help="users started per second")
    _add_stack_options(p, view)
    p.add_argument(
        "--fresh-stack-per-step",
        action="store_true",
        help="start each step on a stack of its own, so no step inherits the previous one's "
        "backlog (the report says which way ran)",
    )
    p.add_argument(
        "--repeat",
        type=_whole,
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
    d = KNEE_DEFAULTS
    group = p.add_argument_group("knee search (--profile knee, --scale auto, or djbench knee)")
    group.add_argument(
        "--start",
        type=_whole,
        help=f"smallest probe (users, or iterations/s for the open model; default {d['start']})",
    )
    group.add_argument(
        "--max-users",
        type=_whole,
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
        "--measure", type=_number, help=f"seconds measured per probe (default {d['measure']:g})"
    )
    group.add_argument(
        "--p95-slo-ms",
        type=_number,
        help=f"latency objective (default {d['p95_slo_ms']:g} ms)",
    )
    group.add_argument(
        "--resolution-pct",
        type=_number,
        help=f"knee resolution, %% of users (default {d['resolution_pct']:g})",
    )
    group.add_argument(
        "--confirm",
        type=_whole,
        help=f"extra measurements of each knee found (default {d['confirm']}); a count must "
        "pass them all",
    )
    _add_mode_options(p)


def _add_mode_options(p):
    p.add_argument(
        "--mode",
        default="auto",
        choices=["auto", "native", "compose", "distributed"],
        help="compose: Docker Compose; native: host processes; distributed: the stack on a "
        "stack host, Locust's workers on load hosts; auto (default): compose when a Docker "
        "engine answers, else native",
    )
    p.add_argument(
        "--locust-workers",
        type=_whole,
        help="Locust processes here: 1 (default; 0 in distributed mode) runs one; N > 1 runs "
        "a master and N workers, one core each",
    )
    group = p.add_argument_group("distributed mode (see README, Across machines)")
    group.add_argument("--stack", metavar="HOST[:PORT]", help="the stack host (djbench stack-host)")
    group.add_argument("--db", metavar="HOST[:PORT]", help="a database host of its own")
    group.add_argument(
        "--master-bind", metavar="ADDRESS", help="where Locust's master listens for workers"
    )
    group.add_argument(
        "--master-port", type=_port, default=distributed.LOCUST_MASTER_PORT, help="(default 5557)"
    )
    group.add_argument(
        "--expect-workers",
        type=_whole,
        default=0,
        help="Locust workers on load hosts (djbench load-worker) to wait for",
    )
    p.add_argument(
        "--install-missing",
        action="store_true",
        help="install what the run lacks (nginx, wrk) with apt-get when running as root; "
        "otherwise the run stops saying the command (make bench passes it)",
    )


def _parser():
    parser = _Parser(
        prog="djbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="benchmark one server")
    run.add_argument("--server", required=True, help=f"one of {', '.join(SERVERS)}")
    _add_run_options(run)
    bench = sub.add_parser("bench", help="benchmark several servers, then compare them")
    bench.add_argument(
        "--servers",
        default="gunicorn,uvicorn",
        help="server names, comma- or space-separated (default gunicorn,uvicorn)",
    )
    _add_run_options(bench)
    matrix = sub.add_parser("matrix", help="every server with every view variant, then compare")
    matrix.add_argument(
        "--servers", default="gunicorn,uvicorn", help="server names, comma- or space-separated"
    )
    matrix.add_argument(
        "--views", default="sync,async", help="view variants, comma- or space-separated"
    )
    _add_run_options(matrix, view=False)
    knee_cmd = sub.add_parser("knee", help="find each server's knee (capacity) by search")
    knee_cmd.add_argument(
        "--servers", default="gunicorn,uvicorn", help="comma- or space-separated server names"
    )
    _add_run_options(knee_cmd)
    knee_cmd.set_defaults(profile="knee")
    knee_report = sub.add_parser("knee-report", help="compare existing knee searches")
    knee_report.add_argument("searches", nargs="*", help="results/<ts>-knee-... directories")
    knee_report.add_argument("--results-dir", default="results", help="where it is written")
    report = sub.add_parser("report", help="compare existing runs")
    report.add_argument("runs", nargs="*", help="results/<run-id> directories")
    report.add_argument(
        "--knee",
        action="append",
        default=[],
        metavar="DIR",
        help="a knee search of the same configuration as a run (repeatable); searches beside "
        "the runs are found without it",
    )
    report.add_argument("--results-dir", default="results", help="where the report is written")
    cal = sub.add_parser("calibrate", help="measure the load generator's capacity here")
    cal.add_argument("--server", default="gunicorn", help="the stack's server (default gunicorn)")
    cal.add_argument("--users", default="50", help="users (wrk: connections) per client")
    cal.add_argument("--hold", type=_number, default=30.0, help="seconds per client (default 30)")
    cal.add_argument("--warmup", type=_number, default=5.0, help="seconds discarded (default 5)")
    _add_stack_options(cal)
    _add_mode_options(cal)
    host = sub.add_parser("stack-host", help="serve stacks to a controller on another host")
    host.add_argument("--bind", required=True, help="this host's address the others reach")
    host.add_argument("--port", type=_port, default=stack_host.DEFAULT_PORT, help="(default 7700)")
    host.add_argument("--roles", default="db,web", help="db, web or both (default db,web)")
    worker = sub.add_parser("load-worker", help="Locust workers for a controller's master")
    worker.add_argument("--master", required=True, help="the controller's HOST[:PORT]")
    worker.add_argument(
        "--processes", type=_whole, default=1, help="worker processes (one core each)"
    )
    setup = sub.add_parser("setup", help="install what the native stack or the tests need")
    setup.add_argument("--for", dest="purpose", choices=list(prerequisites.NEEDS), default="bench")
    setup.add_argument(
        "--mode", default="auto", choices=["auto", "native", "compose", "distributed"]
    )
    sub.add_parser("list", help="list servers and profiles")
    return parser


def _calibrate(args):
    users = config.parse_users(args.users)
    if len(users) != 1:
        raise UserError(f"calibrate takes one user count, got {args.users!r}")
    servers = _names(args.server, "server")
    if len(servers) != 1:
        raise UserError(f"calibrate takes one server, got {args.server!r}")
    cfg = config.build(
        servers[0],
        users=users,
        hold_s=args.hold,
        warmup_s=args.warmup,
        spawn_rate=users[0],  # all users at once: there is only one step
        **_stack_settings(args),
    )
    _check_mode_options(args)
    _install_missing(args, "calibrate")
    calibrate.find_wrk()
    runner = _runner(args)
    with _bench_lock(), runner.runs_in_a_row():
        return calibrate.run(runner, cfg, args.results_dir)


@contextmanager
def _bench_lock():
    """One benchmark at a time; whoever holds the lock first stops what a killed run left."""
    with results.BenchLock():
        leftovers.reap(results.live_runs_dir())
        yield


def _stack_settings(args, view=None):
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
    )


def _names(text, what):
    """'a,b' or 'a b' -> ['a', 'b'] (make passes its variables either way)."""
    names = [n for n in re.split(r"[,\s]+", text) if n]
    if not names:
        raise UserError(f"no {what} given")
    return names


def _combinations(args):
    """(server, view) pairs in run order."""
    if args.command == "run":
        return [(args.server, args.view)]
    servers = _names(args.servers, "servers")
    if args.command in ("bench", "knee"):
        return [(server, args.view) for server in servers]
    views = _names(args.views, "views")
    return [(server, view) for server in servers for view in views]


def _configs(args, combinations):
    cfgs = [
        config.build(
            server,
            profile=args.profile,
            users=args.users,
            hold_s=args.hold,
            warmup_s=args.warmup,
            spawn_rate=args.spawn_rate,
            fresh_stack_per_step=args.fresh_stack_per_step,
            **_stack_settings(args, view),
            load_model=args.load_model,
            rates=args.rates,
            pacing_s=args.pacing,
        )
        for server, view in combinations
    ]
    _check_ignored(args, cfgs)
    config.check_range("repeat", args.repeat)
    _check_mode_options(args)
    return cfgs


def _install_missing(args, purpose="bench"):
    """Once every value is checked: what the run lacks, installed where allowed (make asks)."""
    if args.install_missing:
        prerequisites.setup(purpose, args.mode)


def _check_mode_options(args):
    most = len(os.sched_getaffinity(0))
    if args.locust_workers is not None:  # 0: none here, the load hosts' workers only
        zero_ok = args.mode == "distributed"
        why = f" (one a CPU; {most} here)"
        config.check_range("locust-workers", args.locust_workers, high=most, why=why,
                           low_ok=zero_ok)  # fmt: skip
    config.check_range("expect-workers", args.expect_workers, low_ok=True)


def _check_ignored(args, cfgs):
    """An option that would change nothing is refused, not dropped without a word."""
    searches = args.profile == "knee" or args.scale == "auto"
    given = [k for k in KNEE_DEFAULTS if getattr(args, k) is not None]
    if given and not searches:
        raise UserError(
            f"--{given[0].replace('_', '-')} applies to knee searches only "
            "(djbench knee, --profile knee or --scale auto)"
        )
    if args.profile == "knee":
        for option, instead in (("users", "--start, --max-users"), ("hold", "--measure")):
            if getattr(args, option) is not None:
                raise UserError(
                    f"--{option} does not apply to a knee search, which sets each probe's "
                    f"own ({instead})"
                )
        if args.scale == "auto":
            raise UserError("--scale auto scales the steps of a benchmark, not a knee search")
    if args.threads is not None and not any(SERVERS[c.server].uses_threads for c in cfgs):
        threaded = ", ".join(n for n, s in SERVERS.items() if s.uses_threads)
        raise UserError(f"--threads applies only to servers with threads ({threaded})")


def _runner(args):
    """The runner for the mode, checked before anything starts, saying in one line which mode
    runs and why."""
    mode = args.mode
    if mode == "auto":
        mode = "compose" if compose.engine_available() else "native"
        reason = "a Docker engine answers" if mode == "compose" else "no Docker engine answered"
        print(f"mode: {mode} ({reason}; MODE=native|compose chooses)")
    if mode == "distributed":
        if not args.stack:
            raise UserError("distributed mode needs --stack HOST[:PORT] (djbench stack-host)")
        runner = distributed.DistributedRunner(
            args.stack, args.db, args.master_bind, args.master_port, args.expect_workers,
            args.locust_workers or 0,
        )  # fmt: skip
    else:
        for option in ("stack", "db", "master_bind"):
            if getattr(args, option):
                raise UserError(f"--{option.replace('_', '-')} is for --mode distributed")
        workers = 1 if args.locust_workers is None else args.locust_workers
        runner = (compose.ComposeRunner if mode == "compose" else native.NativeRunner)(workers)
    runner.preflight()
    return runner


def _run_all(cfgs, results_root, runner):
    """Run each configuration in turn; returns the results directories."""
    run_dirs = []
    with _bench_lock():
        for cfg in cfgs:
            run_dir = runner.run(cfg, results_root)
            run_dirs.append(run_dir)
            print(f"results: {run_dir}")
    return run_dirs


def _knee_settings(args, cfgs=()):
    """The search's settings, each checked; with cfgs, against their stack too."""
    d = {k: v if (v := getattr(args, k)) is not None else KNEE_DEFAULTS[k] for k in KNEE_DEFAULTS}
    most, why = config.max_users()
    config.check_range("start", d["start"], high=most, why=f" ({why})")
    config.check_range("max-users", d["max_users"], high=most, why=f" ({why})")
    if d["max_users"] < d["start"]:
        raise UserError(f"max-users ({d['max_users']}) is below start ({d['start']})")
    config.check_range("measure", d["measure"], high=config.DAY_S, why=" s (a day)")
    config.check_range("resolution-pct", d["resolution_pct"], high=100)
    config.check_range("confirm", d["confirm"], low_ok=True)
    for cfg in cfgs:
        # A p95 above the client timeout cannot be seen: such requests fail as timeouts.
        timeout_ms = cfg.client_timeout_s * 1000
        config.check_range(
            "p95-slo-ms", d["p95_slo_ms"], high=timeout_ms, why=" (the client timeout)"
        )
        longest = cfg.warmup_s + d["max_users"] / cfg.spawn_rate + d["measure"]
        least = (1 + d["confirm"]) * (cfg.warmup_s + d["start"] / cfg.spawn_rate + d["measure"])
        if longest > config.DAY_S or least * len(cfgs) > config.DAY_S:
            raise UserError(
                f"this knee search would take more than a day ({config.DAY_S} s); lower "
                "--measure, --max-users, --confirm or --repeat"
            )
    config.check_range("p95-slo-ms", d["p95_slo_ms"])
    return {
        "start": d["start"],
        # Not given: the runner's default, which for the open model depends on the prediction.
        "max_users": args.max_users,
        "measure_s": d["measure"],
        "p95_slo_ms": d["p95_slo_ms"],
        "resolution_pct": d["resolution_pct"],
        "confirm": d["confirm"],
        "predict": d["predict"],
    }


def _planned(cfgs, repeat):
    """A benchmark longer than a day is a slip (HOLD=1e9, REPEAT=1000), refused up front."""
    total = sum(c.planned_s for c in cfgs) * repeat
    if total > config.DAY_S:
        raise UserError(
            f"{len(cfgs)} configuration(s) x {repeat} repetition(s) plan {total:g} s, more than "
            f"a day ({config.DAY_S} s)"
        )


def _knee_all(cfgs, args, settings):
    runner = _runner(args)
    knee_dirs = []
    with _bench_lock(), runner.runs_in_a_row():
        for cfg in cfgs:
            knee_dirs.append(knee_runner.run(cfg, args.results_dir, runner.run, settings))
            print(f"knee: {knee_dirs[-1]}")
    return knee_dirs


def _knee_summary(knee_dirs, results_root):
    from djbench.analysis.report.knee_summary import (
        write_knee_summary,  # matplotlib: only when reporting
    )

    out_dir = write_knee_summary(knee_dirs, results.free_name(results_root, "knees"))
    for line in (out_dir / "knees.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| Configuration", "| ---")):
            print(line)
    return out_dir


def _repeated(cfgs, repeat):
    """A B A B, not A A B B: a drift of the machine over time then spreads over every
    configuration instead of favouring the one that ran first."""
    config.check_range("repeat", repeat)
    if repeat == 1:
        return cfgs
    return [config.with_overrides(c, repetition=i) for i in range(1, repeat + 1) for c in cfgs]


def _auto_scale(cfgs, args, settings):
    """Knee search on the first WSGI configuration, then every configuration's steps scaled."""
    if args.users:
        raise UserError("--scale auto chooses the user steps itself; leave out --users")
    if args.load_model == "open":
        raise UserError("--scale auto scales user steps: it needs the closed load model")
    wsgi = next((c for c in cfgs if c.interface == "wsgi"), cfgs[0])
    knee_cfg = config.with_overrides(wsgi, profile="knee", users=(settings["start"],))
    (knee_dir,) = _knee_all([knee_cfg], args, settings)
    knees = {
        name: knee.Knee(**{k: v for k, v in found.items() if k != "bounded"})
        for name, found in json.loads((knee_dir / "knee.json").read_text())["knees"].items()
    }
    steps = knee.scaled_steps(knees, steps=len(cfgs[0].users))
    if steps is None:
        raise UserError(
            f"--scale auto: the knee search of {wsgi.server} found no bounded knee "
            f"(see {knee_dir}); raise --max-users or lower --p95-slo-ms"
        )
    how = (
        f"auto: steps of {steps[0]} users, from {wsgi.server}'s knee search {knee_dir.name} "
        f"(the article's WSGI knee step, 300 of 100..700, mapped onto ours)"
    )
    print(f"scale: {how}")
    return [config.with_overrides(c, users=steps, scale=how) for c in cfgs]


def _report(run_dirs, results_root, knee_dirs=()):
    from djbench.analysis.report.build import (
        build as build_report,  # matplotlib: only when reporting
    )

    out_dir = results.free_name(results_root, "report")
    build_report([Path(r) for r in run_dirs], out_dir, [Path(k) for k in knee_dirs])
    return out_dir


def _integrity_failures(run_dirs):
    bad = []
    for run_dir in run_dirs:
        meta = read_meta(Path(run_dir))
        if not meta.get("integrity", {}).get("ok", False):
            bad.append(f"{run_dir}: {meta.get('integrity', {}).get('message', 'not checked')}")
    return bad


def _interrupt(signum, frame):
    # Stop once: a second Ctrl-C, or a SIGTERM while stopping, must not cut the shutdown short.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv=None):
    args = _parser().parse_args(argv)
    # Progress must show as it happens, also through a pipe (make ... | tee).
    sys.stdout.reconfigure(line_buffering=True)
    # SIGTERM and SIGHUP (the terminal closed) stop a run like Ctrl-C does: every process
    # stopped, partial results kept. SIGINT is set explicitly: a shell starts background jobs
    # with it ignored.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        if args.command == "stack-host":
            stack_host.serve(args.bind, args.port, _names(args.roles, "roles"))
            return 0
        if args.command == "load-worker":
            distributed.load_worker(args.master, args.processes)
            return 0
        if args.command == "list":
            for name, server in SERVERS.items():
                single = ", one process" if server.single_process else ""
                print(f"server  {name:<17} {server.interface.upper()}{single}")
            for name, p in config.PROFILES.items():
                print(
                    f"profile {name:<17} users {','.join(map(str, p.users))}, "
                    f"{p.hold_s:g} s per step"
                )
            return 0
        if args.command == "report":
            if not args.runs:
                raise UserError("no runs given: djbench report results/<run-id> ...")
            print(f"report: {_report(args.runs, args.results_dir, args.knee)}")
            return 0
        if args.command == "calibrate":
            print(f"calibration: {_calibrate(args)}")
            return 0
        if args.command == "knee-report":
            if not args.searches:
                raise UserError("no searches given: djbench knee-report results/<ts>-knee-... ...")
            print(f"knees: {_knee_summary(args.searches, args.results_dir)}")
            return 0
        if args.command == "setup":
            return prerequisites.setup(args.purpose, args.mode)
        if args.command == "knee" and args.profile != "knee":
            raise UserError(f"djbench knee searches; leave out --profile {args.profile}")
        cfgs = _configs(args, _combinations(args))
        if args.profile == "knee":
            cfgs = _repeated(cfgs, args.repeat)
            settings = _knee_settings(args, cfgs)  # checked in full before anything starts
            _install_missing(args)
            knee_dirs = _knee_all(cfgs, args, settings)
            if len(knee_dirs) > 1:
                print(f"knees: {_knee_summary(knee_dirs, args.results_dir)}")
            return 0
        _planned(cfgs, args.repeat)
        if args.scale == "auto":
            settings = _knee_settings(args, cfgs[:1])
        _install_missing(args)
        if args.scale == "auto":
            cfgs = _auto_scale(cfgs, args, settings)
        cfgs = _repeated(cfgs, args.repeat)
        run_dirs = _run_all(cfgs, args.results_dir, _runner(args))
        bad = _integrity_failures(run_dirs)
        if args.command in ("bench", "matrix"):
            print(f"report: {_report(run_dirs, args.results_dir)}")
        if bad:
            for line in bad:
                print(f"INTEGRITY CHECK FAILED: {line}", file=sys.stderr)
            return 1
        return 0
    except (UserError, AnalysisError) as e:
        print(f"djbench: error: {e}", file=sys.stderr)
        return 2
    except ComponentFailed as e:
        print(f"djbench: run failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "djbench: interrupted; every process of the run was stopped, partial results "
            "kept (meta.json: complete false)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
