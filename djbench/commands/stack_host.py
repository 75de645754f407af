"""djbench stack-host: serve stacks to a controller on another host."""

from djbench.commands.options import names, port
from djbench.errors import UserError
from djbench.remote import stack_host

NAME = "stack-host"
HELP = "serve stacks to a controller on another host"


def add_arguments(p):
    p.add_argument("--bind", required=True, help="this host's address the others reach")
    p.add_argument("--port", type=port, default=stack_host.DEFAULT_PORT, help="(default 7700)")
    p.add_argument("--roles", default="db,web", help="db, web or both (default db,web)")
    p.add_argument(
        "--stdio",
        action="store_true",
        help="serve the controller that started this over ssh (MODE=distributed "
        "STACK=ssh://...), on standard input and output; nothing listens but nginx",
    )


def run(args):
    roles = names(args.roles, "roles")
    if args.stdio:
        if sorted(roles) != ["db", "web"]:
            raise UserError("--stdio serves both roles, db and web, on one host")
        stack_host.serve_stdio(args.bind, roles)
    else:
        stack_host.serve(args.bind, args.port, roles)
    return 0
