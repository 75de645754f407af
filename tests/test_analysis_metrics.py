"""step_metrics and knee on the hand-written fixture runs; every expected number is worked out in
the comments from the fixture files themselves."""

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.report.checks import run_warnings
from djbench.analysis.runs.metrics import BASE_COLUMNS, knee, step_metrics, write_steps
from djbench.analysis.runs.run import load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
WSGI = RUNS / "wsgi_gunicorn"
ASGI = RUNS / "asgi_uvicorn"


@pytest.fixture(scope="module")
def wsgi():
    return step_metrics(WSGI).set_index("step")


@pytest.fixture(scope="module")
def asgi():
    return step_metrics(ASGI).set_index("step")


def test_columns_and_one_row_per_timeline_step(wsgi, asgi):
    # Causes seen anywhere in the run's log, sorted; resources only in the ASGI run.
    wsgi_extra = ["fail_connection", "fail_http_500", "fail_http_502", "fail_timeout"]
    assert list(wsgi.reset_index().columns) == BASE_COLUMNS + wsgi_extra
    asgi_extra = ["fail_connection", "cpu_locust_pct", "cpu_postgres_pct", "cpu_server_pct"]
    assert list(asgi.reset_index().columns) == BASE_COLUMNS + asgi_extra
    # WSGI planned 10, 20, 30 users but its timeline.csv stops after step 2.
    assert list(wsgi.index) == [1, 2]
    assert list(wsgi["users"]) == [10, 20]
    assert list(asgi.index) == [1, 2, 3]


def test_wsgi_step1_window_is_half_open_across_two_request_files(wsgi):
    s = wsgi.loc[1]
    # Window [1700000002.0, 1700000012.0): 11 rows of requests.csv + 9 of requests_2.csv.
    # Left out: 1700000001.5 and 1700000001.999 (warm-up, the latter rt 999) and the vote at
    # exactly 1700000012.0 (rt 5000); kept: the detail GET at exactly 1700000002.0 (rt 5).
    assert s["complete"] == 1
    assert s["window_s"] == 10.0
    assert s["requests"] == 20
    assert s["failures"] == 0
    assert s["failure_pct"] == 0.0
    assert s["rps"] == 2.0  # 20 / 10 s
    # Response times are 5, 10, ..., 100 ms. Nearest rank over n=20: p50 = 10th value = 50,
    # p95 = 19th = 95, p99 = ceil(19.8) = 20th = 100. Dropping the 5 ms request at the left edge
    # would give p50 = 55; taking the 999 ms one before it would give p99 = 999.
    assert (s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]) == (50, 95, 100, 100)
    # Vote POSTs at .4 (2.4), 4.2, 6.1, 8.3, 10.9: five, all 302.
    assert (s["vote_posts"], s["vote_posts_ok"]) == (5, 5)
    assert s["iterations_per_s"] == 0.5
    assert (s["fail_http_502"], s["fail_timeout"], s["fail_http_500"]) == (0, 0, 0)


def test_wsgi_step2_failures_by_cause_and_percentiles_include_failures(wsgi):
    s = wsgi.loc[2]
    # Window [1700000014.0, 1700000019.0), cut short: 5 s. 7 rows from requests.csv (14.0 ...
    # 18.7) + 5 from requests_2.csv (14.8 ... 17.5) = 12. Left out: the detail at 13.5 (ramp,
    # rt 4000) and the http_500 at exactly 19.0.
    assert s["complete"] == 0
    assert s["window_s"] == 5.0
    assert s["requests"] == 12
    # Two 502 vote POSTs and one client timeout.
    assert s["failures"] == 3
    assert s["failure_pct"] == 25.0
    assert (s["fail_http_502"], s["fail_timeout"]) == (2, 1)
    # http_500 and connection only happened outside every window: columns exist, counts are 0.
    assert (s["fail_http_500"], s["fail_connection"]) == (0, 0)
    assert s["rps"] == 2.4  # 12 / 5 s
    # Sorted: 5, 8, 20, 25, 30, 35, 45, 50, 55, 65, 70, 30000. p50 = 6th = 35 (the 5 and 8 ms
    # are the failed 502s: ok requests alone would give 45). p95 = ceil(11.4) = 12th = 30000.
    assert (s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]) == (35, 30000, 30000, 30000)
    # Vote POSTs at 14.3 (502), 15.6 (302), 16.9 (502), 18.6 (302).
    assert (s["vote_posts"], s["vote_posts_ok"]) == (4, 2)
    assert s["iterations_per_s"] == 0.8  # 4 / 5 s


