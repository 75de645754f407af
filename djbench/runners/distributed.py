"""Distributed mode: the stack on a host of its own (`djbench stack-host --stdio`), Locust's
workers on load hosts (`djbench load-worker --stdio`), and here, on the controller, Locust's
master, the analysis and the results directory.

Only engines that exist carry the run: OpenSSH between hosts (remote/ssh.py), Locust's
master/worker protocol for the load and for the workers' raw data (locustfiles/distributed.py).
The controller starts the stack host and the load workers itself, one session each a run; the
master listens on loopback and the workers reach it through their session; the stack host
starts and stops stacks, counts votes and hands over samples and logs when called on its session.

Nothing assumes a shared disk or synchronized clocks: each host's clock offset is measured
(the stack host's here, the workers' by the master) and every timestamp is moved onto the
controller's clock before the analysis sees it; the offsets are in meta.json.
"""

import csv
import io
import json
import os
import secrets
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from djbench.contracts import defaults
from djbench.contracts.files import PG_ACTIVITY, RESOURCES, SERVER_PROCESSES, SYSTEM
from djbench.errors import ComponentFailed, UserError
from djbench.load.locust import start_locust
from djbench.project import fingerprint
from djbench.project.scenario import DISCOVERED
from djbench.remote import ssh
from djbench.remote.client import StackClient, local_address_towards, resolve
from djbench.remote.stack_host import LOGS
from djbench.runners.base import Runner, Stack
from djbench.sampling.resources import Sampler
from djbench.sampling.system import PG_SAMPLER_CONNECTIONS
from djbench.scenario import urls_file
from djbench.stack.verify import verify_stack
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import ProcessSet, signals_deferred

MAX_LOG_BYTES = 16 << 20  # of each log a stack host sends
PROJECT_TIMEOUT_S = 1800.0  # a project's environment built on the stack host


