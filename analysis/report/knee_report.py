"""The report of one knee search (knee.json): the probes as a table and a chart, and each
objective's knee with its resolution."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from djbench.analysis.charts.users import probes_chart, save  # noqa: E402
from djbench.analysis.errors import AnalysisError, document_errors  # noqa: E402
from djbench.analysis.files import output_files  # noqa: E402
from djbench.analysis.markdown import markdown_table  # noqa: E402
from djbench.analysis.pages.html import figure, render  # noqa: E402
from djbench.analysis.report.capacity import capacity, capacity_line  # noqa: E402
from djbench.analysis.report.table import fmt  # noqa: E402
from djbench.analysis.report.verdict import machine_line  # noqa: E402
from djbench.analysis.runs.run import default_label  # noqa: E402
from djbench.analysis.runs.searches import load_search  # noqa: E402
from djbench.contracts.documents import KNEE, META, DocumentError, load_knee, load_meta  # noqa: E402

NAMES = {
    "failures_0": "no failures",
    "failures_1": "at most 1 % failures",
    "p95": "p95 under {slo:g} ms",
}


# What the report reads from knee.json (djbench/search/probes.py writes it): field -> kind.
TOP_FIELDS = {"server": "text", "interface": "text", "view": "text", "workers": "int"}
PROBE_FIELDS = {"users": "int", "failure_pct": "number", "p95_ms": "number", "run_dir": "text"}
KNEE_FIELDS = {"users": "int or null", "bad_users": "int or null", "resolution": "number"}
KINDS = {
    "text": ((str,), "text"),
    "int": ((int,), "a whole number"),
    "number": ((int, float), "a number"),
    "int or null": ((int, type(None)), "a whole number or null"),
}


def _fields(obj, fields, where):
    """Check that the dict `obj` (called `where` in messages) has `fields` of their kinds."""
    for key, kind in fields.items():
        if key not in obj:
            raise AnalysisError(f"{where} lacks {key}".lstrip())
        types, what = KINDS[kind]
        if isinstance(obj[key], bool) or not isinstance(obj[key], types):
            raise AnalysisError(f"{where}{'.' if where else ''}{key} is {obj[key]!r}, not {what}")


def _dict(obj, where):
    if not isinstance(obj, dict):
        raise AnalysisError(f"{where} is not an object")
    return obj


def read_knee(knee_dir):
    """knee.json of a knee search, checked: every field the reports use, of the right kind."""
    path = Path(knee_dir) / KNEE.file
    if not path.exists():
        raise AnalysisError(f"{knee_dir} is not a knee search (no {KNEE.file})")
    with document_errors():
        data = load_knee(path)
    try:
        _fields(data, TOP_FIELDS, "")
        for key in ("settings", "probes", "knees"):
            if key not in data:
                raise AnalysisError(f"lacks {key}")
        _fields(_dict(data["settings"], "settings"), {"p95_slo_ms": "number"}, "settings")
        if not isinstance(data["probes"], list):
            raise AnalysisError("probes is not a list")
        for i, probe in enumerate(data["probes"]):
            _fields(_dict(probe, f"probes[{i}]"), PROBE_FIELDS, f"probes[{i}]")
        knees = _dict(data["knees"], "knees")
        for name in NAMES:
            if name not in knees:
                raise AnalysisError(f"knees lacks {name}")
            _fields(_dict(knees[name], f"knees.{name}"), KNEE_FIELDS, f"knees.{name}")
    except AnalysisError as e:
        raise AnalysisError(f"{path}: {e}") from None
    return data


def knee_text(name, k, slo, unit="users"):
    what = NAMES[name].format(slo=slo)
    if k["users"] is None:
        return f"{what}: broken already at the smallest count searched, {k['bad_users']} {unit}"
    if k["bad_users"] is None:
        return f"{what}: never broken up to {k['users']} {unit} (the knee is higher)"
    return (
        f"{what}: {k['users']} {unit} (broken at {k['bad_users']}; resolution "
        f"{k['resolution']} {unit})"
    )


def _verdicts(p):
    if not p.get("stopped_early"):
        return ""
    return "yes: " + ", ".join(
        f"{NAMES[k].split(' under')[0]} {'met' if v else 'broken'}" for k, v in p["early"].items()
    )


def _steady(p):
    """Where the probe's steady window opened, and what it left out."""
    if p.get("truncation_s") is None:
        return "fixed warm-up"  # a search recorded before steady state was decided
    cells = [f"{p['truncation_s']:.1f}"]
    if p.get("unsettled"):
        cells.append(f"NOT settled: {', '.join(p['unsettled'])}")
    if p.get("ramp_failures"):
        cells.append(f"ramp-up: {p['ramp_failures']} failed (not counted)")
    if p.get("transient_failures"):
        cells.append(f"transient: {p['transient_failures']} failed (cut)")
    return "; ".join(cells)


