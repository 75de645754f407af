"""The result documents, meta.json, knee.json and calibrate.json: each carries its schema version
and is read through one loader, as pyperf's `_JSON_VERSION` and asv's `api_version` do.

A writer saves stamp(KIND, data): the document with `"schema": {"name": ..., "version": N}`
first. A loader returns the content without that key, upgraded in memory to the current version:
a file written before documents carried a version reads as version 0. A file newer than this code
is refused in one line instead of being misread. Standard library only and nothing else from
djbench: the harness and the analysis both use it.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = "schema"  # the key every document carries: {"name": KIND.name, "version": N}
UNVERSIONED = 0  # the version of every file written before documents carried one


class DocumentError(ValueError):
    """A result document that cannot be used; the message is one line that names the file."""


def _as_is(data: dict) -> dict:
    return data


@dataclass(frozen=True)
class Kind:
    name: str
    file: str
    version: int
    # upgrades[v] turns the content of a version-v document into that of version v + 1.
    upgrades: tuple[Callable[[dict], dict], ...]

    def __post_init__(self):
        assert len(self.upgrades) == self.version, f"{self.name}: one upgrade per version"


def _knee_steady_state(data: dict) -> dict:
    """knee.json 1 -> 2: version 2 records each probe's steady-state truncation and the failure
    prediction. A version-1 search measured after a fixed warm-up (truncation_s None: not
    decided) and predicted no failure knee."""
    upgraded = dict(data)
    if isinstance(data.get("probes"), list):  # a malformed file is left for its reader to refuse
        upgraded["probes"] = [
            {"truncation_s": None, "unsettled": [], **p} if isinstance(p, dict) else p
            for p in data["probes"]
        ]
    if isinstance(data.get("prediction"), dict):
        upgraded["prediction"] = {"failures": None, **data["prediction"]}
    return upgraded


# Version 1 is version 0 with its version stamped: the content did not change, so the upgrade
# from 0 adds nothing.
META = Kind("meta", "meta.json", 1, upgrades=(_as_is,))  # a run: djbench/load/recording.py
# A knee search: djbench/search/probes.py.
KNEE = Kind("knee", "knee.json", 2, upgrades=(_as_is, _knee_steady_state))
CALIBRATION = Kind("calibration", "calibrate.json", 1, upgrades=(_as_is,))  # report/calibration.py


def stamp(kind: Kind, data: dict) -> dict:
    """`data` as its writer saves it: the schema first (a reader sees it at the top), then the
    content."""
    content = {key: value for key, value in data.items() if key != SCHEMA}
    return {SCHEMA: {"name": kind.name, "version": kind.version}} | content


def load(kind: Kind, path: Path | str) -> dict:
    """The content of the document `path` (its file, or the directory holding it) at the current
    version; DocumentError when it cannot be read or is newer than this code."""
    path = Path(path)
    if path.name != kind.file:
        path = path / kind.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DocumentError(f"cannot read {path}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DocumentError(f"{path} is not a JSON object")
    version = _version(kind, data.pop(SCHEMA, None), path)
    for upgrade in kind.upgrades[version:]:
        data = upgrade(data)
    return data


def _version(kind: Kind, schema, path: Path) -> int:
    if schema is None:
        return UNVERSIONED
    version = schema.get("version") if isinstance(schema, dict) else None
    # bool is an int to Python, not a version.
    if type(version) is not int or version < 0 or schema.get("name") != kind.name:
        expected = json.dumps({"name": kind.name, "version": kind.version})
        raise DocumentError(f"{path}: schema is {json.dumps(schema)}, not like {expected}")
    if version > kind.version:
        raise DocumentError(
            f"{path}: schema version {version} is newer than this djbench reads "
            f"({kind.version}); upgrade djbench"
        )
    return version


def load_meta(path: Path | str) -> dict:
    """A run's meta.json (path: the file or its run directory)."""
    return load(META, path)


def load_knee(path: Path | str) -> dict:
    """A knee search's knee.json (path: the file or its search directory)."""
    return load(KNEE, path)


def load_calibration(path: Path | str) -> dict:
    """A calibration's calibrate.json (path: the file or its calibration directory)."""
    return load(CALIBRATION, path)


# The lookups of meta.json that readers repeat; runs recorded before a section existed lack it.
def meta_config(meta: dict) -> dict:
    """The run's settings (config.RunConfig.as_dict())."""
    return meta.get("config") or {}


def meta_machine(meta: dict) -> dict:
    """The machine the run measured on: cpu_model, cpu_count, ..."""
    return meta.get("machine") or {}
