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
        log.info(f"server  {name:<17} {server.interface.upper()}{single}")
    for name, p in config.PROFILES.items():
        log.info(f"profile {name:<17} users {','.join(map(str, p.users))}, {p.hold_s:g} s per step")
    return 0