class DistributedRunner(Runner):
    mode = "distributed"
    least_local_workers = 0
    load_startup_s = 90.0  # Locust's workers connecting (--expect-workers-max-wait 60)

    def __init__(self, stack, master_port=defaults.LOCUST_MASTER_PORT, local_workers=0,
                 load_hosts=None, load_processes=1):  # fmt: skip
        if not ssh.is_ssh(stack):
            raise UserError(f"bad --stack {stack!r}: expected ssh://[USER@]HOST[:PORT] (the "
                            "controller starts the stack host over ssh)")  # fmt: skip
        self.stack_host = StackClient(stack)
        self.load_targets = [ssh.Target.parse(h, "--load-hosts") for h in _listed(load_hosts)]
        self.load_addresses = [resolve(t.host, "--load-hosts") for t in self.load_targets]
        self.load_processes = load_processes
        self.expect_workers = len(self.load_targets) * load_processes
        self.local_workers = local_workers
        self.master_bind, self.master_port = "127.0.0.1", master_port  # workers come over ssh
        if self.expect_workers + local_workers < 1:
            raise UserError("distributed mode needs at least one Locust worker: name the load "
                            "hosts with --load-hosts (or LOCUST_WORKERS here)")  # fmt: skip

    @classmethod
    def from_options(cls, o):
        if not o.stack:
            raise UserError("distributed mode needs --stack ssh://HOST")
        return cls(o.stack, o.master_port, o.locust_workers or 0, o.load_hosts,
                   o.load_processes)  # fmt: skip

    def preflight(self):
        """A session of its own, only to say hello: a host of another version is refused
        before anything starts."""
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
            try:
                self.stack_host.open(procs, Path(tmp) / "ssh.log")
                self._hello()
            finally:
                self.stack_host.close()

    def check_projects(self, cfgs):
        """Each run's project as the stack host holds it, before anything starts: its
        environment built there (or found), its settings imported, and the same files as
        here, at the same path."""
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
            try:
                self.stack_host.open(procs, Path(tmp) / "ssh.log")
                self._hello()
                for cfg in {c.project: c for c in cfgs}.values():
                    self._project(cfg)
            finally:
                self.stack_host.close()

    def _project(self, cfg):
        client = self.stack_host
        try:
            theirs = client.call("/project", {"config": cfg.as_dict()},
                                 timeout=PROJECT_TIMEOUT_S)["fingerprint"]  # fmt: skip
        except ComponentFailed as e:
            raise UserError(str(e)) from None
        if cfg.project.builtin:
            return
        mine = fingerprint.of(cfg.project)
        if theirs != mine:
            raise UserError(
                f"stack host {client.name} holds project {cfg.project.name} at "
                f"{cfg.project.path} in another version ({theirs}, this controller's {mine}): "
                "the same project, and the files the run names, at the same path on every host"
            )

    def _hello(self):
        mine, client = environment.project_fingerprint(), self.stack_host
        try:
            hello = client.call("/hello", timeout=60)
        except ComponentFailed as e:
            raise UserError(str(e)) from None
        if hello["fingerprint"] != mine:
            raise UserError(
                f"stack host {client.name} runs project version {hello['fingerprint']}, "
                f"this controller {mine}: run the same checkout on every host"
            )
        client.hello = hello

    @contextmanager
    def stack(self, run):
        cfg, run_id = run.cfg, run.run_dir.name
        body = {"config": cfg.as_dict(), "run_id": run_id}
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp:
            run.live.add("temp_dirs", tmp)
            run.tmp = Path(tmp)
            (run.run_dir / "logs").mkdir(exist_ok=True)
            host = self.stack_host
            try:
                t0 = time.monotonic()
                host.open(run.procs, run.run_dir / "logs" / "stack-host.log")
                self._hello()
                host.measure_clock()
                db = host.call("/database", body)
                web = host.call("/web", {**body, "clients": self._clients()})
                _merge_meta(run.meta, db["meta"], web["meta"])
                run.meta["postgres"]["clock_offset_s"] = host.offset_s
                # Counted on the stack host: its database listens on its loopback only.
                total_votes = lambda: host.call("/votes", timeout=30)["votes"]  # noqa: E731
                if cfg.project.builtin:
                    try:
                        poll_path = verify_stack(web["base_url"], total_votes)
                    except RuntimeError as e:
                        raise ComponentFailed(str(e)) from None
                else:  # chosen and verified on the stack host
                    poll_path = _scenario_here(run)
                run.meta["startup_s"] = round(time.monotonic() - t0, 2)
                run.meta["topology"] = self.topology()
                run.save_meta()
                log.info(
                    f"stack ready in {run.meta['startup_s']:.1f} s: postgres, {cfg.server} and "
                    f"nginx on {web['base_url']}"
                )
                yield Stack(web["base_url"], total_votes, poll_path, check=self.check,
                            query=self._invariant)  # fmt: skip
            finally:
                with signals_deferred():
                    self.collect(run)
                    host.close()

    def _invariant(self, sql):
        """The project's invariant, queried on the stack host from its own copy of the Locust
        file: the same query as ours, or none."""
        answer = self.stack_host.call("/invariant", timeout=60)
        if answer["sql"] != sql:
            raise ComponentFailed(f"stack host {self.stack_host.name} declares another "
                                  f"invariant: {answer['sql']}")  # fmt: skip
        return answer["value"]

    def _clients(self):
        """nginx answers only the load hosts and this controller (its checks)."""
        return sorted({*self.load_addresses, local_address_towards(self.stack_host.host)})

    def check(self):
        client = self.stack_host
        dead = client.call("/health", timeout=10)["dead"]
        if dead:
            raise ComponentFailed(f"on stack host {client.name}: {'; '.join(dead)} died")

    def collect(self, run):
        """Samples and logs from the stack host, onto our clock; then stop its stack."""
        client = self.stack_host
        try:
            torn = _write_samples(run.run_dir, client, client.call("/resources", timeout=30))
            if torn:
                run.meta["warnings"].append(f"{torn} torn sample rows from {client.name} "
                                            "left out")  # fmt: skip
            _write_logs(run, client, client.call("/logs", timeout=60))
            _clock_moved(run, client)
        except ComponentFailed as e:
            run.meta["warnings"].append(f"not collected: {e}")
        try:
            client.call("/stop", timeout=120)
        except ComponentFailed as e:
            run.meta["warnings"].append(f"stack not stopped: {e}")

    def topology(self):
        client = self.stack_host
        stack = {
            "address": client.host,
            "roles": client.hello["roles"],
            "clock_offset_s": round(client.offset_s, 6),
            "clock_rtt_ms": round(client.rtt_s * 1000, 3),
            **{k: client.hello["machine"].get(k) for k in ("cpu_model", "cpu_count")},
            "versions": client.hello.get("versions", {}),
        }
        controller = {
            "address": local_address_towards(client.host),  # its master is on its loopback
            "roles": ["controller", "locust-master"],
            **{k: environment.machine().get(k) for k in ("cpu_model", "cpu_count")},
            "versions": environment.versions(()),  # Locust and the analysis run here
        }
        return {"hosts": [controller, stack], "locust_master": f"{self.master_bind}:"
                f"{self.master_port}", "remote_workers": self.expect_workers}  # fmt: skip

    @contextmanager
    def load(self, run):
        self.stack_host.call("/sample", timeout=10)
        run.meta["postgres"]["sampler_connections"] = PG_SAMPLER_CONNECTIONS
        token = secrets.token_urlsafe(32)
        locust = start_locust(run, self.local_workers, self.master_bind, self.expect_workers,
                              self.master_port, token=token)  # fmt: skip
        sessions = self._start_load_hosts(run, token)
        sampler = Sampler(run.run_dir / RESOURCES, {"locust": locust.master})
        sampler.start()
        try:
            yield locust
        finally:
            sampler.stop()
            for session in sessions:  # their workers ended with the master; end the sessions
                try:
                    session.proc.stdin.close()
                except OSError:
                    pass

    def _start_load_hosts(self, run, token):
        """Each load host's workers, over a session that forwards the master's port to its
        loopback; the run's token on their standard input, never in an argv."""
        port = self.master_port
        sessions = []
        for i, (target, address) in enumerate(zip(self.load_targets, self.load_addresses,
                                                  strict=True)):  # fmt: skip
            args = ["load-worker", "--stdio", "--master", f"127.0.0.1:{port}",
                    "--processes", self.load_processes, "--address", address]  # fmt: skip
            session = ssh.start_session(
                run.procs, f"ssh-load-{i + 1}", target, args,
                run.run_dir / "logs" / f"load-host-{i + 1}.log",
                forwards=[f"127.0.0.1:{port}:127.0.0.1:{port}"],
            )  # fmt: skip
            given = {"token": token, "user_class": os.environ.get("USER_CLASS", ""),
                     **_scenario_given(run.meta.get("scenario", {}))}  # fmt: skip
            session.proc.stdin.write(json.dumps(given).encode() + b"\n")
            session.proc.stdin.flush()
            sessions.append(session)
        return sessions


