"""One GET through the run's base URL, as discovery and verification need it: redirects are not
followed (a redirect to the login page is what says a page needs a login), and any status is an
answer, not an exception."""

import urllib.error
import urllib.request
from dataclasses import dataclass

TIMEOUT_S = 10.0
BODY_LIMIT = 2 * 2**20  # enough of a page to find its links; more is not read


@dataclass
class Answer:
    status: int  # 0: no answer (error says why)
    content_type: str = ""  # the media type alone, lower case: text/html
    location: str = ""
    body: bytes = b""
    error: str = ""

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then hands the 3xx back as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def get(url, timeout=TIMEOUT_S):
    """The Answer of one GET of `url`."""
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/json,*/*"})
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return _answer(resp.status, resp.headers, resp.read(BODY_LIMIT))
    except urllib.error.HTTPError as e:
        with e:
            return _answer(e.code, e.headers, e.read(BODY_LIMIT))
    except (OSError, ValueError) as e:  # refused, reset, timeout, a malformed answer
        reason = getattr(e, "reason", None) or e
        return Answer(0, error=f"no answer ({reason})")


def _answer(status, headers, body):
    media = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    return Answer(status, media, headers.get("Location") or "", body)
