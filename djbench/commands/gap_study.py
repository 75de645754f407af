"""djbench gap-study: one configuration under several load variants, each run several times,
interleaved (A B A B ...), then `djbench gap` over the runs. Options it does not know go to
every run (e.g. --mode native --workers 5)."""

from djbench.studies import gap_study
from djbench.system.log import log

NAME = "gap-study"
HELP = "measure where a failure-%% gap comes from: runs of several load variants, then gap"
EXTRA = True  # the options it does not know go to every run
INTERRUPTED = "the runs finished so far are kept"


def add_arguments(p):
    p.add_argument("--server", default="uvicorn", help="the server (default uvicorn)")
    p.add_argument("--profile", default="article", help="the profile (default article)")
    p.add_argument("--repeat", type=int, default=3, help="runs per variant (default 3)")
    p.add_argument(
        "--variant",
        action="append",
        metavar="NAME=RUN OPTIONS",
        help=f"a load variant, repeatable (default: {'; '.join(gap_study.DEFAULT_VARIANTS)})",
    )
    p.add_argument("--results-dir", default="results", help="where runs and the study go")


def run(args):
    log.info(f"gap study: {gap_study.study(args, args.extra)}")
    return 0
