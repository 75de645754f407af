"""PNG charts of a set of runs against user count; their legends go beside them as text
(analysis.legends), so they stay legible when the image is shown small.

Figures are built with matplotlib's object API on an Agg canvas, not pyplot: nothing depends on
a display or on pyplot's global figure registry, and a figure is garbage once saved.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib import rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from djbench.analysis.charts.legends import Group, legend_groups
from djbench.analysis.report import article
from djbench.analysis.runs.run import Run

DPI = 100
TITLES = {
    "failure_pct": "Failure % vs users (ours solid, the article's dashed)",
    "rps": "Requests/s and vote POSTs/s vs users",
    "latency": "Response time p50 / p95 / p99 vs users, with the p95 objective",
    "cpu": "Mean CPU per component vs users, stacked, with the machine's capacity",
}
# A project of the user's: no article to draw beside it, and no votes.
PROJECT_TITLES = {"failure_pct": "Failure % vs users", "rps": "Requests/s vs users"}

COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
]
# Past this many runs (a server matrix) latency shows p95 only.
MANY_RUNS = 4
# The article's series are drawn dashed in the colour of the same interface's first run, so a
# reader pairs "ours" and "theirs" at a glance; grey when we have no run of that interface.
ARTICLE_FALLBACK = {"wsgi": "#555555", "asgi": "#999999"}
PERCENTILE_STYLES = {"p50_ms": "-", "p95_ms": "--", "p99_ms": ":"}
COMPONENT_COLORS = {
    "server": "#1f77b4",
    "postgres": "#ff7f0e",
    "nginx": "#2ca02c",
    "locust": "#9467bd",
}


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _figure(title: str, ncols: int = 1, nrows: int = 1) -> tuple[Figure, list]:
    width = 6.4 * ncols if ncols > 1 else 8
    fig = Figure(figsize=(width, 4.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
    fig.suptitle(title)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("Users")
    return fig, axes


def _line(ax, run: Run, column: str, i: int, **style) -> None:
    style = {"marker": "o", "color": _color(i), "label": run.label} | style
    ax.plot(run.steps["users"], run.steps[column], **style)


def _xticks(ax, runs: list[Run], extra: list[int] = ()) -> None:
    users = sorted({u for run in runs for u in run.planned_users} | set(extra))
    if len(users) <= 12:
        ax.set_xticks(users)


def failure_chart(runs: list[Run], reference: pd.DataFrame) -> Figure:
    """Ours solid, the article's dashed; on one axis only when the user steps are the article's,
    since drawing 10..30 users beside 100..700 would suggest a comparison that was not made."""
    ours = sorted({u for run in runs for u in run.planned_users})
    theirs = sorted(int(u) for u in reference["users"].unique())
    title = "Failure % by number of users: our runs and the article's (2020)"
    fig, axes = _figure(title, ncols=1 if ours == theirs else 2)
    first_color = {}
    for i, run in enumerate(runs):
        first_color.setdefault(run.interface, _color(i))
        _line(axes[0], run, "failure_pct", i)
    for name, frame in article.series(reference).items():
        iface = article.interface_of(name)
        color = first_color.get(iface, ARTICLE_FALLBACK.get(iface, "black"))
        axes[-1].plot(
            frame["users"], frame["failure_pct"], "s--", color=color, alpha=0.7, label=name
        )
    if len(axes) == 2:
        axes[0].set_title("Our runs")
        axes[1].set_title("The article (its own user steps)")
        axes[1].set_xticks(theirs)
    for ax in axes:
        ax.set_ylabel("Failed requests (%)")
        ax.set_ylim(bottom=0)
    _xticks(axes[0], runs)
    return fig


def rps_chart(runs: list[Run]) -> Figure:
    """All requests; beside them, for polls, the vote iterations (a project has no votes)."""
    votes = all(run.polls for run in runs)
    fig, axes = _figure("Throughput by number of users", ncols=2 if votes else 1)
    columns = ["rps", "iterations_per_s"][: len(axes)]
    for i, run in enumerate(runs):
        for ax, column in zip(axes, columns, strict=True):
            _line(ax, run, column, i)
    axes[0].set_title("All requests")
    axes[0].set_ylabel("Requests per second")
    if votes:
        axes[1].set_title("Vote iterations (vote POSTs)")
        axes[1].set_ylabel("Vote POSTs per second")
    for ax in axes:
        ax.set_ylim(bottom=0)
        _xticks(ax, runs)
    return fig


def slo_line(ax, slo_ms: float) -> None:
    """The latency objective, drawn on every latency chart so a reader sees where p95 crosses it."""
    ax.axhline(slo_ms, color="#000000", linestyle="-.", linewidth=1.2,
               label=f"p95 objective ({slo_ms:g} ms)")  # fmt: skip


def latency_chart(runs: list[Run], slo_ms: float) -> Figure:
    many = len(runs) > MANY_RUNS
    title = "Response time percentiles by number of users (exact, per-request log)"
    fig, (ax,) = _figure(title.replace("percentiles", "p95") if many else title)
    styles = {"p95_ms": "-"} if many else PERCENTILE_STYLES
    for i, run in enumerate(runs):
        for column, style in styles.items():
            label = f"{run.label} {column.removesuffix('_ms')}"
            _line(ax, run, column, i, linestyle=style, label=label)
    slo_line(ax, slo_ms)
    ax.set_yscale("log")
    ax.set_ylabel("Response time (ms, log scale)")
    _xticks(ax, runs)
    return fig


def cpu_columns(runs: list[Run]) -> list[str]:
    return sorted({c for run in runs for c in run.steps.columns if c.startswith("cpu_")})


def capacity_pct(run: Run) -> float | None:
    """The machine's CPU capacity in % of one core: cores x 100."""
    cpus = (run.meta.get("machine") or {}).get("cpu_count")
    return 100.0 * cpus if cpus else None


