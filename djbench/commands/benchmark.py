"""The benchmark sequence that run, bench, matrix and knee share: configurations checked in full
before anything starts, one benchmark at a time, then the runs, searches and reports."""

from contextlib import contextmanager
from pathlib import Path

from djbench import config
from djbench.analysis.runs.run import read_meta
from djbench.commands.options import mode_options, names, stack_settings
from djbench.errors import UserError
from djbench.project import app as project_app
from djbench.project import versions
from djbench.runners import compose_project, factory
from djbench.runners.base import refuse_warm_stack
from djbench.search import auto_scale
from djbench.search import probes as knee_runner
from djbench.search.settings import given, knee_settings, warm_stack
from djbench.stack.servers import SERVERS
from djbench.system import leftovers, prerequisites, run_dirs
from djbench.system.log import log


@contextmanager
def bench_lock():
    """One benchmark at a time; whoever holds the lock first stops what a killed run left."""
    with run_dirs.BenchLock():
        leftovers.reap(run_dirs.live_runs_dir())
        yield


def install_missing(args, purpose="bench"):
    """Once every value is checked: what the run lacks, installed where allowed (make asks)."""
    if args.install_missing:
        prerequisites.setup(purpose, args.mode)


def configs(args, combinations):
    """One checked configuration per (server, view) pair, or (server, view, Django) triple."""
    cfgs = [
        config.build(
            server,
            profile=args.profile,
            users=args.users,
            hold_s=args.hold,
            warmup_s=args.warmup,
            spawn_rate=args.spawn_rate,
            fresh_stack_per_step=args.fresh_stack_per_step,
            **stack_settings(args, view, *django),
            load_model=args.load_model,
            rates=args.rates,
            pacing_s=args.pacing,
        )
        for server, view, *django in combinations
    ]
    _check_ignored(args, cfgs)
    config.check_range("repeat", args.repeat)
    factory.check_options(mode_options(args))
    prepare_project(args, cfgs)
    return cfgs


def prepare_project(args, cfgs):
    """A project of the user's, or another Django, runs natively or on a stack host; its
    environment is built (or found) now, here or there, before anything starts, so that a
    project that cannot run stops here with one line."""
    project = cfgs[0].project
    others = any(c.project.django or c.project.asgiref or c.project.releases for c in cfgs)
    for cfg in cfgs:
        if cfg.project.releases:
            day = versions.RELEASES[cfg.project.releases]
            if cfg.server not in day.runs:
                raise UserError(f"--releases {cfg.project.releases} has {', '.join(day.runs)} "
                                f"(the servers of {day.day}), not {cfg.server}")  # fmt: skip
    if not project.builtin or others:
        why = "a project of yours" if not project.builtin else "another Django"
        if args.mode == "auto":
            args.mode = "native"
            log.info(f"mode: native ({why} runs as host processes)")
        refused = (
            [compose_project.refusal(c.project) for c in cfgs] if args.mode == "compose" else []
        )
        if any(refused):
            raise UserError(next(r for r in refused if r))
        if args.mode == "distributed":
            factory.RUNNERS["distributed"].from_options(mode_options(args)).check_projects(cfgs)
    # compose: the project inspected here, in its environment, then built into an image
    if args.mode == "native" or (args.mode == "compose" and not project.builtin):
        for cfg in cfgs:
            project_app.prepare_for(cfg)