def test_asgi_steps_nearest_rank_not_interpolated(asgi):
    s1, s2 = asgi.loc[1], asgi.loc[2]
    # Step 1, [102, 110): 8 requests, 7 9 12 15 18 25 30 40 ms. Nearest rank p50 = 4th = 15
    # (linear interpolation would say 16.5); p95 = ceil(7.6) = 8th = 40.
    assert (s1["requests"], s1["window_s"], s1["rps"]) == (8, 8.0, 1.0)
    assert (s1["p50_ms"], s1["p95_ms"], s1["p99_ms"], s1["max_ms"]) == (15, 40, 40, 40)
    assert (s1["vote_posts"], s1["iterations_per_s"]) == (2, 0.25)
    # Step 2, [112, 120): the 700 ms detail at exactly 110.0 belongs to no window.
    # 14 16 19 22 28 33 35 41 50 90 ms: p50 = 5th = 28 (interpolated: 30.5), p95 = 10th = 90.
    assert (s2["requests"], s2["rps"]) == (10, 1.25)
    assert (s2["p50_ms"], s2["p95_ms"], s2["p99_ms"], s2["max_ms"]) == (28, 90, 90, 90)
    assert (s2["vote_posts"], s2["vote_posts_ok"], s2["iterations_per_s"]) == (3, 3, 0.375)


