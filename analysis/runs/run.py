"""A run directory loaded for reporting: its metadata, its per-step metrics and a display label."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from djbench.analysis.errors import AnalysisError, document_errors
from djbench.analysis.runs.metrics import knee, step_metrics
from djbench.contracts.documents import META, load_meta, meta_config
from djbench.contracts.files import TIMELINE

REQUIRED_META = ["run_id", "server", "interface", "users"]


@dataclass(frozen=True)
class Run:
    path: Path
    meta: dict
    steps: pd.DataFrame
    label: str

    @property
    def run_id(self) -> str:
        return str(self.meta["run_id"])

    @property
    def interface(self) -> str:
        return str(self.meta["interface"]).lower()

    @property
    def server(self) -> str:
        return str(self.meta["server"])

    @property
    def planned_users(self) -> list[int]:
        return [int(u) for u in self.meta["users"]]

    @property
    def phrase(self) -> str:
        """The article's way of naming a setup: 'WSGI (gunicorn)'."""
        return f"{self.interface.upper()} ({self.server}{_view_suffix(self.meta)})"

    @property
    def polls(self) -> bool:
        """The built-in polls project (runs recorded before projects were are polls)."""
        return (self.meta.get("project") or {}).get("builtin", True)

    @property
    def measure(self) -> str:
        """The failure % the table and the knees use: the article's accounting for polls, per
        request for a project of the user's, which has no votes to count samples by."""
        return "article_failure_pct" if self.polls else "failure_pct"

    def knee(self, threshold_pct: float, column: str = "failure_pct") -> int | None:
        return knee(self.steps, threshold_pct, column)


def fresh_stack_per_step(meta: dict) -> bool:
    """Whether every step ran on a fresh stack (config `fresh_stack_per_step`), instead of one
    stack stepped up, each step inheriting the previous one's backlog (analysis/carryover.py).
    Runs recorded before the option existed were stepped."""
    return bool(meta_config(meta).get("fresh_stack_per_step", False))


def _view_suffix(meta: dict) -> str:
    # Sync views on one stepped stack are the article's setup; only departures need saying.
    suffix = ", async views" if meta.get("view") == "async" else ""
    return suffix + (", fresh stack per step" if fresh_stack_per_step(meta) else "")


def versions_asked(meta: dict) -> dict:
    """{"Django": "3.0.14", ...}: the releases a run on another Django or asgiref ran on (as
    installed), {} for a run on the project's own."""
    spec = (meta.get("project") or {}).get("spec") or {}
    ran = meta.get("versions") or {}
    asked = ("Django", "asgiref") if spec.get("releases") else [
        name for name in ("Django", "asgiref") if spec.get(name.lower())]  # fmt: skip
    return {name: ran.get(name) or spec.get(name.lower()) for name in asked}


def default_label(meta: dict) -> str:
    """'gunicorn (WSGI)', 'uvicorn (ASGI, async views)', or 'uvicorn (ASGI, Django 3.0.14)'."""
    versions = "".join(f", {name} {v}" for name, v in versions_asked(meta).items())
    return f"{meta['server']} ({str(meta['interface']).upper()}{_view_suffix(meta)}{versions})"


def read_meta(run_dir: Path) -> dict:
    """meta.json of a run, through its loader, with the fields every report uses."""
    path = run_dir / META.file
    with document_errors():
        meta = load_meta(path)
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise AnalysisError(f"{path} lacks field(s): {', '.join(missing)}")
    if not isinstance(meta["users"], list) or not all(isinstance(u, int) for u in meta["users"]):
        raise AnalysisError(f"{path}: users must be a list of integers")
    return meta


def load_run(run_dir: Path | str) -> Run:
    """Load a results/<run-id>/ directory; AnalysisError with a one-line message if unusable."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise AnalysisError(f"{run_dir} does not exist")
    if not run_dir.is_dir():
        raise AnalysisError(f"{run_dir} is not a directory")
    if not (run_dir / META.file).exists():
        raise AnalysisError(f"{run_dir} is not a run directory (no {META.file})")
    meta = read_meta(run_dir)
    if not (run_dir / TIMELINE).exists():
        raise AnalysisError(f"{run_dir} has no {TIMELINE}: no step was recorded")
    return Run(path=run_dir, meta=meta, steps=step_metrics(run_dir), label=default_label(meta))


def distinct_labels(runs: list[Run]) -> list[Run]:
    """Runs whose labels collide (repetitions, same server twice) get their run id appended."""
    labels = [run.label for run in runs]
    return [
        dataclasses.replace(run, label=f"{run.label} [{run.run_id}]")
        if labels.count(run.label) > 1
        else run
        for run in runs
    ]
