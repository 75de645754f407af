"""The app container's entry point: migrate, seed, then become the chosen server.

Reads SERVER, WORKERS, THREADS, PORT (and the Django/PostgreSQL settings) from the environment,
and starts the server from the same registry native mode uses, so both modes run the same
command.
"""

import os
import subprocess
import sys

from .paths import DJANGO_DIR
from .servers import SERVERS


def main():
    server = SERVERS[os.environ.get("SERVER", "gunicorn")]
    workers = int(os.environ.get("WORKERS", "3"))
    threads = int(os.environ.get("THREADS", "4"))
    port = int(os.environ.get("PORT", "8000"))
    manage = [sys.executable, str(DJANGO_DIR / "manage.py")]
    questions, choices = os.environ.get("QUESTIONS", "5"), os.environ.get("CHOICES", "4")
    subprocess.run([*manage, "migrate", "--noinput"], check=True)
    subprocess.run(
        [*manage, "seed_polls", "--questions", questions, "--choices", choices], check=True
    )
    argv = server.command("0.0.0.0", port, workers, threads)  # inside the container network only
    print(f"serve: {' '.join(argv)}", flush=True)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
