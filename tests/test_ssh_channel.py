"""The channel to other hosts (remote/ssh.py) and the stack host's side of it, without a
network: ssh's arguments, targets checked with one line, and calls to a stand-in remote process
that answers, stays silent, answers too much or ends; then the real `djbench stack-host --stdio`
spoken to on its pipes: its checks, one controller at a time, and its lease."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from djbench import config
from djbench.errors import ComponentFailed, UserError
from djbench.remote import ssh
from djbench.system.processes import ProcessSet
from tests.helpers import ROOT


@pytest.mark.parametrize(
    "text, target",
    [
        ("ssh://stack1", ssh.Target("stack1")),
        ("ssh://bench@10.0.0.2:2222", ssh.Target("10.0.0.2", "bench", 2222)),
        ("ssh://[fd00::2]:22", ssh.Target("fd00::2", "", 22)),
        ("ssh://[fd00::2]", ssh.Target("fd00::2")),
    ],
)
def test_targets(text, target):
    assert ssh.Target.parse(text, "--stack") == target


@pytest.mark.parametrize(
    "text",
    ["stack1", "ssh://", "ssh://host:0", "ssh://host:99999", "ssh://host:x", "ssh://-oProxyCommand=x",
     "ssh://a b", "ssh://[::1", "ssh://user;rm@host", "ssh://host/path"],
)  # fmt: skip
def test_bad_targets_are_one_line(text):
    with pytest.raises(UserError) as e:
        ssh.Target.parse(text, "--stack")
    assert str(e.value) == f"bad --stack {text!r}: expected ssh://[USER@]HOST[:PORT]"


def test_ssh_is_asked_for_no_prompt_and_no_secret(monkeypatch):
    monkeypatch.setenv("DJBENCH_SSH_CONFIG", "/etc/djbench/ssh_config")
    monkeypatch.setenv("DJBENCH_REMOTE_ROOT", "/srv/my checkout")
    monkeypatch.setenv("DJBENCH_REMOTE_PYTHON", "/srv/my checkout/.venv/bin/python")
    argv = ssh.ssh_argv(ssh.Target("10.0.0.2", "bench", 2222), ["stack-host", "--stdio"],
                        forwards=["127.0.0.1:5557:127.0.0.1:5557"])  # fmt: skip
    assert argv[:2] == ["ssh", "-T"]
    assert "BatchMode=yes" in argv and "ExitOnForwardFailure=yes" in argv
    assert argv[argv.index("-F") + 1] == "/etc/djbench/ssh_config"
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-R") + 1] == "127.0.0.1:5557:127.0.0.1:5557"
    assert argv[-3:] == ["bench@10.0.0.2", "--",
                         "cd '/srv/my checkout' && exec '/srv/my checkout/.venv/bin/python' -m "
                         "djbench stack-host --stdio"]  # fmt: skip


# A stand-in for the remote process: what it does with each call is the call's path.
REMOTE = r"""
import json, sys, time
for line in sys.stdin:
    path = json.loads(line)["call"]
    if path == "/silent":
        time.sleep(30)
    if path == "/huge":
        sys.stdout.write('{"status": 200, "data": "' + "x" * (3 << 20) + '"}\n')
    if path == "/end":
        print("djbench: error: busy with run r1 of another controller; wait for it to end",
              file=sys.stderr, flush=True)
        sys.exit(2)
    sys.stdout.write(json.dumps({"status": 200 if path != "/bad" else 409,
                                 "data": {"path": path, "error": "no such stack"}}) + "\n")
    sys.stdout.flush()
