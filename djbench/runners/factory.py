"""Runners built from the mode's name, as Locust's Environment.create_*_runner builds its own.
Each mode checks the options it takes (Runner.check_options, Runner.from_options)."""

from djbench.runners.base import ModeOptions, Runner
from djbench.runners.compose import ComposeRunner
from djbench.runners.distributed import DistributedRunner
from djbench.runners.native import NativeRunner
from djbench.system.log import log
from djbench.system.packages import engine_available

RUNNERS = {r.mode: r for r in (NativeRunner, ComposeRunner, DistributedRunner)}
MODES = ("auto", *RUNNERS)


def runner_class(mode: str) -> type[Runner]:
    """auto: the class native or compose runs with; it says nothing yet."""
    return RUNNERS["native" if mode == "auto" else mode]


def resolve(mode: str) -> str:
    """auto: compose when a Docker engine answers, else native, saying which in one line."""
    if mode != "auto":
        return mode
    mode = "compose" if engine_available() else "native"
    reason = "a Docker engine answers" if mode == "compose" else "no Docker engine answered"
    log.info(f"mode: {mode} ({reason}; MODE=native|compose chooses)")
    return mode


def check_options(o: ModeOptions) -> None:
    """The values the mode takes, checked before anything else is looked at."""
    runner_class(o.mode).check_options(o)


def create(o: ModeOptions) -> Runner:
    """The runner for the mode, checked before anything starts."""
    runner = RUNNERS[resolve(o.mode)].from_options(o)
    runner.preflight()
    return runner
