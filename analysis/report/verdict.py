"""The verdict at the top of a report: per configuration, the largest load that met each
objective (no failures, at most 1 % failures, p95 under the latency objective), from a knee search
when one ran for it, else from the steps; their ratio to the first configuration; the caveats that
apply; the machine and the topology in one line each."""

import math
from dataclasses import dataclass

from djbench.analysis.errors import AnalysisError
from djbench.analysis.runs.metrics import knee, mean_wait_s
from djbench.analysis.runs.run import Run
from djbench.analysis.runs.searches import Search

DEFAULT_P95_SLO_MS = 1000.0
# Throughput that grows less than this from the first step on means the server was already at
# its limit there: more users only queue.
FLAT_GROWTH = 1.10
OBJECTIVES = {  # knee.json name -> column heading ({slo}: the latency objective in ms)
    "p95": "Users within p95 ≤ {slo} ms",
    "failures_0": "Users with no failures",
    "failures_1": "Users with ≤ 1 % failures",
}


@dataclass(frozen=True)
class Capacity:
    """The largest load that met an objective, over one or more measurements (searches)."""

    low: int | None  # the smallest of the largest good loads; None: broken at the first load
    high: int | None  # the largest of them
    open_ended: bool  # no measurement ever broke the objective: the capacity is higher still
    first_bad: int | None  # when low is None: the smallest load measured, already broken
    source: str

    def text(self) -> str:
        if self.low is None:
            return f"< {self.first_bad}"
        if self.open_ended:
            return f"≥ {self.high}"
        return f"{self.low}" if self.low == self.high else f"{self.low}-{self.high}"


def from_searches(searches: list[Search], objective: str) -> Capacity:
    knees = [s.data["knees"][objective] for s in searches]
    good = [k["users"] for k in knees if k["users"] is not None]
    source = "knee search" if len(searches) == 1 else f"{len(searches)} knee searches"
    if not good:
        return Capacity(None, None, False, min(k["bad_users"] for k in knees), source)
    open_ended = all(k["bad_users"] is None for k in knees)
    return Capacity(min(good), max(good), open_ended, None, source)


def from_steps(run: Run, objective: str, slo_ms: float) -> Capacity | None:
    if run.steps.empty:
        return None
    if objective == "p95":
        value = knee(run.steps, slo_ms, "p95_ms")
    else:
        value = knee(run.steps, 0.0 if objective == "failures_0" else 1.0)
    ordered = run.steps.sort_values("step")
    if value is None:
        return Capacity(None, None, False, int(ordered["users"].iloc[0]), "steps")
    return Capacity(value, value, value == int(ordered["users"].iloc[-1]), None, "steps")


def capacity(run: Run, searches: list[Search], objective: str, slo_ms: float):
    """From the knee searches when any ran; but when no search broke the objective and the steps
    went higher without breaking it, the steps say more."""
    steps = from_steps(run, objective, slo_ms)
    if not searches:
        return steps
    found = from_searches(searches, objective)
    if found.open_ended and steps is not None and steps.high is not None:
        if steps.high > found.high:
            note = f"steps; the {found.source} never broke it up to {found.high}"
            return Capacity(steps.low, steps.high, steps.open_ended, None, note)
    return found


def ratio(this: Capacity | None, base: Capacity | None) -> str:
    """This configuration's capacity over the first one's, as a range when either is one."""
    if this is None or base is None or this.low is None or base.low is None:
        return "n/a"
    if this.open_ended and base.open_ended:
        return "n/a (neither broke)"
    if base.open_ended:
        return f"≤ {this.high / base.high:.2f} ×"
    if this.open_ended:
        return f"≥ {this.high / base.high:.2f} ×"
    low, high = this.low / base.high, this.high / base.low
    return f"{low:.2f} ×" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f} ×"


def _beats(a: Capacity | None, b: Capacity | None) -> bool:
    if a is None or a.low is None:
        return False
    if b is None or b.low is None:
        return True
    return not b.open_ended and a.low > b.high


