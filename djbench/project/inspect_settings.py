"""Run inside the project's own environment (its Django, its settings): prints, as JSON, what
the benchmark needs to know of the project's settings. Standard library and Django only."""

import importlib.util
import json
import sys

import django
from django.conf import settings

WATCHED = ("CONN_MAX_AGE", "ATOMIC_REQUESTS")  # per-database settings that change results


def _entry(dotted):
    module, _, attr = (dotted or "").rpartition(".")
    return f"{module}:{attr}" if module else None


def _exists(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _has_secret_key():
    try:
        return bool(settings.SECRET_KEY)
    except Exception:  # Django 3.2+ refuses to read an empty one
        return False


def main():
    wsgi = _entry(getattr(settings, "WSGI_APPLICATION", None))
    asgi = _entry(getattr(settings, "ASGI_APPLICATION", None))
    wsgi_module = wsgi.partition(":")[0] if wsgi else None
    sibling = wsgi_module.rpartition(".")[0] + ".asgi" if wsgi_module else None
    if not asgi and sibling and _exists(sibling):
        asgi = f"{sibling}:application"
    spec = importlib.util.find_spec(wsgi_module) if wsgi_module else None
    default_db = settings.DATABASES.get("default", {})
    print(
        json.dumps(
            {
                "django": django.get_version(),
                "python": sys.version.split()[0],
                "wsgi": wsgi,
                "asgi": asgi,
                "wsgi_file": spec.origin if spec else None,
                "installed_apps": list(settings.INSTALLED_APPS),
                "static_url": settings.STATIC_URL,
                "media_url": settings.MEDIA_URL,
                "login_url": str(settings.LOGIN_URL),
                "debug": settings.DEBUG,
                "has_secret_key": _has_secret_key(),
                "database": {k: default_db.get(k) for k in ("ENGINE", *WATCHED)},
                "databases": sorted(settings.DATABASES),
            }
        )
    )


if __name__ == "__main__":
    main()
