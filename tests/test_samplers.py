"""The machine and PostgreSQL samplers write what the analysis reads, and a database that cannot
be reached leaves the run going with a header-only file."""

import os
import time

import psycopg

from djbench.analysis.runs.samples import read_pg_activity, read_system
from djbench.sampling.system import PgActivitySampler, SystemSampler
from djbench.system.processes import free_port


def test_system_sampler(tmp_path):
    sampler = SystemSampler(tmp_path / "system.csv", interval=0.1)
    sampler.start()
    time.sleep(0.55)
    sampler.stop()
    system = read_system(tmp_path)
    assert len(system) >= 3
    assert (system["cpus"] == os.cpu_count()).all()
    # user + system + iowait + steal + idle is the whole machine (nothing else is sampled here:
    # nice is counted with user, irq and softirq with system).
    shares = system[["user_pct", "system_pct", "iowait_pct", "steal_pct", "idle_pct"]]
    assert ((shares.sum(axis=1) - 100).abs() <= 0.3).all()  # five values rounded to 0.1
    assert (system["mem_used_mb"] > 0).all() and (system["mem_available_mb"] > 0).all()


def test_pg_sampler_without_a_database(tmp_path):
    port = free_port()  # nothing listens there

    def connect():
        return psycopg.connect(host="127.0.0.1", port=port, connect_timeout=1)

    sampler = PgActivitySampler(tmp_path / "pg_activity.csv", connect, interval=0.1)
    sampler.start()
    time.sleep(0.35)
    sampler.stop()
    assert read_pg_activity(tmp_path).empty
