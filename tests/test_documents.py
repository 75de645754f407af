"""meta.json, knee.json and calibrate.json carry a schema version and are read through one loader
each (djbench/contracts/documents.py): a current file loads, an old unversioned one is upgraded,
a newer one or one that is not a JSON object is refused in one line."""

import ast
import json
import shutil
from pathlib import Path

import pytest

from djbench.analysis import AnalysisError
from djbench.analysis.report import calibration
from djbench.analysis.report.knee_report import read_knee
from djbench.analysis.runs.run import read_meta
from djbench.contracts import documents
from djbench.contracts.documents import (
    CALIBRATION,
    KNEE,
    META,
    DocumentError,
    load,
    load_calibration,
    load_knee,
    load_meta,
)
from djbench.load.recording import write_meta
from tests.helpers import ROOT, djbench

RUNS = Path(__file__).parent / "fixtures" / "runs"
LOADERS = {META: load_meta, KNEE: load_knee, CALIBRATION: load_calibration}


def raw(path):
    return json.loads(Path(path).read_text())


def test_names_and_versions():
    assert [(k.name, k.file, k.version) for k in LOADERS] == [
        ("meta", "meta.json", 1), ("knee", "knee.json", 2),
        ("calibration", "calibrate.json", 1),
    ]  # fmt: skip
    with pytest.raises(AssertionError, match="one upgrade per version"):
        documents.Kind("x", "x.json", 2, upgrades=(dict,))


def test_a_current_meta_json_loads_without_its_stamp(tmp_path):
    meta = {"run_id": "r", "server": "gunicorn", "interface": "wsgi", "users": [10]}
    write_meta(tmp_path, meta)
    on_disk = raw(tmp_path / "meta.json")
    assert list(on_disk)[0] == "schema"  # first: a reader of the file sees it at once
    assert on_disk == {"schema": {"name": "meta", "version": 1}, **meta}
    assert load_meta(tmp_path) == meta
    assert load_meta(tmp_path / "meta.json") == meta
    assert read_meta(tmp_path) == meta


def test_stamping_twice_keeps_one_stamp():
    once = documents.stamp(KNEE, {"a": 1})
    assert documents.stamp(KNEE, once) == {"schema": {"name": "knee", "version": 2}, "a": 1}


def test_the_calibration_writer_stamps_calibrate_json(tmp_path, monkeypatch):
    # The conclusions need every client; what is checked here is the document around them.
    monkeypatch.setattr(calibration, "conclusions", lambda clients, processes: ["a conclusion"])
    shutil.copytree(RUNS / "wsgi_gunicorn", tmp_path / "runs" / "a")
    runs = [{"name": "locust-fast-vote", "label": "Locust", "scenario": "vote", "run": "runs/a"}]
    calibration.write_report(tmp_path, runs)
    on_disk = raw(tmp_path / "calibrate.json")
    assert on_disk["schema"] == {"name": "calibration", "version": 1}
    content = load_calibration(tmp_path)
    assert "schema" not in content
    assert (content["server"], content["users"], content["conclusions"]) == (
        "gunicorn", 10, ["a conclusion"],
    )  # fmt: skip
    assert "a conclusion" in (tmp_path / "calibrate.html").read_text()


def test_the_knee_search_stamps_knee_json(tmp_path, monkeypatch):
    from djbench import config
    from djbench.analysis.report import knee_report
    from djbench.search import probes as knee_runner

    numbers = iter(range(100))

    def run_probe(cfg, root, stop):  # every probe measures the fixture run
        return shutil.copytree(RUNS / "wsgi_gunicorn", root / f"p{next(numbers)}")

    monkeypatch.setattr(knee_report, "write_knee_report", lambda d: (d / "knee.md").write_text(""))
    cfg = config.build("gunicorn", profile="knee", users=(10,))
    settings = {"start": 10, "max_users": 20, "measure_s": 5, "p95_slo_ms": 1000.0,
                "resolution_pct": 50.0, "confirm": 0, "predict": False}  # fmt: skip
    knee_dir = knee_runner.run(cfg, tmp_path, run_probe, settings)
    on_disk = raw(knee_dir / "knee.json")
    assert on_disk["schema"] == {"name": "knee", "version": 2}
    assert load_knee(knee_dir) == {k: v for k, v in on_disk.items() if k != "schema"}
    assert load_knee(knee_dir)["server"] == "gunicorn"


def _committed(name):
    return sorted([*(ROOT / "results" / "reference").rglob(name), *RUNS.rglob(name)])


@pytest.mark.parametrize("kind", LOADERS, ids=lambda k: k.name)
def test_committed_unversioned_files_load_as_they_are(kind):
    # Written before documents carried a version: read as version 0, and the upgrade to 1
    # changes nothing, so their numbers recompute exactly. knee.json 2 adds what a search
    # decided about steady state and failures: an old search says it decided nothing.
    # (Files committed since carry their version, and are left out.)
    paths = [p for p in _committed(kind.file) if "schema" not in raw(p)]
    assert len(paths) >= {"meta": 20, "knee": 4, "calibration": 1}[kind.name]
    for path in paths:
        data = raw(path)
        loaded = LOADERS[kind](path)
        if kind is KNEE:
            assert [p.pop("truncation_s") for p in loaded["probes"]] == [None] * len(data["probes"])
            assert [p.pop("unsettled") for p in loaded["probes"]] == [[]] * len(data["probes"])
            if isinstance(data.get("prediction"), dict):
                assert loaded["prediction"].pop("failures") is None
        assert loaded == data, path


