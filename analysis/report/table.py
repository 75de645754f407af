"""The article-format table (failure % by user count) and the knee sentence.

Our rows count as the article did, two samples per vote attempted (analysis/accounting.py),
so they can sit beside its published numbers: counting each of our three requests would dilute
the failure % by about a third. The same steps counted per request and per vote attempted
follow in a block of their own.
"""

import math
from pathlib import Path

import pandas as pd

from djbench.analysis.markdown import markdown_table
from djbench.analysis.report import article
from djbench.analysis.runs.metrics import knee
from djbench.analysis.runs.run import Run


def fmt(value, decimals: int = 0) -> str:
    """A number for a table cell; empty for a missing one (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{decimals}f}"


NOT_RUN = ""  # a planned step that never ran
NO_REQUESTS = "n/a"  # a step that ran but completed no request inside its measured window
ARTICLE = "article_failure_pct"  # the article's accounting: the table's and the knee's measure
# The other two ways to count the same steps: (column, how the row is labelled).
OTHER_COUNTS = [
    ("failure_pct", "per request"),
    ("iteration_failure_pct", "votes attempted"),
]


def _users_union(runs: list[Run]) -> list[int]:
    planned = {u for run in runs for u in run.planned_users}
    return sorted(planned | {int(u) for run in runs for u in run.steps["users"]})


def _our_value(run: Run, users: int, column: str | None = None) -> float | None:
    """Failure % of the run's step at `users` (first such step; the run's own measure unless
    `column`), NaN without requests, None if the step never ran."""
    column = column or run.measure
    rows = run.steps[run.steps["users"] == users]
    if rows.empty:
        return None
    value = rows.iloc[0][column]
    return round(float(value), 1) if pd.notna(value) else math.nan


def failure_table(runs: list[Run], reference: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per run (its label: the article's accounting) and per article series,
    then one per run counted each other way ('<label>, per request', '<label>, votes attempted');
    one column per user count.

    Our values are rounded to one decimal; a step not run, or with no request, is NaN.
    """
    users = sorted(set(_users_union(runs)) | set(reference["users"].astype(int)))
    rows = {}
    for run in runs:
        values = [_our_value(run, u) for u in users]
        rows[run.label] = [math.nan if v is None else v for v in values]
    for name, frame in article.series(reference).items():
        published = dict(zip(frame["users"], frame["failure_pct"], strict=True))
        rows[name] = [published.get(u, math.nan) for u in users]
    for column, how in OTHER_COUNTS:
        for run in runs:
            values = [_our_value(run, u, column) for u in users]
            rows[f"{run.label}, {how}"] = [math.nan if v is None else v for v in values]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=users)
    table.index.name = "series"
    return table


def _cell(value: float | None) -> str:
    if value is None:
        return NOT_RUN
    return NO_REQUESTS if math.isnan(value) else f"{value:.1f}"


def _our_rows(runs: list[Run], users: list[int]) -> list[list[str]]:
    return [[run.label] + [_cell(_our_value(run, u)) for u in users] for run in runs]


def _other_rows(runs: list[Run], users: list[int]) -> list[list[str]]:
    return [
        [f"{run.label}, {how}"] + [_cell(_our_value(run, u, column)) for u in users]
        for run in runs
        for column, how in OTHER_COUNTS
    ]


def _article_rows(reference: pd.DataFrame, users: list[int]) -> list[list[str]]:
    rows = []
    for name, frame in article.series(reference).items():
        published = dict(zip(frame["users"], frame["failure_pct"], strict=True))
        rows.append([name] + [f"{published[u]:g}" if u in published else "" for u in users])
    return rows


LEGEND = (
    "Our rows count as the article did: two samples per vote attempted, the poll form and the "
    "vote with its redirect to the results page followed, so a failure on the vote or on the "
    f"results page is one failed sample. Blank: step not run. {NO_REQUESTS}: no request "
    "completed in the step's measured window."
)
PROJECT_LEGEND = (
    f"Each request counts once. Blank: step not run. {NO_REQUESTS}: no request completed in the "
    "step's measured window."
)
OTHER_INTRO = (
    "The same steps counted two other ways: per request (the form, the vote and the results "
    "page each count; our log's own accounting) and per vote attempted (the share of "
    "iterations in which any request failed):"
)


def table_blocks(runs: list[Run], reference: pd.DataFrame) -> list[dict]:
    """The table as blocks of {intro, header, rows}: one block when our user steps are the
    article's, else ours first and the article's after, so no column mixes incomparable loads."""
    users = _users_union(runs)
    ref_users = sorted(int(u) for u in reference["users"].unique())
    header = ["Failure % / users", *map(str, users)]
    other = {"intro": OTHER_INTRO, "header": header, "rows": _other_rows(runs, users)}
    if not all(run.polls for run in runs):  # per request already, and no article beside it
        return [{"intro": "", "header": header, "rows": _our_rows(runs, users)}]
    if users == ref_users:
        rows = _our_rows(runs, users) + _article_rows(reference, users)
        return [{"intro": "", "header": header, "rows": rows}, other]
    return [
        {"intro": "", "header": header, "rows": _our_rows(runs, users)},
        {
            "intro": f"The article used {ref_users[0]}..{ref_users[-1]} users; its published "
            "table:",
            "header": ["Failure % / users", *map(str, ref_users)],
            "rows": _article_rows(reference, ref_users),
        },
        other,
    ]


