"""The project a report measured: the built-in polls project (whose runs the article's numbers
sit beside) or a user's own, named with what it ran on and what the benchmark set."""

from djbench.analysis.errors import AnalysisError


def project_of(runs) -> dict | None:
    """meta.json's project of the runs, None for polls (also runs recorded before projects
    were recorded); runs of different projects are not comparable."""
    found = {}
    for run in runs:
        project = run.meta.get("project") or {"builtin": True, "name": "polls"}
        found[(project.get("name"), project.get("path"))] = project
    if len(found) > 1:
        names = ", ".join(sorted(str(name) for name, _ in found))
        raise AnalysisError(f"runs are not comparable: they measured different projects ({names})")
    (project,) = found.values()
    return None if project.get("builtin") else project


def headline(project: dict) -> str:
    """One line: the project, its revision, settings and Django."""
    revision = project.get("git_revision") or "not in git"
    env = project.get("environment", {})
    return (
        f"{project['name']} ({project['path']}; revision {revision}; settings "
        f"{project['settings']}; Django {env.get('django')})"
    )


def details(project: dict, runs) -> list[list[str]]:
    """[field, value] rows: environment, entry points, scenario, data, overrides, notes."""
    env = project.get("environment", {})
    freeze = env.get("freeze", {})
    spec = project.get("spec", {})
    versions = ", ".join(
        f"{name} {freeze[name]}" for name in ("django", "asgiref", "psycopg", "psycopg2")
        if name in freeze
    )  # fmt: skip
    rows = [
        ["Project", headline(project)],
        [
            "Environment",
            f"{env.get('python')} built from {env.get('built_from')}"
            if env.get("built")
            else f"{env.get('python')} (yours)",
        ],  # fmt: skip
        ["Versions", versions],
        ["Added by djbench", ", ".join(env.get("added") or []) or "nothing"],
        [
            "Entry points",
            ", ".join(f"{k.upper()} {v}" for k, v in (project.get("entry_points") or {}).items()),
        ],  # fmt: skip
        ["Data", _data(spec)],
        ["Settings set by djbench", ", ".join(project.get("overrides") or [])],
        ["Served by nginx", ", ".join(project.get("served_by_nginx") or {}) or "nothing"],
    ]
    scenario = runs[0].meta.get("scenario") or {}
    rows.append(["Scenario", _scenario(scenario)])
    rows += [["Note", note] for note in project.get("notes") or []]
    return rows


def _data(spec):
    if spec.get("dump"):
        return f"restored from {spec['dump']}, then migrate"
    if spec.get("seed"):
        return f"migrate, then manage.py {spec['seed']}"
    return "migrate only"


def _scenario(scenario):
    kind = scenario.get("kind")
    if kind == "locustfile":
        return f"the Locust file {scenario['locustfile']}"
    pages = ", ".join(f"{p['path']} x{p['weight']}" for p in scenario.get("pages", []))
    where = {"urls": "the URLS file", "discovered": "pages discovered, written to"}.get(kind, "")
    return f"GET {pages} ({where} {scenario.get('urls_file')})" if pages else str(kind)
