"""Run the knee search on the real stack: a saturation probe to predict the knee, then each probe a
one-step run under knee-<server>/probes/, then knee.json and its report beside them.

The runner that measures a probe is injected: run_probe(probe_cfg, probes_dir, stop=) -> run_dir,
one recorded run of one step. stop(run_dir) -> bool is polled while its load runs (as
progress.follow does) and True ends the load early, keeping what was measured; a runner that
cannot stop early may ignore it (the probe then runs its full time). Whether probes share a warm
stack is the runner's business: the search only needs each probe to start from a stack with no
backlog left over from the previous one.

Each probe is measured from its steady state: its ramp-up admits users at the pace the
saturated stack completes iterations (at most RAMP_S long), the failures during it are counted
apart and not judged, and MSER-5 (search/steady_state.py) decides where the transient after it
ended, both live (the early stop judges only the steady window so far) and once the probe is
over (its recorded figures).
"""

import math
import time

from djbench import config
from djbench.analysis.runs.metrics import read_requests, read_timeline, step_metrics
from djbench.contracts import documents
from djbench.errors import UserError
from djbench.load.tail import RequestTail
from djbench.sampling.system import PG_SAMPLER_CONNECTIONS
from djbench.search import early_stop, knee, steady_state
from djbench.system import run_dirs as results
from djbench.system.log import log

DEFAULT_MAX_USERS = 640  # closed model; the open model's default is twice the saturated rate
SATURATION_S = 6.0  # measured by the saturation probe: its rate settles within seconds
SATURATION_SETTLE_S = 2.0  # its fixed warm-up: 20 users ramp in under half a second
# A probe's ramp-up takes at most this long: the spawn rate scales with the users. Ramping 640
# users at 50/s took 13 s of every large probe; what the faster ramp disturbs is the transient
# that MSER-5 cuts off, and its failures are not judged.
RAMP_S = 5.0
# No early stop this close to the window's end: the probe ends by itself, and a stop signal
# that reaches Locust while it shuts down on its own kills it (exit status -2) instead.
END_MARGIN_S = 3.0


def saturation_users(cfg):
    """Enough users with no wait to keep every server process busy, queueing included."""
    return max(10, 4 * cfg.processes)


def run(cfg, results_root, run_probe, settings):
    """settings: start, max_users (None: default), measure_s, p95_slo_ms, resolution_pct,
    confirm, predict."""
    open_model = cfg.load_model == "open"
    unit = "iterations/s" if open_model else "users"
    if open_model and cfg.pacing_s != int(cfg.pacing_s):
        raise UserError("the open model's knee search needs a whole number of seconds of pacing")
    knee_dir = results.new_dir(results_root, f"knee-{cfg.server}-{cfg.variant}")
    with results.removed_if_unused(knee_dir):
        return _search(cfg, knee_dir, run_probe, settings, unit, open_model)


