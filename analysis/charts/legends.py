"""Chart legends taken out of the figure and written as text beside it.

A legend drawn inside a PNG shrinks with the image: on a phone, a chart 800 px wide shown 380 px
wide has 5 px letters. Written in HTML (a coloured swatch, then the label) a legend keeps the
page's font size at any width; the Markdown report lists the same entries in words.
"""

from dataclasses import dataclass

from matplotlib.colors import to_hex
from matplotlib.figure import Figure

# Names for the palette's colours (analysis.charts.COLORS and the components' colours), so the
# Markdown legend can say "blue, dashed" rather than a hex code.
COLOR_NAMES = {
    "#1f77b4": "blue",
    "#ff7f0e": "orange",
    "#2ca02c": "green",
    "#d62728": "red",
    "#9467bd": "purple",
    "#8c564b": "brown",
    "#e377c2": "pink",
    "#17becf": "cyan",
    "#bcbd22": "olive",
    "#7f7f7f": "grey",
    "#aec7e8": "light blue",
    "#ffbb78": "light orange",
    "#98df8a": "light green",
    "#ff9896": "light red",
    "#c5b0d5": "light purple",
    "#c49c94": "light brown",
    "#000000": "black",
    "#444444": "dark grey",
    "#555555": "dark grey",
    "#999999": "grey",
}
DASHES = {"-": "", "--": "6 3", ":": "2 2", "-.": "6 2 2 2"}
STYLE_WORDS = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}
MARKERS = {"o": "circle", "s": "square"}


@dataclass(frozen=True)
class Entry:
    label: str
    color: str  # #rrggbb
    kind: str  # "line", "marker" (markers only) or "area"
    dash: str = ""  # SVG stroke-dasharray for a line; empty: solid
    marker: str = ""  # "circle", "square" or empty

    def words(self) -> str:
        colour = COLOR_NAMES.get(self.color, self.color)
        if self.kind == "area":
            return f"{colour} area"
        if self.kind == "marker":
            return f"{colour} {self.marker}s"
        style = next((w for s, w in STYLE_WORDS.items() if DASHES[s] == self.dash), "solid")
        marker = f", {self.marker}s" if self.marker else ""
        return f"{colour} {style} line{marker}"


@dataclass(frozen=True)
class Group:
    title: str  # the panel's title; empty when the figure has one legend for every panel
    entries: tuple[Entry, ...]


def _linestyle(style) -> str:
    if isinstance(style, str):
        return {"solid": "-", "dashed": "--", "dotted": ":", "dashdot": "-."}.get(style, style)
    return "--"  # a custom dash pattern


def _entry(handle, label: str) -> Entry:
    if hasattr(handle, "get_linestyle") and hasattr(handle, "get_marker"):  # Line2D
        marker = MARKERS.get(str(handle.get_marker()), "")
        style = _linestyle(handle.get_linestyle())
        if style in ("None", "none", "") and marker:  # markers only
            return Entry(label, to_hex(handle.get_color()), "marker", "", marker)
        dash = DASHES.get(style, "")
        return Entry(label, to_hex(handle.get_color()), "line", dash, marker)
    patch = handle.patches[0] if hasattr(handle, "patches") else handle  # a bar container
    color = patch.get_facecolor()
    if getattr(color, "ndim", 1) == 2:  # a collection (stackplot, fill_between)
        color = color[0]
    return Entry(label, to_hex(color), "area")


def legend_groups(fig: Figure) -> list[Group]:
    """Every labelled artist of the figure, grouped by panel; one group when all panels show the
    same entries (one line per run on each)."""
    groups = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        handles, labels = ax.get_legend_handles_labels()
        entries = tuple(_entry(h, label) for h, label in zip(handles, labels, strict=True))
        if entries:
            groups.append(Group(ax.get_title() or ax.get_title(loc="left"), entries))
    merged = []
    for group in groups:
        if not any(g.entries == group.entries for g in merged):
            merged.append(group)
    if len(merged) == 1:
        return [Group("", merged[0].entries)]
    return merged


def markdown(groups: list[Group]) -> str:
    """The legend as one Markdown line per group."""
    lines = []
    for group in groups:
        entries = "; ".join(f"{e.label} ({e.words()})" for e in group.entries)
        lines.append(f"{group.title}: {entries}" if group.title else f"Legend: {entries}")
    return "\n\n".join(lines)
