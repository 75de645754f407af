"""The article-format table, the article's reference numbers and the knee sentences."""

import math
from pathlib import Path

import pandas as pd
import pytest

from djbench.analysis.report.article import load_reference
from djbench.analysis.report.table import failure_table, knee_sentence, table_markdown, write_table
from djbench.analysis.runs.run import Run, load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
ARTICLE_USERS = [100, 200, 300, 400, 500, 600, 700]


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def fixture_runs():
    return [load_run(RUNS / "wsgi_gunicorn"), load_run(RUNS / "asgi_uvicorn")]


def make_run(server, interface, pcts, users=ARTICLE_USERS):
    """A run in memory: one step per non-None value of pcts (in the article's accounting),
    planned over all of `users`. Per request the failure % is two thirds of it, per vote
    attempted twice it: the table and the knees must read the article's."""
    rows = [
        {
            "step": i + 1,
            "users": u,
            "complete": 1,
            "requests": 1000,
            "article_failure_pct": p,
            "failure_pct": p * 2 / 3,
            "iteration_failure_pct": 2 * p,
        }  # fmt: skip
        for i, (u, p) in enumerate(zip(users, pcts, strict=True))
        if p is not None
    ]
    meta = {"run_id": f"mem-{server}", "server": server, "interface": interface, "users": users}
    return Run(Path(server), meta, pd.DataFrame(rows), f"{server} ({interface.upper()})")


def test_reference_is_the_articles_table(reference):
    wide = reference.pivot(index="series", columns="users", values="failure_pct")
    assert list(wide.columns) == ARTICLE_USERS
    assert list(wide.loc["WSGI (article, 2020)"]) == [0, 0, 0, 5, 12, 35, 50]
    assert list(wide.loc["ASGI (article, 2020)"]) == [0, 0, 0, 0, 0, 15, 20]
    assert set(reference["source"]) == {
        "A Guide to ASGI in Django 3.0 and its Performance; Arun Ravindran; 2020-03-10"
    }


def test_failure_table_cells(fixture_runs, reference):
    table = failure_table(fixture_runs, reference)
    assert list(table.columns) == [10, 20, 30, *ARTICLE_USERS]
    gunicorn = table.loc["gunicorn (WSGI)"]
    # Step 2 (its log has no iteration ids): forms = detail GETs 14.0, 15.2, 16.4 (timeout),
    # 18.1; vote samples end with the failed votes 14.3, 16.9 (502) and the results pages 15.7,
    # 18.7 -> 3 failed of 8 = 37.5 %.
    # 30 users planned but never run -> blank.
    assert (gunicorn[10], gunicorn[20]) == (0.0, 37.5)
    assert math.isnan(gunicorn[30])
    # Per request 3 of 12 (the index pages 14.8 and 17.5, results 15.7 and 18.7 count too).
    # Per vote attempted (no ids: an iteration ends with a results page or a failed request):
    # results 15.7, 18.7 and failures 14.3, 16.4, 16.9 -> 3 of 5.
    assert table.loc["gunicorn (WSGI), per request", 20] == 25.0
    assert table.loc["gunicorn (WSGI), votes attempted", 20] == 60.0
    # uvicorn's 30-user step ran without completing a request: no percentage either.
    assert list(table.loc["uvicorn (ASGI)", [10, 20]]) == [0.0, 0.0]
    assert math.isnan(table.loc["uvicorn (ASGI)", 30])
    assert table.loc["WSGI (article, 2020)", 600] == 35
    assert table.loc["WSGI (article, 2020)", [10, 20, 30]].isna().all()