def _search(cfg, knee_dir, run_probe, settings, unit, open_model):
    started = time.monotonic()
    log.info(
        f"knee search {knee_dir.name}: {cfg.server} ({cfg.interface.upper()}), {unit} "
        f"({cfg.load_model} model), bisection to {settings['resolution_pct']:g} %, each knee "
        f"measured {settings['confirm']} more time(s) to confirm it; "
        f"{settings['measure_s']:g} s measured per probe unless its verdict is settled earlier; "
        + ("the probes share one warm stack (--no-warm-stack: one each)"
           if settings.get("warm_stack") else "a stack for each probe")
    )  # fmt: skip
    saturation = prediction = failure_prediction = None
    if settings.get("predict", True):
        saturation = _saturation(cfg, knee_dir, run_probe)
        prediction = _predict(cfg, saturation, settings["p95_slo_ms"])
        failure_prediction = _predict_failures(cfg, saturation)
        if failure_prediction is not None:
            log.info(
                f"prediction: PostgreSQL's {saturation['connection_limit']} connections full "
                f"at about {failure_prediction.guess} {unit} (bracket {failure_prediction.low}.."
                f"{failure_prediction.high})"
            )
        if prediction is None:
            log.info(
                "prediction: the saturation probe measured nothing usable; doubling from start"
            )
        else:
            log.info(
                f"prediction: {saturation['iterations_per_s']:.1f} iterations/s at saturation; "
                f"p95 knee about {prediction.guess} {unit} (bracket {prediction.low}.."
                f"{prediction.high})"
            )
    max_load = settings.get("max_users")
    if max_load is None:
        max_load = DEFAULT_MAX_USERS
        if open_model and saturation and saturation["iterations_per_s"] > 0:
            max_load = max(settings["start"] + 1, round(2 * saturation["iterations_per_s"]))
    settings = {**settings, "max_users": max_load}
    pace = _pace(cfg, saturation)

    def measure(load, stop_early):
        probe_cfg = _probe_cfg(cfg, load, settings["measure_s"], pace)
        watcher = Watcher(probe_cfg, settings["measure_s"], stop_early)
        began = time.monotonic()
        run_dir = run_probe(probe_cfg, knee_dir / "probes", stop=watcher)
        duration = time.monotonic() - began
        window, _, steady = steady_probe(run_dir, settings["measure_s"])
        early = {}
        if watcher.snapshot is not None:
            window = watcher.snapshot
            steady.update(watcher.figures)
            verdicts = early_stop.settled(knee.OBJECTIVES, window, settings["p95_slo_ms"])
            early = {name: v for name, v in verdicts.items() if v is not None}
        probe = knee.Probe(
            load,
            run_dir=str(run_dir.relative_to(knee_dir)),
            duration_s=round(duration, 2),
            stopped_early=watcher.snapshot is not None,
            early=early,
            sequential=early_stop.sequential_record(window),
            **{**steady, "unsettled": window.unsettled},
        )
        log.info(probe_line(probe, unit))
        return probe

    knees, probes = knee.search_all(
        measure,
        settings["start"],
        max_load,
        settings["resolution_pct"],
        settings["p95_slo_ms"],
        settings["confirm"],
        prediction,
        _grow(cfg, saturation, settings["p95_slo_ms"]) if prediction else None,
        failure_prediction,
    )
    wall_s = time.monotonic() - started
    search = {
        "server": cfg.server,
        "interface": cfg.interface,
        "view": cfg.view,
        "workers": cfg.workers,
        "load_model": cfg.load_model,
        "unit": unit,
        "settings": {
            **settings,
            "ramp_s": RAMP_S,
            "ramp_users_per_s": pace,
            "sequential": early_stop.SEQUENTIAL,
        },
        "prediction": None
        if saturation is None
        else {
            "saturation": saturation,
            **(prediction.__dict__ if prediction else {}),
            "failures": failure_prediction.__dict__ if failure_prediction else None,
        },
        "probes": [p.__dict__ for p in probes],
        "knees": {name: {**k.__dict__, "bounded": k.bounded} for name, k in knees.items()},
        "spent": spent(probes, saturation, wall_s),
    }
    results.write_json(knee_dir / documents.KNEE.file, documents.stamp(documents.KNEE, search))
    from djbench.analysis.report.knee_report import (
        write_knee_report,  # matplotlib: only when reporting
    )

    write_knee_report(knee_dir)
    for line in (knee_dir / "knee.md").read_text().splitlines():
        if line.startswith("- "):
            log.info(line)
    return knee_dir


def spent(probes, saturation, wall_s):
    """What the search cost: wall time, probes, and the seconds they measured."""
    runs = [*([saturation] if saturation else []), *probes]
    duration = [r["duration_s"] if isinstance(r, dict) else r.duration_s for r in runs]
    measured = [r["measured_s"] if isinstance(r, dict) else r.measured_s for r in runs]
    return {
        "wall_s": round(wall_s, 1),
        "probes": len(probes),
        "saturation_probes": 1 if saturation else 0,
        "stopped_early": sum(p.stopped_early for p in probes),
        "measured_s": round(sum(measured), 1),
        "probe_s": round(sum(duration), 1),
    }


def probe_line(probe, unit):
    how = f"{probe.measured_s:.1f} s measured, {probe.duration_s:.0f} s in all"
    how = f"steady from {probe.truncation_s:.1f} s after the ramp-up; " + how
    if probe.unsettled:
        how = f"{' and '.join(probe.unsettled)} NOT settled (MSER-5); " + how
    if probe.ramp_failures:
        how += f"; {probe.ramp_failures} failed during the ramp-up (not counted)"
    if probe.stopped_early:
        settled = ", ".join(f"{k} {'met' if v else 'broken'}" for k, v in probe.early.items())
        how = f"stopped early ({settled}); " + how
    return (
        f"probe {probe.users} {unit}: {probe.failure_pct:.1f} % failed, p95 "
        f"{probe.p95_ms:.0f} ms ({how})"
    )


