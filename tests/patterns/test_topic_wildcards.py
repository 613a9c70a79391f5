"""Topic wildcards with AMQP topic-exchange semantics: RabbitMQ tutorial 5's table, locally and across peers."""

from __future__ import annotations

import pytest

import rayka
from rayka.patterns import AddPeer, Publish, Subscribe, Topics
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)

# RabbitMQ tutorial 5: Q1 binds "*.orange.*"; Q2 binds "*.*.rabbit" and "lazy.#".
TABLE = {
    "quick.orange.rabbit": {"Q1", "Q2"},
    "lazy.orange.elephant": {"Q1", "Q2"},
    "quick.orange.fox": {"Q1"},
    "lazy.brown.fox": {"Q2"},
    "lazy.pink.rabbit": {"Q2"},  # matches both of Q2's bindings: delivered once
    "quick.brown.fox": set(),
    "orange": set(),
    "quick.orange.male.rabbit": set(),
    "lazy.orange.male.rabbit": {"Q2"},
    "lazy": {"Q2"},  # "#" is zero or more words
}


def subscribe_tutorial(q1_topics: rayka.ActorRef, q2_topics: rayka.ActorRef, q1: TestProbe, q2: TestProbe) -> None:
    q1_topics.ask(Subscribe("*.orange.*", q1.ref)).result(timeout=5)
    q2_topics.ask(Subscribe("*.*.rabbit", q2.ref)).result(timeout=5)
    q2_topics.ask(Subscribe("lazy.#", q2.ref)).result(timeout=5)


def check_table(publisher: rayka.ActorRef, q1: TestProbe, q2: TestProbe) -> None:
    for key, routed in TABLE.items():
        publisher.ask(Publish(key, key)).result(timeout=5)
    for probe, name in ((q1, "Q1"), (q2, "Q2")):
        wanted = [key for key, routed in TABLE.items() if name in routed]
        assert probe.expect_n(len(wanted), timeout=5) == wanted, name
        probe.expect_no_message(0.2)  # nothing else, nothing twice


def test_the_rabbitmq_tutorial_5_table_holds_on_one_topics_actor(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    q1, q2 = TestProbe(system), TestProbe(system)
    subscribe_tutorial(topics, topics, q1, q2)
    check_table(topics, q1, q2)


def test_the_table_holds_across_peers_with_one_relay_per_interested_node(system: rayka.ActorSystem) -> None:
    a, b, c = (system.spawn(Topics, name=name) for name in ("node-a", "node-b", "node-c"))
    for x, y in ((a, b), (a, c), (b, c)):
        x.ask(AddPeer(y)).result(timeout=5)
    q1, q2 = TestProbe(system), TestProbe(system)
    # Q1 on node b, Q2 on node c; publishes from node a. A subscribe tells the peers its interest before it
    # answers, so a knows it before the publishes below.
    subscribe_tutorial(b, c, q1, q2)
    check_table(a, q1, q2)


def test_hash_alone_gets_everything_and_exact_topics_still_work(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    everything, exact = TestProbe(system), TestProbe(system)
    topics.ask(Subscribe("#", everything.ref)).result(timeout=5)
    topics.ask(Subscribe("news", exact.ref)).result(timeout=5)
    for key in ("news", "a.b.c", "x"):
        topics.ask(Publish(key, key)).result(timeout=5)
    assert everything.expect_n(3, timeout=5) == ["news", "a.b.c", "x"]
    assert exact.expect(timeout=5) == "news"
    exact.expect_no_message(0.1)
