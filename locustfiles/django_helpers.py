"""Helpers for a Locust file of a Django project: a form post with its CSRF token, the CSRF
headers of a JSON request, and logging in as a user the seed created. They take a user's
`self.client`, of an HttpUser or a FastHttpUser alike.

    from django_helpers import csrf_headers, form_post, login

    class Editor(FastHttpUser):
        def on_start(self):
            login(self.client, "editor", "secret")

        @task
        def comment(self):
            form_post(self.client, "/articles/1/comment/", {"text": "Nice"}, name="comment")
            self.client.post("/api/likes/", json={"article": 1},
                             headers=csrf_headers(self.client, "/api/likes/"))

djbench puts this directory on the Locust processes' PYTHONPATH, so the import works from a
Locust file anywhere.
"""

import re
from urllib.parse import urljoin

# Django's hidden input, whatever the order of its attributes.
INPUT_RE = re.compile(r"<input\b[^>]*\bname=[\"']csrfmiddlewaretoken[\"'][^>]*>", re.I)
VALUE_RE = re.compile(r"\bvalue=[\"']([^\"']+)[\"']", re.I)
CSRF_COOKIE = "csrftoken"  # Django's CSRF_COOKIE_NAME unless the project changed it


def csrf_token(client, html, cookie_name=CSRF_COOKIE):
    """The CSRF token of a form page: its csrfmiddlewaretoken input, else the CSRF cookie the
    client holds; None when there is neither."""
    field = INPUT_RE.search(html or "")
    value = VALUE_RE.search(field.group(0)) if field else None
    if value:
        return value.group(1)
    # HttpUser's client is a requests session (.cookies), FastHttpUser's keeps a .cookiejar.
    jar = getattr(client, "cookiejar", None) or getattr(client, "cookies", None) or []
    return next((c.value for c in jar if c.name == cookie_name), None)


def form_post(client, path, data, name=None, cookie_name=CSRF_COOKIE, **kwargs):
    """GET the form at `path`, then POST `data` to it with the page's CSRF token and a Referer
    (which Django requires over HTTPS). Both requests are named `name` (default: the path).
    Returns the POST's response, or None when the form page failed or held no token (that GET
    is then marked failed, so the run counts it). `kwargs` go to the POST (allow_redirects,
    catch_response, headers, ...)."""
    name = name or path
    token = _form_token(client, path, name, cookie_name)
    if token is None:
        return None
    headers = {"Referer": urljoin(client.base_url or "", path), "X-CSRFToken": token,
               **kwargs.pop("headers", {})}  # fmt: skip
    return client.post(path, data={**data, "csrfmiddlewaretoken": token}, name=name,
                       headers=headers, **kwargs)  # fmt: skip


def csrf_headers(client, path, cookie_name=CSRF_COOKIE):
    """The headers a JSON (or any non-form) request to `path` needs past Django's CSRF check,
    from the CSRF cookie the client holds (set by any page that rendered a form, the login
    page included): X-CSRFToken and Referer. Empty when the client holds no such cookie.

        client.post("/api/items/", json={...}, headers=csrf_headers(client, "/api/items/"))
    """
    token = csrf_token(client, "", cookie_name)
    if token is None:
        return {}
    return {"X-CSRFToken": token, "Referer": urljoin(client.base_url or "", path)}


def login(client, username, password, login_path="/accounts/login/", cookie_name=CSRF_COOKIE):
    """Log in through Django's auth login form (LoginView) at `login_path`; True when it
    accepted the credentials (its redirect), else the POST is marked failed and False."""
    token = _form_token(client, login_path, login_path, cookie_name)
    if token is None:
        return False
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    headers = {"Referer": urljoin(client.base_url or "", login_path)}
    with client.post(login_path, data=form, name=login_path, headers=headers,
                     allow_redirects=False, catch_response=True) as resp:  # fmt: skip
        if resp.status_code in (301, 302, 303):
            return True
        if resp.status_code < 400:  # 200: the form again, with its error
            resp.failure(f"login as {username} refused: the form answered {resp.status_code}")
        return False


def _form_token(client, path, name, cookie_name):
    # Not following a redirect: a form page that redirects (to the login page, most often)
    # would otherwise hand over another form's token and the POST would "succeed" there.
    with client.get(path, name=name, allow_redirects=False, catch_response=True) as resp:
        if 300 <= resp.status_code < 400:
            where = resp.headers.get("Location", "") if resp.headers else ""
            resp.failure(f"unexpected: the form page {path} redirected to {where}")
            return None
        if not 200 <= resp.status_code < 300:
            return None  # recorded as http_<status> or a network error
        token = csrf_token(client, resp.text, cookie_name)
        if token is None:
            resp.failure(f"unexpected: no CSRF token on {path}")
        return token
