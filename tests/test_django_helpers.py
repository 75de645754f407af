"""The Locust file helpers against a real Django form with CSRF enforced (tests/django_site.py),
with both of Locust's clients: a form post carries its token, a login through Django's auth
form makes the next posts the user's, a JSON POST passes with the CSRF headers, and what fails
is marked failed for the run to count.

Run in a subprocess: Locust patches the interpreter with gevent."""

import json
import subprocess
import sys

import pytest

from tests.django_site import PASSWORD, USERNAME, serve
from tests.helpers import ROOT

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, sys

from locust import FastHttpUser, HttpUser, events, task
from locust.env import Environment

from django_helpers import csrf_headers, csrf_token, form_post, login

kind, base_url, password = sys.argv[1:]


class Client({"fast": FastHttpUser, "http": HttpUser}[kind]):
    host = base_url

    @task
    def nothing(self):
        pass


logged = []


@events.request.add_listener
def _log(request_type, name, response=None, exception=None, **_):
    status = getattr(response, "status_code", 0)
    logged.append([request_type, name, status, str(exception) if exception else ""])


client = Client(Environment(user_classes=[Client], events=events, host=base_url)).client
out = {"bare": client.post("/form/", data={"name": "bare"}, name="bare").status_code}
answer = form_post(client, "/form/", {"name": f"anon-{kind}"}, allow_redirects=False)
out["anon"] = [answer.status_code, answer.headers.get("Location")]
out["from_cookie"] = csrf_token(client, "<p>no form here</p>") is not None
out["mine_anonymous"] = form_post(client, "/mine/", {"name": "never"})
out["wrong_password"] = login(client, "alice", "not-it")
out["login"] = login(client, "alice", password)
answer = form_post(client, "/mine/", {"name": f"mine-{kind}"}, name="mine", allow_redirects=False)
out["mine"] = answer.status_code
out["json_bare"] = client.post("/api/items/", json={"name": "no"}, name="json").status_code
headers = csrf_headers(client, "/api/items/")
answer = client.post("/api/items/", json={"name": f"json-{kind}"}, name="json", headers=headers)
out["json"] = answer.status_code
out["logged"] = logged
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def django_site(tmp_path_factory):
    yield from serve(tmp_path_factory)


def helpers(kind, site):
    env = {"PYTHONPATH": f"{ROOT / 'locustfiles'}:{ROOT}"}  # as a run gives a user's Locust file
    done = subprocess.run([sys.executable, "-c", SCRIPT, kind, site.base_url, PASSWORD],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["http", "fast"])
def test_form_post_and_login_with_either_client(django_site, kind):
    before = django_site.items()
    out = helpers(kind, django_site)
    assert out["bare"] == 403  # CSRF is enforced: a post without the token is refused
    assert out["anon"] == [302, "/form/?done=1"]
    assert out["from_cookie"]  # the csrftoken cookie the form page set, when no input holds it
    assert out["mine_anonymous"] is None  # redirected to the login page: nothing posted
    assert (out["wrong_password"], out["login"], out["mine"]) == (False, True, 302)
    assert (out["json_bare"], out["json"]) == (403, 201)  # the CSRF headers let a JSON POST in
    assert django_site.items()[len(before) :] == [
        (f"anon-{kind}", ""), (f"mine-{kind}", USERNAME), (f"json-{kind}", USERNAME),
    ]  # fmt: skip
    assert out["logged"] == [
        ["POST", "bare", 403, out["logged"][0][3]],
        ["GET", "/form/", 200, ""],
        ["POST", "/form/", 302, ""],
        ["GET", "/mine/", 302, "unexpected: the form page /mine/ redirected to "
                               "/accounts/login/?next=/mine/"],
        ["GET", "/accounts/login/", 200, ""],
        ["POST", "/accounts/login/", 200, "login as alice refused: the form answered 200"],
        ["GET", "/accounts/login/", 200, ""],
        ["POST", "/accounts/login/", 302, ""],
        ["GET", "mine", 200, ""],
        ["POST", "mine", 302, ""],
        ["POST", "json", 403, out["logged"][10][3]],
        ["POST", "json", 201, ""],
    ]  # fmt: skip
    assert "403" in out["logged"][0][3]
