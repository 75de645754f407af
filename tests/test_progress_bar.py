"""progress.follow over a synthetic run on a fake clock: the plain lines of a pipe, and on a
terminal the same lines above a live bar of the step with its requests/s and failures."""

import io
import re
import sys
from types import SimpleNamespace

import pytest
from rich.console import Console

from djbench.contracts.files import REQUEST_COLUMNS, TIMELINE, TIMELINE_COLUMNS
from djbench.load import bar, progress
from djbench.load.bar import StepStats

T0 = 1000.0  # epoch s at which the fake run starts
CFG = SimpleNamespace(users=(2, 4), hold_s=10.0, planned_s=20.0, first_step=1)
# Step 1 [1000, 1010): 4 req/s, 2 failed. Step 2 [1010, 1020): 2 req/s for 4 s, then 8 req/s,
# 3 failed. Every request takes 10 ms.
STEP_1 = [T0 + k / 4 for k in range(40)]
STEP_2 = [1010 + k / 2 for k in range(8)] + [1014 + k / 8 for k in range(48)]
FAILED = {1002.0, 1007.5, 1011.0, 1012.5, 1015.0}
PLAIN = [
    "step 1/2: 2 users for 10 s (about 20 s left)",
    "step 2/2: 4 users for 10 s (about 10 s left)",
    "  step 1/2:     2 users      4.0 req/s    5.0 % failed  p95      10 ms",
    "  step 2/2:     4 users      5.6 req/s    5.4 % failed  p95      10 ms",
]


class Clock:
    """time as progress sees it: sleeping moves it on."""

    def __init__(self):
        self.now = T0

    def time(self):
        return self.now

    monotonic = time

    def sleep(self, seconds):
        self.now += seconds


class FakeLocust:
    """alive() at each poll: writes what Locust would have flushed by then, each request a second
    after it completed (and the start of the next line, completed by a later poll), and a step's
    timeline row at its end."""

    def __init__(self, run_dir, clock):
        self.run_dir, self.clock, self.written = run_dir, clock, 0
        self.requests = run_dir / "requests-h-1.csv"
        self.text, self.due_at = ",".join(REQUEST_COLUMNS) + "\n", []
        for ts in STEP_1 + STEP_2:
            ok = 0 if ts in FAILED else 1
            cause = "" if ok else "http_500"
            self.text += f"{ts},detail,GET,{200 if ok else 500},{ok},{cause},10.0,1\n"
            self.due_at.append((ts + 1.0, len(self.text)))
        self.requests.write_text("")
        (run_dir / TIMELINE).write_text(",".join(TIMELINE_COLUMNS) + "\n")
        self.steps_written = 0

    def alive(self):
        now = self.clock.now
        due = max([end for at, end in self.due_at if at <= now], default=0)
        upto = due + 5 if due < len(self.text) else due  # a half line to be completed later
        with open(self.requests, "a") as f:
            f.write(self.text[self.written : max(upto, self.written)])
        self.written = max(upto, self.written)
        for step in (1, 2):
            start = T0 + (step - 1) * CFG.hold_s
            if self.steps_written < step and now >= start + CFG.hold_s:
                with open(self.run_dir / TIMELINE, "a") as f:
                    f.write(f"{step},{CFG.users[step - 1]},{start},{start},{start + 10},1,\n")
                self.steps_written = step
        return now < 1021.0


def follow(tmp_path, monkeypatch, console=None):
    clock = Clock()
    monkeypatch.setattr(progress, "time", clock)
    locust = FakeLocust(tmp_path, clock)
    done = progress.follow(tmp_path, CFG, locust.alive, lambda: None, 600, console=console)
    assert done is False
    return locust


def test_plain_output_is_the_lines_of_today(tmp_path, monkeypatch, capsys):
    follow(tmp_path, monkeypatch)
    assert capsys.readouterr().out.splitlines() == PLAIN


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_terminal_gets_a_live_bar_and_the_same_lines(tmp_path, monkeypatch, capsys):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    follow(tmp_path, monkeypatch, console)
    assert capsys.readouterr().out == ""  # every line went through the live console
    screen = re.split(r"[\r\n]", ANSI.sub("", out.getvalue()))
    bars = [line for line in screen if "━" in line]
    lines = [line for line in screen if line and line not in bars]
    assert lines == PLAIN  # the scroll-back: exactly the plain output
    last = {n: [b for b in bars if b.startswith(f"step {n}/2: {n * 2} users")] for n in (1, 2)}
    # Step 1's last frame (t 1009.5): [1003, 1008) settled, 20 requests in 5 s; 2 failed.
    assert "0:00:09 0:00:01" in last[1][-1] and "4.0 req/s  2 failed" in last[1][-1]
    # Step 2's (t 1020.5): [1014, 1019), 8 req/s, not the step's mean; its own 3 failures.
    assert "8.0 req/s  3 failed" in last[2][-1]
    assert "0:00:10 0:00:00" in last[2][-1]
    # The first frame of a step: less than a second of it on disk, no rate yet.
    assert "-- req/s  0 failed" in last[2][0]


