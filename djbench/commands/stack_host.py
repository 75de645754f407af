"""djbench stack-host: serve stacks to a controller on another host."""

from djbench.commands.options import names, port
from djbench.remote import stack_host

NAME = "stack-host"
HELP = "serve stacks to a controller on another host"


def add_arguments(p):
    p.add_argument("--bind", required=True, help="this host's address the others reach")
    p.add_argument("--port", type=port, default=stack_host.DEFAULT_PORT, help="(default 7700)")
    p.add_argument("--roles", default="db,web", help="db, web or both (default db,web)")


def run(args):
    stack_host.serve(args.bind, args.port, names(args.roles, "roles"))
    return 0
