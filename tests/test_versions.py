"""Django as an axis, before anything runs: what each version's environment is built from, and
what an old Django refuses with one line."""

import pytest

from djbench.errors import UserError
from djbench.project import environment, versions
from djbench.project.spec import POLLS, ProjectSpec, check


def test_a_series_installs_its_last_release_with_the_driver_it_speaks():
    overrides, wanted = versions.requirement_lines("3.0", "")
    assert overrides == ["Django==3.0.14"]
    assert wanted == [versions.PSYCOPG2, "asgiref>=3.2,<3.3"]
    assert versions.requirement_lines("4.2", "") == (["Django==4.2.30"], ["psycopg"])


def test_a_release_and_an_asgiref_are_taken_as_given():
    assert versions.requirement_lines("3.2.5", "3.3.1") == (
        ["Django==3.2.5"],
        [versions.PSYCOPG2, "asgiref==3.3.1"],
    )


@pytest.mark.parametrize("value", ["2.2", "3", "5.3", "latest", "3.0.x", ""])
def test_an_unknown_django_is_one_line(value):
    with pytest.raises(UserError, match="choose a Django series from 3.0, 3.1"):
        versions.check("--django", value)


def test_the_builtin_project_takes_a_django_but_not_other_project_options():
    assert check(ProjectSpec(django="3.0", asgiref="3.2.10")).django == "3.0"
    with pytest.raises(UserError, match="--seed need --project"):
        check(ProjectSpec(django="3.0", seed="loaddata x"))
    with pytest.raises(UserError, match="--asgiref 'x'"):
        check(ProjectSpec(asgiref="x"))


@pytest.mark.parametrize(
    "django, views, pool, refused",
    [
        ("3.0.14", ["async"], None, "async views need Django 4.1+"),
        ("4.0.10", ["async"], None, "async views need Django 4.1+"),
        ("4.1.13", ["async"], None, ""),
        ("5.0.14", ["sync"], (1, 4), "--db-pool needs Django 5.1+"),
        ("5.1.15", ["sync"], (1, 4), ""),
        ("3.0.14", ["sync"], None, ""),
    ],
)
def test_what_an_old_django_refuses(django, views, pool, refused):
    why = versions.refusals(django, views, pool)
    assert why.startswith(refused) if refused else why == ""


def test_another_django_gets_an_environment_of_its_own_with_servers_that_fit():
    base, _ = environment.recipe(POLLS)
    old, source = environment.recipe(ProjectSpec(django="3.0"))
    assert source.endswith("requirements.txt with django=3.0")
    assert old.overrides == ("Django==3.0.14",)
    assert all("==" in line for line in base.servers)
    # Each server at djbench's release or the newest below it that installs beside Django 3.0.
    assert [line.replace("<=", "==") for line in old.servers] == base.servers
    key = {d: environment._fingerprint(environment.recipe(ProjectSpec(django=d))[0])
           for d in ("3.0", "3.0.14", "3.0.13")}  # fmt: skip
    assert key["3.0"] == key["3.0.14"]  # the series is its last release: one environment
    assert len({environment._fingerprint(base), key["3.0"], key["3.0.13"]}) == 3


def test_asgiref_alone_is_a_requirement_beside_the_projects_django():
    recipe, source = environment.recipe(ProjectSpec(asgiref="3.8.1"))
    assert recipe.lines[-1] == "asgiref==3.8.1" and not recipe.overrides
    assert recipe.other_versions and source.endswith("with asgiref=3.8.1")


def test_django_3_0_gets_the_utc_offset_shim_and_later_ones_do_not():
    from djbench.project import settings_file

    class App:
        info = {"django": "3.0.14"}

    assert settings_file.compat(App) == ["utc_offset"]
    App.info = {"django": "3.1.14"}
    assert settings_file.compat(App) == []


def test_a_run_on_another_django_is_named_for_it():
    from djbench import config

    cfg = config.build("uvicorn", project=ProjectSpec(django="3.0", asgiref="3.2.10"))
    assert cfg.variant == "sync-django3.0-asgiref3.2.10"
    assert config.build("uvicorn").variant == "sync"


def test_the_articles_day_pins_its_django_asgiref_and_servers_with_what_stood_in():
    recipe, source = environment.recipe(ProjectSpec(releases="2020"))
    assert source.endswith("requirements.txt with releases=2020")
    assert recipe.overrides == ("Django==3.0.4", "gunicorn==20.0.4", "uvicorn==0.11.3",
                                "daphne==2.4.1", "httptools>=0.6", "setuptools<81")  # fmt: skip
    assert recipe.lines[-2:] == (versions.PSYCOPG2, "asgiref==3.2.4")
    from djbench import config

    assert config.build("uvicorn", project=ProjectSpec(releases="2020")).variant == (
        "sync-releases2020"
    )


@pytest.mark.parametrize(
    "spec, line",
    [
        (ProjectSpec(releases="2019"), "--releases '2019': choose from 2020"),
        (ProjectSpec(releases="2020", django="3.0"),
         "--releases names its own Django and asgiref: leave out --django and --asgiref"),
        (ProjectSpec(releases="2020", asgiref="3.2.10"),
         "--releases names its own Django and asgiref: leave out --django and --asgiref"),
    ],
)  # fmt: skip
def test_a_day_that_is_not_known_or_mixed_with_versions_is_one_line(spec, line):
    with pytest.raises(UserError) as e:
        check(spec)
    assert str(e.value) == line