def leader(labels: list[str], found: list[Capacity | None]) -> str | None:
    """The configuration that holds more users than every other, in every measurement."""
    for i, this in enumerate(found):
        if all(_beats(this, other) for j, other in enumerate(found) if j != i):
            return labels[i]
    return None


def slo_of(searches: list[Search]) -> float:
    """The knee searches' latency objective; the default when none ran."""
    slos = sorted({s.slo_ms for s in searches})
    if len(slos) > 1:
        raise AnalysisError(
            "the knee searches use different latency objectives ("
            + ", ".join(f"{s:g} ms" for s in slos)
            + "); give only searches with the same one"
        )
    return slos[0] if slos else DEFAULT_P95_SLO_MS


def _saturation(run: Run, slo_ms: float) -> str:
    steps = run.steps.sort_values("step")
    if steps.empty:
        return ""
    first = steps.iloc[0]
    why = []
    if first["p95_ms"] > slo_ms:
        why.append(f"p95 {first['p95_ms']:.0f} ms")
    later = steps["rps"].iloc[1:]
    if len(later) and later.max() < FLAT_GROWTH * first["rps"]:
        growth = round(100 * (FLAT_GROWTH - 1))
        why.append(f"{first['rps']:.0f} requests/s, never {growth} % more later")
    if not why:
        return ""
    return f"{run.label} (at {int(first['users'])} users: {' and '.join(why)})"


