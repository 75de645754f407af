"""Why a server served as it did, in words rendered from its per-step mechanism columns
(analysis/runs/mechanism.py): what the app ran at once in one process, on how many threads, and
what PostgreSQL held for it; then each ASGI run against each WSGI run at the same load; and for
a stepped run, that its steps share one stack and the backlog each inherits."""

import math

from djbench.analysis.runs.run import Run, fresh_stack_per_step

NEEDED = ("inflight_per_process_mean", "pg_total_mean")


def _has(step, *columns) -> bool:
    return all(c in step.index and not math.isnan(float(step[c])) for c in columns)


def _busiest(run: Run, users: int | None = None):
    """The step with the most users (or `users`) that has requests and the mechanism's figures."""
    steps = run.steps[run.steps["requests"] > 0]
    if users is not None:
        steps = steps[steps["users"] == users]
    measured = [s for _, s in steps.iterrows() if _has(s, *NEEDED)]
    return measured[-1] if measured else None


def _n(value, decimals=1) -> str:
    return f"{float(value):.{decimals}f}"


def _process_sentence(s) -> str:
    processes = int(round(float(s["server_processes"])))
    threads = _n(s["threads_per_process_mean"], 0)
    sentence = (
        f"At {int(s['users'])} users, {processes} server process{'es' * (processes != 1)} ran "
        f"the app with {threads} thread{'s' * (threads != '1')} each on average (at most "
        f"{_n(s['threads_per_process_max'], 0)}); one process was running "
        f"{_n(s['inflight_per_process_mean'])} requests at once on average (at most "
        f"{_n(s['inflight_per_process_max'], 0)} in a once-a-second sample), "
        f"{_n(s['inflight_app_mean'])} in all"
    )
    outside = float(s["inflight_mean"]) - float(s["inflight_app_mean"])
    if outside >= 0.05:
        sentence += (
            f", while {_n(s['inflight_mean'])} were in flight at the load generator: "
            f"{_n(outside)} waited outside the app (nginx, the listen backlog, the network)"
        )
    return sentence + "."


def _database_sentence(s) -> str:
    states = []
    if _has(s, "pg_idle_mean"):
        states = [
            f"{_n(s['pg_idle_mean'])} idle",
            f"{_n(s['pg_idle_in_transaction_mean'])} idle in a transaction",
        ]
    sentence = (
        f"PostgreSQL had {_n(s['pg_total_mean'])} connections open on average (at most "
        f"{_n(s['pg_total_max'], 0)}"
        + (
            f" of max_connections {_n(s['pg_max_connections'], 0)}"
            if _has(s, "pg_max_connections")
            else ""
        )
        + f"): {_n(s['pg_active_mean'])} running a query"
        + "".join(f", {state}" for state in states)
    )
    if _has(s, "pg_opened_per_s"):
        sentence += f"; {_n(s['pg_opened_per_s'], 0)} connections were opened per second"
    return sentence + "."


def _why_sentences(run: Run, s) -> list[str]:
    out = []
    total, active, app = (
        float(s[c]) for c in ("pg_total_mean", "pg_active_mean", "inflight_app_mean")
    )
    if total >= 1 and app > 0:
        idle_pct = 100 * (1 - active / total)
        out.append(
            f"Open connections follow the requests inside the app ({_n(total)} open against "
            f"{_n(app)} requests in Django): a request holds a connection of its own from its "
            f"first query until it ends (CONN_MAX_AGE 0), so the {idle_pct:.0f} % of the open "
            "connections not running a query at a given moment belonged to requests busy "
            "outside PostgreSQL."
        )
    per_process_max = float(s["inflight_per_process_max"])
    if per_process_max <= 1 and float(s["inflight_mean"]) > app + 0.05:
        out.append(
            "No process ran more than one request at once, so connections stayed at most one "
            "per process and the excess load queued before the app instead."
        )
    elif run.interface == "asgi" and run.meta.get("view") != "async" and per_process_max > 1:
        out.append(
            f"Each sync view ran in a thread of its own: up to {_n(per_process_max, 0)} at once "
            f"in one process, on {_n(s['threads_per_process_max'], 0)} threads."
        )
    limit = float(s["pg_max_connections"]) if _has(s, "pg_max_connections") else math.nan
    if limit == limit and float(s["pg_total_max"]) >= limit - 1:
        out.append(
            f"The open connections reached max_connections ({_n(limit, 0)}, one of them the "
            "sampler's): a request that needed one more was refused, an HTTP 500."
        )
    return out


def run_lines(run: Run) -> list[str]:
    """The busiest measured step of one run, in words; empty without the figures."""
    s = _busiest(run)
    if s is None:
        return []
    return [_process_sentence(s), _database_sentence(s), *_why_sentences(run, s)]


def comparison_lines(runs: list[Run]) -> list[str]:
    """Each ASGI run against each WSGI run at the most users both measured."""
    out = []
    for asgi in (r for r in runs if r.interface == "asgi"):
        for wsgi in (r for r in runs if r.interface == "wsgi"):
            common = set(asgi.steps["users"]) & set(wsgi.steps["users"])
            pairs = [(u, _busiest(asgi, u), _busiest(wsgi, u)) for u in sorted(common)]
            pairs = [(u, a, w) for u, a, w in pairs if a is not None and w is not None]
            if not pairs:
                continue
            users, a, w = pairs[-1]
            out.append(
                f"At {users} users {asgi.label} was running {_n(a['inflight_app_mean'])} requests "
                f"at once in the app ({_n(a['inflight_per_process_mean'])} per process, at most "
                f"{_n(a['inflight_per_process_max'], 0)}) against {_n(w['inflight_app_mean'])} "
                f"for {wsgi.label} ({_n(w['inflight_per_process_mean'])} per process, at most "
                f"{_n(w['inflight_per_process_max'], 0)}); it held {_n(a['pg_total_mean'])} "
                f"PostgreSQL connections open (at most {_n(a['pg_total_max'], 0)}) against "
                f"{_n(w['pg_total_mean'])} (at most {_n(w['pg_total_max'], 0)}), of which "
                f"{_n(a['pg_active_mean'])} against {_n(w['pg_active_mean'])} were running a "
                f"query; failures {_n(a['failure_pct'])} % against {_n(w['failure_pct'])} %."
            )
    return out


def stack_lines(run: Run) -> list[str]:
    """For a run of several steps: whether they shared one stack, and what each inherited."""
    steps = run.steps
    if len(steps) < 2 or "inflight_at_open" not in steps.columns:
        return []
    inherited = ", ".join(
        f"{int(s['inflight_at_open'])} at {int(s['users'])} users" for _, s in steps.iterrows()
    )
    if fresh_stack_per_step(run.meta):
        return [
            f"Each of its {len(steps)} steps ran on a stack of its own, so a step inherited only "
            f"its own ramp-up and warm-up: requests in flight as its window opened: {inherited}."
        ]
    return [
        f"Its {len(steps)} steps share one stack (PostgreSQL, the server and nginx started "
        "once, the load stepped up), so each step's window opens with what the ramp-up and "
        f"the step before left in flight: {inherited} (inflight_at_open in steps.csv)."
    ]
