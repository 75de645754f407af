"""Distributed mode's addresses, ports and options, each refused with one line (exit 2) before
anything starts or any host is reached."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.test_cli_errors import run_cli

DIST = ["run", "--server", "gunicorn", "--mode", "distributed"]
BY_SSH = ("is started by the controller over ssh (make bench MODE=distributed STACK=ssh://HOST "
          "LOAD_HOSTS=ssh://...), not by hand")  # fmt: skip

CASES = [
    (["stack-host", "--bind", "10.0.0.1"], f"stack-host {BY_SSH}"),
    (["load-worker", "--master", "10.0.0.3"], f"load-worker {BY_SSH}"),
    (["stack-host", "--stdio", "--bind", "0.0.0.0"],
     "bad --bind 0.0.0.0: a wildcard listens on every interface; give the address the other "
     "hosts reach this one at"),
    (["stack-host", "--stdio", "--bind", "stack1"],
     "bad --bind 'stack1': expected this host's IP address"),
    (["load-worker", "--stdio", "--master", "fd00::1"],
     "bad --master 'fd00::1': write an IPv6 address in brackets, [ADDRESS]:PORT"),
    (["load-worker", "--stdio", "--master", "10.0.0.3:99999"],
     "bad --master '10.0.0.3:99999': expected HOST or HOST:PORT (an IPv6 address in brackets)"),
    (["load-worker", "--stdio", "--master", "[fd00::1"],
     "bad --master '[fd00::1': expected HOST or HOST:PORT (an IPv6 address in brackets)"),
    ([*DIST, "--stack", "10.0.0.1", "--load-hosts", "ssh://10.0.0.2"],
     "bad --stack '10.0.0.1': expected ssh://[USER@]HOST[:PORT] (the controller starts the "
     "stack host over ssh)"),
    ([*DIST, "--load-hosts", "ssh://10.0.0.2"], "distributed mode needs --stack ssh://HOST"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--db", "10.0.0.2"],
     "unrecognized arguments: --db 10.0.0.2"),
    ([*DIST, "--stack", "ssh://10.0.0.1"],
     "distributed mode needs at least one Locust worker: name the load hosts with --load-hosts "
     "(or LOCUST_WORKERS here)"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--load-hosts", "ssh://10.0.0.2 10.0.0.4"],
     "bad --load-hosts '10.0.0.4': expected ssh://[USER@]HOST[:PORT]"),
    ([*DIST, "--stack", "ssh://-oProxyCommand=x", "--load-hosts", "ssh://10.0.0.2"],
     "bad --stack 'ssh://-oProxyCommand=x': expected ssh://[USER@]HOST[:PORT]"),
    (["run", "--server", "gunicorn", "--mode", "native", "--load-hosts", "ssh://10.0.0.2"],
     "--load-hosts is for --mode distributed"),
]  # fmt: skip


@pytest.mark.parametrize("args, line", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_distributed_input_gets_one_line(args, line):
    done = run_cli(args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"djbench: error: {line}"]


def test_a_load_host_refuses_a_scenario_it_cannot_run_as_the_controllers(tmp_path):
    """What the controller sends a load host of the scenario (locustfiles/pages.py's pages, or
    the user's Locust file at the same path with its hash), checked before a worker starts."""
    mine = tmp_path / "locustfile.py"
    mine.write_text("from locust import HttpUser\n\n\nclass U(HttpUser):\n    pass\n")
    cases = [
        ({"locustfile": str(tmp_path / "gone.py")},
         f"no Locust file {tmp_path / 'gone.py'} on this host: the run's Locust file, at the "
         "same path on every host"),
        ({"locustfile": str(mine), "locustfile_sha256": "0" * 64},
         f"the Locust file {mine} here differs from the controller's"),
        ({"pages": [["/a page", 1]]}, "the controller sent pages that are not a URLS file's"),
    ]  # fmt: skip
    for given, line in cases:
        done = subprocess.run(
            [sys.executable, "-m", "djbench", "load-worker", "--stdio", "--master", "127.0.0.1:1"],
            input=json.dumps({"token": "t", **given}) + "\n", capture_output=True, text=True,
            cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.strip().splitlines()[-1] == f"djbench: error: {line}"
