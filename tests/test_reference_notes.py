"""The README's measured numbers and the reference notes are what results/reference/ renders:
a number in them cannot drift from the data it comes from."""

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