def test_a_knee_probe_is_labelled_with_its_users(tmp_path, monkeypatch):
    # A probe of a knee search is a run of one step: its bar says which probe.
    out = io.StringIO()
    monkeypatch.setattr(progress, "time", Clock())
    cfg = SimpleNamespace(users=(12,), hold_s=5.0, planned_s=5.0, first_step=1, profile="knee")
    polls = iter(range(3))
    progress.follow(
        tmp_path, cfg, lambda: next(polls, None) is not None, lambda: None, 600,
        console=Console(file=out, force_terminal=True, width=120),
    )  # fmt: skip
    text = ANSI.sub("", out.getvalue())
    assert "probe: 12 users ━" in text and "step 1/1: 12 users ━" not in text


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, progress.ComponentFailed])
def test_the_bar_is_stopped_and_the_log_restored_whatever_ends_the_load(
    tmp_path, monkeypatch, capsys, interrupt
):
    out = io.StringIO()
    monkeypatch.setattr(progress, "time", Clock())
    checks = []

    def check():
        checks.append(1)
        if len(checks) == 3:
            raise interrupt("nginx died")

    with pytest.raises(interrupt):
        progress.follow(
            tmp_path, CFG, lambda: True, check, 600,
            console=Console(file=out, force_terminal=True, width=120),
        )  # fmt: skip
    shown, after = out.getvalue().rsplit("━", 1)  # the bar was drawn...
    assert "step 1/2: 2 users ━" in ANSI.sub("", shown)
    assert "\x1b[?25h" in after and after.endswith("\x1b[2K")  # ...then erased, cursor back
    progress.log.info("after the load")  # the log writes to standard output again
    assert capsys.readouterr().out == "after the load\n"


def test_an_error_under_the_bar_stays_on_a_redirected_stderr(tmp_path, monkeypatch, capsys):
    out = io.StringIO()
    monkeypatch.setattr(progress, "time", Clock())
    polls = iter(range(2))

    def alive():
        progress.log.info("a note")
        progress.log.error("an error")
        return next(polls, None) is not None

    progress.follow(
        tmp_path, CFG, alive, lambda: None, 600,
        console=Console(file=out, force_terminal=True, width=120),
    )  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "an error\n" * 3
    assert ANSI.sub("", out.getvalue()).count("a note\n") == 3


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "stdout, env, live",
    [
        (Tty(), {}, True),
        (io.StringIO(), {}, False),  # a pipe, a file, CI
        (Tty(), {"TERM": "dumb"}, False),
        (Tty(), {"DJBENCH_PLAIN": "1"}, False),  # the user forces today's lines
    ],
)
def test_only_a_terminal_gets_the_bar(monkeypatch, stdout, env, live):
    monkeypatch.delenv("DJBENCH_PLAIN", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdout", stdout)
    console = bar.terminal()
    assert (console is not None) is live
    if live:
        assert console.file is stdout and console.is_terminal


def test_step_stats_count_each_row_in_the_step_of_its_timestamp():
    stats = StepStats()
    stats.begin(100.0)
    # Two processes' logs, read one after the other: not in time order.
    stats.add([(104.5, True, 1.0), (99.0, False, 1.0), (101.0, False, 1.0), (103.0, True, 1.0)])
    assert stats.failures == 1  # 99.0 was the step before
    assert stats.rate(100.5) is None  # not a second of the step on disk yet
    assert stats.rate(104.0) == pytest.approx(2 / 4)  # 101.0 and 103.0 in [100, 104)
    stats.add([(110.2, False, 1.0)])  # read before its step was announced
    stats.begin(110.0)
    assert stats.failures == 1
    stats.add([(111.0, True, 1.0), (116.0, True, 1.0), (117.0, True, 1.0)])
    assert stats.rate(118.0) == pytest.approx(2 / 5)  # [113, 118): the last 5 s only
