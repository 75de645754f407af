"""Across hosts over SSH, the hosts built as network namespaces with an sshd each (keys the
test makes): the stack on one, Locust's workers on two load hosts (two processes each), the
controller (Locust's master, the analysis) on a fourth, which starts the others' processes
itself. Nothing of djbench listens on a network address but nginx; a load host's clock stepped
by 3 s mid-run is said with how much; a rogue worker and a second controller are refused; a
controller killed or interrupted mid-run, a lost worker and a killed stack host end the run
with what was measured kept and nothing left running on any host."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djbench.analysis.runs.metrics import read_requests
from djbench.analysis.runs.run import load_run
from djbench.contracts import defaults
from djbench.paths import BIN, IMPORT_ROOT, LOCUSTFILES
from djbench.system import leftovers
from djbench.system.machine import project_fingerprint
from tests import netns, projects, ssh_hosts
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
# Connects and says nothing, holding the connection for as long as the other side does.
IDLE = """
import socket, sys, time
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as s:
    s.recv(1)
time.sleep(600)
"""


@pytest.fixture
def hosts(tmp_path):
    with netns.Hosts(HOSTS, subnet="10.213.9") as made:
        # load2's sessions read a clock of their own: the file's offset on the system's.
        stepped = {"load2": ssh_hosts.stepped_clock(tmp_path / "load2-clock")}
        made.ssh_config = ssh_hosts.start(made, SSHD_HOSTS, tmp_path, ROOT, stepped)
        yield made
        names = made.namespaces_left
    assert names() == [], "every namespace is removed"


def _controller(hosts, tmp, *args, name="ctl", stack="stack", **env):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_SSH_CONFIG": str(hosts.ssh_config),
           "DJBENCH_LOCK": str(tmp / f"{name}.lock"), **env}  # fmt: skip
    return hosts.start(
        "ctl",
        [sys.executable, "-u", "-m", "djbench", "run", "--mode", "distributed",
         "--stack", f"ssh://{hosts.address[stack]}", "--server", "gunicorn",
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
    # A connection to the stack host's sshd that never says a word, held through the run.
    idle = hosts.start("load1", [sys.executable, "-c", IDLE, a["stack"], "22"],
                       stdout=subprocess.DEVNULL)  # fmt: skip
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
    # load2's clock, stepped: each of its two worker processes said once, with how much, to
    # within the bound it gives (half the round trips of the pings before and after); load1's
    # never moved.
    load2 = [w for w in workers if w["address"] == a["load2"]]
    stepped = {w["name"]: w["clock_steps_s"] for w in load2}
    for w in load2:
        (step,), (error,) = w["clock_steps_s"], w["clock_step_errors_s"]
        assert abs(step - 3) <= error + 0.002, w
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
    assert idle.poll() is None, "the idle connection's process lived through the run"
    idle.kill()
    # Raw data from all four workers, through Locust's messaging: the step's counts match it.
    (window,) = rows(run_dir / "timeline.csv")
    lo, hi = float(window["measure_from"]), float(window["end"])
    assert int(step["requests"]) == len([r for r in requests if lo <= float(r["ts"]) < hi])
    assert len(logs) == 4 and all(rows(log) for log in logs), "every worker ran users"
    assert int(step["workers_missing"]) == 0
    # Resources from every host, the host named; clock offsets measured and recorded.
    run = load_run(run_dir)
    cpu = [c for c in run.steps.columns if c.startswith("cpu_")]
    assert {"cpu_postgres_pct", "cpu_server_pct", "cpu_nginx_pct", "cpu_locust_pct"} <= set(cpu)
    assert len([c for c in cpu if c.startswith("cpu_locust_") and c != "cpu_locust_pct"]) == 4
    for log in run_dir.glob(f"resources-{socket.gethostname()}-*.csv"):  # workers' own reports
        assert {r["host"] for r in rows(log)} <= {a["load1"], a["load2"]}
    stack_rows = rows(run_dir / f"resources-stack-{a['stack']}.csv")
    assert {r["component"] for r in stack_rows} == {"postgres", "server", "nginx", "stack-host"}
    assert {r["host"] for r in stack_rows} == {a["stack"]}
    roles = {h["address"]: h["roles"] for h in m["topology"]["hosts"]}
    assert roles == {a["ctl"]: ["controller", "locust-master"], a["stack"]: ["db", "web"],
                     a["load1"]: ["load"], a["load2"]: ["load"]}  # fmt: skip
    assert m["topology"]["locust_master"] == f"127.0.0.1:{defaults.LOCUST_MASTER_PORT}"
    # One machine, one clock; but load2's, stepped, is 3 s ahead by the end.
    ahead = {a["load1"]: 0, a["load2"]: 3}
    assert all(abs(w["clock_offset_s"] - ahead[w["address"]]) < 0.05 for w in workers), workers
    assert abs(m["topology"]["hosts"][1]["clock_offset_s"]) < 0.05
    for host in m["topology"]["hosts"]:  # software versions per host
        assert host["versions"]["python"], host
    # The stack host's machine, its database's connections and its server processes, on the
    # controller's clock: the mechanism's columns, as in native mode.
    assert float(rows(run_dir / "system.csv")[0]["cpus"]) >= 1
    assert max(int(r["total"]) for r in rows(run_dir / "pg_activity.csv")) >= 0
    assert {"machine_cpu_pct", "pg_total_max", "server_processes", "inflight_per_process_mean",
            "pg_idle_mean", "pg_opened_per_s"} <= set(run.steps.columns)  # fmt: skip
    assert (run.steps["server_processes"] == m["processes"]).all()
    for name in ("postgres.log", "server.log", "nginx.error.log", "stack-host.log"):
        assert (run_dir / "logs" / name).exists(), name
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
    # What the killed stack host left is there until its next start reaps it: its run's record
    # and temp dir, and whatever of its processes outlived it (the kernel kills its children
    # with it; gunicorn's workers end by themselves once they see their master gone, at their
    # next wake-up, so whether any is still there when looked at is a race).
    (record,) = (tmp_path / "stack.lock.runs").glob("*.json")
    left = json.loads(record.read_text())["temp_dirs"]
    assert left and all(Path(d).exists() for d in left)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJBENCH_LOCK": str(tmp_path / "stack.lock")}
    argv = [sys.executable, "-m", "djbench", "stack-host", "--stdio", "--bind", a["stack"]]
    again = hosts.start("stack", argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert again.wait(60) == 0, again.stdout.read()
    _wait_until(lambda: _ours(hosts, "stack") == [], 30, f"stack: {_ours(hosts, 'stack')}")
    assert not any(Path(d).exists() for d in left) and not record.exists()


@pytest.mark.parametrize("shape", ["api", "shop"])
def test_a_project_of_yours_over_ssh(hosts, tmp_path, shape):
    """The project on the stack host, from the controller's path, in an environment built there;
    its scenario chosen and verified there (a Locust file with its invariant, or pages
    discovered), the load from the load hosts' workers."""
    a = hosts.address
    root = tmp_path / shape
    root.mkdir()
    options = {"api": projects.drf_api, "shop": projects.static_settings_package}[shape](root)
    given = [arg for name, value in options.items() for arg in (f"--{name}", value)]
    ctl = _controller(hosts, tmp_path, "--project", root, *given, "--users", "2", "--hold", "8",
                      "--warmup", "1", "--load-hosts", _load_hosts(hosts))  # fmt: skip
    out, err = ctl.communicate(timeout=600)
    assert ctl.returncode == 0, out + err
    run_dir = last_path(out, "results:")
    m = meta(run_dir)
    assert m["mode"] == "distributed" and m["complete"] is True
    assert (m["project"]["name"], m["project"]["path"]) == (shape, str(root))
    assert m["versions"]["Django"] == m["project"]["environment"]["django"] == "5.2.19"
    workers = m["load_generators"]
    assert sorted(w["address"] for w in workers) == sorted([a["load1"], a["load2"]])
    requests = read_requests(run_dir)
    assert len(requests) > 0 and requests["ok"].all()
    (step,) = rows(run_dir / "steps.csv")
    assert int(step["failures"]) == 0 and int(step["requests"]) > 0
    assert rows(run_dir / f"resources-stack-{a['stack']}.csv"), "the stack host's samples"
    if shape == "api":
        # Every successful POST added one row, counted in the stack host's database: the
        # load's, from both load hosts, and the check's before it (on the stack host).
        posts = int(requests[requests["method"] == "POST"]["ok"].sum())
        checked = m["scenario"]["checked"]["successes"]
        before = sum(n for name, n in checked.items() if name.startswith("POST "))
        assert m["scenario"]["kind"] == "locustfile" and before > 0 and posts > 0
        integrity = m["integrity"]
        assert integrity["checked"] and integrity["ok"], integrity
        assert integrity["got"] == integrity["expected"] == posts + before
    else:
        # Discovered on the stack host, through its nginx; the pages, here in the run's URLS
        # file, reached the load hosts; static files served by the stack host's nginx.
        assert m["scenario"]["kind"] == "discovered"
        assert {p["path"] for p in m["scenario"]["pages"]} == {"/", "/about/"}
        assert Path(m["scenario"]["urls_file"]) == run_dir / "urls.txt"
        assert set(requests["name"]) == {"/", "/about/"}
        assert "/static/" in m["project"]["served_by_nginx"]
    for name in [*SSHD_HOSTS, "ctl"]:
        _wait_until(lambda n=name: _ours(hosts, n) == [], 60, f"{name}: {_ours(hosts, name)}")


