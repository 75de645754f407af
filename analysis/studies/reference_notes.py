"""The reference notes and the README's measured numbers, rendered from results/reference/.

    djbench reference-notes          write results/reference/README.md and the
                                                README's measured blocks
    djbench reference-notes --check  exit 1 if either differs from its rendering

Every number they quote comes from a file under results/reference/: the article runs' steps.csv
and meta.json, the rebuilt report, each knee search's knee.json, calibrate.json, the overhead of
the smoke, quick and article runs, the gap study, the across-hosts comparison and the test
suite's summary line. The prose lives in analysis/templates/reference/ (Jinja2); README.md takes
rendered blocks between `<!-- reference:NAME -->` and `<!-- /reference:NAME -->` lines, so a
number cannot drift from its data (tests/test_reference_notes.py runs --check).
"""

import json
import re
import statistics
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from djbench.analysis import files
from djbench.analysis.errors import AnalysisError, document_errors
from djbench.analysis.markdown import markdown_table
from djbench.analysis.report import article
from djbench.analysis.report.knee_report import NAMES, search_runs
from djbench.analysis.report.knee_summary import spread
from djbench.analysis.report.table import table_markdown
from djbench.analysis.runs.run import load_run
from djbench.analysis.studies.overhead import epoch, overhead_table
from djbench.analysis.studies.overhead import markdown as overhead_markdown
from djbench.contracts.documents import load_calibration, load_knee, load_meta
from djbench.search import machine_speed
from djbench.search.settings import KNEE_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]  # the checkout: these notes are the repository's
REFERENCE = ROOT / "results" / "reference"
TEMPLATES = files.TEMPLATES / "reference"
BLOCK = re.compile(r"(<!-- reference:(?P<name>[a-z0-9-]+) -->\n)(.*?)"
                   r"(<!-- /reference:(?P=name) -->)", re.S)  # fmt: skip


def _minutes(seconds):
    whole = round(seconds)  # before splitting: 119.6 s is 2 min 0 s, not 1 min 60 s
    return f"{whole // 60} min {whole % 60} s"


def _section(markdown, heading):
    """The text of a `## heading` section of a Markdown file, heading excluded."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    if match is None:
        raise AnalysisError(f"no section {heading!r}")
    return match.group(1).strip()


def _f1(value):
    return f"{float(value):.1f}"


def _f0(value):
    return f"{float(value):.0f}"


def _steps_table(runs):
    """Every step of every run: the notes' "Per step" table."""
    header = ["run", "users", "failure %", "requests/s", "p50 (ms)", "p95 (ms)",
              "PostgreSQL refusals", "Locust CPU", "server CPU"]  # fmt: skip
    rows = [
        [run["label"], s["users"], _f1(s["article_failure_pct"]), _f1(s["rps"]), _f0(s["p50_ms"]),
         _f0(s["p95_ms"]), s.get("pg_refused", ""), _f1(s["cpu_locust_pct"]),
         _f1(s["cpu_server_pct"])]
        for run in runs
        for s in run["steps"]
    ]  # fmt: skip
    return markdown_table(header, rows, compact_rule=True)


def _steps(run):
    rows = []
    for _, s in run.steps.iterrows():
        rows.append({k: s[k] for k in s.index})
    return rows


def _totals(run):
    """What the notes say of a whole run, summed or ranged over its steps."""
    s = run.steps
    causes = {c.removeprefix("fail_"): int(s[c].sum()) for c in s.columns if c.startswith("fail_")}
    return {
        "failures": int(s["failures"].sum()),
        "causes": {k: v for k, v in causes.items() if v},
        "pg_refused": int(s["pg_refused"].sum()) if "pg_refused" in s else 0,
        "pg_total_max": int(s["pg_total_max"].max()) if "pg_total_max" in s else None,
        "rps": (float(s["rps"].min()), float(s["rps"].max())),
        "p95": (float(s["p95_ms"].min()), float(s["p95_ms"].max())),
        "server_cpu": (float(s["cpu_server_pct"].min()), float(s["cpu_server_pct"].max())),
        "postgres_cpu": (float(s["cpu_postgres_pct"].min()), float(s["cpu_postgres_pct"].max())),
        "locust_cpu_max": float(s["cpu_locust_pct"].max()),
        "limited_steps": [int(u) for u in s.loc[s["generator_limited"] == 1, "users"]],
    }


