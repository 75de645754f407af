"""list_routes.py, the script page discovery runs in a project's own environment, on URLconfs of
every shape Django has: path() and re_path() (literal or not), nested includes under either,
i18n prefixes, the admin mounted anywhere, and LOGIN_URL given as a URL name. Here under the
harness's own Django, in a subprocess, as a project's environment runs it."""

import subprocess
import sys
import textwrap

from djbench.scenario import discover

SETTINGS = """
    SECRET_KEY = "only-for-tests"
    ROOT_URLCONF = "routes_urls"
    INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth",
                      "django.contrib.contenttypes", "django.contrib.sessions",
                      "django.contrib.messages", "django.contrib.staticfiles"]
    LANGUAGE_CODE = "en"
    USE_I18N = True
    LOGIN_URL = "signin"
    STATIC_URL = "assets/"
    MEDIA_URL = "/uploads/"
"""
URLS = r"""
    from django.conf.urls.i18n import i18n_patterns
    from django.contrib import admin
    from django.http import HttpResponse
    from django.urls import include, path, re_path


    def view(request, **kwargs):
        return HttpResponse("")


    api = [
        path("v1/", view),
        path("v1/<int:pk>/", view),
        re_path(r"^v2/(?P<pk>\d+)/$", view),
        re_path(r"^v2/status\.json$", view),
        path("nested/", include(([path("deep/", view)], "nested"), namespace="deep")),
    ]
    urlpatterns = [
        re_path(r"^$", view),
        re_path(r"^api/", include(api)),
        re_path(r"^robots\.txt$", view),
        re_path(r"^files/.+$", view),
        re_path(r"^plain/\Z", view),
        path("sign-in/", view, name="signin"),
        path("staff/console/", admin.site.urls),
        path("api/v1/", view),  # again, by another route: listed once
        *i18n_patterns(path("about/", view), path("news/<slug:slug>/", view)),
    ]
"""


def test_every_shape_of_urlconf(tmp_path):
    (tmp_path / "routes_settings.py").write_text(textwrap.dedent(SETTINGS))
    (tmp_path / "routes_urls.py").write_text(textwrap.dedent(URLS))
    env = {"PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "routes_settings"}
    done = subprocess.run([sys.executable, "-c", discover.routes_script()], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    site = discover.site_from_json(done.stdout)
    assert site.routes == [
        "/", "/api/v1/", "/api/v2/status.json", "/api/nested/deep/", "/robots.txt", "/plain/",
        "/sign-in/", "/en/about/",
    ]  # fmt: skip
    assert site.admin == ["/staff/console/"]
    assert (site.login_url, site.static_url, site.media_url) == (
        "/sign-in/",
        "/assets/",
        "/uploads/",
    )
