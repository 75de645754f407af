"""A run's processes are stopped newest first, except one asked to outlive the others (the
database a stack starts while its app server boots)."""

from djbench.system.processes import ProcessSet


def test_a_process_stopped_last_outlives_those_started_before_it(tmp_path):
    stopped = []
    with ProcessSet() as procs:
        started = {name: procs.start(name, ["sleep", "30"], tmp_path / f"{name}.log")
                   for name in ("server", "postgres", "nginx")}  # fmt: skip
        for managed in started.values():
            stop = managed.stop
            managed.stop = lambda stop=stop, name=managed.name: (stopped.append(name), stop())
        procs.stop_last(started["postgres"])
    assert stopped == ["nginx", "server", "postgres"]
    assert not any(m.alive() for m in started.values())
