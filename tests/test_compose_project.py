"""A project of the user's in compose mode: an image built from its requirements (a Dockerfile
generated in the run's build context), its static files in a volume nginx serves, its scenario
chosen and verified through the published port and run by Locust's containers, its invariant
counted in the db container; nothing left behind."""

import pytest

from djbench.analysis.runs.metrics import read_requests
from djbench.system.packages import engine_available
from tests import projects
from tests.helpers import djbench, last_path, meta, rows
from tests.test_compose import assert_nothing_left

pytestmark = [
    pytest.mark.compose,
    pytest.mark.skipif(not engine_available(), reason="no Docker engine answers (docker info)"),
]
SHAPES = {
    "api": (projects.drf_api, "gunicorn"),
    "shop": (projects.static_settings_package, "uvicorn"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_project_of_yours_in_compose(shape, tmp_path):
    write, server = SHAPES[shape]
    root = tmp_path / shape
    root.mkdir()
    given = [arg for name, value in write(root).items() for arg in (f"--{name}", value)]
    done = djbench("run", "--mode", "compose", "--server", server, "--project", root, *given,
                   "--users", "2", "--hold", "8", "--warmup", "1", "--results-dir",
                   tmp_path / "results", timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = last_path(done.stdout, "results:")
    m = meta(run_dir)
    assert m["mode"] == "compose" and m["complete"] is True
    assert (m["project"]["name"], m["project"]["path"]) == (shape, str(root))
    # The versions the app container runs: the project's pins, not this host's.
    assert m["versions"]["Django"] == m["project"]["environment"]["freeze"]["django"] == "5.2.19"
    assert m["project"]["image"]["dockerfile"].endswith("Dockerfile")
    requests = read_requests(run_dir)
    assert len(requests) > 0 and requests["ok"].all()
    (step,) = rows(run_dir / "steps.csv")
    assert int(step["failures"]) == 0 and int(step["requests"]) > 0
    if shape == "api":
        posts = int(requests[requests["method"] == "POST"]["ok"].sum())
        checked = m["scenario"]["checked"]["successes"]
        before = sum(n for name, n in checked.items() if name.startswith("POST "))
        integrity = m["integrity"]
        assert integrity["checked"] and integrity["ok"], integrity
        assert integrity["got"] == integrity["expected"] == posts + before > 0
    else:
        assert m["scenario"]["kind"] == "discovered"
        assert set(requests["name"]) == {"/", "/about/"}
        assert m["project"]["asgi_generated"] is True
        # Served by nginx from the volumes collectstatic and the seed wrote, not by the app.
        assert m["project"]["served_by_nginx"] == {
            "/static/": "/srv/static",
            "/media/": "/srv/media",
        }
    assert_nothing_left(m["compose"]["project"])
