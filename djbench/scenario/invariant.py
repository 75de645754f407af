"""A user's Locust file may declare what must hold in the database after its run, the way the
polls scenario's integrity check does (votes counted = vote POSTs that succeeded):

    DJBENCH_INVARIANT = {
        "sql": "SELECT count(*) FROM shop_order",    # one row, one number
        "equals": "successes:POST /api/orders/",      # or "at_least"
        "plus": 3,                                    # optional: rows the seed created
    }

The expected number is a constant (`"equals": 10`) or `successes:NAME`, the count of the run's
successful requests named NAME (Locust's `name=`, which defaults to the path), of any method,
or of one method with `successes:POST NAME`; `plus` is added to it. The query must only read
(SELECT or WITH). The harness reads the declaration from the file's text, never importing it.
"""

import ast
from pathlib import Path

from djbench.errors import UserError

NAME = "DJBENCH_INVARIANT"
RELATIONS = ("equals", "at_least")
SUCCESSES = "successes:"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FORM = (
    f'{NAME} = {{"sql": "SELECT count(*) FROM ...", '
    '"equals" or "at_least": N or "successes:[METHOD ]NAME", "plus": N (optional)}'
)


def read(locustfile):
    """The validated declaration of the Locust file at `locustfile`, None when it has none. A
    file that does not parse, or a declaration that is not a literal of the form, is a
    UserError naming the file and line."""
    path = Path(locustfile)
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the Locust file {path}: {e}") from None
    except SyntaxError as e:
        raise UserError(f"{path}, line {e.lineno}: {e.msg}") from None
    found = None
    for node in tree.body:  # module level only: what the file declares, not what it computes
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == NAME for t in targets):
            if found is not None:
                raise UserError(f"{path}, line {node.lineno}: {NAME} is assigned twice")
            found = node
    if found is None:
        return None
    where = f"{path}, line {found.lineno}"
    try:
        declaration = ast.literal_eval(found.value)
    except ValueError:
        raise UserError(f"{where}: {NAME} must be written out as a literal: {FORM}") from None
    return validate(declaration, where)


def validate(declaration, where=NAME):
    """`declaration` if it has the documented form, else a one-line UserError from `where`."""

    def refuse(why):
        raise UserError(f"{where}: {why}; the form is {FORM}")

    if not isinstance(declaration, dict):
        refuse(f"{NAME} is a {type(declaration).__name__}, not a dict")
    relations = [r for r in RELATIONS if r in declaration]
    unknown = sorted(set(declaration) - {"sql", "plus", *RELATIONS}, key=str)
    if unknown:
        refuse(f"unknown key {unknown[0]!r}")
    if len(relations) != 1:
        refuse('it needs exactly one of "equals" and "at_least"')
    sql = declaration.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        refuse('"sql" must be a query, as a string')
    if sql.split(None, 1)[0].upper() not in ("SELECT", "WITH"):
        refuse('"sql" must only read: a SELECT (or WITH) query')
    if ";" in sql.strip().rstrip(";"):
        refuse('"sql" must be one query')
    expected = declaration[relations[0]]
    if isinstance(expected, str):
        if not expected.startswith(SUCCESSES) or not expected[len(SUCCESSES) :].strip():
            refuse(f"{relations[0]!r} must be a number or {SUCCESSES}NAME, not {expected!r}")
    elif not _is_int(expected) or expected < 0:
        refuse(f"{relations[0]!r} must be a number of at least 0 or {SUCCESSES}NAME")
    if "plus" in declaration and not _is_int(declaration["plus"]):
        refuse('"plus" must be a whole number')
    return declaration


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def request_of(expected):
    """(method or None, name) of a "successes:[METHOD ]NAME" reference."""
    ref = expected[len(SUCCESSES) :].strip()
    method, _, rest = ref.partition(" ")
    if method in METHODS and rest.strip():
        return method, rest.strip()
    return None, ref


def successes_by_name(requests):
    """{(method, name): successful requests} of a request log (the analysis's read_requests
    frame: columns method, name, ok), every request seen included, with 0 if none succeeded."""
    counts = requests.groupby(["method", "name"])["ok"].sum()
    return {key: int(n) for key, n in counts.items()}


def check(declaration, query_one, successes):
    """The invariant's result record for meta.json and the report: {"sql", "relation",
    "expected", "expected_from", "got", "ok", "error"}. `query_one(sql)` returns the query's
    single value; `successes` is successes_by_name() of the run. A query that fails, a value
    that is not a number, or a request name the run never made gives ok False and an error."""
    relation = next(r for r in RELATIONS if r in declaration)
    plus = declaration.get("plus", 0)
    spec = declaration[relation]
    record = {"sql": declaration["sql"], "relation": relation, "expected": None,
              "expected_from": str(spec), "got": None, "ok": False, "error": ""}  # fmt: skip
    if isinstance(spec, str):
        method, name = request_of(spec)
        matching = [n for (m, nm), n in successes.items() if nm == name and method in (None, m)]
        if not matching:
            label = f"{method} {name}" if method else name
            record["error"] = f"the run made no request named {label}"
            return record
        base = sum(matching)
    else:
        base = spec
    record["expected"] = base + plus
    if plus:
        record["expected_from"] += f" + {plus}"
    try:
        got = query_one(declaration["sql"])
    except Exception as e:  # the user's query: its error is the result, not a crash
        record["error"] = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return record
    whole = _whole(got)  # PostgreSQL's count() is an int, its sum() a Decimal
    if whole is None:
        record["got"] = repr(got)
        record["error"] = f"the query gave {got!r}, not a whole number"
        return record
    record["got"] = whole
    if relation == "equals":
        record["ok"] = record["got"] == record["expected"]
    else:
        record["ok"] = record["got"] >= record["expected"]
    return record


def _whole(value):
    if value is None or isinstance(value, bool | str | bytes):
        return None
    try:
        whole = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return whole if whole == value else None
