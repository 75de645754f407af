"""djbench load-worker: Locust workers for a controller's master, started by it over ssh."""

from djbench.commands.options import whole
from djbench.commands.stack_host import BY_SSH
from djbench.errors import UserError
from djbench.remote.load_worker import load_worker

NAME = "load-worker"
HELP = "Locust workers for a controller's master (it starts this over ssh)"


def add_arguments(p):
    p.add_argument("--master", required=True, help="the master's HOST:PORT, forwarded here")
    p.add_argument("--processes", type=whole, default=1, help="worker processes (one core each)")
    p.add_argument(
        "--stdio",
        action="store_true",
        help="one run for the controller that started this over ssh (--load-hosts ssh://...)",
    )
    p.add_argument("--address", default="", help="this host's address, for the run's records")


def run(args):
    if not args.stdio:
        raise UserError(f"load-worker {BY_SSH}")
    load_worker(args.master, args.processes, own_address=args.address)
    return 0
