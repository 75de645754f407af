"""Results directories: one per run, never overwritten; meta.json written atomically."""

import datetime as dt
import fcntl
import json
import os
import shutil
from pathlib import Path

from .errors import UserError

MIN_FREE_BYTES = 200 * 2**20  # a smoke run needs a few MB, an article run some tens


def utc_now():
    return dt.datetime.now(dt.UTC)


def _writable_root(root):
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create results directory {root}: {e.strerror}") from None
    if not os.access(root, os.W_OK):
        raise UserError(f"results directory {root} is not writable")
    if shutil.disk_usage(root).free < MIN_FREE_BYTES:
        raise UserError(f"disk nearly full: less than {MIN_FREE_BYTES >> 20} MB free under {root}")
    return root


def _names(root, name):
    stem = f"{utc_now():%Y%m%d-%H%M%S}-{name}"
    yield root / stem
    for n in range(2, 1000):
        yield root / f"{stem}-{n}"


def new_dir(root, name):
    """Create root/<timestamp>-<name>[-N] exclusively and return it."""
    for path in _names(_writable_root(root), name):
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UserError(f"cannot find a free results directory name under {root}")


def free_name(root, name):
    """A root/<timestamp>-<name>[-N] that does not exist yet, for a writer that creates it
    exclusively itself (and so still never overwrites)."""
    for path in _names(_writable_root(root), name):
        if not path.exists():
            return path
    raise UserError(f"cannot find a free results directory name under {root}")


def write_json(path, data):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def lock_path():
    return Path(os.environ.get("DJBENCH_LOCK", "/tmp/djbench.lock"))


def live_runs_dir():
    """Records of the runs in progress (harness/leftovers.py), beside the lock."""
    path = lock_path()
    return path.with_name(path.name + ".runs")


class BenchLock:
    """One benchmark at a time per machine: they would compete for the same cores."""

    def __enter__(self):
        self.file = open(lock_path(), "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            raise UserError(
                f"another benchmark is running (PID {holder}); wait for it to end"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()
