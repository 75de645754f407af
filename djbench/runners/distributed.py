"""Distributed mode: the stack on a host of its own (`djbench stack-host`), Locust's workers on
load hosts (`djbench load-worker`), and here, on the controller, Locust's master, the analysis
and the results directory.

Only engines that exist carry the run: Locust's master/worker protocol for the load and for the
workers' raw data (locustfiles/distributed.py), and calls to the stack host for starting and
stopping stacks, counting votes and fetching samples and logs. With `--stack ssh://HOST` (and
`--load-hosts ssh://...`) OpenSSH carries all of it (remote/ssh.py): the controller starts the
stack host and the load workers itself, one session each a run, the master listens on loopback
and the workers reach it through their session. With `--stack HOST[:PORT]` the stack host and
the load workers were started by hand: a token-guarded HTTP API, PostgreSQL over TCP with its
password for the vote count, the master on a network address.

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

import psycopg

from djbench.contracts import defaults
from djbench.contracts.files import PG_ACTIVITY, RESOURCES, SERVER_PROCESSES, SYSTEM
from djbench.errors import ComponentFailed, UserError
from djbench.load.locust import start_locust
from djbench.remote import ssh
from djbench.remote.addresses import checked_token, reachable_bind
from djbench.remote.client import SshStackClient, StackClient, local_address_towards, resolve
from djbench.remote.stack_host import LOGS
from djbench.runners.base import Runner, Stack
from djbench.sampling.resources import Sampler
from djbench.sampling.system import PG_SAMPLER_CONNECTIONS
from djbench.stack.verify import verify_stack
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import ProcessSet, signals_deferred

MAX_LOG_BYTES = 16 << 20  # of each log a stack host sends


class DistributedRunner(Runner):
    mode = "distributed"
    least_local_workers = 0
    load_startup_s = 90.0  # Locust's workers connecting (--expect-workers-max-wait 60)

    def __init__(self, stack, db=None, master_bind=None, master_port=defaults.LOCUST_MASTER_PORT,
                 expect_workers=0, local_workers=0, load_hosts=None, load_processes=1):  # fmt: skip
        self.master_bind, self.master_port = master_bind, master_port
        self.expect_workers, self.local_workers = expect_workers, local_workers
        self.load_targets, self.load_addresses = [], []
        if ssh.is_ssh(stack):
            _check_ssh_options(db, master_bind, expect_workers)
            self.web = self.db = SshStackClient(stack)
            self.load_targets = [ssh.Target.parse(h, "--load-hosts") for h in _listed(load_hosts)]
            self.load_addresses = [resolve(t.host, "--load-hosts") for t in self.load_targets]
            self.load_processes = load_processes
            self.expect_workers = len(self.load_targets) * load_processes
            self.master_bind = "127.0.0.1"  # the workers come through their ssh sessions
        else:
            if load_hosts:
                raise UserError("--load-hosts needs an ssh:// stack (--stack ssh://HOST)")
            token = os.environ.get("DJBENCH_TOKEN", "")
            if not token:
                raise UserError("distributed mode needs DJBENCH_TOKEN, from the stack host's file")
            checked_token(token, "DJBENCH_TOKEN")
            if master_bind:
                self.master_bind = reachable_bind(master_bind, "--master-bind")
            self.web = StackClient(stack, token)
            self.db = StackClient(db, token) if db else self.web
        if self.expect_workers < 0 or local_workers < 0 or self.expect_workers + local_workers < 1:
            raise UserError("distributed mode needs at least one Locust worker (--expect-workers, "
                            "or --load-hosts with an ssh:// stack)")  # fmt: skip

    @classmethod
    def from_options(cls, o):
        if not o.stack:
            raise UserError("distributed mode needs --stack ssh://HOST (or HOST[:PORT] of a "
                            "djbench stack-host)")  # fmt: skip
        return cls(o.stack, o.db, o.master_bind, o.master_port, o.expect_workers,
                   o.locust_workers or 0, o.load_hosts, o.load_processes)  # fmt: skip

    @property
    def over_ssh(self):
        return self.web.over_ssh

    def hosts(self):
        return [self.web] if self.db is self.web else [self.db, self.web]

    def preflight(self):
        if self.over_ssh:  # a session of its own, only to say hello
            with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
                try:
                    self.web.open(procs, Path(tmp) / "ssh.log")
                    self._hello()
                finally:
                    self.web.close()
            return
        self._hello()
        if self.master_bind is None:
            self.master_bind = local_address_towards(self.web.host)

    def _hello(self):
        mine = environment.project_fingerprint()
        for client in self.hosts():
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
            try:
                t0 = time.monotonic()
                if self.over_ssh:
                    self.web.open(run.procs, run.run_dir / "logs" / "stack-host.log")
                    self._hello()
                for client in self.hosts():
                    client.measure_clock()
                db = self.db.call("/database", body)
                separate = self.db is not self.web
                web = self.web.call("/web", {**body, "db": db["db"] if separate else None,
                                             "clients": self._clients()})  # fmt: skip
                _merge_meta(run.meta, db["meta"], web["meta"])
                run.meta["postgres"]["clock_offset_s"] = self.db.offset_s
                if self.over_ssh:  # counted on the stack host: the database is on its loopback
                    total_votes = lambda: self.db.call("/votes", timeout=30)["votes"]  # noqa: E731
                else:
                    total_votes = _vote_counter(db["db"])
                try:
                    poll_path = verify_stack(web["base_url"], total_votes)
                except RuntimeError as e:
                    raise ComponentFailed(str(e)) from None
                run.meta["startup_s"] = round(time.monotonic() - t0, 2)
                run.meta["topology"] = self.topology()
                run.save_meta()
                log.info(
                    f"stack ready in {run.meta['startup_s']:.1f} s: postgres on {self.db.host}, "
                    f"{cfg.server} and nginx on {web['base_url']}"
                )
                yield Stack(web["base_url"], total_votes, poll_path, check=self.check)
            finally:
                with signals_deferred():
                    self.collect(run)
                    if self.over_ssh:
                        self.web.close()

    def _clients(self):
        """Over ssh, nginx answers only the load hosts and this controller (its checks)."""
        if not self.over_ssh:
            return []
        return sorted({*self.load_addresses, local_address_towards(self.web.host)})

    def check(self):
        for client in self.hosts():
            dead = client.call("/health", timeout=10)["dead"]
            if dead:
                raise ComponentFailed(f"on stack host {client.name}: {'; '.join(dead)} died")

    def collect(self, run):
        """Samples and logs from every stack host, onto our clock; then stop their stacks."""
        for client in self.hosts():
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
        hosts = [
            {
                "address": client.host,
                "roles": client.hello["roles"]
                if client is self.web and self.db is self.web
                else ["db"]
                if client is self.db
                else ["web"],
                "clock_offset_s": round(client.offset_s, 6),
                "clock_rtt_ms": round(client.rtt_s * 1000, 3),
                **{k: client.hello["machine"].get(k) for k in ("cpu_model", "cpu_count")},
                "versions": client.hello.get("versions", {}),
            }
            for client in self.hosts()
        ]
        controller = {
            "address": self.master_bind,
            "roles": ["controller", "locust-master"],
            **{k: environment.machine().get(k) for k in ("cpu_model", "cpu_count")},
            "versions": environment.versions(()),  # Locust and the analysis run here
        }
        return {"hosts": [controller, *hosts], "locust_master": f"{self.master_bind}:"
                f"{self.master_port}", "remote_workers": self.expect_workers}  # fmt: skip

    @contextmanager
    def load(self, run):
        for client in self.hosts():
            client.call("/sample", timeout=10)
        run.meta["postgres"]["sampler_connections"] = PG_SAMPLER_CONNECTIONS
        token = secrets.token_urlsafe(32) if self.over_ssh else ""
        locust = start_locust(run, self.local_workers, self.master_bind, self.expect_workers,
                              self.master_port, token=token)  # fmt: skip
        sessions = self._start_load_hosts(run, token) if self.over_ssh else []
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
            given = {"token": token, "user_class": os.environ.get("USER_CLASS", "")}
            session.proc.stdin.write(json.dumps(given).encode() + b"\n")
            session.proc.stdin.flush()
            sessions.append(session)
        return sessions


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


def _check_ssh_options(db, master_bind, expect_workers):
    if db:
        raise UserError("--db is not for an ssh:// stack: its database runs beside the web tier, "
                        "on loopback")  # fmt: skip
    if master_bind:
        raise UserError("--master-bind is not for an ssh:// stack: the master listens on "
                        "loopback, and the load hosts' workers reach it over ssh")  # fmt: skip
    if expect_workers:
        raise UserError("--expect-workers is for load workers started by hand; with an ssh:// "
                        "stack name them with --load-hosts")  # fmt: skip


def _merge_meta(meta, *parts):
    for part in parts:
        meta["versions"].update(part.get("versions", {}))
        meta["versions"].update(part.get("server_versions", {}))
        if "postgres" in part:
            meta["postgres"] = part["postgres"]


def _vote_counter(db):
    def total_votes():
        with psycopg.connect(
            host=db["POSTGRES_HOST"], port=int(db["POSTGRES_PORT"]), dbname=db["POSTGRES_DB"],
            user=db["POSTGRES_USER"], password=db["POSTGRES_PASSWORD"], connect_timeout=10,
        ) as conn:  # fmt: skip
            return conn.execute("SELECT COALESCE(SUM(votes), 0) FROM polls_choice").fetchone()[0]

    return total_votes


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
