"""Run the knee search on the real stack: each probe a one-step run under knee-<server>/probes/,
then knee.json and its report beside them."""

from analysis.metrics import step_metrics

from . import config, knee, results


def run(cfg, results_root, run_one, settings, out=print):
    """settings: start, max_users, measure_s, p95_slo_ms, resolution_pct, confirm."""
    knee_dir = results.new_dir(results_root, f"knee-{cfg.server}-{cfg.view}")
    with results.removed_if_unused(knee_dir):
        return _search(cfg, knee_dir, run_one, settings, out)


def _search(cfg, knee_dir, run_one, settings, out):
    out(
        f"knee search {knee_dir.name}: {cfg.server} ({cfg.interface.upper()}), from "
        f"{settings['start']} users doubling up to {settings['max_users']}, then bisection to "
        f"{settings['resolution_pct']:g} %, each knee measured {settings['confirm']} more "
        f"time(s) to confirm it; {settings['measure_s']:g} s measured per probe"
    )

    def measure(users):
        # Every probe measures the same time, whatever its ramp-up takes.
        hold = cfg.warmup_s + users / cfg.spawn_rate + settings["measure_s"]
        probe_cfg = config.with_overrides(cfg, users=(users,), hold_s=hold, profile="knee")
        run_dir = run_one(probe_cfg, knee_dir / "probes")
        step = step_metrics(run_dir).iloc[0]
        probe = knee.Probe(users, float(step["failure_pct"]), float(step["p95_ms"]),
                           str(run_dir.relative_to(knee_dir)))  # fmt: skip
        out(f"probe {users} users: {probe.failure_pct:.1f} % failed, p95 {probe.p95_ms:.0f} ms")
        return probe

    knees, probes = knee.search_all(
        measure,
        settings["start"],
        settings["max_users"],
        settings["resolution_pct"],
        settings["p95_slo_ms"],
        settings["confirm"],
    )
    results.write_json(
        knee_dir / "knee.json",
        {
            "server": cfg.server,
            "interface": cfg.interface,
            "view": cfg.view,
            "workers": cfg.workers,
            "settings": settings,
            "probes": [p.__dict__ for p in probes],
            "knees": {name: {**k.__dict__, "bounded": k.bounded} for name, k in knees.items()},
        },
    )
    from analysis.knee_report import write_knee_report  # matplotlib: only when reporting

    write_knee_report(knee_dir)
    for line in (knee_dir / "knee.md").read_text().splitlines():
        if line.startswith("- "):
            out(line)
    return knee_dir
