"""A project's fingerprint across hosts: it changes with any of the project's files and the
files the run names, and not with what is no part of it (version control, caches, the
developer's own SQLite database)."""

import os

from djbench.project import fingerprint
from djbench.project.spec import ProjectSpec


def _project(root):
    (root / "site").mkdir(parents=True)
    (root / "manage.py").write_text("# manage\n")
    (root / "site" / "settings.py").write_text("DEBUG = False\n")
    return ProjectSpec(path=str(root))


def test_a_project_changes_its_fingerprint_only_with_its_own_files(tmp_path):
    spec = _project(tmp_path / "p")
    first = fingerprint.of(spec)
    assert len(first) == 12 and fingerprint.of(spec) == first
    for ignored in (".git/HEAD", "site/__pycache__/settings.cpython-311.pyc", "db.sqlite3",
                    "node_modules/x/index.js"):  # fmt: skip
        path = tmp_path / "p" / ignored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not the project\n")
    assert fingerprint.of(spec) == first
    settings = tmp_path / "p" / "site" / "settings.py"
    settings.write_text("DEBUG = True\n")
    changed = fingerprint.of(spec)
    assert changed != first
    # The same bytes written again (a new modification time): the same project.
    settings.write_text("DEBUG = True\n")
    os.utime(settings, ns=(1, 1))
    assert fingerprint.of(spec) == changed
    (tmp_path / "p" / "site" / "views.py").write_text("")
    assert fingerprint.of(spec) != changed


def test_the_files_a_run_names_and_the_path_are_part_of_it(tmp_path):
    spec = _project(tmp_path / "p")
    locustfile = tmp_path / "elsewhere" / "locustfile.py"
    locustfile.parent.mkdir()
    locustfile.write_text("# users\n")
    with_file = ProjectSpec(path=spec.path, locustfile=str(locustfile))
    before = fingerprint.of(with_file)
    assert before != fingerprint.of(spec)
    locustfile.write_text("# other users\n")
    assert fingerprint.of(with_file) != before
    # A copy at another path is not the project the controller names.
    copy = _project(tmp_path / "q")
    assert fingerprint.of(copy) != fingerprint.of(spec)
