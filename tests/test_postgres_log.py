"""PostgreSQL's refusals read from its log: time stamps in any zone the log states, and each refusal
counted in the step of the failed request it caused. Every epoch is worked out in the comments."""

import json

import pytest

from djbench.analysis.report.checks import run_warnings
from djbench.analysis.runs.metrics import step_metrics
from djbench.analysis.runs.postgres_log import read_refusals, refusal_times
from djbench.analysis.runs.run import load_run

REFUSAL = "FATAL:  sorry, too many clients already"


def write_log(run, lines, name="postgres.log"):
    (run / "logs").mkdir(exist_ok=True)
    (run / "logs" / name).write_text("".join(f"{line}\n" for line in lines))


@pytest.mark.parametrize(
    ("stamp", "zones", "epoch"),
    [
        # 2023-11-14 22:15:02 UTC is 1700000102
        ("2023-11-14 22:15:02.000 UTC", (), 1700000102.0),
        ("2023-11-14 22:15:02.000 GMT", (), 1700000102.0),
        # numeric zones, as PostgreSQL prints a zone without an abbreviation
        ("2023-11-15 03:45:04.000 +0530", (), 1700000104.0),  # 22:15:04 UTC
        ("2023-11-15 03:45:04.000 +05:30", (), 1700000104.0),
        ("2023-11-14 19:15:05.250 -03", (), 1700000105.25),  # 22:15:05.25 UTC
        # named zones, resolved in the zone PostgreSQL logged in: EST is UTC-5 in November
        ("2023-11-14 17:15:03.500 EST", ("America/New_York",), 1700000103.5),
        ("2023-11-14 23:15:06.000 CET", ("Europe/Berlin",), 1700000106.0),
        # the hour that happens twice when New York leaves summer time: 01:30 EDT is 05:30 UTC
        # (1699162200), 01:30 EST an hour later (1699165800)
        ("2023-11-05 01:30:00.000 EDT", ("America/New_York",), 1699162200.0),
        ("2023-11-05 01:30:00.000 EST", ("America/New_York",), 1699165800.0),
        # the first zone whose abbreviation matches wins
        ("2023-11-14 17:15:03.500 EST", ("Europe/Berlin", "America/New_York"), 1700000103.5),
        # no seconds fraction (log_line_prefix %t)
        ("2023-11-14 22:15:02 UTC", (), 1700000102.0),
    ],
)
def test_time_stamps_in_any_zone(tmp_path, stamp, zones, epoch):
    write_log(tmp_path, [f"{stamp} [12] {REFUSAL}"])
    assert list(refusal_times(tmp_path, zones=zones)) == [pytest.approx(epoch, abs=1e-6)]


def test_compose_prefix_and_unknown_zone(tmp_path):
    write_log(tmp_path, [f"db-1  | 2023-11-14 17:15:03.500 EST [7] {REFUSAL}"], "db.log")
    write_log(tmp_path, [
        f"2023-11-14 22:15:03.500 XYZT [9] {REFUSAL}",  # in no zone given
        f"[9] {REFUSAL}",  # no stamp at all
        "2023-11-14 22:15:04.000 UTC [9] LOG:  checkpoint starting: time",
    ])  # fmt: skip
    found = read_refusals(tmp_path, zones=("America/New_York",))
    assert sorted(found.times[~found.unreadable]) == [1700000103.5]
    assert found.unreadable.sum() == 2
    assert found.unreadable_example == "XYZT"


