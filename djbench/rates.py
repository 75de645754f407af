"""The open model's steps: iterations started per second, each a whole number of users who
start one every pacing period."""

from djbench.errors import UserError


def parse_rates(text):
    """'5,10,20' -> (5.0, 10.0, 20.0) iterations/s; positive and strictly increasing."""
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"bad rate list {text!r}: expected comma-separated numbers") from None
    if not all(0 < r < float("inf") for r in rates):
        raise UserError(f"bad rate list {text!r}: rates must be positive")
    if any(b <= a for a, b in zip(rates, rates[1:], strict=False)):
        raise UserError(f"bad rate list {text!r}: rates must increase")
    return rates


def users_for_rates(rates, pacing_s):
    """The users that start `rates` iterations/s, each one every pacing_s: rate x pacing_s,
    which must be whole so that the rate started is the rate asked."""
    if not 0 < pacing_s < float("inf"):
        raise UserError(f"pacing must be positive, got {pacing_s:g}")
    users = tuple(round(rate * pacing_s) for rate in rates)
    for rate, n in zip(rates, users, strict=True):
        if n < 1 or abs(rate * pacing_s - n) > 1e-6:
            raise UserError(
                f"rate {rate:g}/s with pacing {pacing_s:g} s needs {rate * pacing_s:g} users; "
                f"choose rates in steps of {1 / pacing_s:g}/s, or another --pacing"
            )
    return users


def default_rates(profile, wait_s, pacing_s):
    """The profile's steps as rates: what its closed-loop users offer when answered instantly
    (users / mean wait), rounded to whole users per pacing period."""
    mean_wait = sum(wait_s) / 2
    return tuple(max(1, round(u / mean_wait * pacing_s)) / pacing_s for u in profile.users)
