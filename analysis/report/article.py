"""The article's published numbers (reference/article_2020.csv) and its headline claim."""

from pathlib import Path

import pandas as pd

from djbench.analysis.files import REFERENCE_DATA, numeric, read_csv

REFERENCE_CSV = REFERENCE_DATA / "article_2020.csv"

# The article's own wording of its result, quoted rather than recomputed: "around 300 for WSGI
# and 500 for ASGI ... about 66% increase" (500/300 is +66.7 %, which it truncated).
HEADLINE = {"wsgi": 300, "asgi": 500, "increase_pct": 66}


def load_reference(path: Path = REFERENCE_CSV) -> pd.DataFrame:
    """Long format: series, users, failure_pct, source."""
    frame = read_csv(path, ["series", "users", "failure_pct", "source"], dtype={"series": str})
    frame = numeric(frame, ["users", "failure_pct"], path)
    frame["users"] = frame["users"].astype(int)
    return frame


def series(reference: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each published series as a frame with users and failure_pct, in users order."""
    return {
        name: group[["users", "failure_pct"]].sort_values("users").reset_index(drop=True)
        for name, group in reference.groupby("series", sort=False)
    }


def interface_of(series_name: str) -> str:
    """'WSGI (article, 2020)' -> 'wsgi'."""
    return series_name.split()[0].lower()
