"""The report's "By Django version": knees, ratios and the release that turned the result,
from runs whose numbers are chosen by hand."""

from pathlib import Path

import pandas as pd

from djbench.analysis.report import versions
from djbench.analysis.runs.run import Run, default_label


def make_run(server, interface, django, failures, pg_total_max=10, p95=(200, 800, 1500),
             threads=(1, 1, 1), inflight=(1, 1, 1)):  # fmt: skip
    """Steps of 100, 200, 300 users with the article's failure % given per step; `threads` and
    `inflight` the most threads and requests at once of one server process per step."""
    steps = pd.DataFrame(
        {
            "step": [1, 2, 3],
            "users": [100, 200, 300],
            "requests": [900, 1800, 2700],
            "article_failure_pct": failures,
            "p95_ms": list(p95),
            "failure_pct": failures,
            "inflight_per_process_mean": [1.0] * 3,
            "pg_total_mean": [5.0] * 3,
            "pg_total_max": [pg_total_max] * 3,
            "pg_active_mean": [0.5, 1.0, 1.5],
            "pg_max_connections": [100] * 3,
            "threads_per_process_max": list(threads),
            "inflight_per_process_max": list(inflight),
        }  # fmt: skip
    )
    meta = {"run_id": f"{server}-{django}", "server": server, "interface": interface,
            "view": "sync", "users": [100, 200, 300],
            "project": {"builtin": True, "spec": {"django": django.rsplit(".", 1)[0]}},
            "versions": {"Django": django, "asgiref": "3.3.4"}}  # fmt: skip
    return Run(Path(server), meta, steps, default_label(meta))


RUNS = [
    make_run("uvicorn", "asgi", "5.2.19", [0.0, 3.0, 9.0], pg_total_max=99),
    make_run("gunicorn", "wsgi", "5.2.19", [0.0, 0.0, 0.5]),
    make_run("gunicorn", "wsgi", "3.0.14", [0.0, 2.0, 5.0]),
    make_run("uvicorn", "asgi", "3.0.14", [0.0, 0.0, 0.0], p95=(100, 300, 500)),
]


def test_a_run_on_another_django_says_which_in_its_label():
    assert RUNS[0].label == "uvicorn (ASGI, Django 5.2.19)"


def test_one_row_per_version_oldest_first_with_knees_and_ratios():
    header, rows, _ = versions.table(RUNS, 1000)
    assert header[:6] == ["Django", "asgiref", "WSGI", "ASGI",
                          "knee p95 ≤ 1000 ms (WSGI / ASGI)", "ratio"]  # fmt: skip
    # p95 within 1000 ms: gunicorn up to 200 users, uvicorn on 3.0 never above it (≥ 300).
    assert rows[0][:10] == ["3.0.14", "3.3.4", "gunicorn", "uvicorn", "200 / ≥ 300", "≥ 1.50",
                            "100 / ≥ 300", "≥ 3.00", "100 / ≥ 300", "≥ 3.00"]  # fmt: skip
    assert rows[0][10] == "at 300 users: 10 of 100 open, 1.5 running a query"
    # 5.2: WSGI never broke 1 % (≥ 300) while ASGI broke it after 100 users: ratio at most 1/3.
    assert rows[1][4:10] == ["200 / 200", "1.00", "200 / 100", "0.50", "≥ 300 / 100", "≤ 0.33"]
    assert rows[1][10] == "at 300 users: 99 of 100 open, 1.5 running a query"


def test_the_release_that_turned_the_result_is_named():
    _, _, found = versions.table(RUNS, 1000)
    assert versions.change_sentence(found, "1 %") == (
        "ASGI carried more users than WSGI with at most 1 % failures on Django 3.0.14 (ratio "
        "≥ 3.00) and fewer on Django 5.2.19 (ratio ≤ 0.33): the change lies between these two "
        "releases."
    )
    assert versions.change_sentence(found, "0 %").startswith(
        "ASGI carried more users than WSGI without error on Django 3.0.14 (ratio ≥ 3.00) and "
        "fewer on Django 5.2.19 (ratio 0.50)"
    )


def test_no_turn_is_said_too():
    same = [make_run("gunicorn", "wsgi", d, [0.0, 2.0, 5.0]) for d in ("4.2.30", "5.2.19")]
    same += [make_run("uvicorn", "asgi", d, [0.0, 0.0, 3.0]) for d in ("4.2.30", "5.2.19")]
    _, _, found = versions.table(same, 1000)
    assert versions.change_sentence(found, "1 %") == (
        "ASGI carried more users than WSGI with at most 1 % failures on every version measured "
        "(Django 4.2.30: 2.00, Django 5.2.19: 2.00): no release in between turned the result."
    )


