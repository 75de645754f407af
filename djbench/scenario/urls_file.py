"""URLS files as the user gives them (URLS=file) and as discovery writes them for the user to
edit: the format is djbench/contracts/urls.py's, which locustfiles/pages.py reads too."""

from pathlib import Path

from djbench.contracts import urls
from djbench.errors import UserError

HEADER = """\
# The pages of a GET scenario, one path per line with an optional weight (default 1): a page
# of weight 3 is requested three times as often as one of weight 1. Lines from # on are
# comments. Edit it (remove pages, add some, change weights) and pass it back: URLS={path}
"""


def parse(text, source="URLS file"):
    """[(path, weight), ...] of a URLS file's text; a bad line, a repeated path or no page at
    all is a UserError naming `source` and the line number."""
    try:
        return urls.parse(text)
    except ValueError as e:
        message = f"{source}, {e}" if str(e).startswith("line ") else f"{source}: {e}"
        raise UserError(message) from None


def read(path):
    """The pages of the URLS file at `path` (see parse); an unreadable file is a UserError."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the URLS file {path}: {e}") from None
    return parse(text, source=str(path))


def render(pages, path="this-file"):
    """The text of a URLS file listing `pages` [(path, weight)], under a header saying how to
    edit it and pass it back as URLS=`path`."""
    width = max((len(p) for p, _ in pages), default=0)
    lines = [f"{p:<{width}}  {w}" for p, w in pages]
    return HEADER.format(path=path) + "".join(line + "\n" for line in lines)


def write(path, pages):
    """Write `pages` [(path, weight)] as a URLS file at `path`; read(path) gives them back. A
    page the format cannot hold (a space in its path, a weight below 1) is a ValueError."""
    for page, weight in pages:
        if urls.parse_line(f"{page} {weight}") != (page, weight):
            raise ValueError(f"not a URLS file entry: {page!r} {weight!r}")
    Path(path).write_text(render(pages, path))
