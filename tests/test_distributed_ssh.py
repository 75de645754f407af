"""Across hosts over SSH, the hosts built as network namespaces with an sshd each (keys the
test makes): the controller starts the stack host and the load workers itself. Nothing of
djbench listens on a network address but nginx; a load host's clock stepped by 3 s mid-run is
said with how much; a second controller is refused with the first one's run id; a controller
killed mid-run leaves nothing running on any host."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djbench.contracts import defaults
from djbench.paths import BIN, IMPORT_ROOT, LOCUSTFILES
from djbench.system import leftovers
from djbench.system.machine import project_fingerprint
from tests import netns, ssh_hosts
from tests.helpers import ROOT, last_path, meta, rows
from tests.test_interrupts import wait_for_line

OK, WHY = netns.available()
SSH_OK, SSH_WHY = ssh_hosts.available()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not OK, reason=WHY),
    pytest.mark.skipif(not SSH_OK, reason=SSH_WHY),
]
HOSTS = ["stack", "load1", "load2", "ctl"]
SSHD_HOSTS = ["stack", "load1", "load2"]


@pytest.fixture
def hosts(tmp_path):
    with netns.Hosts(HOSTS, subnet="10.213.9") as made:
        # load2's sessions read a clock of their own: the file's offset on the system's.
        stepped = {"load2": ssh_hosts.stepped_clock(tmp_path / "load2-clock")}
        made.ssh_config = ssh_hosts.start(made, SSHD_HOSTS, tmp_path, ROOT, stepped)
        yield made
        names = made.namespaces_left
    assert names() == [], "every namespace is removed"


def _controller(hosts, tmp, *args, name="ctl"):
    a = hosts.address
    env = {k: v for k, v in os.environ.items() if k != "DJBENCH_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), DJBENCH_SSH_CONFIG=str(hosts.ssh_config),
               DJBENCH_LOCK=str(tmp / f"{name}.lock"))  # fmt: skip
    return hosts.start(
        "ctl",
        [sys.executable, "-u", "-m", "djbench", "run", "--mode", "distributed",
         "--stack", f"ssh://{a['stack']}", "--server", "gunicorn",
         "--results-dir", tmp / "results", *map(str, args)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _load_hosts(hosts):
    return ",".join(f"ssh://{hosts.address[n]}" for n in ("load1", "load2"))


def _ours(hosts, name):
    """PIDs on host `name` but its sshd's listener: what djbench started there (an ssh
    session's own sshd processes end with the session)."""
    return sorted(set(hosts.pids(name)) - {hosts.sshd.get(name)})


def _processes(hosts, name, wanted):
    """PIDs on host `name` whose argv (a list of bytes) `wanted` accepts."""
    found = []
    for pid in hosts.pids(name):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if wanted(argv):
            found.append(pid)
    return found


def _locust_processes(hosts, name):
    return _processes(hosts, name, lambda argv: any(a.endswith(b"/bin/locust") for a in argv))


def _wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(what)


