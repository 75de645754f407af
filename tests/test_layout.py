"""The layout stays readable: no import circle among the project's modules (function-level
imports included), and no source file over 450 lines."""

import ast
import tomllib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where each import name's modules live: analysis/ is imported as djbench.analysis.
PACKAGES = {"djbench": ROOT / "djbench", "djbench.analysis": ROOT / "analysis",
            "locustfiles": ROOT / "locustfiles", "": ROOT / "polls_project"}  # fmt: skip
MAX_LINES = 450


def modules():
    """module name -> path, for every .py file of the project (tests aside)."""
    found = {}
    for prefix, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(p for p in [prefix, *parts] if p)] = path
    return found


def imports(name, path, known):
    """The project's modules that `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        for imported in names:
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            # A package's own __init__ is imported first by any of its modules: not an edge.
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
    return targets


def cycle(graph):
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        return e.args[1]
    return None


def test_no_import_circle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert len(known) > 90  # the walk found the project
    assert cycle(graph) is None


def test_a_circle_is_found(tmp_path):
    """The check above can fail: a circle through a function-level import is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert set(cycle(graph)) == {"a", "b", "c"}
    fake = tmp_path / "y.py"
    fake.write_text("def f():\n    from . import x\n    from djbench.z.w import v\n")
    found = imports("djbench.y", fake, {"djbench.x", "djbench.y", "djbench.z"})
    assert found == {"djbench.x", "djbench.z"}


def test_no_source_file_over_450_lines():
    files = [*modules().values(), *(ROOT / "tests").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def test_the_wheel_lists_every_package():
    """A sub-package missing from pyproject.toml is missing from the installed command only."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {name if name.startswith("djbench") else f"djbench.polls_project.{name}"
             for name, path in modules().items() if path.name == "__init__.py"}  # fmt: skip
    assert found - listed == set()
