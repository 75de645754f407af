"""Reading the CSV files of a run directory, with one-line errors instead of tracebacks; writing
output that a failure does not leave half-done."""

import shutil
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from djbench.analysis.errors import AnalysisError

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"  # Jinja2 templates of every page and note
REFERENCE_DATA = PACKAGE / "reference"  # published numbers, as CSV


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


@contextmanager
def output_dir(path: Path):
    """Create the directory `path`, which must not exist, and any missing parent; if the body
    fails, remove all of it again, so a failed writer leaves no empty or half-written directory."""
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        raise AnalysisError(f"{path} already exists; a report is never overwritten") from None
    except OSError as exc:
        raise AnalysisError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        yield path
    except BaseException as exc:
        shutil.rmtree(path, ignore_errors=True)
        for parent in created[1:]:
            try:
                parent.rmdir()
            except OSError:  # something else has been put there meanwhile
                break
        _raise_one_line(exc, path)


@contextmanager
def output_files(*paths: Path):
    """If the body fails, remove those of `paths` that did not exist before it."""
    new = [Path(p) for p in paths if not Path(p).exists()]
    try:
        yield
    except BaseException as exc:
        for path in new:
            path.unlink(missing_ok=True)
        _raise_one_line(exc, Path(paths[0]).parent)


def _raise_one_line(exc: BaseException, where: Path):
    """A full disk or a lost permission is the machine's state, not a bug: one line for it."""
    if isinstance(exc, OSError):
        raise AnalysisError(f"cannot write under {where}: {exc.strerror or exc}") from None
    raise exc
