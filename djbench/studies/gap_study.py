"""Measure where a failure-% gap comes from: one configuration under several load variants, each
run several times, interleaved (A B A B ...), then `djbench gap` over the runs.

    djbench gap-study [--server uvicorn] [--profile article] [--repeat 3]
        [--variant "NAME=RUN OPTIONS" ...] [--results-dir results] [RUN OPTIONS ...]

Default variants: "spawn 50/s" (--spawn-rate 50, the article profile's own) and "spawn 10/s".
Another way to run the steps is one more variant, e.g. --variant "fresh=--spawn-rate 50
--fresh-stack-per-step" once `djbench run` has that option. RUN OPTIONS after the known ones go
to every run (e.g. --mode native --workers 5). Each run is a plain `djbench run` (it takes the
benchmark lock and stops whatever it starts); runs land in --results-dir, the study (gap.md,
gap.csv, study.json) in a new <timestamp>-gap directory there.
"""

import shlex
import subprocess
import sys
from pathlib import Path

from djbench.analysis.studies.gap import write
from djbench.errors import UserError
from djbench.system import run_dirs as results
from djbench.system.log import log

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


def run_once(argv):
    """One `djbench run`, its output passed through; its results directory, or None."""
    run_dir = None
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            log.info(line.rstrip("\n"))
            if line.startswith(RESULTS_LINE):
                run_dir = Path(line.removeprefix(RESULTS_LINE).strip())
    return run_dir


def study(args, extra):
    variants = _variants(args.variant)
    if args.repeat < 1:
        raise UserError(f"repeat must be positive, got {args.repeat}")
    base = [sys.executable, "-m", "djbench", "run", "--server", args.server,
            "--profile", args.profile, "--results-dir", args.results_dir, *extra]  # fmt: skip
    groups = {name: [] for name in variants}
    for repetition in range(1, args.repeat + 1):
        for name, options in variants.items():
            log.info(f"gap study: {name}, run {repetition} of {args.repeat}")
            run_dir = run_once([*base, *options])
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
