"""The installed `djbench` command imports only packages the project installs.

Inside the checkout, pytest puts the project root on sys.path, so a harness module that imports a
directory which is not an installed package (locustfiles/, tests/) passes every other test and
still breaks `make test` and `make bench` on a fresh machine. Run the installed command from
elsewhere, with nothing added to the path.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DJBENCH = Path(sys.executable).parent / "djbench"


@pytest.mark.skipif(not DJBENCH.exists(), reason="djbench is not installed in this virtualenv")
def test_installed_command_runs_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(DJBENCH), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "usage: djbench" in done.stdout


def test_harness_imports_no_uninstalled_package(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import djbench.cli, djbench.analysis.report.build, djbench.contracts, sys; "
        "print(sorted(sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "locustfiles" not in done.stdout
