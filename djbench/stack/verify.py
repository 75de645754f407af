"""Verify before measuring: every route answers as expected through nginx, and a vote really
reaches the database, before any load starts."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def verify_stack(base_url, count_votes):
    """Raise RuntimeError with one line saying what is wrong. count_votes() -> total votes.
    Returns the path of the poll form it voted on."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)

    def fetch(path, data=None):
        try:
            with opener.open(base_url + path, data=data, timeout=10) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode(errors="replace")

    status, _, html = fetch("/polls/")
    ids = re.findall(r'href="/polls/(\d+)/"', html)
    if status != 200 or not ids:
        raise RuntimeError(f"verification: GET /polls/ answered {status} without poll links")
    status, _, html = fetch(f"/polls/{ids[0]}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    choices = re.findall(r'name="choice"[^>]*value="(\d+)"', html)
    if status != 200 or not token or not choices:
        raise RuntimeError(f"verification: GET /polls/{ids[0]}/ answered {status} without a form")
    before = count_votes()
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "choice": choices[0]})
    status, headers, _ = fetch(f"/polls/{ids[0]}/vote/", form.encode())
    location = headers.get("Location", "")
    if status != 302 or not location.endswith(f"/polls/{ids[0]}/results/"):
        raise RuntimeError(f"verification: the vote POST answered {status}, not a redirect")
    if count_votes() != before + 1:
        raise RuntimeError("verification: a successful vote did not add exactly one vote")
    status, _, html = fetch(location)
    if status != 200 or "vote" not in html:
        raise RuntimeError(f"verification: the results page answered {status}")
    return f"/polls/{ids[0]}/"
