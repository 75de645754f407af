"""djbench report: compare existing runs."""

from djbench.commands import benchmark
from djbench.commands.options import add_results_dir
from djbench.errors import UserError
from djbench.system.log import log

NAME = "report"
HELP = "compare existing runs"


def add_arguments(p):
    p.add_argument("runs", nargs="*", help="results/<run-id> directories")
    p.add_argument(
        "--knee",
        action="append",
        default=[],
        metavar="DIR",
        help="a knee search of the same configuration as a run (repeatable); searches beside "
        "the runs are found without it",
    )
    add_results_dir(p, "where the report is written")


def run(args):
    if not args.runs:
        raise UserError("no runs given: djbench report results/<run-id> ...")
    log.info(f"report: {benchmark.report(args.runs, args.results_dir, args.knee)}")
    return 0
