"""The polls project's own Django tests, once per view variant, plus its config errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1] / "polls_project"
DJANGO_TESTS = 17  # keep in step with polls_project/polls/tests.py


def run(args, **env):
    # Start from a clean slate so the caller's shell can't change the project's configuration.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "POSTGRES_", "POLLS_", "DB_"))
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT,
        env={**base, "DJANGO_SETTINGS_MODULE": "mysite.settings", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("views", ["sync", "async"])
def test_django_tests_pass(pg_env, views):
    result = run(
        ["manage.py", "test", "polls", "-v", "2", "--noinput"],
        **pg_env,
        POLLS_VIEWS=views,
        DJANGO_SECRET_KEY="test",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Ran {DJANGO_TESTS} tests" in output, output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({}, "DJANGO_SECRET_KEY is not set", id="no-secret-key"),
        pytest.param(
            {"DJANGO_SECRET_KEY": "test", "POLLS_VIEWS": "bogus"},
            "POLLS_VIEWS must be 'sync' or 'async', not 'bogus'",
            id="bogus-views",
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": "test", "DB_POOL": "4"},
            "DB_POOL must be 'min:max', not '4'",
            id="bad-pool",
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": "test", "DB_POOL": "2:4", "DB_CONN_MAX_AGE": "60"},
            "DB_POOL requires DB_CONN_MAX_AGE=0",
            id="pool-with-persistent-connections",
        ),
    ],
)
def test_bad_configuration_fails_at_setup(env, message):
    result = run(["-c", "import django; django.setup()"], **env)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}\n" in result.stderr, result.stderr


def test_pool_settings():
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    result = run(["-c", code], DJANGO_SECRET_KEY="test", DB_POOL="2:4")
    assert result.stdout.strip() == "{'pool': {'min_size': 2, 'max_size': 4}}", result.stderr
