"""A Locust file's declared invariant: read from the file's text without importing it, refused in
one line when it is not of the documented form, and checked against the run's numbers."""

import sqlite3

import pandas as pd
import pytest

from djbench.errors import UserError
from djbench.scenario import invariant

LOCUSTFILE = """\
import this_module_does_not_exist  # never imported by the harness

from locust import FastHttpUser, task

DJBENCH_INVARIANT = {{
    "sql": "SELECT count(*) FROM shop_order",
    {body}
}}


class Buyer(FastHttpUser):
    @task
    def buy(self):
        DJBENCH_INVARIANT = None  # a local name, not the declaration
"""


def write(tmp_path, body='"equals": "successes:POST /api/orders/"', text=None):
    path = tmp_path / "locustfile.py"
    path.write_text(text if text is not None else LOCUSTFILE.format(body=body))
    return path


def test_the_declaration_is_read_from_the_text(tmp_path):
    assert invariant.read(write(tmp_path, '"at_least": "successes:/api/orders/", "plus": 3')) == {
        "sql": "SELECT count(*) FROM shop_order",
        "at_least": "successes:/api/orders/",
        "plus": 3,
    }
    annotated = "DJBENCH_INVARIANT: dict = {'sql': 'WITH x AS (SELECT 1) SELECT 2', 'equals': 2}\n"
    assert invariant.read(write(tmp_path, text=annotated))["equals"] == 2


def test_a_file_without_one_has_none(tmp_path):
    assert invariant.read(write(tmp_path, text="INVARIANT = {'sql': 'SELECT 1'}\n")) is None


@pytest.mark.parametrize(
    "body, why",
    [
        ('"equals": 5, "at_least": 5', 'it needs exactly one of "equals" and "at_least"'),
        ('"plus": 1', 'it needs exactly one of "equals" and "at_least"'),
        ('"equals": 5, "minus": 1', "unknown key 'minus'"),
        ('"equals": -1', "'equals' must be a number of at least 0 or successes:NAME"),
        ('"equals": 2.5', "'equals' must be a number of at least 0 or successes:NAME"),
        ('"equals": True', "'equals' must be a number of at least 0 or successes:NAME"),
        ('"at_least": "POST /x/"', "'at_least' must be a number or successes:NAME, not 'POST /x/'"),
        (
            '"at_least": "successes: "',
            "'at_least' must be a number or successes:NAME, not 'successes: '",
        ),  # fmt: skip
        ('"equals": 1, "plus": "3"', '"plus" must be a whole number'),
    ],
)
def test_a_declaration_not_of_the_form_is_refused_in_one_line(tmp_path, body, why):
    path = write(tmp_path, body)
    with pytest.raises(UserError) as info:
        invariant.read(path)
    assert str(info.value) == f"{path}, line 5: {why}; the form is {invariant.FORM}"


@pytest.mark.parametrize(
    "sql, why",
    [
        ("DELETE FROM shop_order", '"sql" must only read: a SELECT (or WITH) query'),
        ("SELECT 1; DROP TABLE shop_order", '"sql" must be one query'),
        ("", '"sql" must be a query, as a string'),
    ],
)
def test_a_query_that_writes_or_is_not_one_is_refused(sql, why):
    with pytest.raises(UserError) as info:
        invariant.validate({"sql": sql, "equals": 1}, "f.py, line 2")
    assert str(info.value) == f"f.py, line 2: {why}; the form is {invariant.FORM}"
    assert invariant.validate({"sql": "SELECT 1;", "equals": 1})  # a final ; is one query


def test_a_declaration_that_is_not_a_literal_or_a_file_that_does_not_parse(tmp_path):
    path = write(tmp_path, text="N = 3\nDJBENCH_INVARIANT = {'sql': 'SELECT 1', 'equals': N}\n")
    with pytest.raises(UserError, match=r"^\S+, line 2: DJBENCH_INVARIANT must be written out"):
        invariant.read(path)
    path = write(tmp_path, text="DJBENCH_INVARIANT = ['SELECT 1']\n")
    with pytest.raises(UserError, match=r"^\S+, line 1: DJBENCH_INVARIANT is a list, not a dict"):
        invariant.read(path)
    path = write(tmp_path, text="DJBENCH_INVARIANT = {'sql': 'SELECT 1', 'equals': 1}\n" * 2)
    with pytest.raises(UserError, match=r"^\S+, line 2: DJBENCH_INVARIANT is assigned twice$"):
        invariant.read(path)
    path = write(tmp_path, text="def broken(:\n")
    with pytest.raises(UserError, match=r"^\S+locustfile.py, line 1: invalid syntax"):
        invariant.read(path)


