"""The server registry: how each server starts, as data. Both runners use it.

argv templates take {host}, {port} and {workers}; the Django project is importable as
``mysite`` (the runner puts polls_project/ on PYTHONPATH).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Server:
    name: str
    interface: str  # "wsgi" or "asgi"
    argv: str  # a template: split on spaces, then {host}, {port}, {workers} filled in
    packages: tuple[str, ...]  # distributions whose versions go into meta.json
    views: tuple[str, ...] = ("sync", "async")

    def command(self, host, port, workers):
        return [arg.format(host=host, port=port, workers=workers) for arg in self.argv.split()]


SERVERS = {
    s.name: s
    for s in (
        Server(
            "gunicorn",
            "wsgi",
            "gunicorn mysite.wsgi:application --bind {host}:{port} --workers {workers}"
            " --worker-class sync",
            ("gunicorn",),
        ),
        Server(
            "uvicorn",
            "asgi",
            # Django has no lifespan support: without --lifespan off every worker logs a warning.
            "uvicorn mysite.asgi:application --host {host} --port {port} --workers {workers}"
            " --lifespan off --no-access-log",
            ("uvicorn", "uvloop", "httptools"),
        ),
    )
}

# What `make bench-wsgi` / `make bench-asgi` run.
DEFAULT_BY_INTERFACE = {"wsgi": "gunicorn", "asgi": "uvicorn"}
