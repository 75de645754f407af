"""The benchmark lock: where it lives, what it refuses to open, and what it says about a holder."""

import fcntl
import os
import stat
import subprocess

import pytest

from djbench.errors import UserError
from djbench.system.run_dirs import BenchLock, lock_path


@pytest.fixture
def lock(tmp_path, monkeypatch):
    path = tmp_path / "djbench.lock"
    monkeypatch.setenv("DJBENCH_LOCK", str(path))
    return path


def held(path, pid):
    """Take the lock on `path` as another benchmark would, recording `pid` as its holder."""
    holder = open(path, "a+")
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    holder.truncate(0)
    holder.write(f"{pid}\n")
    holder.flush()
    return holder


def reaped_pid():
    """The PID of a process that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_lock_records_its_pid_privately(lock):
    lock.write_text("123456789\n")  # a longer PID of an earlier run must not survive in part
    with BenchLock():
        assert lock.read_text() == f"{os.getpid()}\n"
    with BenchLock():  # released on exit
        pass


def test_new_lock_file_is_private(lock):
    with BenchLock():
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_planted_symlink_is_refused_and_its_target_untouched(lock, tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    lock.symlink_to(target)
    with pytest.raises(UserError, match=f"lock file {lock} is a symbolic link"):
        with BenchLock():
            pass
    assert target.read_text() == "keep me\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_lock_file_of_another_user_is_refused(lock):
    lock.write_text("")
    os.chown(lock, 65534, 65534)  # nobody
    expected = f"lock file {lock} belongs to another user \\(uid 65534\\)"
    with pytest.raises(UserError, match=expected):
        with BenchLock():
            pass


def test_live_holder_is_refused_with_its_pid(lock):
    with held(lock, os.getpid()):
        with pytest.raises(UserError) as refused:
            with BenchLock():
                pass
        assert str(refused.value) == (
            f"another benchmark is running (PID {os.getpid()}); wait for it to end"
        )
        assert lock.read_text() == f"{os.getpid()}\n", "the holder's PID must stay"


def test_stale_holder_is_named_as_such(lock):
    gone = reaped_pid()
    with held(lock, gone):
        with pytest.raises(UserError) as refused:
            with BenchLock():
                pass
    message = str(refused.value)
    assert message.startswith(
        f"the benchmark lock {lock} is held, but PID {gone} that took it no longer exists"
    ), message
    assert "another benchmark is running" not in message
    # this test process holds it through the file it opened
    assert f"PID {os.getpid()}" in message


def test_default_lock_is_in_the_users_runtime_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DJBENCH_LOCK", raising=False)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert lock_path() == runtime / "djbench.lock"


def test_default_lock_without_runtime_dir_is_in_a_private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DJBENCH_LOCK", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lock_path() == tmp_path / ".cache" / "djbench" / "djbench.lock"
    assert stat.S_IMODE((tmp_path / ".cache" / "djbench").stat().st_mode) == 0o700
    with BenchLock():
        assert (tmp_path / ".cache" / "djbench" / "djbench.lock").exists()


def test_runtime_dir_others_can_write_is_not_used(tmp_path, monkeypatch):
    monkeypatch.delenv("DJBENCH_LOCK", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lock_path() == tmp_path / ".cache" / "djbench" / "djbench.lock"
