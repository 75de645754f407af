"""djbench run: benchmark one server."""

from djbench.commands import benchmark
from djbench.commands.options import add_run_options
from djbench.stack.servers import SERVERS

NAME = "run"
HELP = "benchmark one server"


def add_arguments(p):
    p.add_argument("--server", required=True, help=f"one of {', '.join(SERVERS)}")
    add_run_options(p)


def run(args):
    return benchmark.benchmark(args, [(args.server, args.view)], compare=False)
