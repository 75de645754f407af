"""Whether this machine keeps its speed: a fixed CPU loop on every usable CPU, counted per window.

Nothing of the stack runs while it is measured, so what moves is the machine (a hypervisor's
neighbours, frequency scaling, throttling), not a server. A knee search compares counts measured
minutes apart; its knees can repeat to its resolution only where the machine's speed holds to
about that over a probe's window (BLOCK_S), so the spread is given per window and per block.
"""

import multiprocessing
import os
import signal
import statistics
import time

from djbench.errors import ComponentFailed
from djbench.search.settings import KNEE_DEFAULTS
from djbench.system.processes import STOP_SIGNALS

BLOCK_S = KNEE_DEFAULTS["measure"]  # a knee probe's measured window
CSV = "machine-speed.csv"  # window, start_s, cpu, units: a row per CPU per window
UNIT_LOOPS = 50_000  # one unit of work: about 1-2 ms of pure Python here


def _unit():
    total = 0
    for i in range(UNIT_LOOPS):
        total += i * i
    return total


def _ignore_stops():
    # The parent stops its workers; a Ctrl-C reaching them too must not print their tracebacks.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _count(start, seconds, window_s):
    """Units completed in each window of `window_s`, from `start` (a shared monotonic time)."""
    counts = [0] * round(seconds / window_s)
    while (now := time.monotonic()) < start:
        time.sleep(min(0.01, start - now))
    while (elapsed := time.monotonic() - start) < seconds:
        _unit()
        index = int(elapsed // window_s)
        if index < len(counts):
            counts[index] += 1
    return counts


def _counter(results, cpu, *args):
    _ignore_stops()
    results.put((cpu, _count(*args)))


def measure(seconds, window_s=1.0, cpus=None):
    """{cpu index: [units per window]}, one process per usable CPU, all starting together.
    Every process is stopped on leaving, on an error or Ctrl-C too; one that dies without its
    counts fails the measurement instead of leaving it waiting."""
    cpus = cpus or len(os.sched_getaffinity(0))
    ctx = multiprocessing.get_context("fork")
    results = ctx.SimpleQueue()
    start = time.monotonic() + 0.5
    procs = [
        ctx.Process(target=_counter, args=(results, cpu, start, seconds, window_s), daemon=True)
        for cpu in range(cpus)
    ]
    found = {}
    try:
        for proc in procs:
            proc.start()
        while len(found) < cpus:
            if results.empty():
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise ComponentFailed("machine speed: a CPU counter died without its counts")
                time.sleep(0.05)
                continue
            cpu, counts = results.get()
            found[cpu] = counts
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
    return dict(sorted(found.items()))


def spread_pct(rates):
    """How far apart the slowest and the fastest are: max / min - 1, in %."""
    low = min(rates)
    return round(100 * (max(rates) / low - 1), 1) if low > 0 else float("inf")


def summary(counts, window_s, block_s=BLOCK_S):
    """The machine's units/s (all CPUs together) per window and per block of block_s."""
    windows = [sum(c) / window_s for c in zip(*counts.values(), strict=True)]
    per_block = max(1, round(block_s / window_s))
    blocks = [
        statistics.fmean(windows[i : i + per_block])
        for i in range(0, len(windows) - per_block + 1, per_block)
    ]
    return {
        "cpus": len(counts),
        "window_s": window_s,
        "block_s": per_block * window_s,
        "windows": len(windows),
        "window_rate": {
            "min": min(windows),
            "median": statistics.median(windows),
            "max": max(windows),
        },
        "window_spread_pct": spread_pct(windows),
        "block_rates": [round(b, 1) for b in blocks],
        "block_spread_pct": spread_pct(blocks) if len(blocks) > 1 else None,
    }


def verdict(s, resolution_pct=KNEE_DEFAULTS["resolution_pct"]):
    line = (
        f"machine speed alone: a fixed CPU loop on {s['cpus']} CPUs ran "
        f"{s['window_rate']['min']:.0f}-{s['window_rate']['max']:.0f} units/s per "
        f"{s['window_s']:g} s window ({s['window_spread_pct']:g} % apart)"
    )
    block = s["block_spread_pct"]
    if block is None:
        return line + f"; too short for two {s['block_s']:g} s blocks"
    line += f", {block:g} % apart between {s['block_s']:g} s blocks (a knee probe's window)"
    if block > resolution_pct:
        return line + (
            f": more than a knee search's {resolution_pct:g} % resolution, so two searches "
            "here may not repeat their knees within one step"
        )
    return line + f": within a knee search's {resolution_pct:g} % resolution"
