"""Report writers over bad input or failing half-way: one line, exit 2, and nothing they created
left behind (no empty directory, no half a report)."""

import json
import shutil
from pathlib import Path

import pytest

from djbench import cli
from djbench.analysis import AnalysisError
from tests.helpers import djbench

RUNS = Path(__file__).parent / "fixtures" / "runs"
GOOD = {
    "server": "gunicorn", "interface": "wsgi", "view": "sync", "workers": 5,
    "settings": {"p95_slo_ms": 1000.0, "confirm": 1, "measure_s": 20},
    "probes": [{"users": 10, "failure_pct": 0.0, "p95_ms": 50.0, "run_dir": "probes/a"}],
    "knees": {
        "failures_0": {"users": 10, "bad_users": None, "resolution": 0},
        "failures_1": {"users": 10, "bad_users": None, "resolution": 0},
        "p95": {"users": None, "bad_users": 10, "resolution": 0},
    },
}  # fmt: skip


def knee_dir(tmp_path, data, name="knee"):
    path = tmp_path / name
    path.mkdir()
    text = data if isinstance(data, str) else json.dumps(data)
    (path / "knee.json").write_text(text)
    return path


def without(key):
    return {k: v for k, v in GOOD.items() if k != key}


MALFORMED = {
    "not json": ("{", "not valid JSON"),
    "a list": ([GOOD], "is not a JSON object"),
    "no knees": (without("knees"), "lacks knees"),
    "no server": (without("server"), "lacks server"),
    "probes not a list": ({**GOOD, "probes": {"users": 10}}, "probes is not a list"),
    "a probe's users not a number": (
        {**GOOD, "probes": [{**GOOD["probes"][0], "users": "ten"}]},
        "probes[0].users is 'ten', not a whole number",
    ),
    "a probe without p95": (
        {**GOOD, "probes": [{"users": 10, "failure_pct": 0.0, "run_dir": "a"}]},
        "probes[0] lacks p95_ms",
    ),
    "an objective missing": (
        {**GOOD, "knees": {"failures_0": GOOD["knees"]["failures_0"]}},
        "knees lacks failures_1",
    ),
    "a knee of text": (
        {**GOOD, "knees": {**GOOD["knees"], "p95": {**GOOD["knees"]["p95"], "users": "x"}}},
        "knees.p95.users is 'x', not a whole number or null",
    ),
    "no objective": ({**GOOD, "settings": {}}, "settings lacks p95_slo_ms"),
    "workers true": ({**GOOD, "workers": True}, "workers is True, not a whole number"),
}


