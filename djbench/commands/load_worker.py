"""djbench load-worker: Locust workers for a controller's master."""

from djbench.commands.options import whole
from djbench.remote.load_worker import load_worker

NAME = "load-worker"
HELP = "Locust workers for a controller's master"


def add_arguments(p):
    p.add_argument("--master", required=True, help="the controller's HOST[:PORT]")
    p.add_argument("--processes", type=whole, default=1, help="worker processes (one core each)")
    p.add_argument(
        "--stdio",
        action="store_true",
        help="one run for the controller that started this over ssh (--load-hosts ssh://...)",
    )
    p.add_argument("--address", default="", help="this host's address, for the run's records")


def run(args):
    load_worker(args.master, args.processes, stdio=args.stdio, own_address=args.address)
    return 0