"""


@pytest.fixture
def channel(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh, "MAX_LINE", 2 << 20)
    with ProcessSet() as procs:
        managed = procs.start("remote", [sys.executable, "-c", REMOTE], tmp_path / "remote.log",
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
        chan = ssh.Channel(managed, "10.0.0.2")
        yield chan
        chan.close(timeout=2)


def test_a_call_and_its_answer(channel):
    assert channel.call("/hello") == {"path": "/hello", "error": "no such stack"}
    with pytest.raises(ComponentFailed, match=r"^stack host 10.0.0.2: no such stack$"):
        channel.call("/bad")


def test_a_silent_peer_ends_the_call_in_its_time_and_the_channel_with_it(channel):
    t0 = time.monotonic()
    with pytest.raises(ComponentFailed, match=r"^stack host 10.0.0.2: no answer to /silent "
                                              r"within 1.5 s$"):  # fmt: skip
        channel.call("/silent", timeout=1.5)
    assert time.monotonic() - t0 < 5
    with pytest.raises(ComponentFailed, match="no answer to /silent"):
        channel.call("/hello")  # what was half-said cannot be trusted: no more calls


def test_an_answer_past_the_bound_is_not_read_whole(channel):
    with pytest.raises(ComponentFailed, match=r"an answer to /huge larger than 2 MB$"):
        channel.call("/huge", timeout=20)


def test_a_remote_that_ends_says_why_in_its_own_words(channel):
    with pytest.raises(ComponentFailed) as e:
        channel.call("/end", timeout=20)
    assert str(e.value) == (
        "stack host 10.0.0.2: busy with run r1 of another controller; wait for it to end"
    )


# -- the stack host's side ---------------------------------------------------------------------


def _stack_host(tmp_path, lease_s=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(tmp_path / "stack.lock"),
           "DJBENCH_LEASE_S": str(lease_s)}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "djbench", "stack-host", "--stdio", "--bind", "127.0.0.1"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


def _call(proc, path, body=None):
    proc.stdin.write(json.dumps({"call": path, "body": body or {}}).encode() + b"\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    return answer["status"], answer["data"]


def _postgres_of(proc):
    """PostgreSQL servers whose parent is the stack host `proc`."""
    try:
        return [c.pid for c in psutil.Process(proc.pid).children() if c.name() == "postgres"]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.integration
def test_the_stack_host_checks_what_it_is_sent_serves_one_controller_and_keeps_a_lease(tmp_path):
    cfg = config.build("gunicorn", profile="smoke").as_dict()
    host = _stack_host(tmp_path, lease_s=4)
    try:
        assert _call(host, "/hello")[1]["roles"] == ["db", "web"]
        # A run id is a directory name on this host, and a database only its settings.
        for run_id in ("../x", "/tmp/x", "a/b", "", "x" * 300, 7):
            status, data = _call(host, "/database", {"config": cfg, "run_id": run_id})
            assert status == 409 and data["error"].startswith("bad run id"), data
        # Run settings reach command lines and the app's environment: only values it can run.
        for bad in ({"server": "nope"}, {"view": "sync; rm -rf /"}, {"questions": "5 --x"},
                    {"project": {"path": "/etc"}}):  # fmt: skip
            status, data = _call(host, "/database", {"config": {**cfg, **bad}, "run_id": "r"})
            assert status == 409 and data["error"].startswith("bad run settings"), (bad, data)
        status, data = _call(host, "/web", {"config": cfg, "run_id": "r1"})
        assert (status, data["error"]) == (409, "no stack is running here"), data
        assert _call(host, "not json at all")[0] == 404
        status, data = _call(host, "/database", {"config": cfg, "run_id": "run-a"})
        assert status == 200, data
        assert "db" not in data, "the database's password stays on the stack host"
        # The web tier of another run never gets this run's database; nor one named in the call.
        evil = {"POSTGRES_HOST": "10.0.0.3", "PYTHONPATH": "/tmp/evil"}
        status, data = _call(host, "/web", {"config": cfg, "run_id": "run-b", "db": evil})
        t0 = time.monotonic()  # the controller's last word
        assert (status, data["error"]) == (409, "no database for this run: ask for one first")
        pg = _postgres_of(host)
        listening = {c.laddr.ip for p in pg for c in psutil.Process(p).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN}  # fmt: skip
        assert listening == {"127.0.0.1"}
        # A second controller, while the first holds this host: refused with the first's run.
        second = _stack_host(tmp_path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert err.decode().strip().splitlines()[-1] == (
            "djbench: error: busy with run run-a of another controller; wait for it to end"
        )
        # Then silence: after the lease the stack host stops its stack and ends.
        assert host.wait(60) == 0
        assert 4 <= time.monotonic() - t0 < 30
        assert "said nothing for 4 s" in host.stderr.read().decode()
    finally:
        if host.poll() is None:
            os.killpg(host.pid, 9)
            host.wait(10)
    assert not _postgres_of(host)


@pytest.mark.integration
def test_the_stack_host_stops_its_stack_when_the_session_ends(tmp_path):
    cfg = config.build("gunicorn", profile="smoke").as_dict()
    host = _stack_host(tmp_path)
    try:
        assert _call(host, "/database", {"config": cfg, "run_id": "run-b"})[0] == 200
        pg = _postgres_of(host)
        assert pg
        host.stdin.close()  # the controller's session is gone
        assert host.wait(60) == 0
    finally:
        if host.poll() is None:
            os.killpg(host.pid, 9)
    assert not any(psutil.pid_exists(p) for p in pg)