def _scenario_here(run):
    """The scenario the stack host chose, for this controller's Locust: its pages in a URLS
    file of the run directory (the one the stack host wrote is on its disk); the first page."""
    scenario = run.meta.get("scenario") or {}
    if scenario.get("kind") == "discovered":
        path = run.run_dir / DISCOVERED
        urls_file.write(path, [(p["path"], p["weight"]) for p in scenario["pages"]])
        scenario["urls_file"] = str(path)
    return scenario["pages"][0]["path"] if scenario.get("pages") else "/"


def _scenario_given(scenario):
    """What a load host's workers need of the scenario: the pages, or the Locust file's path
    (the same file at the same path there) and its hash."""
    if scenario.get("pages"):
        return {"pages": [[p["path"], p["weight"]] for p in scenario["pages"]]}
    if scenario.get("locustfile"):
        path = Path(scenario["locustfile"])
        return {"locustfile": str(path), "locustfile_sha256": fingerprint.file_hash(path)}
    return {}


def _clock_moved(run, client):
    """The stack host's clock measured again at the end: moved by more than the two
    measurements' bound (half of each round trip) is a warning, with how much."""
    before, rtt_before = client.offset_s, client.rtt_s
    if before is None:
        return
    client.measure_clock()
    moved = client.offset_s - before
    run.meta.setdefault("clock_checks", {})[client.name] = {
        "offset_start_s": round(before, 6), "offset_end_s": round(client.offset_s, 6),
        "rtt_start_ms": round(rtt_before * 1000, 3), "rtt_end_ms": round(client.rtt_s * 1000, 3),
    }  # fmt: skip
    if abs(moved) > (rtt_before + client.rtt_s) / 2 + defaults.CLOCK_SLACK_S:
        run.meta["warnings"].append(
            f"stack host {client.name}'s clock moved {moved * 1000:+.0f} ms during the run: its "
            "samples are placed by the offset measured at the start"
        )
    client.offset_s, client.rtt_s = before, rtt_before


