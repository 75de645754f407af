"""Measure where a failure-% gap comes from: one configuration under several load variants, each
run several times, interleaved (A B A B ...), then analysis.gap over the runs.

    python -m djbench.studies.gap_study [--server uvicorn] [--profile article] [--repeat 3]
        [--variant "NAME=RUN OPTIONS" ...] [--results-dir results] [RUN OPTIONS ...]

Default variants: "spawn 50/s" (--spawn-rate 50, the article profile's own) and "spawn 10/s".
Another way to run the steps is one more variant, e.g. --variant "fresh=--spawn-rate 50
--fresh-stack-per-step" once `djbench run` has that option. RUN OPTIONS after the known ones go
to every run (e.g. --mode native --workers 5). Each run is a plain `djbench run` (it takes the
benchmark lock and stops whatever it starts); runs land in --results-dir, the study (gap.md,
gap.csv, study.json) in a new <timestamp>-gap directory there.
"""

import argparse
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from djbench.analysis import AnalysisError
from djbench.analysis.studies.gap import write
from djbench.errors import UserError
from djbench.system import run_dirs as results

DEFAULT_VARIANTS = ["spawn 50/s=--spawn-rate 50", "spawn 10/s=--spawn-rate 10"]
RESULTS_LINE = "results: "


def _variants(items):
    variants = {}
    for item in items or DEFAULT_VARIANTS:
        name, sep, options = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"bad variant {item!r}: expected NAME=RUN OPTIONS")
        if name.strip() in variants:
            raise UserError(f"variant {name.strip()!r} given twice")
        variants[name.strip()] = shlex.split(options)
    return variants


def run_once(argv, out=print):
    """One `djbench run`, its output passed through; its results directory, or None."""
    run_dir = None
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            out(line.rstrip("\n"))
            if line.startswith(RESULTS_LINE):
                run_dir = Path(line.removeprefix(RESULTS_LINE).strip())
    return run_dir


def study(args, extra, out=print):
    variants = _variants(args.variant)
    if args.repeat < 1:
        raise UserError(f"repeat must be positive, got {args.repeat}")
    base = [sys.executable, "-m", "djbench", "run", "--server", args.server,
            "--profile", args.profile, "--results-dir", args.results_dir, *extra]  # fmt: skip
    groups = {name: [] for name in variants}
    for repetition in range(1, args.repeat + 1):
        for name, options in variants.items():
            out(f"gap study: {name}, run {repetition} of {args.repeat}")
            run_dir = run_once([*base, *options], out)
            if run_dir is None:
                raise UserError(f"the run of variant {name!r} failed; see its output above")
            groups[name].append(run_dir)
    out_dir = results.free_name(args.results_dir, "gap")
    path = write(groups, out_dir)
    record = {
        "server": args.server,
        "profile": args.profile,
        "repeat": args.repeat,
        "common_options": extra,
        "variants": {
            name: {"options": variants[name], "runs": list(map(str, dirs))}
            for name, dirs in groups.items()
        },  # fmt: skip
    }
    results.write_json(out_dir / "study.json", record)
    return path


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m djbench.studies.gap_study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", default="uvicorn", help="the server (default uvicorn)")
    parser.add_argument("--profile", default="article", help="the profile (default article)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument(
        "--variant",
        action="append",
        metavar="NAME=RUN OPTIONS",
        help=f"a load variant, repeatable (default: {'; '.join(DEFAULT_VARIANTS)})",
    )
    parser.add_argument("--results-dir", default="results", help="where runs and the study go")
    return parser


def main(argv=None):
    args, extra = _parser().parse_known_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    # A run interrupted by Ctrl-C stops its own stack (it gets the signal too); then stop here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print(f"gap study: {study(args, extra)}")
        return 0
    except (UserError, AnalysisError) as e:
        print(f"djbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("djbench: interrupted; the runs finished so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
