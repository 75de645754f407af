"""Whether the machine kept its speed during a knee search.

A probe that keeps the machine busy (its CPUs at least SATURATED_PCT used) and fails nothing
completes about as many requests per second as the stack can at that load. Scaled to full use,
that rate should be the same each time one count is measured (a knee's confirmation measures it
again); on a shared machine it is not (seen here: gunicorn at 274 users, 208 requests/s, then
162 requests/s 35 s later, both with the CPUs 99.5 % used and no steal reported), and a knee
found while the machine was slower is lower by about as much. Only repeats of one count are
compared: with uvicorn the rate itself falls as the users grow. From each probe's steps.csv.
"""

import math
from pathlib import Path

import pandas as pd

SATURATED_PCT = 90.0


def _rate(knee_dir, probe):
    """Requests/s at full use of the CPUs, or None when the probe did not keep them busy,
    failed requests, or recorded neither (older runs)."""
    try:
        step = pd.read_csv(Path(knee_dir) / probe["run_dir"] / "steps.csv").iloc[0]
        rps, busy = float(step["rps"]), float(step["machine_cpu_pct"])
        failed = float(step["failure_pct"])
    except (OSError, KeyError, IndexError, ValueError, pd.errors.ParserError):
        return None
    if busy >= SATURATED_PCT and failed == 0 and math.isfinite(rps):
        return rps / (busy / 100)
    return None


def capacity(knee_dir, probes):
    """The count measured more than once whose rates differ most: {"users", "rates" (in the
    order measured), "moved_pct"}, or None when no count was."""
    by_count = {}
    for probe in probes:
        if (rate := _rate(knee_dir, probe)) is not None:
            by_count.setdefault(probe["users"], []).append(rate)
    moved = [(max(r) / min(r) - 1, users, r) for users, r in by_count.items() if len(r) > 1]
    if not moved:
        return None
    most, users, rates = max(moved)
    return {"users": users, "rates": [round(r, 1) for r in rates],
            "moved_pct": round(100 * most, 1)}  # fmt: skip


def capacity_line(cap, resolution_pct, unit="users"):
    if cap is None:
        return None
    rates = ", ".join(f"{r:.0f}" for r in cap["rates"])
    line = (
        f"machine speed: {cap['users']} {unit}, measured {len(cap['rates'])} times with the CPUs "
        f"busy and no failure, completed {rates} requests/s at full use: {cap['moved_pct']:.0f} % "
        "apart"
    )
    if cap["moved_pct"] > resolution_pct:
        line += (
            f", more than the search's resolution ({resolution_pct:g} %): a knee measured while "
            "the machine was slower is lower by about as much, and another search may not "
            "repeat it (`djbench machine-speed` measures the machine alone)"
        )
    return line