def bench_facts(ref):
    run_dirs = sorted((ref / "runs").iterdir())
    runs = [load_run(d) for d in run_dirs]
    metas = [r.meta for r in runs]
    started = min(epoch(m["started_at"]) for m in metas)
    ended = max(epoch(m["ended_at"]) for m in metas)
    report_md = (ref / "report" / "report.md").read_text()
    described = [
        {
            "label": r.label,
            "server": r.server,
            "meta": r.meta,
            "steps": _steps(r),
            "totals": _totals(r),
            "dir": r.path.relative_to(ref).as_posix(),
            "duration": _minutes(epoch(r.meta["ended_at"]) - epoch(r.meta["started_at"])),
        }
        for r in runs
    ]
    return {
        "runs": described,
        "wall": _minutes(ended - started),
        "table": table_markdown(runs, article.load_reference()).strip(),
        "steps_table": _steps_table(described),
        "verdict": _section(report_md, "Verdict"),
        "first": metas[0],
    }


OBJECTIVES = ("p95", "failures_0", "failures_1")  # the knee tables' columns, in order


def _knee_cell(k, resolution=False):
    if k["users"] is None:
        return f"< {k['bad_users']}"
    if k["bad_users"] is None:
        return f"≥ {k['users']}"
    tail = f", resolution {k['resolution']}" if resolution else ""
    return f"{k['users']} (broken at {k['bad_users']}{tail})"


def _knee_header(searches, *first, last=()):
    slo = _f0(searches[0]["settings"]["p95_slo_ms"])
    return [*first, f"p95 under {slo} ms", "no failures", "at most 1 % failures", "wall time",
            "probes (stopped early)", *last]  # fmt: skip


def _probes(search):
    return f"{search['spent']['probes']} ({search['spent']['stopped_early']})"


def _truncation(search):
    """Where the probes' steady windows opened (seconds after the ramp-up, MSER-5), and how many
    never settled; a search measured after a fixed warm-up decided none."""
    cuts = [p["truncation_s"] for p in search["probes"] if p["truncation_s"] is not None]
    if not cuts:
        return "n/a (fixed warm-up)"
    unsettled = sum(bool(p["unsettled"]) for p in search["probes"])
    return (f"{min(cuts):.1f}-{max(cuts):.1f} s (median {statistics.median(cuts):.1f}); "
            f"{unsettled} of {len(search['probes'])} not settled")  # fmt: skip


def _searches_table(searches):
    """One linked row per search, with each knee's resolution: the notes' table."""
    rows = [
        [f"[{s['dir'].split('/')[-1]}]({s['dir']}/knee.md)", s["server"],
         *(_knee_cell(s["knees"][o], resolution=True) for o in OBJECTIVES), s["wall"], _probes(s),
         _f0(s["spent"]["measured_s"]), _truncation(s)]
        for s in searches
    ]  # fmt: skip
    last = ["seconds measured", "steady from (after the ramp-up)"]
    header = _knee_header(searches, "search", "server", last=last)
    return markdown_table(header, rows, compact_rule=True)


def _stack(search):
    return "one, warm" if search["settings"].get("warm_stack") else "one per probe"


def _by_server_table(searches, by_server):
    """Each server's searches in turn: the README's table (with where the probes' steady windows
    opened, for searches that decided it, and how the probes got their stacks, where some
    shared one)."""
    steady = any(p["truncation_s"] is not None for s in searches for p in s["probes"])
    warm = any(s["settings"].get("warm_stack") for s in searches)
    rows = [
        [server, i, *(_knee_cell(s["knees"][o]) for o in OBJECTIVES), s["wall"], _probes(s),
         *([_truncation(s)] if steady else []), *([_stack(s)] if warm else [])]
        for server, group in by_server.items()
        for i, s in enumerate(group, 1)
    ]  # fmt: skip
    last = [*(["steady from (after the ramp-up)"] if steady else []),
            *(["stack"] if warm else [])]  # fmt: skip
    header = _knee_header(searches, "server", "search", last=last)
    return markdown_table(header, rows, compact_rule=True)


