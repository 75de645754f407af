"""djbench stack-host: the stack for a controller on another host, started by it over ssh."""

from djbench.errors import UserError
from djbench.remote import stack_host

NAME = "stack-host"
HELP = "the stack for a controller on another host (it starts this over ssh)"
BY_SSH = ("is started by the controller over ssh (make bench MODE=distributed STACK=ssh://HOST "
          "LOAD_HOSTS=ssh://...), not by hand")  # fmt: skip


def add_arguments(p):
    p.add_argument("--bind", required=True, help="this host's address the load hosts reach")
    p.add_argument(
        "--stdio",
        action="store_true",
        help="serve the controller that started this over ssh, on standard input and output",
    )


def run(args):
    if not args.stdio:
        raise UserError(f"stack-host {BY_SSH}")
    stack_host.serve_stdio(args.bind)
    return 0