# A run's request log as read_requests() gives it: 4 POSTs (1 failed), 2 PUTs, GETs of the form.
REQUESTS = pd.DataFrame(
    [("POST", "/api/orders/", 1)] * 3 + [("POST", "/api/orders/", 0)]
    + [("PUT", "/api/orders/", 1)] * 2 + [("GET", "/api/orders/", 1)] * 5
    + [("GET", "/broken/", 0)],
    columns=["method", "name", "ok"],
)  # fmt: skip


def test_successes_are_counted_per_method_and_name():
    assert invariant.successes_by_name(REQUESTS) == {
        ("GET", "/api/orders/"): 5, ("GET", "/broken/"): 0,
        ("POST", "/api/orders/"): 3, ("PUT", "/api/orders/"): 2,
    }  # fmt: skip


@pytest.fixture
def query_one():
    """A real database holding 8 orders: the seed's 3 and 5 the run made."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE shop_order (id INTEGER PRIMARY KEY, total NUMERIC)")
    db.executemany("INSERT INTO shop_order (total) VALUES (?)", [(2,)] * 8)
    yield lambda sql: db.execute(sql).fetchone()[0]
    db.close()


@pytest.mark.parametrize(
    "relation, spec, plus, expected, ok",
    [
        ("equals", "successes:POST /api/orders/", 0, 3, False),  # 8 rows, 3 successful POSTs
        ("equals", "successes:POST /api/orders/", 5, 8, True),
        ("equals", "successes:/api/orders/", 0, 10, False),  # every method: 3 + 2 + 5
        ("at_least", "successes:PUT /api/orders/", 0, 2, True),
        ("at_least", "successes:PUT /api/orders/", 7, 9, False),
        ("equals", 8, 0, 8, True),
        ("at_least", 9, 0, 9, False),
        ("at_least", "successes:/broken/", 0, 0, True),  # made, never succeeded
    ],
)
def test_check_compares_the_query_with_the_run(query_one, relation, spec, plus, expected, ok):
    declaration = {"sql": "SELECT count(*) FROM shop_order", relation: spec}
    if plus:
        declaration["plus"] = plus
    record = invariant.check(declaration, query_one, invariant.successes_by_name(REQUESTS))
    assert record == {
        "sql": "SELECT count(*) FROM shop_order", "relation": relation, "expected": expected,
        "expected_from": f"{spec} + {plus}" if plus else str(spec), "got": 8, "ok": ok,
        "error": "",
    }  # fmt: skip


def test_check_reports_what_it_could_not_compare(query_one):
    successes = invariant.successes_by_name(REQUESTS)
    record = invariant.check({"sql": "SELECT 1", "equals": "successes:POST /api/order/"},
                             query_one, successes)  # fmt: skip
    assert (record["ok"], record["error"]) == (
        False,
        "the run made no request named POST /api/order/",
    )
    record = invariant.check({"sql": "SELECT count(*) FROM nope", "equals": 1}, query_one, {})
    assert (record["ok"], record["error"]) == (False, "no such table: nope")
    record = invariant.check({"sql": "SELECT 'eight'", "equals": 8}, query_one, {})
    assert (record["ok"], record["got"]) == (False, "'eight'")
    assert record["error"] == "the query gave 'eight', not a whole number"
    record = invariant.check({"sql": "SELECT sum(total) / 4.0 FROM shop_order", "equals": 4},
                             query_one, {})  # fmt: skip
    assert (record["ok"], record["got"]) == (True, 4)  # 4.0: a whole number


@pytest.mark.integration
def test_check_on_postgresql(pg_env):
    # The harness's own throwaway PostgreSQL: count() answers an int, sum() a Decimal.
    import psycopg

    connect = {"host": pg_env["POSTGRES_HOST"], "port": pg_env["POSTGRES_PORT"],
               "dbname": pg_env["POSTGRES_DB"], "user": pg_env["POSTGRES_USER"],
               "password": pg_env["POSTGRES_PASSWORD"], "autocommit": True}  # fmt: skip
    with psycopg.connect(**connect) as db:
        db.execute("CREATE TABLE shop_order (id serial PRIMARY KEY, quantity integer)")
        db.execute("INSERT INTO shop_order (quantity) SELECT 2 FROM generate_series(1, 5)")

        def query_one(sql):
            return db.execute(sql).fetchone()[0]

        successes = invariant.successes_by_name(REQUESTS)  # 3 successful POSTs
        declared = {"sql": "SELECT count(*) FROM shop_order",
                    "equals": "successes:POST /api/orders/", "plus": 2}  # fmt: skip
        assert invariant.check(declared, query_one, successes)["ok"]  # 5 = 3 + 2
        declared = {"sql": "SELECT sum(quantity) FROM shop_order", "at_least": 11}
        record = invariant.check(declared, query_one, successes)
        assert (record["got"], record["ok"]) == (10, False)
        record = invariant.check({"sql": "SELECT count(*) FROM shop_orders", "equals": 0},
                                 query_one, successes)  # fmt: skip
        assert record["error"] == 'relation "shop_orders" does not exist'
        db.execute("DROP TABLE shop_order")
