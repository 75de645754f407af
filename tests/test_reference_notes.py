"""The README's measured numbers and the reference notes are what results/reference/ renders:
a number in them cannot drift from the data it comes from."""

import json

from djbench.analysis.studies import reference_notes
from djbench.cli import main


def test_readme_and_reference_notes_match_the_reference_data(capsys):
    status = main(["reference-notes", "--check"])
    assert status == 0, capsys.readouterr().err


def test_every_block_of_the_readme_is_rendered():
    readme = reference_notes.ROOT.joinpath("README.md").read_text()
    names = [m["name"] for m in reference_notes.BLOCK.finditer(readme)]
    # notes.md is the reference notes themselves; _*.md are parts the others include.
    templates = {p.stem for p in reference_notes.TEMPLATES.glob("[!_]*.md")} - {"notes"}
    assert sorted(names) == sorted(templates)


def test_durations_never_show_sixty_seconds():
    from djbench.analysis.studies.reference_notes import _minutes

    assert _minutes(119.6) == "2 min 0 s"
    assert _minutes(868.4) == "14 min 28 s"


def _search(p95, failures):
    knee = {"resolution": 10}
    return {
        "settings": {"p95_slo_ms": 1000.0},
        "knees": {
            "p95": {**knee, "users": p95, "bad_users": p95 + 10},
            "failures_0": {**knee, "users": failures, "bad_users": failures + 10},
            "failures_1": {**knee, "users": 640, "bad_users": None},  # never broken: no spread
        },
    }


def test_each_two_commands_in_a_row_are_compared_knee_by_knee():
    by_server = {"uvicorn": [_search(100, 300), _search(110, 311), _search(110, 300)]}
    table = reference_notes._pairs_table(by_server, 3).splitlines()
    # 10 apart is within a resolution of 10; 11 is not.
    assert table[2:] == [
        "| 1 and 2 | NO: uvicorn no failures: 11 apart (resolution 10) |",
        "| 2 and 3 | NO: uvicorn no failures: 11 apart (resolution 10) |",
    ]
    by_server["uvicorn"][1] = _search(90, 310)
    assert reference_notes._pairs_table(by_server, 3).splitlines()[2:] == [
        "| 1 and 2 | yes |",
        "| 2 and 3 | NO: uvicorn p95 under 1000 ms: 20 apart (resolution 10) |",
    ]


def _probe_run(path, start_up, ramp, window, teardown):
    """A one-step probe run's records: start-up, 1 s of Locust start, then its phases."""
    path.mkdir(parents=True)
    t = 1767225600  # 2026-01-01T00:00:00+00:00
    step = t + start_up + 1
    end = step + ramp + window
    meta = {"run_id": path.name, "server": "uvicorn", "interface": "asgi", "users": [10],
            "started_at": "2026-01-01T00:00:00+00:00",
            "load_started_at": f"2026-01-01T00:00:{start_up:02d}+00:00",
            "ended_at": f"2026-01-01T00:00:{end + teardown - t:02d}+00:00"}  # fmt: skip
    (path / "meta.json").write_text(json.dumps(meta))
    (path / "timeline.csv").write_text(
        f"step,users,start,measure_from,end,complete\n1,10,{step},{step + ramp},{end},1\n"
    )


def test_where_each_search_s_time_went_sums_its_probe_runs_phases(tmp_path):
    _probe_run(tmp_path / "k" / "probes" / "sat", start_up=2, ramp=1, window=6, teardown=1)
    _probe_run(tmp_path / "k" / "probes" / "p1", start_up=3, ramp=5, window=20, teardown=2)
    search = {
        "dir": "k",
        "prediction": {"saturation": {"run_dir": "probes/sat"}},
        "probes": [{"run_dir": "probes/p1"}],
        "spent": {"measured_s": 21.4, "wall_s": 44.6},
        "settings": {},
    }
    table = reference_notes._time_table(tmp_path, {"uvicorn": [search]}).splitlines()
    # start-up 2 + 3, Locust start 1 + 1, ramp-up 1 + 5, windows 6 + 20, teardown 1 + 2
    assert table[2] == "| uvicorn | 1 | 2 | 5 | 2 | 6 | 26 | 3 | 21 | 45 |"
    # Beside a search whose probes shared a warm stack, each row says how its probes got theirs.
    warm = {**search, "settings": {"warm_stack": True}}
    table = reference_notes._time_table(tmp_path, {"uvicorn": [search, warm]}).splitlines()
    assert table[0].startswith("| server | search | stack | probe runs |")
    assert table[2:] == [
        "| uvicorn | 1 | one per probe | 2 | 5 | 2 | 6 | 26 | 3 | 21 | 45 |",
        "| uvicorn | 2 | one, warm | 2 | 5 | 2 | 6 | 26 | 3 | 21 | 45 |",
    ]
