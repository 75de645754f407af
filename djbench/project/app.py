"""The project as one run serves it: its environment and settings, inspected once per command,
and the files a run writes beside it (a settings module over the project's, an ASGI entry point
for a project without one). The project's own files are never modified."""

import functools
import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from djbench.errors import UserError
from djbench.project import environment, settings_file, versions
from djbench.project.spec import ProjectSpec, settings_module
from djbench.system.child_env import child_environ
from djbench.system.log import log
from djbench.system.machine import git_revision_of

INSPECTOR = Path(__file__).with_name("inspect_settings.py")
# Both run in the project's environment: the in-flight counter is copied beside the run's settings.
INFLIGHT_MIDDLEWARE = Path(__file__).with_name("djbench_inflight.py")
# A placeholder for settings that parse DATABASE_URL at import, before the run's database exists.
PLACEHOLDER_URL = "postgres://djbench@127.0.0.1:1/djbench"


@dataclass
class App:
    spec: ProjectSpec
    env: environment.AppEnvironment
    settings: str  # the project's settings module
    info: dict  # what inspect_settings.py printed
    revision: str | None
    # One per command: manage.py and the server sign with the same key.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def static(self):
        return "django.contrib.staticfiles" in self.info["installed_apps"]

    def base_env(self):
        """What every process of the project starts with, besides the run's database."""
        key = self.secret_key  # under both names projects read it by
        return {"DJANGO_SECRET_KEY": key, "SECRET_KEY": key, "PYTHONPATH": str(self.spec.root),
                "DJANGO_SETTINGS_MODULE": self.settings}  # fmt: skip

    def summary(self):
        """For meta.json: the project, where it came from, and what it runs on."""
        env = self.env
        return {
            "name": self.spec.name,
            "builtin": self.spec.builtin,
            "path": str(self.spec.root),
            "git_revision": self.revision,
            "settings": self.settings,
            "spec": self.spec.as_dict(),
            "entry_points": {"wsgi": self.info["wsgi"], "asgi": self.info["asgi"]},
            "environment": {
                "python": str(env.python),
                "built_from": env.source,
                "built": env.built,
                "key": env.key,
                "added": env.added,
                "django": self.info["django"],
                "asgiref": env.version("asgiref"),
                "servers_instead": environment.servers_instead(env),
                "compat": settings_file.compat(self),
                "stand_ins": _stand_ins(self.spec),
                "freeze": env.freeze,
            },
        }


def _stand_ins(spec):
    """What stood in for a release of --releases' day that does not build here, and why."""
    if not spec.releases:
        return []
    return [f"{line}: {why}" for line, why in versions.RELEASES[spec.releases].stand_ins]


@functools.cache
def prepare(spec: ProjectSpec) -> App:
    """The project's environment and settings, once per command: one UserError line if the
    project cannot run."""
    module = settings_module(spec)
    env = environment.ensure(spec)
    app = App(spec, env, module, {}, git_revision_of(spec.root))
    probe = {**app.base_env(), "DATABASE_URL": PLACEHOLDER_URL}
    done = subprocess.run([str(env.python), str(INSPECTOR)], cwd=spec.root, text=True,
                          capture_output=True, env=child_environ(probe))  # fmt: skip
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UserError(
            f"settings {module} do not import: {last}; to reproduce: cd {spec.root} && "
            f"DJANGO_SETTINGS_MODULE={module} {env.python} -c 'import django; django.setup()'"
        )
    app.info = json.loads(done.stdout)
    if not app.info["wsgi"]:
        raise UserError(f"settings {module} set no WSGI_APPLICATION")
    if not spec.builtin:
        log.info(
            f"project {spec.name}: Django {app.info['django']}, settings {module}, "
            f"environment {env.python.parent.parent}"
        )
    return app


def prepare_for(cfg) -> App:
    """prepare(), and one UserError line if its Django cannot run the run's views or pool."""
    app = prepare(cfg.project)
    why_not = versions.refusals(app.info["django"], [cfg.view], cfg.db_pool)
    if why_not:
        raise UserError(why_not)
    return app


@dataclass
class RunFiles:
    """What one run of the project writes in its temp dir, and how its processes find it."""

    env: dict  # the environment of manage.py and the server (the run's database included)
    entry_points: dict  # interface -> module:attribute
    static_root: Path
    media_root: Path
    overrides: list = field(default_factory=list)  # setting names the benchmark owns
    notes: list = field(default_factory=list)  # project settings that change the result
    asgi_generated: bool = False


def run_files(app: App, cfg, tmp: Path, db_env: dict, hosts: list[str], roots=None) -> RunFiles:
    """Write the run's settings module (and an ASGI entry point if the project has none) into
    tmp; returns how the project's processes start. roots: (STATIC_ROOT, MEDIA_ROOT) where the
    processes run elsewhere (a container), else in tmp."""
    where = tmp / "djbench_app"
    where.mkdir(exist_ok=True)
    static_root, media_root = roots or (tmp / "static", tmp / "media")
    if roots is None:
        media_root.mkdir(exist_ok=True)
    text, overrides = settings_file.render(app, cfg, static_root, media_root)
    settings_file.write_module(where / "djbench_settings.py", text)
    settings_file.write_module(where / INFLIGHT_MIDDLEWARE.name, INFLIGHT_MIDDLEWARE.read_text())
    entry_points = {"wsgi": app.info["wsgi"], "asgi": app.info["asgi"]}
    generated = not entry_points["asgi"]
    if generated:
        entry_points["asgi"] = settings_file.write_asgi(app, where)
    env = {
        **app.base_env(),
        **db_env,
        "PYTHONPATH": f"{where}:{app.spec.root}",
        "DJANGO_SETTINGS_MODULE": "djbench_settings",
        "DJBENCH_ALLOWED_HOSTS": ",".join(hosts),
        "DATABASE_URL": settings_file.database_url(db_env),
        **cfg.app_env(),
    }
    files = RunFiles(env, entry_points, static_root, media_root, overrides,
                     settings_file.notes(app, cfg), generated)  # fmt: skip
    if generated:
        files.notes.append(
            f"the project has no asgi.py: {entry_points['asgi']} was generated from its wsgi "
            "module with wsgi replaced by asgi"
        )
    return files
