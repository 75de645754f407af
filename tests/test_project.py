"""A project of the user's, checked before anything starts: what it is, what its environment is
built from, and the settings module and entry point a run writes beside it."""

import importlib
import sys
import textwrap

import pytest

from djbench.errors import UserError
from djbench.project import environment, settings_file
from djbench.project.app import App
from djbench.project.environment import AppEnvironment
from djbench.project.spec import POLLS, ProjectSpec, check, seed_argv, settings_module
from djbench.stack import nginx
from tests.helpers import ROOT
from tests.projects import static_settings_package


@pytest.fixture
def shop(tmp_path):
    root = tmp_path / "my shop"  # a space in the path, as users' paths have
    root.mkdir()
    static_settings_package(root)
    return root


def test_a_project_is_a_directory_with_manage_py(tmp_path, shop):
    with pytest.raises(UserError, match=r"--project .*: not a directory"):
        check(ProjectSpec(path=str(tmp_path / "nowhere")))
    with pytest.raises(UserError, match=r"not a Django project \(no manage.py in "):
        check(ProjectSpec(path=str(tmp_path)))
    checked = check(ProjectSpec(path=str(shop)))
    assert checked.path == str(shop) and checked.name == "my shop"
    assert settings_module(checked) == "shop.settings.dev"  # what manage.py sets
    assert settings_module(check(ProjectSpec(path=str(shop), settings="shop.settings.base"))) == (
        "shop.settings.base"
    )


@pytest.mark.parametrize(
    "given, line",
    [
        ({"settings": "shop settings"}, "--settings 'shop settings': not a Python module name"),
        ({"dump": "/no/dump.sql"}, "--dump /no/dump.sql: no such file"),
        ({"seed": "a", "dump": "{manage}"}, "--seed and --dump both load data: one of them"),
        ({"urls": "{manage}", "locustfile": "{manage}"}, "--locustfile and --urls are both a "
         "scenario: one of them"),
        ({"seed": "load 'x"}, "--seed \"load 'x\": No closing quotation"),
        ({"app_python": "{manage}"}, "--app-python {manage}: not an executable Python"),
    ],
)  # fmt: skip
def test_bad_project_options_get_one_line(shop, given, line):
    manage = str(shop / "manage.py")
    values = {k: v.format(manage=manage) for k, v in given.items()}
    with pytest.raises(UserError) as e:
        check(ProjectSpec(path=str(shop), **values))
    assert str(e.value) == line.format(manage=manage)


def test_a_locust_file_needs_a_user_class(shop):
    locustfile = shop / "locustfile.py"
    locustfile.write_text("from locust import task\n\n\nclass Helper:\n    pass\n")
    with pytest.raises(UserError) as e:
        check(ProjectSpec(path=str(shop), locustfile=str(locustfile)))
    assert str(e.value) == (
        f"--locustfile {locustfile} defines no Locust user class (a class extending HttpUser, "
        "FastHttpUser or User)"
    )
    locustfile.write_text("import locust\n\n\nclass Reader(locust.FastHttpUser):\n    pass\n")
    assert check(ProjectSpec(path=str(shop), locustfile=str(locustfile))).locustfile == str(
        locustfile
    )
    locustfile.write_text("class Reader(:\n")
    with pytest.raises(UserError, match=r"--locustfile .*, line 1: "):
        check(ProjectSpec(path=str(shop), locustfile=str(locustfile)))


def test_the_polls_project_takes_no_project_options():
    assert check(POLLS) is POLLS
    with pytest.raises(UserError, match=r"^--seed, --urls need --project"):
        check(ProjectSpec(seed="x", urls="y"))
    assert seed_argv(POLLS, 3, 4) == ["seed_polls", "--questions", "3", "--choices", "4"]
    assert seed_argv(ProjectSpec(path="/p", seed="loaddata 'a b.json'"), 3, 4) == [
        "loaddata", "a b.json",
    ]  # fmt: skip


def test_manage_py_without_settings_needs_the_option(tmp_path):
    (tmp_path / "manage.py").write_text("import django\n")
    with pytest.raises(UserError, match="sets no DJANGO_SETTINGS_MODULE; give --settings"):
        check(ProjectSpec(path=str(tmp_path)))


def test_requirements_come_from_the_option_the_file_or_pyproject(tmp_path, shop):
    spec = check(ProjectSpec(path=str(shop)))
    assert environment.requirements(spec) == ([f"-r {shop}/requirements.txt"],
                                              f"{shop}/requirements.txt")  # fmt: skip
    (shop / "requirements.txt").unlink()
    (shop / "pyproject.toml").write_text('[project]\nname = "shop"\ndependencies = ["Django>=5"]\n')
    assert environment.requirements(spec) == (["Django>=5"], f"{shop}/pyproject.toml "
                                              "[project.dependencies]")  # fmt: skip
    (shop / "pyproject.toml").write_text("[tool.other]\n")
    with pytest.raises(UserError, match="no requirements for .*: give --requirements FILE"):
        environment.requirements(spec)
    other = tmp_path / "reqs.txt"
    other.write_text("Django==5.2.19\n")
    spec = check(ProjectSpec(path=str(shop), requirements=str(other)))
    assert environment.requirements(spec) == ([f"-r {other}"], str(other))


def test_servers_are_added_at_the_versions_djbench_pins():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split())
    wanted = environment.server_requirements()
    assert f"gunicorn=={pins['gunicorn']}" in wanted
    assert f"uvicorn=={pins['uvicorn']}" in wanted
    assert f"uvloop=={pins['uvloop']}" in wanted and f"httptools=={pins['httptools']}" in wanted
    assert not any(line.startswith(("python-dotenv", "uvicorn[")) for line in wanted)
    assert f"granian=={pins['granian']}" in wanted
    assert len(wanted) == len(set(wanted))