def _listed(text):
    return [h for h in (text or "").replace(",", " ").split() if h]


def _merge_meta(meta, *parts):
    for part in parts:
        meta["versions"].update(part.get("versions", {}))
        meta["versions"].update(part.get("server_versions", {}))
        for name in ("postgres", "project", "scenario", "discovery"):
            if name in part:
                meta[name] = part[name]
        meta["notes"] += [note for note in part.get("notes", []) if note not in meta["notes"]]


def _write_samples(run_dir, client, samples):
    """The stack host's samples, their timestamps moved onto our clock: its components as
    resources-stack-<host>.csv (host named), its machine as system.csv and its database's
    connections as pg_activity.csv (the stack's machine is the one whose stalls matter), its
    app server's processes as server_processes.csv."""
    names = {RESOURCES: f"resources-stack-{client.host}.csv", SYSTEM: SYSTEM,
             PG_ACTIVITY: PG_ACTIVITY, SERVER_PROCESSES: SERVER_PROCESSES}  # fmt: skip
    torn = 0
    for name, text in samples.items() if isinstance(samples, dict) else ():
        if name not in names or not isinstance(text, str):
            continue  # only the files asked for, under our names for them
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            continue
        with open(run_dir / names[name], "a", newline="") as f:  # fresh stacks: in turn
            columns = list(rows[0])
            writer = csv.DictWriter(f, fieldnames=columns)
            if f.tell() == 0:
                writer.writeheader()
            for row in rows:
                try:
                    row["ts"] = f"{float(row['ts']) - client.offset_s:.3f}"
                except (KeyError, TypeError, ValueError):
                    torn += 1  # a row cut short (the host stopped mid-write): left out
                    continue
                if None in row or None in row.values():
                    torn += 1
                    continue
                if name == RESOURCES:
                    row["host"] = client.host
                writer.writerow(row)
    return torn


def _write_logs(run, client, logs):
    """The stack host's logs, only under the names it may send (stack_host.LOGS), at most
    MAX_LOG_BYTES each: nothing it answers writes anywhere else, or without bound."""
    for name, text in logs.items() if isinstance(logs, dict) else ():
        if name not in LOGS or not isinstance(text, str):
            run.meta["warnings"].append(f"{client.name} sent a log named {str(name)[:80]!r}: "
                                        "not one it may send, left out")  # fmt: skip
            continue
        if len(text) > MAX_LOG_BYTES:
            text = text[-MAX_LOG_BYTES:]
            run.meta["warnings"].append(f"{client.name}'s {name} cut to its last "
                                        f"{MAX_LOG_BYTES >> 20} MB")  # fmt: skip
        with open(run.run_dir / "logs" / name, "a") as log:
            log.write(text)
