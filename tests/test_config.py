import os

import pytest

from djbench import config
from djbench.errors import UserError
from djbench.stack.servers import SERVERS


def test_parse_users():
    assert config.parse_users("100,200,300") == (100, 200, 300)
    assert config.parse_users("7") == (7,)
    for bad in ("", "1,,2", "3,2", "1,1", "-1,2", "1.5"):
        with pytest.raises(UserError):
            config.parse_users(bad)


def test_profile_defaults_and_overrides():
    cfg = config.build("gunicorn", profile="article", workers=3)
    assert cfg.users == (100, 200, 300, 400, 500, 600, 700)
    assert (cfg.hold_s, cfg.warmup_s, cfg.spawn_rate, cfg.workers) == (60, 10, 50, 3)
    assert cfg.interface == "wsgi" and cfg.planned_s == 420
    cfg = config.build("uvicorn", profile="smoke", users="3,6", hold_s=8)
    assert cfg.users == (3, 6) and cfg.hold_s == 8 and cfg.interface == "asgi"


def test_every_profile_leaves_measured_time_in_every_step():
    for name in config.PROFILES:
        config.build("gunicorn", profile=name)  # raises if ramp-up + warm-up >= hold


def test_ramp_up_and_warm_up_must_fit_in_hold():
    # 0 -> 100 users at 50/s is a 2 s ramp; with 10 s warm-up a 12 s hold measures nothing.
    with pytest.raises(UserError, match="no measured time at 100 users"):
        config.build("gunicorn", profile="article", hold_s=12)
    config.build("gunicorn", profile="article", hold_s=12.5)


def test_failure_definition_lets_the_client_time_out_first():
    d = config.build("gunicorn", client_timeout_s=20).failure_definition()
    assert d["client_timeout_s"] == 20 and d["nginx_proxy_read_timeout_s"] == 40


def test_registry_argv():
    assert SERVERS["gunicorn"].command("127.0.0.1", 8000, 3) == [
        "gunicorn", "mysite.wsgi:application", "--bind", "127.0.0.1:8000",
        "--workers", "3", "--worker-class", "sync",
    ]  # fmt: skip
    assert SERVERS["uvicorn"].command("0.0.0.0", 9000, 5) == [
        "uvicorn", "mysite.asgi:application", "--host", "0.0.0.0", "--port", "9000",
        "--workers", "5", "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip
    assert {s.interface for s in SERVERS.values()} == {"wsgi", "asgi"}


def test_parse_cpus():
    assert config.parse_cpus("") is None
    assert config.parse_cpus("0") == {0}
    if len(os.sched_getaffinity(0)) >= 2:
        assert config.parse_cpus("0-1") == config.parse_cpus("0,1") == {0, 1}
    for bad in ("x", "1-", "0,,1", "4096"):
        with pytest.raises(UserError):
            config.parse_cpus(bad)


def test_repeat_interleaves_configurations():
    from djbench.commands.benchmark import repeated as _repeated

    a, b = (config.build(s, profile="smoke") for s in ("gunicorn", "uvicorn"))
    order = [(c.server, c.repetition) for c in _repeated([a, b], 3)]
    assert order == [("gunicorn", 1), ("uvicorn", 1), ("gunicorn", 2), ("uvicorn", 2),
                     ("gunicorn", 3), ("uvicorn", 3)]  # fmt: skip
    assert _repeated([a, b], 1) == [a, b]
    with pytest.raises(UserError, match="repeat must be positive"):
        _repeated([a], 0)
