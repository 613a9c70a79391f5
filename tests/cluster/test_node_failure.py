"""A node runtime killed with SIGKILL: watchers told, asks failed, children restarted elsewhere."""

from __future__ import annotations

import time

import pytest

import rayka

from tests.cluster.cluster_actors import Counter, Forwarder, Stuck, Watcher

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_a_killed_node_runtime_fails_asks_tells_watchers_and_restarts_its_actors(ray_cluster, capsys):
    with rayka.ActorSystem("failure", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=3)) as system:
        runtime = system.cluster
        worker = system.spawn(Counter, name="worker", node=1)
        system.spawn(Counter, name="scratch", node=1, restart=rayka.Restart.TEMPORARY)
        stuck = system.spawn(Stuck, node=1)
        watcher = system.spawn(Watcher, node=0)
        watcher.ask(("watch", worker), timeout=10).result()
        worker.tell("before")
        assert worker.ask("count", timeout=10).result() == 1
        pending = stuck.ask("never answered", timeout=60)

        killed_at = time.monotonic()
        runtime.kill_node("n1")

        with pytest.raises(rayka.ActorStopped):
            pending.result(timeout=30)
        assert runtime.wait_recovered("n1", timeout=30)
        again = system.lookup("worker")
        assert again != worker and again._cell.node in ("n0", "n2")
        again.tell("after")
        assert again.ask("count", timeout=10).result() == 1  # a new incarnation: state starts afresh
        recovery = time.monotonic() - killed_at

        seen = []
        for _ in range(100):
            seen = watcher.ask("terminated", timeout=10).result()
            if seen:
                break
        assert seen == [worker.path]
        with pytest.raises(rayka.ActorNotFound):
            system.lookup("scratch")  # temporary: not restarted
        with pytest.raises(rayka.ActorStopped):
            worker.ask("count", timeout=10).result()
    with capsys.disabled():
        print(f"\n[node failure] kill -> restarted actor answering: {recovery * 1000:.0f} ms")
    assert system.statistics()["restarts"] >= 1


@pytest.mark.parametrize("options", [{}, {"max_restarts": -1}], ids=["replaced by rayka", "restarted by ray"])
def test_a_dead_node_runtime_joins_again_as_a_new_incarnation(ray_cluster, options):
    nodes = [{}, options]
    with rayka.ActorSystem("rejoin", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=nodes)) as system:
        runtime = system.cluster
        before = runtime.node_info()["n1"]
        runtime.kill_node("n1")
        assert runtime.wait_recovered("n1", timeout=30)
        assert runtime.wait_rejoined("n1", timeout=90)
        after = runtime.node_info()["n1"]
        assert after["incarnation"] > before["incarnation"] and after["pid"] != before["pid"]
        fresh = system.spawn(Counter, node="n1")
        fresh.tell("hello")
        assert fresh.ask("count", timeout=10).result() == 1
        other = system.spawn(Counter, node="n0")
        forwarder = system.spawn(Forwarder, node="n0")
        assert forwarder.ask((fresh, "count"), timeout=10).result() == 1  # node to node, new streams
        assert other.ask("count", timeout=10).result() == 0
