"""The server registry: how each server starts, as data. Both runners use it.

argv templates take {app} (the project's WSGI or ASGI entry point, as module:attribute, for the
server's interface), {host}, {port}, {workers} and {threads}. Django has no ASGI lifespan
support, so every ASGI entry turns lifespan off where the server allows it.
"""

from dataclasses import dataclass

# The built-in polls project's entry points (polls_project/mysite).
POLLS_ENTRY_POINTS = {"wsgi": "mysite.wsgi:application", "asgi": "mysite.asgi:application"}


@dataclass(frozen=True)
class Server:
    name: str
    interface: str  # "wsgi" or "asgi"
    argv: str  # a template: split on spaces, then the placeholders above filled in
    packages: tuple[str, ...]  # distributions whose versions go into meta.json
    views: tuple[str, ...] = ("sync", "async")
    why_not: str = ""  # why a view variant missing from `views` cannot run, said when refused
    single_process: bool = False  # no worker option: one process whatever --workers says

    @property
    def uses_workers(self):
        return "{workers}" in self.argv

    @property
    def uses_threads(self):
        return "{threads}" in self.argv

    def processes(self, workers):
        """How many processes serve requests (and each may hold database connections)."""
        return 1 if self.single_process else workers

    def command(self, host, port, workers, threads=1, app=None):
        """app: module:attribute; the polls project's own entry point by default."""
        app = app or POLLS_ENTRY_POINTS[self.interface]
        return [
            arg.format(app=app, host=host, port=port, workers=workers, threads=threads)
            for arg in self.argv.split()
        ]


SERVERS = {
    s.name: s
    for s in (
        Server(
            "gunicorn",
            "wsgi",
            "gunicorn {app} --bind {host}:{port} --workers {workers} --worker-class sync",
            ("gunicorn",),
        ),
        Server(
            "gunicorn-gthread",
            "wsgi",
            "gunicorn {app} --bind {host}:{port} --workers {workers}"
            " --worker-class gthread --threads {threads}",
            ("gunicorn",),
        ),
        Server(
            "gunicorn-gevent",
            "wsgi",
            # gevent's monkey patching (the worker's first act, before the app loads) makes
            # psycopg 3 wait on the patched select instead of in C, so a query yields to the
            # other greenlets; --worker-connections caps the requests each process takes.
            "gunicorn {app} --bind {host}:{port} --workers {workers} --worker-class gevent",
            ("gunicorn", "gevent", "greenlet"),
            views=("sync",),
            why_not="its greenlets share one OS thread, so the thread an async view's ORM call "
            "runs in sees the view's event loop and Django refuses the query "
            "(SynchronousOnlyOperation)",
        ),
        Server(
            "uwsgi",
            "wsgi",
            # The pyuwsgi wheel. --die-on-term: uWSGI 2.0 reloads on SIGTERM otherwise;
            # --lazy-apps loads the app in each worker (no state shared across a fork);
            # --enable-threads lets the app's own threads run (psycopg's pool has some);
            # --listen 2048 is gunicorn's backlog (uWSGI's own is 100). Connection: close, as
            # gunicorn's sync workers answer: without it nginx reuses a connection uWSGI has
            # closed (a POST then fails), and with --http11-socket's keep-alive a worker waits
            # on an idle nginx connection while requests queue (the app mostly idle, as
            # server_processes.csv showed).
            "uwsgi --http-socket {host}:{port} --module {app} --master --processes {workers}"
            " --die-on-term --lazy-apps --enable-threads --need-app --listen 2048"
            " --disable-logging --add-header Connection:close",
            ("pyuwsgi",),
        ),
        Server(
            "uvicorn",
            "asgi",
            # Without --lifespan off every worker logs that lifespan is unsupported.
            "uvicorn {app} --host {host} --port {port} --workers {workers}"
            " --lifespan off --no-access-log",
            ("uvicorn", "uvloop", "httptools"),
        ),
        Server(
            "gunicorn-uvicorn",
            "asgi",
            # uvicorn.workers is deprecated; uvicorn-worker is its maintained successor. Its
            # worker keeps lifespan "auto": Django's refusal costs one info line per worker.
            "gunicorn {app} --bind {host}:{port} --workers {workers}"
            " --worker-class uvicorn_worker.UvicornWorker",
            ("gunicorn", "uvicorn-worker", "uvicorn", "uvloop", "httptools"),
        ),
        Server(
            "gunicorn-asgi",
            "asgi",
            # gunicorn's own ASGI worker (gunicorn 24+), its asyncio loop on uvloop when
            # installed; Django implements no lifespan.
            "gunicorn {app} --bind {host}:{port} --workers {workers} --worker-class asgi"
            " --asgi-lifespan off",
            ("gunicorn", "uvloop"),
        ),
        Server(
            "daphne",
            "asgi",
            # Daphne has no worker processes; -v 0 keeps its per-request access log off.
            "daphne -b {host} -p {port} -v 0 {app}",
            ("daphne", "twisted"),
            single_process=True,
        ),
        Server(
            "hypercorn",
            "asgi",
            # uvloop, as uvicorn picks by itself; hypercorn's default is plain asyncio. It has
            # no switch for lifespan: each worker logs one warning that Django refuses it.
            "hypercorn {app} --bind {host}:{port} --workers {workers} --worker-class uvloop",
            ("hypercorn", "uvloop"),
        ),
        Server(
            "granian-wsgi",
            "wsgi",
            # Each worker runs the app in a pool of blocking threads; granian sizes it from its
            # backpressure (backlog 1024 / workers / 2), not from --threads.
            "granian {app} --interface wsgi --host {host} --port {port} --workers {workers}",
            ("granian",),
        ),
        Server(
            "granian-asgi",
            "asgi",
            # asginl: ASGI without the lifespan protocol.
            "granian {app} --interface asginl --host {host} --port {port} --workers {workers}",
            ("granian",),
        ),
    )
}

# What `make bench-wsgi` / `make bench-asgi` run.
DEFAULT_BY_INTERFACE = {"wsgi": "gunicorn", "asgi": "uvicorn"}
