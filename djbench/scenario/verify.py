"""Verification before load: each page of a GET scenario answers 2xx once through the run's
nginx, so a load never measures a page that is broken, gone or behind a login."""

from html.parser import HTMLParser

from djbench.scenario import fetch

SHORT_LINE = 160  # a 5xx body's first line longer than this is not quoted


class ScenarioFailed(RuntimeError):
    """Pages of the scenario did not answer 2xx before the load: one line says which."""


def verify(base_url, paths, timeout=fetch.TIMEOUT_S):
    """GET each of `paths` once through `base_url`; raise ScenarioFailed (a RuntimeError) with
    one line naming every page that did not answer 2xx, and what it answered."""
    paths = list(paths)
    failed = []
    for path in paths:
        answer = fetch.get(base_url.rstrip("/") + path, timeout=timeout)
        if not 200 <= answer.status < 300:
            failed.append(f"{path} {describe(answer)}")
    if failed:
        raise ScenarioFailed(
            f"{len(failed)} of the scenario's {len(paths)} pages failed before load: "
            + "; ".join(failed)
        )


def describe(answer):
    """What a page answered, in a few words: 'answered 500 (Server Error (500))'."""
    if answer.status == 0:
        return answer.error
    text = f"answered {answer.status}"
    if 300 <= answer.status < 400 and answer.location:
        return f"{text} to {answer.location}"
    if answer.status >= 500:
        line = _first_line(answer)
        if line and len(line) <= SHORT_LINE:
            text += f" ({line})"
    return text


def _first_line(answer):
    """The first line of text of a body; of an HTML one, its text without the markup (the
    title of Django's or nginx's error page)."""
    text = answer.text
    if answer.content_type in ("text/html", "application/xhtml+xml"):
        parser = _Text()
        parser.feed(text)
        parser.close()
        text = "\n".join(parser.parts)
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skipping -= tag in ("script", "style") and self.skipping > 0

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)
