"""The run's own cost, phase by phase, from hand-made records."""

import json

import pytest

from djbench.analysis.errors import AnalysisError
from djbench.analysis.studies.overhead import markdown, overhead_table
from djbench.cli import main


def _run(path, load_started=True):
    path.mkdir()
    meta = {
        "run_id": path.name, "server": "gunicorn", "interface": "wsgi", "users": [2, 4],
        "profile": "smoke",
        "started_at": "2026-01-01T00:00:00+00:00",  # epoch 1767225600
        "ended_at": "2026-01-01T00:00:30+00:00",
    }  # fmt: skip
    if load_started:
        meta["load_started_at"] = "2026-01-01T00:00:04+00:00"
    (path / "meta.json").write_text(json.dumps(meta))
    t = 1767225600
    (path / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete\n"
        f"1,2,{t + 5},{t + 7},{t + 15},1\n2,4,{t + 15},{t + 16},{t + 26},1\n"
    )
    (path / "resources.csv").write_text(
        "ts,component,cpu_pct,rss_mb\n"
        f"{t + 5},harness,10.0,50\n{t + 6},harness,30.0,50\n{t + 6},locust,80.0,60\n"
    )
    return path


def test_phases_as_a_share_of_the_measured_time(tmp_path):
    (row,) = overhead_table([_run(tmp_path / "a")]).to_dict("records")
    # measured 8 + 10 = 18 s; start-up 4, Locust start 1, ramp-up + warm-up 2 + 1, teardown 4
    assert row["measured (s)"] == 18
    assert (row["start-up (s)"], row["Locust start (s)"]) == (4, 1)
    assert (row["ramp-up + warm-up (s)"], row["teardown (s)"]) == (3, 4)
    assert row["overhead (% of measured)"] == pytest.approx(100 * 12 / 18)
    # harness only: mean of 10 and 30; CPU seconds 0.1 x 1 s (first sample) + 0.3 x 1 s
    assert row["harness CPU (%)"] == 20 and row["harness CPU (s)"] == pytest.approx(0.4)


def test_older_runs_count_locust_start_as_start_up(tmp_path, capsys):
    (row,) = overhead_table([_run(tmp_path / "a", load_started=False)]).to_dict("records")
    assert (row["start-up (s)"], row["Locust start (s)"]) == (5, 0)
    assert main(["overhead", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| run | profile | steps | measured (s) |")
    assert out[2] == "| a | smoke | 2 | 18.0 | 5.0 | 0.0 | 3.0 | 4.0 | 66.7 | 20.0 | 0.4 |"
    assert markdown(overhead_table([tmp_path / "a"])).splitlines()[2] == out[2]


def test_a_run_without_records_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["overhead", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("djbench: error: cannot read")
    with pytest.raises(AnalysisError):
        overhead_table([tmp_path / "x"])
