"""Comparison report over run directories: table.md/.csv, charts/*.png, report.html, report.md."""

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from djbench.analysis.charts.timeline import over_time_chart
from djbench.analysis.charts.users import capacity_pct, probes_chart, save, write_charts
from djbench.analysis.errors import AnalysisError
from djbench.analysis.files import output_dir
from djbench.analysis.markdown import markdown_table
from djbench.analysis.pages.html import figure, render
from djbench.analysis.report import article, mechanism, versions
from djbench.analysis.report.checks import HISTORY_TOLERANCE, run_warnings
from djbench.analysis.report.knee_report import knee_text
from djbench.analysis.report.project import details, headline, project_of
from djbench.analysis.report.table import (
    NO_REQUESTS,
    fmt,
    knee_sentence,
    legend,
    table_blocks,
    table_markdown,
    write_table,
)
from djbench.analysis.report.verdict import Verdict, machine_line, topology_lines, verdict
from djbench.analysis.runs.repeats import repetition_blocks
from djbench.analysis.runs.run import Run, distinct_labels, load_run
from djbench.analysis.runs.searches import Search, searches_for
from djbench.analysis.runs.timeseries import time_series

KNEE_THRESHOLDS = (0.0, 1.0)
OVER_TIME_INTRO = (
    "Each run second by second (1 s bins of the per-request log, by completion time), with "
    "each step's start dotted and its measured window shaded. A stall of the server shows as "
    "throughput falling while the machine's CPU stays busy; a stall of the machine (steal, "
    "another tenant) as every component's CPU falling together."
)
KNEE_INTRO = (
    "A knee search probes one load at a time, each on a fresh stack, from a predicted bracket "
    "(or doubling the users) until an objective breaks, then bisecting; the verdict above takes "
    "its numbers from these searches. A knee is a user count that met its objective every time "
    "it was measured."
)
NOTES = [
    "Every per-step number comes from the per-request log over the step's measured window "
    "[measure_from, end): ramp-up and warm-up are left out.",
    "Latency percentiles are exact nearest-rank values over every request in the window, failed "
    "ones included, computed from the per-request log; they are independent of Locust's own "
    "percentiles, which are bucketed to about two significant figures and, in its history CSV, "
    "cover a trailing ~10 s window rather than a step.",
    "Locust's cumulative counters (stats history) are a cross-check only; they are written once a "
    "second, so a step where they differ from the request log by more than "
    f"{HISTORY_TOLERANCE * 100:g} % of its requests plus two seconds of its traffic (six with "
    "Locust workers, which report every three seconds) is flagged.",
    "Vote POSTs/s is the achieved iteration rate. Locust users form a closed loop (each waits for "
    "its answer, then pauses), so when responses slow down the offered load falls with them "
    "(coordinated omission): read it beside the user count, not RPS alone.",
    "Knee: the largest user count such that it and every smaller step stayed at or under the "
    "failure threshold; a step with no completed request ends the count.",
    "CPU is in % of one core throughout (a process using two cores reads 200 %); the machine's "
    "capacity is its core count x 100 %. Machine-wide CPU (system.csv) counts every process, "
    "the harness's and other tenants' too; steal is time the hypervisor gave the CPUs to "
    "another guest.",
    "PostgreSQL connections are sampled once a second from pg_stat_activity (client backends); "
    "the sampler's own connection is left out of the counts but takes one of max_connections. "
    "Native mode only for now: a compose run records the machine (system.csv) but not "
    "PostgreSQL's connections.",
    "By state, the connections are active (running a query), idle, or idle in a transaction; "
    "connections opened per second are PostgreSQL's own count of sessions (pg_stat_database) "
    "over the window.",
    "Threads and requests in the app per server process are sampled once a second from the "
    "server's processes (server_processes.csv; native and distributed modes): a process runs "
    "the app when it loaded it (gunicorn's or uWSGI's master does not), and a middleware of the "
    "polls project counts the requests inside Django in each process, whose mean over a window "
    "is exact (it keeps the integral), its maximum that of the once-a-second samples.",
]


def _ms(value) -> str:
    # Sub-10 ms values keep a decimal; beyond that a tenth of a millisecond is noise.
    return fmt(value, 0 if value is not None and value >= 10 else 1)


def _pct(step: pd.Series) -> str:
    # Same convention as the failure table: a step without requests has no percentage.
    return NO_REQUESTS if step["requests"] == 0 else fmt(step["failure_pct"], 1)


def _causes(row: pd.Series) -> str:
    counts = [(c.removeprefix("fail_"), int(row[c])) for c in row.index if c.startswith("fail_")]
    return ", ".join(f"{cause}: {n}" for cause, n in counts if n)


