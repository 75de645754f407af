"""The Locust side's logs read by the analysis: real Locust, with the harness's own command line
and environment, against a small stand-in for the polls app that counts what it answered.

The stand-in answers like the app (index links, a form with a CSRF token and choices, a 302 from
the vote, the results page) and fails on purpose: every 5th poll form and every 3rd results page
is a 500. What it counted must be what the analysis reads from the logs.
"""

import os
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from djbench import config
from djbench.analysis.runs.accounting import Accounting
from djbench.analysis.runs.metrics import read_requests, step_metrics
from djbench.contracts.files import (
    LAG_COLUMNS,
    LAG_LOG_PREFIX,
    LOCUST_HISTORY,
    REQUEST_COLUMNS,
    REQUEST_LOG_PREFIX,
    TIMELINE,
)
from djbench.load import locust
from djbench.load.recording import locust_options
from tests.helpers import ROOT, rows

pytestmark = pytest.mark.integration

INDEX = '<a href="/polls/1/">One</a> <a href="/polls/2/">Two</a>'
FORM = (
    '<form><input type="hidden" name="csrfmiddlewaretoken" value="token">'
    '<input type="radio" name="choice" id="c1" value="1">'
    '<input type="radio" name="choice" id="c2" value="2"></form>'
)


class Polls(BaseHTTPRequestHandler):
    seen = Counter()  # route -> requests
    counted = Counter()  # (route, status) -> responses sent
    lock = threading.Lock()

    def _status(self, route, fail_every=0):
        with self.lock:
            self.seen[route] += 1
            status = 500 if fail_every and self.seen[route] % fail_every == 0 else 200
            self.counted[route, 302 if route == "vote" else status] += 1
        return status

    def _answer(self, status, body="", headers=()):
        data = body.encode()
        self.send_response(status)
        for name, value in [*headers, ("Content-Length", str(len(data)))]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        if parts == ["polls"]:
            self._answer(self._status("index"), INDEX)
        elif len(parts) == 2:
            status = self._status("detail", fail_every=5)
            self._answer(status, FORM if status == 200 else "error")
        else:
            self._answer(self._status("results", fail_every=3), "results")

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        qid = self.path.strip("/").split("/")[1]
        self._status("vote")
        self._answer(302, headers=[("Location", f"/polls/{qid}/results/")])

    def log_message(self, *args):
        pass


@pytest.fixture
def polls():
    Polls.seen, Polls.counted = Counter(), Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Polls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Polls.counted
    server.shutdown()
    server.server_close()


def test_locust_logs_are_what_the_analysis_reads(tmp_path, polls):
    base_url, counted = polls
    cfg = config.build("gunicorn", users=(2, 4), hold_s=3, warmup_s=0.5, spawn_rate=10)
    cfg = config.with_overrides(cfg, wait_s=(0.0, 0.1))
    env = {**os.environ, **locust_options(cfg), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        locust._locust_argv(base_url, tmp_path),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]

    (log,) = tmp_path.glob(f"{REQUEST_LOG_PREFIX}-*.csv")
    (lag,) = tmp_path.glob(f"{LAG_LOG_PREFIX}-*.csv")
    assert list(rows(log)[0]) == REQUEST_COLUMNS
    assert list(rows(lag)[0]) == LAG_COLUMNS
    assert (tmp_path / LOCUST_HISTORY).exists()
    assert [int(r["step"]) for r in rows(tmp_path / TIMELINE)] == [1, 2]

    requests = read_requests(tmp_path)
    logged = Counter(zip(requests["name"], requests["status"].astype(int), strict=True))
    assert logged == counted  # every response sent was logged once, none invented
    assert counted["detail", 500] and counted["results", 500]  # the failures did happen

    # Iterations: detail, vote, results in that order within one process, ids from 1 up.
    in_iterations = requests[requests["name"] != "index"]
    assert (requests.loc[requests["name"] == "index", "iteration"] == 0).all()
    assert in_iterations["iteration"].min() == 1
    for _, group in in_iterations.groupby("iteration"):
        names = list(group.sort_values("ts")["name"])
        assert names == ["detail", "vote", "results"][: len(names)]

    # Over the whole run: one form and one vote sample per iteration that got the form; a
    # sample fails with its detail or its results page. Counted by the server.
    whole = Accounting(requests).window(0, float("inf"))
    forms, votes = sum(counted["detail", s] for s in (200, 500)), counted["vote", 302]
    failures = counted["detail", 500] + counted["results", 500]
    assert (whole["article_samples"], whole["article_failures"]) == (forms + votes, failures)
    assert (whole["iterations"], whole["iterations_failed"]) == (forms, failures)
    assert whole["iteration_ids"] == 1

    steps = step_metrics(tmp_path)
    assert list(steps["users"]) == [2, 4]
    assert (steps["article_samples"] > 0).all() and (steps["iteration_ids"] == 1).all()
