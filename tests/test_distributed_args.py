"""Distributed mode's addresses, ports, tokens and options, each refused with one line (exit 2)
before anything starts or any host is reached."""

import pytest

from tests.test_cli_errors import run_cli

GOOD_TOKEN = {"DJBENCH_TOKEN": "a-token-long-enough-to-be-one"}
DIST = ["run", "--server", "gunicorn", "--mode", "distributed"]
WILDCARD = (
    "a wildcard listens on every interface; give the address the other hosts reach this one at"
)

CASES = [
    (["stack-host", "--bind", "0.0.0.0"], {}, f"bad --bind 0.0.0.0: {WILDCARD}"),
    (["stack-host", "--bind", "::"], {}, f"bad --bind ::: {WILDCARD}"),
    (["stack-host", "--bind", "127.0.0.1"], {},
     "bad --bind 127.0.0.1: no other host reaches loopback; give the address the other hosts "
     "reach this one at"),
    (["stack-host", "--bind", "stack1"], {},
     "bad --bind 'stack1': expected this host's IP address"),
    (["stack-host", "--bind", "10.0.0.1"], {"DJBENCH_TOKEN": "short"},
     "DJBENCH_TOKEN is too short to be a secret: at least 16 characters (unset it and the stack "
     "host makes one)"),
    (["load-worker", "--master", "127.0.0.1"], {},
     "bad --master 127.0.0.1: another host's address, not loopback or a wildcard"),
    (["load-worker", "--master", "fd00::1"], {},
     "bad --master 'fd00::1': write an IPv6 address in brackets, [ADDRESS]:PORT"),
    (["load-worker", "--master", "10.0.0.3:99999"], {},
     "bad --master '10.0.0.3:99999': expected HOST or HOST:PORT (an IPv6 address in brackets)"),
    (["load-worker", "--master", "[fd00::1"], {},
     "bad --master '[fd00::1': expected HOST or HOST:PORT (an IPv6 address in brackets)"),
    ([*DIST, "--stack", "10.0.0.1", "--expect-workers", "2"], {"DJBENCH_TOKEN": "short"},
     "DJBENCH_TOKEN is too short to be a secret: at least 16 characters (unset it and the stack "
     "host makes one)"),
    ([*DIST, "--stack", "10.0.0.1", "--expect-workers", "2", "--master-bind", "0.0.0.0"],
     GOOD_TOKEN, f"bad --master-bind 0.0.0.0: {WILDCARD}"),
    ([*DIST, "--stack", "127.0.0.1:7700", "--expect-workers", "2"], GOOD_TOKEN,
     "bad --stack 127.0.0.1: another host's address, not loopback or a wildcard"),
    ([*DIST, "--stack", "10.0.0.1", "--load-hosts", "ssh://10.0.0.2"], GOOD_TOKEN,
     "--load-hosts needs an ssh:// stack (--stack ssh://HOST)"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--db", "10.0.0.2", "--load-hosts", "ssh://10.0.0.2"],
     {}, "--db is not for an ssh:// stack: its database runs beside the web tier, on loopback"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--expect-workers", "2"], {},
     "--expect-workers is for load workers started by hand; with an ssh:// stack name them with "
     "--load-hosts"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--master-bind", "10.0.0.3",
      "--load-hosts", "ssh://10.0.0.2"], {},
     "--master-bind is not for an ssh:// stack: the master listens on loopback, and the load "
     "hosts' workers reach it over ssh"),
    ([*DIST, "--stack", "ssh://10.0.0.1"], {},
     "distributed mode needs at least one Locust worker (--expect-workers, or --load-hosts with "
     "an ssh:// stack)"),
    ([*DIST, "--stack", "ssh://10.0.0.1", "--load-hosts", "ssh://10.0.0.2 10.0.0.4"], {},
     "bad --load-hosts '10.0.0.4': expected ssh://[USER@]HOST[:PORT]"),
    ([*DIST, "--stack", "ssh://-oProxyCommand=x", "--load-hosts", "ssh://10.0.0.2"], {},
     "bad --stack 'ssh://-oProxyCommand=x': expected ssh://[USER@]HOST[:PORT]"),
    (["run", "--server", "gunicorn", "--mode", "native", "--load-hosts", "ssh://10.0.0.2"], {},
     "--load-hosts is for --mode distributed"),
]  # fmt: skip


@pytest.mark.parametrize("args, env, line", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_distributed_input_gets_one_line(args, env, line):
    done = run_cli(args, env={"DJBENCH_TOKEN": "", **env})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"djbench: error: {line}"]
