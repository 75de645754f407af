"""djbench setup: install what the native stack or the tests need."""

from djbench.runners.factory import MODES
from djbench.system import prerequisites

NAME = "setup"
HELP = "install what the native stack or the tests need"


def add_arguments(p):
    p.add_argument("--for", dest="purpose", choices=list(prerequisites.NEEDS), default="bench")
    p.add_argument("--mode", default="auto", choices=MODES)


def run(args):
    return prerequisites.setup(args.purpose, args.mode)