def _check_ignored(args, cfgs):
    """An option that would change nothing is refused, not dropped without a word."""
    searches = args.profile == "knee" or args.scale == "auto"
    knee_options = given(args)
    if knee_options and not searches:
        first = knee_options[0]
        no = "no-" if getattr(args, first) is False else ""  # --no-predict, --no-warm-stack
        raise UserError(
            f"--{no}{first.replace('_', '-')} applies to knee searches only "
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


def planned(cfgs, repeat):
    """A benchmark longer than a day is a slip (HOLD=1e9, REPEAT=1000), refused up front."""
    total = sum(c.planned_s for c in cfgs) * repeat
    if total > config.DAY_S:
        raise UserError(
            f"{len(cfgs)} configuration(s) x {repeat} repetition(s) plan {total:g} s, more than "
            f"a day ({config.DAY_S} s)"
        )


def repeated(cfgs, repeat):
    """A B A B, not A A B B: a drift of the machine over time then spreads over every
    configuration instead of favouring the one that ran first."""
    config.check_range("repeat", repeat)
    if repeat == 1:
        return cfgs
    return [config.with_overrides(c, repetition=i) for i in range(1, repeat + 1) for c in cfgs]


def run_all(cfgs, results_root, runner):
    """Run each configuration in turn; returns the results directories."""
    done = []
    with bench_lock():
        for cfg in cfgs:
            done.append(runner.run(cfg, results_root))
            log.info(f"results: {done[-1]}")
    return done


def knee_all(cfgs, args, settings):
    runner = factory.create(mode_options(args))
    settings = {**settings, "warm_stack": warm_stack(settings["warm_stack"], runner.mode, cfgs)}
    knee_dirs = []
    with bench_lock(), runner.runs_in_a_row(warm=settings["warm_stack"]):
        for cfg in cfgs:
            knee_dirs.append(knee_runner.run(cfg, args.results_dir, runner.run, settings))
            log.info(f"knee: {knee_dirs[-1]}")
    return knee_dirs


def knee_summary(knee_dirs, results_root):
    from djbench.analysis.report.knee_summary import write_knee_summary  # matplotlib: late

    out_dir = write_knee_summary(knee_dirs, run_dirs.free_name(results_root, "knees"))
    for line in (out_dir / "knees.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| Configuration", "| ---")):
            log.info(line)
    return out_dir


def report(runs, results_root, knee_dirs=()):
    from djbench.analysis.report.build import build  # matplotlib: only when reporting

    out_dir = run_dirs.free_name(results_root, "report")
    build([Path(r) for r in runs], out_dir, [Path(k) for k in knee_dirs])
    return out_dir


def integrity_failures(runs):
    bad = []
    for run_dir in runs:
        meta = read_meta(Path(run_dir))
        if not meta.get("integrity", {}).get("ok", False):
            bad.append(f"{run_dir}: {meta.get('integrity', {}).get('message', 'not checked')}")
    return bad


def combinations(args, views=None):
    """(server, view) pairs in run order: every server with the view, or with every view."""
    servers = names(args.servers, "servers")
    if views is None:
        return [(server, args.view) for server in servers]
    pairs = [(server, view) for server in servers for view in names(views, "views")]
    runnable = [(s, v) for s, v in pairs if not _cannot_run(s, v)]
    if not runnable:
        return pairs  # nothing left: the first pair's refusal says why
    for server, view in pairs:
        if _cannot_run(server, view):
            log.info(
                f"note: {server} does not run {view} views ({SERVERS[server].why_not}); "
                f"the matrix leaves that run out"
            )
    return runnable


def _cannot_run(server, view):
    """A known server with a known view variant that it cannot run (an unknown name is not)."""
    return server in SERVERS and view in config.VIEWS and view not in SERVERS[server].views


def benchmark(args, pairs, compare):
    """The steps of every configuration (or each one's knee search with --profile knee), then
    the comparison report when `compare`; exit status 1 when a run lost a vote."""
    cfgs = configs(args, pairs)
    if args.profile == "knee":
        cfgs = repeated(cfgs, args.repeat)
        settings = knee_settings(args, cfgs)  # checked in full before anything starts
        if settings["warm_stack"] is True and args.mode not in ("auto", "native"):
            refuse_warm_stack(args.mode)
        install_missing(args)
        knee_dirs = knee_all(cfgs, args, settings)
        if len(knee_dirs) > 1:
            log.info(f"knees: {knee_summary(knee_dirs, args.results_dir)}")
        return 0
    planned(cfgs, args.repeat)
    if args.scale == "auto":
        if args.users:
            raise UserError("--scale auto chooses the user steps itself; leave out --users")
        if args.load_model == "open":
            raise UserError("--scale auto scales user steps: it needs the closed load model")
        settings = knee_settings(args, cfgs[:1])
    install_missing(args)
    if args.scale == "auto":
        knee_cfg = auto_scale.knee_config(cfgs, settings["start"])
        (knee_dir,) = knee_all([knee_cfg], args, settings)
        cfgs, how = auto_scale.scaled(cfgs, knee_cfg, knee_dir)
        log.info(f"scale: {how}")
    cfgs = repeated(cfgs, args.repeat)
    runs = run_all(cfgs, args.results_dir, factory.create(mode_options(args)))
    bad = integrity_failures(runs)
    if compare:
        log.info(f"report: {report(runs, args.results_dir)}")
    if bad:
        for line in bad:
            log.error(f"INTEGRITY CHECK FAILED: {line}")
        return 1
    return 0