def _probe_cfg(cfg, load, measure_s, pace=None):
    """pace: users admitted per second, the iterations/s the saturated stack completed (closed
    model). Each new user starts an iteration at once, so a ramp faster than the stack answers
    queues a burst that the window must wait out (seen on the real stack: p95 1.5 to 3 times
    its steady level for the first seconds after a 50 users/s ramp, and probes whose latency
    never settled); at that pace the queue builds as fast as it drains."""
    users = config.users_for_rates((load,), cfg.pacing_s)[0] if cfg.load_model == "open" else load
    spawn_rate = max(pace or cfg.spawn_rate, users / RAMP_S)
    probe_cfg = config.with_overrides(cfg, users=(users,), spawn_rate=spawn_rate, profile="knee")
    # Every probe runs the same time after its ramp-up (and any warm-up given), whatever the
    # ramp takes; MSER-5 decides how much of it is steady.
    hold = _lead_in_s(probe_cfg, users) + measure_s
    return config.with_overrides(probe_cfg, hold_s=hold)


def _pace(cfg, saturation):
    """The users a probe admits per second, or None: the configured spawn rate (no saturation
    probe, or the open model, whose users spread their first iterations over a period)."""
    if cfg.load_model == "open" or not saturation:
        return None
    rate = saturation["iterations_per_s"]
    return round(rate, 2) if rate > 0 else None


def _lead_in_s(cfg, users):
    """Ramp-up and warm-up: the seconds of a probe before its steady-state rule starts."""
    return cfg.warmup_s + users / cfg.spawn_rate


def steady_probe(run_dir, measure_s):
    """What a finished probe measured from its steady state: its request log from the window's
    opening (ramp-up and warm-up over) to its end, truncated by MSER-5."""
    step = next(read_timeline(run_dir).itertuples())  # a probe is a run of one step
    requests = read_requests(run_dir)
    ts = requests["ts"].to_numpy(dtype=float)
    failed = (requests["ok"] != 1).to_numpy()
    after = (ts >= step.measure_from) & (ts < step.end)
    times = requests["response_time_ms"].to_numpy(dtype=float)[after].tolist()
    failed_after = failed[after].tolist()
    offsets = (ts[after] - step.measure_from).tolist()
    window, cut = early_stop.steady_window(times, failed_after, offsets, measure_s)
    opened = offsets[cut.start - 1] if cut.start else 0.0
    return (
        window,
        cut,
        {
            **window_figures(window, cut, offsets, failed_after),
            "measured_s": round(step.end - step.measure_from - opened, 2),
            "unsettled": cut.unsettled,
            "ramp_failures": int(failed[ts < step.measure_from].sum()),
        },
    )


def window_figures(window, cut, offsets, failed):
    """What a probe records of its steady window (a Snapshot) and where it opened (cut, over
    the requests since the ramp-up: their offsets and failures)."""
    kept = window.times_ms
    return {
        "failure_pct": 100 * window.failures / len(kept) if kept else math.nan,
        "p95_ms": steady_state.nearest_rank(list(kept), 0.95),
        "requests": len(kept),
        "truncation_s": round(offsets[cut.start - 1], 2) if cut.start else 0.0,
        "truncated_requests": cut.start,
        "transient_failures": int(sum(failed[: cut.start])),
    }


def _saturation(cfg, knee_dir, run_probe):
    """A closed loop with no wait: the most iterations/s this stack completes."""
    users = saturation_users(cfg)
    sat_cfg = config.with_overrides(
        cfg,
        load_model="closed",
        users=(users,),
        wait_s=(0.0, 0.0),
        warmup_s=max(cfg.warmup_s, SATURATION_SETTLE_S),
        hold_s=users / cfg.spawn_rate + max(cfg.warmup_s, SATURATION_SETTLE_S) + SATURATION_S,
        profile="knee-saturation",
    )
    log.info(f"saturation probe: {users} users with no wait")
    began = time.monotonic()
    run_dir = run_probe(sat_cfg, knee_dir / "probes", stop=None)
    step = step_metrics(run_dir).iloc[0]
    started_iter_s = float(step["started_iter_s"])
    iterations = started_iter_s * float(step["window_s"])
    connections = {
        key: float(step[column]) if column in step.index else math.nan
        for key, column in (
            ("in_flight_mean", "inflight_mean"),
            ("pg_total_mean", "pg_total_mean"),
            ("pg_total_max", "pg_total_max"),
        )
    }
    return {
        "run_dir": str(run_dir.relative_to(knee_dir)),
        "users": users,
        "iterations_per_s": started_iter_s,
        "iteration_s": float(step["iteration_period_s"]),  # no wait: the iteration itself
        "p95_ms": float(step["p95_ms"]),
        "failure_pct": float(step["failure_pct"]),
        "requests_per_iteration": float(step["requests"]) / iterations if iterations else math.nan,
        **connections,
        # What the app may open: the sampler holds one of PostgreSQL's slots.
        "connection_limit": cfg.pg_max_connections - PG_SAMPLER_CONNECTIONS,
        "measured_s": round(float(step["window_s"]), 2),
        "duration_s": round(time.monotonic() - began, 2),
    }


