"""`djbench stack-host --stdio`: the stack on a host of its own, for the controller that
started it over ssh (remote/ssh.py).

It serves that one controller: calls on standard input, answers on standard output, a JSON line
each. The controller asks it for a database (PostgreSQL on loopback) and for the web tier
(migrate + seed, the app server on loopback, nginx on the address it is given, answering only
the run's clients), once per run, so a knee search or a server matrix gets a fresh stack per run
as in every mode. While a run loads it, the host samples its components' CPU and memory; at the
end the controller fetches those samples and the logs. One controller at a time (the benchmark
lock); the stack stops when the session ends or the controller is silent for the lease.
"""

import ipaddress
import json
import os
import re
import select
import shutil
import sys
import tempfile
import time
from pathlib import Path

from djbench import config
from djbench.contracts.files import PG_ACTIVITY, RESOURCES, SERVER_PROCESSES, SYSTEM
from djbench.errors import ComponentFailed, UserError
from djbench.project import app as project_app
from djbench.project import fingerprint
from djbench.remote import ssh
from djbench.remote.addresses import reachable_bind
from djbench.sampling.resources import Sampler
from djbench.sampling.server_processes import ServerProcessSampler
from djbench.sampling.system import PgActivitySampler, SystemSampler
from djbench.stack import host as host_stack
from djbench.stack.servers import SERVERS
from djbench.system import leftovers
from djbench.system import machine as environment
from djbench.system import run_dirs as results
from djbench.system.leftovers import TEMP_PREFIX, LiveRun
from djbench.system.log import log
from djbench.system.processes import ProcessSet, signals_deferred

ROLES = ("db", "web")
# What /resources returns, by file name.
SAMPLES = (RESOURCES, SYSTEM, PG_ACTIVITY, SERVER_PROCESSES)
LOGS = ("postgres.log", "setup.log", "server.log", "nginx.error.log", "nginx.out.log")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")  # a run directory's name


class Session:
    """What one controller's run started here: processes, temp dir, logs, samples."""

    def __init__(self, run_id):
        self.run_id = run_id
        self.tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        os.chmod(self.tmp, 0o755)
        self.logs = self.tmp / "logs"
        self.live = LiveRun(results.live_runs_dir(), f"stack-{run_id}").__enter__()
        self.live.add("temp_dirs", self.tmp)
        self.procs = ProcessSet(f"stack-{run_id}")
        self.components = {}
        self.db_env = None  # the database this host started for the run, if any
        self.cluster = None
        self.samplers = []
        self.meta = {"versions": {}, "notes": []}
        self.cfg = None

    def dead(self):
        return [
            f"{m.name} (exit status {m.proc.returncode}): {m.log_tail(5)}"
            for m in self.components.values()
            if not m.alive()
        ]

    def sample(self):
        """This host's components, its machine as a whole and, with a database here, the
        database's connections: from now until the stack stops."""
        if self.samplers:
            return
        self.samplers = [Sampler(self.tmp / RESOURCES, self.components, own_name="stack-host"),
                         SystemSampler(self.tmp / SYSTEM)]  # fmt: skip
        if self.cluster is not None:
            self.samplers.append(PgActivitySampler(self.tmp / PG_ACTIVITY, self.cluster.connect))
        if "server" in self.components:
            server = self.components["server"]
            self.samplers.append(ServerProcessSampler(self.tmp / SERVER_PROCESSES, server))
        for sampler in self.samplers:
            sampler.start()

    def samples(self):
        return {
            name: (self.tmp / name).read_text() for name in SAMPLES if (self.tmp / name).exists()
        }

    def close(self):
        with signals_deferred():
            for sampler in self.samplers:
                sampler.stop()
            self.procs.stop_all()
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.live.__exit__(None, None, None)


