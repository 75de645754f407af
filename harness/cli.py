"""djbench: run the article's Django WSGI/ASGI benchmark and build its reports.

djbench run --server gunicorn --profile smoke     one server, one results directory
djbench bench --servers gunicorn,uvicorn          several servers, then a comparison report
djbench report results/<a> results/<b>            rebuild a comparison from existing runs
"""

import argparse
import signal
import sys
from pathlib import Path

from analysis import AnalysisError
from analysis.runs import read_meta

from . import config, native, results
from .errors import UserError
from .servers import SERVERS


def _add_run_options(p):
    p.add_argument("--profile", default="smoke", help=f"one of {', '.join(config.PROFILES)}")
    p.add_argument("--users", help="comma-separated user counts, overriding the profile's")
    p.add_argument("--hold", type=float, help="seconds per step (ramp-up and warm-up included)")
    p.add_argument("--warmup", type=float, help="seconds discarded after each step's ramp-up")
    p.add_argument("--spawn-rate", type=float, help="users started per second")
    p.add_argument("--workers", type=int, help="server worker processes (default 2 x cores + 1)")
    p.add_argument("--view", default="sync", help="Django view variant: sync or async")
    p.add_argument(
        "--client-timeout",
        type=float,
        default=30.0,
        help="seconds before a request counts as a timeout failure (default 30)",
    )
    p.add_argument(
        "--mode", default="native", choices=["native"], help="native: host processes (default)"
    )
    p.add_argument("--results-dir", default="results", help="where runs are written")


def _parser():
    parser = argparse.ArgumentParser(
        prog="djbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="benchmark one server")
    run.add_argument("--server", required=True, help=f"one of {', '.join(SERVERS)}")
    _add_run_options(run)
    bench = sub.add_parser("bench", help="benchmark several servers, then compare them")
    bench.add_argument(
        "--servers",
        default="gunicorn,uvicorn",
        help="comma-separated server names (default gunicorn,uvicorn)",
    )
    _add_run_options(bench)
    report = sub.add_parser("report", help="compare existing runs")
    report.add_argument("runs", nargs="*", help="results/<run-id> directories")
    report.add_argument("--results-dir", default="results", help="where the report is written")
    sub.add_parser("list", help="list servers and profiles")
    return parser


def _configs(args, servers):
    return [
        config.build(
            server,
            profile=args.profile,
            users=args.users,
            hold_s=args.hold,
            warmup_s=args.warmup,
            spawn_rate=args.spawn_rate,
            workers=args.workers,
            view=args.view,
            client_timeout_s=args.client_timeout,
        )
        for server in servers
    ]


def _run_all(cfgs, results_root):
    """Run each configuration in turn; returns the results directories."""
    run_dirs = []
    with results.BenchLock():
        for cfg in cfgs:
            run_dir = native.run(cfg, results_root)
            run_dirs.append(run_dir)
            print(f"results: {run_dir}")
    return run_dirs


def _report(run_dirs, results_root):
    from analysis.report import build as build_report  # matplotlib: only when reporting

    out_dir = results.free_name(results_root, "report")
    build_report([Path(r) for r in run_dirs], out_dir)
    return out_dir


def _integrity_failures(run_dirs):
    bad = []
    for run_dir in run_dirs:
        meta = read_meta(Path(run_dir))
        if not meta.get("integrity", {}).get("ok", False):
            bad.append(f"{run_dir}: {meta.get('integrity', {}).get('message', 'not checked')}")
    return bad


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = _parser().parse_args(argv)
    # SIGTERM stops a run like Ctrl-C does: every process stopped, partial results kept.
    # SIGINT is set explicitly: a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "list":
            for name, server in SERVERS.items():
                print(f"server  {name:<10} {server.interface.upper()}")
            for name, p in config.PROFILES.items():
                print(
                    f"profile {name:<10} users {','.join(map(str, p.users))}, "
                    f"{p.hold_s:g} s per step"
                )
            return 0
        if args.command == "report":
            if not args.runs:
                raise UserError("no runs given: djbench report results/<run-id> ...")
            print(f"report: {_report(args.runs, args.results_dir)}")
            return 0
        servers = (
            [args.server]
            if args.command == "run"
            else [s.strip() for s in args.servers.split(",") if s.strip()]
        )
        if not servers:
            raise UserError("no servers given")
        run_dirs = _run_all(_configs(args, servers), args.results_dir)
        bad = _integrity_failures(run_dirs)
        if args.command == "bench":
            print(f"report: {_report(run_dirs, args.results_dir)}")
        if bad:
            for line in bad:
                print(f"INTEGRITY CHECK FAILED: {line}", file=sys.stderr)
            return 1
        return 0
    except (UserError, AnalysisError) as e:
        print(f"djbench: error: {e}", file=sys.stderr)
        return 2
    except native.ComponentFailed as e:
        print(f"djbench: run failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "djbench: interrupted; every process of the run was stopped, partial results "
            "kept (meta.json: complete false)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