def test_a_smoke_run_over_ssh(hosts, tmp_path):
    a = hosts.address
    ctl = _controller(hosts, tmp_path, "--users", "4", "--hold", "20", "--warmup", "2",
                      "--load-hosts", _load_hosts(hosts), "--load-processes", 2)  # fmt: skip
    seen = wait_for_line(ctl, "step 1/1", timeout=240)
    # Once load2's two workers have joined (and the master took their clocks' offsets at their
    # hello), its clock steps 3 s ahead, as an NTP step would; the master's next ping sees it.
    _wait_until(lambda: len(_locust_processes(hosts, "load2")) == 2, 60, "load2's workers")
    time.sleep(2)
    (tmp_path / "load2-clock").write_text("+3\n")
    # A rogue worker on a load host, where the master's port is forwarded: the project's own
    # version, but not the run's token. It is refused before it runs a user or sends a row.
    rogue_env = {
        "PYTHONPATH": str(IMPORT_ROOT),
        "HOME": str(tmp_path),
        "DJBENCH_FINGERPRINT": project_fingerprint(),
        "PATH": os.environ["PATH"],
    }
    rogue_out = open(tmp_path / "rogue.out", "w")
    rogue = hosts.start("load1", [str(BIN / "locust"), "-f", ",".join(map(str, LOCUSTFILES)),
                                  "--worker", "--master-host", "127.0.0.1", "--master-port",
                                  str(defaults.LOCUST_MASTER_PORT)],
                        env=rogue_env, cwd=tmp_path, stdout=rogue_out,
                        stderr=subprocess.STDOUT)  # fmt: skip
    time.sleep(4)
    # During the load: on every host, only nginx (and each host's own sshd) on a network address.
    listening = {name: ssh_hosts.listeners(hosts, name) for name in HOSTS}
    for name, found in listening.items():
        public = [(addr, port, proc) for addr, port, proc in found
                  if addr not in ("127.0.0.1", "::1")]  # fmt: skip
        allowed = {"sshd", "nginx"} if name == "stack" else {"sshd"}
        assert {proc for _, _, proc in public} <= allowed, (name, found)
    assert any(p == "nginx" and addr == a["stack"] for addr, _, p in listening["stack"])
    assert any(p == "postgres" and addr == "127.0.0.1" for addr, _, p in listening["stack"])
    assert any(p.startswith("locust") and addr == "127.0.0.1" for addr, _, p in listening["ctl"])
    # No secret in any argv on any host: the worker token is in the master's environment only.
    master = next(p for p in hosts.pids("ctl")
                  if b"--master-bind-host" in Path(f"/proc/{p}/cmdline").read_bytes())  # fmt: skip
    environ = Path(f"/proc/{master}/environ").read_bytes().split(b"\0")
    token = next(e for e in environ if e.startswith(b"DJBENCH_WORKER_TOKEN=")).split(b"=", 1)[1]
    assert len(token) >= 32
    for name in HOSTS:
        for pid in hosts.pids(name):
            try:
                assert token not in Path(f"/proc/{pid}/cmdline").read_bytes(), (name, pid)
            except FileNotFoundError:
                pass

    out, err = ctl.communicate(timeout=240)
    assert ctl.returncode == 0, "".join(seen) + out + err
    assert rogue.wait(30) == 3, (tmp_path / "rogue.out").read_text()
    assert "does not know this run's token" in (tmp_path / "rogue.out").read_text()
    run_dir = last_path("".join(seen) + out, "results:")
    m = meta(run_dir)
    assert m["mode"] == "distributed" and m["complete"] is True
    refused = [w for w in m["warnings"] if "refused" in w]
    (warning,) = refused
    assert warning.startswith("Locust worker ") and warning.endswith(
        "refused: it does not know this run's token"
    )
    workers = m["load_generators"]
    assert sorted(w["address"] for w in workers) == sorted([a["load1"]] * 2 + [a["load2"]] * 2)
    assert all("token" not in w for w in workers)
    # load2's clock, stepped: each of its two worker processes said once, with how much (to
    # within the pings' round trip); load1's never moved.
    stepped = {w["name"]: w["clock_steps_s"] for w in workers if w["address"] == a["load2"]}
    assert all(len(s) == 1 and abs(s[0] - 3) < 0.05 for s in stepped.values()), stepped
    assert all(w["clock_steps_s"] == [] for w in workers if w["address"] == a["load1"])
    moved = sorted(w for w in m["warnings"] if "'s clock moved +" in w)
    assert len(moved) == 2 and len(m["warnings"]) == 3, m["warnings"]
    assert [w.split()[2].removesuffix("'s") for w in moved] == sorted(stepped)
    logs = sorted(run_dir.glob("requests-*.csv"))
    requests = [r for log in logs for r in rows(log)]
    posted_ok = sum(r["name"] == "vote" and r["ok"] == "1" for r in requests)
    # Counted on the stack host, over its session: its database listens on loopback only.
    assert m["votes_in_db"] == m["votes_posted_ok"] == posted_ok > 0
    (step,) = rows(run_dir / "steps.csv")
    assert int(step["failures"]) == 0 and int(step["requests"]) > 0
    assert (run_dir / "logs" / "server.log").exists()
    assert "postgres" in {
        r["component"] for r in rows(run_dir / f"resources-stack-{a['stack']}.csv")
    }
    # The sessions ended with the run, and with them everything on the other hosts.
    for name in SSHD_HOSTS:
        _wait_until(lambda n=name: _ours(hosts, n) == [], 30, f"{name}: {_ours(hosts, name)}")