def _seconds(p, key, decimals):
    # Searches recorded before probes carried their times leave these cells empty.
    return f"{p[key]:.{decimals}f}" if key in p else ""


def _probe_table(probes, unit):
    header = ["#", unit, "failure %", "p95 (ms)", "steady from (s)", "measured (s)", "probe (s)",
              "stopped early", "run"]  # fmt: skip
    rows = [
        [i, p["users"], f"{p['failure_pct']:.1f}", f"{p['p95_ms']:.0f}", _steady(p),
         _seconds(p, "measured_s", 1), _seconds(p, "duration_s", 0), _verdicts(p), p["run_dir"]]
        for i, p in enumerate(probes, 1)
    ]  # fmt: skip
    return markdown_table(header, rows)


def _prediction_lines(prediction, unit, slo):
    if not prediction:
        return ["No prediction: the search doubled from its start."]
    sat = prediction["saturation"]
    lines = [
        f"Prediction: a saturation probe ({sat['users']} users with no wait, "
        f"{sat['measured_s']:g} s measured, {sat['duration_s']:.0f} s in all, `{sat['run_dir']}`) "
        f"completed {sat['iterations_per_s']:.1f} iterations/s, {sat['iteration_s'] * 1000:.0f} "
        f"ms per iteration, p95 {sat['p95_ms']:.0f} ms."
    ]
    if "guess" in prediction:
        lines[0] += (
            f" By Little's law the p95 objective ({slo:g} ms) should break near "
            f"{prediction['guess']} {unit}, between {prediction['low']} and {prediction['high']}: "
            "the first probe, and the bracket bisection started from."
        )
    failures = prediction.get("failures")
    if failures:
        lines[0] += (
            f" PostgreSQL's {sat['connection_limit']} connections: "
            f"{sat['pg_total_mean'] / sat['in_flight_mean']:.2f} per request in flight, peaks "
            f"{sat['pg_total_max'] / sat['pg_total_mean']:.2f} times their mean; by Little's law "
            f"they run out near {failures['guess']} {unit}, between {failures['low']} and "
            f"{failures['high']}: where the failure knees were searched first."
        )
    return lines


def _sequential_line(settings):
    test = settings.get("sequential")
    if not test:
        return []
    return [
        f"At most 1 % failures is decided sequentially (Wald's SPRT, {test['p0']:.1%} against "
        f"{test['p1']:.1%} failures, error rates alpha {test['alpha']:g} and beta "
        f"{test['beta']:g}); each probe is measured from its steady state (MSER-5 on its "
        f"requests after a ramp-up of at most {settings.get('ramp_s', '?'):g} s).",
        "",
    ]


def _spent_line(spent):
    if not spent:
        return []
    return [
        f"Spent: {spent['wall_s'] / 60:.1f} min in all, {spent['probes']} probes "
        f"(+{spent['saturation_probes']} saturation), {spent['stopped_early']} stopped early; "
        f"{spent['measured_s']:.0f} s measured of {spent['probe_s']:.0f} s of probe runs "
        "(the rest: start-up, ramp-up, warm-up, teardown).",
        "",
    ]


def search_runs(data):
    """The runs of a search (knee.json), in order: its saturation probe's, then its probes'."""
    saturation = (data.get("prediction") or {}).get("saturation")
    return [*([saturation] if saturation else []), *data["probes"]]


def _stack_lines(knee_dir, data):
    """How the probes got their stacks, when they shared one (`--warm-stack`)."""
    if not data["settings"].get("warm_stack"):
        return []
    runs = search_runs(data)
    started = 0
    for run in runs:
        try:
            stack = load_meta(knee_dir / run["run_dir"]).get("stack") or {}
        except (OSError, DocumentError):
            return []
        started += stack.get("run") == 1
    return [
        f"The probes shared a warm stack (`--warm-stack`): each ran once the one before had "
        f"drained (no request in flight in the app, no PostgreSQL backend busy); {started} of "
        f"the {len(runs)} runs started one (`stack` in each probe's meta.json).",
        "",
    ]


def _project(knee_dir, data):
    """A user's project as the search's first probe recorded it in its meta.json ({} for the
    polls project, or when that probe's meta.json cannot be read)."""
    if not data["probes"]:
        return {}
    try:
        recorded = load_meta(knee_dir / data["probes"][0]["run_dir"]).get("project") or {}
    except (OSError, DocumentError):
        return {}
    return {} if recorded.get("builtin", True) else recorded


def _project_lines(project):
    if not project.get("name"):
        return []
    revision = project.get("git_revision") or "not a git checkout"
    return [f"Project: {project['name']} ({project.get('path')}, git {revision}), settings "
            f"{project.get('settings')}.", ""]  # fmt: skip


