"""The open model's settings and its generator check, on hand-made inputs."""

import json

import pytest

from djbench import config
from djbench.analysis.runs.metrics import generator_reasons, step_metrics
from djbench.cli import main
from djbench.errors import UserError
from djbench.load.recording import locust_options


def test_rates_become_users_one_iteration_per_pacing_period():
    cfg = config.build("gunicorn", "quick", load_model="open", rates="5,10,20", pacing_s=5)
    assert cfg.users == (25, 50, 100) and cfg.rates == (5.0, 10.0, 20.0)
    assert locust_options(cfg)["PACING"] == "5"
    assert cfg.as_dict()["rates"] == [5.0, 10.0, 20.0]
    closed = config.build("gunicorn")
    assert closed.rates == () and locust_options(closed)["PACING"] == "0"


def test_default_rates_are_what_the_profiles_users_offer_answered_instantly():
    # quick: 25..300 users waiting 1.5 s on average -> 16.67..200/s, whole users per 5 s period
    cfg = config.build("gunicorn", profile="quick", load_model="open")
    assert cfg.rates == (16.6, 33.4, 66.6, 100.0, 133.4, 166.6, 200.0)
    assert cfg.users == (83, 167, 333, 500, 667, 833, 1000)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rates": "2.5", "pacing_s": 5}, "needs 12.5 users; choose rates in steps of 0.2/s"),
        ({"rates": "5,4"}, "rates must increase"),
        ({"rates": "0,4"}, "rates must be positive"),
        ({"rates": "nan"}, "rates must be positive"),
        ({"rates": "x"}, "expected comma-separated numbers"),
        ({"rates": "5", "pacing_s": 0}, "pacing must be positive"),
        ({"rates": "5", "users": "10"}, "takes --rates"),
        ({"rates": "1", "pacing_s": 5}, "hold 6 s leaves less than one pacing period"),
    ],
)
def test_bad_open_model_settings(kwargs, message):
    with pytest.raises(UserError, match=message):
        config.build("gunicorn", profile="smoke", load_model="open", **kwargs)


def test_rates_need_the_open_model(capsys):
    assert (
        main(["run", "--server", "gunicorn", "--rates", "5", "--results-dir", "/nonexistent"]) == 2
    )
    assert "djbench: error: --rates needs --load-model open" in capsys.readouterr().err


def test_pacing_needs_the_open_model(capsys):
    # It used to be ignored: a closed-loop run went ahead as if --pacing were not there.
    argv = ["run", "--server", "gunicorn", "--pacing", "2", "--results-dir", "/nonexistent"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "djbench: error: --pacing needs --load-model open\n"


def _run_dir(tmp_path, detail_times):
    """One open-model step, 4 iterations/s for 10 s, with detail GETs at the given times."""
    (tmp_path / "meta.json").write_text(
        json.dumps({"config": {"load_model": "open", "pacing_s": 5.0, "wait_s": [1, 2]}})
    )
    (tmp_path / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete,target_iter_s\n1,20,90,100,110,1,4\n"
    )
    lines = ["ts,name,method,status,ok,cause,response_time_ms"]
    lines += [f"{100 + t:.3f},detail,GET,200,1,,10.0" for t in detail_times]
    (tmp_path / "requests-h-1.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_open_model_generator_check_against_the_target(tmp_path):
    # 40 iterations started in 10 s: 4/s of a 4/s target; the window spans two pacing periods
    step = step_metrics(_run_dir(tmp_path, [i * 0.25 for i in range(40)])).iloc[0]
    assert step["target_iter_s"] == 4.0 and step["offered_iter_s"] == 4.0
    assert step["started_iter_s"] == 4.0 and step["generator_pct"] == 100.0
    assert step["iteration_period_s"] == 5.0 and step["generator_limited"] == 0


def test_open_model_flags_a_rate_that_did_not_start(tmp_path):
    # 30 of 40: 3/s of 4/s = 75 %, under 80 %, judged after one pacing period (not five)
    step = step_metrics(_run_dir(tmp_path, [i / 3 for i in range(30)])).iloc[0]
    assert step["generator_pct"] == 75.0 and step["generator_limited"] == 1
    assert generator_reasons(step) == [
        "it started 3.0 iterations/s of the 4.0 target rate (open model) (75 %)"
    ]


def test_a_closed_loop_timeline_without_a_target_column_still_reads(tmp_path):
    run_dir = _run_dir(tmp_path, [i * 0.25 for i in range(40)])
    (run_dir / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete\n1,20,90,100,110,1\n"
    )
    (run_dir / "meta.json").write_text(json.dumps({"config": {"wait_s": [1, 2]}}))
    step = step_metrics(run_dir).iloc[0]
    assert step["target_iter_s"] != step["target_iter_s"]  # NaN: no target
    assert step["offered_iter_s"] == pytest.approx(20 / (1.5 + 0.01))


def test_scale_auto_needs_the_closed_model(capsys):
    argv = ["bench", "--servers", "gunicorn", "--scale", "auto", "--load-model", "open",
            "--profile", "quick", "--mode", "native", "--results-dir", "/nonexistent"]  # fmt: skip
    assert main(argv) == 2
    assert "--scale auto scales user steps: it needs the closed load model" in (
        capsys.readouterr().err
    )
