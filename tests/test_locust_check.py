"""A user's Locust file checked before the load: real Locust against a small real HTTP server
here, whose answers the tests choose; a failing request is named with how often it failed and
what Locust said, and what succeeded is counted for the file's invariant."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from djbench.scenario import locust_check

HEADER = "from locust import HttpUser, between, task\n\n\n"


class Site(BaseHTTPRequestHandler):
    """/ok answers 200, /forbidden 403; a POST to /items/ 201. Each request is counted."""

    seen = {}

    def do_GET(self):
        self._answer(200 if self.path == "/ok" else 403 if self.path == "/forbidden" else 404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(201 if self.path == "/items/" else 404)

    def _answer(self, status):
        key = f"{self.command} {self.path}"
        self.seen[key] = self.seen.get(key, 0) + 1
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    Site.seen = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _file(tmp_path, body):
    path = tmp_path / "locustfile.py"
    path.write_text(HEADER + body)
    return path


def test_a_clean_file_gives_what_its_users_did(tmp_path, site):
    path = _file(tmp_path, (
        "class Reader(HttpUser):\n    wait_time = between(1, 1)\n\n    @task\n"
        "    def read(self):\n        self.client.get('/ok')\n\n\n"
        "class Writer(HttpUser):\n    wait_time = between(1, 1)\n\n    @task\n"
        "    def write(self):\n        self.client.post('/items/', json={})\n"
    ))  # fmt: skip
    done = locust_check.check(path, site, tmp_path, timeout=5)
    # What the site answered is what is counted: one user a class, about one request a second.
    assert done["successes"] == Site.seen, done
    assert set(Site.seen) == {"GET /ok", "POST /items/"}
    assert all(n >= 2 for n in Site.seen.values()), Site.seen
    assert done["requests"] == sum(done["successes"].values())


def test_failing_requests_are_named_with_what_they_answered(tmp_path, site):
    path = _file(tmp_path, (
        "class Visitor(HttpUser):\n    wait_time = between(10, 10)\n\n    @task\n"
        "    def visit(self):\n        self.client.get('/ok')\n"
        "        self.client.get('/forbidden')\n"
        "        self.client.post('/nowhere', json={})\n"
    ))  # fmt: skip
    with pytest.raises(locust_check.LocustFileFailed) as e:
        locust_check.check(path, site, tmp_path, timeout=5)
    line = str(e.value)
    assert line.startswith("2 of the Locust file's 3 requests failed before load: ")
    assert "GET /forbidden 1 of 1 (" in line and "403" in line.split("POST")[0]
    assert "POST /nowhere 1 of 1 (" in line and "404" in line.split("POST /nowhere")[1]
    assert "\n" not in line


def test_a_file_whose_users_request_nothing_is_refused(tmp_path, site):
    path = _file(tmp_path, (
        "class Idle(HttpUser):\n    wait_time = between(1, 1)\n\n    @task\n"
        "    def nothing(self):\n        pass\n"
    ))  # fmt: skip
    with pytest.raises(locust_check.LocustFileFailed, match="made no request in 5 s"):
        locust_check.check(path, site, tmp_path, timeout=5)


def test_user_classes_are_counted_from_the_text(tmp_path):
    path = _file(tmp_path, (
        "import locust\n\n\nclass Base(HttpUser):\n    abstract = True\n\n\n"
        "class A(Base):\n    pass\n\n\nclass B(locust.FastHttpUser):\n    pass\n\n\n"
        "class Helper:\n    pass\n"
    ))  # fmt: skip
    # A is a user through the file's own abstract base, which is not counted; Helper is none.
    assert locust_check.user_classes(path) == 2
    assert locust_check.user_classes(_file(tmp_path, "x = 1\n")) == 1  # at least one
