"""Addresses, ports and tokens of distributed mode, each checked with one line: HOST[:PORT] with
names, IPv4 and [IPv6] literals; a bind address another host must connect to is neither a
wildcard nor loopback; a shared token is long enough not to be guessed."""

import ipaddress
import re

from djbench.errors import UserError

NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")  # fmt: skip
MIN_TOKEN = 16  # characters of a token a person chose (one djbench makes has 32)


def host_port(text, default_port, what):
    """'10.0.0.1:7700', '10.0.0.1', 'stack1', '[fd00::1]:7700' -> (host, port)."""
    bad = f"bad {what} {text!r}: expected HOST or HOST:PORT (an IPv6 address in brackets)"
    text = (text or "").strip()
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise UserError(bad)
        port = rest[1:] if rest else str(default_port)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UserError(bad) from None
    elif text.count(":") > 1:
        raise UserError(f"bad {what} {text!r}: write an IPv6 address in brackets, [ADDRESS]:PORT")
    else:
        host, _, port = text.partition(":") if ":" in text else (text, "", str(default_port))
        if not NAME.match(host):
            raise UserError(bad)
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise UserError(bad)
    return host, int(port)


def reachable_bind(address, what, loopback_ok=False):
    """An address this host listens on for other hosts: not 0.0.0.0/:: (every interface,
    including ones the benchmark must not be on), not loopback (no other host gets there)
    unless loopback_ok (every role on this one host, over ssh to itself)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise UserError(f"bad {what} {address!r}: expected this host's IP address") from None
    if ip.is_unspecified:
        raise UserError(f"bad {what} {address}: a wildcard listens on every interface; give the "
                        "address the other hosts reach this one at")  # fmt: skip
    if ip.is_loopback and not loopback_ok:
        raise UserError(f"bad {what} {address}: no other host reaches loopback; give the "
                        "address the other hosts reach this one at")  # fmt: skip
    return str(ip)


def reachable_host(host, what):
    """A host another one must reach: not loopback or a wildcard, when given as an address."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name: resolved where it is used
    if ip.is_unspecified or ip.is_loopback:
        raise UserError(f"bad {what} {host}: another host's address, not loopback or a wildcard")
    return host


def checked_token(token, where):
    if len(token) < MIN_TOKEN:
        raise UserError(f"{where} is too short to be a secret: at least {MIN_TOKEN} characters "
                        "(unset it and the stack host makes one)")  # fmt: skip
    return token
