"""djbench knee-report: compare existing knee searches."""

from djbench.commands import benchmark
from djbench.commands.options import add_results_dir
from djbench.errors import UserError
from djbench.system.log import log

NAME = "knee-report"
HELP = "compare existing knee searches"


def add_arguments(p):
    p.add_argument("searches", nargs="*", help="results/<ts>-knee-... directories")
    add_results_dir(p, "where it is written")


def run(args):
    if not args.searches:
        raise UserError("no searches given: djbench knee-report results/<ts>-knee-... ...")
    log.info(f"knees: {benchmark.knee_summary(args.searches, args.results_dir)}")
    return 0
