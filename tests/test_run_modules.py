"""The modules a run writes beside the project (its settings, the in-flight middleware, a
generated ASGI entry point): written again by every step of a stack's start, the last while the
app server's processes import them, so never seen half-written."""

import threading

from djbench import config
from djbench.project import app as project_app

DB = {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p", "POSTGRES_HOST": "127.0.0.1",
      "POSTGRES_PORT": "5432", "POSTGRES_DB": "d"}  # fmt: skip


def test_a_module_is_never_seen_half_written_while_the_run_writes_it_again(tmp_path):
    cfg = config.build("gunicorn", profile="smoke")
    app = project_app.prepare(cfg.project)
    project_app.run_files(app, cfg, tmp_path, DB, ["127.0.0.1"])
    settings = tmp_path / "djbench_app" / "djbench_settings.py"
    whole, before = settings.read_text(), settings.stat()
    seen, done = set(), threading.Event()

    def read_while_written():  # as an app server's worker imports it
        while not done.is_set():
            seen.add(settings.read_text())

    reader = threading.Thread(target=read_while_written)
    reader.start()
    try:
        for _ in range(200):  # a stack start writes them up to three times
            project_app.run_files(app, cfg, tmp_path, DB, ["127.0.0.1"])
    finally:
        done.set()
        reader.join()
    assert seen == {whole}  # rewritten in place, the reader saw it empty
    after = settings.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_changed_module_replaces_the_old_one_whole(tmp_path):
    from djbench.project.settings_file import write_module

    module = tmp_path / "m.py"
    write_module(module, "A = 1\n")
    first = module.stat().st_ino
    write_module(module, "A = 2\n")
    assert module.read_text() == "A = 2\n" and module.stat().st_ino != first
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no partial file left
