"""Messaging patterns across a Ray cluster: topics with one relay per node, a work queue surviving a node kill."""

from __future__ import annotations

import uuid

import pytest

import rayka
from rayka.patterns import AddPeer, Drain, GetQueueStatistics, Publish, PutMany, Subscribe, Topics, WorkQueue
from tests.cluster.cluster_actors import Collector, Listener, ReportingConsumer

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_topics_on_three_nodes_deliver_a_publish_to_subscribers_on_every_node(cluster_system):
    topics = [cluster_system.spawn(Topics, node=i) for i in range(3)]
    for i, node_topics in enumerate(topics):
        for j, peer in enumerate(topics):
            if i != j:
                node_topics.ask(AddPeer(peer), timeout=10).result()
    listeners = [cluster_system.spawn(Listener, node=i % 3) for i in range(6)]
    for i, listener in enumerate(listeners):
        topics[i % 3].ask(Subscribe("news", listener), timeout=10).result()
    # interest travels to the peers asynchronously: ask each node's topics once so it has been handled
    for node_topics in topics:
        node_topics.ask(Publish("warmup", None), timeout=10).result()
    assert topics[0].ask(Publish("news", "hello"), timeout=10).result() == 2  # two local subscribers on n0
    for listener in listeners:
        got = []
        for _ in range(100):
            got = listener.ask("got", timeout=10).result()
            if got:
                break
        assert got == ["hello"]


def test_a_work_queue_across_nodes_loses_nothing_when_a_consumer_node_is_killed(ray_cluster):
    with rayka.ActorSystem("wq", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=3)) as system:
        queue = system.spawn(WorkQueue, 10_000, ack_timeout=5.0, node=0)
        collector = system.spawn(Collector, node=0)
        system.spawn(ReportingConsumer, queue, collector, "n1", node=1)
        system.spawn(ReportingConsumer, queue, collector, "n2", 0.002, node=2)
        ids = queue.ask(PutMany(tuple(range(2_000))), timeout=30).result()
        assert len(ids) == 2_000
        for _ in range(2_000):  # let the slow consumer on n2 get some way into its share
            if collector.ask("by_node", timeout=10).result().get("n2", 0) >= 50:
                break
        system.cluster.kill_node("n2")
        queue.ask(Drain(), timeout=120).result()  # answers once every item is acknowledged
        handled = collector.ask("ids", timeout=10).result()
        stats = queue.ask(GetQueueStatistics(), timeout=10).result()
    assert set(handled) == set(range(2_000))  # nothing lost; a redelivered item may be handled twice
    assert stats.acknowledged == 2_000


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_durable_queue_whose_node_is_killed_recovers_on_another_node_and_loses_nothing(
        ray_cluster, tmp_path, request, kind):
    from rayka.patterns import Put

    from tests.cluster.cluster_actors import NamedQueueConsumer

    if kind == "sqlite":  # a file on a disk the nodes share (one machine here)
        journal, pid = str(tmp_path / "queue.db"), "orders"
    else:  # the database every node reaches: the restarted queue opens it again on its new node
        journal, pid = request.getfixturevalue("postgres").dsn, f"orders-{uuid.uuid4().hex}"
    sent = list(range(600))
    with rayka.ActorSystem("durable", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=3)) as system:
        system.spawn(WorkQueue, 10_000, journal=journal, persistence_id=pid, ack_timeout=5.0, name="orders",
                     node=1)
        collector = system.spawn(Collector, node=0)
        system.spawn(NamedQueueConsumer, "orders", collector, node=2)
        accepted = set()
        for i in sent[:300]:  # accepted = on disk (the put is answered after the commit)
            system.lookup("orders").ask(Put(i), timeout=30).result()
            accepted.add(i)
        system.cluster.kill_node("n1")  # SIGKILL of its node runtime
        assert system.cluster.wait_recovered("n1", timeout=30)
        assert system.lookup("orders")._cell.node != "n1"
        for i in sent[300:]:  # the producer goes on with the queue restarted elsewhere, found by name
            while i not in accepted:
                try:
                    system.lookup("orders").ask(Put(i), timeout=30).result()
                    accepted.add(i)
                except rayka.ActorStopped:
                    continue  # asked the dead incarnation just before the restart: put it again
        system.lookup("orders").ask(Drain(), timeout=120).result()
        handled = collector.ask("ids", timeout=10).result()
        stats = system.lookup("orders").ask(GetQueueStatistics(), timeout=10).result()
    assert set(handled) == set(sent)  # every accepted item reached a consumer, counted by id
    assert stats.pending == 0 and stats.in_flight == 0


def test_a_reply_to_ref_inside_a_message_carries_a_later_reply_across_nodes(cluster_system):
    from tests.cluster.cluster_actors import Client, LaterService

    service = cluster_system.spawn(LaterService, node=1)
    client = cluster_system.spawn(Client, node=2)
    for x in range(5):
        client.tell(("call", service, x))
    answers = []
    for _ in range(200):
        answers = client.ask("answers", timeout=10).result()
        if len(answers) == 5:
            break
    assert answers == [0, 1, 4, 9, 16]


def test_asks_through_a_router_reach_routees_on_other_nodes_and_come_back(cluster_system):
    from rayka.patterns import Group, RoundRobin

    from tests.cluster.cluster_actors import NodeName

    routees = [cluster_system.spawn(NodeName, f"n{i}", node=i) for i in range(3)]
    router = cluster_system.spawn(Group, routees, RoundRobin(), node=0)
    replies = [router.ask(i, timeout=20).result() for i in range(6)]
    assert sorted(name for name, _ in replies) == ["n0", "n0", "n1", "n1", "n2", "n2"]
    assert sorted(i for _, i in replies) == list(range(6))


def test_a_spread_pool_puts_routees_on_every_node_and_actor_pool_maps_over_them(cluster_system):
    from rayka.patterns import ActorPool, Pool

    from tests.cluster.cluster_actors import Pid

    pool = cluster_system.spawn(Pool, Pid, 3, placement="spread", name="spread-pool")
    mapping = ActorPool(pool, in_flight=2)
    results = list(mapping.map(None, range(60), timeout=30))
    assert [square for _, square in results] == [n * n for n in range(60)]
    assert len({pid for pid, _ in results}) == 3  # three processes: the routees are on three node runtimes
    assert sorted(square for _, square in mapping.map_unordered(None, range(10))) == [n * n for n in range(10)]
