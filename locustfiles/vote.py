"""The article's scenario: open a poll form and submit a random vote.

Each user iteration: GET the poll detail page, take the CSRF token and the choice ids from the
HTML, POST a random choice, and follow the redirect to the results page as a browser does.
Between iterations a user waits a random 1 to 2 s (``between(1, 2)``), as in the article.
Requests are named by route so stats group cleanly, and carry the iteration's number (per
process) in their request context, so the request log can pair a vote with its results page.

Options (Locust command line or environment):
  --client-timeout / CLIENT_TIMEOUT  seconds before a request counts as a timeout failure
  --wait / WAIT_TIME                 "MIN,MAX" seconds between iterations (default "1,2";
                                     "0,0" drives as hard as the server answers: calibration)
  --scenario / SCENARIO              "vote" (default) or "detail": only GET the poll form, the
                                     request `make calibrate` compares with wrk
  --pacing / PACING                  open model (arrival rate): when above 0, each user starts an
                                     iteration every PACING seconds whatever the answers (no
                                     wait), so N users start N / PACING iterations per second for
                                     as long as an iteration takes less than PACING
Environment only, since it picks the class when this file is imported:
  USER_CLASS  "fast" (default, FastHttpUser) or "http" (HttpUser, Locust's requests-based client)
"""

import itertools
import os
import random
import re
import time

import gevent
import gevent.event
from locust import FastHttpUser, HttpUser, events, task

from djbench.contracts import defaults

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHOICE_RE = re.compile(r'name="choice"[^>]*value="(\d+)"')
QUESTION_RE = re.compile(r'href="/polls/(\d+)/"')
_WAIT_TEXT = ",".join(f"{s:g}" for s in defaults.WAIT_S)


@events.init_command_line_parser.add_listener
def _add_options(parser):
    parser.add_argument(
        "--client-timeout",
        type=float,
        env_var="CLIENT_TIMEOUT",
        default=defaults.CLIENT_TIMEOUT_S,
        help="Seconds before a request counts as a timeout failure",
    )
    parser.add_argument(
        "--wait",
        type=_seconds_range,
        env_var="WAIT_TIME",
        default=defaults.WAIT_S,
        help=f"MIN,MAX seconds a user waits between iterations (default {_WAIT_TEXT})",
    )
    parser.add_argument(
        "--scenario",
        choices=["vote", "detail"],
        env_var="SCENARIO",
        default=defaults.SCENARIO,
        help="vote: the article's iteration; detail: only GET the poll form",
    )
    parser.add_argument(
        "--pacing",
        type=float,
        env_var="PACING",
        default=0.0,
        help="Open model: seconds between a user's iteration starts (0: closed loop, --wait)",
    )


def _seconds_range(text):
    low, high = (float(part) for part in str(text).split(","))
    if not 0 <= low <= high:
        raise ValueError(f"bad wait range {text!r}")
    return low, high


# FastHttpUser by default: `make calibrate` measures it several times cheaper per request than
# HttpUser, so Locust is less likely to become the bottleneck on a small machine.
USER_CLASSES = {"fast": FastHttpUser, "http": HttpUser}
# Iterations of this process, numbered from 1 (the request log's 0 means "outside one").
ITERATIONS = itertools.count(1)
# Set once the load stops. A user then ends its iteration after the request in hand (Locust
# lets it finish the task, up to three requests at overload: seconds of tail per run), and a
# vote POST already sent still completes and is counted.
STOPPING = gevent.event.Event()


@events.test_stopping.add_listener
def _stopping(**_kwargs):
    STOPPING.set()


@events.test_start.add_listener
def _starting(**_kwargs):
    STOPPING.clear()  # a worker that stays connected runs the master's next test too


# Open model: users' first iterations are spread over one pacing period by a low-discrepancy
# sequence (the golden ratio's multiples mod 1), so any number of users, spawned at once or in
# batches, start iterations evenly at N / PACING per second instead of in a burst.
GOLDEN = (5**0.5 - 1) / 2


class BenchUser(USER_CLASSES[os.environ.get("USER_CLASS", defaults.USER_CLASS)]):
    """What every scenario's user does between its requests: the wait (--wait) or the open
    model's pacing (--pacing), and the client timeout (--client-timeout). Scenarios subclass
    it (pages.py too), so these options are defined here once."""

    abstract = True  # not a user class of its own for Locust
    spawned = 0  # users started in this process: the next one's phase
    iteration_started = 0.0

    def wait_time(self):
        pacing = self.environment.parsed_options.pacing
        if pacing > 0:  # Locust's constant_pacing: the next start a period after this one's
            return max(0.0, self.iteration_started + pacing - time.monotonic())
        low, high = self.environment.parsed_options.wait
        return random.uniform(low, high)

    def on_start(self):
        timeout = self.environment.parsed_options.client_timeout
        if isinstance(self, FastHttpUser):
            self.client.client.connection_timeout = timeout
            self.client.client.network_timeout = timeout
        else:  # requests takes its timeout per request
            self.client.request = _with_timeout(self.client.request, timeout)
        self.prepare()
        pacing = self.environment.parsed_options.pacing
        if pacing > 0:
            phase = (BenchUser.spawned * GOLDEN) % 1
            BenchUser.spawned += 1
            gevent.sleep(phase * pacing)

    def prepare(self):
        """What a user of the scenario does once before its first iteration."""


class PollVoter(BenchUser):
    def prepare(self):
        self.load_questions()

    def load_questions(self):
        self.question_ids = []
        with self.client.get("/polls/", name="index", catch_response=True) as resp:
            self.question_ids = QUESTION_RE.findall(resp.text or "")
            if resp.status_code == 200 and not self.question_ids:
                resp.failure("unexpected: no questions on the index page")

    @task
    def vote(self):
        self.iteration_started = time.monotonic()
        if not self.question_ids:
            self.load_questions()
            return
        qid = random.choice(self.question_ids)
        iteration = {"iteration": next(ITERATIONS)}  # Locust hands it to the request event
        with self.client.get(
            f"/polls/{qid}/", name="detail", catch_response=True, context=iteration
        ) as resp:
            if resp.status_code != 200:
                return  # recorded as http_<status> or a network error
            if self.environment.parsed_options.scenario == "detail":
                return
            html = resp.text or ""
            token, choices = CSRF_RE.search(html), CHOICE_RE.findall(html)
            if not token or not choices:
                resp.failure("unexpected: no CSRF token or choices in the form")
                return
        if STOPPING.is_set():
            return
        form = {"csrfmiddlewaretoken": token.group(1), "choice": random.choice(choices)}
        with self.client.post(
            f"/polls/{qid}/vote/",
            data=form,
            name="vote",
            allow_redirects=False,
            catch_response=True,
            context=iteration,
        ) as resp:
            # A 200 here is Django re-rendering the form with an error: not a counted vote.
            location = resp.headers.get("Location", "") if resp.headers else ""
            if resp.status_code != 302 or not location.endswith(f"/polls/{qid}/results/"):
                if resp.status_code < 400:
                    resp.failure(f"unexpected: vote answered {resp.status_code}, not a redirect")
                return
        if not STOPPING.is_set():
            self.client.get(location, name="results", context=iteration)


def _with_timeout(request, timeout):
    def call(*args, **kwargs):
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)

    return call
