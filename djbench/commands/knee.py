"""djbench knee: search each server's knee (capacity)."""

from djbench.commands import benchmark
from djbench.commands.options import add_run_options
from djbench.errors import UserError

NAME = "knee"
HELP = "find each server's knee (capacity) by search"


def add_arguments(p):
    p.add_argument(
        "--servers", default="gunicorn,uvicorn", help="comma- or space-separated server names"
    )
    add_run_options(p)
    p.set_defaults(profile="knee")


def run(args):
    if args.profile != "knee":
        raise UserError(f"djbench knee searches; leave out --profile {args.profile}")
    return benchmark.benchmark(args, benchmark.combinations(args), compare=False)
