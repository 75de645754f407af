"""djbench bench: several servers, then the comparison report."""

from djbench.commands import benchmark
from djbench.commands.options import add_run_options

NAME = "bench"
HELP = "benchmark several servers, then compare them"


def add_arguments(p):
    p.add_argument(
        "--servers",
        default="gunicorn,uvicorn",
        help="server names, comma- or space-separated (default gunicorn,uvicorn)",
    )
    add_run_options(p)


def run(args):
    return benchmark.benchmark(args, benchmark.combinations(args), compare=True)