@pytest.mark.parametrize("data, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_knee_json_gets_one_line(tmp_path, data, message):
    search = knee_dir(tmp_path, data)
    results = tmp_path / "results"
    done = djbench("knee-report", search, "--results-dir", results, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("djbench: error: "), done.stderr
    assert str(search / "knee.json") in lines[0] and message in lines[0], lines[0]
    assert not results.exists(), "a failed report leaves nothing behind, not even its root"


def test_knee_report_of_a_good_search_still_works(tmp_path):
    search = knee_dir(tmp_path, GOOD)
    done = djbench("knee-report", search, "--results-dir", tmp_path / "results", timeout=120)
    assert done.returncode == 0, done.stderr
    (out,) = (tmp_path / "results").iterdir()
    assert {p.name for p in out.iterdir()} == {"knees.md", "knees.png"}


def failing(*_args, **_kwargs):
    raise OSError(28, "No space left on device")


def test_knee_summary_failing_half_way_removes_what_it_created(tmp_path, monkeypatch):
    import djbench.analysis.report.knee_summary as knee_summary

    search = knee_dir(tmp_path, GOOD)
    monkeypatch.setattr(knee_summary, "_chart", failing)  # after knees.md is written
    out = tmp_path / "new" / "deeper" / "knees"
    with pytest.raises(AnalysisError, match=f"cannot write under {out}: No space left on device"):
        knee_summary.write_knee_summary([search], out)
    assert not (tmp_path / "new").exists()
    assert (search / "knee.json").exists()


def test_knee_report_failing_half_way_keeps_only_knee_json(tmp_path, monkeypatch):
    import djbench.analysis.report.knee_report as knee_report

    search = knee_dir(tmp_path, GOOD)
    monkeypatch.setattr(knee_report.plt, "subplots", failing)  # after knee.md is written
    with pytest.raises(AnalysisError, match="No space left on device"):
        knee_report.write_knee_report(search)
    assert [p.name for p in search.iterdir()] == ["knee.json"]


def test_report_failing_half_way_leaves_no_results_root(tmp_path, monkeypatch, capsys):
    import djbench.analysis.report.build as report

    monkeypatch.setattr(report, "write_charts", failing)
    root = tmp_path / "results"
    status = cli.main(["report", str(RUNS / "wsgi_gunicorn"), "--results-dir", str(root)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"djbench: error: cannot write under {root}/") and err.count("\n") == 1
    assert err.endswith(": No space left on device\n"), err
    assert not root.exists()


def test_report_refused_leaves_no_results_root(tmp_path, capsys):
    root = tmp_path / "results"
    status = cli.main(["report", str(tmp_path / "nothing"), "--results-dir", str(root)])
    assert status == 2
    assert not root.exists()


def calibration(tmp_path):
    """A calibration directory whose first client's run measured nothing."""
    cal = tmp_path / "cal"
    (cal / "runs").mkdir(parents=True)
    runs = []
    for name in ("locust-fast-vote", "locust-http-vote", "locust-fast-detail"):
        run = cal / "runs" / name
        shutil.copytree(RUNS / "asgi_uvicorn", run)
        runs.append({"name": name, "label": name, "scenario": "vote", "run": f"runs/{name}"})
    (cal / "runs" / "locust-fast-vote" / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete\n"
    )
    return cal, runs


def test_calibration_report_over_a_run_without_steps(tmp_path):
    from djbench.analysis.report.calibration import write_report

    cal, runs = calibration(tmp_path)
    with pytest.raises(AnalysisError, match="runs/locust-fast-vote has no measured step"):
        write_report(cal, runs)
    assert not (cal / "calibrate.json").exists() and not (cal / "calibrate.md").exists()


def test_knee_search_that_fails_before_its_first_probe_leaves_no_directory(tmp_path):
    from djbench import config
    from djbench.search import probes as knee_runner

    cfg = config.build("gunicorn", profile="knee", users=(10,))
    settings = {"start": 10, "max_users": 20, "measure_s": 5, "p95_slo_ms": 1000.0,
                "resolution_pct": 10.0, "confirm": 0}  # fmt: skip
    (tmp_path / "results").mkdir()
    with pytest.raises(OSError):
        knee_runner.run(cfg, tmp_path / "results", failing, settings)
    assert not any((tmp_path / "results").iterdir())


def test_a_projects_throughput_chart_has_no_vote_panel():
    import pandas as pd

    from djbench.analysis.charts.users import rps_chart
    from djbench.analysis.runs.run import Run

    steps = pd.DataFrame({"users": [2, 4], "rps": [10.0, 19.0], "iterations_per_s": [3.0, 6.0]})
    run = Run(Path("r"), {"run_id": "r", "users": [2, 4]}, steps, "gunicorn")
    yours = {"run_id": "m", "users": [2, 4], "project": {"builtin": False}}
    mine = Run(Path("m"), yours, steps, "gunicorn")
    polls, project = rps_chart([run]), rps_chart([mine])
    assert [ax.get_title() for ax in polls.axes] == ["All requests", "Vote iterations (vote POSTs)"]
    (ax,) = project.axes
    assert ax.get_title() == "All requests"
    assert list(ax.lines[0].get_ydata()) == [10.0, 19.0]
