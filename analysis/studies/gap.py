"""Where a gap between two failure tables comes from: accounting, load variant, window, spread.

Issue 15 compares an independent run (the article's accounting, 50 users/s) with our reference
uvicorn run (analysis/reference/independent_2026.csv against results/reference/). This module
takes runs grouped by variant (the same configuration with one setting changed: spawn rate,
fresh stack per step, ...; each variant ideally run several times) and separates, per user step:

- accounting: the article's two samples per iteration against our per-request count, on the
  same requests (analysis/accounting.py);
- window: the article's accounting over the whole step (ramp-up and warm-up included) against
  our measured window, on the same requests;
- variant: the median of each variant against the first variant's;
- spread: min-max over the repetitions of one variant (run-to-run noise);

and writes gap.md (tables), gap.csv (one row per run and step) into a new directory.

    python -m analysis.gap --out DIR NAME=RUN_DIR [NAME=RUN_DIR ...]

Runs sharing a NAME are repetitions of one variant.
"""

import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from djbench.analysis.errors import AnalysisError
from djbench.analysis.markdown import markdown_table
from djbench.analysis.report.article import REFERENCE_CSV, load_reference, series
from djbench.analysis.runs.accounting import Accounting
from djbench.analysis.runs.metrics import read_requests, read_timeline
from djbench.analysis.runs.run import Run, fresh_stack_per_step, load_run

INDEPENDENT_CSV = REFERENCE_CSV.parent / "independent_2026.csv"
COLUMNS = [
    "variant", "run_id", "spawn_rate", "fresh_stack_per_step", "step", "users",
    "per_request_pct", "article_pct", "article_whole_step_pct", "iteration_pct",
    "inflight_at_open", "inflight_mean",
]  # fmt: skip


def run_rows(variant: str, run: Run) -> list[dict]:
    """One row per step of the run, the whole-step numbers recomputed from its request log."""
    whole = Accounting(read_requests(run.path))
    timeline = read_timeline(run.path).set_index("step")
    rows = []
    for _, step in run.steps.iterrows():
        bounds = timeline.loc[int(step["step"])]
        entire = whole.window(float(bounds["start"]), float(bounds["end"]))
        rows.append(
            {
                "variant": variant,
                "run_id": run.run_id,
                "spawn_rate": run.meta.get("spawn_rate"),
                "fresh_stack_per_step": int(fresh_stack_per_step(run.meta)),
                "step": int(step["step"]),
                "users": int(step["users"]),
                "per_request_pct": step["failure_pct"],
                "article_pct": step["article_failure_pct"],
                "article_whole_step_pct": entire["article_failure_pct"],
                "iteration_pct": step["iteration_failure_pct"],
                "inflight_at_open": step["inflight_at_open"],
                "inflight_mean": step["inflight_mean"],
            }
        )
    return rows


