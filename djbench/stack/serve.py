"""The app container's entry point: migrate, seed, then become the chosen server.

Reads SERVER, WORKERS, THREADS, PORT (and the Django/PostgreSQL settings) from the environment,
and starts the server from the same registry native mode uses, so both modes run the same
command. djbench always sets them; unset or empty, each falls back on the default native mode
uses (contracts/defaults.py).
"""

import os
import subprocess
import sys

from djbench.contracts import defaults
from djbench.paths import DJANGO_DIR
from djbench.stack.servers import DEFAULT_BY_INTERFACE, SERVERS


def _env(name, default):
    return os.environ.get(name) or str(default)


def main():
    server = SERVERS[_env("SERVER", DEFAULT_BY_INTERFACE["wsgi"])]
    workers = int(_env("WORKERS", defaults.workers()))
    threads = int(_env("THREADS", defaults.THREADS))
    port = int(_env("PORT", 8000))
    manage = [sys.executable, str(DJANGO_DIR / "manage.py")]
    questions, choices = _env("QUESTIONS", defaults.QUESTIONS), _env("CHOICES", defaults.CHOICES)
    subprocess.run([*manage, "migrate", "--noinput"], check=True)
    subprocess.run(
        [*manage, "seed_polls", "--questions", questions, "--choices", choices], check=True
    )
    argv = server.command("0.0.0.0", port, workers, threads)  # inside the container network only
    print(f"serve: {' '.join(argv)}", flush=True)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
