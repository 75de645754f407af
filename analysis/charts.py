"""PNG charts of a set of runs against user count.

Figures are built with matplotlib's object API on an Agg canvas, not pyplot: nothing depends on
a display or on pyplot's global figure registry, and a figure is garbage once saved.
"""

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis import article
from analysis.runs import Run

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
# Past this many runs (a server matrix) legends go beside the plot and latency shows p95 only.
MANY_RUNS = 4
# The article's series are drawn dashed in the colour of the same interface's first run, so a
# reader pairs "ours" and "theirs" at a glance; grey when we have no run of that interface.
ARTICLE_FALLBACK = {"wsgi": "#555555", "asgi": "#999999"}
PERCENTILE_STYLES = {"p50_ms": "-", "p95_ms": "--", "p99_ms": ":"}


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _figure(title: str, ncols: int = 1, nrows: int = 1, wide=False) -> tuple[Figure, list]:
    width = (6.4 * ncols if ncols > 1 else 8) + (4 if wide else 0)
    fig = Figure(figsize=(width, 4.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
    fig.suptitle(title)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("Users")
    return fig, axes


def _legend(ax, runs: list[Run]) -> None:
    if len(runs) > MANY_RUNS:
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.legend(fontsize="small")


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
    fig, axes = _figure(title, ncols=1 if ours == theirs else 2, wide=len(runs) > MANY_RUNS)
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
        _legend(ax, runs)
    _xticks(axes[0], runs)
    return fig


def rps_chart(runs: list[Run]) -> Figure:
    fig, (left, right) = _figure(
        "Throughput by number of users", ncols=2, wide=len(runs) > MANY_RUNS
    )
    for i, run in enumerate(runs):
        _line(left, run, "rps", i)
        _line(right, run, "iterations_per_s", i)
    left.set_title("All requests")
    left.set_ylabel("Requests per second")
    right.set_title("Vote iterations (vote POSTs)")
    right.set_ylabel("Vote POSTs per second")
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        _xticks(ax, runs)
    _legend(right, runs)
    if len(runs) <= MANY_RUNS:
        _legend(left, runs)
    return fig


def latency_chart(runs: list[Run]) -> Figure:
    many = len(runs) > MANY_RUNS
    title = "Response time percentiles by number of users (exact, per-request log)"
    fig, (ax,) = _figure(title.replace("percentiles", "p95") if many else title, wide=many)
    styles = {"p95_ms": "-"} if many else PERCENTILE_STYLES
    for i, run in enumerate(runs):
        for column, style in styles.items():
            label = f"{run.label} {column.removesuffix('_ms')}"
            _line(ax, run, column, i, linestyle=style, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("Response time (ms, log scale)")
    _xticks(ax, runs)
    _legend(ax, runs)
    return fig


def cpu_columns(runs: list[Run]) -> list[str]:
    return sorted({c for run in runs for c in run.steps.columns if c.startswith("cpu_")})


def cpu_chart(runs: list[Run]) -> Figure:
    columns = cpu_columns(runs)
    ncols = min(len(columns), 2)
    nrows = -(-len(columns) // ncols)
    title = "Mean CPU per component by number of users"
    fig, axes = _figure(title, ncols=ncols, nrows=nrows, wide=len(runs) > MANY_RUNS)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    for ax, column in zip(axes, columns, strict=False):
        for i, run in enumerate(runs):
            if column in run.steps.columns:
                _line(ax, run, column, i)
        ax.set_title(column.removeprefix("cpu_").removesuffix("_pct"))
        ax.set_ylabel("CPU (% of one core)")
        ax.set_ylim(bottom=0)
        _xticks(ax, runs)
    _legend(axes[len(columns) - 1], runs)
    if len(runs) <= MANY_RUNS:
        for ax in axes[: len(columns) - 1]:
            _legend(ax, runs)
    return fig


def write_charts(runs: list[Run], reference: pd.DataFrame, charts_dir: Path) -> dict[str, Path]:
    """Write the PNGs into charts_dir; return {name: path}. cpu.png only when resources exist."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "failure_pct": failure_chart(runs, reference),
        "rps": rps_chart(runs),
        "latency": latency_chart(runs),
    }
    if cpu_columns(runs):
        figures["cpu"] = cpu_chart(runs)
    paths = {}
    for name, fig in figures.items():
        paths[name] = charts_dir / f"{name}.png"
        fig.savefig(paths[name], dpi=100)
    return paths
