"""The project's scenario as a run uses it: the user's Locust file, the pages of a URLS file, or
pages discovered from the running site (written to the run directory as a URLS file the user
can edit and pass back); each page verified before load. The polls project's is built in."""

import subprocess

from djbench.errors import ComponentFailed
from djbench.paths import ROOT
from djbench.project import services
from djbench.scenario import discover, invariant, urls_file, verify
from djbench.system.log import log

DISCOVERED = "urls.txt"  # in the run directory
LOCUSTFILES = ROOT / "locustfiles"
# The parts every scenario shares: the load shapes, the per-request log, the worker checks.
SHARED = ("step_load.py", "request_log.py", "distributed.py")
_discovered = {}  # ProjectSpec -> Discovery: one per command, so a knee's probes share pages


def locustfiles(scenario):
    """The Locust files of a run, the scenario's user classes first."""
    first = scenario.get("locustfile") or str(LOCUSTFILES / scenario.get("user_file", "vote.py"))
    return [first, *(str(LOCUSTFILES / name) for name in SHARED)]


def prepare(app, files, base_url, run_dir, meta):
    """Choose and verify the scenario of a run of a user's project; records it in meta and
    returns it (meta["scenario"])."""
    spec = app.spec
    if spec.locustfile:
        scenario = {"kind": "locustfile", "locustfile": spec.locustfile,
                    "invariant": invariant.read(spec.locustfile)}  # fmt: skip
        # Its requests are the file's own, known only as it runs: every failure counts.
        pages = []
    else:
        if spec.urls:
            pages, kind, source = urls_file.read(spec.urls), "urls", spec.urls
        else:
            pages, kind, source = _discover(app, files, base_url, run_dir, meta)
        scenario = {"kind": kind, "user_file": "pages.py", "urls_file": source,
                    "pages": [{"path": p, "weight": w} for p, w in pages]}  # fmt: skip
    meta["scenario"] = scenario
    try:
        verify.verify(base_url, [path for path, _ in pages])
    except RuntimeError as e:
        why = services.hint(_tail(run_dir / "logs" / "server.log"))
        raise ComponentFailed(f"verification: {e}" + (f"; {why}" if why else "")) from None
    return scenario


def _tail(path, lines=40):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _discover(app, files, base_url, run_dir, meta):
    found = _discovered.get(app.spec)
    if found is None:
        routes = subprocess.run([str(app.env.python), "-c", discover.routes_script()],
                                capture_output=True, text=True, env=files.env,
                                cwd=run_dir)  # fmt: skip
        if routes.returncode:
            last = (routes.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ComponentFailed(f"listing the project's URL routes failed: {last}")
        found = discover.discover(base_url, discover.site_from_json(routes.stdout))
        log.info(found.summary())
        _discovered[app.spec] = found
    if not found.pages:
        dropped = "; ".join(f"{p} ({why})" for p, why in found.dropped[:5]) or "none found"
        raise ComponentFailed(f"discovery found no page to load: {dropped}; give URLS=file")
    path = run_dir / DISCOVERED
    urls_file.write(path, found.pages)
    meta["discovery"] = found.record()
    return found.pages, "discovered", str(path)
