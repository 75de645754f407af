"""How often two knee searches in a row repeat every knee within one resolution step, on a
simulated server whose speed moves as this machine's did.

    python -m tests.knee_repeatability [--pairs 200] [--out results/reference/knee-repeatability]

The server is ClosedLoop (tests/knee_sim.py) shaped like uvicorn with sync views here: 40
iterations/s at saturation, a p95 knee near 143 users, PostgreSQL's connections full near 297
(160 for the app, peaks 1.5 times 0.45 per request in flight), latency 10 % apart from probe to
probe. Each probe's capacity is 40 iterations/s times a machine speed: 1 on a steady machine; on
this machine a 20 s block of `djbench machine-speed` (results/reference/machine-speed/) over its
run's median, drawn at random for every probe, or once per search (the machine changed between
searches, not within). Its failure knees move with the speed only through the users it keeps
waiting (X Z), less than the real stack's did. The search is the real one (search_all, with the
real stack's predictions from a saturation probe, which sees a speed too). A model, not a
measurement: it says what this much movement costs, not what the stack does.
"""

import argparse
import json
import random
import statistics
from pathlib import Path
from types import SimpleNamespace

from djbench.analysis.report.knee_summary import spread
from djbench.analysis.studies.reference_notes import REFERENCE, machine_speed_facts
from djbench.search import probes
from djbench.search.knee import OBJECTIVES, search_all
from djbench.search.settings import KNEE_DEFAULTS
from tests.knee_sim import ClosedLoop

RATE, LIMIT, NOISE = 40.0, 160, 0.1
CFG = SimpleNamespace(load_model="closed", mean_wait_s=1.5)


class MovingMachine(ClosedLoop):
    """ClosedLoop whose capacity is RATE times speed(), asked before each probe."""

    def __init__(self, speed, seed):
        super().__init__(rate=RATE, max_connections=LIMIT, noise=NOISE, seed=seed)
        self.speed = speed

    def __call__(self, users, stop_early):
        self.rate = RATE * self.speed()
        return super().__call__(users, stop_early)


def one_search(speed, seed):
    sim = MovingMachine(speed, seed)
    sim.rate = RATE * speed()
    saturation = {**sim.saturation(), "connection_limit": LIMIT}
    slo = KNEE_DEFAULTS["p95_slo_ms"]
    knees, measured = search_all(
        sim, KNEE_DEFAULTS["start"], 640, KNEE_DEFAULTS["resolution_pct"], slo,
        KNEE_DEFAULTS["confirm"], probes._predict(CFG, saturation, slo),
        probes._grow(CFG, saturation, slo), probes._predict_failures(CFG, saturation),
    )  # fmt: skip
    return {name: {"users": k.users, "bad_users": k.bad_users, "resolution": k.resolution}
            for name, k in knees.items()}, len(measured)  # fmt: skip


def speeds(ref=REFERENCE):
    """This machine's 20 s blocks, each over its run's median."""
    found = []
    for run in machine_speed_facts(ref)["runs"]:
        middle = statistics.median(run["block_rates"])
        found += [rate / middle for rate in run["block_rates"]]
    return found


def scenario(name, pairs, factors):
    agree = dict.fromkeys([*OBJECTIVES, "every knee"], 0)
    counts = []
    for pair in range(pairs):
        searches = []
        for i in (1, 2):
            rng = random.Random(f"{name}-{pair}-{i}")
            if name == "per probe":
                speed = lambda rng=rng: rng.choice(factors)  # noqa: E731
            else:
                fixed = rng.choice(factors) if name == "per search" else 1.0
                speed = lambda fixed=fixed: fixed  # noqa: E731
            knees, n = one_search(speed, seed=f"{name}-{pair}-{i}")
            searches.append(knees)
            counts.append(n)
        same = {o: (s := spread([k[o] for k in searches])) is not None and s[2] for o in OBJECTIVES}
        for objective, ok in same.items():
            agree[objective] += ok
        agree["every knee"] += all(same.values())
    return {"pairs": pairs, "agree": agree, "probes_median": statistics.median(counts)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--out", type=Path, default=REFERENCE / "knee-repeatability")
    args = p.parse_args(argv)
    factors = speeds()
    result = {
        "speeds": {
            "blocks": len(factors),
            "min": round(min(factors), 3),
            "max": round(max(factors), 3),
        },
        "scenarios": {
            name: scenario(name, args.pairs, factors)
            for name in ("steady", "per search", "per probe")
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "repeatability.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
