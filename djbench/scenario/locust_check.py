"""Verification before load of a user's Locust file: its user classes run for a few seconds
against the run's nginx, one user each, and every request they make must succeed, so a load
never measures a scenario whose requests fail (a wrong path, a missing token, a form without
its CSRF cookie). Its requests are the file's own, known only as it runs: what it requested is
what is checked: the counts from Locust's final JSON stats (written once the users have stopped;
its CSV is written before the last requests end and can miss them), the errors from its failures
CSV."""

import ast
import csv
import json
import subprocess
from pathlib import Path

from djbench.paths import BIN, IMPORT_ROOT, ROOT

CHECK_S = 5  # long enough for one iteration of a user with Locust's usual waits
PREFIX = "check"
MOST_QUOTED = 3  # failing requests named in the line; the rest are counted


class LocustFileFailed(RuntimeError):
    """Requests of the Locust file failed before the load: one line says which, and how."""


def user_classes(locustfile):
    """How many concrete user classes the file defines, read from its text: classes with a base
    whose name ends in "User" or that is one of the file's own user classes, less those marked
    `abstract = True`; at least 1."""
    tree = ast.parse(Path(locustfile).read_text())
    users, concrete = set(), 0
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [getattr(b, "attr", None) or getattr(b, "id", "") for b in node.bases]
        if not any(b.endswith("User") or b in users for b in bases):
            continue
        users.add(node.name)
        abstract = any(
            isinstance(s, ast.Assign)
            and any(getattr(t, "id", "") == "abstract" for t in s.targets)
            and getattr(s.value, "value", False) is True
            for s in node.body
        )
        concrete += not abstract
    return max(1, concrete)


def check(locustfile, base_url, tmp, timeout):
    """Run the file's users for CHECK_S seconds; returns {"requests": n, "successes":
    {"METHOD NAME": n}} of what they did, or raises LocustFileFailed."""
    out = Path(tmp) / "locust-check"
    out.mkdir(exist_ok=True)
    users = user_classes(locustfile)
    argv = [str(BIN / "locust"), "-f", str(locustfile), "--headless", "--only-summary",
            "-u", str(users), "-r", str(users), "-t", f"{CHECK_S}s", "--stop-timeout",
            f"{timeout:g}", "--host", base_url, "--csv", str(out / PREFIX),
            "--json-file", str(out / PREFIX), "--exit-code-on-error", "0"]  # fmt: skip
    env = {"HOME": str(out), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": f"{IMPORT_ROOT}:{ROOT / 'locustfiles'}"}  # fmt: skip
    done = subprocess.run(argv, cwd=out, env=env, capture_output=True, text=True,
                          timeout=CHECK_S + timeout + 60)  # fmt: skip
    stats = out / f"{PREFIX}.json"
    if done.returncode or not stats.exists():
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise LocustFileFailed(
            f"the Locust file did not run (exit status {done.returncode}): {last}"
        )
    rows = json.loads(stats.read_text())
    requests = sum(r["num_requests"] for r in rows)
    if not requests:
        raise LocustFileFailed(f"the Locust file's users made no request in {CHECK_S} s")
    failed = [r for r in rows if r["num_failures"]]
    if failed:
        failures = _rows(out / f"{PREFIX}_failures.csv")
        errors = {(r["Method"], r["Name"]): r["Error"] for r in failures}
        said = [f"{r['method']} {r['name']} {r['num_failures']} of {r['num_requests']} "
                f"({_short(errors.get((r['method'], r['name']), ''))})"
                for r in failed[:MOST_QUOTED]]  # fmt: skip
        more = f"; and {len(failed) - MOST_QUOTED} more" if len(failed) > MOST_QUOTED else ""
        raise LocustFileFailed(
            f"{len(failed)} of the Locust file's {len(rows)} requests failed before load: "
            + "; ".join(said)
            + more
        )
    successes = {f"{r['method']} {r['name']}": r["num_requests"] for r in rows}
    return {"requests": requests, "successes": successes}


def _rows(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _short(error, most=120):
    error = " ".join(error.split())
    return error if len(error) <= most else error[: most - 3] + "..."
