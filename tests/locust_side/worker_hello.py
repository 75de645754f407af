"""What the master takes of a worker's hello (locustfiles/distributed.py): the host and process
id that name the worker's files in the run directory must be a name and a number, never a
path; the run's token, when it has one, must be known; a worker cannot pass for one that joined."""

import sys
from types import SimpleNamespace

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "locustfiles"))
pytest.importorskip("request_log")
distributed = pytest.importorskip("distributed")


@pytest.mark.parametrize(
    "host, pid, ok",
    [("load1", 1234, True), ("vm-7.example", 1, True), ("../../tmp/x", 1, False),
     ("/tmp/x", 1, False), ("a/b", 1, False), ("", 1, False), ("load1", "1", False),
     ("load1", -3, False), (["x"], 1, False)],
)  # fmt: skip
def test_a_worker_names_its_files_with_a_name_and_a_number(host, pid, ok):
    assert distributed._names_a_process({"host": host, "pid": pid}) is ok


class FakeRunner:
    def __init__(self):
        self.clients, self.sent, self.handlers = {"n1": object(), "n2": object()}, [], {}
        self.state = "ready"

    def register_message(self, name, handler):
        self.handlers[name] = handler

    def send_message(self, name, data, client_id=None):
        self.sent.append((name, data["reason"], client_id))


def _hello(master, node, **data):
    hello = {"name": f"w-{node}", "host": "load1", "pid": 7, "fingerprint": distributed.FINGERPRINT,
             "user_class": distributed.USER_CLASS, **data}  # fmt: skip
    master.hello(None, SimpleNamespace(node_id=node, data=hello))


def test_a_worker_without_the_runs_token_or_passing_for_another_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "WORKER_TOKEN", "the-run-token-0123456789")
    monkeypatch.setattr(distributed.gevent, "spawn", lambda *a, **k: None)
    runner = FakeRunner()
    master = distributed.Master(SimpleNamespace(runner=runner), str(tmp_path))
    _hello(master, "n1", token="the-run-token-0123456789")
    _hello(master, "n2", token="guessed")
    _hello(master, "n3", token="the-run-token-0123456789")  # the same host and pid as n1
    _hello(master, "n4", token="the-run-token-0123456789", host="../x")
    assert list(master.workers) == ["n1"]
    assert [(r, n) for _, r, n in runner.sent] == [
        ("worker w-n2 refused: it does not know this run's token", "n2"),
        ("worker w-n3 refused: it names worker load1-7, which joined already", "n3"),
        ("worker w-n4 refused: its host name or process id is not one (they name its files "
         "here)", "n4"),
    ]  # fmt: skip
    assert "n2" not in runner.clients
    master.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["workers.csv", "workers.json"]


class Clients(dict):
    """Locust's worker nodes, as the master's watch reads them."""

    @property
    def all(self):
        return list(self.values())


def test_a_refused_worker_is_not_a_lost_one(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "WORKER_TOKEN", "the-run-token-0123456789")
    monkeypatch.setattr(distributed.gevent, "spawn", lambda *a, **k: None)
    runner = FakeRunner()
    runner.clients = Clients(n1=SimpleNamespace(id="n1", state="running"),
                             n2=SimpleNamespace(id="n2", state="ready"))  # fmt: skip
    runner.state = "running"
    master = distributed.Master(SimpleNamespace(runner=runner), str(tmp_path))
    _hello(master, "n1", token="the-run-token-0123456789")
    master.watch_once()  # Locust counted both before the second said hello
    _hello(master, "n2", token="guessed")  # refused, and dropped from Locust's count
    master.watch_once()
    del runner.clients["n1"]  # the run's own worker leaves mid-run: that one is lost
    master.watch_once()
    master.close()
    events = [line.split(",")[1:3] for line in (tmp_path / "workers.csv").read_text().splitlines()]
    assert [e for e in events if e[1] in ("lost", "refused")] == [
        ["w-n2", "refused"],
        ["w-n1", "lost"],
    ]
