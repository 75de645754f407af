"""Settings for the benchmarked polls site, read only from environment variables.

Every knob a benchmark run varies is an env var, so one code tree serves all server setups.
"""

import os

from django.core.exceptions import ImproperlyConfigured

env = os.environ.get

DEBUG = env("DJANGO_DEBUG", "").lower() in ("1", "true")

SECRET_KEY = env("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    # A hard-coded key would end up signing cookies on a real deployment.
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set")
    SECRET_KEY = "django-insecure-dev-only"

ALLOWED_HOSTS = [h for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

# Checked here rather than in polls/urls.py so a bad value stops the server at startup instead
# of turning every request into a 500.
POLLS_VIEWS = env("POLLS_VIEWS", "sync")
if POLLS_VIEWS not in ("sync", "async"):
    raise ImproperlyConfigured(f"POLLS_VIEWS must be 'sync' or 'async', not {POLLS_VIEWS!r}")

# auth/contenttypes/sessions/messages back the default middleware below; no admin, no static.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "polls",
]

# startproject's list: what a real deployment pays for on every request.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections (DB_CONN_MAX_AGE > 0) only help WSGI workers: under ASGI each request
# may run in a new thread and leak its connection (Django ticket #33497), so the default is 0.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env("POSTGRES_HOST", "127.0.0.1"),
        "PORT": env("POSTGRES_PORT", "5432"),
        "NAME": env("POSTGRES_DB", "polls"),
        "USER": env("POSTGRES_USER", "polls"),
        "PASSWORD": env("POSTGRES_PASSWORD", ""),
        "CONN_MAX_AGE": int(env("DB_CONN_MAX_AGE", "0")),
    }
}

# DB_POOL="min:max" turns on psycopg's connection pool (needs psycopg[pool]); it is the
# ASGI-safe way to reuse connections. Django refuses it together with CONN_MAX_AGE, but only
# on the first query, so fail at startup instead.
if pool := env("DB_POOL"):
    try:
        min_size, max_size = (int(n) for n in pool.split(":"))
    except ValueError:
        raise ImproperlyConfigured(f"DB_POOL must be 'min:max', not {pool!r}") from None
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("DB_POOL requires DB_CONN_MAX_AGE=0")
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": min_size, "max_size": max_size}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True

# Django only prints errors to the console with DEBUG on; under load the cause of a 500
# (e.g. PostgreSQL's "sorry, too many clients already") must reach the server log regardless.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        name: {"handlers": ["stderr"], "level": "ERROR", "propagate": False}
        for name in ("django.request", "django.db.backends", "django.security")
    },
}