def test_the_polls_requirements_are_the_harness_pins():
    pins = {line.split("==")[0].split("[")[0].lower(): line.split("==")[1]
            for line in (ROOT / "constraints.txt").read_text().split()}  # fmt: skip
    for line in (ROOT / "polls_project" / "requirements.txt").read_text().split():
        name, version = line.split("==")
        assert pins[name.split("[")[0].lower()] == version, line


def _app(tmp_path, info=None):
    """An App of a settings module written here, as inspect_settings.py would describe it."""
    (tmp_path / "base_settings.py").write_text(
        textwrap.dedent("""\
        SECRET_KEY = ""
        DEBUG = True
        INSTALLED_APPS = ["django.contrib.staticfiles"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "CONN_MAX_AGE": 600},
                     "replica": {}}
    """)
    )
    info = {"has_secret_key": False, "debug": True, "database": {"CONN_MAX_AGE": 600},
            "databases": ["default", "replica"], "django": "5.2.19", **(info or {})}  # fmt: skip
    env = AppEnvironment(tmp_path / "python", "test", True)
    return App(ProjectSpec(path=str(tmp_path)), env, "base_settings", info, None)


def test_the_run_settings_own_the_database_and_only_what_they_list(tmp_path, monkeypatch):
    from djbench.config import build

    app = _app(tmp_path)
    cfg = build("uvicorn", db_pool="2:8", project=app.spec)
    text, names = settings_file.render(app, cfg, tmp_path / "static", tmp_path / "media")
    (tmp_path / "run_settings.py").write_text(text)
    run_env = {"POSTGRES_HOST": "10.0.0.2", "POSTGRES_PORT": "5433", "POSTGRES_DB": "b",
               "POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p w", "DJBENCH_ALLOWED_HOSTS": "a,b",
               "DJANGO_SECRET_KEY": "k", "DJBENCH_INFLIGHT_DIR": str(tmp_path)}  # fmt: skip
    for name, value in run_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = importlib.import_module("run_settings")
    try:
        assert run.DATABASES == {"default": {
            "ENGINE": "django.db.backends.postgresql", "HOST": "10.0.0.2", "PORT": "5433",
            "NAME": "b", "USER": "u", "PASSWORD": "p w", "CONN_MAX_AGE": 0,
            "OPTIONS": {"pool": {"min_size": 2, "max_size": 8}}}}  # fmt: skip
        assert run.DEBUG is False and run.ALLOWED_HOSTS == ["a", "b"]
        assert run.STATIC_ROOT == str(tmp_path / "static")
        assert run.INSTALLED_APPS == ["django.contrib.staticfiles"]  # the project's own
        assert run.SECRET_KEY == "k"  # the project had none
        assert run.MIDDLEWARE == ["djbench_inflight.InFlight"]  # first; the project has none
    finally:
        sys.modules.pop("run_settings", None)
        sys.modules.pop("base_settings", None)
    assert names == ["DEBUG", "ALLOWED_HOSTS", "DATABASES", "STATIC_ROOT", "MEDIA_ROOT",
                     "LOGGING", "SECRET_KEY", "MIDDLEWARE"]  # fmt: skip
    assert settings_file.notes(app, cfg) == [
        "the project sets CONN_MAX_AGE=600; this run uses 0 (--conn-max-age)",
        "the project's CONN_MAX_AGE=600 is unsafe under an ASGI server (Django documents "
        "persistent connections as unsupported there): measure it with --conn-max-age 600 to "
        "see its effect",
        "the project's DEBUG=True is turned off for the run",
        "only the default database is set up; the project's replica are dropped",
    ]


def test_database_url_quotes_the_password():
    env = {"POSTGRES_USER": "polls", "POSTGRES_PASSWORD": "a/b@c", "POSTGRES_HOST": "127.0.0.1",
           "POSTGRES_PORT": "5432", "POSTGRES_DB": "polls"}  # fmt: skip
    assert settings_file.database_url(env) == "postgres://polls:a%2Fb%40c@127.0.0.1:5432/polls"


def test_a_missing_asgi_py_is_the_wsgi_module_with_wsgi_replaced(tmp_path):
    from tests.projects import ASGI, WSGI

    wsgi = tmp_path / "wsgi.py"
    wsgi.write_text(WSGI.format(settings="shop.settings"))
    app = _app(tmp_path, {"wsgi": "shop.wsgi:application", "wsgi_file": str(wsgi)})
    assert settings_file.write_asgi(app, tmp_path) == "djbench_asgi:application"
    # What Django's startproject writes as asgi.py, beside its wsgi.py.
    assert (tmp_path / "djbench_asgi.py").read_text() == ASGI.format(settings="shop.settings")
    assert "get_asgi_application" in ASGI


def test_nginx_serves_the_static_and_media_directories(tmp_path):
    values = {**nginx.SETTINGS, "NGINX_PID_PATH": "p", "NGINX_ERROR_LOG": "e",
              "NGINX_TEMP_DIR": "t", "UPSTREAM": "127.0.0.1:1", "NGINX_LISTEN": "127.0.0.1:2",
              "NGINX_PROXY_TIMEOUT": 60}  # fmt: skip
    plain = nginx.render(values)
    served = nginx.render(values, files={"/static/": tmp_path / "s t", "/media/": tmp_path / "m"})
    assert "location ^~" not in plain
    assert f'location ^~ /static/ {{\n            alias "{tmp_path}/s t/";' in served
    assert f'location ^~ /media/ {{\n            alias "{tmp_path}/m/";' in served
    assert served.index("location ^~ /static/") < served.index("location / {")
