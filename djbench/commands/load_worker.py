"""djbench load-worker: Locust workers for a controller's master."""

from djbench.commands.options import whole
from djbench.remote.load_worker import load_worker

NAME = "load-worker"
HELP = "Locust workers for a controller's master"


def add_arguments(p):
    p.add_argument("--master", required=True, help="the controller's HOST[:PORT]")
    p.add_argument("--processes", type=whole, default=1, help="worker processes (one core each)")


def run(args):
    load_worker(args.master, args.processes)
    return 0
