"""A small Django project written into a temp dir and served by the harness's own gunicorn: a
sitemap index, links, a login-only page, an admin mounted at /backoffice/, a 500, a JSON API, a
redirect, non-HTML answers and CSRF-protected forms (one behind a login). SQLite: this is about
HTTP. Shared by the scenario tests (tests/test_discover.py, tests/test_django_helpers.py)."""

import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from djbench.paths import BIN
from djbench.system.processes import ProcessSet, free_port, wait_http

USERNAME, PASSWORD = "alice", "wonderland-42"

FILES = {
    "siteproj/__init__.py": "",
    "shop/__init__.py": "",
    "siteproj/settings.py": """
        from pathlib import Path

        BASE = Path(__file__).resolve().parent.parent
        SECRET_KEY = "only-for-tests"
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1"]
        INSTALLED_APPS = [
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "django.contrib.sitemaps", "shop",
        ]
        MIDDLEWARE = [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ]
        ROOT_URLCONF = "siteproj.urls"
        TEMPLATES = [{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [BASE / "templates"],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                 "NAME": BASE / "db.sqlite3"}}
        STATIC_URL = "static/"
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        USE_TZ = True
    """,
    "siteproj/wsgi.py": """
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siteproj.settings")
        application = get_wsgi_application()
    """,
    "shop/models.py": """
        from django.db import models


        class Item(models.Model):
            name = models.CharField(max_length=50)
            owner = models.CharField(max_length=150, blank=True)
    """,
    "templates/registration/login.html": """
        <!doctype html>
        <form method="post">{% csrf_token %}{{ form.as_p }}<button>Log in</button></form>
    """,
    "siteproj/views.py": """
        import json

        from django.contrib.auth.decorators import login_required
        from django.http import HttpResponse, JsonResponse
        from django.shortcuts import redirect
        from django.template import engines

        from shop.models import Item

        FORM = '<form method="post">{% csrf_token %}<input name="name"><button>Add</button></form>'


        def page(body):
            return HttpResponse(f"<!doctype html><html><body>{body}</body></html>")


        def home(request):
            return page(
                '<a href="/articles/">Articles</a> <a href="/about/">About</a> '
                '<a href="/private/">Mine</a> <a href="/broken/">Broken</a> '
                '<a href="/backoffice/">Admin</a> <a href="/static/site.css">Style</a> '
                '<a href="http://example.org/">Elsewhere</a> '
                '<a href="mailto:a@example.org">Mail</a> '
                '<a href="#top">Top</a> <a href="/api/items/">API</a> <a href="/old/">Old</a> '
                '<a href="articles/">Articles again</a>'
            )


        def articles(request):
            return page('<a href="/articles/1/">One</a> <a href="?page=2">Next</a>')


        def article(request, pk):
            return page(f'<a href="/articles/{pk}/comments/">Comments</a> <a href="/">Home</a>')


        def comments(request, pk):
            return page('<a href="/deep/end/">Deeper</a>')


        def plain(request, *args, **kwargs):
            return page("<p>A page.</p>")


        @login_required
        def private(request):
            return page("<p>Yours.</p>")


        def broken(request):
            return 1 / 0


        def items(request):
            if request.method == "POST":  # CSRF checked like any POST: the header's token
                item = Item.objects.create(name=json.loads(request.body)["name"],
                                           owner=request.user.username)
                return JsonResponse({"id": item.id}, status=201)
            return JsonResponse({"items": list(Item.objects.values_list("name", flat=True))})


        def robots(request):
            return HttpResponse("User-agent: *\\n", content_type="text/plain")


        def _form(request, owner):
            if request.method == "POST":
                Item.objects.create(name=request.POST["name"], owner=owner)
                return redirect("/form/?done=1")
            return HttpResponse(engines["django"].from_string(FORM).render({}, request))


        def form(request):
            return _form(request, "")


        @login_required
        def mine(request):
            return _form(request, request.user.username)
    """,
    "siteproj/urls.py": """
        from django.contrib import admin
        from django.contrib.auth.views import LoginView
        from django.contrib.sitemaps import Sitemap
        from django.contrib.sitemaps import views as sitemaps
        from django.urls import include, path, re_path
        from django.views.generic import RedirectView

        from siteproj import views


        class Pages(Sitemap):
            def items(self):
                return ["/sitemap-only/", "/about/", "/"]

            def location(self, item):
                return item

            def get_domain(self, site=None):
                return "example.com"  # what the sites framework's default Site says


        SITEMAPS = {"pages": Pages}

        urlpatterns = [
            path("", views.home),
            path("articles/", views.articles),
            path("articles/<int:pk>/", views.article),
            path("articles/<int:pk>/comments/", views.comments),
            path("deep/<slug:name>/", views.plain),
            re_path(r"^about/$", views.plain),
            re_path(r"^archive/(?P<year>[0-9]{4})/$", views.plain),
            re_path(r"^feeds/.*$", views.plain),
            path("contact/", views.plain),
            path("sitemap-only/", views.plain),
            path("private/", views.private),
            path("broken/", views.broken),
            path("api/items/", views.items),
            path("old/", RedirectView.as_view(url="/about/", permanent=True)),
            path("robots.txt", views.robots),
            path("accounts/login/", LoginView.as_view()),
            path("blog/", include([path("", views.plain), path("<int:pk>/", views.plain)])),
            path("backoffice/", admin.site.urls),
            path("sitemap.xml", sitemaps.index, {"sitemaps": SITEMAPS,
                                                 "sitemap_url_name": "sitemap-section"}),
            path("sitemap-<section>.xml", sitemaps.sitemap, {"sitemaps": SITEMAPS},
                 name="sitemap-section"),
            path("form/", views.form),
            path("mine/", views.mine),
        ]
    """,
}
# What list_routes.py must find in that URLconf, by hand: the routes without parameters.
ROUTES = [
    "/", "/articles/", "/about/", "/contact/", "/sitemap-only/", "/private/", "/broken/",
    "/api/items/", "/old/", "/robots.txt", "/accounts/login/", "/blog/", "/sitemap.xml",
    "/form/", "/mine/",
]  # fmt: skip


