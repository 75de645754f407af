"""The same profile across four network-namespace hosts and on one host, side by side.

    python -m tests.across_hosts OUT_DIR [--profile smoke] [--server gunicorn]

Builds the hosts as tests/test_distributed_ssh.py does (stack, two load hosts with two Locust
workers each, controller; an sshd on each but the controller, with keys made for the run), runs
the profile there over SSH, then the same profile natively on this host, and writes both runs
under OUT_DIR with across_hosts.md: each step's numbers from each run's steps.csv. Needs root
(network namespaces) and openssh-server.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from djbench.analysis.markdown import markdown_table
from tests import netns, ssh_hosts
from tests.helpers import ROOT, last_path

COLUMNS = ("users", "requests", "failure_pct", "rps", "p50_ms", "p95_ms")


def _djbench(*args):
    return [sys.executable, "-u", "-m", "djbench", *map(str, args)]


def _env(out, name, **more):
    return {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(out / f".{name}.lock"),
            **more}  # fmt: skip


def across_namespaces(out, profile, server):
    with (
        tempfile.TemporaryDirectory() as tmp,
        netns.Hosts(["stack", "load1", "load2", "ctl"], subnet="10.213.14") as hosts,
    ):
        ssh_config = ssh_hosts.start(hosts, ["stack", "load1", "load2"], tmp, ROOT)
        a = hosts.address
        load_hosts = f"ssh://{a['load1']},ssh://{a['load2']}"
        done = subprocess.run(
            ["ip", "netns", "exec", hosts.ns("ctl"),
             *_djbench("run", "--mode", "distributed", "--stack", f"ssh://{a['stack']}",
                       "--load-hosts", load_hosts, "--load-processes", 2, "--server", server,
                       "--profile", profile, "--results-dir", out)],
            cwd=ROOT, env=_env(out, "ctl", DJBENCH_SSH_CONFIG=str(ssh_config)),
            capture_output=True, text=True,
        )  # fmt: skip
    if done.returncode:
        sys.exit(f"distributed run failed:\n{done.stdout}{done.stderr}")
    return last_path(done.stdout, "results:")


def on_one_host(out, profile, server):
    done = subprocess.run(
        _djbench("run", "--mode", "native", "--server", server, "--profile", profile,
                 "--results-dir", out),
        cwd=ROOT, env=_env(out, "native"), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"native run failed:\n{done.stdout}{done.stderr}")
    return last_path(done.stdout, "results:")


def table(runs):
    rows = []
    for label, run_dir in runs:
        with open(run_dir / "steps.csv", newline="") as f:
            for row in csv.DictReader(f):
                cells = [f"{float(row[c]):.1f}" if "." in row[c] else row[c] for c in COLUMNS]
                rows.append([f"{label} ({run_dir.name})", *cells])
    return markdown_table(["run", *COLUMNS], rows, compact_rule=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--server", default="gunicorn")
    args = parser.parse_args()
    for ok, why in (netns.available(), ssh_hosts.available()):
        if not ok:
            sys.exit(why)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [
        ("four hosts", across_namespaces(args.out, args.profile, args.server)),
        ("one host", on_one_host(args.out, args.profile, args.server)),
    ]
    text = f"# {args.server}, profile {args.profile}: across hosts and on one\n\n{table(runs)}\n"
    (args.out / "across_hosts.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