def _capacity_lines(knee_dir, data):
    resolution_pct = data["settings"].get("resolution_pct", 10.0)
    line = capacity_line(
        capacity(knee_dir, data["probes"]), resolution_pct, data.get("unit", "users")
    )
    return [f"- {line}"] if line else []


def write_knee_report(knee_dir):
    knee_dir = Path(knee_dir)
    data = read_knee(knee_dir)
    with output_files(knee_dir / "knee.md", knee_dir / "probes.png"):
        _write(knee_dir, data)


def _write(knee_dir, data):
    slo = data["settings"]["p95_slo_ms"]
    unit = data.get("unit", "users")
    probes = data["probes"]
    model = data.get("load_model", "closed")
    project = _project(knee_dir, data)
    of = f" of {project['name']}" if project.get("name") else ""
    lines = [
        f"# Knee search{of}: {data['server']} ({data['interface'].upper()}, {data['view']} "
        f"views, {data['workers']} workers)",
        "",
        *_project_lines(project),
        *(f"- {knee_text(name, k, slo, unit)}" for name, k in data["knees"].items()),
        *_capacity_lines(knee_dir, data),
        "",
        f"Load model: {model} ({unit}). A knee is a count that met its objective every time it "
        f"was measured: the search measured each bounded knee "
        f"{data['settings'].get('confirm', 0)} more time(s) to confirm it, and went on below a "
        f"count that failed its confirmation. Each probe measured up to "
        f"{data['settings'].get('measure_s', '?')} s after its ramp-up; one whose verdict could "
        "no longer change stopped early (which verdicts it settled is listed).",
        "",
        *_prediction_lines(data.get("prediction"), unit, slo),
        "",
        *_sequential_line(data["settings"]),
        *_spent_line(data.get("spent")),
        *_stack_lines(knee_dir, data),
        _probe_table(probes, unit),
        "",
        "![probes](probes.png)",
        "",
    ]
    (knee_dir / "knee.md").write_text("\n".join(lines))
    fig, left = plt.subplots(figsize=(8, 4.5))
    probes = sorted(probes, key=lambda p: p["users"])
    users = [p["users"] for p in probes]
    left.plot(users, [p["failure_pct"] for p in probes], "o-", color="tab:red", label="failure %")
    left.set_xlabel(unit.capitalize())
    left.set_ylabel("Failed requests (%)")
    right = left.twinx()
    right.plot(users, [p["p95_ms"] for p in probes], "s--", color="tab:blue", label="p95 (ms)")
    right.axhline(slo, color="tab:blue", linewidth=0.8, linestyle=":")
    right.set_ylabel("p95 response time (ms)")
    left.set_title(f"Knee search probes: {data['server']} ({data['interface'].upper()})")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="upper left")
    left.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(knee_dir / "probes.png", dpi=100)
    plt.close(fig)
    write_knee_page(knee_dir)  # the same results as an HTML page


def write_knee_page(knee_dir: Path) -> Path:
    """knee.html beside knee.json, with its chart in charts/probes.png."""
    search = load_search(Path(knee_dir))
    data, slo = search.data, search.slo_ms
    label = default_label(data)
    charts_dir = search.path / "charts"
    charts_dir.mkdir(exist_ok=True)
    chart = save(probes_chart(label, [data], slo), "probes", "Every probe", charts_dir)
    settings = data["settings"]
    probes = data["probes"]
    after = "its ramp-up, from its steady state on" if "sequential" in settings else "its warm-up"
    first_meta = search.path / probes[0]["run_dir"] / META.file if probes else None
    machines = []
    if first_meta is not None and first_meta.exists():
        with document_errors():
            machines = [machine_line(load_meta(first_meta))]
    context = {
        "title": f"Knee search: {label}, {data['workers']} workers",
        "directory": str(search.path),
        "knees": [
            knee_text(name, k, slo, data.get("unit", "users")) for name, k in data["knees"].items()
        ],
        "machines": machines,
        "method": (
            f"Each probe ran on a fresh stack, {settings.get('measure_s', '?')} s measured after "
            f"{after}, from {settings.get('start', '?')} users doubling up to "
            f"{settings.get('max_users', '?')}, then bisection to "
            f"{settings.get('resolution_pct', '?')} % of the users. A knee is a user count that "
            f"met its objective every time it was measured: each bounded knee was measured "
            f"{settings.get('confirm', 0)} more time(s) to confirm it."
        ),
        "header": ["Users", "Failure %", "p95 (ms)", "Run"],
        "rows": [
            [str(p["users"]), fmt(p["failure_pct"], 1), fmt(p["p95_ms"], 0), p["run_dir"]]
            for p in probes
        ],
        "chart": figure(chart, search.path),
    }
    return render("knee.html", context, search.path / "knee.html")
