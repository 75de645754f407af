"""What a run records about the machine and the software, so its numbers can be compared."""

import functools
import hashlib
import importlib.metadata
import os
import platform
import subprocess

from djbench.paths import PRODUCT_DIRS, PROJECT_SOURCES, ROOT

PACKAGES = ("Django", "asgiref", "psycopg", "psycopg-pool", "locust", "gevent", "geventhttpclient")


def package_versions(names):
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "virtualization": virtualization(),
    }


def host_summary():
    """What a topology says of a host."""
    m = machine()
    return {"name": platform.node(), "cpu_model": m["cpu_model"], "cpu_count": m["cpu_count"]}


def virtualization():
    return dict(_virtualization())


@functools.cache  # a fact of the machine: probed once per process, not at every run's meta
def _virtualization():
    """{"vm": "kvm" | "none" | ..., "container": "docker" | "none" | ...}: a guest's CPUs can
    be taken by its hypervisor (steal time), so a reader must know whether the machine is one.
    systemd-detect-virt when present, else the CPU's hypervisor flag (no container check)."""
    found = {}
    for kind in ("vm", "container"):
        try:
            done = subprocess.run(
                ["systemd-detect-virt", f"--{kind}"], capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired):
            break
        found[kind] = done.stdout.strip() or "none"
    if "vm" not in found:
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((ln for ln in f if ln.startswith("flags")), "")
            found["vm"] = "yes" if " hypervisor" in flags else "none"
        except OSError:
            pass
    return found


def git_revision():
    return git_revision_of(ROOT) or "unknown"


def git_revision_of(path):
    """The commit checked out at path, +dirty with uncommitted changes; None outside git."""

    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True)
        except OSError:  # no git here
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    rev = git("rev-parse", "HEAD")
    if rev and git("status", "--porcelain", "--untracked-files=no", "--", "."):
        rev += "+dirty"
    return rev or None


def versions(server_packages):
    return {"python": platform.python_version(), **package_versions(PACKAGES + server_packages)}


def project_fingerprint():
    """A short hash of the project's own code and templates: equal on two hosts exactly when
    they run the same benchmark (a git revision is not enough: a copy may have no .git, or
    uncommitted changes)."""
    digest = hashlib.sha256()
    for name, top in PROJECT_SOURCES.items():
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(top)
            if name == "djbench" and relative.parts[0] in PRODUCT_DIRS:
                continue  # an installed package holds the other folders: each counts once
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(f"{name}/{relative}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
