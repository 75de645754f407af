"""The article's comparison per Django version: for each version the runs were made on, the
knee of its WSGI and its ASGI run, their ratio, and what PostgreSQL held for the ASGI run; then
which release changed the result, in words rendered from those rows."""

import re

from djbench.analysis.report.mechanism import _busiest, _has
from djbench.analysis.report.table import _last_users
from djbench.analysis.runs.run import Run, versions_asked
from djbench.project.versions import THREAD_PER_REQUEST, as_tuple


def _key(run: Run) -> tuple:
    ran = run.meta.get("versions") or {}
    return (str(ran.get("Django") or ""), str(ran.get("asgiref") or ""))


def _order(key: tuple) -> tuple:
    return tuple(tuple(int(n) for n in re.findall(r"\d+", v)) for v in key)


def groups(runs: list[Run]) -> list[tuple[tuple, list[Run]]]:
    """(Django, asgiref) -> runs, oldest first; [] unless the runs asked for several."""
    if not any(versions_asked(r.meta) for r in runs):
        return []
    found = {}
    for run in runs:
        found.setdefault(_key(run), []).append(run)
    if len(found) < 2:
        return []
    return sorted(found.items(), key=lambda item: _order(item[0]))


def _pair(runs):
    wsgi = next((r for r in runs if r.interface == "wsgi"), None)
    asgi = next((r for r in runs if r.interface == "asgi"), None)
    return wsgi, asgi


def _open_ended(run, value) -> bool:  # a knee at the largest step: a lower bound
    return value is not None and value == _last_users(run)


def _knee_cell(run, objective):
    if run is None:
        return "", None
    _, threshold, column = objective
    value = run.knee(threshold, column or run.measure)
    if value is None:
        return "< first step", None
    return (f"≥ {value}" if _open_ended(run, value) else str(value)), value


def _ratio(wsgi, asgi, objective) -> tuple[str, float | None]:
    """(text, a value on the right side of 1 when only a bound is known)."""
    if wsgi is None or asgi is None:
        return "", None
    (_, kw), (_, ka) = _knee_cell(wsgi, objective), _knee_cell(asgi, objective)
    if kw is None and ka is None:
        return "both below the first step", None
    if ka is None:  # ASGI broke at its first step: below it, where WSGI held at least that
        bound = _first_users(asgi) / kw
        return f"< {bound:.2f}", bound * 0.99
    if kw is None:
        bound = ka / _first_users(wsgi)
        return f"> {bound:.2f}", bound * 1.01
    if _open_ended(wsgi, kw) and _open_ended(asgi, ka):
        return "not known", None
    bound = "≥ " if _open_ended(asgi, ka) else "≤ " if _open_ended(wsgi, kw) else ""
    return f"{bound}{ka / kw:.2f}", ka / kw


def _first_users(run) -> int:
    return int(run.steps["users"].min())


def _database(asgi) -> str:
    step = _busiest(asgi) if asgi is not None else None
    if step is None or not _has(step, "pg_total_max", "pg_active_mean"):
        return ""
    limit = ""
    if _has(step, "pg_max_connections"):
        limit = f" of {float(step['pg_max_connections']):.0f}"
    return (
        f"at {int(step['users'])} users: {float(step['pg_total_max']):.0f}{limit} open, "
        f"{float(step['pg_active_mean']):.1f} running a query"
    )


def objectives(slo_ms: float) -> list[tuple]:
    """(name, threshold, column: "" = the run's failure measure), as the verdict's columns."""
    return [(f"p95 ≤ {slo_ms:g} ms", slo_ms, "p95_ms"), ("0 %", 0.0, ""), ("1 %", 1.0, "")]


def table(runs: list[Run], slo_ms: float) -> tuple[list[str], list[list[str]], list[dict]]:
    """(header, rows, per version {django, asgiref, ratios by objective name})."""
    header = ["Django", "asgiref", "WSGI", "ASGI"]
    for name, _, _ in objectives(slo_ms):
        header += [f"knee {name} (WSGI / ASGI)", "ratio"]
    header.append("ASGI's PostgreSQL connections")
    rows, found = [], []
    for (django, asgiref), group in groups(runs):
        wsgi, asgi = _pair(group)
        cells, ratios = [], {}
        for objective in objectives(slo_ms):
            knees = " / ".join(_knee_cell(r, objective)[0] or "—" for r in (wsgi, asgi))
            text, ratio = _ratio(wsgi, asgi, objective)
            cells += [knees, text]
            ratios[objective[0]] = (ratio, text)
        names = [r.server if r else "—" for r in (wsgi, asgi)]
        rows.append([django, asgiref, *names, *cells, _database(asgi)])
        found.append({"django": django, "asgiref": asgiref, "ratios": ratios})
    return header, rows, found


