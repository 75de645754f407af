"""A knee probe's ramp-up: users admitted at the pace the saturated stack completes iterations,
within RAMP_S."""

from djbench import config
from djbench.search import probes


def _cfg(**kwargs):
    return config.build("gunicorn", profile="knee", **kwargs)


def test_users_are_admitted_at_the_saturated_pace_within_the_longest_ramp():
    cfg = _cfg()
    # 34.2 iterations/s at saturation: 126 users in 126 / 34.2 = 3.7 s, not 2.5 s at 50/s.
    probe = probes._probe_cfg(cfg, 126, 20.0, pace=34.2)
    assert probe.users == (126,) and probe.spawn_rate == 34.2
    assert probe.hold_s == 126 / 34.2 + 20.0
    # 640 users at that pace would take 18.7 s: the ramp is held to 8 s (80 users/s).
    assert probes._probe_cfg(cfg, 640, 20.0, pace=34.2).spawn_rate == 640 / probes.RAMP_S
    # Without a saturation probe: the configured rate (the knee profile's 50/s).
    assert probes._probe_cfg(cfg, 126, 20.0).spawn_rate == cfg.spawn_rate == 50


def test_the_pace_is_the_saturation_probes_rate_in_the_closed_model_only():
    saturation = {"iterations_per_s": 23.456}
    assert probes._pace(_cfg(), saturation) == 23.46
    assert probes._pace(_cfg(), None) is None
    assert probes._pace(_cfg(), {"iterations_per_s": 0.0}) is None
    assert probes._pace(_cfg(load_model="open", pacing_s=4.0), saturation) is None
