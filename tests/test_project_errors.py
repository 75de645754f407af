"""A project that cannot run stops with one line saying why: before anything starts where that
can be known (rc 2, no results directory), else at the step that failed, with its last lines,
the partial results kept and nothing left running (rc 1)."""

import shutil

import pytest

from tests import projects
from tests.helpers import djbench

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The Django 4.2 project, once: each test copies it and breaks its copy."""
    root = tmp_path_factory.mktemp("base") / "site"
    root.mkdir()
    return root, projects.pages_on_django_42(root)


@pytest.fixture
def site(base, tmp_path):
    root, options = base
    copy = tmp_path / "site"
    shutil.copytree(root, copy)
    return copy, {k: v.replace(str(root), str(copy)) for k, v in options.items()}


def run(root, tmp_path, **options):
    args = [arg for k, v in options.items() for arg in (f"--{k.replace('_', '-')}", v)]
    return djbench("run", "--server", "gunicorn", "--project", root, "--profile", "smoke",
                   "--users", "2", "--hold", "4", "--mode", "native",
                   "--results-dir", tmp_path / "results", *args)  # fmt: skip


def one_line(done):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("djbench: error: "), done.stderr
    return lines[0].removeprefix("djbench: error: ")


def test_settings_that_do_not_import(site, tmp_path):
    root, options = site
    settings = root / "site42" / "settings.py"
    settings.write_text("import no_such_module_here\n" + settings.read_text())
    line = one_line(run(root, tmp_path, **options))
    assert line == (
        "settings site42.settings do not import: ModuleNotFoundError: No module named "
        f"'no_such_module_here'; to reproduce: cd {root} && DJANGO_SETTINGS_MODULE="
        f"site42.settings {line.split(' && DJANGO_SETTINGS_MODULE=site42.settings ')[1]}"
    )
    assert "bin/python -c 'import django; django.setup()'" in line
    assert not (tmp_path / "results").exists()


def test_requirements_that_do_not_install(site, tmp_path):
    root, options = site
    (root / "requirements.txt").write_text("djbench-no-such-distribution-anywhere==1.0\n")
    line = one_line(run(root, tmp_path, **options))
    assert line.startswith(f"the requirements ({root}/requirements.txt) did not install: ")
    assert "djbench-no-such-distribution-anywhere" in line
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("broken", ["migrate", "seed", "page", "locustfile", "discovered",
                                    "redis"])  # fmt: skip
def test_a_step_that_fails_names_itself(site, tmp_path, broken):
    root, options = site
    if broken == "migrate":
        (root / "items" / "migrations" / "0002_broken.py").write_text(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
            '    dependencies = [("items", "0001_initial")]\n'
            '    operations = [migrations.RunSQL("SELECT no_such_column FROM no_such_table")]\n'
        )
        expected = "manage.py migrate --noinput failed:"
    elif broken == "seed":
        options["seed"] = "no_such_command --count 1"
        expected = "manage.py no_such_command --count 1 failed:"
    elif broken == "page":
        (root / "urls.txt").write_text("/\n/nowhere/ 2\n")
        expected = ("verification: 1 of the scenario's 2 pages failed before load: /nowhere/ "
                    "answered 404")  # fmt: skip
    elif broken == "locustfile":  # the user's own scenario, one of whose requests fails
        del options["urls"]
        options["locustfile"] = str(root / "locustfile.py")
        (root / "locustfile.py").write_text(
            "from locust import HttpUser, between, task\n\n\nclass Visitor(HttpUser):\n"
            "    wait_time = between(10, 10)\n\n    @task\n    def visit(self):\n"
            "        self.client.get('/')\n        self.client.get('/nowhere/')\n"
        )
        expected = ("verification: 1 of the Locust file's 2 requests failed before load: "
                    "GET /nowhere/ 1 of 1 (HTTPError('404 Client Error: Not Found for url: "
                    "/nowhere/'))")  # fmt: skip
    elif broken == "discovered":  # no URLS: a page the site links to fails
        del options["urls"]
        views = root / "items" / "views.py"
        broken_view = 'def about(request):\n    raise ValueError("about is broken")\n'
        views.write_text(views.read_text().replace("def about(request):\n", broken_view))
        expected = (
            "discovery: 1 of the site's pages answered 5xx (/about/); the server log's last "
            "error: ValueError: about is broken; fix them, or give URLS=file"
        )
    else:  # a data loader that needs a Redis nobody started, failing as redis-py says it
        command = root / "items" / "management" / "commands" / "load_items.py"
        command.write_text(command.read_text().replace(
            "        Item.objects.bulk_create",
            "        import socket\n        try:\n"
            "            socket.create_connection(('127.0.0.1', 6379))\n"
            "        except OSError as e:\n            raise ConnectionError(\n"
            "                f'Error {e.errno} connecting to 127.0.0.1:6379. {e.strerror}.')\n"
            "        Item.objects.bulk_create"))  # fmt: skip
        expected = ("manage.py load_items --count 12 failed: the project needs Redis, which "
                    "djbench does not start")  # fmt: skip
    done = run(root, tmp_path, **options)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"djbench: run failed: {expected}" in done.stderr, done.stderr
    assert "Traceback (most recent call last)" not in done.stderr.split("failed:")[0]
    (partial,) = (tmp_path / "results").iterdir()  # kept, and named in the output
    assert f"partial results: {partial}" in done.stdout + done.stderr
