"""Repetitions summarised: median (min-max) per step and the knee's spread."""

from pathlib import Path

import pandas as pd

from djbench.analysis.runs.repeats import repetition_blocks
from djbench.analysis.runs.run import Run


def run(run_id, pcts, rps, p95, server="gunicorn", pool=None):
    meta = {
        "run_id": run_id, "server": server, "interface": "wsgi", "view": "sync",
        "mode": "native", "users": [10, 20, 30],
        "config": {"server": server, "db_pool": pool, "repetition": int(run_id[-1])},
    }  # fmt: skip
    steps = pd.DataFrame({
        "step": [1, 2, 3], "users": [10, 20, 30], "requests": [100, 100, 0 if pcts[2] is None
                                                                 else 100],
        "failure_pct": [p if p is not None else float("nan") for p in pcts], "rps": rps,
        "p95_ms": p95,
    })  # fmt: skip
    return Run(Path(run_id), meta, steps, "label")


def test_three_repetitions_give_median_and_range():
    runs = [
        run("r1", [0.0, 0.0, 5.0], [10.0, 20.0, 25.0], [100.0, 200.0, 900.0]),
        run("r2", [0.0, 2.0, 8.0], [11.0, 19.0, 24.0], [110.0, 260.0, 950.0]),
        run("r3", [0.0, 0.0, None], [12.0, 21.0, 0.0], [90.0, 230.0, 0.0]),
    ]
    (block,) = repetition_blocks(runs, (0.0, 1.0))
    assert block["label"] == "gunicorn (WSGI)" and block["runs"] == 3
    assert block["rows"] == [
        ["10", "3", "0.0 (0.0-0.0)", "11.0 (10.0-12.0)", "100 (90-110)"],
        ["20", "3", "0.0 (0.0-2.0)", "20.0 (19.0-21.0)", "230 (200-260)"],
        # r3 had no request at 30 users: left out, not counted as 0 %
        ["30", "2", "6.5 (5.0-8.0)", "24.5 (24.0-25.0)", "925 (900-950)"],
    ]
    # knees at 0 %: r1 20, r2 10, r3 20 (its 30-user step had no request)
    assert block["knees"][0] == "knee at 0 %: median 20 users, 10-20 over 3 runs (20, 10, 20)"
    assert block["knees"][1] == "knee at 1 %: median 20 users, 10-20 over 3 runs (20, 10, 20)"


def test_different_configurations_are_not_repetitions():
    a = run("r1", [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    b = run("r2", [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], pool=[2, 4])
    c = run("r3", [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], server="uvicorn")
    assert repetition_blocks([a, b, c], (0.0,)) == []


def test_report_has_a_repetitions_section(tmp_path):
    import json
    import shutil

    from djbench.analysis.report import build as report

    fixture = Path(__file__).parent / "fixtures" / "runs" / "wsgi_gunicorn"
    copies = []
    for n in (1, 2):
        copy = tmp_path / f"run{n}"
        shutil.copytree(fixture, copy)
        meta = json.loads((copy / "meta.json").read_text())
        meta["run_id"] = f"rep{n}"
        (copy / "meta.json").write_text(json.dumps(meta))
        copies.append(copy)
    report.build(copies, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Repetitions" in text and "### gunicorn (WSGI): 2 runs" in text
    assert "- knee at 0 %: median 10 users, 10-10 over 2 runs (10, 10)" in text
    html = (tmp_path / "report" / "report.html").read_text()
    assert '<div id="repetitions">' in html
