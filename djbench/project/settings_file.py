"""The settings module a run writes over the project's: the benchmark owns the database, DEBUG,
the hosts, where static and media files go and where errors are logged, and nothing else."""

import os
import re
import urllib.parse

from djbench.project import versions

HEADER = '''"""Written by djbench for one run: the settings of {settings}, with what the benchmark
owns set below. The project's files are not modified."""

import os

from {settings} import *  # noqa: F403

'''

# Under load the cause of a 500 (PostgreSQL's "too many clients") must reach the server log,
# whatever DEBUG says.
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


# Django 3.0 asserts the UTC offset psycopg2 hands it is the int 0; psycopg2 2.9 (the first with
# a wheel for this Python) hands timedelta(0). Patched before the backend imports it by name.
UTC_OFFSET_SHIM = """
import datetime as _datetime

from django.db.backends.postgresql import utils as _pg_utils


def _utc_tzinfo_factory(offset, _factory=_pg_utils.utc_tzinfo_factory):
    return _factory(offset.total_seconds() / 60 if isinstance(offset, _datetime.timedelta)
                    else offset)


_pg_utils.utc_tzinfo_factory = _utc_tzinfo_factory
"""
COMPAT = {
    "utc_offset": "Django 3.0's utc_tzinfo_factory accepts psycopg2 2.9's timedelta offset "
    "(djbench's shim in the run's settings)"
}


def compat(app):
    """The compatibility shims this project's Django needs on this Python, by name."""
    django = versions.as_tuple(app.info["django"])
    return ["utc_offset"] if django < versions.UTC_OFFSET_SHIM else []


def render(app, cfg, static_root, media_root):
    """(the module's text, the names of the settings it sets)."""
    # Each value as source text: the connection comes from the environment, not the file.
    database = {"ENGINE": repr("django.db.backends.postgresql")}
    for key, env in (("HOST", "HOST"), ("PORT", "PORT"), ("NAME", "DB"), ("USER", "USER"),
                     ("PASSWORD", "PASSWORD")):  # fmt: skip
        database[key] = f'os.environ["POSTGRES_{env}"]'
    database["CONN_MAX_AGE"] = repr(cfg.conn_max_age)
    if cfg.db_pool:
        pool = {"min_size": cfg.db_pool[0], "max_size": cfg.db_pool[1]}
        database["OPTIONS"] = repr({"pool": pool})
    settings = {
        "DEBUG": "False",
        "ALLOWED_HOSTS": 'os.environ["DJBENCH_ALLOWED_HOSTS"].split(",")',
        "DATABASES": "{'default': {" + ", ".join(f"{k!r}: {v}" for k, v in database.items()) + "}}",
        "STATIC_ROOT": repr(str(static_root)),
        "MEDIA_ROOT": repr(str(media_root)),
        "LOGGING": repr(LOGGING),
    }
    if not app.info["has_secret_key"]:
        settings["SECRET_KEY"] = 'os.environ["DJANGO_SECRET_KEY"]'
    # The count of requests each process runs at once (djbench_inflight.py), first so
    # that it counts the whole of a request's time in Django.
    settings["MIDDLEWARE"] = (
        '[*(["djbench_inflight.InFlight"] if os.environ.get("DJBENCH_INFLIGHT_DIR") else []), '
        "*globals().get('MIDDLEWARE', [])]"
    )
    body = "".join(f"{name} = {value}\n" for name, value in settings.items())
    if "utc_offset" in compat(app):
        body += UTC_OFFSET_SHIM
    return HEADER.format(settings=app.settings) + body, list(settings)


def database_url(db_env):
    """DATABASE_URL for projects that read it (dj-database-url, django-environ)."""

    def quote(text):
        return urllib.parse.quote(text, safe="")  # a "/" or "@" in a password too

    return (
        f"postgres://{quote(db_env['POSTGRES_USER'])}:{quote(db_env['POSTGRES_PASSWORD'])}"
        f"@{db_env['POSTGRES_HOST']}:{db_env['POSTGRES_PORT']}/{quote(db_env['POSTGRES_DB'])}"
    )


def write_module(path, text):
    """Write one of the run's modules beside the project, unless it already holds `text`, and
    then whole: a new file renamed over the old one. Each stack start writes them up to three
    times, the last while the app server's processes import them; rewritten in place, a
    gunicorn worker read the settings module empty ('Settings' object has no attribute
    'ROOT_URLCONF')."""
    if path.exists() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def write_asgi(app, where):
    """The project's wsgi module with wsgi replaced by asgi, as the ASGI entry point of a project
    that has none (Django's own asgi.py is exactly that): returns it as module:attribute."""
    source = open(app.info["wsgi_file"]).read()
    converted = re.sub("wsgi", "asgi", re.sub("WSGI", "ASGI", source))
    write_module(where / "djbench_asgi.py", converted)
    return "djbench_asgi:" + app.info["wsgi"].partition(":")[2]


def notes(app, cfg):
    """The project's own settings that the run replaced and that change what is measured."""
    lines = []
    own = app.info["database"].get("CONN_MAX_AGE") or 0
    if own != cfg.conn_max_age:
        lines.append(
            f"the project sets CONN_MAX_AGE={own}; this run uses {cfg.conn_max_age} "
            "(--conn-max-age)"
        )
    if own and cfg.interface == "asgi":
        lines.append(
            f"the project's CONN_MAX_AGE={own} is unsafe under an ASGI server (Django documents "
            "persistent connections as unsupported there): measure it with --conn-max-age "
            f"{own} to see its effect"
        )
    lines += [COMPAT[name] for name in compat(app)]
    if app.info["debug"]:
        lines.append("the project's DEBUG=True is turned off for the run")
    if len(app.info["databases"]) > 1:
        others = ", ".join(d for d in app.info["databases"] if d != "default")
        lines.append(f"only the default database is set up; the project's {others} are dropped")
    return lines
