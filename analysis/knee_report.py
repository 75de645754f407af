"""The report of one knee search (knee.json): the probes as a table and a chart, and each
objective's knee with its resolution."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {
    "failures_0": "no failures",
    "failures_1": "at most 1 % failures",
    "p95": "p95 under {slo:g} ms",
}


def knee_text(name, k, slo):
    what = NAMES[name].format(slo=slo)
    if k["users"] is None:
        return f"{what}: broken already at the first probe, {k['bad_users']} users"
    if k["bad_users"] is None:
        return f"{what}: never broken up to {k['users']} users (the knee is higher)"
    return (
        f"{what}: {k['users']} users (broken at {k['bad_users']}; resolution "
        f"{k['resolution']} users)"
    )


def write_knee_report(knee_dir):
    knee_dir = Path(knee_dir)
    data = json.loads((knee_dir / "knee.json").read_text())
    slo = data["settings"]["p95_slo_ms"]
    probes = data["probes"]
    lines = [
        f"# Knee search: {data['server']} ({data['interface'].upper()}, {data['view']} views, "
        f"{data['workers']} workers)",
        "",
        *(f"- {knee_text(name, k, slo)}" for name, k in data["knees"].items()),
        "",
        f"A knee is a user count that met its objective every time it was measured: the search "
        f"measured each bounded knee {data['settings'].get('confirm', 0)} more time(s) to "
        "confirm it, and went on below a count that failed its confirmation. Each probe ran on "
        f"a fresh stack, {data['settings'].get('measure_s', '?')} s measured after its warm-up.",
        "",
        "| users | failure % | p95 (ms) | run |",
        "| --- | --- | --- | --- |",
        *(
            f"| {p['users']} | {p['failure_pct']:.1f} | {p['p95_ms']:.0f} | {p['run_dir']} |"
            for p in probes
        ),
        "",
        "![probes](probes.png)",
        "",
    ]
    (knee_dir / "knee.md").write_text("\n".join(lines))
    fig, left = plt.subplots(figsize=(8, 4.5))
    users = [p["users"] for p in probes]
    left.plot(users, [p["failure_pct"] for p in probes], "o-", color="tab:red", label="failure %")
    left.set_xlabel("Users")
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
    from analysis.pages import write_knee_page  # the same results as an HTML page

    write_knee_page(knee_dir)
