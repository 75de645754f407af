"""Loading run directories, and the one-line errors for everything that is not one."""

import json
import os
import shutil
from pathlib import Path

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.runs.run import distinct_labels, fresh_stack_per_step, load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"


def test_load_run():
    run = load_run(RUNS / "wsgi_gunicorn")
    assert run.label == "gunicorn (WSGI)"
    assert run.phrase == "WSGI (gunicorn)"
    assert run.run_id == "20240101T000000-gunicorn"
    assert run.planned_users == [10, 20, 30]
    assert run.interface == "wsgi"
    assert list(run.steps["users"]) == [10, 20]
    assert run.knee(0) == 10


def test_async_view_in_label(tmp_path):
    run_dir = _copy(tmp_path, "asgi_uvicorn")
    text = (run_dir / "meta.json").read_text().replace('"view": "sync"', '"view": "async"')
    (run_dir / "meta.json").write_text(text)
    run = load_run(run_dir)
    assert run.label == "uvicorn (ASGI, async views)"
    assert run.phrase == "ASGI (uvicorn, async views)"


def test_fresh_stack_per_step_in_label(tmp_path):
    run_dir = _copy(tmp_path, "asgi_uvicorn")
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["config"]["fresh_stack_per_step"] = True
    (run_dir / "meta.json").write_text(json.dumps(meta))
    run = load_run(run_dir)
    assert run.label == "uvicorn (ASGI, fresh stack per step)"
    assert fresh_stack_per_step(run.meta)
    assert not fresh_stack_per_step(load_run(RUNS / "asgi_uvicorn").meta)


def test_distinct_labels_for_repeated_server():
    a = load_run(RUNS / "wsgi_gunicorn")
    b = load_run(RUNS / "asgi_uvicorn")
    labels = [r.label for r in distinct_labels([a, b, a])]
    assert labels == [
        "gunicorn (WSGI) [20240101T000000-gunicorn]",
        "uvicorn (ASGI)",
        "gunicorn (WSGI) [20240101T000000-gunicorn]",
    ]


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copytree(RUNS / name, target)
    return target


def _error(path) -> str:
    with pytest.raises(AnalysisError) as info:
        load_run(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_path(tmp_path):
    assert _error(tmp_path / "nope") == f"{tmp_path / 'nope'} does not exist"


def test_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    assert _error(tmp_path / "file") == f"{tmp_path / 'file'} is not a directory"


def test_no_meta_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "x").mkdir(parents=True)
    assert _error(Path("results/x")) == "results/x is not a run directory (no meta.json)"


def test_invalid_json(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "meta.json").write_text('{"run_id": "x",\n  "users": [10, }')
    message = _error(run_dir)
    assert message.startswith(f"{run_dir / 'meta.json'} is not valid JSON (")
    assert "line 2" in message


def test_json_not_an_object(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "meta.json").write_text("[1, 2]")
    assert _error(run_dir) == f"{run_dir / 'meta.json'} is not a JSON object"


def test_meta_missing_fields(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "meta.json").write_text('{"run_id": "x", "server": "gunicorn"}')
    assert _error(run_dir) == f"{run_dir / 'meta.json'} lacks field(s): interface, users"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_meta(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "meta.json").chmod(0)
    assert _error(run_dir) == f"cannot read {run_dir / 'meta.json'}: Permission denied"


def test_missing_timeline(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "timeline.csv").unlink()
    assert _error(run_dir) == f"{run_dir} has no timeline.csv: no step was recorded"


def test_broken_requests_csv(tmp_path):
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "requests_2.csv").write_text("ts,name\n1,index\n")
    message = _error(run_dir)
    assert message == (
        f"{run_dir / 'requests_2.csv'} lacks column(s): method, status, ok, cause, response_time_ms"
    )


def test_empty_requests_file_is_no_rows(tmp_path):
    # A Locust process killed before writing its header must not sink the whole run.
    run_dir = _copy(tmp_path, "wsgi_gunicorn")
    (run_dir / "requests_3.csv").write_text("")
    assert list(load_run(run_dir).steps["requests"]) == [20, 12]