def test_markdown_keeps_different_user_steps_apart(fixture_runs, reference):
    md = table_markdown(fixture_runs, reference)
    ours, article_part = md.split("The article used 100..700 users; its published table:")
    assert "| Failure % / users | 10 | 20 | 30 |" in ours
    assert "| gunicorn (WSGI) | 0.0 | 37.5 |  |" in ours
    assert "| uvicorn (ASGI) | 0.0 | 0.0 | n/a |" in ours
    assert "article" not in ours.split("\n\n")[0]
    assert "| Failure % / users | 100 | 200 | 300 | 400 | 500 | 600 | 700 |" in article_part
    assert "| WSGI (article, 2020) | 0 | 0 | 0 | 5 | 12 | 35 | 50 |" in article_part
    assert "| ASGI (article, 2020) | 0 | 0 | 0 | 0 | 0 | 15 | 20 |" in article_part.split("\n\n")[1]
    other = article_part.split("\n\n", 2)[2]
    assert other.startswith("The same steps counted two other ways")
    assert "| gunicorn (WSGI), per request | 0.0 | 25.0 |  |" in other
    assert "| gunicorn (WSGI), votes attempted | 0.0 | 60.0 |  |" in other


def test_one_table_when_user_steps_match_the_article(reference):
    wsgi = make_run("gunicorn", "wsgi", [0, 0, 0, 4.96, 12.04, 35.0, 49.94])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 15.0, None])
    md = table_markdown([wsgi, asgi], reference)
    assert "The article used" not in md
    lines = md.splitlines()
    assert lines[0] == "| Failure % / users | 100 | 200 | 300 | 400 | 500 | 600 | 700 |"
    # Rounded to one decimal: 4.96 -> 5.0, 12.04 -> 12.0, 49.94 -> 49.9.
    assert lines[2] == "| gunicorn (WSGI) | 0.0 | 0.0 | 0.0 | 5.0 | 12.0 | 35.0 | 49.9 |"
    assert lines[3] == "| uvicorn (ASGI) | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 | 15.0 |  |"
    assert lines[4] == "| WSGI (article, 2020) | 0 | 0 | 0 | 5 | 12 | 35 | 50 |"
    assert lines[5] == "| ASGI (article, 2020) | 0 | 0 | 0 | 0 | 0 | 15 | 20 |"


def test_write_table(tmp_path, fixture_runs, reference):
    md, csv = write_table(fixture_runs, reference, tmp_path)
    assert md.read_text().startswith("# Failure % by number of users\n")
    lines = csv.read_text().splitlines()
    assert lines[0] == "series,10,20,30,100,200,300,400,500,600,700"
    assert lines[1] == "gunicorn (WSGI),0.0,37.5,,,,,,,,"
    assert lines[2] == "uvicorn (ASGI),0.0,0.0,,,,,,,,"
    assert lines[3] == '"WSGI (article, 2020)",,,,0.0,0.0,0.0,5.0,12.0,35.0,50.0'
    assert lines[5] == '"gunicorn (WSGI), per request",0.0,25.0,,,,,,,,'
    assert lines[7] == '"gunicorn (WSGI), votes attempted",0.0,60.0,,,,,,,,'


def test_knee_sentence_as_the_article_states_it(reference):
    wsgi = make_run("gunicorn", "wsgi", [0, 0, 0, 5.0, 12.0, 35.0, 50.0])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 15.0, 20.0])
    assert knee_sentence([wsgi, asgi], 0, reference) == (
        "About 300 users without error under WSGI (gunicorn) and 500 under ASGI (uvicorn): "
        "ASGI/WSGI knee ratio 1.67 (+67 %). The article: about 300 and 500 (+66 %)."
    )
    # At 1 % the article's table gives the same knees, computed rather than quoted.
    assert knee_sentence([wsgi, asgi], 1, reference) == (
        "About 300 users with at most 1 % failures under WSGI (gunicorn) and 500 under "
        "ASGI (uvicorn): ASGI/WSGI knee ratio 1.67 (+67 %). "
        "The article's table at 1 %: about 300 and 500 (+67 %)."
    )


