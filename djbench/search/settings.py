"""The knee search's settings: their defaults, once, and each checked before anything starts."""

from djbench import config
from djbench.errors import UserError
from djbench.search.probes import DEFAULT_MAX_USERS, RAMP_S

# None on the command line means "not given", so that a knee option given to a run that searches
# no knee is refused instead of ignored.
KNEE_DEFAULTS = {
    "start": 10,
    "max_users": DEFAULT_MAX_USERS,
    # 20 s: with 15 s a search of two servers ran in under 5 minutes, but the knees of two in a
    # row agreed within one resolution step in 1 of 5 pairs; with 20 s, run beside them, they
    # did (results/reference/knee-measure15/, knee-measure20/).
    "measure": 20.0,
    "p95_slo_ms": 1000.0,
    "resolution_pct": 10.0,
    "confirm": 1,
    "predict": True,  # --no-predict: double from --start instead
    # The probes share one stack (stack/warm.py) where they can: natively, for the polls project
    # (None); --warm-stack insists, --no-warm-stack starts a stack per probe.
    "warm_stack": None,
}


def _ramp_s(cfg, users):
    """A probe's ramp-up: its spawn rate scales with the users (search/probes.py)."""
    return min(users / cfg.spawn_rate, RAMP_S)


def _polls_only(cfgs):
    """A warm stack serves only the polls project: a user's project's invariant is checked
    against the database its run started with."""
    return all(cfg.project.builtin for cfg in cfgs)


def warm_stack(given, mode, cfgs):
    """Whether the probes share a warm stack: as given, else wherever one can serve them."""
    if given is not None:
        return given
    return mode == "native" and _polls_only(cfgs)


def given(args):
    """The knee options given on the command line."""
    return [k for k in KNEE_DEFAULTS if getattr(args, k) is not None]


def knee_settings(args, cfgs=()):
    """The search's settings, each checked; with cfgs, against their stack too."""
    d = {k: v if (v := getattr(args, k)) is not None else KNEE_DEFAULTS[k] for k in KNEE_DEFAULTS}
    most, why = config.max_users()
    config.check_range("start", d["start"], high=most, why=f" ({why})")
    config.check_range("max-users", d["max_users"], high=most, why=f" ({why})")
    if d["max_users"] < d["start"]:
        raise UserError(f"max-users ({d['max_users']}) is below start ({d['start']})")
    config.check_range("measure", d["measure"], high=config.DAY_S, why=" s (a day)")
    config.check_range("resolution-pct", d["resolution_pct"], high=100)
    config.check_range("confirm", d["confirm"], low_ok=True)
    if d["warm_stack"] is True and not _polls_only(cfgs):
        raise UserError(
            "--warm-stack is for the polls project: a project's invariant is checked against "
            "the database its run started with"
        )
    for cfg in cfgs:
        # A p95 above the client timeout cannot be seen: such requests fail as timeouts.
        timeout_ms = cfg.client_timeout_s * 1000
        config.check_range(
            "p95-slo-ms", d["p95_slo_ms"], high=timeout_ms, why=" (the client timeout)"
        )
        longest = cfg.warmup_s + _ramp_s(cfg, d["max_users"]) + d["measure"]
        least = (1 + d["confirm"]) * (cfg.warmup_s + _ramp_s(cfg, d["start"]) + d["measure"])
        if longest > config.DAY_S or least * len(cfgs) > config.DAY_S:
            raise UserError(
                f"this knee search would take more than a day ({config.DAY_S} s); lower "
                "--measure, --max-users, --confirm or --repeat"
            )
    config.check_range("p95-slo-ms", d["p95_slo_ms"])
    return {
        "start": d["start"],
        # Not given: the runner's default, which for the open model depends on the prediction.
        "max_users": args.max_users,
        "measure_s": d["measure"],
        "p95_slo_ms": d["p95_slo_ms"],
        "resolution_pct": d["resolution_pct"],
        "confirm": d["confirm"],
        "predict": d["predict"],
        "warm_stack": d["warm_stack"],
    }