def test_runs_on_one_django_have_no_such_section():
    assert versions.table(RUNS[:2], 1000)[1] == []
    plain = [Run(r.path, {**r.meta, "project": {"builtin": True}}, r.steps, r.label) for r in RUNS]
    assert versions.table(plain, 1000)[1] == []


def test_the_jump_in_threads_per_process_is_said_with_its_figures():
    runs = [
        make_run("uvicorn", "asgi", "3.2.25", [0.0] * 3, pg_total_max=5, threads=(3, 3, 3),
                 inflight=(4, 30, 66)),
        make_run("uvicorn", "asgi", "4.0.10", [0.0] * 3, pg_total_max=147, threads=(5, 35, 70),
                 inflight=(5, 30, 58)),
    ]  # fmt: skip
    assert versions.threads_sentence(runs) == (
        "The ASGI server ran its sync views on at most 3 threads per process on Django 3.2.25 "
        "(at 300 users: up to 66 requests at once in one process, 5 PostgreSQL connections "
        "open) and on up to 70 on Django 4.0.10 (at 300 users: up to 58 requests at once, 147 "
        "connections open): on 4.0.10 each request in a process ran on a thread and a "
        "connection of its own, where on 3.2.25 a process's requests shared its 3 threads. "
        "Django 4.0 made that change: its ASGIHandler runs each request's sync code on a thread "
        "of its own (asgiref's ThreadSensitiveContext, ticket #32889)."
    )
    # 70 threads is not three times 30: no jump to speak of.
    runs[0] = make_run("uvicorn", "asgi", "3.2.25", [0.0] * 3, threads=(3, 3, 30))
    assert versions.threads_sentence(runs) == ""


def test_a_jump_away_from_django_4_0_names_no_release():
    runs = [make_run("uvicorn", "asgi", d, [0.0] * 3, threads=t, inflight=(9, 9, 9))
            for d, t in (("4.2.30", (3, 3, 3)), ("5.2.19", (9, 9, 9)))]  # fmt: skip
    assert versions.threads_sentence(runs).endswith(
        "where on 4.2.30 a process's requests shared its 3 threads."
    )


def test_a_version_where_neither_broke_is_said_not_known():
    runs = [make_run("gunicorn", "wsgi", d, [0.0, 0.0, 0.0]) for d in ("3.0.14", "4.2.30")]
    runs += [make_run("uvicorn", "asgi", "3.0.14", [0.0, 0.0, 0.0]),
             make_run("uvicorn", "asgi", "4.2.30", [0.0, 3.0, 9.0]),
             make_run("gunicorn", "wsgi", "5.2.19", [0.0, 0.0, 0.0]),
             make_run("uvicorn", "asgi", "5.2.19", [0.0, 3.0, 9.0])]  # fmt: skip
    _, _, found = versions.table(runs, 1000)
    assert versions.change_sentence(found, "1 %") == (
        "ASGI carried fewer users than WSGI with at most 1 % failures on every version with a "
        "ratio (Django 4.2.30: ≤ 0.33, Django 5.2.19: ≤ 0.33): no release in between turned the "
        "result. On Django 3.0.14 neither server broke within the steps: the ratio there is not "
        "known."
    )


def test_an_asgi_run_past_its_objective_at_the_first_step_still_has_a_ratio():
    # Django 5.2: uvicorn's p95 over 1000 ms from the first step (100 users), gunicorn within it
    # up to 200: ASGI carried fewer than 100 / 200 of WSGI's users.
    runs = [make_run("gunicorn", "wsgi", "5.2.19", [0.0] * 3),
            make_run("uvicorn", "asgi", "5.2.19", [0.0] * 3, p95=(1500, 3000, 5000)),
            make_run("gunicorn", "wsgi", "3.0.14", [0.0] * 3, p95=(900, 1500, 2000)),
            make_run("uvicorn", "asgi", "3.0.14", [0.0] * 3, p95=(500, 900, 1500))]  # fmt: skip
    _, rows, found = versions.table(runs, 1000)
    assert rows[1][4:6] == ["200 / < first step", "< 0.50"]
    assert versions.change_sentence(found, "p95 ≤ 1000 ms") == (
        "ASGI carried more users than WSGI within p95 ≤ 1000 ms on Django 3.0.14 (ratio 2.00) "
        "and fewer on Django 5.2.19 (ratio < 0.50): the change lies between these two releases."
    )