MACHINE_HEADERS = {
    "machine_cpu_pct": "CPU whole machine (%)",
    "machine_steal_pct": "CPU steal (%)",
}


def _mean_max(step: pd.Series, prefix: str) -> str:
    mean, high = step[f"{prefix}_mean"], step[f"{prefix}_max"]
    return "" if math.isnan(mean) else f"{mean:.0f} / {high:.0f}"


SERVER_HEADERS = ["App processes x threads (mean)", "Requests in the app per process mean / max"]


def _pg_states(step: pd.Series) -> list[str]:
    idle, in_tx = step["pg_idle_mean"], step["pg_idle_in_transaction_mean"]
    states = "" if math.isnan(idle) else f"{idle:.1f} / {in_tx:.1f}"
    return [states, fmt(step["pg_opened_per_s"], 0)]


def _server_cells(step: pd.Series) -> list[str]:
    processes, threads = step["server_processes"], step["threads_per_process_mean"]
    shape = "" if math.isnan(processes) else f"{processes:.0f} x {threads:.1f}"
    mean, high = step["inflight_per_process_mean"], step["inflight_per_process_max"]
    inflight = "" if math.isnan(mean) else f"{mean:.2f} / {high:.0f}"
    return [shape, inflight]


def step_table(run: Run) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of a run's per-step table, planned-but-not-run steps included."""
    cpu = [c for c in run.steps.columns if c.startswith("cpu_")]
    header = ["Users", "Status", "Window (s)", "Requests", "Failure %", "Requests/s"]
    header += ["Vote POSTs/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "max (ms)", "Failures by cause"]
    header += ["Locust history (requests / failures)"]
    header += ["Iterations started / offered (%)", "Locust loop lag p95 (ms)", "Generator"]
    refusals = "pg_refused" in run.steps.columns
    header += ["PostgreSQL refusals"] if refusals else []
    pg = "pg_total_mean" in run.steps.columns
    header += ["PostgreSQL connections mean / max", "running a query mean / max"] if pg else []
    states = "pg_idle_mean" in run.steps.columns
    header += ["idle / idle in transaction mean", "opened/s"] if states else []
    server = "server_processes" in run.steps.columns
    header += SERVER_HEADERS if server else []
    header += [f"CPU {c.removeprefix('cpu_').removesuffix('_pct')} (%)" for c in cpu]
    machine = [c for c in ("machine_cpu_pct", "machine_steal_pct") if c in run.steps.columns]
    header += [MACHINE_HEADERS[c] for c in machine]
    rows = []
    for _, s in run.steps.iterrows():
        history = ""
        if not math.isnan(s["history_requests"]):
            history = f"{s['history_requests']:.0f} / {s['history_failures']:.0f}"
        rows.append(
            [str(int(s["users"])), "complete" if s["complete"] else "cut short"]
            + [fmt(s["window_s"], 1), str(int(s["requests"])), _pct(s)]
            + [fmt(s["rps"], 2), fmt(s["iterations_per_s"], 2)]
            + [_ms(s[c]) for c in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            + [_causes(s), history]
            + [fmt(s["generator_pct"], 0), _ms(s["loop_lag_p95_ms"])]
            + ["LIMITED" if s["generator_limited"] else "ok"]
            + ([str(int(s["pg_refused"]))] if refusals else [])
            + ([_mean_max(s, "pg_total"), _mean_max(s, "pg_active")] if pg else [])
            + (_pg_states(s) if states else [])
            + (_server_cells(s) if server else [])
            + [fmt(s[c], 0) for c in cpu]
            + [fmt(s[c], 0) for c in machine]
        )
    ran = set(run.steps["users"].astype(int))
    for users in run.planned_users:
        if users not in ran:
            rows.append([str(users), "not run"] + [""] * (len(header) - 2))
    return header, rows


def _metadata(run: Run) -> list[tuple[str, str]]:
    m = run.meta
    fields = [
        ("Run id", m.get("run_id")),
        ("Directory", str(run.path)),
        ("Server", m.get("server")),
        ("Interface", str(m.get("interface", "")).upper()),
        ("Workers", m.get("workers")),
        ("Server processes", m.get("processes", m.get("workers"))),
        ("View variant", m.get("view")),
        ("Profile", m.get("profile")),
        ("Steps chosen by", (m.get("config") or {}).get("scale") or "the profile"),
        ("Mode", m.get("mode")),
        ("Load model", load_model_text(m.get("config") or {})),
        ("Users per step", ", ".join(map(str, run.planned_users))),
        ("Spawn rate (users/s)", m.get("spawn_rate")),
        ("Hold per step (s)", m.get("hold_s")),
        ("Warm-up discarded (s)", m.get("warmup_s")),
        ("Machine", machine_line(m)),
        ("Topology", "; ".join(topology_lines(m))),
        ("Started", m.get("started_at")),
        ("Ended", m.get("ended_at") or "(not recorded)"),
        ("Git revision", m.get("git_revision")),
        ("Complete", "yes" if m.get("complete") else "no"),
    ]
    if m.get("threads_used"):
        fields.append(("Threads per worker", m.get("threads")))
    db = m.get("database") or {}
    if db:
        pool = db.get("pool")
        fields += [
            ("Django CONN_MAX_AGE (s)", db.get("conn_max_age")),
            (
                "Connection pool per process",
                f"{pool['min_size']}..{pool['max_size']}" if pool else "none",
            ),
            ("PostgreSQL max_connections", db.get("pg_max_connections")),
        ]
    fields += [("Note", note) for note in m.get("notes") or []]
    versions = m.get("versions") or {}
    fields += [(f"Version: {name}", version) for name, version in versions.items()]
    return [(key, "" if value is None else str(value)) for key, value in fields]


def load_model_text(config: dict) -> str:
    """Which load ran: the article's closed loop, or a fixed arrival rate."""
    if config.get("load_model") == "open":
        rates = ", ".join(f"{r:g}" for r in config.get("rates") or [])
        return (
            f"open: iterations started at {rates} per second whatever the answers (each user "
            f"one every {config.get('pacing_s', 0):g} s)"
        )
    wait = config.get("wait_s") or [1, 2]
    return f"closed: each user waits {wait[0]:g}-{wait[1]:g} s after each answer"


def describe_failure_definition(definition: dict) -> list[str]:
    """The failure definition of meta.json as sentences a reader can check the numbers against."""
    known = {
        "http_status": lambda v: f"a response with HTTP status {v}",
        "client_timeout_s": lambda v: f"no complete response within {v:g} s (client timeout)",
        "vote_must_redirect": lambda v: "a vote POST not answered with a redirect" if v else "",
        "nginx_proxy_read_timeout_s": lambda v: (
            f"nginx proxy_read_timeout is {v:g} s: a slower app server becomes a 504 from nginx"
        ),
    }
    lines = [known[k](v) if k in known else f"{k}: {v}" for k, v in definition.items()]
    return [line for line in lines if line]


def _failure_definitions(runs: list[Run]) -> list[dict]:
    """One entry when every run used the same definition, else one per run."""
    definitions = [run.meta.get("failure_definition") or {} for run in runs]
    if all(d == definitions[0] for d in definitions):
        return [{"label": "", "lines": describe_failure_definition(definitions[0])}]
    return [
        {"label": run.label, "lines": describe_failure_definition(d)}
        for run, d in zip(runs, definitions, strict=True)
    ]


def _knee_sections(runs: list[Run], found: dict[str, list[Search]], slo_ms: float, out: Path):
    """Per configuration with knee searches: each search's knees, every probe, one chart."""
    sections, seen = [], set()
    for run in runs:
        searches = found[run.run_id]
        key = tuple(str(s.path) for s in searches)
        if not searches or key in seen:
            continue
        seen.add(key)
        header = ["Search", "Users", "Failure %", "p95 (ms)"]
        rows = [
            [str(i + 1), str(p["users"]), fmt(p["failure_pct"], 1), _ms(p["p95_ms"])]
            for i, s in enumerate(searches)
            for p in sorted(s.data["probes"], key=lambda p: p["users"])
        ]
        name = f"knee-{len(sections) + 1}"
        chart = save(
            probes_chart(searches[0].label, [s.data for s in searches], slo_ms),
            name,
            f"Knee search probes: {searches[0].label}",
            out / "charts",
        )
        sections.append(
            {
                "label": searches[0].label,
                "searches": [
                    {
                        "name": f"Search {i + 1}: {s.path}",
                        "knees": [knee_text(n, k, s.slo_ms) for n, k in s.data["knees"].items()],
                    }
                    for i, s in enumerate(searches)
                ],
                "header": header,
                "rows": rows,
                "table_md": markdown_table(header, rows),
                "chart": figure(chart, out),
            }
        )
    return sections


def _over_time(runs: list[Run], slo_ms: float, out: Path) -> list[dict]:
    charts = []
    for run in runs:
        fig = over_time_chart(run, time_series(run.path), slo_ms, capacity_pct(run))
        title = f"{run.label} over time ({run.run_id})"
        charts.append(figure(save(fig, f"time-{run.run_id}", title, out / "charts"), out))
    return charts


def _verdict_markdown(v: Verdict) -> str:
    rows = [
        [row["label"]]
        + [
            f"**{c['value']}** ({'; '.join(x for x in (c['source'], c['ratio']) if x)})"
            for c in row["cells"]
        ]
        for row in v.rows
    ]
    return markdown_table(v.header, rows)


def _run_context(run):
    steps = step_table(run)
    metadata = _metadata(run)
    return {
        "label": run.label,
        "run_id": run.run_id,
        "metadata": metadata,
        "metadata_md": markdown_table(["Field", "Value"], metadata),
        "warnings": run_warnings(run),
        "mechanism": mechanism.run_lines(run) + mechanism.stack_lines(run),
        "steps": steps,
        "steps_md": markdown_table(*steps),
    }


def _project_context(project, runs):
    rows = details(project, runs)
    return {"headline": headline(project), "rows": rows,
            "rows_md": markdown_table(["Field", "Value"], rows)}  # fmt: skip


def _context(runs, reference, charts, out, found, v, project):
    source = reference["source"].iloc[0] if len(reference) else ""
    subject = f"{project['name']} (Django)" if project else "Django"
    return {
        "title": f"{subject} under WSGI and ASGI: how many users each server handles",
        "project": project and _project_context(project, runs),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source,
        "verdict": v,
        "verdict_md": _verdict_markdown(v),
        "runs": [_run_context(run) for run in runs],
        "knees": [knee_sentence(runs, t, reference) for t in KNEE_THRESHOLDS],
        "comparisons": mechanism.comparison_lines(runs),
        "versions": _versions_context(runs, v.slo_ms),
        "knee_intro": KNEE_INTRO,
        "knee_sections": _knee_sections(runs, found, v.slo_ms, out),
        "repetitions": [
            {**block, "table_md": markdown_table(block["header"], block["rows"])}
            for block in repetition_blocks(runs, KNEE_THRESHOLDS)
        ],
        "thresholds": KNEE_THRESHOLDS,
        "table_blocks": table_blocks(runs, reference),
        "table_md": table_markdown(runs, reference),
        "legend": legend(runs),
        "failure_definitions": _failure_definitions(runs),
        "notes": NOTES,
        "charts": [figure(chart, out) for chart in charts],
        "over_time_intro": OVER_TIME_INTRO,
        "over_time": _over_time(runs, v.slo_ms, out),
    }


def _versions_context(runs, slo_ms):
    header, rows, found = versions.table(runs, slo_ms)
    if not rows:
        return None
    sentences = [
        versions.change_sentence(found, name) for name, _, _ in versions.objectives(slo_ms)
    ] + [versions.threads_sentence(runs)]
    return {"header": header, "rows": rows, "md": markdown_table(header, rows),
            "sentences": [s for s in sentences if s]}  # fmt: skip


def _check_comparable(runs: list[Run]) -> None:
    paths = [run.path.resolve() for run in runs]
    for path in paths:
        if paths.count(path) > 1:
            raise AnalysisError(f"{path} is given more than once")
    steps = {tuple(run.planned_users) for run in runs}
    if len(steps) > 1:
        detail = "; ".join(f"{r.label}: {', '.join(map(str, r.planned_users))}" for r in runs)
        raise AnalysisError(f"runs are not comparable: different user steps ({detail})")


def build(run_dirs: list[Path], out_dir: Path, knee_dirs: list[Path] = ()) -> Path:
    """Write the comparison report of `run_dirs` into the new directory `out_dir`.

    Knee searches of the same configurations are found beside the runs; `knee_dirs` adds others
    (each must match a run). Returns the path of report.html. out_dir must not exist: a report
    is never overwritten. If writing fails half-way, the directory this call created (and any
    parent it had to create) is removed again.
    """
    if not run_dirs:
        raise AnalysisError("no runs given")
    runs = distinct_labels([load_run(d) for d in run_dirs])
    _check_comparable(runs)
    found = searches_for(runs, [Path(d) for d in knee_dirs])
    project = project_of(runs)
    reference = article.load_reference()
    if project:  # the article measured polls: its numbers sit beside polls runs only
        reference = reference.iloc[0:0]
    with output_dir(out_dir) as out_dir:
        write_table(runs, reference, out_dir)
        v = verdict(runs, found)
        charts = write_charts(runs, reference, out_dir / "charts", v.slo_ms)
        context = _context(runs, reference, charts, out_dir, found, v, project)
        for name in ("report.html", "report.md"):
            render(name, context, out_dir / name)
    return out_dir / "report.html"
