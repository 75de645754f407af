"""The project's own Python environment: built by uv from the project's requirements plus the
servers under test at the versions djbench pins, cached by what it was built from; or one the
user already has, to which only the missing servers are added.

The harness (Locust, pandas) keeps its own environment, so a project on another Django, or with
pins of its own, runs as it is deployed."""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from djbench.errors import UserError
from djbench.paths import BIN, ROOT
from djbench.project import versions
from djbench.project.spec import VERSIONS, ProjectSpec
from djbench.stack.servers import SERVERS
from djbench.system.log import log

COMPLETE = ".djbench-complete"  # written last: an environment without it is rebuilt
# The PostgreSQL driver a project gets when its requirements name none.
DRIVERS = ("psycopg", "psycopg2", "psycopg2-binary")
# uvicorn's event loop and HTTP parser (uvloop, httptools) are in the registry's packages, not
# from its "standard" extra, which brings python-dotenv too: its `dotenv` module replaces
# django-dotenv's, which projects import in manage.py.
EXTRAS = {"psycopg": "psycopg[binary,pool]"}


@dataclass
class AppEnvironment:
    python: Path  # the project's interpreter
    source: str  # what it was built from: a requirements file, pyproject.toml, or "yours"
    built: bool  # False: the user's own (--app-python)
    key: str = ""
    added: list = field(default_factory=list)  # distributions djbench added to it
    freeze: dict = field(default_factory=dict)  # distribution -> version, as installed

    @property
    def bin(self):
        return self.python.parent

    def version(self, name):
        return self.freeze.get(canonical(name))


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins():
    """djbench's pins (constraints.txt), by canonical distribution name."""
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pinned[canonical(name)] = (name, version.strip())
    return pinned


def server_requirements(newest_that_fits=False):
    """Every server of the registry, at djbench's versions; or, beside another Django or
    asgiref, the newest release up to djbench's that installs with them."""
    pinned, wanted = pins(), []
    for server in SERVERS.values():
        for package in server.packages:
            name, version = pinned[canonical(package)]
            relation = "<=" if newest_that_fits else "=="
            line = f"{EXTRAS.get(canonical(package), name)}{relation}{version}"
            if line not in wanted:
                wanted.append(line)
    return wanted


def servers_instead(env):
    """{server distribution: (djbench's pin, the release installed)} where they differ: beside
    another Django or asgiref, the newest that installs stood in."""
    pinned_by_name, instead = pins(), {}
    for server in SERVERS.values():
        for package in server.packages:
            name, pinned = pinned_by_name[canonical(package)]
            installed = env.version(name)
            if installed and installed != pinned:
                instead[name] = [pinned, installed]
    return instead


def requirements(spec: ProjectSpec):
    """(requirement lines, where they came from): --requirements, else the project's
    requirements.txt, else its pyproject.toml's dependencies."""
    if spec.requirements:
        return [f"-r {spec.requirements}"], spec.requirements
    listed = spec.root / "requirements.txt"
    if listed.is_file():
        return [f"-r {listed}"], str(listed)
    pyproject = spec.root / "pyproject.toml"
    if pyproject.is_file():
        try:
            deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        except (tomllib.TOMLDecodeError, KeyError, TypeError):
            deps = None
        if deps is not None:
            return list(deps), f"{pyproject} [project.dependencies]"
    raise UserError(
        f"no requirements for {spec.root}: give --requirements FILE, or add a requirements.txt "
        "or a pyproject.toml with [project] dependencies"
    )


def _uv():
    found = BIN / "uv" if (BIN / "uv").exists() else shutil.which("uv")
    if not found:
        raise UserError("uv was not found: reinstall djbench (make .venv/.installed)")
    return str(found)


def _cache_root():
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("DJBENCH_ENVS") or base / "djbench" / "envs")


@dataclass(frozen=True)
class Recipe:
    """What an environment is built from."""

    lines: tuple  # requirement lines ("-r FILE" or a requirement)
    overrides: tuple = ()  # requirements that replace the project's own (another Django)
    other_versions: bool = False  # --django or --asgiref: servers as new as fit beside them

    @property
    def servers(self):
        return server_requirements(newest_that_fits=self.other_versions)


