"""A user's project as a short hash: equal on two hosts exactly when they hold the same project
at the same path, with the same files the run names (requirements, dump, Locust file, URLS
file). Across hosts, the stack host runs the project from the path the controller was given,
and a copy that differs is refused before anything starts."""

import functools
import hashlib
from pathlib import Path

from djbench.project.spec import ProjectSpec

# Not the project: version control, environments, caches, and the developer's local database.
SKIPPED_DIRS = {"__pycache__", "node_modules"}
SKIPPED_SUFFIXES = {".pyc", ".sqlite3"}


def of(spec: ProjectSpec) -> str:
    digest = hashlib.sha256(spec.path.encode() + b"\0")
    root = spec.root
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if _skipped(relative) or not path.is_file():
            continue
        digest.update(f"{relative}\0{file_hash(path)}\0".encode())
    for name in ("requirements", "dump", "locustfile", "urls"):
        named = getattr(spec, name)
        if named:
            digest.update(f"{name}\0{named}\0{file_hash(Path(named))}\0".encode())
    return digest.hexdigest()[:12]


def _skipped(relative):
    parents = relative.parts[:-1]
    hidden = any(part.startswith(".") or part in SKIPPED_DIRS for part in parents)
    return hidden or relative.suffix in SKIPPED_SUFFIXES


def file_hash(path):
    stat = path.stat()
    return _hash(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _hash(path, _size, _mtime_ns):
    """A file's SHA-256, once per content a command sees (a dump may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
