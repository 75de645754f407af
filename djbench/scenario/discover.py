"""Discover a GET scenario from a running site: the pages its sitemap lists, the pages linked
from `/` on the same host (breadth-first, bounded), and the URLconf's routes without parameters;
keep those that answer 2xx with HTML or JSON without a login, and say why each other was dropped.

The URLconf is read in the project's own environment (list_routes.py, run by the caller), which
also says where the admin is mounted and what LOGIN_URL, STATIC_URL and MEDIA_URL are.
"""

import json
import re
import xml.etree.ElementTree as ElementTree
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from djbench.scenario import fetch

MAX_PAGES = 50  # pages fetched by following links, taken from a sitemap, and kept
MAX_DEPTH = 3  # links followed from `/`
MAX_SITEMAPS = 10  # the sitemaps of a sitemap index that are read
KEPT_TYPES = ("text/html", "application/xhtml+xml", "application/json")
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SOURCES = ("sitemap", "links", "routes")


def routes_script():
    """The source of a script that, run with DJANGO_SETTINGS_MODULE set in the project's own
    environment, prints the JSON that site_from_json() reads (see list_routes.py)."""
    return Path(__file__).with_name("list_routes.py").read_text()


@dataclass
class Site:
    """What the project's URLconf and settings say (list_routes.py's output)."""

    routes: list = field(default_factory=list)  # paths of the routes without parameters
    admin: list = field(default_factory=lambda: ["/admin/"])  # where the admin is mounted
    login_url: str = "/accounts/login/"
    static_url: str = "/static/"
    media_url: str = "/media/"


def site_from_json(text):
    """The Site of list_routes.py's output (its last line of stdout)."""
    data = json.loads(text.strip().splitlines()[-1])
    return Site(data["routes"], data["admin"], data["login_url"], data["static_url"],
                data["media_url"])  # fmt: skip


@dataclass
class Discovery:
    pages: list  # [(path, weight)]: the scenario, as a URLS file holds it
    dropped: list  # [(path, reason)]
    sources: dict  # path -> where it was found: "sitemap", "links", "routes"

    def summary(self):
        """One line for the console: what was kept, found where, and how much was dropped."""
        found = {s: sum(s in self.sources[p] for p, _ in self.pages) for s in SOURCES}
        where = ", ".join(f"{n} from {s}" for s, n in found.items() if n)
        return (f"discovered {len(self.pages)} pages ({where or 'none'}); "
                f"dropped {len(self.dropped)}")  # fmt: skip

    def record(self):
        """For meta.json and the report: each page and each dropped one, found where."""
        return {
            "pages": [{"path": p, "weight": w, "found_by": self.sources[p]}
                      for p, w in self.pages],
            "dropped": [{"path": p, "reason": why, "found_by": self.sources[p]}
                        for p, why in self.dropped],
        }  # fmt: skip


def discover(base_url, site=None, max_pages=MAX_PAGES, max_depth=MAX_DEPTH,
             timeout=fetch.TIMEOUT_S):  # fmt: skip
    """The Discovery of the site answering at `base_url` (its nginx), with the URLconf's routes
    and settings of `site` (a Site, or the defaults of a Django project when None)."""
    site = site or Site()
    probe = _Probe(base_url.rstrip("/"), site, timeout)
    for path in _from_sitemap(probe, max_pages):
        probe.found(path, "sitemap")
    _follow_links(probe, max_pages, max_depth)
    for path in site.routes:
        probe.found(path, "routes")
    pages, dropped = [], []
    for path in probe.sources:
        reason = probe.reason(path)
        if reason is None and len(pages) == max_pages:
            reason = f"over the bound of {max_pages} pages"
        if reason is None:
            pages.append((path, 1))
        else:
            dropped.append((path, reason))
    return Discovery(pages, dropped, probe.sources)


# Admins of other apps than Django's, and the pages around a login: not what a site's users load.
ADMIN_PREFIX = re.compile(r"/[\w-]*admin[\w-]*/", re.I)
ACCOUNT_PAGE = re.compile(
    r"/(log-?in|log-?out|sign-?in|sign-?out|sign-?up|register|password[\w-]*)(/|$)", re.I
)


