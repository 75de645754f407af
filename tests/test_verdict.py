"""The verdict: capacities from knee searches or steps, their ratio, the leader, the caveats,
the machine and topology lines, and which knee searches belong to which run."""

import json
import shutil
from pathlib import Path

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.report.verdict import (
    Capacity,
    leader,
    machine_line,
    ratio,
    topology_lines,
    verdict,
)
from djbench.analysis.runs.run import load_run
from djbench.analysis.runs.searches import searches_for
from tests.helpers import make_search

RUNS = Path(__file__).parent / "fixtures" / "runs"


@pytest.fixture
def results(tmp_path):
    """Both fixture runs in one results directory, as `djbench bench` leaves them."""
    for name in ("wsgi_gunicorn", "asgi_uvicorn"):
        shutil.copytree(RUNS / name, tmp_path / name)
    return tmp_path


def _runs(results):
    return [load_run(results / "wsgi_gunicorn"), load_run(results / "asgi_uvicorn")]


def test_verdict_from_steps(results):
    runs = _runs(results)
    v = verdict(runs, {run.run_id: [] for run in runs})
    assert v.slo_ms == 1000
    assert v.header == [
        "Configuration",
        "Users within p95 ≤ 1000 ms",
        "Users with no failures",
        "Users with ≤ 1 % failures",
    ]
    # gunicorn: p95 95 ms at 10 users, 30000 ms at 20; failures 0 % then 25 %.
    # uvicorn: p95 40 and 90 ms, failures 0 and 0, then 30 users with no request: that ends it.
    assert [[c["value"] for c in row["cells"]] for row in v.rows] == [
        ["10", "10", "10"],
        ["20", "20", "20"],
    ]
    assert {c["source"] for row in v.rows for c in row["cells"]} == {"steps"}
    assert [c["ratio"] for c in v.rows[1]["cells"]] == ["2.00 × gunicorn (WSGI)"] * 3
    assert v.leaders == [
        "Most users within p95 ≤ 1000 ms: uvicorn (ASGI), 20.",
        "Most users with no failures: uvicorn (ASGI), 20.",
        "Most users with ≤ 1 % failures: uvicorn (ASGI), 20.",
    ]
    # Offered with an instant server: 20 users / 20 s mean wait = 1.0; 30 / 39 = 0.8.
    assert v.caveats == (
        "Caveats: the load generator limited the load (see the warnings): gunicorn (WSGI) in 1 "
        "step(s), uvicorn (ASGI) in 1 step(s); the load is closed-loop (each user waits for its "
        "answer), so overload shows as latency more than as failures (coordinated omission): "
        "gunicorn (WSGI) 0.8 vote iterations/s at 20 users, where an instant server would see "
        "1.0, uvicorn (ASGI) 0.0 vote iterations/s at 30 users, where an instant server would "
        "see 0.8; incomplete run(s): gunicorn (WSGI)."
    )
    assert v.machines == ["Fixture CPU 3000, 4 cores, virtualisation not recorded"]
    assert v.topology == [
        "native mode, one host: PostgreSQL, nginx, the app server and Locust share its cores"
    ]


def test_an_open_model_run_is_not_called_closed_loop(results):
    meta_path = results / "asgi_uvicorn" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["config"] = {**meta.get("config", {}), "load_model": "open", "pacing_s": 5.0}
    meta_path.write_text(json.dumps(meta))
    runs = _runs(results)
    caveats = verdict(runs, {run.run_id: [] for run in runs}).caveats
    assert "gunicorn (WSGI) 0.8 vote iterations/s at 20 users" in caveats
    assert "uvicorn (ASGI)" not in caveats.split("coordinated omission")[1]


def test_verdict_takes_a_knee_search_beside_the_runs(results):
    make_search(results / "20240101-knee-uvicorn-sync")
    make_search(results / "other-workers", workers=3)  # not this configuration: skipped
    make_search(results / "other-machine", machine={"cpu_model": "Other", "cpu_count": 4})
    (results / "broken").mkdir()
    (results / "broken" / "knee.json").write_text("{")  # unreadable beside the runs: skipped
    runs = _runs(results)
    found = searches_for(runs, [])
    assert [s.path.name for s in found["20240101T010000-uvicorn"]] == ["20240101-knee-uvicorn-sync"]
    assert found["20240101T000000-gunicorn"] == []
    v = verdict(runs, found)
    gunicorn, uvicorn = v.rows
    assert [c["value"] for c in gunicorn["cells"]] == ["10", "10", "10"]
    # p95 25 (bounded); no failures broken at the first probe, 10 users; 1 % never broken up
    # to 40, and the steps (20) went no higher.
    assert [c["value"] for c in uvicorn["cells"]] == ["25", "< 10", "≥ 40"]
    assert [c["source"] for c in uvicorn["cells"]] == ["knee search"] * 3
    assert [c["ratio"] for c in uvicorn["cells"]] == [
        "2.50 × gunicorn (WSGI)",
        "n/a gunicorn (WSGI)",
        "≥ 4.00 × gunicorn (WSGI)",
    ]
    assert v.leaders == [
        "Most users within p95 ≤ 1000 ms: uvicorn (ASGI), 25.",
        "Most users with no failures: gunicorn (WSGI), 10.",
        "Most users with ≤ 1 % failures: uvicorn (ASGI), ≥ 40.",
    ]
    assert v.caveats.endswith(
        "a knee search measures each load on a fresh stack (20 s), while steps follow each "
        "other on one stack and inherit the previous step's backlog; incomplete run(s): "
        "gunicorn (WSGI)."
    )
    assert v.sources == [str(results / "20240101-knee-uvicorn-sync")]


