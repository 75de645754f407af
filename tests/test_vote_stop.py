"""When the load stops, a user ends its iteration after the request in hand: no new request
starts, and a vote POST already sent completes and is logged (so integrity still holds).

Real Locust (the scenario's own user class) against a small HTTP server that answers as the
polls app does and holds one chosen request for a second; the load is stopped while that
request is in flight. Run in a subprocess: Locust patches the interpreter with gevent."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

SCRIPT = r"""
import json, sys, threading, time
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gevent
from locust import events
from locust.env import Environment

from locustfiles.vote import PollVoter

HOLD = sys.argv[1]  # the request held while the load stops: "detail" or "vote"
seen, held = [], threading.Event()
logged = []
FORM = (
    '<input type="hidden" name="csrfmiddlewaretoken" value="tok">'
    '<input type="radio" name="choice" id="c1" value="7">'
)


class Polls(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, name, status, body="", location=None):
        seen.append(name)
        if name == HOLD and not held.is_set():
            held.set()
            time.sleep(1.0)
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self):
        if self.path == "/polls/":
            self.answer("index", 200, '<a href="/polls/1/">q</a>')
        elif self.path == "/polls/1/":
            self.answer("detail", 200, FORM)
        else:
            self.answer("results", 200, "results")

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.answer("vote", 302, location="/polls/1/results/")


server = ThreadingHTTPServer(("127.0.0.1", 0), Polls)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = Environment(user_classes=[PollVoter], events=events, stop_timeout=10,
                  host=f"http://127.0.0.1:{server.server_port}")
env.parsed_options = Namespace(pacing=0.0, wait=(0.0, 0.0), client_timeout=5.0, scenario="vote")
events.request.add_listener(lambda name, exception=None, **_: logged.append([name, not exception]))
runner = env.create_local_runner()
runner.start(1, spawn_rate=1)
while not held.is_set():
    gevent.sleep(0.01)
runner.stop()
# A second test in the same process (a worker that stays connected) runs whole iterations.
seen.clear()
runner.start(1, spawn_rate=1)
while seen.count("results") < 2:
    gevent.sleep(0.01)
again = list(seen)
runner.quit()
server.shutdown()
print(json.dumps({"logged": logged, "again": again[:5]}))
"""


def run_stopped_during(request):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, request], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_form_in_flight_completes_and_no_vote_follows():
    out = run_stopped_during("detail")
    # index, then detail held: stopped there. Before, the iteration went on: vote, results.
    assert out["logged"][:3] == [["index", True], ["detail", True], ["index", True]]
    # The next test's users run whole iterations again.
    assert out["again"] == ["index", "detail", "vote", "results", "detail"]


def test_a_vote_in_flight_completes_and_is_logged_but_no_results_page_follows():
    out = run_stopped_during("vote")
    assert out["logged"][:4] == [["index", True], ["detail", True], ["vote", True], ["index", True]]


@pytest.fixture(autouse=True)
def _no_outer_locust_options(monkeypatch):
    for name in ("WAIT_TIME", "PACING", "SCENARIO", "CLIENT_TIMEOUT", "USER_CLASS"):
        monkeypatch.delenv(name, raising=False)