def study_frame(groups: dict[str, list[Path]]) -> pd.DataFrame:
    rows = [
        row for name, dirs in groups.items() for d in dirs for row in run_rows(name, load_run(d))
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _median(values) -> float:
    values = [v for v in values if pd.notna(v)]
    return statistics.median(values) if values else np.nan


def _fmt(value, signed=False) -> str:
    if pd.isna(value):
        return ""
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _spread(values) -> str:
    values = [v for v in values if pd.notna(v)]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _by_users(frame: pd.DataFrame, column: str) -> dict[int, list[float]]:
    return {int(u): [v for v in g[column] if pd.notna(v)] for u, g in frame.groupby("users")}


def _medians(frame: pd.DataFrame, column: str) -> dict[int, float]:
    return {u: _median(values) for u, values in _by_users(frame, column).items()}


def _line(label: str, by_users: dict, users, signed=False) -> list[str]:
    return [label] + [_fmt(by_users.get(u), signed) for u in users]


def _independent() -> dict[str, dict[int, float]]:
    if not INDEPENDENT_CSV.exists():
        return {}
    return {
        name: dict(zip(s["users"], s["failure_pct"], strict=True))
        for name, s in series(load_reference(INDEPENDENT_CSV)).items()
    }


def tables(frame: pd.DataFrame) -> list[dict]:
    """The study as titled tables: {title, text, header, rows}."""
    users = sorted(frame["users"].unique())
    variants = list(dict.fromkeys(frame["variant"]))
    header = ["", *map(str, users)]
    out = []

    rows = []
    for v in variants:
        part = frame[frame["variant"] == v]
        n = part["run_id"].nunique()
        runs = f"{n} run" + ("s" if n > 1 else "")
        for column, how in [("per_request_pct", "per request"), ("article_pct", "article's")]:
            values = _by_users(part, column)
            rows.append([f"{v}, {how} ({runs})"] + [_spread(values.get(u, [])) for u in users])
    independent = _independent()
    for name, values in independent.items():
        rows.append(_line(name, values, users))
    out.append(
        {
            "title": "Failure % by variant: median (min-max) over its runs",
            "text": "Per request: our three requests per iteration each count. Article's: two "
            "samples per iteration, the form and the vote with its results page.",
            "header": header,
            "rows": rows,
        }
    )

    effects = []
    base = _medians(frame[frame["variant"] == variants[0]], "article_pct")
    for v in variants:
        part = frame[frame["variant"] == v]
        article = _medians(part, "article_pct")
        accounting = part.assign(d=part["article_pct"] - part["per_request_pct"])
        effects.append(_line(f"accounting, {v}", _medians(accounting, "d"), users, True))
        window = part.assign(d=part["article_whole_step_pct"] - part["article_pct"])
        effects.append(_line(f"whole step, {v}", _medians(window, "d"), users, True))
        ranges = {
            u: max(x) - min(x) for u, x in _by_users(part, "article_pct").items() if len(x) > 1
        }
        effects.append(_line(f"spread (max - min), {v}", ranges, users))
        if v != variants[0]:
            diff = {u: article[u] - base[u] for u in article if u in base}
            effects.append(_line(f"{v} against {variants[0]}", diff, users, True))
        for name, published in independent.items():
            diff = {u: published[u] - article[u] for u in article if u in published}
            effects.append(_line(f"{name} against {v}", diff, users, True))
    out.append(
        {
            "title": "Where the differences come from, in failure-% points (article's accounting)",
            "text": "accounting: the article's % minus the per-request %, on the same requests "
            "(median over runs). whole step: the article's % with ramp-up and warm-up counted, "
            "minus the measured window's. spread: between repetitions of one variant. A "
            "variant or a quoted run against a variant: its (median) % minus the variant's "
            "median; a difference inside the spread is noise.",
            "header": header,
            "rows": effects,
        }
    )

    carry = []
    for v in variants:
        part = frame[frame["variant"] == v]
        carry.append(_line(f"{v}, in flight at open", _medians(part, "inflight_at_open"), users))
        carry.append(_line(f"{v}, mean in flight", _medians(part, "inflight_mean"), users))
    out.append(
        {
            "title": "Carry-over: requests in flight when the window opens and on average in it",
            "text": "Median over runs. More in flight at the opening than on average means "
            "the window inherited a backlog above its own steady state.",
            "header": header,
            "rows": carry,
        }
    )
    return out


def write(groups: dict[str, list[Path]], out_dir: Path) -> Path:
    """Write gap.md and gap.csv into the new directory out_dir; return gap.md's path."""
    if not groups or not any(groups.values()):
        raise AnalysisError("no runs given")
    frame = study_frame(groups)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise AnalysisError(f"{out_dir} already exists; a study is never overwritten") from None
    frame.to_csv(out_dir / "gap.csv", index=False)
    parts = ["# Failure % gap: accounting, variant, window and spread"]
    parts.append(
        "Runs: "
        + "; ".join(
            f"{name}: {', '.join(Path(d).name for d in dirs)}" for name, dirs in groups.items()
        )
    )
    for table in tables(frame):
        parts += [
            f"## {table['title']}",
            table["text"],
            markdown_table(table["header"], table["rows"]),
        ]
    path = out_dir / "gap.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def parse_groups(items: list[str]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for item in items:
        name, sep, run_dir = item.partition("=")
        if not sep or not name or not run_dir:
            raise AnalysisError(f"bad run {item!r}: expected NAME=RUN_DIR")
        groups.setdefault(name, []).append(Path(run_dir))
    return groups
