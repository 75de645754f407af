"""Tests of the locustfiles that import Locust, whose gevent patches the whole process (threads
become greenlets that a busy loop never lets run): each file runs in a pytest process of its own,
so the rest of the suite keeps real threads."""

import subprocess
import sys

import pytest

from tests.helpers import ROOT

SIDE = ROOT / "tests" / "locust_side"


@pytest.mark.parametrize("name", ["worker_clock.py", "worker_hello.py"])
def test_in_a_process_of_its_own(name):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SIDE / name)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
