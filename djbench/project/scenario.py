"""The project's scenario as a run uses it: the user's Locust file, the pages of a URLS file, or
pages discovered from the running site (written to the run directory as a URLS file the user
can edit and pass back); each page verified before load. The polls project's is built in."""

import re
import subprocess

from djbench.errors import ComponentFailed
from djbench.paths import ROOT
from djbench.project import services
from djbench.scenario import discover, invariant, locust_check, urls_file, verify
from djbench.system.log import log

DISCOVERED = "urls.txt"  # in the run directory
LOCUSTFILES = ROOT / "locustfiles"
# The parts every scenario shares: the load shapes, the per-request log, the worker checks.
SHARED = ("step_load.py", "request_log.py", "distributed.py")
_discovered = {}  # ProjectSpec -> Discovery: one per command, so a knee's probes share pages
_checked = set()  # (ProjectSpec, "server view") whose Locust file ran clean in this command


def locustfiles(scenario):
    """The Locust files of a run, the scenario's user classes first."""
    first = scenario.get("locustfile") or str(LOCUSTFILES / scenario.get("user_file", "vote.py"))
    return [first, *(str(LOCUSTFILES / name) for name in SHARED)]


def prepare(app, files, base_url, run_dir, meta, timeout, server=""):
    """Choose and verify the scenario of a run of a user's project; records it in meta and
    returns it (meta["scenario"]). server: the run's server and view, under which a Locust
    file is verified once per command (a knee search's probes share it)."""
    spec = app.spec
    if spec.locustfile:
        scenario = {"kind": "locustfile", "locustfile": spec.locustfile,
                    "invariant": invariant.read(spec.locustfile)}  # fmt: skip
        meta["scenario"] = scenario
        if (spec, server) not in _checked:
            scenario["checked"] = _check_locustfile(spec, base_url, run_dir, timeout)
            _checked.add((spec, server))
        return scenario
    if spec.urls:
        pages, kind, source = urls_file.read(spec.urls), "urls", spec.urls
    else:
        pages, kind, source = _discover(app, files, base_url, run_dir, meta, timeout)
    scenario = {"kind": kind, "user_file": "pages.py", "urls_file": source,
                "pages": [{"path": p, "weight": w} for p, w in pages]}  # fmt: skip
    meta["scenario"] = scenario
    try:
        verify.verify(base_url, [path for path, _ in pages], timeout=timeout)
    except RuntimeError as e:
        raise _verification_failed(e, run_dir) from None
    return scenario


def _check_locustfile(spec, base_url, run_dir, timeout):
    """Its users, one each, for a few seconds before the load: what they did (the invariant
    counts their successes too), or one line on what failed."""
    log.info(f"checking the Locust file's requests ({locust_check.CHECK_S} s, one user a class)")
    try:
        return locust_check.check(spec.locustfile, base_url, run_dir / "logs", timeout)
    except RuntimeError as e:
        raise _verification_failed(e, run_dir) from None


def _verification_failed(error, run_dir):
    """One line: what failed before the load, and a service the server log says is missing."""
    why = services.hint(_tail(run_dir / "logs" / "server.log"))
    return ComponentFailed(f"verification: {error}" + (f"; {why}" if why else ""))


def _tail(path, lines=40):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_error(path):
    """The last exception line of a server log (a traceback's last unindented line)."""
    errors = [line for line in _tail(path, 400).splitlines()
              if re.match(r"[A-Za-z_][\w.]*(Error|Exception|DoesNotExist)\b", line)]  # fmt: skip
    return errors[-1].strip() if errors else ""


def _discover(app, files, base_url, run_dir, meta, timeout):
    found = _discovered.get(app.spec)
    if found is None:
        routes = subprocess.run([str(app.env.python), "-c", discover.routes_script()],
                                capture_output=True, text=True, env=files.env,
                                cwd=app.spec.root)  # fmt: skip
        if routes.returncode:
            last = (routes.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ComponentFailed(f"listing the project's URL routes failed: {last}")
        site = discover.site_from_json(routes.stdout)
        found = discover.discover(base_url, site, timeout=timeout)
        log.info(found.summary())
        _discovered[app.spec] = found
    broken = [path for path, why in found.dropped if why.startswith("answered 5")]
    if broken:  # a site that fails its own pages is not benchmarked on the pages that work
        shown = ", ".join(broken[:5]) + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
        error = _last_error(run_dir / "logs" / "server.log")
        raise ComponentFailed(
            f"discovery: {len(broken)} of the site's pages answered 5xx ({shown})"
            + (f"; the server log's last error: {error}" if error else "")
            + "; fix them, or give URLS=file with the pages to load"
        )
    if not found.pages:
        dropped = "; ".join(f"{p} ({why})" for p, why in found.dropped[:5]) or "none found"
        raise ComponentFailed(f"discovery found no page to load: {dropped}; give URLS=file")
    path = run_dir / DISCOVERED
    urls_file.write(path, found.pages)
    meta["discovery"] = found.record()
    return found.pages, "discovered", str(path)
