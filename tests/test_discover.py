"""Page discovery, verification before load, and the GET scenario's Locust file, against a real
Django project served by gunicorn (tests/django_site.py): what each finds, keeps and drops is
what the project's URLconf and pages say, worked out by hand."""

import os
import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from djbench import config
from djbench.analysis.runs.metrics import read_requests
from djbench.contracts.urls import URLS_ENV
from djbench.load import locust
from djbench.load.recording import locust_options
from djbench.scenario import discover, urls_file, verify
from djbench.system.processes import free_port
from tests.django_site import ROUTES, serve
from tests.helpers import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def django_site(tmp_path_factory):
    yield from serve(tmp_path_factory)


def site_info(site):
    """What list_routes.py says of the project, run as the integrator runs it: its source, in
    the project's environment."""
    done = subprocess.run([sys.executable, "-c", discover.routes_script()], env=site.env(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return discover.site_from_json(done.stdout)


def test_the_routes_script_lists_the_urlconfs_routes_without_parameters(django_site):
    info = site_info(django_site)
    assert info.routes == ROUTES
    assert info.admin == ["/backoffice/"]
    assert (info.login_url, info.static_url, info.media_url) == (
        "/accounts/login/",
        "/static/",
        "/",
    )


# Found by the sitemap index (its section lists these on example.com), then the links
# breadth-first from / (depth 3: /articles/1/comments/ is fetched, its link to /deep/end/ is
# not followed), then the routes no link or sitemap gave.
KEPT = [
    "/sitemap-only/", "/about/", "/", "/articles/", "/api/items/", "/articles/1/",
    "/articles/?page=2", "/articles/1/comments/", "/contact/", "/blog/", "/form/",
]  # fmt: skip
DROPPED = [
    ("/private/", "needs a login (answered 302 to /accounts/login/?next=/private/)"),
    ("/broken/", "answered 500"),
    ("/backoffice/", "the admin (mounted at /backoffice/)"),
    ("/static/site.css", "static files (served by nginx at /static/)"),
    ("/old/", "answered 301, a redirect to /about/"),
    ("/robots.txt", "answered text/plain, not HTML or JSON"),
    ("/accounts/login/", "an account page (login, logout, password, sign-up)"),
    ("/sitemap.xml", "answered application/xml, not HTML or JSON"),
    ("/mine/", "needs a login (answered 302 to /accounts/login/?next=/mine/)"),
]


def test_discovery_keeps_the_public_pages_and_says_why_it_dropped_the_others(django_site):
    found = discover.discover(django_site.base_url, site_info(django_site))
    assert found.pages == [(path, 1) for path in KEPT]
    assert found.dropped == DROPPED
    assert found.sources["/"] == ["sitemap", "links", "routes"]
    assert found.sources["/articles/1/"] == ["links"]
    assert found.sources["/contact/"] == ["routes"]
    assert "/deep/end/" not in found.sources  # a link 4 deep
    # 11 kept: 3 in the sitemap, 7 linked (not /sitemap-only/ nor the 4 routes alone), 8 routes;
    # the login page is a route too, dropped as an account page.
    assert found.summary() == (
        "discovered 11 pages (3 from sitemap, 7 from links, 8 from routes); dropped 9"
    )
    record = found.record()
    assert record["pages"][0] == {"path": "/sitemap-only/", "weight": 1,
                                  "found_by": ["sitemap", "routes"]}  # fmt: skip
    assert record["dropped"][2] == {"path": "/backoffice/", "found_by": ["links"],
                                    "reason": "the admin (mounted at /backoffice/)"}  # fmt: skip


def test_discovery_is_bounded(django_site):
    found = discover.discover(django_site.base_url, site_info(django_site), max_pages=4)
    # Links: 4 pages fetched (/, /articles/, /about/, /private/), none of theirs followed.
    linked = [p for p, s in found.sources.items() if "links" in s]
    assert linked == ["/about/", "/", "/articles/", "/private/"]  # in the order first found
    assert found.pages == [("/sitemap-only/", 1), ("/about/", 1), ("/", 1), ("/articles/", 1)]
    over = [p for p, why in found.dropped if why == "over the bound of 4 pages"]
    assert over == ["/contact/", "/api/items/", "/blog/", "/form/"]


def test_without_the_urlconf_the_django_defaults_apply(django_site):
    found = discover.discover(django_site.base_url, max_pages=10, max_depth=0)
    # Only / by links, the sitemap's three, no routes; the admin is not where it is expected.
    assert found.pages == [("/sitemap-only/", 1), ("/about/", 1), ("/", 1)]


def test_a_redirect_to_the_projects_login_url_needs_a_login(django_site):
    # A project whose LOGIN_URL holds no "login": say it is /about/, where /old/ redirects.
    site = discover.Site(routes=["/old/", "/broken/"], login_url="/about/")
    found = discover.discover(django_site.base_url, site, max_depth=0)
    assert dict(found.dropped)["/old/"] == "needs a login (answered 301 to /about/)"


def test_the_discovered_list_is_a_urls_file_to_pass_back(django_site, tmp_path):
    found = discover.discover(django_site.base_url, site_info(django_site))
    urls_file.write(tmp_path / "urls", found.pages)
    assert urls_file.read(tmp_path / "urls") == found.pages


def test_verification_names_each_failing_page_in_one_line(django_site):
    verify.verify(django_site.base_url, KEPT)  # every kept page answers 2xx
    with pytest.raises(verify.ScenarioFailed) as info:
        verify.verify(django_site.base_url, ["/", "/broken/", "/private/", "/gone/", "/about/"])
    assert str(info.value) == (
        "3 of the scenario's 5 pages failed before load: /broken/ answered 500 "
        "(Server Error (500)); /private/ answered 302 to /accounts/login/?next=/private/; "
        "/gone/ answered 404"
    )
    assert isinstance(info.value, RuntimeError)


def test_verification_of_a_site_that_does_not_answer():
    with pytest.raises(RuntimeError, match=r"^1 of the scenario's 1 pages failed before load: "
                                           r"/ no answer \(.*refused.*\)$"):  # fmt: skip
        verify.verify(f"http://127.0.0.1:{free_port()}", ["/"])


PAGES = [ROOT / "locustfiles" / n for n in ("pages.py", "step_load.py", "request_log.py",
                                           "distributed.py")]  # fmt: skip


def run_pages(base_url, run_dir, urls, user_class="fast"):
    cfg = config.build("gunicorn", users=(3,), hold_s=3, warmup_s=0.5, spawn_rate=10)
    cfg = config.with_overrides(cfg, wait_s=(0.0, 0.05), user_class=user_class)
    argv = locust._locust_argv(base_url, run_dir)
    argv[argv.index("-f") + 1] = ",".join(map(str, PAGES))
    env = {**os.environ, **locust_options(cfg), "PYTHONPATH": str(ROOT), URLS_ENV: str(urls)}
    return subprocess.run(argv, cwd=run_dir, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


# The User-Agent each Locust client sends: the access log's lines of one run are those with its
# client's agent. Gunicorn writes a request's line after the answer is sent, so a line of an
# earlier request (another test's, or a run's last) may land in the log after the client saw
# its answer: here after `seen_before` is taken.
AGENTS = {"fast": "python/gevent-http-client-", "http": "python-requests/"}


def served_by(access_log, offset, agent):
    with open(access_log) as f:
        f.seek(offset)
        return Counter(
            m.group(1)
            for m in (re.search(r'"GET (\S+) HTTP.*"([^"]*)"$', line) for line in f)
            if m and m.group(2).startswith(agent)
        )


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_the_get_scenario_runs_under_locust_into_the_request_log(django_site, tmp_path, user_class):
    urls = tmp_path / "urls"
    urls.write_text("/ 3\n/about/\n/broken/ 1\n")
    verify.verify(django_site.base_url, ["/about/"])  # a request just before, as other tests make
    seen_before = django_site.access_log.stat().st_size
    done = run_pages(django_site.base_url, tmp_path, urls, user_class)
    assert done.returncode == 0, done.stderr[-2000:]

    requests = read_requests(tmp_path)
    assert set(requests["method"]) == {"GET"}
    by_page = Counter(zip(requests["name"], requests["status"].astype(int), strict=True))
    assert set(by_page) == {("/", 200), ("/about/", 200), ("/broken/", 500)}
    broken = requests[requests["name"] == "/broken/"]
    assert (broken["ok"] == 0).all() and (broken["cause"] == "http_500").all()
    assert (requests.loc[requests["name"] != "/broken/", "ok"] == 1).all()
    # One iteration per GET, numbered from 1 in each process.
    assert sorted(requests["iteration"]) == list(range(1, len(requests) + 1))
    # Every request the server answered was logged once, under its path: the run's last lines
    # may still be on their way.
    recorded = Counter({p: n for (p, _), n in by_page.items()})
    for _ in range(50):
        served = served_by(django_site.access_log, seen_before, AGENTS[user_class])
        if served.total() >= recorded.total():
            break
        time.sleep(0.1)
    assert served == recorded


def test_the_get_scenario_refuses_a_bad_urls_file_in_one_line(tmp_path):
    urls = tmp_path / "urls"
    urls.write_text("/\nhttp://example.org/\n")
    done = run_pages("http://127.0.0.1:9", tmp_path, urls)
    assert done.returncode != 0
    assert f"pages.py: {urls}: line 2: 'http://example.org/' is a URL" in done.stderr


def test_other_admins_and_account_pages_are_not_requested():
    probe = discover._Probe("http://127.0.0.1:1", discover.Site())
    assert probe.excluded("/cms-admin/pages/") == "an admin (under /cms-admin/)"
    assert probe.excluded("/accounts/password_reset/done/") == (
        "an account page (login, logout, password, sign-up)"
    )
    assert probe.excluded("/users/sign-up/") == probe.excluded("/logout/") is not None
    assert probe.excluded("/blog/an-admin-story/") is None  # only a first segment names an admin
    assert probe.excluded("/login-tips/") is None