class _Probe:
    """Each candidate page's one GET, and why it is not part of the scenario."""

    def __init__(self, base_url, site, timeout=fetch.TIMEOUT_S):
        self.base_url, self.site, self.timeout = base_url, site, timeout
        self.host = urlsplit(base_url).netloc
        self.sources = {}  # path -> [source], in the order found
        self.answers = {}  # path -> fetch.Answer

    def found(self, path, source):
        sources = self.sources.setdefault(path, [])
        if source not in sources:
            sources.append(source)

    def get(self, path):
        if path not in self.answers:
            self.answers[path] = fetch.get(self.base_url + path, timeout=self.timeout)
        return self.answers[path]

    def excluded(self, path):
        """Why `path` is not even requested: the admin, static or media files, account pages."""
        for prefix in self.site.admin:
            if path.startswith(prefix):
                return f"the admin (mounted at {prefix})"
        admin = ADMIN_PREFIX.match(path)
        if admin:  # another app's admin (Wagtail's /admin/ beside Django's /django-admin/)
            return f"an admin (under {admin.group(0)})"
        if ACCOUNT_PAGE.search(path):
            return "an account page (login, logout, password, sign-up)"
        for name, prefix in (("static", self.site.static_url), ("media", self.site.media_url)):
            if prefix.startswith("/") and prefix != "/" and path.startswith(prefix):
                return f"{name} files (served by nginx at {prefix})"
        return None

    def reason(self, path):
        """Why `path` is dropped, None when it is kept."""
        excluded = self.excluded(path)
        if excluded:
            return excluded
        answer = self.get(path)
        if answer.status == 0:
            return answer.error
        if 300 <= answer.status < 400:
            where = answer.location
            login = self.site.login_url
            if (login and login != "/" and login in where) or "login" in where.lower():
                return f"needs a login (answered {answer.status} to {where})"
            return f"answered {answer.status}, a redirect to {where}"
        if answer.status in (401, 403):
            return f"needs a login (answered {answer.status})"
        if not 200 <= answer.status < 300:
            return f"answered {answer.status}"
        if answer.content_type not in KEPT_TYPES:
            return f"answered {answer.content_type or 'no content type'}, not HTML or JSON"
        return None

    def path_of(self, url, page_url):
        """The path (and query) of a link on `page_url`, None when it leaves the site."""
        parts = urlsplit(urljoin(page_url, url))
        if parts.scheme not in ("http", "https") or parts.netloc != self.host:
            return None
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _from_sitemap(probe, limit):
    """Paths listed by /sitemap.xml, or by the sitemaps of its index. A sitemap's URLs carry the
    domain of the project's Site object (example.com unless set), not the host the run serves
    it on, so only their paths are taken."""
    answer = probe.get("/sitemap.xml")
    root = _xml(answer)
    if root is None:
        return []
    if root.tag == SITEMAP_NS + "sitemapindex":
        roots = [_xml(probe.get(_path(loc))) for loc in _locs(root)[:MAX_SITEMAPS]]
    else:
        roots = [root]
    paths = []
    for each in roots:
        for loc in _locs(each) if each is not None else []:
            if _path(loc) not in paths and len(paths) < limit:
                paths.append(_path(loc))
    return paths


def _xml(answer):
    # The project's own sitemap, read with the standard library: expat refuses entity
    # expansion bombs, and ElementTree resolves no external entity.
    if answer.status != 200:
        return None
    try:
        return ElementTree.fromstring(answer.body)
    except ElementTree.ParseError:
        return None


def _locs(root):
    return [e.text.strip() for e in root.iter(SITEMAP_NS + "loc") if e.text and e.text.strip()]


def _path(url):
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _follow_links(probe, limit, max_depth):
    """Breadth-first from `/`: at most `limit` pages fetched, links at most `max_depth` deep.
    Only pages that are kept are followed (not the admin, nor what needs a login)."""
    queue, queued = deque([("/", 0)]), {"/"}
    fetched = 0
    while queue and fetched < limit:
        path, depth = queue.popleft()
        if probe.excluded(path):
            probe.found(path, "links")
            continue
        fetched += 1
        probe.found(path, "links")
        if depth == max_depth or probe.reason(path) is not None:
            continue
        answer = probe.get(path)
        if answer.content_type not in ("text/html", "application/xhtml+xml"):
            continue
        for href in _links(answer.text):
            linked = probe.path_of(href, probe.base_url + path)
            if linked is not None and linked not in queued:
                queued.add(linked)
                queue.append((linked, depth + 1))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith("#"):
                self.hrefs.append(href)


def _links(html):
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser.hrefs