def test_steps_say_more_than_a_search_that_never_broke(results):
    knees = {name: {"users": 15, "bad_users": None, "resolution": 0}
             for name in ("p95", "failures_0", "failures_1")}  # fmt: skip
    make_search(results / "k", knees=knees)
    runs = _runs(results)
    uvicorn = verdict(runs, searches_for(runs, [])).rows[1]["cells"]
    # Never broken up to 15 in the search; the steps reached 20 (bounded: 30 had no request).
    assert uvicorn[0]["value"] == "20"
    assert uvicorn[0]["source"] == "steps; the knee search never broke it up to 15"


def test_a_given_search_must_match_a_run(results, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("knees")
    runs = _runs(results)
    given = make_search(elsewhere / "k1")
    assert [s.path for s in searches_for(runs, [given])["20240101T010000-uvicorn"]] == [given]
    other = make_search(elsewhere / "k2", mode="compose")
    with pytest.raises(AnalysisError, match="k2: this knee search matches none of the runs"):
        searches_for(runs, [other])
    with pytest.raises(AnalysisError, match="is not a knee search"):
        searches_for(runs, [elsewhere])


def test_ratio():
    def c(low, high, open_ended=False):
        return Capacity(low, high, open_ended, None, "")

    assert ratio(c(70, 75), c(110, 120)) == "0.58-0.68 ×"  # 70/120 .. 75/110
    assert ratio(c(30, 30), c(10, 10)) == "3.00 ×"
    assert ratio(c(260, 280), c(700, 700, True)) == "≤ 0.40 ×"  # 280 / 700
    assert ratio(c(700, 700, True), c(200, 200)) == "≥ 3.50 ×"
    assert ratio(c(700, 700, True), c(640, 640, True)) == "n/a (neither broke)"
    assert ratio(Capacity(None, None, False, 100, ""), c(10, 10)) == "n/a"


def test_leader_needs_a_clear_margin():
    def c(low, high, open_ended=False):
        return Capacity(low, high, open_ended, None, "")

    assert leader(["a", "b"], [c(110, 120), c(70, 75)]) == "a"
    assert leader(["a", "b"], [c(110, 120), c(115, 130)]) is None  # ranges overlap
    assert leader(["a", "b"], [c(640, 640, True), c(700, 700, True)]) is None
    assert leader(["a", "b"], [Capacity(None, None, False, 10, ""), c(5, 5)]) == "b"


def test_machine_and_topology_lines():
    meta = {
        "mode": "native",
        "machine": {
            "cpu_model": "AMD EPYC",
            "cpu_count": 2,
            "cpus_usable": 1,
            "memory_gb": 23.5,
            "kernel": "6.1.0",
            "virtualization": {"vm": "kvm", "container": "docker"},
        },
    }
    assert machine_line(meta) == (
        "AMD EPYC, 2 cores (1 usable), 23.5 GB memory, virtual machine (kvm), in a container "
        "(docker), Linux 6.1.0"
    )
    bare = {"machine": {"cpu_model": "X", "cpu_count": 8, "virtualization": {"vm": "none"}}}
    assert machine_line(bare) == "X, 8 cores, not virtualised"
    hosts = [
        {"name": "db", "roles": ["postgres"], "address": "10.0.0.2", "cpu_model": "X",
         "cpu_count": 4},
        {"name": "load", "roles": ["locust"]},
        {"address": "10.0.0.3", "roles": ["web"], "cpu_count": 2},  # as distributed.py writes
    ]  # fmt: skip
    assert topology_lines({"mode": "distributed", "topology": {"hosts": hosts}}) == [
        "distributed mode, 3 hosts",
        "db: postgres (10.0.0.2, X, 4 cores)",
        "load: locust",
        "10.0.0.3: web (2 cores)",
    ]


def test_report_command_refuses_a_search_of_another_configuration(results, tmp_path, capsys):
    from djbench.cli import main

    other = make_search(results / "k", server="daphne")
    out = tmp_path / "reports"
    code = main(["report", str(results / "wsgi_gunicorn"), str(results / "asgi_uvicorn"),
                 "--knee", str(other), "--results-dir", str(out)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this knee search matches none of the runs (server daphne" in err[0]
    assert not out.exists() or not any(out.iterdir())
