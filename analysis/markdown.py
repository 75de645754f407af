"""The one writer of Markdown tables, for every report, note and summary of the project.

Not pandas' DataFrame.to_markdown: it needs tabulate, which pads every cell to its column's
width, and the committed notes under results/reference/ have unpadded cells.
"""

from collections.abc import Iterable, Sequence

RULES = {None: "---", "left": ":---", "right": "---:", "center": ":---:"}


def markdown_table(
    header: Sequence,
    rows: Iterable[Sequence],
    align: Sequence[str | None] | None = None,
    compact_rule: bool = False,
) -> str:
    """Header line, rule line, one line per row, no trailing newline. Cells are str()-ed and a
    `|` inside one is escaped, so it stays in its cell. `align` gives each column "left",
    "right", "center" or None (the renderer's default). `compact_rule` writes the rule as
    `|---|---|` rather than `| --- | --- |`: the notes rendered from templates have that form,
    and their committed renderings must stay byte-identical."""

    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    rules = [RULES[a] for a in align or [None] * len(header)]
    rule = "|" + "|".join(rules) + "|" if compact_rule else line(rules)
    return "\n".join([line(header), rule, *map(line, rows)])
