"""One run against time: a panel each for users, requests/s, latency, failures by cause, CPU,
memory and PostgreSQL's connections, on one time axis, with the steps marked.

A stall shows here and nowhere else: a step's means average it away. Whether the whole machine
slowed (steal time, every component's CPU falling together) or the server did, the CPU panels
below the throughput panel tell apart.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from djbench.analysis.charts.users import COLORS, capacity_line, component_color, slo_line
from djbench.analysis.runs.run import Run
from djbench.analysis.runs.timeseries import TimeSeries

PANEL_HEIGHT_IN = 2.2
WIDTH_IN = 11
WINDOW_COLOR = "#2ca02c"
MACHINE_CPU = {  # system.csv column -> (label, colour), stacked in this order
    "user_pct": ("user", "#1f77b4"),
    "system_pct": ("system", "#ff7f0e"),
    "iowait_pct": ("iowait", "#bcbd22"),
    "steal_pct": ("steal (taken by the hypervisor)", "#d62728"),
}


def _mark_steps(ax, series: TimeSeries, label: bool) -> None:
    for i, step in enumerate(series.steps.itertuples()):
        first = label and i == 0
        ax.axvspan(step.measure_from, step.end, color=WINDOW_COLOR, alpha=0.08, linewidth=0,
                   label="measured window" if first else None)  # fmt: skip
        ax.axvline(step.start, color="#7f7f7f", linestyle=":", linewidth=1,
                   label="step start" if first else None)  # fmt: skip


def _users(ax, series: TimeSeries) -> None:
    ax.step(series.users["t"], series.users["users"], where="post", color=COLORS[0],
            label="users (Locust)")  # fmt: skip
    for step in series.steps.itertuples():
        ax.annotate(f"{step.users}", (step.start, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize="small")  # fmt: skip
    ax.set_ylabel("users")
    ax.set_ylim(bottom=0)


def _throughput(ax, series: TimeSeries) -> None:
    r = series.requests
    ax.plot(r.index, r["requests"], color=COLORS[0], linewidth=1, label="requests/s")
    ax.plot(r.index, r["failures"], color=COLORS[3], linewidth=1, label="failed requests/s")
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)


def _latency(ax, series: TimeSeries, slo_ms: float) -> None:
    r = series.requests
    ax.plot(r.index, r["p50_ms"], color=COLORS[0], linewidth=1, label="p50")
    ax.plot(r.index, r["p95_ms"], color=COLORS[1], linewidth=1, label="p95")
    slo_line(ax, slo_ms)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")


def _failures(ax, series: TimeSeries) -> None:
    r = series.requests
    causes = [c for c in r.columns if c.startswith("fail_")]
    bottom = np.zeros(len(r))
    for i, column in enumerate(causes):
        ax.bar(r.index, r[column], width=1.0, bottom=bottom, align="edge",
               color=COLORS[(i + 3) % len(COLORS)], label=column.removeprefix("fail_"))  # fmt: skip
        bottom += r[column].to_numpy()
    ax.set_ylabel("failed/s")


def _component_cpu(ax, series: TimeSeries, capacity: float | None) -> float:
    cpu = series.resources["cpu_pct"].fillna(0)
    ax.stackplot(cpu.index, *(cpu[c] for c in cpu.columns), labels=list(cpu.columns),
                 colors=[component_color(c) for c in cpu.columns], alpha=0.85)  # fmt: skip
    capacity_line(ax, capacity)
    ax.set_ylabel("% of one core")
    return float(cpu.sum(axis=1).max())


def _machine_cpu(ax, series: TimeSeries, capacity: float | None) -> float:
    system = series.system
    layers = [system[c] * system["cpus"] for c in MACHINE_CPU]
    ax.stackplot(system.index, *layers, labels=[v[0] for v in MACHINE_CPU.values()],
                 colors=[v[1] for v in MACHINE_CPU.values()], alpha=0.85)  # fmt: skip
    capacity_line(ax, capacity)
    ax.set_ylabel("% of one core")
    return float(sum(layers).max())


def _memory(ax, series: TimeSeries) -> None:
    if series.resources is not None and "rss_mb" in series.resources:
        rss = series.resources["rss_mb"]
        for component in rss.columns:
            ax.plot(rss.index, rss[component], color=component_color(component),
                    label=f"{component} (RSS)")  # fmt: skip
    if series.system is not None:
        ax.plot(series.system.index, series.system["mem_used_mb"], color="#000000",
                linestyle="--", label="machine, used")  # fmt: skip
    ax.set_ylabel("MB")
    ax.set_ylim(bottom=0)


def _postgres(ax, series: TimeSeries) -> None:
    pg = series.pg
    ax.plot(pg.index, pg["total"], color=COLORS[1], label="connections open")
    ax.plot(pg.index, pg["active"], color=COLORS[0], label="running a query")
    limit = pg["max_connections"].dropna()
    if len(limit):
        ax.axhline(limit.iloc[-1], color="#000000", linestyle="--", linewidth=1.2,
                   label=f"max_connections ({limit.iloc[-1]:.0f})")  # fmt: skip
    ax.set_ylabel("connections")
    ax.set_ylim(bottom=0)


def over_time_chart(run: Run, series: TimeSeries, slo_ms: float, capacity: float | None):
    """The figure of one run; panels without data (no samples, no failures) are left out."""
    r = series.requests
    panels = [
        ("Users", _users),
        ("Requests per second (1 s bins)", _throughput),
        ("Response time p50 / p95 per second", lambda ax, s: _latency(ax, s, slo_ms)),
    ]
    if r["failures"].sum():
        panels.append(("Failed requests per second, by cause", _failures))
    cpu_panels = []
    if series.resources is not None and "cpu_pct" in series.resources:
        cpu_panels.append(("CPU per component, stacked", _component_cpu))
    if series.system is not None:
        cpu_panels.append(("CPU of the whole machine, stacked", _machine_cpu))
    memory = series.system is not None or (
        series.resources is not None and "rss_mb" in series.resources
    )
    count = len(panels) + len(cpu_panels) + int(memory) + int(series.pg is not None)
    fig = Figure(figsize=(WIDTH_IN, 0.8 + PANEL_HEIGHT_IN * count), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(f"{run.label} over time: {run.run_id}")
    it = iter(axes)
    for title, draw in panels:
        ax = next(it)
        draw(ax, series)
        ax.set_title(title, loc="left", fontsize="medium")
    cpu_axes, top = [], 0.0
    for title, draw in cpu_panels:
        ax = next(it)
        top = max(top, draw(ax, series, capacity))
        ax.set_title(f"{title} (% of one core)", loc="left", fontsize="medium")
        cpu_axes.append(ax)
    for ax in cpu_axes:  # one scale for both, room for the capacity line
        ax.set_ylim(0, max(top, capacity or 0) * 1.08 or 1)
    if memory:
        ax = next(it)
        _memory(ax, series)
        ax.set_title("Memory", loc="left", fontsize="medium")
    if series.pg is not None:
        ax = next(it)
        _postgres(ax, series)
        ax.set_title("PostgreSQL client connections (pg_stat_activity)", loc="left",
                     fontsize="medium")  # fmt: skip
    for i, ax in enumerate(axes):
        _mark_steps(ax, series, label=i == 0)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("Seconds since the first step started")
    axes[-1].set_xlim(0, len(r))
    return fig