def test_step_without_requests(asgi):
    s = asgi.loc[3]
    # Step 3's only requests fall in its warm-up (120.5, 121.9) or exactly at its end (130.0).
    assert s["requests"] == 0 and s["failures"] == 0
    assert math.isnan(s["failure_pct"])
    assert s["rps"] == 0.0 and s["iterations_per_s"] == 0.0
    assert all(math.isnan(s[c]) for c in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


def test_history_cross_check(wsgi, asgi):
    # WSGI step 1: Aggregated row at 1700000012 (22) minus the one at 1700000002 (2) = 20; the
    # GET detail rows (900, 950) are not the total. Using "<" instead of "<=" would give 21 - 1.
    assert (wsgi.loc[1, "history_requests"], wsgi.loc[1, "history_failures"]) == (20, 0)
    # Step 2: row 1700000019 (36, 3) minus row 1700000014 (24, 0).
    assert (wsgi.loc[2, "history_requests"], wsgi.loc[2, "history_failures"]) == (12, 3)
    # ASGI: 9 - 1 = 8; 23 - 11 = 12 (disagrees with the log's 10 on purpose); 25 - 25 = 0.
    assert list(asgi["history_requests"]) == [8, 12, 0]
    assert list(asgi["history_failures"]) == [0, 0, 0]


def test_no_history_gives_nan(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASGI, run)
    (run / "locust_stats_history.csv").unlink()
    steps = step_metrics(run)
    assert steps["history_requests"].isna().all() and steps["history_failures"].isna().all()


def test_cpu_means_over_the_window(asgi):
    # Step 1, [102, 110): server 50 and 70 -> 60 (the 500 at exactly 110.0 is out),
    # postgres 10 and 20 -> 15, locust 30. Step 2: server 150 and 250 -> 200 (several processes,
    # so above 100), postgres 40, locust 92 and 98 -> 95. Step 3: no postgres sample -> NaN.
    assert list(asgi["cpu_server_pct"]) == [60, 200, 10]
    assert list(asgi["cpu_locust_pct"]) == [30, 95, 5]
    assert asgi["cpu_postgres_pct"].iloc[:2].tolist() == [15, 40]
    assert math.isnan(asgi.loc[3, "cpu_postgres_pct"])


def test_write_steps_matches_step_metrics(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(WSGI, run)
    path = write_steps(run)
    assert path == run / "steps.csv"
    written = pd.read_csv(path)
    pd.testing.assert_frame_equal(written, step_metrics(run), check_dtype=False)
    assert [p.name for p in run.iterdir() if p.name.startswith(".steps")] == []


def test_bad_timeline_is_one_line_error(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(WSGI, run)
    (run / "timeline.csv").write_text("step,users,start\n1,10,5\n")
    with pytest.raises(AnalysisError, match=r"timeline.csv lacks column\(s\): measure_from, end"):
        step_metrics(run)
    (run / "timeline.csv").write_text("step,users,start,measure_from,end,complete\n1,ten,0,1,2,1\n")
    with pytest.raises(AnalysisError, match="column users has a non-numeric value 'ten'"):
        step_metrics(run)


def _steps(users, pcts, requests=None):
    requests = requests or [100] * len(users)
    return pd.DataFrame(
        {
            "step": range(1, len(users) + 1),
            "users": users,
            "requests": requests,
            "failure_pct": pcts,
        }
    )


def test_knee_thresholds():
    steps = _steps([100, 200, 300, 400], [0.0, 0.5, 3.0, 0.0])
    # 0 %: 200 users already has 0.5 % -> 100. 1 %: 300 has 3 % -> 200; the clean 400 after
    # a breach does not count.
    assert knee(steps, 0) == 100
    assert knee(steps, 1) == 200
    assert knee(steps, 5) == 400


def test_knee_none_when_first_step_breaches():
    assert knee(_steps([100, 200], [2.0, 0.0]), 1) is None
    assert knee(_steps([100, 200], [0.0, 0.0], requests=[0, 50]), 0) is None


def test_knee_follows_step_order_and_stops_at_empty_step(wsgi, asgi):
    shuffled = _steps([100, 200, 300], [0.0, 0.0, 9.0]).iloc[[2, 0, 1]]
    assert knee(shuffled, 0) == 200
    assert knee(wsgi.reset_index(), 0) == 10  # step 2 has 25 %
    assert knee(asgi.reset_index(), 0) == 20  # step 3 completed no request
    assert knee(asgi.reset_index(), 100) == 20


def test_failure_without_cause_is_unclassified(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASGI, run)
    with (run / "requests.csv").open("a") as f:
        f.write("1700000105.0,detail,GET,503,0,,4\n")
    s = step_metrics(run).set_index("step").loc[1]
    # Step 1 now has 9 requests, one failed: 100 / 9 %.
    assert (s["requests"], s["failures"], s["fail_unclassified"]) == (9, 1, 1)
    assert s["failure_pct"] == pytest.approx(100 / 9)


def test_run_with_no_step_yet(tmp_path):
    # Interrupted before the first step's window: the header of timeline.csv only, no log.
    (tmp_path / "timeline.csv").write_text("step,users,start,measure_from,end,complete\n")
    steps = step_metrics(tmp_path)
    assert steps.empty and list(steps.columns) == BASE_COLUMNS
    assert pd.read_csv(write_steps(tmp_path)).columns.tolist() == BASE_COLUMNS


def test_postgres_refusals_are_counted_per_window(tmp_path):
    """Windows of the ASGI fixture: [1700000102, 1700000110), [..112, ..120), [..122, ..130);
    1700000102 is 2023-11-14 22:15:02 UTC."""
    run = tmp_path / "run"
    shutil.copytree(RUNS / "asgi_uvicorn", run)
    (run / "logs").mkdir()
    refusal = "FATAL:  sorry, too many clients already"
    (run / "logs" / "postgres.log").write_text(
        f"2023-11-14 22:15:01.999 UTC [12] {refusal}\n"  # before step 1's window
        f"2023-11-14 22:15:02.000 UTC [12] {refusal}\n"  # step 1 (start is inclusive)
        f"2023-11-14 22:15:09.999 UTC [13] {refusal}\n"  # step 1
        f"2023-11-14 22:15:10.000 UTC [14] {refusal}\n"  # step 1's end is exclusive
        "2023-11-14 22:15:16.000 UTC [7] LOG:  checkpoint starting: time\n"
    )
    # compose mode keeps the db container's log, with docker's prefix
    (run / "logs" / "db.log").write_text(f"db-1  | 2023-11-14 22:15:15.500 UTC [7] {refusal}\n")
    steps = step_metrics(run)
    assert list(steps["pg_refused"]) == [2, 1, 0]
    warnings = run_warnings(load_run(run))
    assert any(w.startswith("PostgreSQL refused connections in the measured windows (2 at 10 "
                            "users, 1 at 20 users;") for w in warnings), warnings  # fmt: skip


def test_no_postgres_log_no_column():
    assert "pg_refused" not in step_metrics(RUNS / "asgi_uvicorn").columns


def test_offered_vs_started_iterations(wsgi, asgi):
    # WSGI meta.json: wait 19..21 s, mean 20. Step 1, [2, 12), 10 users: detail GETs at 2.0, 5.6,
    # 10.2 (requests.csv) and 3.7, 7.8 (requests_2.csv; 1.999 is out) = 5 started, 0.5/s.
    # Their iterations' response times (detail, vote, results; not index) add up to
    # 5+60+15+40+100+30+70+90+75 + 25+80+10+50+95+55 = 800 ms, 0.16 s per iteration, so an
    # instant generator offers 10 / (20 + 0.16) = 0.49603/s; started 0.5/s = 100.8 %.
    s = wsgi.loc[1]
    assert s["started_iter_s"] == 0.5
    assert s["offered_iter_s"] == pytest.approx(10 / 20.16)
    assert s["generator_pct"] == pytest.approx(100.8)
    # Step 2, [14, 19), 20 users: details at 14.0, 16.4 (timeout, 30000 ms), 18.1, 15.2 = 4;
    # times 20+5+30000+8+50+65+55 + 30+70+35 = 30338 ms -> 7.5845 s per iteration;
    # offered 20 / 27.5845 = 0.72505/s; started 4 / 5 s = 0.8/s.
    s = wsgi.loc[2]
    assert s["offered_iter_s"] == pytest.approx(20 / 27.5845)
    assert s["generator_pct"] == pytest.approx(100 * 0.8 / (20 / 27.5845))
    # ASGI: wait 38..40 s, mean 39. Step 1, [102, 110): details 102.5 and 105.5, times
    # 12+30+7+25+40+9 = 123 ms -> offered 10 / 39.0615, started 2 / 8 s: 97.65 %, not flagged
    # (by this; its Locust CPU is 30 %). Step 2, [112, 120): details 112.2, 114.0, 117.3, times
    # 14+35+22+41+90+16+19+50+33 = 320 ms -> offered 20 / 39.10667 = 0.51142/s, started 3 / 8 =
    # 0.375/s: 73.3 %, under 80 %, but the 8 s window is far from 5 iteration periods (39.1 s):
    # not judged. Step 3 has no request: nothing to compare.
    assert asgi.loc[1, "generator_pct"] == pytest.approx(100 * 0.25 * 39.0615 / 10)
    assert asgi.loc[2, "generator_pct"] == pytest.approx(100 * 0.375 * (39 + 0.32 / 3) / 20)
    assert asgi.loc[2, "iteration_period_s"] == pytest.approx(39 + 0.32 / 3)
    assert math.isnan(asgi.loc[3, "generator_pct"])
    # Step 2 is flagged by its Locust CPU (95 %) alone.
    assert list(asgi["generator_limited"]) == [0, 1, 0]


def test_started_below_offered_is_flagged_when_the_window_holds_five_periods(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASGI, run)
    meta = json.loads((run / "meta.json").read_text())
    meta["config"]["wait_s"] = [0.5, 2.0]  # mean 1.25 s
    (run / "meta.json").write_text(json.dumps(meta))
    steps = step_metrics(run).set_index("step")
    # Step 1: period 1.25 + 0.0615 = 1.3115 s, 5 periods = 6.56 s <= the 8 s window; offered
    # 10 / 1.3115 = 7.62/s, started 0.25/s: 3.3 %.
    assert steps.loc[1, "generator_pct"] == pytest.approx(100 * 0.25 * 1.3115 / 10)
    assert list(steps["generator_limited"]) == [1, 1, 0]
    warnings = run_warnings(load_run(run))
    assert (
        "step 1 (10 users): LOAD GENERATOR LIMITED: it started 0.2 iterations/s of the 7.6 its "
        "users offered (3 %); this step measured Locust as much as the server"
    ) in warnings


def test_loop_lag_per_window(wsgi, asgi):
    # loop-lag-fixture-1.csv: step 1 has samples 1..20 ms at 2.0, 2.5, ..., 11.5 (999 at 1.95 and
    # 13.9 are out): nearest-rank p95 of 20 = 19th = 19, under the 20 ms floor (its median
    # latency, 50 ms, puts 10 % at 5 ms). Step 2, [14, 19): eight 5s, 80, 200 (the 999 at 20.2
    # slept from 19.101, after the window): p95 = 10th of 10 = 200, over the floor and over 10 %
    # of its median latency
    # (12 requests: 5 8 20 25 30 35 45 50 55 65 70 30000 -> 6th = 35 ms).
    assert (wsgi.loc[1, "loop_lag_p95_ms"], wsgi.loc[1, "loop_lag_max_ms"]) == (19, 20)
    assert (wsgi.loc[2, "loop_lag_p95_ms"], wsgi.loc[2, "loop_lag_max_ms"]) == (200, 200)
    assert list(wsgi["generator_limited"]) == [0, 1]
    assert asgi["loop_lag_p95_ms"].isna().all()  # no loop-lag log


def test_a_loop_stalled_through_the_whole_window_is_flagged(tmp_path):
    """A generator starved for all of step 2 measures nothing and wakes up only after it: the
    stall's sample is stamped after the window, yet it is the window's."""
    run = tmp_path / "run"
    shutil.copytree(WSGI, run)
    for name in ("requests.csv", "requests_2.csv"):  # nothing completed in step 2 [14, 19)
        lines = (run / name).read_text().splitlines()
        kept = [lines[0]] + [row for row in lines[1:] if float(row.split(",")[0]) < 1700000014]
        (run / name).write_text("\n".join(kept) + "\n")
    lag = (WSGI / "loop-lag-fixture-1.csv").read_text().splitlines()
    # Step 1's samples, then one wake-up at 21.0 after a 7.9 s stall: it slept from
    # 21.0 - 7.9 - 0.1 = 13.0, before step 2's window ended at 19.
    lag = [lag[0]] + [row for row in lag[1:] if float(row.split(",")[0]) < 1700000012]
    (run / "loop-lag-fixture-1.csv").write_text("\n".join([*lag, "1700000021.0,7900.0"]) + "\n")
    steps = step_metrics(run).set_index("step")
    assert steps.loc[2, "requests"] == 0
    assert (steps.loc[2, "loop_lag_p95_ms"], steps.loc[2, "loop_lag_max_ms"]) == (7900, 7900)
    assert list(steps["generator_limited"]) == [0, 1]
    limited = [w for w in run_warnings(load_run(run)) if "LOAD GENERATOR LIMITED" in w]
    assert limited == [
        "step 2 (20 users): LOAD GENERATOR LIMITED: its event loop woke up 7900 ms late (p95; "
        "max 7900 ms): it measured no request; this step measured Locust as much as the server"
    ]


def test_generator_warnings_say_why(wsgi):
    warnings = run_warnings(load_run(WSGI))
    limited = [w for w in warnings if "LOAD GENERATOR LIMITED" in w]
    assert limited == [
        "step 2 (20 users): LOAD GENERATOR LIMITED: its event loop woke up 200 ms late (p95; "
        "max 200 ms) against a median latency of 35 ms: its own delay is in its latencies; this "
        "step measured Locust as much as the server"
    ]
    asgi = [w for w in run_warnings(load_run(ASGI)) if "LOAD GENERATOR LIMITED" in w]
    assert asgi == [
        "step 2 (20 users): LOAD GENERATOR LIMITED: a Locust process averaged 95 % CPU, near one "
        "core; this step measured Locust as much as the server"
    ]


def test_runs_without_recorded_wait_use_the_articles(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(WSGI, run)
    meta = json.loads((run / "meta.json").read_text())
    del meta["config"]
    (run / "meta.json").write_text(json.dumps(meta))
    # Step 1 as above with the article's mean wait of 1.5 s: 10 / 1.66 offered, 0.5 started;
    # the 10 s window holds 5 periods of 1.66 s, so the 8 % is judged.
    s = step_metrics(run).set_index("step").loc[1]
    assert s["generator_pct"] == pytest.approx(100 * 0.5 * 1.66 / 10)
    assert s["generator_limited"] == 1


def test_every_generator_process_is_judged_on_its_own(tmp_path):
    """Several Locust processes: one starved worker must not be diluted by a healthy one."""
    run = tmp_path / "run"
    shutil.copytree(WSGI, run)
    # Step 1's window is [1700000002, 1700000012). The starved process: nineteen samples of
    # 300 ms and one of 500, p95 (nearest rank, 19th of 20) 300 ms. Ten healthy processes with
    # the fixture's samples (p95 19 ms, max 20). Pooled, the 220 samples' p95 (209th) would be
    # a healthy 19 ms.
    lag = ["ts,lag_ms"] + [f"{1700000002.25 + i * 0.5:.2f},300.0" for i in range(19)]
    lag.append("1700000011.90,500.0")
    (run / "loop-lag-worker-2.csv").write_text("\n".join(lag) + "\n")
    healthy = (WSGI / "loop-lag-fixture-1.csv").read_text().splitlines()
    for n in range(3, 12):
        (run / f"loop-lag-worker-{n}.csv").write_text("\n".join(healthy) + "\n")
    # A worker's own CPU report, as the master writes it (resources-<process>.csv).
    rows = ["ts,component,cpu_pct,rss_mb"]
    rows += [f"{1700000003 + i},locust@worker-2,96.0,80.0" for i in range(5)]
    (run / "resources-worker-2.csv").write_text("\n".join(rows) + "\n")
    step = step_metrics(run).iloc[0]
    assert (step["loop_lag_p95_ms"], step["loop_lag_max_ms"]) == (300.0, 500.0)
    assert step["cpu_locust_worker_2_pct"] == 96.0
    assert step["generator_limited"] == 1
    (warning,) = [w for w in run_warnings(load_run(run)) if w.startswith("step 1 ")]
    assert "a Locust process averaged 96 % CPU" in warning and "300 ms late" in warning


def test_a_pages_scenario_counts_its_iterations_by_their_ids(tmp_path):
    # A project's pages (locustfiles/pages.py): one GET an iteration, named by its path, each
    # with its own iteration id; the start-up page outside any (id 0). ASGI's timeline and wait
    # (38..40 s, mean 39). Step 1, [102, 110): iterations 1, 2, 3 end at 102.5, 105.5, 109.0
    # (12 + 25 + 63 = 100 ms); 104.0 is id 0; 110.0 is out. Started 3 / 8 s = 0.375/s; period
    # 39 + 0.1 / 3 s; offered 10 / period. Step 2, [112, 120): ids 5 and 6, 2 / 8 = 0.25/s;
    # step 3 has no request. (Before, only polls' "detail" started an iteration: 0 for all.)
    run = tmp_path / "run"
    shutil.copytree(ASGI, run)
    rows = [
        (101.0, "/", 0, 9), (102.5, "/", 1, 12), (104.0, "/", 0, 18), (105.5, "/a/", 2, 25),
        (109.0, "/b/", 3, 63), (110.0, "/", 4, 700), (113.0, "/a/", 5, 20), (118.0, "/", 6, 30),
    ]  # fmt: skip
    lines = ["ts,name,method,status,ok,cause,response_time_ms,iteration"]
    lines += [f"{1700000000 + t},{name},GET,200,1,,{ms},{i}" for t, name, i, ms in rows]
    (run / "requests.csv").write_text("\n".join(lines) + "\n")
    steps = step_metrics(run).set_index("step")
    assert steps.loc[1, "started_iter_s"] == 3 / 8
    assert steps.loc[1, "iteration_period_s"] == pytest.approx(39 + 0.1 / 3)
    assert steps.loc[1, "offered_iter_s"] == pytest.approx(10 / (39 + 0.1 / 3))
    assert steps.loc[2, "started_iter_s"] == 2 / 8
    assert steps.loc[3, "started_iter_s"] == 0
