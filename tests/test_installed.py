"""djbench installed from its wheel into a fresh virtualenv runs from any directory: the wheel
carries the polls project, the Locust files, the nginx template and the report templates, and
building and installing it prints no warning of ours."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

# pip's own complaint about this machine's pip configuration (index folders that do not exist),
# not about the project.
MACHINE_CONFIG = re.compile(r"^WARNING: Location '.*' is ignored")


def _warnings(output):
    return [
        line
        for line in output.splitlines()
        if re.search(r"warn", line, re.I) and not MACHINE_CONFIG.match(line)
    ]


def _run(argv, **kwargs):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.integration
def test_the_installed_command_benchmarks_from_another_directory(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ into the tree it builds
    skip = shutil.ignore_patterns(".git", ".venv", "results", "build", "__pycache__", "*.egg-info")
    shutil.copytree(ROOT, source, ignore=skip)
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, source])
    assert "Successfully built djbench" in built
    assert _warnings(built) == []
    venv = tmp_path / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv])
    (wheel,) = wheels.glob("djbench-*.whl")
    installed = _run([venv / "bin" / "pip", "install", "-c", ROOT / "constraints.txt", wheel])
    assert _warnings(installed) == []

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [venv / "bin" / "djbench", "bench", "--profile", "smoke", "--mode", "native",
         "--results-dir", "my results"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    runs = [elsewhere / line.removeprefix("results: ") for line in lines if "results: " in line]
    assert [r.name.split("-")[2] for r in runs] == ["gunicorn", "uvicorn"]
    for run in runs:
        assert (run / "steps.csv").read_text().count("\n") == 3  # a header and two steps
    (report,) = [line.removeprefix("report: ") for line in lines if line.startswith("report: ")]
    assert (elsewhere / report / "report.html").exists()