def test_host_zone_is_a_candidate(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    write_log(tmp_path, [f"2023-11-14 17:15:03.500 EST [12] {REFUSAL}"])
    assert list(refusal_times(tmp_path)) == [1700000103.5]


def run_with_refusals(tmp_path):
    """Two steps measured over [1700000100, 1700000110) and [1700000112, 1700000120); requests
    are stamped when their answer arrived (ts), response_time_ms after they were sent."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete\n"
        "1,10,1700000098.0,1700000100.0,1700000110.0,1\n"
        "2,20,1700000110.0,1700000112.0,1700000120.0,1\n"
    )
    (run / "requests.csv").write_text(
        "ts,name,method,status,ok,cause,response_time_ms\n"
        "1700000101.000,detail,GET,200,1,,10.0\n"
        # A: sent 104.980, refused 104.990, answered 105.000: step 1 for both
        "1700000105.000,vote,POST,500,0,http_500,20.0\n"
        # C: sent 109.980, refused 109.995 (step 1's window), answered 110.010 (after it):
        # counted in no step, as its failure is
        "1700000110.010,vote,POST,500,0,http_500,30.0\n"
        # B: sent 111.980, refused 111.990 (before step 2's window), answered 112.040 (in it):
        # step 2 for both
        "1700000112.040,vote,POST,500,0,http_500,60.0\n"
        # a 500 of the app's own, with no refusal
        "1700000113.000,vote,POST,500,0,http_500,5.0\n"
        # a successful request around a refusal does not take it
        "1700000116.100,detail,GET,200,1,,200.0\n"
        # D: sent 119.995, answered 119.999; its refusal is stamped 120.000, after the answer
        # and after step 2's window, as both stamps are cut to the millisecond: within the
        # slack, so step 2 for both
        "1700000119.999,detail,GET,500,0,http_500,4.0\n"
    )
    write_log(run, [
        # 1700000104.990 is 2023-11-14 22:15:04.990 UTC
        f"2023-11-14 22:15:04.990 UTC [20] {REFUSAL}",  # A
        f"2023-11-14 17:15:09.995 EST [21] {REFUSAL}",  # C, in New York time
        f"2023-11-14 22:15:11.990 UTC [22] {REFUSAL}",  # B
        f"2023-11-14 22:15:16.000 UTC [23] {REFUSAL}",  # no failed request around it: as is
        f"2023-11-14 22:15:20.000 UTC [24] {REFUSAL}",  # D
    ])  # fmt: skip
    return run


def test_refusals_are_counted_in_the_step_of_the_request_they_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    steps = step_metrics(run_with_refusals(tmp_path)).set_index("step")
    # step 1: A only (C's answer came after the window); step 2: B, D and the lone one at 116
    assert list(steps["pg_refused"]) == [1, 3]
    # the HTTP 500s in the same windows: A; B, the app's own at 113 and D
    assert list(steps["fail_http_500"]) == [1, 3]


def test_refusals_without_a_readable_time_are_reported(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({
        "run_id": "r", "server": "gunicorn", "interface": "wsgi", "users": [10],
        "postgres": {"max_connections": 20},
    }))  # fmt: skip
    (run / "timeline.csv").write_text(
        "step,users,start,measure_from,end,complete\n1,10,1700000100.0,1700000100.0,1700000110.0,1\n"
    )
    (run / "requests.csv").write_text(
        "ts,name,method,status,ok,cause,response_time_ms\n1700000101.000,detail,GET,200,1,,10.0\n"
    )
    write_log(run, [f"2023-11-14 22:15:03.500 XYZT [9] {REFUSAL}"] * 2)
    warnings = run_warnings(load_run(run))
    assert any(
        w.startswith("2 PostgreSQL refusals in the log carry a time stamp in a zone that could "
                     "not be resolved (XYZT)")
        for w in warnings
    ), warnings  # fmt: skip


def test_a_database_on_another_host_is_moved_onto_the_controllers_clock(tmp_path):
    # The database host's clock runs 2.5 s ahead of the controller's (distributed mode records
    # the measured offset, their clock minus ours): its 22:15:02 UTC is our 22:14:59.5.
    write_log(tmp_path, [f"2023-11-14 22:15:02.000 UTC [12] {REFUSAL}"])
    (tmp_path / "meta.json").write_text(json.dumps({"postgres": {"clock_offset_s": 2.5}}))
    assert list(refusal_times(tmp_path)) == [pytest.approx(1700000099.5, abs=1e-6)]
