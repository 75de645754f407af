"""The HTML pages of a knee search (knee.html) and of a calibration (calibrate.html), in the
comparison report's look (templates/base.html), each built from the JSON its command wrote."""

import json
from pathlib import Path

from djbench.analysis.charts.users import probes_chart, save
from djbench.analysis.pages.html import figure, render
from djbench.analysis.report.calibration import HEADER, method, table_rows
from djbench.analysis.report.knee_report import knee_text
from djbench.analysis.report.table import fmt
from djbench.analysis.report.verdict import machine_line
from djbench.analysis.runs.run import default_label
from djbench.analysis.runs.searches import load_search


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
    first_meta = search.path / probes[0]["run_dir"] / "meta.json" if probes else None
    machines = []
    if first_meta is not None and first_meta.exists():
        machines = [machine_line(json.loads(first_meta.read_text()))]
    context = {
        "title": f"Knee search: {label}, {data['workers']} workers",
        "directory": str(search.path),
        "knees": [
            knee_text(name, k, slo, data.get("unit", "users")) for name, k in data["knees"].items()
        ],
        "machines": machines,
        "method": (
            f"Each probe ran on a fresh stack, {settings.get('measure_s', '?')} s measured after "
            f"its warm-up, from {settings.get('start', '?')} users doubling up to "
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


def write_calibration_page(cal_dir: Path) -> Path:
    """calibrate.html beside calibrate.json."""
    cal_dir = Path(cal_dir)
    results = json.loads((cal_dir / "calibrate.json").read_text())
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