def test_a_second_controller_is_refused_and_a_killed_one_leaves_nothing(hosts, tmp_path):
    first = _controller(hosts, tmp_path, "--users", "4", "--hold", "60", "--warmup", "2",
                        "--load-hosts", _load_hosts(hosts))  # fmt: skip
    seen = wait_for_line(first, "step 1/1", timeout=240)
    second = _controller(hosts, tmp_path, "--profile", "smoke", "--load-hosts",
                         _load_hosts(hosts), name="ctl2")  # fmt: skip
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2, out + err
    (line,) = err.strip().splitlines()
    started = next(ln for ln in seen if ln.startswith("run "))
    run_id = started.split()[1]
    assert line == (
        f"djbench: error: stack host {hosts.address['stack']}: busy with run {run_id} of "
        "another controller; wait for it to end"
    )
    # The first, SIGKILLed mid-run: no cleanup of its own, its sessions end with it, and the
    # stack host and load workers stop what they started.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    for name in [*SSHD_HOSTS, "ctl"]:
        _wait_until(lambda n=name: _ours(hosts, n) == [], 60, f"{name}: {_ours(hosts, name)}")
    # Its own temp dir it could not remove: the controller's next start reaps it.
    (record,) = (tmp_path / "ctl.lock.runs").glob("*.json")
    left = json.loads(record.read_text())["temp_dirs"]
    assert left and all(Path(d).exists() for d in left)
    leftovers.reap(tmp_path / "ctl.lock.runs")
    assert not any(Path(d).exists() for d in left)


def test_a_lost_worker_and_a_killed_stack_host_over_ssh(hosts, tmp_path):
    a = hosts.address
    ctl = _controller(hosts, tmp_path, "--users", "4,8", "--hold", "12", "--warmup", "1",
                      "--load-hosts", _load_hosts(hosts), "--load-processes", 2)  # fmt: skip
    seen = wait_for_line(ctl, "step 1/2", timeout=240)
    # A worker lost mid-run: one Locust worker process of load1 killed during step 1.
    _wait_until(lambda: len(_locust_processes(hosts, "load1")) == 2, 60, "load1's workers")
    time.sleep(3)
    os.kill(_locust_processes(hosts, "load1")[0], signal.SIGKILL)
    # The stack host's djbench killed during step 2 (as the OOM killer would): its session
    # ends, and the run with one line; what was measured is kept.
    seen += wait_for_line(ctl, "step 2/2", timeout=120)
    time.sleep(2)
    (stack_host,) = _processes(hosts, "stack", lambda argv: {b"stack-host", b"--stdio"} <= {*argv})
    os.kill(stack_host, signal.SIGKILL)
    out, err = ctl.communicate(timeout=180)
    assert ctl.returncode == 1, "".join(seen) + out + err
    (line,) = err.strip().splitlines()
    ended = f"djbench: run failed: stack host {a['stack']}: the ssh session ended"
    assert line.startswith(ended), line
    run_dir = last_path("".join(seen) + out, "partial results:")
    m = meta(run_dir)
    assert m["complete"] is False
    assert any("lost" in w for w in m["warnings"]), m["warnings"]
    steps = rows(run_dir / "steps.csv")
    assert int(steps[0]["requests"]) > 0 and int(steps[0]["workers_missing"]) == 1
    # The load hosts' sessions ended with the run, and with them their workers.
    for name in ("load1", "load2", "ctl"):
        _wait_until(lambda n=name: _ours(hosts, n) == [], 60, f"{name}: {_ours(hosts, name)}")
    # What the killed stack host started is still there, until its next start reaps it.
    gunicorn = _processes(hosts, "stack", lambda argv: {b"--worker-class", b"sync"} <= {*argv})
    assert gunicorn, _ours(hosts, "stack")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(tmp_path / "stack.lock")}
    argv = [sys.executable, "-m", "djbench", "stack-host", "--stdio", "--bind", a["stack"]]
    again = hosts.start("stack", argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert again.wait(60) == 0, again.stdout.read()
    _wait_until(lambda: _ours(hosts, "stack") == [], 30, f"stack: {_ours(hosts, 'stack')}")
