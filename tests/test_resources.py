"""CPU of a process tree counts children that already exited (PostgreSQL's one-request
backends), which sampling live processes alone would miss."""

import subprocess
import sys

from djbench.sampling.resources import tree_totals

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


def test_the_harness_counts_its_own_cpu_not_its_childrens(tmp_path):
    from djbench.sampling.resources import HARNESS, Sampler, own_totals

    before = own_totals()[0]
    subprocess.run([sys.executable, "-c", BURN], check=True)  # a reaped child: not ours
    after_child = own_totals()[0]
    exec(BURN)  # 0.3 s of this process's own CPU
    after_own = own_totals()[0]
    assert after_child - before < 0.15
    assert after_own - after_child >= 0.25  # psutil counts in clock ticks

    sampler = Sampler(tmp_path / "resources.csv", {}, interval=0.2)
    sampler.start()
    exec(BURN.replace("0.3", "0.6"))
    sampler.stop()
    rows = (tmp_path / "resources.csv").read_text().splitlines()
    assert rows[0].startswith("ts,component,cpu_pct,rss_mb")
    samples = [row.split(",") for row in rows[1:]]
    assert samples and {s[1] for s in samples} == {HARNESS}
    assert max(float(s[2]) for s in samples) > 20  # busy for 0.6 s, sampled every 0.2 s