def _predict(cfg, saturation, p95_slo_ms):
    rate = saturation["iterations_per_s"]
    if not rate > 0 or not saturation["iteration_s"] > 0:
        return None
    if cfg.load_model == "open":
        return knee.predict_rate(rate)
    return knee.predict_users(
        rate,
        cfg.mean_wait_s,
        saturation["iteration_s"],
        saturation["p95_ms"],
        p95_slo_ms,
        saturation["requests_per_iteration"],
    )


def _predict_failures(cfg, saturation):
    """Where PostgreSQL's connections run out (closed model only: in the open model a load is a
    rate, and the users in flight are not N - X Z)."""
    if cfg.load_model == "open":
        return None
    in_flight, mean = saturation["in_flight_mean"], saturation["pg_total_mean"]
    if not (in_flight > 0 and mean > 0):
        return None
    return knee.predict_failures(
        saturation["iterations_per_s"],
        cfg.mean_wait_s,
        mean / in_flight,
        saturation["pg_total_max"] / mean,
        saturation["connection_limit"],
    )


def _grow(cfg, saturation, p95_slo_ms):
    """Where Little's law on a probe puts the p95 knee (closed model only: the open model's load
    does not queue into its own rate). The rate is the probe's own, iterations/s completed in
    its window: near the knee the stack is saturated, and what it completes at that load is
    its capacity there (uvicorn with sync views, a thread and a connection per request in
    flight, completes fewer iterations/s near its knee than the saturation probe's 20 users
    with no wait); the saturation probe's rate when the probe measured nothing."""
    if cfg.load_model == "open":
        return None
    wait_s, per_iteration = cfg.mean_wait_s, saturation["requests_per_iteration"]

    def grow(probe):
        rate = saturation["iterations_per_s"]
        if probe.requests and probe.measured_s > 0 and per_iteration > 0:
            rate = probe.requests / probe.measured_s / per_iteration
        return knee.extrapolate_users(probe.users, probe.p95_ms, rate, wait_s, p95_slo_ms)

    return grow


class Watcher:
    """The stop(run_dir) callable of one probe: a Snapshot of its steady window so far (MSER-5
    on its requests since the ramp-up ended), asked of stop_early (a pure function,
    djbench/search/early_stop.py) at every poll once that series has settled."""

    def __init__(self, probe_cfg, measure_s, stop_early, clock=time.time):
        self.warmup_s = _lead_in_s(probe_cfg, probe_cfg.users[0])
        self.measure_s, self.stop_early, self.clock = measure_s, stop_early, clock
        self.tail = None
        self.rows = []  # (ts, ok, response_time_ms): all of a probe's, a short run
        self.snapshot = None  # the one the probe stopped on
        self.truncation = None  # the steady-state rule's answer at the last poll
        self.figures = {}  # of the snapshot: what the probe records when it stopped early

    def __call__(self, run_dir):
        if self.tail is None:
            self.tail = RequestTail(run_dir)
        self.rows.extend(self.tail.new_rows())
        rows = self.rows
        if not rows:
            return False
        # The first request (a user's index page) comes with the step's start; the timeline's
        # own measure_from is only written when the step ends.
        measure_from = min(row[0] for row in rows) + self.warmup_s
        if self.clock() - measure_from > self.measure_s - END_MARGIN_S:
            return False
        after = sorted(row for row in rows if row[0] >= measure_from)  # several logs: by time
        if not after:
            return False
        failed = [not ok for _, ok, _ in after]
        offsets = [ts - measure_from for ts, _, _ in after]
        snapshot, self.truncation = early_stop.steady_window(
            [ms for _, _, ms in after], failed, offsets, self.measure_s
        )
        if not snapshot.requests:
            return False
        if self.stop_early(snapshot):
            # What the probe records: the window its verdicts were settled on. The requests
            # that complete after (the load's tail, as Locust stops) are not measured.
            self.snapshot = snapshot
            self.figures = {
                **window_figures(snapshot, self.truncation, offsets, failed),
                "measured_s": round(snapshot.elapsed_s, 2),
            }
            return True
        return False
