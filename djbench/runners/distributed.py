"""Distributed mode: the stack on a host of its own (`djbench stack-host`), Locust's workers on
load hosts (`djbench load-worker`), and here, on the controller, Locust's master, the analysis
and the results directory.

Only engines that exist carry the run: Locust's master/worker protocol for the load and for the
workers' raw data (locustfiles/distributed.py), PostgreSQL over TCP with its password for the
vote count, and a small HTTP API on the stack host for starting and stopping stacks and fetching
their samples and logs. Nothing assumes a shared disk or synchronized clocks: each host's clock
offset is measured (the stack host's here, the workers' by the master) and every timestamp is
moved onto the controller's clock before the analysis sees it; the offsets are in meta.json.
"""

import csv
import io
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from djbench.contracts import defaults
from djbench.contracts.files import PG_ACTIVITY, RESOURCES, SERVER_PROCESSES, SYSTEM
from djbench.errors import ComponentFailed, UserError
from djbench.load.locust import start_locust
from djbench.remote.client import StackClient, local_address_towards
from djbench.runners.base import Runner, Stack
from djbench.sampling.resources import Sampler
from djbench.sampling.system import PG_SAMPLER_CONNECTIONS
from djbench.stack.verify import verify_stack
from djbench.system import machine as environment
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.log import log
from djbench.system.processes import signals_deferred

CLOCK_SAMPLES = 5


class DistributedRunner(Runner):
    mode = "distributed"
    least_local_workers = 0
    load_startup_s = 90.0  # Locust's workers connecting (--expect-workers-max-wait 60)

    def __init__(self, stack, db=None, master_bind=None, master_port=defaults.LOCUST_MASTER_PORT,
                 expect_workers=0, local_workers=0):  # fmt: skip
        token = os.environ.get("DJBENCH_TOKEN", "")
        if not token:
            raise UserError("distributed mode needs DJBENCH_TOKEN, as the stack host printed it")
        self.web = StackClient(stack, token)
        self.db = StackClient(db, token) if db else self.web
        self.master_bind, self.master_port = master_bind, master_port
        self.expect_workers, self.local_workers = expect_workers, local_workers
        if expect_workers < 0 or local_workers < 0 or expect_workers + local_workers < 1:
            raise UserError("distributed mode needs at least one Locust worker (--expect-workers)")

    @classmethod
    def from_options(cls, o):
        if not o.stack:
            raise UserError("distributed mode needs --stack HOST[:PORT] (djbench stack-host)")
        return cls(o.stack, o.db, o.master_bind, o.master_port, o.expect_workers,
                   o.locust_workers or 0)  # fmt: skip

    def hosts(self):
        return [self.web] if self.db is self.web else [self.db, self.web]

    def preflight(self):
        mine = environment.project_fingerprint()
        for client in self.hosts():
            try:
                hello = client.call("/hello", timeout=10)
            except ComponentFailed as e:
                raise UserError(str(e)) from None
            if hello["fingerprint"] != mine:
                raise UserError(
                    f"stack host {client.name} runs project version {hello['fingerprint']}, "
                    f"this controller {mine}: run the same checkout on every host"
                )
            client.hello = hello
        if self.master_bind is None:
            self.master_bind = local_address_towards(self.web.host)

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
                for client in self.hosts():
                    client.measure_clock()
                db = self.db.call("/database", body)
                separate = self.db is not self.web
                web = self.web.call("/web", {**body, "db": db["db"] if separate else None})
                _merge_meta(run.meta, db["meta"], web["meta"])
                run.meta["postgres"]["clock_offset_s"] = self.db.offset_s
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

    def check(self):
        for client in self.hosts():
            dead = client.call("/health", timeout=10)["dead"]
            if dead:
                raise ComponentFailed(f"on stack host {client.name}: {'; '.join(dead)} died")

    def collect(self, run):
        """Samples and logs from every stack host, onto our clock; then stop their stacks."""
        for client in self.hosts():
            try:
                _write_samples(run.run_dir, client, client.call("/resources", timeout=30))
                for name, text in client.call("/logs", timeout=60).items():
                    with open(run.run_dir / "logs" / name, "a") as log:
                        log.write(text)
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
        locust = start_locust(run, self.local_workers, self.master_bind, self.expect_workers,
                              self.master_port)  # fmt: skip
        sampler = Sampler(run.run_dir / RESOURCES, {"locust": locust.master})
        sampler.start()
        try:
            yield locust
        finally:
            sampler.stop()


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
    for name, text in samples.items():
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or name not in names:
            continue
        with open(run_dir / names[name], "a", newline="") as f:  # fresh stacks: in turn
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            if f.tell() == 0:
                writer.writeheader()
            for row in rows:
                row["ts"] = f"{float(row['ts']) - client.offset_s:.3f}"
                if name == RESOURCES:
                    row["host"] = client.host
                writer.writerow(row)
