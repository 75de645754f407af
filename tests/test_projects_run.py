"""Projects of the user's on the real stack at smoke scale, each in its own environment: one
pinned to Django 4.2, a JSON API with authenticated POSTs and an invariant, one with static
files, a settings package, no asgi.py and a data loader. Each under a WSGI and an ASGI server."""

import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from djbench import config
from djbench.analysis.runs.metrics import read_requests
from djbench.project.spec import ProjectSpec, check
from djbench.stack import host, postgres
from djbench.system.leftovers import TEMP_PREFIX
from djbench.system.processes import ProcessSet
from tests import projects
from tests.helpers import djbench, meta, rows

pytestmark = pytest.mark.integration

SHAPES = {
    "django42": projects.pages_on_django_42,
    "api": projects.drf_api,
    "shop": projects.static_settings_package,
}
DJANGO = {"django42": "4.2.30", "api": "5.2.19", "shop": "5.2.19"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each project written once, with its options (seed, scenario)."""
    made = {}
    for shape, write in SHAPES.items():
        root = tmp_path_factory.mktemp("projects") / shape
        root.mkdir()
        made[shape] = (root, write(root))
    return made


def _options(options):
    return [arg for name, value in options.items() for arg in (f"--{name}", value)]


@pytest.fixture(scope="module", params=list(SHAPES))
def bench(request, built, tmp_path_factory):
    """`djbench bench` of the project under gunicorn and uvicorn, with its report."""
    shape = request.param
    root, options = built[shape]
    out = tmp_path_factory.mktemp("results")
    done = djbench(
        "bench", "--project", root, "--servers", "gunicorn,uvicorn", "--profile", "smoke",
        "--users", "2", "--hold", "8", "--mode", "native", "--results-dir", out,
        *_options(options),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p for p in out.iterdir() if p.name.endswith("-smoke"))
    (report,) = [p for p in out.iterdir() if p.name.endswith("-report")]
    return shape, root, runs, report, done


def test_each_server_ran_the_project_in_its_environment(bench):
    shape, root, runs, _, _ = bench
    assert [meta(r)["server"] for r in runs] == ["gunicorn", "uvicorn"]  # by run id: in order
    for run in runs:
        m = meta(run)
        assert m["complete"] and run.name.endswith(f"-{shape}-smoke")
        assert m["project"]["name"] == shape and m["project"]["path"] == str(root)
        assert m["versions"]["Django"] == DJANGO[shape] == m["project"]["environment"]["django"]
        assert m["project"]["environment"]["freeze"]["django"] == DJANGO[shape]
        assert m["project"]["environment"]["python"] != m["machine"].get("python")
        steps = rows(run / "steps.csv")
        assert [int(s["users"]) for s in steps] == [2]
        assert int(steps[0]["requests"]) > 0 and int(steps[0]["failures"]) == 0
        # djbench's in-flight counter, first in the project's middleware: the mechanism columns.
        assert "MIDDLEWARE" in m["project"]["overrides"]
        assert float(steps[0]["inflight_per_process_mean"]) > 0


def test_integrity_is_the_invariant_the_scenario_declares(bench):
    shape, _, runs, _, _ = bench
    for run in runs:
        integrity = meta(run)["integrity"]
        assert integrity["ok"], integrity
        if shape == "api":
            # Every successful POST added exactly one row: counted from the request log, and
            # from the Locust file's check before the load (one per server: each run has one).
            requests = read_requests(run)
            posts = int(requests[requests["method"] == "POST"]["ok"].sum())
            checked = meta(run)["scenario"]["checked"]["successes"]
            before = sum(n for name, n in checked.items() if name.startswith("POST "))
            assert before > 0 and posts > 0
            assert integrity["checked"] and integrity["got"] == integrity["expected"]
            assert integrity["expected"] == posts + before
        else:
            assert integrity["checked"] is False


def test_the_scenario_is_the_one_given_or_discovered(bench):
    shape, root, runs, _, _ = bench
    scenario = meta(runs[0])["scenario"]
    if shape == "django42":
        assert scenario["kind"] == "urls"
        assert scenario["pages"] == [{"path": "/", "weight": 3}, {"path": "/about/", "weight": 1}]
    elif shape == "api":
        assert scenario["kind"] == "locustfile"
    else:
        assert scenario["kind"] == "discovered"
        assert {p["path"] for p in scenario["pages"]} == {"/", "/about/"}
        written = Path(scenario["urls_file"])
        assert written.parent == runs[0] and written.exists()  # the user can edit it
        assert set(read_requests(runs[0])["name"]) == {"/", "/about/"}


def test_a_project_without_asgi_py_gets_one_generated(bench):
    shape, root, runs, _, _ = bench
    m = meta(runs[1])
    assert m["interface"] == "asgi"
    assert m["project"]["asgi_generated"] is (shape == "shop")
    if shape == "shop":
        assert m["project"]["entry_points"]["asgi"] == "djbench_asgi:application"
        assert not (root / "shop" / "asgi.py").exists()  # the project's files are untouched
        assert any("CONN_MAX_AGE=60" in note for note in m["notes"])


def test_the_report_names_the_project_and_leaves_the_article_out(bench):
    shape, root, _, report, _ = bench
    text = (report / "report.md").read_text()
    assert text.startswith(f"# {shape} (Django) under WSGI and ASGI")
    assert f"**Project:** {shape} ({root};" in text
    assert "article" not in text.lower()


def _served(stack, tmp, path):
    """(what nginx answered for path, what the app server behind it answered)."""
    upstream = re.search(r"server (127\.0\.0\.1:\d+);", (Path(tmp) / "nginx.conf").read_text())
    with urllib.request.urlopen(stack.base_url + path) as answer:
        body = answer.read()
    try:
        urllib.request.urlopen(f"http://{upstream.group(1)}{path}").close()
        direct = 200
    except urllib.error.HTTPError as e:
        direct = e.code
    return body, direct


def test_static_and_media_files_are_served_by_nginx_not_the_app_server(built, tmp_path):
    """Also in runs in a row (a knee search's probes): the database is set up once and copied,
    and the media files the seed wrote with it."""
    root, options = built["shop"]
    project = check(ProjectSpec(path=str(root), seed=options["seed"]))
    cfg = config.build("gunicorn", workers=1, project=project)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as kept:
        seeded = host.SeededDatabases(kept)
        for attempt in ("set up", "copied"):
            with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
                recorded = {"versions": {}, "notes": []}
                stack = host.start_stack(cfg, tmp_path / attempt, Path(tmp), procs, recorded,
                                         seeded)  # fmt: skip
                assert recorded["postgres"]["copied_from_setup"] is (attempt == "copied")
                # DEBUG is off: the app server serves no static or media file, nginx does.
                assert _served(stack, tmp, "/static/items/site.css") == (
                    b"body { color: #123456; }\n", 404)  # fmt: skip
                assert _served(stack, tmp, "/media/seeded.txt") == (b"seeded", 404)
            assert recorded["project"]["served_by_nginx"] == {
                "/static/": f"{tmp}/static", "/media/": f"{tmp}/media"}  # fmt: skip


@pytest.mark.parametrize("form", ["custom", "plain"])
def test_a_dump_is_restored_instead_of_a_seed(built, tmp_path, form):
    """A pg_dump of a seeded database (as a user brings one), restored before migrate."""
    root, options = built["django42"]
    seeded = config.build("gunicorn", workers=1, project=check(ProjectSpec(
        path=str(root), seed="load_items --count 7", urls=options["urls"])))  # fmt: skip
    dump = tmp_path / f"items.{form}"
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
        stack = host.start_stack(seeded, tmp_path / "seed", Path(tmp), procs,
                                 {"versions": {}, "notes": []})  # fmt: skip
        env = stack.cluster.env()
        done = subprocess.run(
            [postgres.find_binary("pg_dump"), "-h", env["POSTGRES_HOST"], "-p",
             env["POSTGRES_PORT"], "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"],
             "-F", "c" if form == "custom" else "p", "-f", str(dump)],
            env={**os.environ, "PGPASSWORD": env["POSTGRES_PASSWORD"]}, capture_output=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    restored = config.with_overrides(seeded, project=check(ProjectSpec(
        path=str(root), dump=str(dump), urls=options["urls"])))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp, ProcessSet() as procs:
        recorded = {"versions": {}, "notes": []}
        stack = host.start_stack(restored, tmp_path / "dump", Path(tmp), procs, recorded)
        assert stack.cluster.query_one("SELECT count(*) FROM items_item") == 7
    setup = (tmp_path / "dump" / "setup.log").read_text()
    assert "Unknown command" not in setup and "load_items" not in setup  # no seed ran
