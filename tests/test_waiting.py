import pytest

from djbench.system import waiting
from djbench.system.waiting import poll_until


class FakeClock:
    """time as poll_until sees it: sleeping moves the clock, nothing waits."""

    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(waiting, "time", fake)
    return fake


def answers(*results):
    """A check that returns `results` one per call, and counts its calls."""

    def check():
        check.calls += 1
        return results[check.calls - 1]

    check.calls = 0
    return check


def test_returns_the_first_truthy_result(clock):
    check = answers(None, False, {"port": 5432})
    assert poll_until(check, 30, 0.2, lambda: RuntimeError("never")) == {"port": 5432}
    assert check.calls == 3 and clock.sleeps == [0.2, 0.2]


def test_at_the_timeout_raises_the_callers_error(clock):
    check = answers(*[False] * 10)
    message = "postgres did not accept connections within 1 s"
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        poll_until(check, 1.0, 0.25, lambda: RuntimeError(message))
    assert check.calls == 4  # at 0, 0.25, 0.5 and 0.75 s; at 1 s the time is up


def test_without_an_error_a_timeout_returns_the_last_falsy_result(clock):
    assert poll_until(answers(0, 0, 0, 0, 0, 0), 1.0, 0.5) == 0
    assert clock.sleeps == [0.5, 0.5]


def test_an_exception_from_the_check_ends_the_wait_at_once(clock):
    def check():
        raise RuntimeError("gunicorn exited during start-up:\nboom")

    with pytest.raises(RuntimeError, match="exited during start-up"):
        poll_until(check, 60, 0.1, lambda: RuntimeError("timed out"))
    assert clock.sleeps == []


def test_with_the_real_clock():
    check = answers(False, True)
    assert poll_until(check, 5, 0.01) is True
    with pytest.raises(TimeoutError):
        poll_until(lambda: False, 0.03, 0.01, TimeoutError)