def _calibration_table(calibrate):
    header = ["client", "scenario", "requests/s", "client CPU (% of a core)",
              "requests per client CPU-second"]  # fmt: skip
    rows = []
    for r in calibrate["runs"]:
        n = calibrate["clients"][r["name"]]
        rows.append([r["label"], r["scenario"], _f1(n["rps"]), _f1(n["cpu_pct"]),
                     _f0(n["requests_per_cpu_s"])])  # fmt: skip
    return markdown_table(header, rows, compact_rule=True)


def _pairs_table(by_server, rounds):
    """Each two commands in a row: whether all their bounded knees agree within one resolution
    step (the knee search's repeatability), and the ones that do not."""
    rows = []
    for i in range(rounds - 1):
        apart = []
        for server, group in by_server.items():
            slo = group[i]["settings"]["p95_slo_ms"]
            for o in OBJECTIVES:
                found = spread([group[i]["knees"][o], group[i + 1]["knees"][o]])
                if found is not None and not found[2]:
                    name = NAMES[o].format(slo=slo)
                    apart.append(f"{server} {name}: {found[0]} apart (resolution {found[1]})")
        rows.append([f"{i + 1} and {i + 2}", "NO: " + "; ".join(apart) if apart else "yes"])
    return markdown_table(["commands", "every knee within one resolution step"], rows,
                          compact_rule=True)  # fmt: skip


# A run's phases (studies/overhead.py), in order: a probe's time is theirs.
PHASES = {"start-up (s)": "stack start-up", "Locust start (s)": "Locust start",
          "ramp-up + warm-up (s)": "ramp-up", "measured (s)": "window after the ramp-up",
          "teardown (s)": "teardown"}  # fmt: skip


def _time_table(ref, by_server):
    """Where each search's time went: its probe runs' phases summed (the saturation probe's
    too), the steady part of their windows (knee.json `spent`), and the search's wall time;
    with how the probes got their stacks, where some shared one."""
    warm = any(s["settings"].get("warm_stack") for group in by_server.values() for s in group)
    rows = []
    for server, group in by_server.items():
        for i, s in enumerate(group, 1):
            runs = search_runs(s)
            sums = overhead_table([ref / s["dir"] / r["run_dir"] for r in runs])[list(PHASES)].sum()
            rows.append([server, i, *([_stack(s)] if warm else []), len(runs),
                         *(_f0(sums[c]) for c in PHASES), _f0(s["spent"]["measured_s"]),
                         _f0(s["spent"]["wall_s"])])  # fmt: skip
    header = ["server", "search", *(["stack"] if warm else []), "probe runs",
              *(f"{n} (s)" for n in PHASES.values()), "of the windows: steady (s)",
              "search (s)"]  # fmt: skip
    return markdown_table(header, rows, compact_rule=True)


def _first_run_meta(ref, search):
    """Where and when a search ran: its first probe's meta.json (the saturation probe's, when
    it has one)."""
    with document_errors():
        return load_meta(min((ref / search["dir"] / "probes").iterdir()))


def knee_facts(ref, folder="knee"):
    searches = []
    for path in sorted((ref / folder).glob("*-knee-*")):
        with document_errors():
            data = load_knee(path)
        searches.append({"dir": path.relative_to(ref).as_posix(), **data,
                         "wall": _minutes(data["spent"]["wall_s"])})  # fmt: skip
    servers = sorted({s["server"] for s in searches}, key=lambda s: (s != "gunicorn", s))
    by_server = {srv: [s for s in searches if s["server"] == srv] for srv in servers}
    summary = (ref / folder / "summary" / "knees.md").read_text()
    table = "\n".join(ln for ln in summary.splitlines() if ln.startswith("|"))
    # One `make knee SERVERS="a b"` searches each server in turn: its i-th search of each.
    rounds = min(len(v) for v in by_server.values())
    commands = [_minutes(sum(v[i]["spent"]["wall_s"] for v in by_server.values()))
                for i in range(rounds)]  # fmt: skip
    first = _first_run_meta(ref, searches[0])
    return {"searches": searches, "by_server": by_server, "summary_table": table,
            "commands": commands, "pairs_table": _pairs_table(by_server, rounds),
            "searches_table": _searches_table(searches),
            "by_server_table": _by_server_table(searches, by_server), "first": first,
            "time_table": _time_table(ref, by_server)}  # fmt: skip


