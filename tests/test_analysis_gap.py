"""The gap study's arithmetic on copies of the `iterations` fixture run (numbers worked out in
tests/test_analysis_accounting.py and below)."""

import json
import shutil
from pathlib import Path

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.studies.gap import parse_groups, study_frame, tables, write
from djbench.cli import main as djbench

RUN = Path(__file__).parent / "fixtures" / "runs" / "iterations"


def copy(tmp_path, run_id, drop_failure=False):
    run = tmp_path / run_id
    shutil.copytree(RUN, run)
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "run_id": run_id}))
    if drop_failure:  # b#2's results page 502 -> 200: step 1 loses one failure
        log = run / "requests-b-2.csv"
        log.write_text(
            log.read_text().replace("114.6,results,GET,502,0,http_502", "114.6,results,GET,200,1,")
        )
    return run


def test_frame_whole_step_and_carry_over(tmp_path):
    frame = study_frame({"a": [copy(tmp_path, "r1")]}).set_index("step")
    assert list(frame["article_pct"]) == pytest.approx([37.5, 100 * 2 / 6])
    assert list(frame["per_request_pct"]) == pytest.approx([100 * 3 / 13, 100 * 2 / 7])
    # Whole step 1 [100, 120): forms a 108.0, 112.0, 113.0F, 119.9 and b 109.0, 114.0 (6, one
    # failed), vote samples a#1 F, a#2, b#1, b#2 F (4) -> 3 of 10. Whole step 2 [120, 135): the
    # window's 6 samples and a#4's vote sample ending at 120.3 -> 2 of 7.
    assert list(frame["article_whole_step_pct"]) == pytest.approx([30.0, 100 * 2 / 7])
    assert list(frame["inflight_at_open"]) == [2, 1]
    assert list(frame["fresh_stack_per_step"]) == [0, 0]


def test_tables(tmp_path):
    groups = {"a": [copy(tmp_path, "r1"), copy(tmp_path, "r2")], "b": [copy(tmp_path, "r3", True)]}
    by_title = {t["title"].split(":")[0]: t for t in tables(study_frame(groups))}
    rows = {r[0]: r[1:] for r in by_title["Failure % by variant"]["rows"]}
    assert rows["a, per request (2 runs)"] == ["23.1 (23.1-23.1)", "28.6 (28.6-28.6)"]
    assert rows["a, article's (2 runs)"] == ["37.5 (37.5-37.5)", "33.3 (33.3-33.3)"]
    # b: step 1 has 2 failures: per request 2 of 13, article's 2 of 8.
    assert rows["b, article's (1 run)"] == ["25.0", "33.3"]
    effects = {
        r[0]: r[1:]
        for r in by_title[
            "Where the differences come from, in failure-% points (article's accounting)"
        ]["rows"]
    }
    assert effects["accounting, a"] == ["+14.4", "+4.8"]  # 37.5 - 23.08, 33.33 - 28.57
    assert effects["whole step, a"] == ["-7.5", "-4.8"]  # 30.0 - 37.5, 28.57 - 33.33
    assert effects["spread (max - min), a"] == ["0.0", "0.0"]
    assert effects["spread (max - min), b"] == ["", ""]  # one run: no spread
    assert effects["b against a"] == ["-12.5", "+0.0"]
    carry = {r[0]: r[1:] for r in by_title["Carry-over"]["rows"]}
    assert carry["a, in flight at open"] == ["2.0", "1.0"]
    assert carry["a, mean in flight"] == ["0.3", "0.3"]  # 0.315, 0.26


def test_write_and_cli(tmp_path, capsys):
    out = tmp_path / "gap"
    assert djbench(["gap", "--out", str(out), f"a={copy(tmp_path, 'r1')}"]) == 0
    assert capsys.readouterr().out == f"gap: {out / 'gap.md'}\n"
    assert (out / "gap.md").read_text().startswith("# Failure % gap")
    assert (out / "gap.csv").read_text().splitlines()[0].startswith("variant,run_id,")
    with pytest.raises(AnalysisError, match="already exists"):
        write({"a": [tmp_path / "r1"]}, out)
    assert djbench(["gap", "--out", str(tmp_path / "x"), "no-name"]) == 2
    assert "djbench: error: bad run 'no-name': expected NAME=RUN_DIR" in capsys.readouterr().err


def test_parse_groups_keeps_repetitions_together():
    assert parse_groups(["a=x", "b=y", "a=z"]) == {"a": [Path("x"), Path("z")], "b": [Path("y")]}
