"""djbench matrix: every server with every view variant, then one comparison."""

from djbench.commands import benchmark
from djbench.commands.options import add_run_options

NAME = "matrix"
HELP = "every server with every view variant, then compare"


def add_arguments(p):
    p.add_argument(
        "--servers", default="gunicorn,uvicorn", help="server names, comma- or space-separated"
    )
    p.add_argument("--views", default="sync,async", help="view variants, comma- or space-separated")
    add_run_options(p, view=False)


def run(args):
    return benchmark.benchmark(args, benchmark.combinations(args, args.views), compare=True)
