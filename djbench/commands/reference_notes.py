"""djbench reference-notes: results/reference/README.md and the README's measured numbers,
rendered from the committed runs under results/reference/."""

from djbench.analysis.studies import reference_notes as notes
from djbench.system.log import log

NAME = "reference-notes"
HELP = "render the reference notes and the README's numbers from results/reference/"


def add_arguments(p):
    p.add_argument("--check", action="store_true", help="exit 1 if either differs from it")


def run(args):
    try:
        rendered, readme = notes.render()
    except (OSError, KeyError, ValueError) as e:
        raise notes.AnalysisError(str(e)) from None
    targets = {notes.REFERENCE / "README.md": rendered, notes.ROOT / "README.md": readme}
    stale = [path for path, text in targets.items() if path.read_text() != text]
    if args.check:
        for path in stale:
            log.error(f"{path.relative_to(notes.ROOT)} differs from its rendering from "
                      "results/reference/; run djbench reference-notes")  # fmt: skip
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path])
        log.info(f"wrote {path.relative_to(notes.ROOT)}")
    return 0
