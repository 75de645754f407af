"""Repetitions: the same configuration run several times (`--repeat N`), summarised as the
spread of each step's numbers and of the knee, so a reader sees how sure a run is."""

import json
import statistics

from djbench.analysis.runs.run import Run, default_label


def _configuration(run: Run) -> str:
    """Runs are repetitions of each other when everything they were configured with matches."""
    config = {k: v for k, v in (run.meta.get("config") or {}).items() if k != "repetition"}
    return json.dumps([run.meta.get("mode"), default_label(run.meta), config], sort_keys=True)


def _groups(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(_configuration(run), []).append(run)
    return [(default_label(g[0].meta), g) for g in groups.values() if len(g) > 1]


def _spread(values, decimals=1) -> str:
    """'median (min-max)' of the values present; '' when none."""
    values = [v for v in values if v == v]  # NaN: no requests in that step
    if not values:
        return ""
    fmt = f"{{:.{decimals}f}}"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(low)}-{fmt.format(high)})"


def _step_values(group: list[Run], users: int, column: str) -> list[float]:
    values = []
    for run in group:
        row = run.steps[run.steps["users"] == users]
        if not row.empty and row["requests"].iloc[0] > 0:
            values.append(float(row[column].iloc[0]))
    return values


def knee_spread(group: list[Run], threshold_pct: float) -> str:
    knees = [run.knee(threshold_pct) for run in group]
    found = [k for k in knees if k is not None]
    text = ", ".join("none" if k is None else str(k) for k in knees)
    if not found:
        return f"knee at {threshold_pct:g} %: none in any run ({text})"
    return (
        f"knee at {threshold_pct:g} %: median {statistics.median(found):g} users, "
        f"{min(found)}-{max(found)} over {len(group)} runs ({text})"
    )


def repetition_blocks(runs: list[Run], thresholds) -> list[dict]:
    """For every configuration run more than once: a table of median (min-max) per step and
    the knee's spread per threshold."""
    header = ["Users", "Runs", "Failure %", "Requests/s", "p95 (ms)"]
    blocks = []
    for label, group in _groups(runs):
        users = sorted({int(u) for run in group for u in run.steps["users"]})
        rows = []
        for u in users:
            pct = _step_values(group, u, "failure_pct")
            rows.append(
                [str(u), str(len(pct)), _spread(pct), _spread(_step_values(group, u, "rps")),
                 _spread(_step_values(group, u, "p95_ms"), 0)]
            )  # fmt: skip
        knees = [knee_spread(group, t) for t in thresholds]
        blocks.append({"label": label, "runs": len(group), "header": header, "rows": rows,
                       "knees": knees})  # fmt: skip
    return blocks
