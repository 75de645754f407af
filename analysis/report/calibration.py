"""The calibration report: requests per client CPU-second for each client of `djbench calibrate`,
and what they mean for the benchmark's load generator on this machine."""

import json
import math
from pathlib import Path

from djbench.analysis.errors import AnalysisError, document_errors
from djbench.analysis.files import output_files
from djbench.analysis.markdown import markdown_table
from djbench.analysis.pages.html import render
from djbench.analysis.report.verdict import machine_line
from djbench.analysis.runs.metrics import step_metrics
from djbench.contracts import documents

# Share of one core a Locust process may use at the highest rate the stack serves: the rest is
# headroom for ramp-ups and bursts, so the event loop stays prompt and latencies stay the server's.
CORE_BUDGET = 0.5
# Rates within this share of each other are the same rate: a run-to-run spread.
SAME_RATE = 0.10


def client_numbers(run_dir: Path) -> dict:
    """rps, client CPU % of one core, requests, failures, p50/p95 of one calibration run."""
    run_dir = Path(run_dir)
    wrk = run_dir / "wrk.json"
    if wrk.exists():
        w = json.loads(wrk.read_text())
        seconds = w["duration_us"] / 1e6
        errors = sum(w[k] for k in w if k.endswith("_errors")) + w["timeouts"]
        numbers = {
            "requests": w["requests"],
            "window_s": seconds,
            "rps": w["requests"] / seconds,
            "cpu_pct": 100 * w["cpu_s"] / seconds,
            "failure_pct": 100 * errors / w["requests"] if w["requests"] else math.nan,
            "p50_ms": w["p50_us"] / 1000,
            "p95_ms": w["p95_us"] / 1000,
        }
    else:
        steps = step_metrics(run_dir)
        if steps.empty:
            raise AnalysisError(f"{run_dir} has no measured step")
        step = steps.iloc[0]
        numbers = {
            "requests": int(step["requests"]),
            "window_s": float(step["window_s"]),
            "rps": float(step["rps"]),
            # Every Locust process: the master (or the only one) and each worker.
            "cpu_pct": _locust_cpu(step),
            "failure_pct": float(step["failure_pct"]),
            "p50_ms": float(step["p50_ms"]),
            "p95_ms": float(step["p95_ms"]),
        }
    cpu = numbers["cpu_pct"] / 100
    numbers["requests_per_cpu_s"] = numbers["rps"] / cpu if cpu > 0 else math.nan
    numbers["cpu_ms_per_request"] = 1000 * cpu / numbers["rps"] if numbers["rps"] else math.nan
    return numbers


def _locust_cpu(step) -> float:
    values = [step[c] for c in step.index if c.startswith("cpu_locust") and step[c] == step[c]]
    return float(sum(values)) if values else math.nan


def conclusions(clients: dict, worker_processes: int = 0) -> list[str]:
    """The sentences the numbers support; clients: name -> client_numbers()."""
    fast, http = clients["locust-fast-vote"], clients["locust-http-vote"]
    lines = [
        f"FastHttpUser: {fast['requests_per_cpu_s']:.0f} requests per CPU-second "
        f"({fast['cpu_ms_per_request']:.2f} ms of CPU per request); HttpUser: "
        f"{http['requests_per_cpu_s']:.0f} ({http['cpu_ms_per_request']:.2f} ms). "
        f"FastHttpUser is {fast['requests_per_cpu_s'] / http['requests_per_cpu_s']:.1f}x cheaper "
        "per request: the benchmark's default user class"
    ]
    peak = max(fast["rps"], http["rps"])
    need = peak / fast["requests_per_cpu_s"]
    processes = max(1, math.ceil(need / CORE_BUDGET))
    lines.append(
        f"The stack served the vote scenario at up to {peak:.0f} requests/s with no wait; one "
        f"Locust process with FastHttpUser needs {100 * need:.0f} % of one core for that, so "
        f"{processes} process{'es' if processes > 1 else ''} keep{'' if processes > 1 else 's'} "
        f"each under {100 * CORE_BUDGET:.0f} % of a core"
    )
    detail, wrk = clients["locust-fast-detail"], clients["wrk-detail"]
    lines.append(
        f"On the poll form alone, Locust (FastHttpUser) got {detail['rps']:.0f} requests/s and "
        f"wrk {wrk['rps']:.0f} ({100 * detail['rps'] / wrk['rps']:.0f} % of wrk's) at "
        f"{detail['cpu_ms_per_request']:.2f} vs {wrk['cpu_ms_per_request']:.3f} ms of client "
        "CPU per request"
    )
    several = clients.get("locust-fast-vote-processes")
    if several is not None and worker_processes > 1:
        share = several["rps"] / fast["rps"]
        verdict = (
            "about the same rate, so the stack, not the generator, set it"
            if abs(share - 1) <= SAME_RATE
            else "more processes got more through: one process held the load back"
            if share > 1
            else "fewer got through: the extra processes took CPU from the stack"
        )
        lines.append(
            f"With {worker_processes} worker processes Locust reached {several['rps']:.0f} "
            f"requests/s, with one {fast['rps']:.0f} ({100 * share:.0f} %), at "
            f"{several['cpu_ms_per_request']:.2f} ms of client CPU per request against "
            f"{fast['cpu_ms_per_request']:.2f}: {verdict}"
        )
    return lines