def legend(runs: list[Run]) -> str:
    return LEGEND if all(run.polls for run in runs) else PROJECT_LEGEND


def table_markdown(runs: list[Run], reference: pd.DataFrame) -> str:
    parts = []
    for i, block in enumerate(table_blocks(runs, reference)):
        if block["intro"]:
            parts.append(block["intro"])
        parts.append(markdown_table(block["header"], block["rows"]))
        if i == 0:
            parts.append(legend(runs))
    return "\n\n".join(parts) + "\n"


def write_table(runs: list[Run], reference: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """Write table.md and table.csv into out_dir; return their paths."""
    md, csv = out_dir / "table.md", out_dir / "table.csv"
    md.write_text("# Failure % by number of users\n\n" + table_markdown(runs, reference))
    failure_table(runs, reference).to_csv(csv)
    return md, csv


def _increase(asgi: int, wsgi: int) -> str:
    return f"{round(100 * (asgi / wsgi - 1)):+d} %"


def _ratio_text(asgi: int, wsgi: int) -> str:
    return f"{asgi / wsgi:.2f} ({_increase(asgi, wsgi)})"


def _condition(threshold_pct: float) -> str:
    return "without error" if threshold_pct == 0 else f"with at most {threshold_pct:g} % failures"


def _describe(run: Run, name: str, threshold_pct: float) -> str:
    value = run.knee(threshold_pct, run.measure)
    if value is not None:
        return f"{name}: about {value} users {_condition(threshold_pct)}"
    if run.steps.empty:
        return f"{name}: no step measured"
    breach = "errors" if threshold_pct == 0 else f"more than {threshold_pct:g} % failures"
    first = int(run.steps.sort_values("step")["users"].iloc[0])
    return f"{name}: {breach} already at the smallest step, {first} users"


def _last_users(run: Run) -> int | None:
    return None if run.steps.empty else int(run.steps.sort_values("step")["users"].iloc[-1])


def _lower_bound_notes(runs: list[Run], threshold_pct: float) -> list[str]:
    # A run that never breached has a knee at least as large as its largest step, not equal to it.
    notes = []
    for run in runs:
        value = run.knee(threshold_pct, run.measure)
        if value is not None and value == _last_users(run):
            notes.append(
                f"{run.phrase} stayed {_condition(threshold_pct)} up to its largest step, "
                f"so its knee is at least {value} users."
            )
    return notes


def _article_sentence(reference: pd.DataFrame, threshold_pct: float) -> str:
    if reference.empty:  # a project of the user's: the article did not measure it
        return ""
    if threshold_pct == 0:
        h = article.HEADLINE
        return f"The article: about {h['wsgi']} and {h['asgi']} (+{h['increase_pct']} %)."
    knees = {
        article.interface_of(name): knee(frame, threshold_pct)
        for name, frame in article.series(reference).items()
    }
    wsgi, asgi = knees.get("wsgi"), knees.get("asgi")
    ratio = f" ({_increase(asgi, wsgi)})" if wsgi is not None and asgi is not None else ""
    return f"The article's table at {threshold_pct:g} %: about {wsgi} and {asgi}{ratio}."


def knee_sentence(runs: list[Run], threshold_pct: float, reference: pd.DataFrame) -> str:
    """Where each setup breaks, as the article states it (and counts it: two samples per vote
    attempted), with the ASGI/WSGI knee ratio.

    The first WSGI and the first ASGI run form the comparison; further runs are listed after.
    """
    wsgi = next((r for r in runs if r.interface == "wsgi"), None)
    asgi = next((r for r in runs if r.interface == "asgi"), None)
    pair = [r for r in (wsgi, asgi) if r is not None]
    others = [r for r in runs if all(r is not p for p in pair)]
    kw = wsgi.knee(threshold_pct, wsgi.measure) if wsgi else None
    ka = asgi.knee(threshold_pct, asgi.measure) if asgi else None
    if kw is not None and ka is not None:
        # A knee at the largest step is a lower bound, and so is the ratio's side it stands on.
        w_open, a_open = kw == _last_users(wsgi), ka == _last_users(asgi)
        bound = {(True, False): "at most ", (False, True): "at least "}.get((w_open, a_open), "")
        if w_open and a_open:
            ratio = "not known: neither broke within the steps run"
        else:
            ratio = bound + _ratio_text(ka, kw)
        text = (
            f"About {kw} users {_condition(threshold_pct)} under {wsgi.phrase} and {ka} under "
            f"{asgi.phrase}: ASGI/WSGI knee ratio {ratio}."
        )
    else:
        text = "; ".join(_describe(r, r.phrase, threshold_pct) for r in pair) + "."
        if len(pair) == 2:
            text += " No ASGI/WSGI knee ratio."
    if others:
        text += " Other runs: " + "; ".join(_describe(r, r.label, threshold_pct) for r in others)
        text += "."
    notes = _lower_bound_notes(runs, threshold_pct)
    return " ".join(filter(None, [text, *notes, _article_sentence(reference, threshold_pct)]))