def test_an_old_file_is_upgraded_one_version_at_a_time(tmp_path):
    # A future version 2 that adds a default: a file of version 0 or 1 gets it, one of 2 keeps
    # its own value.
    v2 = documents.Kind(
        "meta", "meta.json", 2,
        upgrades=(lambda d: {**d, "steps": "v0->1"}, lambda d: {"view": "sync", **d}),
    )  # fmt: skip
    (tmp_path / "meta.json").write_text(json.dumps({"run_id": "old"}))
    assert load(v2, tmp_path) == {"run_id": "old", "steps": "v0->1", "view": "sync"}
    (tmp_path / "meta.json").write_text(json.dumps(documents.stamp(META, {"run_id": "one"})))
    assert load(v2, tmp_path) == {"view": "sync", "run_id": "one"}
    (tmp_path / "meta.json").write_text(json.dumps(documents.stamp(v2, {"view": "async"})))
    assert load(v2, tmp_path) == {"view": "async"}


def _newer(path, name, data):
    path.mkdir(parents=True)
    (path / f"{name}.json").write_text(json.dumps({"schema": {"name": name, "version": 7}, **data}))
    return path


@pytest.mark.parametrize("command, name", [("report", "meta"), ("knee-report", "knee")])
def test_a_newer_file_is_refused_by_the_cli_in_one_line(tmp_path, command, name):
    source = raw(RUNS / "wsgi_gunicorn" / "meta.json") if name == "meta" else {"knees": {}}
    _newer(tmp_path / "results" / "x", name, source)
    done = djbench(command, "results/x", timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    reads = 2 if name == "knee" else 1
    assert done.stderr == (
        f"djbench: error: results/x/{name}.json: schema version 7 is newer than this djbench "
        f"reads ({reads}); upgrade djbench\n"
    )
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["x"]  # nothing written


@pytest.mark.parametrize("kind", LOADERS, ids=lambda k: k.name)
def test_a_newer_file_is_refused_by_its_loader(tmp_path, kind):
    newer = kind.version + 1
    schema = {"name": kind.name, "version": newer}
    (tmp_path / kind.file).write_text(json.dumps({"schema": schema}))
    with pytest.raises(DocumentError) as info:
        LOADERS[kind](tmp_path)
    assert str(info.value) == (
        f"{tmp_path / kind.file}: schema version {newer} is newer than this djbench reads "
        f"({kind.version}); upgrade djbench"
    )


@pytest.mark.parametrize("kind", LOADERS, ids=lambda k: k.name)
@pytest.mark.parametrize("text", ["[1, 2]", '"meta"', "null", "7"])
def test_a_document_that_is_not_an_object_is_refused(tmp_path, kind, text):
    (tmp_path / kind.file).write_text(text)
    with pytest.raises(DocumentError) as info:
        LOADERS[kind](tmp_path)
    assert str(info.value) == f"{tmp_path / kind.file} is not a JSON object"


def test_the_analysis_refuses_with_the_same_line(tmp_path):
    (tmp_path / "knee.json").write_text("[]")
    (tmp_path / "meta.json").write_text(json.dumps({"schema": {"name": "meta", "version": 3}}))
    with pytest.raises(AnalysisError, match=r"^\S+/knee.json is not a JSON object$"):
        read_knee(tmp_path)
    with pytest.raises(AnalysisError) as info:
        read_meta(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/meta.json: schema version 3 is newer than this djbench reads (1); "
        "upgrade djbench"
    )


@pytest.mark.parametrize(
    "schema",
    [1, "1", [], {"version": 1}, {"name": "knee", "version": 1},
     {"name": "meta", "version": True}, {"name": "meta", "version": -1}],
)  # fmt: skip
def test_a_schema_that_is_not_one_is_refused(tmp_path, schema):
    (tmp_path / "meta.json").write_text(json.dumps({"schema": schema, "run_id": "x"}))
    with pytest.raises(DocumentError) as info:
        load_meta(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/meta.json: schema is {json.dumps(schema)}, not like "
        '{"name": "meta", "version": 1}'
    )


def test_an_unreadable_or_broken_file_is_refused(tmp_path):
    with pytest.raises(DocumentError, match=r"^cannot read \S+/knee.json: No such file"):
        load_knee(tmp_path)
    (tmp_path / "knee.json").write_text("{")
    with pytest.raises(DocumentError, match=r"^\S+/knee.json is not valid JSON \(Expecting"):
        load_knee(tmp_path)


def test_contracts_import_nothing_else_from_djbench():
    # The locustfiles import contracts in the Locust container, where only contracts exists.
    for path in (ROOT / "djbench" / "contracts").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not any(name.startswith("djbench") for name in names), (path, names)


def test_every_reader_goes_through_a_loader():
    # No module reads these files itself: they all call the loaders of contracts/documents.py.
    sources = [*(ROOT / "djbench").rglob("*.py"), *(ROOT / "analysis").rglob("*.py")]
    for path in sources:
        if path.name == "documents.py":
            continue
        text = path.read_text()
        for name in ("meta.json", "knee.json", "calibrate.json"):
            for quote in ('"', "'"):
                assert f"/ {quote}{name}{quote}" not in text, (path, name)