def recipe(spec: ProjectSpec) -> tuple[Recipe, str]:
    lines, source = requirements(spec)
    if not (spec.django or spec.asgiref or spec.releases):
        return Recipe(tuple(lines)), source
    if spec.releases:
        overrides, wanted = versions.RELEASES[spec.releases].lines()
    elif spec.django:
        overrides, wanted = versions.requirement_lines(spec.django, spec.asgiref)
    else:
        overrides, wanted = [], [f"asgiref=={spec.asgiref}"]
    asked = " ".join(f"{o}={getattr(spec, o)}" for o in VERSIONS if getattr(spec, o))
    return Recipe(tuple(lines + wanted), tuple(overrides), True), f"{source} with {asked}"


def _fingerprint(recipe):
    """What an environment is built from: the requirement lines, the files they name, the
    servers' pins and this Python."""
    digest = hashlib.sha256(sys.version.encode())
    overrides = [f"override {line}" for line in recipe.overrides]
    for line in [*recipe.lines, *overrides, *recipe.servers]:
        # A requirements file by its content, not its path: a copy elsewhere is the same.
        text = Path(line[3:]).read_bytes() if line.startswith("-r ") else line.encode()
        digest.update(text + b"\0")
    return digest.hexdigest()[:16]


def _install(python, lines, cwd, what, overrides=None):
    argv = [_uv(), "pip", "install", "--python", str(python), "--quiet"]
    if overrides:
        argv += ["--overrides", str(overrides)]
    for line in lines:
        argv += line.split(" ", 1) if line.startswith("-r ") else [line]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise UserError(f"{what} did not install: " + " | ".join(lines[-3:] or ["(no output)"]))


def _freeze(python):
    out = subprocess.run([_uv(), "pip", "list", "--python", str(python), "--format", "json"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {canonical(d["name"]): d["version"] for d in json.loads(out)}


def _missing_driver(freeze):
    if any(name in freeze for name in DRIVERS):
        return []
    name, version = pins()["psycopg"]
    return [f"{EXTRAS['psycopg']}=={version}"]


def ensure(spec: ProjectSpec) -> AppEnvironment:
    """The project's environment, built (or reused) now; one UserError line if it cannot be."""
    if spec.app_python:
        return _users_own(spec)
    built_from, source = recipe(spec)
    key = _fingerprint(built_from)
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same one: wait for it
        if not (path / COMPLETE).exists():
            _build(path, built_from, spec, source)
        env = AppEnvironment(path / "bin" / "python", source, True, key)
        env.added = json.loads((path / COMPLETE).read_text())
    env.freeze = _freeze(env.python)
    return env


def _build(path, built_from, spec, source):
    log.info(f"building {spec.name}'s environment from {source} (cached in {path})")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(path)],
                   check=True, capture_output=True)  # fmt: skip
    try:
        python = path / "bin" / "python"
        overrides = None
        if built_from.overrides:
            overrides = path / "overrides.txt"
            overrides.write_text("\n".join(built_from.overrides) + "\n")
        lines = [*built_from.lines, *built_from.servers]
        _install(python, lines, spec.root, f"the requirements ({source})", overrides)
        added = _missing_driver(_freeze(python))
        if added:
            _install(python, added, spec.root, "the PostgreSQL driver")
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    (path / COMPLETE).write_text(json.dumps(built_from.servers + added))


def _users_own(spec):
    """--app-python: the user's environment, with only what the run lacks added, said."""
    python = Path(spec.app_python)
    have = _freeze(python)
    wanted = [line for line in server_requirements()
              if canonical(line.split("==")[0].split("[")[0]) not in have]  # fmt: skip
    wanted += _missing_driver(have)
    if wanted:
        log.info(f"adding to {python.parent.parent}: {', '.join(wanted)}")
        _install(python, wanted, spec.root, "the servers djbench adds")
    return AppEnvironment(python, "yours", False, added=wanted, freeze=_freeze(python))
