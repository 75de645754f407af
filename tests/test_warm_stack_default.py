"""Where a knee search's probes share a warm stack when nobody said: natively, for polls."""

from types import SimpleNamespace

import pytest

from djbench.search.settings import warm_stack


def _cfgs(*builtin):
    return [SimpleNamespace(project=SimpleNamespace(builtin=b)) for b in builtin]


@pytest.mark.parametrize(
    ("given", "mode", "builtin", "expected"),
    [
        (None, "native", (True, True), True),
        (None, "compose", (True,), False),
        (None, "distributed", (True,), False),
        # A user's project's invariant is checked against the database its run started with.
        (None, "native", (True, False), False),
        (False, "native", (True,), False),
        (True, "native", (True,), True),
        (True, "compose", (True,), True),  # refused by the runner, not ignored
    ],
)
def test_the_default_warm_stack(given, mode, builtin, expected):
    assert warm_stack(given, mode, _cfgs(*builtin)) is expected
