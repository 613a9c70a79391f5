"""Elastic membership: list, add and drain node runtimes while the system runs (real Ray on loopback)."""

from __future__ import annotations

import os

import cloudpickle
import pytest

import rayka
from rayka.testing import TestProbe
from tests.cluster import elastic_actors
from tests.cluster.polling import wait_until
from tests.cluster.elastic_actors import Holder, Keeper

cloudpickle.register_pickle_by_value(elastic_actors)
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]



def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def system(ray_cluster):
    system = rayka.ActorSystem("elastic", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=2))
    try:
        yield system
    finally:
        system.shutdown()


def test_a_node_added_while_running_is_listed_placed_on_and_reached_from_other_nodes(system) -> None:
    before = system.cluster.nodes()
    assert [(n.node, n.state) for n in before] == [("n0", "up"), ("n1", "up")]
    assert all(n.pid and n.ray_node for n in before)
    spread = [system.spawn(Keeper, node="spread") for _ in range(2)]  # one on each of n0 and n1
    assert {ref.ask("state", timeout=30).result()[1] for ref in spread} == {n.pid for n in before}
    added = system.cluster.add_node()
    assert added == "n2"
    listed = {n.node: n for n in system.cluster.nodes()}
    assert listed["n2"].state == "up" and listed["n2"].pid not in {n.pid for n in before}
    assert system.spawn(Keeper, node="spread").ask("state", timeout=30).result()[1] == listed["n2"].pid  # least loaded
    there = system.spawn(Keeper, node="n2")
    assert there.ask("state", timeout=30).result()[1] == listed["n2"].pid
    holder = system.spawn(Holder, "n2", node="n0")  # a node that started before n2 places a child there
    assert wait_until(lambda: holder.ask("child-state", timeout=10).result())[1] == listed["n2"].pid
    assert system.cluster.nodes()[2].actors >= 3  # two Keepers and the child


def test_a_drained_node_stops_its_actors_in_order_and_they_come_back_on_live_nodes(system) -> None:
    witness = TestProbe(system)
    system.cluster.add_node()  # n2: a child on another node than its parent's is restarted on a third node
    n1 = {n.node: n for n in system.cluster.nodes()}["n1"]
    keeper = system.spawn(Keeper, witness.ref, name="keeper", node="n1")
    for _ in range(3):
        keeper.tell("add")
    assert keeper.ask("state", timeout=30).result() == [3, n1.pid]
    holder = system.spawn(Holder, "n1", node="n0")
    assert wait_until(lambda: holder.ask("child-state", timeout=10).result())[1] == n1.pid
    system.cluster.remove_node("n1")
    stopped = witness.expect(timeout=30)
    assert stopped == ["stopped", "/user/keeper", n1.pid]  # on_stop ran on n1 before it left
    assert [n.node for n in system.cluster.nodes()] == ["n0", "n2"]
    moved = system.lookup("keeper")  # the named, supervised actor: started again on a live node
    state = moved.ask("state", timeout=30).result()
    assert state[0] == 0 and state[1] != n1.pid  # a new incarnation: its state starts empty
    child = wait_until(lambda: holder.ask("child-state", timeout=10).result())
    assert child[1] != n1.pid  # the child whose parent lives on n0 was started again by n0
    wait_until(lambda: not alive(n1.pid), timeout=30)  # its process ended


def test_removing_without_drain_is_a_loss_and_the_last_node_cannot_be_removed(system) -> None:
    keeper = system.spawn(Keeper, name="abrupt", node="n1")
    assert keeper.ask("state", timeout=30).result()[0] == 0
    system.cluster.remove_node(1, drain=False)
    assert system.cluster.wait_recovered("n1", timeout=30)
    n0 = system.cluster.nodes()[0]
    assert system.lookup("abrupt").ask("state", timeout=30).result()[1] == n0.pid  # started again on n0
    with pytest.raises(ValueError, match="last node runtime"):
        system.cluster.remove_node("n0")
    with pytest.raises(ValueError, match="no live node runtime 'n7'"):
        system.cluster.remove_node("n7")


def test_auto_nodes_follow_the_ray_cluster_as_a_raylet_joins_and_is_killed(ray_cluster) -> None:
    import ray

    system = rayka.ActorSystem("auto", cluster=rayka.RayCluster(address=ray_cluster.address, nodes="auto"))
    raylet = None
    try:
        alive = {entry["NodeID"] for entry in ray.nodes() if entry["Alive"]}
        assert {n.ray_node for n in system.cluster.nodes()} == alive  # one node runtime per Ray node
        raylet = ray_cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        joined = wait_until(lambda: [n for n in system.cluster.nodes() if n.ray_node == raylet.node_id])[0]
        keeper = system.spawn(Keeper, name="on-new-raylet", node=joined.node)
        assert keeper.ask("state", timeout=30).result()[1] == joined.pid
        ray_cluster.remove_node(raylet)  # its processes are killed: the node runtime is lost, not drained
        raylet = None
        assert system.cluster.wait_recovered(joined.node, timeout=60)
        assert system.lookup("on-new-raylet").ask("state", timeout=30).result()[1] != joined.pid
        wait_until(lambda: joined.node not in [n.node for n in system.cluster.nodes()])  # not started again
    finally:
        system.shutdown()
        if raylet is not None:
            ray_cluster.remove_node(raylet)


def _announce_drain(address: str, ray_node: str, seconds: float) -> None:
    """What the autoscaler does before it takes a Ray node away: tell the GCS it drains (preemption)."""
    import time

    import ray
    from ray.core.generated import autoscaler_pb2

    accepted, why = ray._raylet.GcsClient(address=address).drain_node(
        ray_node, autoscaler_pb2.DrainNodeReason.Value("DRAIN_NODE_REASON_PREEMPTION"), "rayka test",
        int(time.time() * 1000 + seconds * 1000))
    assert accepted, why


def test_auto_nodes_drain_the_node_runtime_of_a_raylet_that_announced_its_drain(ray_cluster) -> None:
    system = rayka.ActorSystem("announced", cluster=rayka.RayCluster(address=ray_cluster.address, nodes="auto"))
    raylet = None
    try:
        witness = TestProbe(system)
        raylet = ray_cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        joined = wait_until(lambda: [n for n in system.cluster.nodes() if n.ray_node == raylet.node_id])[0]
        keeper = system.spawn(Keeper, witness.ref, name="on-leaving-raylet", node=joined.node)
        assert keeper.ask("state", timeout=30).result()[1] == joined.pid
        _announce_drain(ray_cluster.address, raylet.node_id, 60)
        stopped = witness.expect(timeout=60)
        assert stopped == ["stopped", "/user/on-leaving-raylet", joined.pid]  # on_stop ran there: drained, not lost
        wait_until(lambda: joined.node not in [n.node for n in system.cluster.nodes()])


        def moved() -> int | None:  # the registry names the new incarnation once it started elsewhere
            try:
                return system.lookup("on-leaving-raylet").ask("state", timeout=30).result()[1]
            except rayka.RaykaError:
                return None

        assert wait_until(lambda: moved() not in (None, joined.pid))
        assert raylet.node_id not in {n.ray_node for n in system.cluster.nodes()}  # no node runtime started there
        ray_cluster.remove_node(raylet)  # the autoscaler takes the machine away
        raylet = None
    finally:
        system.shutdown()
        if raylet is not None:
            ray_cluster.remove_node(raylet)
