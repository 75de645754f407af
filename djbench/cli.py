"""djbench: run the article's Django WSGI/ASGI benchmark and build its reports.

djbench run --server gunicorn --profile smoke     one server, one results directory
djbench bench --servers gunicorn,uvicorn          several servers, then a comparison report
djbench matrix --servers a,b --views sync,async   every server x view, then one comparison
djbench report results/<a> results/<b>            rebuild a comparison from existing runs
djbench calibrate                                 what one Locust process can drive here
"""

import argparse
import signal
import sys

from djbench.analysis import AnalysisError
from djbench.commands import (
    bench,
    calibrate,
    gap,
    gap_study,
    knee,
    knee_report,
    load_worker,
    machine_speed,
    matrix,
    overhead,
    reference_notes,
    report,
    run,
    setup,
    stack_host,
)
from djbench.commands import list as list_command
from djbench.commands.options import Parser
from djbench.contracts.documents import DocumentError
from djbench.errors import ComponentFailed, UserError
from djbench.system.processes import STOP_SIGNALS

COMMANDS = {m.NAME: m for m in (run, bench, matrix, knee, knee_report, report, calibrate,
                                stack_host, load_worker, setup, list_command, gap_study, gap,
                                overhead, machine_speed, reference_notes)}  # fmt: skip


def parser():
    top = Parser(
        prog="djbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP))
    return top


def _interrupt(signum, frame):
    # Stop once: a second Ctrl-C, or a SIGTERM while stopping, must not cut the shutdown short.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv=None):
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and not getattr(COMMANDS[args.command], "EXTRA", False):
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    sys.stdout.reconfigure(line_buffering=True)  # print()s show as they happen, through a pipe too
    # SIGTERM and SIGHUP (the terminal closed) stop a run like Ctrl-C does: every process
    # stopped, partial results kept. SIGINT is set explicitly: a shell starts background jobs
    # with it ignored.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        return COMMANDS[args.command].run(args)
    # DocumentError: a result document the harness reads itself (knee.json for --scale auto, a
    # calibration run's meta.json) refused by its loader; the analysis raises AnalysisError.
    except (UserError, AnalysisError, DocumentError) as e:
        print(f"djbench: error: {e}", file=sys.stderr)
        return 2
    except ComponentFailed as e:
        print(f"djbench: run failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        said = getattr(COMMANDS[args.command], "INTERRUPTED", INTERRUPTED)
        print(f"djbench: interrupted; {said}", file=sys.stderr)
        return 130


INTERRUPTED = (
    "every process of the run was stopped, partial results kept (meta.json: complete false)"
)

if __name__ == "__main__":
    sys.exit(main())
