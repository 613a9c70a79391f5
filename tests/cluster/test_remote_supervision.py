"""A parent on one node supervising a child on another: failures, restarts, stop, node loss."""

from __future__ import annotations

import pytest

import rayka

from tests.cluster.cluster_actors import Parent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_a_child_spawned_on_another_node_lives_there_under_its_parents_path(cluster_system):
    parent = cluster_system.spawn(Parent, "n1", node=0)
    child = parent.ask("child", timeout=10).result()
    assert child.path == parent.path + "/kid"
    assert child._cell.node == "n1"
    assert parent.ask("children", timeout=10).result() == [child.path]
    child.tell("one")
    assert child.ask("count", timeout=10).result() == 1


def test_a_remote_childs_failure_is_handled_by_its_parents_strategy(cluster_system):
    parent = cluster_system.spawn(Parent, "n2", node=0)
    child = parent.ask("child", timeout=10).result()
    child.tell("kept?")
    with pytest.raises(ValueError):
        child.ask(("fail", "boom"), timeout=10).result()
    # restarted in place: a new instance (state starts afresh), same ref, still answering
    assert child.ask("count", timeout=10).result() == 0
    assert cluster_system.statistics() is not None


def test_stopping_the_parent_stops_its_remote_child_first(cluster_system):
    parent = cluster_system.spawn(Parent, "n1", node=2)
    child = parent.ask("child", timeout=10).result()
    assert child.ask("count", timeout=10).result() == 0
    parent.stop()
    with pytest.raises(rayka.ActorStopped):
        for _ in range(100):
            child.ask("count", timeout=10).result()


def test_a_child_on_a_killed_node_is_restarted_by_its_parent_on_a_live_node(ray_cluster):
    with rayka.ActorSystem("remote-sup", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=3)) as system:
        parent = system.spawn(Parent, "n1", node=0)
        child = parent.ask("child", timeout=10).result()
        child.tell("x")
        assert child.ask("count", timeout=10).result() == 1
        system.cluster.kill_node("n1")
        with pytest.raises(rayka.ActorStopped):
            child.ask("count", timeout=10).result()  # the driver's ref names the dead incarnation
        moved = child
        for _ in range(500):  # the parent's own ref follows the restart: ask it until it has moved
            moved = parent.ask("child", timeout=10).result()
            if moved._cell.node != "n1":
                break
        assert moved._cell.node in ("n0", "n2") and moved.path == child.path
        assert moved.ask("count", timeout=10).result() == 0  # a fresh instance on a live node