def capacity_line(ax, capacity: float | None) -> None:
    if capacity:
        ax.axhline(capacity, color="#444444", linestyle="--", linewidth=1.2,
                   label=f"machine capacity ({capacity:g} %: every core busy)")  # fmt: skip


def component_color(component: str) -> str:
    return COMPONENT_COLORS.get(component, "#7f7f7f")


def cpu_chart(runs: list[Run]) -> Figure:
    """Per run, each component's mean CPU per step stacked, on one scale for every run (% of one
    core), with the machine's capacity: a stack that reaches the line has no core left."""
    columns = cpu_columns(runs)
    ncols = min(len(runs), 2)
    nrows = -(-len(runs) // ncols)
    title = "Mean CPU per component by number of users, stacked (% of one core)"
    fig, axes = _figure(title, ncols=ncols, nrows=nrows)
    top = 0.0
    for ax in axes[len(runs) :]:
        ax.set_visible(False)
    for ax, run in zip(axes, runs, strict=False):
        x = list(range(len(run.steps)))
        bottom = [0.0] * len(x)
        for column in columns:
            if column not in run.steps.columns:
                continue
            component = column.removeprefix("cpu_").removesuffix("_pct")
            values = run.steps[column].fillna(0).tolist()
            ax.bar(x, values, bottom=bottom, color=component_color(component), label=component)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        if "machine_cpu_pct" in run.steps.columns:
            ax.plot(x, run.steps["machine_cpu_pct"], "o-", color="#000000",
                    label="whole machine (every process)")  # fmt: skip
            top = max(top, run.steps["machine_cpu_pct"].max())
        capacity = capacity_pct(run)
        capacity_line(ax, capacity)
        top = max(top, max(bottom, default=0.0), capacity or 0.0)
        ax.set_xticks(x, [str(int(u)) for u in run.steps["users"]])
        ax.set_title(run.label)
        ax.set_ylabel("CPU (% of one core)")
    for ax in axes[: len(runs)]:
        ax.set_ylim(0, top * 1.08 if top else 1)
    return fig


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    path: Path
    legend: list[Group]
    text_px: float  # the smallest text (tick labels) in the PNG's own pixels


def save(fig: Figure, name: str, title: str, charts_dir: Path) -> Chart:
    path = charts_dir / f"{name}.png"
    fig.savefig(path, dpi=DPI)
    sizes = [
        label.get_fontsize()
        for ax in fig.axes
        if ax.get_visible()
        for label in ax.get_xticklabels() + ax.get_yticklabels()
    ]
    text_px = min(sizes, default=rcParams["font.size"]) * DPI / 72
    return Chart(name, title, path, legend_groups(fig), text_px)


def write_charts(
    runs: list[Run], reference: pd.DataFrame, charts_dir: Path, slo_ms: float
) -> list[Chart]:
    """Write the PNGs into charts_dir; cpu.png only when resources exist."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "failure_pct": failure_chart(runs, reference),
        "rps": rps_chart(runs),
        "latency": latency_chart(runs, slo_ms),
    }
    if cpu_columns(runs):
        figures["cpu"] = cpu_chart(runs)
    titles = TITLES if len(reference) else {**TITLES, **PROJECT_TITLES}
    return [save(fig, name, titles[name], charts_dir) for name, fig in figures.items()]


def probes_chart(label: str, searches: list[dict], slo_ms: float) -> Figure:
    """Every probe of a configuration's knee searches: failure % and p95 against users, one
    colour per search, with the latency objective."""
    fig, (fail_ax, p95_ax) = _figure(f"Knee search probes: {label}", ncols=2)
    for i, search in enumerate(searches):
        probes = sorted(search["probes"], key=lambda p: p["users"])
        users = [p["users"] for p in probes]
        name = f"search {i + 1}" if len(searches) > 1 else "probes"
        fail_ax.plot(users, [p["failure_pct"] for p in probes], "o", color=_color(i), label=name)
        p95_ax.plot(users, [p["p95_ms"] for p in probes], "o", color=_color(i), label=name)
    slo_line(p95_ax, slo_ms)
    fail_ax.set_title("Failed requests per probe")
    fail_ax.set_ylabel("Failed requests (%)")
    fail_ax.set_ylim(bottom=0)
    p95_ax.set_title("p95 per probe")
    p95_ax.set_ylabel("p95 response time (ms, log scale)")
    p95_ax.set_yscale("log")
    for ax in (fail_ax, p95_ax):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("Users (log scale)")
    return fig
