"""Several knee searches side by side: each configuration's knees per search, their spread against
the resolution, and every probe of every search in one chart."""

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from djbench.analysis.errors import AnalysisError  # noqa: E402
from djbench.analysis.files import output_dir  # noqa: E402
from djbench.analysis.markdown import markdown_table  # noqa: E402
from djbench.analysis.report.knee_report import NAMES, read_knee  # noqa: E402


def load_searches(knee_dirs):
    searches = [{**read_knee(knee_dir), "dir": Path(knee_dir)} for knee_dir in knee_dirs]
    if not searches:
        raise AnalysisError("no knee searches given")
    return searches


def _label(search):
    return f"{search['server']} ({search['interface'].upper()}, {search['view']})"


def spread(knees):
    """Spread of one objective's knees over repeated searches, or None when any search left it
    unbounded (never broken, or broken at the first probe): then there is no number to compare.
    Returns (spread in users, the largest resolution stated, whether it is within it)."""
    if not knees or any(k["users"] is None or k["bad_users"] is None for k in knees):
        return None
    users = [k["users"] for k in knees]
    resolution = max(k["resolution"] for k in knees)
    return max(users) - min(users), resolution, max(users) - min(users) <= resolution


def _knee_cell(k):
    if k["users"] is None:
        return f"broken at the first probe ({k['bad_users']})"
    if k["bad_users"] is None:
        return f">= {k['users']}"
    return f"{k['users']} (broken at {k['bad_users']})"


HEADER = ["Configuration", "Objective", "Knee per search (users)", "Spread", "Resolution",
          "Within one resolution step"]  # fmt: skip


def _spread_cells(knees):
    found = spread(knees)
    if knees and all(k["bad_users"] is None for k in knees):
        top = min(k["users"] for k in knees)
        return ["n/a", "n/a", f"n/a: never broken, in any search, up to {top} users"]
    if found is None:
        return ["n/a", "n/a", "n/a (not bounded in every search)"]
    if len(knees) == 1:
        return ["n/a", found[1], "n/a (one search)"]
    return [found[0], found[1], "yes" if found[2] else "NO"]


def summary_lines(searches):
    """The Markdown table's lines: one row per configuration and objective."""
    slo = searches[0]["settings"]["p95_slo_ms"]
    groups = {}
    for search in searches:
        groups.setdefault(_label(search), []).append(search)
    rows = []
    for label, group in groups.items():
        for objective, name in NAMES.items():
            knees = [s["knees"][objective] for s in group]
            cells = ", ".join(_knee_cell(k) for k in knees)
            rows.append([label, name.format(slo=slo), cells, *_spread_cells(knees)])
    return markdown_table(HEADER, rows).split("\n")


def write_knee_summary(knee_dirs, out_dir):
    searches = load_searches(knee_dirs)
    with output_dir(out_dir) as out_dir:
        _write(searches, out_dir)
    return out_dir


def _write(searches, out_dir):
    lines = [
        f"# Knee searches compared ({len(searches)} searches)",
        "",
        *summary_lines(searches),
        "",
        "![probes of every search](knees.png)",
        "",
        "Searches: " + ", ".join(f"`{s['dir']}`" for s in searches),
        "",
    ]
    (out_dir / "knees.md").write_text("\n".join(lines))
    _chart(searches, out_dir / "knees.png")


def _chart(searches, path):
    fig, (fail_ax, p95_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours, markers = {}, "osD^v<>"
    seen = {}
    for search in searches:
        label = _label(search)
        colour = colours.setdefault(label, f"C{len(colours) % 10}")
        index = seen[label] = seen.get(label, 0) + 1
        probes = sorted(search["probes"], key=lambda p: p["users"])
        users = [p["users"] for p in probes]
        style = {"color": colour, "marker": markers[(index - 1) % len(markers)], "alpha": 0.8}
        fail_ax.plot(users, [p["failure_pct"] for p in probes], label=f"{label} #{index}", **style)
        p95_ax.plot(users, [p["p95_ms"] for p in probes], **style)
    p95_ax.axhline(searches[0]["settings"]["p95_slo_ms"], color="grey", linestyle=":")
    for ax, title, unit in (
        (fail_ax, "Failed requests per probe", "Failed requests (%)"),
        (p95_ax, "p95 per probe (dotted: objective)", "p95 response time (ms)"),
    ):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("Users (log scale)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fail_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
