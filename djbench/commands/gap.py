"""djbench gap: where a gap between two failure tables comes from, over existing runs."""

from pathlib import Path

from djbench.analysis.studies import gap
from djbench.system.log import log

NAME = "gap"
HELP = "where a failure-%% gap between groups of runs comes from"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="NAME=RUN_DIR")
    p.add_argument("--out", required=True, help="new directory for gap.md and gap.csv")


def run(args):
    log.info(f"gap: {gap.write(gap.parse_groups(args.runs), Path(args.out))}")
    return 0
