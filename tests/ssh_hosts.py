"""An OpenSSH server on each of a test's network-namespace hosts (tests/netns.py), with keys
the test makes: a client key authorised on every host, a host key per host, and an ssh config
(DJBENCH_SSH_CONFIG) that knows exactly those host keys. Each sshd listens on its host's own
address only and gives the sessions it starts that host's benchmark lock (DJBENCH_LOCK), as
separate machines would have their own."""

import os
import shutil
import subprocess
import time
from pathlib import Path

from djbench.system import prerequisites

SSHD = prerequisites.SSHD
# Debian's faketime package: a clock of its own for every process of a session that preloads it.
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def available():
    """(True, "") when ssh, sshd and libfaketime are installed, else (False, why)."""
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None:
        return False, "openssh-server and openssh-client are not installed"
    if not LIBFAKETIME.exists():
        return False, "faketime is not installed"
    return True, ""


def _keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(f"{path}.pub").read_text().split()[:2]


def start(hosts, names, tmp, pythonpath, session_env=None):
    """sshd on each of `names` (hosts.sshd: name -> its listener's PID); returns the ssh
    config's path. session_env: name -> {variable: value} more for that host's sessions."""
    hosts.sshd = {}
    d = Path(tmp) / "ssh"
    d.mkdir(mode=0o700)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    client_type, client_key = _keygen(d / "id_ed25519")
    (d / "authorized_keys").write_text(f"{client_type} {client_key}\n")
    known = []
    for name in names:
        key_type, key = _keygen(d / f"host-{name}")
        known.append(f"{hosts.address[name]} {key_type} {key}")
        config = d / f"sshd-{name}.conf"
        more = "".join(f" {k}={v}" for k, v in (session_env or {}).get(name, {}).items())
        config.write_text(
            f"ListenAddress {hosts.address[name]}\nPort 22\nHostKey {d}/host-{name}\n"
            f"PidFile {d}/sshd-{name}.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"SetEnv DJBENCH_LOCK={tmp}/{name}.lock PYTHONPATH={pythonpath}{more}\n"
        )
        log = open(d / f"sshd-{name}.log", "w")
        hosts.sshd[name] = hosts.start(name, [SSHD, "-D", "-e", "-f", str(config)], stdout=log,
                                       stderr=subprocess.STDOUT).pid  # fmt: skip
    (d / "known_hosts").write_text("\n".join(known) + "\n")
    ssh_config = d / "config"
    ssh_config.write_text(
        f"Host *\n  User root\n  IdentityFile {d}/id_ed25519\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n"
        "  LogLevel ERROR\n"
    )
    for name in names:
        _wait_listening(d / f"sshd-{name}.log")
    return ssh_config


def _wait_listening(log, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Server listening on" in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"sshd did not start: {log.read_text()}")


def stepped_clock(offset_file):
    """A session environment whose processes' clocks read the system's plus the offset written
    to offset_file ("+0", "+3": seconds), re-read every second. Their monotonic clocks move
    with it: with DONT_FAKE_MONOTONIC, libfaketime 0.9.10 makes time.sleep fail (EINVAL)."""
    Path(offset_file).write_text("+0\n")
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": offset_file,
            "FAKETIME_CACHE_DURATION": 1}  # fmt: skip


def listeners(hosts, name):
    """(address, port, process name) of every TCP listener on host `name` (ss -tlnp)."""
    out = subprocess.run(["ip", "netns", "exec", hosts.ns(name), "ss", "-tlnpH"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    found = []
    for line in out.splitlines():
        fields = line.split()
        local, users = fields[3], " ".join(fields[5:])
        address, _, port = local.rpartition(":")
        process = users.split('"')[1] if '"' in users else "?"
        found.append((address.strip("[]"), int(port), process))
    return found
