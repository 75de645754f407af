"""Small Django projects of different shapes, written by the tests into temp dirs: what a user
brings to `djbench --project`. Each is a real project with its own requirements."""

import textwrap
from pathlib import Path

DJANGO_42 = "Django==4.2.30"
PSYCOPG = "psycopg[binary]==3.3.9"

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

WSGI = """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
application = get_wsgi_application()
"""

ASGI = WSGI.replace("wsgi", "asgi").replace("WSGI", "ASGI")

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "a-project-key-that-the-benchmark-keeps"
DEBUG = True
ALLOWED_HOSTS = []
INSTALLED_APPS = {apps}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "{package}.urls"
WSGI_APPLICATION = "{package}.wsgi.application"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
              "APP_DIRS": True, "OPTIONS": {{"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}}}]
# The developer's own database: the benchmark replaces it.
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3",
                          "CONN_MAX_AGE": {conn_max_age}}}}}
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
{extra}
"""

MODELS = """\
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)
"""

MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
        )
    ]
"""

SEED_COMMAND = """\
from django.core.management.base import BaseCommand

from {app}.models import Item


class Command(BaseCommand):
    help = "Load the items the pages list."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10)

    def handle(self, *args, count, **options):
        Item.objects.bulk_create(Item(name=f"item {{i}}") for i in range(count))
        {extra}
        self.stdout.write(f"{{count}} items")
"""


# What the default middleware needs, before each project's own apps.
BASE_APPS = ("django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
             "django.contrib.messages")  # fmt: skip


def _apps(*own):
    return repr([*BASE_APPS, *own])


def _write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text)


def _app(app, views, urls, templates=None, extra_seed=""):
    files = {
        f"{app}/__init__.py": "",
        f"{app}/models.py": MODELS,
        f"{app}/views.py": views,
        f"{app}/urls.py": urls,
        f"{app}/management/__init__.py": "",
        f"{app}/management/commands/__init__.py": "",
        f"{app}/management/commands/load_items.py": SEED_COMMAND.format(app=app, extra=extra_seed),
        f"{app}/migrations/__init__.py": "",
        f"{app}/migrations/0001_initial.py": MIGRATION,
    }
    files.update(templates or {})
    return files


PAGES_VIEWS = """\
from django.http import HttpResponse
from django.shortcuts import render

from .models import Item


def home(request):
    return render(request, "items/home.html", {"items": Item.objects.order_by("id")[:20]})


def about(request):
    return HttpResponse("<html><body><a href='/'>home</a> about</body></html>")
"""

PAGES_URLS = """\
from django.urls import path

from . import views

urlpatterns = [path("", views.home), path("about/", views.about)]
"""

HOME = """\
{% load static %}<html><head><link rel="stylesheet" href="{% static 'items/site.css' %}"></head>
<body><a href="/about/">about</a><ul>{% for item in items %}<li>{{ item.name }}</li>{% endfor %}
</ul></body></html>
"""


def pages_on_django_42(root: Path) -> dict:
    """A project pinned to Django 4.2 in its own requirements: two pages, a seed command."""
    _write(root, {
        "requirements.txt": f"{DJANGO_42}\n{PSYCOPG}\n",
        "manage.py": MANAGE.format(settings="site42.settings"),
        "site42/__init__.py": "",
        "site42/settings.py": SETTINGS.format(
            apps=_apps("items"),
            package="site42", conn_max_age=0, extra=""),
        "site42/urls.py": 'from django.urls import include, path\n\n'
                          'urlpatterns = [path("", include("items.urls"))]\n',
        "site42/wsgi.py": WSGI.format(settings="site42.settings"),
        "site42/asgi.py": ASGI.format(settings="site42.settings"),
        "urls.txt": "# the pages and their weights\n/ 3\n/about/\n",
        **_app("items", PAGES_VIEWS, PAGES_URLS, {"items/templates/items/home.html": HOME}),
    })  # fmt: skip
    return {"seed": "load_items --count 12", "urls": str(root / "urls.txt")}


SHOP_VIEWS = PAGES_VIEWS.replace(
    """    return HttpResponse("<html><body><a href='/'>home</a> about</body></html>")""",
    """    return render(request, "about.html")""",
)
# Written by the data loader: a file a deployment keeps in MEDIA_ROOT.
SEEDED_MEDIA = "from django.conf import settings\n        from pathlib import Path\n        " \
    "Path(settings.MEDIA_ROOT, 'seeded.txt').write_text('seeded')"  # fmt: skip


