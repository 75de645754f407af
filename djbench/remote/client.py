"""The controller's side of a stack host's API: calls with their errors as one line, and the
stack host's clock offset."""

import json
import socket
import time
import urllib.error
import urllib.request

from djbench.errors import ComponentFailed, UserError
from djbench.remote.stack_host import DEFAULT_PORT

CLOCK_SAMPLES = 5


def address(text, default_port, what):
    """'10.0.0.1:7700' or '10.0.0.1' -> ('10.0.0.1', 7700)."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    try:
        return host, int(port)
    except ValueError:
        raise UserError(f"bad {what} {text!r}: expected HOST or HOST:PORT") from None


class StackClient:
    """Calls to one `djbench stack-host`."""

    def __init__(self, text, token):
        self.host, self.port = address(text, DEFAULT_PORT, "--stack")
        self.token = token
        self.offset_s = self.rtt_s = None

    @property
    def name(self):
        return f"{self.host}:{self.port}"

    def call(self, path, body=None, timeout=300):
        request = urllib.request.Request(
            f"http://{self.name}{path}",
            data=json.dumps(body or {}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as e:
            try:
                reason = json.loads(e.read()).get("error", e.reason)
            except ValueError:
                reason = e.reason
            raise ComponentFailed(f"stack host {self.name}: {reason}") from None
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise ComponentFailed(f"stack host {self.name} unreachable: {reason}") from None

    def measure_clock(self):
        """Its clock minus ours, from the round trip with the shortest time (NTP's way)."""
        for _ in range(CLOCK_SAMPLES):
            t0 = time.time()
            theirs = self.call("/time", timeout=10)["time"]
            t1 = time.time()
            if self.rtt_s is None or t1 - t0 < self.rtt_s:
                self.rtt_s, self.offset_s = t1 - t0, theirs - (t0 + t1) / 2


def local_address_towards(host):
    """The address of this host's interface that routes to `host` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))
        return s.getsockname()[0]
