"""The project's database and files, as a deployment sets them up: the dump restored (if any),
migrate, the seed command, collectstatic. Each step's failure names it with its last lines."""

from djbench.errors import ComponentFailed
from djbench.project import services
from djbench.project.spec import seed_argv
from djbench.stack import postgres

CUSTOM_DUMP = b"PGDMP"  # pg_dump -Fc files start with it; anything else is read as plain SQL


def set_up(app, files, cfg, procs, logs, cwd):
    """Run each set-up step in the project's environment; returns what ran, for meta.json."""
    spec, steps = app.spec, []
    if spec.dump:
        _restore(spec.dump, files.env, procs, logs, cwd)
        steps.append(f"restored {spec.dump}")
    commands = [["migrate", "--noinput"]]
    if not spec.dump and (spec.builtin or spec.seed):
        commands.append(seed_argv(spec, cfg.questions, cfg.choices))
    for args in commands:
        _manage(app, files, args, procs, logs)
        steps.append("manage.py " + " ".join(args))
    return steps


def collect_static(app, files, procs, logs):
    """collectstatic into the run's STATIC_ROOT, which nginx serves; nothing without the app."""
    if app.static:
        _manage(app, files, ["collectstatic", "--noinput"], procs, logs)


def _manage(app, files, args, procs, logs):
    argv = [str(app.env.python), str(app.spec.root / "manage.py"), *args]
    # From the project's directory, as its developers run it: settings may hold relative paths.
    step = procs.run(args[0], argv, logs / "setup.log", env=files.env, cwd=app.spec.root)
    if step.proc.returncode:
        tail = step.log_tail()
        why = services.hint(tail)
        raise ComponentFailed(
            f"manage.py {' '.join(args)} failed{': ' + why if why else ''}:\n{tail}"
        )


def _restore(dump, env, procs, logs, cwd):
    with open(dump, "rb") as f:
        custom = f.read(len(CUSTOM_DUMP)) == CUSTOM_DUMP
    target = ["-h", env["POSTGRES_HOST"], "-p", env["POSTGRES_PORT"], "-U", env["POSTGRES_USER"]]
    if custom:
        argv = [postgres.find_binary("pg_restore"), *target, "-d", env["POSTGRES_DB"],
                "--no-owner", "--no-privileges", "--exit-on-error", dump]  # fmt: skip
    else:
        argv = [postgres.find_binary("psql"), *target, "-d", env["POSTGRES_DB"], "-q",
                "-v", "ON_ERROR_STOP=1", "-f", dump]  # fmt: skip
    # The password in the environment, never in argv.
    step = procs.run("restore", argv, logs / "setup.log", cwd=cwd,
                     env={**env, "PGPASSWORD": env["POSTGRES_PASSWORD"]})  # fmt: skip
    if step.proc.returncode:
        raise ComponentFailed(f"restoring {dump} failed:\n{step.log_tail()}")
