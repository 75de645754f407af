"""Reading the CSV files of a run directory, with one-line errors instead of tracebacks."""

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError


def read_csv(path: Path, required: Iterable[str], **kwargs) -> pd.DataFrame:
    """Read `path`, check that it has the `required` columns, and return it.

    A zero-byte file counts as a file with no rows: a process killed before it wrote its header
    leaves one behind, and that is not a reason to discard the rest of a run.
    """
    required = list(required)
    try:
        if path.stat().st_size == 0:
            return pd.DataFrame({name: pd.Series(dtype=float) for name in required})
        frame = pd.read_csv(path, **kwargs)
    except FileNotFoundError:
        raise AnalysisError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnalysisError(f"cannot read {path}: {reason}") from None
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise AnalysisError(f"{path} lacks column(s): {', '.join(missing)}")
    return frame


def numeric(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> pd.DataFrame:
    """Convert `columns` to numbers; a value that is not a number is a broken file."""
    for name in columns:
        converted = pd.to_numeric(frame[name], errors="coerce")
        bad = converted.isna() & frame[name].notna()
        if bad.any():
            value = frame[name][bad].iloc[0]
            raise AnalysisError(f"{path}: column {name} has a non-numeric value {value!r}")
        frame[name] = converted
    return frame
