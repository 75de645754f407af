"""A project of the user's in compose mode: the same services as docker-compose.yml, with the app
built from the project and its requirements (a Dockerfile generated in the run's build context),
the run's settings module in its image, its static and media files in volumes nginx serves, and
Locust's containers running its scenario. What differs from the polls stack is a compose file of
its own over docker-compose.yml, written for the run (docker compose merges the two)."""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from djbench.errors import ComponentFailed
from djbench.paths import NGINX_TEMPLATE, ROOT
from djbench.project import app as project_app
from djbench.project import data, environment, fingerprint, scenario
from djbench.project.spec import seed_argv
from djbench.scenario import urls_file
from djbench.stack import host as host_stack
from djbench.stack import nginx
from djbench.stack.servers import SERVERS

OVERRIDE = "docker-compose.project.yml"
IMAGE_DIR = "project-image"  # in the build context: the app image's own context
PROJECT, APP_DIR, REQUIREMENTS = "/project", "/djbench_app", "/djbench_requirements"
STATIC, MEDIA, SCENARIO = Path("/srv/static"), Path("/srv/media"), "/scenario"
HOSTS = ["app", "nginx", "127.0.0.1", "localhost"]
# What the project's settings read before a database exists (listing its URL routes here).
NO_DATABASE = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "1", "POSTGRES_DB": "djbench",
               "POSTGRES_USER": "djbench", "POSTGRES_PASSWORD": "none"}  # fmt: skip
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.pyc",
                                      "node_modules", "*.sqlite3")  # fmt: skip

DOCKERFILE = """\
# Written by djbench for one run: the project {name} and its requirements ({source}), with the
# servers djbench pins; the run's settings module over the project's in {app_dir}.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements {requirements}
COPY project {project}
WORKDIR {project}
RUN {install}
COPY djbench_app {app_dir}
ENV PYTHONPATH={app_dir}:{project} DJANGO_SETTINGS_MODULE=djbench_settings
EXPOSE 8000
"""


def image_tag(spec):
    return f"djbench-project-{fingerprint.of(spec)}:latest"


def refusal(spec):
    """Why compose cannot run this project, or None."""
    if spec.app_python:
        return "--app-python is an environment of this host; compose builds the project's image"
    if spec.django or spec.asgiref or spec.releases:
        return "another Django or asgiref runs in native or distributed mode, not compose"
    return None


def write(app, cfg, context):
    """The app image's context and the compose file over docker-compose.yml, in `context`;
    returns the run's files as the app container sees them (project/app.RunFiles)."""
    spec = app.spec
    image = context / IMAGE_DIR
    shutil.copytree(spec.root, image / "project", ignore=COPY_IGNORED)
    install = _requirements(app, image / "requirements")
    files = project_app.run_files(app, cfg, image, NO_DATABASE, HOSTS, roots=(STATIC, MEDIA))
    (image / "Dockerfile").write_text(DOCKERFILE.format(
        name=spec.name, source=app.env.source, requirements=REQUIREMENTS, project=PROJECT,
        app_dir=APP_DIR, install=json.dumps(["pip", "install", *install])))  # fmt: skip
    template = NGINX_TEMPLATE.read_text().replace(
        nginx.FILE_LOCATIONS, nginx.file_locations(host_stack.served_files(app, files))
    )
    (context / "project-nginx.conf.template").write_text(template)
    (context / "scenario").mkdir()
    with open(context / ".dockerignore", "a") as ignore:  # not in the Locust image's context
        ignore.write(f"{IMAGE_DIR}\nscenario\n")
    (context / OVERRIDE).write_text(yaml.safe_dump(_services(app, cfg, files, context)))
    return files


def _requirements(app, directory):
    """pip's arguments for the image: the project's requirements (a file within the project
    from its copy there, one outside it copied beside), then what djbench added to the project's
    environment here (the servers, a PostgreSQL driver)."""
    directory.mkdir()
    lines, _ = environment.requirements(app.spec)
    args, plain = [], []
    for line in lines:
        if not line.startswith("-r "):
            plain.append(line)
            continue
        path = Path(line[3:])
        if path.is_relative_to(app.spec.root):
            args += ["-r", f"{PROJECT}/{path.relative_to(app.spec.root)}"]
        else:
            shutil.copyfile(path, directory / path.name)
            args += ["-r", f"{REQUIREMENTS}/{path.name}"]
    if plain:
        (directory / "project.txt").write_text("\n".join(plain) + "\n")
        args += ["-r", f"{REQUIREMENTS}/project.txt"]
    return args + list(app.env.added)


