"""Results directories: one per run, never overwritten; meta.json written atomically."""

import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path

import psutil

from djbench.errors import ComponentFailed, UserError

MIN_FREE_BYTES = 200 * 2**20  # a smoke run needs a few MB, an article run some tens
# While a run loads the stack: below LOW_FREE_BYTES free, it is stopped (partial results kept);
# RESERVE_BYTES are set aside in its directory from the start and freed then, so that Locust's
# last rows still fit when something else filled the disk at once; FINAL_RESERVE_BYTES more are
# freed only once the run's processes have stopped, for steps.csv and meta.json, since whatever
# is filling the disk may take the first reserve too.
LOW_FREE_BYTES = 16 * 2**20
RESERVE_BYTES = 4 * 2**20
RESERVE_NAME = ".disk-reserve"
FINAL_RESERVE_BYTES = 2**20
FINAL_RESERVE_NAME = ".disk-reserve-final"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def utc_now():
    return dt.datetime.now(dt.UTC)


def _usable(root, existing):
    """Refuse a results root (or its nearest existing ancestor) we cannot write or fill."""
    if not os.access(existing, os.W_OK):
        raise UserError(f"results directory {root} is not writable")
    if shutil.disk_usage(existing).free < MIN_FREE_BYTES:
        raise UserError(f"disk nearly full: less than {MIN_FREE_BYTES >> 20} MB free under {root}")


def _writable_root(root):
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create results directory {root}: {e.strerror}") from None
    _usable(root, root)
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
    exclusively itself (and so still never overwrites). Nothing is created here, not even root:
    a writer that fails removes what it made, and leaves no empty root behind either."""
    root = Path(root)
    _usable(root, next(p for p in (root.absolute(), *root.absolute().parents) if p.exists()))
    for path in _names(root, name):
        if not path.exists():
            return path
    raise UserError(f"cannot find a free results directory name under {root}")


@contextmanager
def removed_if_unused(path):
    """If the body fails before anything is written under the directory `path`, remove it: a
    failed command leaves no empty results directory behind."""
    try:
        yield path
    except BaseException:
        if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
            shutil.rmtree(path, ignore_errors=True)
        raise


def write_json(path, data):
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the previous version stays whole
        raise


class DiskFull(ComponentFailed):
    """The disk under a run filled up: the run stops like an interrupted one, results kept."""

    def __init__(self, run_dir, detail):
        super().__init__(
            f"disk full under {Path(run_dir).parent} ({detail}): the run was stopped; results "
            "so far are kept, marked incomplete"
        )


def reserve_space(run_dir):
    """Set both reserves aside in the run directory (best effort)."""
    for name, size in ((RESERVE_NAME, RESERVE_BYTES), (FINAL_RESERVE_NAME, FINAL_RESERVE_BYTES)):
        try:
            fd = os.open(Path(run_dir) / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError:
            pass
        finally:
            os.close(fd)


def release_space(run_dir, final=False):
    """Free the first reserve; with final, the last one too."""
    (Path(run_dir) / RESERVE_NAME).unlink(missing_ok=True)
    if final:
        (Path(run_dir) / FINAL_RESERVE_NAME).unlink(missing_ok=True)


def check_disk(run_dir):
    """Raise DiskFull, after freeing the reserve, when the run's disk is nearly full."""
    free = shutil.disk_usage(run_dir).free
    if free < LOW_FREE_BYTES:
        release_space(run_dir)
        raise DiskFull(run_dir, f"{free / 2**20:.1f} MB left")


def as_disk_full(error, run_dir):
    """A DiskFull for an OSError that says the disk is full (a write between two checks), after
    freeing the reserve; None for any other error."""
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        release_space(run_dir)
        return DiskFull(run_dir, f"{error.strerror} writing {error.filename}")
    return None


def _private_dir(path):
    """A directory of ours that no one else can write into (a lock there cannot be planted)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def lock_path():
    """DJBENCH_LOCK, else a directory only this user can write: $XDG_RUNTIME_DIR, else
    $XDG_CACHE_HOME/djbench (~/.cache/djbench), made 0700. A lock in a world-writable place
    (/tmp) lets anyone plant a symlink or block every benchmark."""
    if os.environ.get("DJBENCH_LOCK"):
        return Path(os.environ["DJBENCH_LOCK"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private_dir(runtime):
        return Path(runtime) / "djbench.lock"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "djbench"
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {cache} for the benchmark lock: {e.strerror}") from None
    if not _private_dir(cache):
        raise UserError(f"{cache} is not a directory of yours that only you can write; fix it "
                        "or set DJBENCH_LOCK")  # fmt: skip
    return cache / "djbench.lock"


def live_runs_dir():
    """Records of the runs in progress (djbench/system/leftovers.py), beside the lock."""
    path = lock_path()
    return path.with_name(path.name + ".runs")


def _holder(fd):
    """The PID recorded in the lock file, and whether that process still exists (a process
    started after the PID was written is a new one under a reused PID)."""
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    if not text.isdigit():
        return None, False
    pid = int(text)
    try:
        alive = psutil.Process(pid).create_time() <= os.fstat(fd).st_mtime + 1
    except psutil.Error:
        alive = False
    return pid, alive


def _openers(path):
    """PIDs of the processes that have `path` open (those we may see)."""
    pids = []
    for proc in psutil.process_iter():
        try:
            if any(f.path == str(path) for f in proc.open_files()):
                pids.append(proc.pid)
        except psutil.Error:
            continue
    return pids


class BenchLock:
    """One benchmark at a time: they would compete for the same cores. The lock is per user
    (see lock_path); it holds the PID of the benchmark that took it."""

    def __enter__(self):
        path = lock_path()
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise UserError(f"lock file {path} is a symbolic link; remove it") from None
            raise UserError(f"cannot open lock file {path}: {e.strerror}") from None
        try:
            self._take(fd, path)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def _take(self, fd, path):
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"lock file {path} is not a regular file; remove it")
        if st.st_uid != os.geteuid():
            raise UserError(
                f"lock file {path} belongs to another user (uid {st.st_uid}); remove it or set "
                "DJBENCH_LOCK"
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, alive = _holder(fd)
            if pid is None or alive:
                raise UserError(
                    f"another benchmark is running (PID {pid or 'unknown'}); wait for it to end"
                ) from None
            openers = ", ".join(map(str, _openers(path))) or "unknown"
            raise UserError(
                f"the benchmark lock {path} is held, but PID {pid} that took it no longer "
                f"exists: a process it left behind holds it (processes with it open: PID "
                f"{openers})"
            ) from None
        # Only now, holding the lock, replace the previous holder's PID.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def __exit__(self, *exc):
        os.close(self.fd)
