"""The environment every process of a run starts with: the user's own, minus what would silently
change what runs.

gunicorn reads GUNICORN_CMD_ARGS and WEB_CONCURRENCY, uvicorn every UVICORN_* option, granian
GRANIAN_*, uWSGI every option as UWSGI_*, Locust LOCUST_* and ~/.locust.conf, libpq (psycopg)
PG*, and docker compose fills its file's ${VARIABLES} from the environment. A run sets what it
means explicitly; anything else of that kind is left out, recorded in meta.json and said in one
line, so the configuration in meta.json is the one that ran.
"""

import os
import re
from pathlib import Path

from djbench.paths import ROOT

IGNORED_PREFIXES = (
    "GUNICORN_", "UVICORN_", "GRANIAN_", "HYPERCORN_", "UWSGI_", "LOCUST_", "DJANGO_", "PG",
)  # fmt: skip
IGNORED_NAMES = {"WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "PORT", "PYTHONPATH", "PYTHONSTARTUP"}
LOCUST_CONF = Path("~/.locust.conf")
# Every process a run starts carries its run id: a later run finds what a killed one left by it.
RUN_TAG = "DJBENCH_RUN"


def _ignored(name):
    return name in IGNORED_NAMES or name.startswith(IGNORED_PREFIXES) or name == RUN_TAG


def compose_variables():
    """The ${NAMES} docker-compose.yml takes from the environment."""
    text = (ROOT / "docker-compose.yml").read_text()
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def ignored():
    """What the user's environment holds that a run leaves out (names only: values may be
    secrets), and ~/.locust.conf if it exists."""
    names = sorted(n for n in os.environ if _ignored(n) or n in compose_variables())
    if LOCUST_CONF.expanduser().exists():
        names.append(str(LOCUST_CONF))
    return names


def child_environ(extra=None, run_id=""):
    """The user's environment without the ignored variables, plus `extra` and the run's tag."""
    env = {k: v for k, v in os.environ.items() if not _ignored(k)}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    if run_id:
        env[RUN_TAG] = run_id
    return env


def compose_environ(settings, run_id=""):
    """For docker compose: the compose file's variables come from `settings` or its defaults."""
    variables = compose_variables() - set(settings)
    env = child_environ(settings, run_id)
    return {k: v for k, v in env.items() if k not in variables}
