"""djbench calibrate: what one Locust process can drive here."""

from djbench import config
from djbench.commands import benchmark
from djbench.commands.options import (
    add_mode_options,
    add_stack_options,
    mode_options,
    names,
    number,
    stack_settings,
)
from djbench.errors import UserError
from djbench.runners import factory
from djbench.studies import calibrate
from djbench.system.log import log

NAME = "calibrate"
HELP = "measure the load generator's capacity here"


def add_arguments(p):
    p.add_argument("--server", default="gunicorn", help="the stack's server (default gunicorn)")
    p.add_argument("--users", default="50", help="users (wrk: connections) per client")
    p.add_argument("--hold", type=number, default=30.0, help="seconds per client (default 30)")
    p.add_argument("--warmup", type=number, default=5.0, help="seconds discarded (default 5)")
    add_stack_options(p)
    add_mode_options(p)


def run(args):
    users = config.parse_users(args.users)
    if len(users) != 1:
        raise UserError(f"calibrate takes one user count, got {args.users!r}")
    servers = names(args.server, "server")
    if len(servers) != 1:
        raise UserError(f"calibrate takes one server, got {args.server!r}")
    cfg = config.build(
        servers[0],
        users=users,
        hold_s=args.hold,
        warmup_s=args.warmup,
        spawn_rate=users[0],  # all users at once: there is only one step
        **stack_settings(args),
    )
    factory.check_options(mode_options(args))
    benchmark.prepare_project(args, [cfg])
    benchmark.install_missing(args, "calibrate")
    calibrate.find_wrk()
    runner = factory.create(mode_options(args))
    with benchmark.bench_lock(), runner.runs_in_a_row():
        log.info(f"calibration: {calibrate.run(runner, cfg, args.results_dir)}")
    return 0
