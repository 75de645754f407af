"""A URLS file: the pages of a GET scenario, one path per line with an optional weight.

    # comments and blank lines are ignored
    /                3
    /articles/       1
    /about/

A weight is a whole number of at least 1 (default 1): a page of weight 3 is requested three
times as often as one of weight 1. Paths are of the site under test, so a full URL (another
host, or this one by name) is refused: the host is the run's, behind its nginx.

Read by the harness (djbench/scenario/urls_file.py) and by locustfiles/pages.py.
"""

from urllib.parse import urlsplit

DEFAULT_WEIGHT = 1
# The environment variable that gives locustfiles/pages.py its URLS file.
URLS_ENV = "DJBENCH_URLS"


def parse_line(text):
    """(path, weight) of one line, None for a blank or comment line; a ValueError says what is
    wrong with it."""
    text = text.split("#", 1)[0].strip()
    if not text:
        return None
    parts = text.split()
    if len(parts) > 2:
        raise ValueError(f"expected a path and an optional weight, got {text!r}")
    path = parts[0]
    url = urlsplit(path)
    if url.scheme or url.netloc or path.startswith("//"):
        raise ValueError(f"{path!r} is a URL, not a path of the site under test (like /about/)")
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not a path: paths start with /")
    weight = DEFAULT_WEIGHT
    if len(parts) == 2:
        if not parts[1].isdigit() or int(parts[1]) < 1:
            raise ValueError(f"weight {parts[1]!r} is not a whole number of at least 1")
        weight = int(parts[1])
    return path, weight


def parse(text):
    """[(path, weight), ...] in the file's order; a ValueError starting "line N: " for a bad
    line or a repeated path, or saying the file lists no page."""
    pages, seen = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        try:
            page = parse_line(line)
        except ValueError as e:
            raise ValueError(f"line {number}: {e}") from None
        if page is None:
            continue
        if page[0] in seen:
            raise ValueError(f"line {number}: {page[0]} is already on line {seen[page[0]]}")
        seen[page[0]] = number
        pages.append(page)
    if not pages:
        raise ValueError("no page in it (one path per line, like /about/)")
    return pages