def static_settings_package(root: Path) -> dict:
    """Static files, a settings package (shop/settings/dev.py), no asgi.py, a data loader that
    writes a media file, a template directory given relative to the project's directory."""
    _write(root, {
        "requirements.txt": f"Django==5.2.19\n{PSYCOPG}\n",
        "manage.py": MANAGE.format(settings="shop.settings.dev"),
        "shop/__init__.py": "",
        "shop/settings/__init__.py": "",
        "shop/settings/base.py": SETTINGS.format(
            apps=_apps("django.contrib.staticfiles", "items"),
            package="shop", conn_max_age=60, extra=""),
        "shop/settings/dev.py": "from .base import *  # noqa: F403\n\nDEBUG = True\n"
                                'MEDIA_URL = "/media/"\n'
                                'TEMPLATES[0]["DIRS"] = ["shop/templates"]  # as run from here\n',
        "shop/templates/about.html": "<html><body><a href='/'>home</a> about us</body></html>\n",
        "shop/urls.py": 'from django.urls import include, path\n\n'
                        'urlpatterns = [path("", include("items.urls"))]\n',
        "shop/wsgi.py": WSGI.format(settings="shop.settings.dev"),
        "items/static/items/site.css": "body { color: #123456; }\n",
        **_app("items", SHOP_VIEWS, PAGES_URLS, {"items/templates/items/home.html": HOME},
               extra_seed=SEEDED_MEDIA),
    })  # fmt: skip
    return {"seed": "load_items --count 5"}


API_VIEWS = """\
from rest_framework import permissions, serializers, viewsets

from .models import Item


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "name", "created"]


class ItemViewSet(viewsets.ModelViewSet):
    queryset = Item.objects.order_by("-id")
    serializer_class = ItemSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]
"""

API_URLS = """\
from django.urls import include, path
from rest_framework import routers

from .views import ItemViewSet

router = routers.DefaultRouter()
router.register("items", ItemViewSet)
urlpatterns = [path("api/", include(router.urls))]
"""

API_LOCUSTFILE = '''\
"""Each user lists the items, then adds one with the token the seed made."""

import random

from locust import FastHttpUser, between, task

DJBENCH_INVARIANT = {{"sql": "SELECT count(*) FROM notes_item WHERE name LIKE 'bench %'",
                     "equals": "successes:POST /api/items/"}}


class ApiUser(FastHttpUser):
    wait_time = between(0.5, 1)

    @task
    def read_then_write(self):  # every iteration posts: even a short run checks the invariant
        self.client.get("/api/items/")
        self.client.post("/api/items/", json={{"name": f"bench {{random.random()}}"}},
                         headers={{"Authorization": "Token {token}"}})
'''

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def drf_api(root: Path) -> dict:
    """A JSON API (Django REST framework): authenticated POSTs from its own Locust file, with
    an invariant (every successful POST added exactly one row)."""
    seed_extra = (
        "from django.contrib.auth.models import User\n"
        "        from rest_framework.authtoken.models import Token\n"
        '        user = User.objects.create_user("bench", password="bench")\n'
        f'        Token.objects.create(user=user, key="{TOKEN}")'
    )
    _write(root, {
        "requirements.txt": f"Django==5.2.19\n{PSYCOPG}\ndjangorestframework==3.16.1\n",
        "manage.py": MANAGE.format(settings="api.settings"),
        "api/__init__.py": "",
        "api/settings.py": SETTINGS.format(
            apps=_apps("rest_framework", "rest_framework.authtoken", "notes"),
            package="api", conn_max_age=0,
            extra='REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": '
                  '["rest_framework.authentication.TokenAuthentication"]}'),
        "api/urls.py": 'from django.urls import include, path\n\n'
                       'urlpatterns = [path("", include("notes.urls"))]\n',
        "api/wsgi.py": WSGI.format(settings="api.settings"),
        "api/asgi.py": ASGI.format(settings="api.settings"),
        "locustfile.py": API_LOCUSTFILE.format(token=TOKEN),
        **_app("notes", API_VIEWS, API_URLS, extra_seed=seed_extra),
    })  # fmt: skip
    return {"seed": "load_items --count 3", "locustfile": str(root / "locustfile.py")}
