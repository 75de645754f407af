"""Default settings, each defined once. The harness passes every one of them explicitly to
the processes it starts; the locustfiles and the container's entry point fall back on the same
values when run by hand. docker-compose.yml repeats some as literal `${VAR:-default}`s for a
plain `docker compose up`; tests/test_contracts.py holds them equal to these.
"""

import os

# The load (locustfiles/vote.py).
CLIENT_TIMEOUT_S = 30.0  # seconds before a request counts as a timeout failure
WAIT_S = (1.0, 2.0)  # between iterations: the article's between(1, 2)
USER_CLASS = "fast"  # FastHttpUser; "http": HttpUser (see `make calibrate`)
SCENARIO = "vote"  # "detail": GET the poll form only (calibration)
PACING_S = 5.0  # open model: seconds between one user's iteration starts (vote.py's 0: closed)

# The step shape of a plain `locust` or `docker compose up` run (locustfiles/step_load.py);
# djbench always passes a profile's own.
STEPS = (10, 20, 30)
HOLD_S = 30.0
SPAWN_RATE = 10.0
WARMUP_S = 5.0

# The stack.
THREADS = 4  # per worker, for servers with threads (gunicorn-gthread)
CONN_MAX_AGE_S = 0  # Django's CONN_MAX_AGE: a connection per request (the only safe ASGI value)
PG_MAX_CONNECTIONS = 200  # PostgreSQL's own default is 100
CLOCK_SLACK_S = 0.002  # beyond two clock readings' round-trip bound: timers, scheduling
QUESTIONS = 5  # polls seeded
CHOICES = 4  # choices per poll
LOCUST_MASTER_PORT = 5557  # Locust's own default, what `djbench load-worker` connects to


def workers() -> int:
    """gunicorn's documented starting point, (2 x cores) + 1, used for every server alike."""
    return 2 * (os.cpu_count() or 1) + 1