def _condition(objective: str) -> str:
    if objective.startswith("p95"):
        return f"within {objective}"
    return "without error" if objective == "0 %" else f"with at most {objective} failures"


def change_sentence(found: list[dict], objective: str = "1 %") -> str:
    """Which release turned the ASGI/WSGI ratio across 1, from the rows, and where it is not
    known (neither run broke within its steps); "" without two ratios."""
    known = [(f["django"], f["asgiref"], *f["ratios"][objective]) for f in found
             if f["ratios"][objective][0] is not None]  # fmt: skip
    several = len({f["asgiref"] for f in found}) > 1
    unknown = [f"Django {f['django']}" + f" with asgiref {f['asgiref']}" * several
               for f in found if f["ratios"][objective][1] == "not known"]  # fmt: skip
    if len(known) < 2:
        return ""
    condition = _condition(objective)
    also = ""
    if unknown:
        also = (f" On {' and '.join(unknown)} neither server broke within the steps: the "
                "ratio there is not known.")  # fmt: skip
    for (d0, a0, r0, t0), (d1, a1, r1, t1) in zip(known, known[1:], strict=False):
        if (r0 > 1) != (r1 > 1):
            what = "Django" if d0 != d1 else "asgiref"
            old, new = (d0, d1) if d0 != d1 else (a0, a1)
            if d0 != d1 and a0 != a1:
                what, old, new = "Django/asgiref", f"{d0}/{a0}", f"{d1}/{a1}"
            verb = "more" if r0 > 1 else "fewer"
            return (
                f"ASGI carried {verb} users than WSGI {condition} on {what} {old} "
                f"(ratio {t0}) and {'fewer' if verb == 'more' else 'more'} on {what} {new} "
                f"(ratio {t1}): the change lies between these two releases." + also
            )
    side = "more" if known[0][2] > 1 else "fewer"
    where = "every version with a ratio" if unknown else "every version measured"
    return (
        f"ASGI carried {side} users than WSGI {condition} on {where} "
        f"({', '.join(f'Django {d}: {t}' for d, _, _, t in known)}): no release in between "
        "turned the result." + also
    )


def _threads(asgi) -> tuple | None:
    """(users, threads per process at most, requests at once per process at most, connections
    open at most) at the ASGI sync-view run's busiest step."""
    if asgi is None or asgi.meta.get("view") == "async":
        return None
    s = _busiest(asgi)
    if s is None or not _has(s, "threads_per_process_max", "inflight_per_process_max"):
        return None
    return tuple(int(round(float(s[c]))) for c in
                 ("users", "threads_per_process_max", "inflight_per_process_max",
                  "pg_total_max"))  # fmt: skip


def _requests(n: int) -> str:
    return f"{n} request{'s' * (n != 1)}"


def threads_sentence(runs: list[Run]) -> str:
    """Where the ASGI server's threads per process jumped from one version to the next (sync
    views), from the runs' busiest steps; "" without such a jump."""
    found = groups(runs)
    several_asgirefs = len({asgiref for (_, asgiref), _ in found}) > 1
    seen = [
        (django, f"{django}" + f" with asgiref {asgiref}" * several_asgirefs, t)
        for (django, asgiref), group in found
        if (t := _threads(_pair(group)[1]))
    ]
    for (d0, v0, (u0, t0, i0, c0)), (d1, v1, (u1, t1, i1, c1)) in zip(seen, seen[1:], strict=False):
        if t1 < 3 * t0 or i1 < 2:
            continue
        sentence = (
            f"The ASGI server ran its sync views on at most {t0} threads per process on Django "
            f"{v0} (at {u0} users: up to {_requests(i0)} at once in one process, {c0} "
            f"PostgreSQL connections open) and on up to {t1} on Django {v1} (at {u1} users: up "
            f"to {_requests(i1)} at once, {c1} connections open): on {d1} each request in a "
            "process ran on a thread and a connection of its own, where on "
            f"{d0} a process's requests shared its {t0} threads."
        )
        if as_tuple(d0) < THREAD_PER_REQUEST <= as_tuple(d1):
            sentence += (
                " Django 4.0 made that change: its ASGIHandler runs each request's sync code "
                "on a thread of its own (asgiref's ThreadSensitiveContext, ticket #32889)."
            )
        return sentence
    return ""