def _services(app, cfg, files, context):
    server = SERVERS[cfg.server]
    command = server.command("0.0.0.0", 8000, cfg.workers, cfg.threads,
                             app=files.entry_points[server.interface])  # fmt: skip
    volumes = [f"static:{STATIC}", f"media:{MEDIA}"]
    locust_files, locust_env, mounts = _locust(app.spec, context)
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    locust = {
        name: {
            "command": re.sub(
                r"-f \S+", f"-f {','.join(locust_files)}", base[name]["command"], count=1
            ),
            "environment": locust_env,
            "volumes": [*(base[name].get("volumes") or []), *mounts],
        }
        for name in ("locust-master", "locust-worker")
    }
    return {
        "services": {
            "app": {
                "build": {"context": f"./{IMAGE_DIR}"},
                "image": image_tag(app.spec),
                "environment": {
                    "DJANGO_SETTINGS_MODULE": "djbench_settings",
                    "PYTHONPATH": f"{APP_DIR}:{PROJECT}",
                    "DJBENCH_ALLOWED_HOSTS": ",".join(HOSTS),
                    "SECRET_KEY": "${DJANGO_SECRET_KEY}",
                    "DATABASE_URL": "postgres://polls:${POSTGRES_PASSWORD}@db:5432/polls",
                },
                "command": command,
                "working_dir": PROJECT,
                "volumes": volumes,
                # Listening is enough: its first page may take long (verification waits).
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import socket; socket.create_connection(('127.0.0.1', 8000), 3)",
                    ],
                    "interval": "1s",
                    "timeout": "5s",
                    "retries": 300,
                },
            },  # fmt: skip
            "nginx": {
                "volumes": [
                    "./project-nginx.conf.template:/etc/djbench/nginx.conf.template:ro",
                    *(f"{v}:ro" for v in volumes),
                ]
            },
            **locust,
        },
        "volumes": {"static": {}, "media": {}},
    }


def _locust(spec, context):
    """Locust's files as its containers see them, its environment and what they mount: the
    user's Locust file from its folder, or pages.py with the run's URLS file."""
    shared = [f"/app/locustfiles/{name}" for name in scenario.SHARED]
    env = {"PYTHONPATH": "/app/polls_project:/app:/app/locustfiles"}  # django_helpers
    if spec.locustfile:
        path = Path(spec.locustfile)
        return [f"{SCENARIO}/{path.name}", *shared], env, [f"{path.parent}:{SCENARIO}:ro"]
    env["DJBENCH_URLS"] = f"{SCENARIO}/urls.txt"
    return ["/app/locustfiles/pages.py", *shared], env, [f"{context / 'scenario'}:{SCENARIO}:ro"]


def set_up(project, app, cfg, logs):
    """The dump restored in the db container, then migrate, the seed and collectstatic in a
    one-off app container: each step's failure names it with its last lines."""
    spec = app.spec
    if spec.dump:
        _restore(project, spec.dump, logs)
    steps = [["migrate", "--noinput"]]
    if spec.seed and not spec.dump:
        steps.append(seed_argv(spec, cfg.questions, cfg.choices))
    if app.static:
        steps.append(["collectstatic", "--noinput"])
    for args in steps:
        done = project("run", "--rm", "--no-deps", "-T", "app", "python", "manage.py", *args,
                       check=False, log="setup.log")  # fmt: skip
        if done.returncode:
            raise ComponentFailed(f"manage.py {shlex.join(args)} failed:\n{_setup_tail(logs)}")


def _restore(project, dump, logs):
    with open(dump, "rb") as f:
        custom = f.read(len(data.CUSTOM_DUMP)) == data.CUSTOM_DUMP
    tool = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "-d", "polls"]
    if not custom:
        tool = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", "polls"]
    with open(dump, "rb") as f, open(logs / "setup.log", "ab") as out:
        done = subprocess.run([*project.argv(), "exec", "-T", "db", *tool, "-U", "polls"],
                              stdin=f, stdout=out, stderr=subprocess.STDOUT, env=project.env,
                              cwd=project.context)  # fmt: skip
    if done.returncode:
        raise ComponentFailed(f"restoring {dump} failed:\n{_setup_tail(logs)}")


def _setup_tail(logs, lines=15):
    return "\n".join((logs / "setup.log").read_text(errors="replace").splitlines()[-lines:])


def prepare_scenario(app, cfg, run, base_url, context):
    """The scenario chosen and verified through the stack's published port, from this host (the
    project's URL routes listed in its environment here); a URLS file's pages written where
    Locust's containers read them."""
    host_files = project_app.run_files(app, cfg, run.tmp, NO_DATABASE, HOSTS)
    found = scenario.prepare(app, host_files, base_url, run.run_dir, run.meta,
                             cfg.client_timeout_s, server=f"{cfg.server} {cfg.view}")  # fmt: skip
    if found.get("pages"):
        urls_file.write(context / "scenario" / "urls.txt",
                        [(p["path"], p["weight"]) for p in found["pages"]])  # fmt: skip
        return found["pages"][0]["path"]
    return "/"


def record(meta, app, cfg, files, project):
    """The project in meta.json as native mode records it, its environment and versions as the
    app container has them."""
    host_stack.record_project(meta, app, files, cfg)
    python, freeze = _inside(project)
    image = image_tag(app.spec)
    meta["project"]["environment"].update(python=f"{image} {python}", built=True, freeze=freeze)
    meta["project"]["image"] = {"tag": image, "dockerfile": f"{IMAGE_DIR}/Dockerfile",
                                "compose_file": OVERRIDE}  # fmt: skip
    for name in host_stack.recorded_packages(cfg):
        meta["versions"][name] = freeze.get(environment.canonical(name))
    meta["versions"]["python"] = python


def _inside(project):
    """(Python's version, {distribution: version}) in the app container."""
    code = (
        "import importlib.metadata as m, json, platform; print(json.dumps([platform."
        "python_version(), {d.metadata['Name']: d.version for d in m.distributions()}]))"
    )
    try:
        python, found = json.loads(project.output("exec", "-T", "app", "python", "-c", code))
    except (ValueError, TypeError):
        return None, {}
    return python, {environment.canonical(name): version for name, version in found.items()}
