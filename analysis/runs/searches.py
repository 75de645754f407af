"""Knee searches that belong to a report's runs: the same server, view variant, worker count and
mode on the same machine, found beside the runs or given by the user."""

from dataclasses import dataclass
from pathlib import Path

from djbench.analysis.errors import AnalysisError, document_errors
from djbench.analysis.runs.run import Run, default_label
from djbench.contracts.documents import KNEE, DocumentError, load_knee, load_meta, meta_machine

# What must match between a run and a knee search for the search to speak for the run.
MATCHED_ON = ("server", "view", "workers", "mode", "cpu_model", "cpu_count")
OBJECTIVES = ("failures_0", "failures_1", "p95")


@dataclass(frozen=True)
class Search:
    path: Path
    data: dict  # knee.json
    key: dict  # MATCHED_ON -> value; mode and machine from its first probe's meta.json

    @property
    def slo_ms(self) -> float:
        return float(self.data["settings"]["p95_slo_ms"])

    @property
    def label(self) -> str:
        return default_label(self.data)


def run_key(run: Run) -> dict:
    machine = meta_machine(run.meta)
    return {
        "server": run.server,
        "view": run.meta.get("view", "sync"),
        "workers": run.meta.get("workers"),
        "mode": run.meta.get("mode"),
        "cpu_model": machine.get("cpu_model"),
        "cpu_count": machine.get("cpu_count"),
    }


def load_search(path: Path) -> Search:
    """A knee search directory; AnalysisError with one line when it is not a usable one."""
    path = Path(path)
    if not (path / KNEE.file).exists():
        raise AnalysisError(f"{path} is not a knee search (no {KNEE.file})")
    with document_errors():
        data = load_knee(path)
    try:
        probes = list(data["probes"])
        float(data["settings"]["p95_slo_ms"])
        key = {name: data[name] for name in ("server", "interface", "view", "workers")}
        if not all({"users", "bad_users"} <= set(data["knees"][name]) for name in OBJECTIVES):
            raise KeyError("knees")
    except (ValueError, KeyError, TypeError) as exc:
        raise AnalysisError(f"{path / KNEE.file} is not a usable knee search ({exc!r})") from None
    first = {}  # mode and machine unknown when the first probe's meta.json cannot be read
    if probes and probes[0].get("run_dir"):
        try:
            first = load_meta(path / probes[0]["run_dir"])
        except DocumentError:
            pass
    machine = meta_machine(first)
    del key["interface"]
    key |= {
        "mode": first.get("mode"),
        "cpu_model": machine.get("cpu_model"),
        "cpu_count": machine.get("cpu_count"),
    }
    return Search(path, data, key)


def matches(search: Search, run: Run) -> bool:
    """Every recorded field equal; one side not recording a field (older results) is no
    mismatch."""
    key = run_key(run)
    return all(
        search.key[name] == key[name]
        for name in MATCHED_ON
        if search.key.get(name) is not None and key.get(name) is not None
    )


def beside(runs: list[Run]) -> list[Path]:
    """Knee search directories in the directories that hold the runs."""
    parents = sorted({run.path.resolve().parent for run in runs})
    return [p.parent for parent in parents for p in sorted(parent.glob(f"*/{KNEE.file}"))]


def searches_for(runs: list[Run], given: list[Path]) -> dict[str, list[Search]]:
    """run_id -> the searches that match it. Given searches must each match a run; searches found
    beside the runs are used when they match and skipped when they do not (or are unreadable)."""
    found: dict[str, list[Search]] = {run.run_id: [] for run in runs}
    given_resolved = {Path(p).resolve() for p in given}
    for path in given:
        search = load_search(path)
        hits = [run for run in runs if matches(search, run)]
        if not hits:
            key = ", ".join(f"{k} {v}" for k, v in search.key.items() if v is not None)
            raise AnalysisError(f"{path}: this knee search matches none of the runs ({key})")
        for run in hits:
            found[run.run_id].append(search)
    for path in beside(runs):
        if path.resolve() in given_resolved:
            continue
        try:
            search = load_search(path)
        except AnalysisError:
            continue
        for run in runs:
            if matches(search, run):
                found[run.run_id].append(search)
    return found
