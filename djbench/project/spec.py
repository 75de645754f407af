"""What the user says about the project under test, checked before anything starts."""

import ast
import re
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from djbench.errors import UserError
from djbench.paths import DJANGO_DIR
from djbench.project import versions

SETTINGS_RE = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")
MODULE_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class ProjectSpec:
    """Paths are absolute once checked; "" means the default."""

    path: str = ""  # a directory with manage.py; "" = the built-in polls project
    settings: str = ""  # the settings module; "" = the one manage.py sets
    requirements: str = ""  # "" = requirements.txt in the project, else its pyproject.toml
    app_python: str = ""  # an environment the user has, instead of one built for the project
    seed: str = ""  # a management command and its arguments, run after migrate
    dump: str = ""  # a pg_dump (plain or custom format) restored instead of a seed
    locustfile: str = ""  # the user's scenario
    urls: str = ""  # a URLS file: one path per line, an optional weight
    django: str = ""  # another Django than the project's requirements pin (a series or release)
    asgiref: str = ""  # another asgiref than the one Django brings
    releases: str = ""  # a day's Django, asgiref and servers (versions.RELEASES), instead

    @property
    def builtin(self):
        return not self.path

    @property
    def root(self):
        return Path(self.path) if self.path else DJANGO_DIR

    @property
    def name(self):
        return "polls" if self.builtin else self.root.name

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


POLLS = ProjectSpec()
VERSIONS = ("django", "asgiref", "releases")  # the fields any project may vary, polls too
# The command-line option of each field (make's variable is the same name in capitals).
OPTIONS = {f.name: "--" + f.name.replace("_", "-") for f in fields(ProjectSpec)} | {
    "path": "--project"
}


def _file(option, value, must_be_dir=False):
    path = Path(value).expanduser().resolve()
    if must_be_dir and not path.is_dir():
        raise UserError(f"{option} {value}: not a directory")
    if not must_be_dir and not path.is_file():
        raise UserError(f"{option} {value}: no such file")
    return str(path)


def check(spec: ProjectSpec) -> ProjectSpec:
    """The spec with absolute paths, or one UserError line."""
    if spec.django:
        versions.check("--django", spec.django)
    if spec.asgiref:
        versions.check_asgiref(spec.asgiref)
    if spec.releases:
        versions.check_releases(spec.releases)
        if spec.django or spec.asgiref:
            raise UserError("--releases names its own Django and asgiref: leave out --django "
                            "and --asgiref")  # fmt: skip
    if spec.app_python and (spec.django or spec.asgiref or spec.releases):
        raise UserError("--django, --asgiref and --releases build an environment, --app-python "
                        "is yours: one")  # fmt: skip
    if spec.builtin:
        given = [OPTIONS[n] for n, v in spec.as_dict().items()
                 if v and n not in ("path", *VERSIONS)]  # fmt: skip
        if given:
            raise UserError(f"{', '.join(given)} need --project (the polls project is built in)")
        return spec
    root = Path(_file("--project", spec.path, must_be_dir=True))
    if not (root / "manage.py").is_file():
        raise UserError(f"--project {spec.path}: not a Django project (no manage.py in {root})")
    values = spec.as_dict() | {"path": str(root)}
    for name in ("requirements", "dump", "locustfile", "urls"):
        if values[name]:
            values[name] = _file(OPTIONS[name], values[name])
    if spec.app_python:
        python = Path(spec.app_python).expanduser()
        if not (python.is_file() and python.stat().st_mode & 0o111):
            raise UserError(f"--app-python {spec.app_python}: not an executable Python")
        values["app_python"] = str(python.absolute())  # a venv's python is a symlink: keep it
    if spec.app_python and spec.requirements:
        raise UserError("--requirements builds an environment, --app-python is yours: one of them")
    if spec.seed and spec.dump:
        raise UserError("--seed and --dump both load data: one of them")
    if spec.locustfile and spec.urls:
        raise UserError("--locustfile and --urls are both a scenario: one of them")
    if spec.settings and not MODULE_RE.fullmatch(spec.settings):
        raise UserError(f"--settings {spec.settings!r}: not a Python module name")
    if spec.seed:
        try:
            words = shlex.split(spec.seed)
        except ValueError as e:
            raise UserError(f"--seed {spec.seed!r}: {e}") from None
        if not words:
            raise UserError("--seed is empty: give a management command and its arguments")
    if values["locustfile"]:
        _check_user_class(values["locustfile"])
    checked = ProjectSpec(**values)
    settings_module(checked)  # a manage.py that names none fails here, before anything starts
    return checked


def _check_user_class(locustfile):
    """A Locust file without a user class would start a Locust that runs nothing: refused now.
    Read, not imported (it may need what only the load's environment has)."""
    try:
        tree = ast.parse(Path(locustfile).read_text(), filename=locustfile)
    except SyntaxError as e:
        raise UserError(f"--locustfile {locustfile}, line {e.lineno}: {e.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            (b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")).endswith("User")
            for b in node.bases
        ):
            return
    raise UserError(
        f"--locustfile {locustfile} defines no Locust user class (a class extending HttpUser, "
        "FastHttpUser or User)"
    )


def settings_module(spec: ProjectSpec) -> str:
    """--settings, else the module manage.py sets."""
    if spec.settings:
        return spec.settings
    found = SETTINGS_RE.search((spec.root / "manage.py").read_text(errors="replace"))
    if not found:
        raise UserError(
            f"{spec.root / 'manage.py'} sets no DJANGO_SETTINGS_MODULE; give --settings MODULE"
        )
    return found.group(1)


def seed_argv(spec: ProjectSpec, questions, choices) -> list[str]:
    """The seed's manage.py arguments; the polls project seeds its questions and choices."""
    if spec.builtin:
        return ["seed_polls", "--questions", str(questions), "--choices", str(choices)]
    return shlex.split(spec.seed)