HEADER = [
    "Client", "Scenario", "Requests", "Requests/s", "Failure %", "p50 (ms)", "p95 (ms)",
    "Client CPU (% of a core)", "Requests per client CPU-second", "Client CPU per request (ms)",
]  # fmt: skip


def table_rows(runs: list[dict], clients: dict) -> list[list[str]]:
    rows = []
    for r in runs:
        n = clients[r["name"]]
        rows.append(
            [r["label"], r["scenario"], str(n["requests"]), f"{n['rps']:.1f}",
             f"{n['failure_pct']:.1f}", f"{n['p50_ms']:.0f}", f"{n['p95_ms']:.0f}",
             f"{n['cpu_pct']:.1f}", f"{n['requests_per_cpu_s']:.0f}",
             f"{n['cpu_ms_per_request']:.3f}"]
        )  # fmt: skip
    return rows


def method(results: dict) -> str:
    """How the numbers were measured, from calibrate.json."""
    return (
        f"Stack: {results['server']} ({results['workers']} workers), PostgreSQL, nginx, native. "
        f"Each client drove its own fresh stack closed-loop with {results['users']} users or "
        "connections and no wait; CPU is the client's own (Locust: its process tree, sampled "
        "once a second; wrk: its exact CPU time)."
    )


def write_report(cal_dir: Path, runs: list[dict]) -> None:
    """runs: one dict per client, in order: name, label, scenario and run (its directory,
    relative to cal_dir). Writes calibrate.json, calibrate.md and calibrate.html."""
    cal_dir = Path(cal_dir)
    with output_files(cal_dir / documents.CALIBRATION.file, cal_dir / "calibrate.md"):
        _write(cal_dir, runs)


def _write(cal_dir, runs):
    clients = {r["name"]: client_numbers(cal_dir / r["run"]) for r in runs}
    with document_errors():
        first = documents.load_meta(cal_dir / runs[0]["run"])
    processes = max((r.get("processes", 1) for r in runs), default=1)
    lines = conclusions(clients, processes)
    results = {
        "server": first["server"],
        "workers": first["workers"],
        "users": first["users"][0],
        "machine": first.get("machine"),
        "runs": runs,
        "clients": clients,
        "conclusions": lines,
    }
    text = json.dumps(documents.stamp(documents.CALIBRATION, results), indent=2)
    (cal_dir / documents.CALIBRATION.file).write_text(text + "\n")
    machine = documents.meta_machine(first)
    md = [
        "# Load generator calibration",
        "",
        f"Machine: {machine.get('cpu_model', '?')}, {machine.get('cpu_count', '?')} CPUs. "
        + method(results),
        "",
        markdown_table(HEADER, table_rows(runs, clients), compact_rule=True),
    ]
    md += ["", "What it means here:", ""] + [f"- {line}" for line in lines]
    md += ["", "Raw runs: " + ", ".join(f"[{r['name']}]({r['run']})" for r in runs), ""]
    (cal_dir / "calibrate.md").write_text("\n".join(md))
    write_calibration_page(cal_dir)


def write_calibration_page(cal_dir: Path) -> Path:
    """calibrate.html beside calibrate.json."""
    cal_dir = Path(cal_dir)
    with document_errors():
        results = documents.load_calibration(cal_dir)
    context = {
        "title": "Load generator calibration",
        "directory": str(cal_dir),
        "conclusions": results["conclusions"],
        "machine": machine_line({"machine": results.get("machine") or {}}),
        "method": method(results),
        "header": HEADER,
        "rows": table_rows(results["runs"], results["clients"]),
        "runs": results["runs"],
    }
    return render("calibration.html", context, cal_dir / "calibrate.html")
