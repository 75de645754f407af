"""CPU of a process tree counts children that already exited (PostgreSQL's one-request
backends), which sampling live processes alone would miss."""

import subprocess
import sys

from harness.resources import tree_totals

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"


def test_exited_children_are_counted(tmp_path):
    # A parent that runs 3 short children one after the other, each burning 0.3 s of CPU,
    # then waits: by the time we look, every child has exited and been reaped.
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         f"for _ in range(3): subprocess.run([sys.executable, '-c', {BURN!r}])\n"
         "print('done', flush=True)\ntime.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout.readline().strip() == "done"
        cpu, rss = tree_totals(parent.pid)
        assert cpu >= 0.9 and rss > 0
    finally:
        parent.kill()
        parent.wait()