def _project_copy(tmp_path):
    """The same checkout with one change: another project version."""
    copy = tmp_path / "other-version"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "results", "__pycache__", "*.egg-info"),
    )
    with open(copy / "locustfiles" / "vote.py", "a") as f:
        f.write("\n# another version\n")
    return copy


def test_refusals_and_ctrl_c_over_ssh(hosts, tmp_path):
    a = hosts.address
    # No sshd there: one line, nothing started.
    ctl = _controller(hosts, tmp_path, "--profile", "smoke", "--load-hosts", _load_hosts(hosts),
                      stack="ctl")  # fmt: skip
    out, err = ctl.communicate(timeout=120)
    assert ctl.returncode == 2, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"djbench: error: stack host {a['ctl']}: the ssh session ended"), line
    assert "Connection refused" in line
    # Another checkout of the project on the stack host: refused before a stack starts.
    other = _project_copy(tmp_path)
    ctl = _controller(hosts, tmp_path, "--profile", "smoke", "--load-hosts", _load_hosts(hosts),
                      DJBENCH_REMOTE_ROOT=str(other))  # fmt: skip
    out, err = ctl.communicate(timeout=120)
    assert ctl.returncode == 2, out + err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"djbench: error: stack host {a['stack']} runs project version ")
    assert line.endswith(": run the same checkout on every host")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    # Ctrl-C on the controller during step 2: the run stops, what was measured is kept, and
    # every host's sessions end with what they started.
    ctl = _controller(hosts, tmp_path, "--users", "4,8", "--hold", "12", "--warmup", "1",
                      "--load-hosts", _load_hosts(hosts))  # fmt: skip
    seen = wait_for_line(ctl, "step 2/2", timeout=240)
    time.sleep(4)
    os.killpg(ctl.pid, signal.SIGINT)
    out, err = ctl.communicate(timeout=180)
    assert ctl.returncode == 130, "".join(seen) + out + err
    run_dir = last_path("".join(seen) + out, "partial results:")
    m = meta(run_dir)
    assert m["complete"] is False and m["integrity"]["ok"] is True
    steps = rows(run_dir / "steps.csv")
    assert int(steps[0]["requests"]) > 0 and int(steps[0]["failures"]) == 0
    for name in [*SSHD_HOSTS, "ctl"]:
        _wait_until(lambda n=name: _ours(hosts, n) == [], 60, f"{name}: {_ours(hosts, name)}")