def knee_warm_facts(ref):
    """knee-warm/: a command with a stack per probe, then commands whose probes shared one."""
    found = knee_facts(ref, "knee-warm")
    warm = next(s for s in found["searches"] if s["settings"].get("warm_stack"))
    return {**found, "warm_revision": _first_run_meta(ref, warm)["git_revision"]}


def knee_default_facts(ref, folder="knee-default"):
    """knee-default/ (and knee-default-2/): commands in a row, each with how its probes got
    their stacks and the revision it ran (from its first search's first probe)."""
    found = knee_facts(ref, folder)
    first_server = next(iter(found["by_server"].values()))
    rows = [
        [i, wall, _stack(search), _first_run_meta(ref, search)["git_revision"][:7]]
        for i, (wall, search) in enumerate(zip(found["commands"], first_server, strict=False), 1)
    ]
    table = markdown_table(["command", "wall time", "stack", "revision"], rows, compact_rule=True)
    return {**found, "rounds": len(rows), "rounds_table": table}


def machine_speed_facts(ref):
    """machine-speed/: `djbench machine-speed` runs, each summarised again from its CSV."""
    runs = []
    for run in sorted((ref / "machine-speed").glob("*-machine-speed")):
        rows = files.read_csv(run / machine_speed.CSV, ["window", "cpu", "units"])
        counts = {cpu: list(g.sort_values("window")["units"]) for cpu, g in rows.groupby("cpu")}
        recorded = json.loads((run / "summary.json").read_text())
        window_s = recorded["window_s"]
        found = machine_speed.summary(counts, window_s)
        stamp = run.name  # <yyyymmdd>-<hhmmss>-machine-speed
        runs.append({**found, "dir": run.name, "seconds": found["windows"] * window_s,
                     "date": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}",
                     "started": f"{stamp[9:11]}:{stamp[11:13]}", "machine": recorded["machine"],
                     "revision": recorded["git_revision"][:7]})  # fmt: skip
    return {"runs": runs, "resolution_pct": KNEE_DEFAULTS["resolution_pct"]}


def overhead_facts(ref):
    runs = sorted((ref / "overhead").glob("*-smoke")) + sorted((ref / "overhead").glob("*-quick"))
    runs += sorted((ref / "runs").glob("*gunicorn*"))
    table = overhead_table(runs)
    return {"table": overhead_markdown(table), "rows": table.to_dict("records")}


def facts(ref=REFERENCE):
    with document_errors():
        calibrate = load_calibration(ref / "calibrate")
    tests = (ref / "make-test.txt").read_text().strip().splitlines()[-1]
    return {
        "bench": bench_facts(ref),
        "knee": knee_facts(ref),
        "knee_warmup": knee_facts(ref, "knee-warmup10"),
        "knee_steady": knee_facts(ref, "knee-steady"),
        "knee_repeat": knee_facts(ref, "knee-repeat"),
        "knee_measure15": knee_facts(ref, "knee-measure15"),
        "knee_measure20": knee_facts(ref, "knee-measure20"),
        "knee_warm": knee_warm_facts(ref),
        "knee_default": knee_default_facts(ref),
        "knee_default_2": knee_default_facts(ref, "knee-default-2"),
        "knee_default_3": knee_default_facts(ref, "knee-default-3"),
        "calibrate": {**calibrate, "table": _calibration_table(calibrate)},
        "machine_speed": machine_speed_facts(ref),
        "knee_repeatability": json.loads(
            (ref / "knee-repeatability" / "repeatability.json").read_text()
        ),
        "overhead": overhead_facts(ref),
        "gap": (ref / "gap" / "gap.md").read_text().strip(),
        "across": (ref / "across_hosts" / "across_hosts.md").read_text().strip(),
        "tests": tests.strip("= "),
    }


def _environment():
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)  # fmt: skip
    env.filters["f1"] = _f1
    env.filters["f0"] = _f0
    return env


def render(ref=REFERENCE, readme=ROOT / "README.md"):
    """(reference notes, README) as they must read."""
    context = facts(ref)
    env = _environment()
    notes = env.get_template("notes.md").render(context)

    def block(match):
        text = env.get_template(f"{match['name']}.md").render(context).strip()
        return f"{match.group(1)}{text}\n{match.group(4)}"

    return notes, BLOCK.sub(block, readme.read_text())