class StackHost:
    def __init__(self, bind):
        """bind: the address nginx listens on, the one the load hosts reach."""
        self.bind = bind
        self.session = None

    def clock(self, _body):
        return {"time": time.time()}

    def hello(self, _body):
        return {
            "fingerprint": environment.project_fingerprint(),
            "roles": list(ROLES),
            "address": self.bind,
            "machine": environment.machine(),
            "versions": environment.versions(()),
            "time": time.time(),
        }

    def project(self, body):
        """The run's project as this host holds it, at the controller's path: its environment
        built (or found) here, its settings imported; its fingerprint, for the controller to
        compare with its own."""
        cfg = _config(body)
        project_app.prepare_for(cfg)
        return {"fingerprint": None if cfg.project.builtin else fingerprint.of(cfg.project)}

    def database(self, body):
        cfg = _config(body)
        self._new_session(_run_id(body))
        s = self.session
        pg, proc = host_stack.start_database(cfg, s.logs, s.tmp, s.procs, s.meta)
        s.components["postgres"] = proc
        s.cluster = pg
        s.db_env = pg.env()
        log.info(f"database ready for {s.run_id} on 127.0.0.1:{pg.port}")
        return {"meta": s.meta}  # its password stays here, with the web tier that uses it

    def web(self, body):
        cfg = _config(body)
        s = self._session()
        if s.run_id != _run_id(body) or s.db_env is None:
            raise UserError("no database for this run: ask for one first")
        url, components = host_stack.start_web(cfg, s.logs, s.tmp, s.procs, s.meta, s.db_env,
                                               listen=self.bind,
                                               clients=_clients(body))  # fmt: skip
        s.components.update(components)
        s.cfg = cfg
        if cfg.project.builtin:
            s.meta["server_versions"] = environment.versions(SERVERS[cfg.server].packages)
        else:  # chosen and verified here, through this host's nginx
            host_stack.project_scenario(cfg, s.tmp, s.db_env, url, s.logs, s.meta, self.bind)
        log.info(f"{cfg.server} behind nginx ready for {s.run_id} on {url}")
        return {"base_url": url, "meta": s.meta}

    def votes(self, _body):
        """The polls' vote count in this host's database: the run's integrity check."""
        s = self._session()
        if s.cluster is None:
            raise UserError("no database here")
        if s.cfg is not None and not s.cfg.project.builtin:
            return {"votes": 0}  # a project of the user's has no votes; its invariant is its own
        return {"votes": s.cluster.query_one("SELECT COALESCE(SUM(votes), 0) FROM polls_choice")}

    def invariant(self, _body):
        """The value of the query the project's Locust file declares, read from that file here
        (never a query the call names)."""
        s = self._session()
        declared = s.meta.get("scenario", {}).get("invariant")
        if s.cluster is None or not declared:
            raise UserError("no invariant declared for this run")
        return {"sql": declared["sql"], "value": s.cluster.query_one(declared["sql"])}

    def start_sampling(self, _body):
        self._session().sample()
        return {"ok": True}

    def health(self, _body):
        return {"dead": self._session().dead(), "time": time.time()}

    def resources(self, _body):
        return self._session().samples()

    def logs(self, _body):
        s = self._session()
        return {n: (s.logs / n).read_text(errors="replace") for n in LOGS if (s.logs / n).exists()}

    def stop(self, _body):
        if self.session is not None:
            self.session.close()
            log.info(f"stopped the stack of {self.session.run_id}")
            self.session = None
        return {"ok": True}

    def _session(self):
        if self.session is None:
            raise UserError("no stack is running here")
        return self.session

    def _new_session(self, run_id):
        if self.session is not None:
            self.stop({})  # one stack at a time: a controller killed mid-run left this one
        self.session = Session(run_id)

    ROUTES = {
        "/hello": "hello",
        "/time": "clock",
        "/project": "project",
        "/database": "database",
        "/web": "web",
        "/sample": "start_sampling",
        "/votes": "votes",
        "/invariant": "invariant",
        "/health": "health",
        "/resources": "resources",
        "/logs": "logs",
        "/stop": "stop",
    }

    def handle(self, path, body):
        name = self.ROUTES.get(path)
        if name is None:
            return 404, {"error": f"no such call {path}"}
        try:
            return 200, getattr(self, name)(body)
        except (UserError, ComponentFailed) as e:
            return 409, {"error": str(e)}
        except Exception as e:  # reported to the controller, which ends its run
            return 500, {"error": f"{type(e).__name__}: {e}"}


def _run_id(body):
    run_id = body.get("run_id", "run")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise UserError(f"bad run id {str(run_id)[:80]!r}: a run directory's name")
    return run_id


def _clients(body):
    """The addresses nginx may answer: IP addresses only (they go into its configuration)."""
    clients = body.get("clients") or []
    if not isinstance(clients, list) or len(clients) > 256:
        raise UserError("bad clients: a list of addresses")
    try:
        return [str(ipaddress.ip_address(c)) for c in clients]
    except (TypeError, ValueError):
        raise UserError("bad clients: a list of addresses") from None


def _config(body):
    try:
        return config.from_dict(body["config"])
    except (KeyError, TypeError) as e:
        raise UserError(f"bad stack request: {e}") from None


def serve_stdio(bind):
    """One controller over its ssh session: a call a line on stdin, an answer a line on stdout,
    until the input ends or stays silent for the lease; the stack stopped on the way out."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes with the log lines, never into an answer
    live = results.live_runs_dir()
    try:
        lock = results.BenchLock().__enter__()
    except UserError as e:
        busy = [r.removeprefix("stack-") for r in leftovers.live_run_ids(live)]
        if busy:
            raise UserError(f"busy with run {busy[0]} of another controller; wait for it to "
                            "end") from None  # fmt: skip
        raise UserError(str(e)) from None
    bind = reachable_bind(bind, "--bind", loopback_ok=True)  # the controller resolved it
    host = StackHost(bind)
    try:
        leftovers.reap(live)  # what a stack host killed before this one left running
        _answer_lines(host, answers)
    except KeyboardInterrupt:
        pass  # the session closed (SIGHUP) or Ctrl-C
    finally:
        with signals_deferred():
            host.stop({})
            lock.__exit__(None, None, None)


def _answer_lines(host, answers):
    while True:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], ssh.LEASE_S)
        if not ready:
            log.info(f"the controller said nothing for {ssh.LEASE_S:g} s: stopping its stack")
            return
        line = sys.stdin.buffer.readline(ssh.MAX_LINE + 1)
        if not line:
            return  # the session ended: the controller is gone
        try:
            request = json.loads(line)
            path, body = request["call"], request.get("body") or {}
            if not isinstance(path, str) or not isinstance(body, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            status, data = 400, {"error": "the request is not a call"}
        else:
            status, data = host.handle(path, body)
        try:
            answers.write(json.dumps({"status": status, "data": data}, default=str).encode())
            answers.write(b"\n")
            answers.flush()
        except BrokenPipeError:
            return  # the session ended while this call ran
