"""What every HTML page of the project shares: the Jinja2 environment over templates/ (base.html
gives the look, macros.html the tables and charts) and charts as self-contained figures."""

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from djbench.analysis.charts.legends import markdown
from djbench.analysis.charts.users import Chart
from djbench.analysis.files import TEMPLATES


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def figure(chart: Chart, page_dir: Path) -> dict:
    """A chart as the templates draw it: embedded PNG, relative path for Markdown, legend."""
    return {
        "title": chart.title,
        "path": chart.path.relative_to(page_dir).as_posix(),
        "data_uri": "data:image/png;base64," + base64.b64encode(chart.path.read_bytes()).decode(),
        "legend": chart.legend,
        "text_px": chart.text_px,
        "legend_md": markdown(chart.legend),
    }


def render(template: str, context: dict, path: Path) -> Path:
    path.write_text(environment().get_template(template).render(context), encoding="utf-8")
    return path