def _rate(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def caveats(runs: list[Run], searches: dict[str, list[Search]], slo_ms: float) -> str:
    """One sentence: what a reader must keep in mind about these numbers."""
    clauses = []
    saturated = [s for s in (_saturation(run, slo_ms) for run in runs) if s]
    if saturated:
        clauses.append("saturated from the first step: " + ", ".join(saturated))
    limited = [
        f"{run.label} in {int(run.steps['generator_limited'].sum())} step(s)"
        for run in runs
        if "generator_limited" in run.steps and run.steps["generator_limited"].sum()
    ]
    if limited:
        clauses.append(
            "the load generator limited the load (see the warnings): " + ", ".join(limited)
        )
    refused = [
        f"{int(run.steps['pg_refused'].sum()):,} to {run.label}"
        for run in runs
        if "pg_refused" in run.steps and run.steps["pg_refused"].sum()
    ]
    if refused:
        clauses.append(
            "PostgreSQL refused connections (too many clients): "
            + ", ".join(refused)
            + " in the measured windows, seen by users as HTTP 500"
        )
    loops = []
    for run in runs:
        # An open-model run starts iterations at its rate whatever the answers: no loop.
        if run.steps.empty or (run.meta.get("config") or {}).get("load_model") == "open":
            continue
        last = run.steps.sort_values("step").iloc[-1]
        offered = int(last["users"]) / mean_wait_s(run.path)
        if not run.polls:  # a scenario of the user's: what an iteration is, is its own
            loops.append(
                f"{run.label} {_rate(last['rps'])} requests/s at {int(last['users'])} users"
            )
        elif not math.isnan(last["iterations_per_s"]):
            loops.append(
                f"{run.label} {_rate(last['iterations_per_s'])} vote iterations/s at "
                f"{int(last['users'])} users, where an instant server would see {_rate(offered)}"
            )
    if loops:
        clauses.append(
            "the load is closed-loop (each user waits for its answer), so overload shows as "
            "latency more than as failures (coordinated omission): " + ", ".join(loops)
        )
    if any(searches.values()):
        used = [s for v in searches.values() for s in v]
        measured = sorted({s.data["settings"].get("measure_s") for s in used} - {None})
        seconds = "/".join(f"{m:g}" for m in measured) or "?"
        clauses.append(
            f"a knee search measures each load on a fresh stack ({seconds} s), while steps follow "
            "each other on one stack and inherit the previous step's backlog"
        )
    incomplete = [run.label for run in runs if run.meta.get("complete") is False]
    if incomplete:
        clauses.append("incomplete run(s): " + ", ".join(incomplete))
    if not clauses:
        return ""
    return "Caveats: " + "; ".join(clauses) + "."


def _virtualization(machine: dict) -> str:
    found = machine.get("virtualization")
    if not found:
        return "virtualisation not recorded"
    vm, container = found.get("vm", "none"), found.get("container", "none")
    parts = ["not virtualised" if vm == "none" else f"virtual machine ({vm})"]
    if vm == "yes":
        parts = ["virtual machine (hypervisor flag)"]
    if container not in ("none", None):
        parts.append(f"in a container ({container})")
    return ", ".join(parts)


def machine_line(meta: dict) -> str:
    m = meta.get("machine") or {}
    cores = f"{m.get('cpu_count', '?')} cores"
    if m.get("cpus_usable") and m.get("cpus_usable") != m.get("cpu_count"):
        cores += f" ({m['cpus_usable']} usable)"
    parts = [m.get("cpu_model") or "CPU model not recorded", cores]
    if m.get("memory_gb"):
        parts.append(f"{m['memory_gb']:g} GB memory")
    parts.append(_virtualization(m))
    if m.get("kernel"):
        parts.append(f"Linux {m['kernel']}")
    return ", ".join(parts)


def topology_lines(meta: dict) -> list[str]:
    """One line per host when the run recorded its topology; else the mode on one host."""
    hosts = (meta.get("topology") or {}).get("hosts") or []
    mode = meta.get("mode", "?")
    if not hosts:
        return [
            f"{mode} mode, one host: PostgreSQL, nginx, the app server and Locust share its cores"
        ]
    lines = []
    for host in hosts:
        name = host.get("name") or host.get("address") or "?"
        details = [
            str(host[k]) for k in ("address", "cpu_model") if host.get(k) and host[k] != name
        ]
        if host.get("cpu_count"):
            details.append(f"{host['cpu_count']} cores")
        roles = ", ".join(host.get("roles") or []) or "no role recorded"
        extra = f" ({', '.join(details)})" if details else ""
        lines.append(f"{name}: {roles}{extra}")
    return [f"{mode} mode, {len(hosts)} host{'' if len(hosts) == 1 else 's'}"] + lines


@dataclass(frozen=True)
class Verdict:
    slo_ms: float
    header: list[str]
    rows: list[dict]  # label, cells: per objective value, source and ratio to the first row
    leaders: list[str]  # one sentence per objective
    caveats: str
    machines: list[str]
    topology: list[str]
    sources: list[str]  # knee search directories used


def verdict(runs: list[Run], searches: dict[str, list[Search]]) -> Verdict:
    slo = slo_of([s for v in searches.values() for s in v])
    labels = [run.label for run in runs]
    found = {
        name: [capacity(run, searches[run.run_id], name, slo) for run in runs]
        for name in OBJECTIVES
    }
    header = ["Configuration"] + [h.format(slo=f"{slo:g}") for h in OBJECTIVES.values()]
    rows = []
    for i, label in enumerate(labels):
        cells = []
        for name in OBJECTIVES:
            c = found[name][i]
            cells.append(
                {
                    "value": "no step measured" if c is None else c.text(),
                    "source": "" if c is None else c.source,
                    "ratio": f"{ratio(c, found[name][0])} {labels[0]}" if i else "",
                }
            )
        rows.append({"label": label, "cells": cells})
    leaders = []
    for name, heading in OBJECTIVES.items():
        what = heading.format(slo=f"{slo:g}").removeprefix("Users ")
        best = leader(labels, found[name]) if len(runs) > 1 else None
        if best is not None:
            c = found[name][labels.index(best)]
            leaders.append(f"Most users {what}: {best}, {c.text()}.")
        elif len(runs) > 1:
            leaders.append(
                f"Most users {what}: no clear leader (the ranges overlap or none met it)."
            )
    machines = sorted({machine_line(run.meta) for run in runs})
    topologies = []
    for run in runs:
        lines = topology_lines(run.meta)
        if lines not in topologies:
            topologies.append(lines)
    return Verdict(
        slo_ms=slo,
        header=header,
        rows=rows,
        leaders=leaders,
        caveats=caveats(runs, searches, slo),
        machines=machines,
        topology=[line for lines in topologies for line in lines],
        sources=sorted({str(s.path) for v in searches.values() for s in v}),
    )