def test_knee_sentence_zero_and_one_percent_differ(reference):
    wsgi = make_run("gunicorn", "wsgi", [0, 0.4, 0.8, 5.0, 12.0, 35.0, 50.0])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 15.0, 20.0])
    assert knee_sentence([wsgi, asgi], 0, reference).startswith(
        "About 100 users without error under WSGI (gunicorn) and 500 under ASGI (uvicorn): "
        "ASGI/WSGI knee ratio 5.00 (+400 %)."
    )
    assert knee_sentence([wsgi, asgi], 1, reference).startswith(
        "About 300 users with at most 1 % failures under WSGI (gunicorn) and 500"
    )


def test_knee_sentence_with_errors_at_the_smallest_step(reference):
    wsgi = make_run("gunicorn", "wsgi", [1.5, 3.0, 9.0, 20.0, 30.0, 40.0, 50.0])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 15.0, 20.0])
    assert knee_sentence([wsgi, asgi], 0, reference) == (
        "WSGI (gunicorn): errors already at the smallest step, 100 users; "
        "ASGI (uvicorn): about 500 users without error. No ASGI/WSGI knee ratio. "
        "The article: about 300 and 500 (+66 %)."
    )
    assert knee_sentence([wsgi, asgi], 1, reference).startswith(
        "WSGI (gunicorn): more than 1 % failures already at the smallest step, 100 users; "
    )


def test_knee_sentence_lower_bound_and_other_runs(reference):
    wsgi = make_run("gunicorn", "wsgi", [0, 0, 0, 5.0, 12.0, 35.0, 50.0])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 0, 0])
    daphne = make_run("daphne", "asgi", [0, 0, 0, 0, 2.0, 9.0, 20.0])
    assert knee_sentence([wsgi, asgi, daphne], 0, reference) == (
        "About 300 users without error under WSGI (gunicorn) and 700 under ASGI (uvicorn): "
        "ASGI/WSGI knee ratio at least 2.33 (+133 %). Other runs: daphne (ASGI): about 400 users "
        "without "
        "error. ASGI (uvicorn) stayed without error up to its largest step, so its knee is at "
        "least 700 users. The article: about 300 and 500 (+66 %)."
    )


def test_knee_ratio_is_a_bound_when_a_server_never_broke(reference):
    never = make_run("gunicorn", "wsgi", [0, 0, 0, 0, 0, 0, 0])
    broke = make_run("uvicorn", "asgi", [0, 0, 1.4, 10.5, 13.3, 12.1, 17.9])
    assert "ASGI/WSGI knee ratio at most 0.29 (-71 %)." in knee_sentence(
        [never, broke], 0, reference
    )
    other = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 0, 0])
    assert "ASGI/WSGI knee ratio not known: neither broke within the steps run." in (
        knee_sentence([never, other], 0, reference)
    )


def test_knee_sentence_on_fixture_runs(fixture_runs, reference):
    # gunicorn: 0 % at 10 users, 25 % at 20. uvicorn: 0 % at 10 and 20, no request at 30.
    assert knee_sentence(fixture_runs, 0, reference) == (
        "About 10 users without error under WSGI (gunicorn) and 20 under ASGI (uvicorn): "
        "ASGI/WSGI knee ratio 2.00 (+100 %). The article: about 300 and 500 (+66 %)."
    )
    assert knee_sentence(fixture_runs[:1], 0, reference) == (
        "WSGI (gunicorn): about 10 users without error. The article: about 300 and 500 (+66 %)."
    )


def test_knee_sentence_counts_as_the_article(reference):
    # 1.2 % in the article's accounting at 300 users is 0.8 % per request: over 1 %, not under.
    wsgi = make_run("gunicorn", "wsgi", [0, 0, 1.2, 5.0, 12.0, 35.0, 50.0])
    asgi = make_run("uvicorn", "asgi", [0, 0, 0, 0, 0, 15.0, 20.0])
    assert knee_sentence([wsgi, asgi], 1, reference).startswith(
        "About 200 users with at most 1 % failures under WSGI (gunicorn) and 500"
    )