@dataclass
class Site:
    directory: Path
    base_url: str
    access_log: Path

    def env(self):
        """How to run the project's own code (manage commands, list_routes.py)."""
        return {"PYTHONPATH": str(self.directory), "DJANGO_SETTINGS_MODULE": "siteproj.settings",
                "PATH": str(BIN)}  # fmt: skip

    def items(self):
        with sqlite3.connect(self.directory / "db.sqlite3") as db:
            return db.execute("SELECT name, owner FROM shop_item ORDER BY id").fetchall()


def write_project(directory):
    for name, text in FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def manage(site, *args):
    code = "import sys; from django.core.management import execute_from_command_line; "
    code += "execute_from_command_line(sys.argv)"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=site.directory,
                          env=site.env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def serve(tmp_path_factory):
    """The project written, migrated, its user created and gunicorn serving it: a module
    fixture's body (`yield from serve(tmp_path_factory)`)."""
    directory = tmp_path_factory.mktemp("siteproj")
    write_project(directory)
    port = free_port()
    site = Site(directory, f"http://127.0.0.1:{port}", directory / "access.log")
    manage(site, "makemigrations", "shop")
    manage(site, "migrate")
    manage(site, "shell", "-c",
           f"from django.contrib.auth.models import User; "
           f"User.objects.create_user({USERNAME!r}, password={PASSWORD!r})")  # fmt: skip
    with ProcessSet() as procs:
        server = procs.start(
            "gunicorn",
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--access-logfile", str(site.access_log), "siteproj.wsgi:application"],
            directory / "gunicorn.log", cwd=directory, env=site.env(),
        )  # fmt: skip
        wait_http(site.base_url + "/about/", server)
        yield site
