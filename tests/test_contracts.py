"""One place for each contract: docker-compose.yml's literal defaults equal the Python ones, the
harness passes every variable compose reads, and the container's entry point falls back on the
defaults native mode uses."""

import re
from pathlib import Path

import pytest

from djbench import config
from djbench.contracts import defaults
from djbench.contracts.files import LOCUST_CSV_PREFIX, TIMELINE
from djbench.runners import compose
from djbench.stack import nginx, serve
from djbench.stack.servers import SERVERS
from tests.helpers import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
# ${NAME}, ${NAME:-default}, ${NAME:?message}; $${...} is an escaped literal for the shell.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}")
# Where a plain `docker compose up` puts things, and the code's fingerprint (no check when
# empty): the harness sets them per run.
PER_RUN = {"RUN_DIR", "WEB_PORT", "DJBENCH_FINGERPRINT"}


def compose_variables():
    """name -> literal default ('' for ${NAME:-}), None when compose requires it (:?)."""
    found = {}
    for name, kind, value in VARIABLE.findall(COMPOSE_TEXT):
        found[name] = value if kind == ":-" else None
    return found


def harness_environment(tmp_path):
    """What the harness passes to compose for a run with every default and the step shape a
    plain Locust run uses."""
    cfg = config.build(
        "gunicorn",
        users=defaults.STEPS,
        hold_s=defaults.HOLD_S,
        warmup_s=defaults.WARMUP_S,
        spawn_rate=defaults.SPAWN_RATE,
    )
    return compose._settings(cfg, tmp_path, web_port=8080, locust_workers=1)


def test_the_pattern_finds_compose_variables():
    found = compose_variables()
    assert found["POSTGRES_PASSWORD"] is None
    assert found["CLIENT_TIMEOUT"] == "30"
    assert "1" not in found  # the nginx command's $${\1} is not a variable


def test_harness_passes_every_variable_compose_reads(tmp_path):
    env = harness_environment(tmp_path)
    missing = sorted(name for name in compose_variables() if name not in env)
    assert missing == []


def test_compose_defaults_are_the_python_ones(tmp_path):
    env = harness_environment(tmp_path)
    for name, literal in compose_variables().items():
        if literal is None or name in PER_RUN:
            continue
        if name == "WORKERS":
            # 2 x cores + 1 depends on the machine: the entry point computes it.
            assert literal == ""
            continue
        assert (name, literal) == (name, env[name])
    # The same settings native mode uses (spot checks of the sources above).
    assert env["CLIENT_TIMEOUT"] == f"{defaults.CLIENT_TIMEOUT_S:g}"
    assert env["THREADS"] == str(defaults.THREADS)
    assert env["PG_MAX_CONNECTIONS"] == str(defaults.PG_MAX_CONNECTIONS)
    assert {k: env[k] for k in nginx.SETTINGS} == nginx.SETTINGS


def test_compose_writes_the_files_the_analysis_reads():
    assert f"--csv /results/{LOCUST_CSV_PREFIX} " in COMPOSE_TEXT
    assert f"--timeline /results/{TIMELINE}" in COMPOSE_TEXT
    assert "REQUEST_LOG_DIR: /results" in COMPOSE_TEXT


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, ("gunicorn", defaults.workers(), defaults.THREADS)),
        # compose passes "" for a variable nobody set
        ({"WORKERS": "", "THREADS": ""}, ("gunicorn", defaults.workers(), defaults.THREADS)),
        (
            {"SERVER": "gunicorn-gthread", "WORKERS": "2", "THREADS": "3"},
            ("gunicorn-gthread", 2, 3),
        ),
    ],
)
def test_entry_point_falls_back_on_the_native_defaults(monkeypatch, env, expected):
    for name in ("SERVER", "WORKERS", "THREADS", "PORT", "QUESTIONS", "CHOICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    setup, started = [], []
    monkeypatch.setattr(serve.subprocess, "run", lambda argv, check: setup.append(argv[2:]))
    monkeypatch.setattr(serve.os, "execvp", lambda file, argv: started.append(argv))
    serve.main()
    server, workers, threads = expected
    assert started == [SERVERS[server].command("0.0.0.0", 8000, workers, threads)]
    seed = ["seed_polls", "--questions", str(defaults.QUESTIONS), "--choices"]
    assert setup == [["migrate", "--noinput"], [*seed, str(defaults.CHOICES)]]


def test_native_and_analysis_name_the_same_files():
    from djbench.load import locust

    argv = locust._locust_argv("http://127.0.0.1:1", Path("/run"))
    assert argv[argv.index("--csv") + 1] == f"/run/{LOCUST_CSV_PREFIX}"
    assert argv[argv.index("--timeline") + 1] == f"/run/{TIMELINE}"
