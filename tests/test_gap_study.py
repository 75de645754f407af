"""The gap study: its options, and two variants of a real smoke run analysed together."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from djbench.cli import main
from djbench.errors import UserError
from djbench.studies.gap_study import _variants
from tests.helpers import ROOT, rows


def test_variants():
    assert _variants(None) == {
        "spawn 50/s": ["--spawn-rate", "50"],
        "spawn 10/s": ["--spawn-rate", "10"],
    }
    assert _variants(["a=--spawn-rate 5 --hold 9", "b="]) == {
        "a": ["--spawn-rate", "5", "--hold", "9"],
        "b": [],
    }
    with pytest.raises(UserError, match="bad variant 'x'"):
        _variants(["x"])
    with pytest.raises(UserError, match="given twice"):
        _variants(["a=", "a=--hold 9"])


def test_bad_repeat_is_one_line(capsys):
    assert main(["gap-study", "--repeat", "0"]) == 2
    assert capsys.readouterr().err == "djbench: error: repeat must be positive, got 0\n"


@pytest.mark.integration
def test_two_variants_at_smoke_scale(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "djbench", "gap-study", "--server", "uvicorn", "--profile", "smoke",
         "--repeat", "1", "--variant", "fast=--spawn-rate 10", "--variant", "slow=--spawn-rate 4",
         "--results-dir", str(tmp_path), "--mode", "native"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("gap study: ") and last.endswith("gap.md")
    out = tmp_path / last.removeprefix("gap study: ").strip()
    study = json.loads((out.parent / "study.json").read_text())
    assert list(study["variants"]) == ["fast", "slow"]
    assert study["common_options"] == ["--mode", "native"]
    table = rows(out.parent / "gap.csv")
    assert [(r["variant"], r["users"]) for r in table] == [
        ("fast", "2"), ("fast", "4"), ("slow", "2"), ("slow", "4"),
    ]  # fmt: skip
    assert [float(r["spawn_rate"]) for r in table] == [10, 10, 4, 4]
    for variant in ("fast", "slow"):
        (run,) = study["variants"][variant]["runs"]
        steps = rows(Path(run) / "steps.csv")  # absolute, as --results-dir was
        assert [s["iteration_ids"] for s in steps] == ["1", "1"]  # a new log pairs by id
    assert "| slow against fast |" in out.read_text()
