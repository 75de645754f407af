"""A deliberately starved load generator is flagged: Locust pinned to a CPU that two busy
processes share with it, at a lower priority, from the second step on. Its CPU share then stays
tiny, so the CPU warning alone would miss it; the loop lag and the offered-vs-started
comparison catch it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from djbench.analysis.runs.metrics import step_metrics
from tests.helpers import ROOT, djbench, last_path, meta, survivors

pytestmark = pytest.mark.integration
HOG = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


def _lower_priority(pid):
    """Nice 19 for every thread of the process and its children (nice is per thread), and for
    its autogroup where the kernel has them: the harness starts Locust in a session of its own,
    and between autogroups only the group's nice counts."""
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        for thread in proc.threads():
            os.setpriority(os.PRIO_PROCESS, thread.id, 19)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text("19")


def _locust_pid(run_dir, timeout=30):
    """Locust's PID from meta.json, written once Locust has started."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid = (meta(run_dir).get("pids") or {}).get("locust")
        if pid:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"no Locust PID in {run_dir}/meta.json")


@pytest.fixture(scope="module")
def starved(tmp_path_factory):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs: one for the stack, one for Locust and the busy processes")
    stack_cpu, locust_cpu = cpus[0], cpus[1]
    results = tmp_path_factory.mktemp("results")
    proc = subprocess.Popen(
        [sys.executable, "-m", "djbench", "run", "--server", "gunicorn", "--workers", "2",
         "--users", "5,20", "--hold", "15", "--warmup", "3", "--spawn-rate", "10",
         "--server-cpus", str(stack_cpu), "--locust-cpus", str(locust_cpu),
         "--mode", "native", "--results-dir", str(results)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    hogs, lines = [], []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("run "):
                run_dir = results / line.split()[1]
            # Step 1's numbers are printed once its window has ended: starve from here on.
            if line.startswith("  step 1/2:") and not hogs:
                _lower_priority(_locust_pid(run_dir))
                # Sessions of their own: their autogroups run at nice 0 whatever this one's is.
                hogs = [
                    subprocess.Popen(
                        [sys.executable, "-c", HOG, str(locust_cpu)], start_new_session=True
                    )
                    for _ in range(2)
                ]
            # Step 2 has ended (its numbers are out): let Locust shut down at full speed.
            if line.startswith("  step 2/2:"):
                break
    except BaseException:
        proc.send_signal(signal.SIGINT)  # the harness stops everything it started
        proc.communicate(timeout=120)
        raise
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    rest, _ = proc.communicate(timeout=300)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert hogs, output
    return last_path(output, "results:"), output


def test_only_the_starved_step_is_flagged(starved):
    run_dir, output = starved
    steps = step_metrics(run_dir).set_index("step")
    print(steps[["users", "generator_pct", "loop_lag_p95_ms", "cpu_locust_pct"]])
    assert steps.loc[1, "generator_limited"] == 0, output
    assert steps.loc[2, "generator_limited"] == 1, output
    # Flagged by what the generator did, not by its CPU: it barely got any.
    assert steps.loc[2, "cpu_locust_pct"] < 50
    assert steps.loc[2, "loop_lag_p95_ms"] > steps.loc[1, "loop_lag_p95_ms"]
    assert survivors(set(meta(run_dir)["pids"].values())) == []


def test_the_report_says_so(starved, tmp_path):
    run_dir, _ = starved
    done = djbench("report", run_dir, "--results-dir", tmp_path)
    assert done.returncode == 0, done.stderr
    md = (last_path(done.stdout, "report:") / "report.md").read_text()
    assert "step 2 (20 users): LOAD GENERATOR LIMITED" in md
    assert "step 1 (5 users): LOAD GENERATOR LIMITED" not in md
