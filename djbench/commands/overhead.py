"""djbench overhead: what each run spent besides measuring, one Markdown row per run."""

from djbench.analysis.studies.overhead import markdown, overhead_table
from djbench.system.log import log

NAME = "overhead"
HELP = "what runs spent besides measuring (start-up, ramp-up, teardown, harness CPU)"


def add_arguments(p):
    p.add_argument("runs", nargs="+", help="results/<run-id> directories")


def run(args):
    log.info(markdown(overhead_table(args.runs)))
    return 0
