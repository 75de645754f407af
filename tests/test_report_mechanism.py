"""The report's "How each server served": sentences rendered from the per-step mechanism
columns, checked against numbers chosen by hand (the article's profile as a new user saw it:
uvicorn with 199 of 200 connections open and about one running a query)."""

from pathlib import Path

import pandas as pd

from djbench.analysis.report import mechanism
from djbench.analysis.runs.run import Run

UVICORN = {
    "users": 400, "requests": 5000, "failure_pct": 12.5, "inflight_mean": 260.0,
    "inflight_at_open": 180, "server_processes": 5.0, "threads_per_process_mean": 41.6,
    "threads_per_process_max": 44, "inflight_per_process_mean": 39.8,
    "inflight_per_process_max": 43, "inflight_app_mean": 199.0, "pg_total_mean": 196.0,
    "pg_total_max": 199, "pg_active_mean": 1.4, "pg_idle_mean": 190.0,
    "pg_idle_in_transaction_mean": 4.6, "pg_max_connections": 200, "pg_opened_per_s": 85.0,
}  # fmt: skip
GUNICORN = {
    **UVICORN, "failure_pct": 0.0, "inflight_mean": 300.0, "inflight_at_open": 250,
    "threads_per_process_mean": 1.0, "threads_per_process_max": 1,
    "inflight_per_process_mean": 0.9, "inflight_per_process_max": 1, "inflight_app_mean": 4.5,
    "pg_total_mean": 4.0, "pg_total_max": 5, "pg_active_mean": 0.8, "pg_idle_mean": 3.2,
    "pg_idle_in_transaction_mean": 0.0, "pg_opened_per_s": 120.0,
}  # fmt: skip


def make_run(server, interface, step, fresh=False):
    first = {**step, "users": 200, "inflight_at_open": 3}
    meta = {"run_id": server, "server": server, "interface": interface, "view": "sync",
            "users": [200, 400], "config": {"fresh_stack_per_step": fresh}}  # fmt: skip
    return Run(Path(server), meta, pd.DataFrame([first, step]), f"{server} ({interface})")


def test_one_run_in_words():
    lines = mechanism.run_lines(make_run("uvicorn", "asgi", UVICORN))
    assert lines[0] == (
        "At 400 users, 5 server processes ran the app with 42 threads each on average (at most "
        "44); one process was running 39.8 requests at once on average (at most 43 in a "
        "once-a-second sample), 199.0 in all, while 260.0 were in flight at the load generator: "
        "61.0 waited outside the app (nginx, the listen backlog, the network)."
    )
    assert lines[1] == (
        "PostgreSQL had 196.0 connections open on average (at most 199 of max_connections 200): "
        "1.4 running a query, 190.0 idle, 4.6 idle in a transaction; 85 connections were opened "
        "per second."
    )
    assert lines[2].startswith("Open connections follow the requests inside the app (196.0 open")
    assert "so the 99 % of the open connections not running a query at a given moment" in lines[2]
    assert (
        lines[3] == "Each sync view ran in a thread of its own: up to 43 at once in one "
        "process, on 44 threads."
    )
    assert lines[4].startswith("The open connections reached max_connections (200")


def test_a_sync_worker_in_words():
    lines = mechanism.run_lines(make_run("gunicorn", "wsgi", GUNICORN))
    assert (
        "ran the app with 1 thread each on average (at most 1); one process was running 0.9 "
        "requests at once on average (at most 1" in lines[0]
    )
    assert "295.5 waited outside the app" in lines[0]
    assert "No process ran more than one request at once" in lines[3]
    assert not any("max_connections (" in line for line in lines)


def test_asgi_against_wsgi_and_the_shared_stack():
    runs = [make_run("uvicorn", "asgi", UVICORN), make_run("gunicorn", "wsgi", GUNICORN)]
    (line,) = mechanism.comparison_lines(runs)
    assert line == (
        "At 400 users uvicorn (asgi) was running 199.0 requests at once in the app (39.8 per "
        "process, at most 43) against 4.5 for gunicorn (wsgi) (0.9 per process, at most 1); it "
        "held 196.0 PostgreSQL connections open (at most 199) against 4.0 (at most 5), of which "
        "1.4 against 0.8 were running a query; failures 12.5 % against 0.0 %."
    )
    (stack,) = mechanism.stack_lines(runs[0])
    assert stack.startswith("Its 2 steps share one stack")
    assert stack.endswith("in flight: 3 at 200 users, 180 at 400 users (inflight_at_open in "
                          "steps.csv).")  # fmt: skip
    (fresh,) = mechanism.stack_lines(make_run("uvicorn", "asgi", UVICORN, fresh=True))
    assert fresh.startswith("Each of its 2 steps ran on a stack of its own")


def test_nothing_to_say_without_the_figures():
    old = {k: v for k, v in UVICORN.items() if not k.startswith(("inflight_per", "server_"))}
    assert mechanism.run_lines(make_run("uvicorn", "asgi", old)) == []
    runs = [make_run("uvicorn", "asgi", old), make_run("gunicorn", "wsgi", GUNICORN)]
    assert mechanism.comparison_lines(runs) == []
