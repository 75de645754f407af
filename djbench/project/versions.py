"""Django as an axis: the releases a run can ask for (--django, --asgiref), what each needs
beside it, and which of the project's features it has."""

import re
from dataclasses import dataclass

from djbench.errors import UserError

VERSION_RE = re.compile(r"\d+\.\d+(\.\d+)?")


@dataclass(frozen=True)
class Series:
    release: str  # the series' last release on PyPI (what --django SERIES installs)
    asgiref: str = ""  # a requirement beside Django's own, "" = the newest Django accepts
    # Django 4.2 is the first to speak psycopg 3; before it, psycopg2 (2.9: 2.8 has no wheel
    # for this Python).
    driver: str = "psycopg"


PSYCOPG2 = "psycopg2-binary==2.9.13"
SERIES = {
    # Django 3.0 accepts any asgiref 3; it gets the 3.2 of its time, because 3.3 made
    # sync_to_async thread-sensitive by default, and 3.0 calls it without saying: under 3.2 its
    # sync views run in a thread pool, under 3.3+ one at a time per process (--asgiref 3.3.4).
    "3.0": Series("3.0.14", asgiref="asgiref>=3.2,<3.3", driver=PSYCOPG2),
    "3.1": Series("3.1.14", driver=PSYCOPG2),
    "3.2": Series("3.2.25", driver=PSYCOPG2),
    "4.0": Series("4.0.10", driver=PSYCOPG2),
    "4.1": Series("4.1.13", driver=PSYCOPG2),
    "4.2": Series("4.2.30"),
    "5.0": Series("5.0.14"),
    "5.1": Series("5.1.15"),
    "5.2": Series("5.2.19"),
}
# The first releases with what the run may ask for.
ASYNC_VIEWS = (4, 1)  # async ORM calls (Model.asave, QuerySet.aget)
DB_POOL = (5, 1)  # DATABASES OPTIONS "pool"
UTC_OFFSET_SHIM = (3, 1)  # the first without it (settings_file.UTC_OFFSET_SHIM)
# The first whose ASGIHandler runs each request's sync code on a thread of its own
# (asgiref's ThreadSensitiveContext, Django ticket #32889); before it, one thread per process.
THREAD_PER_REQUEST = (4, 0)


def series_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def release_of(django: str) -> str:
    """3.0 -> 3.0.14 (the series' last release); a release as given."""
    return django if django.count(".") == 2 else SERIES[series_of(django)].release


def as_tuple(version: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:2])


def check(option: str, value: str) -> str:
    """A Django series (3.0) or release (3.0.14) djbench knows how to install."""
    if not VERSION_RE.fullmatch(value) or series_of(value) not in SERIES:
        raise UserError(f"{option} {value!r}: choose a Django series from {', '.join(SERIES)}")
    return value


def check_asgiref(value: str) -> str:
    if not VERSION_RE.fullmatch(value):
        raise UserError(f"--asgiref {value!r}: give a release such as 3.2.10")
    return value


@dataclass(frozen=True)
class Releases:
    """The releases of one day, as far as they install on this Python: Django, asgiref and the
    servers (distribution -> release); stand_ins: (requirement, why) where one of their own
    dependencies of that day does not build here and a later release stands in."""

    day: str
    django: str
    asgiref: str
    servers: dict
    runs: tuple  # the registry's servers those releases are (others had no release that day)
    stand_ins: tuple = ()

    def lines(self) -> tuple[list[str], list[str]]:
        """(overrides, requirements), as requirement_lines gives them."""
        overrides = [f"Django=={self.django}", *(f"{n}=={v}" for n, v in self.servers.items()),
                     *(line for line, _ in self.stand_ins)]  # fmt: skip
        return overrides, [SERIES[series_of(self.django)].driver, f"asgiref=={self.asgiref}"]


# The article's stack: what PyPI had on the day it was published (2020-03-10).
RELEASES = {
    "2020": Releases(
        "2020-03-10", "3.0.4", "3.2.4",
        {"gunicorn": "20.0.4", "uvicorn": "0.11.3", "daphne": "2.4.1"},
        ("gunicorn", "gunicorn-gthread", "uvicorn", "daphne"),
        stand_ins=(("httptools>=0.6", "httptools 0.1 (what uvicorn 0.11 asks for) does not "
                    "build on Python 3.11"),
                   ("setuptools<81", "gunicorn 20.0 imports pkg_resources, which setuptools "
                    "81+ no longer has")),
    ),
}  # fmt: skip


def check_releases(value: str) -> str:
    if value not in RELEASES:
        raise UserError(f"--releases {value!r}: choose from {', '.join(RELEASES)}")
    return value


def requirement_lines(django: str, asgiref: str) -> tuple[list[str], list[str]]:
    """(overrides, requirements) for an environment on another Django: the project's own pin
    of Django is overridden; asgiref and the driver are requirements the resolver must fit
    with everything else."""
    series = SERIES[series_of(django)]
    overrides = [f"Django=={release_of(django)}"]
    wanted = [series.driver]
    if asgiref:
        wanted.append(f"asgiref=={asgiref}")
    elif series.asgiref:
        wanted.append(series.asgiref)
    return overrides, wanted


def refusals(django_version: str, views, db_pool) -> str:
    """Why a run cannot ask this Django for what it asks, or ""."""
    have = as_tuple(django_version)
    if "async" in views and have < ASYNC_VIEWS:
        return (f"async views need Django {'.'.join(map(str, ASYNC_VIEWS))}+ "
                f"(async ORM calls); this environment has Django {django_version}")  # fmt: skip
    if db_pool and have < DB_POOL:
        return (f"--db-pool needs Django {'.'.join(map(str, DB_POOL))}+; this environment has "
                f"Django {django_version}")  # fmt: skip
    return ""
