"""djbench machine-speed: whether this machine keeps its speed, with nothing else running."""

from djbench.commands.options import add_results_dir, number
from djbench.errors import UserError
from djbench.search import machine_speed
from djbench.system import machine, run_dirs
from djbench.system.log import log

NAME = "machine-speed"
HELP = "time a fixed CPU loop on every CPU: does this machine keep its speed? (default 60 s)"

INTERRUPTED = "every CPU counter was stopped; nothing written (a measurement is kept only whole)"


def add_arguments(p):
    p.add_argument("--seconds", type=number, default=60.0, help="how long (default 60)")
    p.add_argument("--window", type=number, default=1.0, help="seconds per count (default 1)")
    add_results_dir(p, "where it is written")


def run(args):
    if not 0 < args.window <= args.seconds:
        raise UserError(f"--window must be above 0 and at most --seconds, got {args.window:g}")
    if args.seconds > 3600:
        raise UserError(f"--seconds is at most 3600 (an hour), got {args.seconds:g}")
    out = run_dirs.new_dir(args.results_dir, "machine-speed")
    log.info(f"machine speed: counting a fixed CPU loop for {args.seconds:g} s -> {out}")
    with run_dirs.removed_if_unused(out):
        counts = machine_speed.measure(args.seconds, args.window)
    with open(out / machine_speed.CSV, "w") as f:
        f.write("window,start_s,cpu,units\n")
        for cpu, per_window in counts.items():
            for i, units in enumerate(per_window):
                f.write(f"{i},{i * args.window:g},{cpu},{units}\n")
    result = machine_speed.summary(counts, args.window)
    run_dirs.write_json(
        out / "summary.json",
        {**result, "machine": machine.machine(), "git_revision": machine.git_revision()},
    )
    log.info(machine_speed.verdict(result))
    return 0
