"""djbench list: the servers and profiles."""

from djbench import config
from djbench.stack.servers import SERVERS
from djbench.system.log import log

NAME = "list"
HELP = "list servers and profiles"


def add_arguments(p):
    pass


def run(args):
    for name, server in SERVERS.items():
        single = ", one process" if server.single_process else ""
        views = "" if len(server.views) > 1 else f", {'/'.join(server.views)} views only"
        log.info(f"server  {name:<17} {server.interface.upper()}{single}{views}")
    for name, p in config.PROFILES.items():
        log.info(f"profile {name:<17} users {','.join(map(str, p.users))}, {p.hold_s:g} s per step")
    return 0
