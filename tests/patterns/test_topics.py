"""Topics: fan-out to subscribers, unsubscribing, dead subscribers dropped, one relay per peer node."""

from __future__ import annotations

import pytest

import rayka
from rayka.patterns import AddPeer, GetSubscribers, Publish, Subscribe, Topics, Unsubscribe
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


def test_a_publish_reaches_every_subscriber_of_its_topic_only(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    news = [TestProbe(system) for _ in range(3)]
    sport = TestProbe(system)
    for p in news:
        topics.tell(Subscribe("news", p.ref))
    assert topics.ask(Subscribe("sport", sport.ref)).result(timeout=5) == 1
    assert topics.ask(Publish("news", "headline")).result(timeout=5) == 3
    assert [p.expect() for p in news] == ["headline"] * 3
    sport.expect_no_message(0.02)
    assert topics.ask(Publish("weather", "rain")).result(timeout=5) == 0


def test_subscribers_get_messages_in_publish_order_with_the_publisher_as_sender(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    reader, publisher = TestProbe(system), TestProbe(system)
    topics.ask(Subscribe("t", reader.ref)).result(timeout=5)
    for n in range(20):
        topics.tell(Publish("t", n), sender=publisher.ref)
    assert reader.expect_n(20) == list(range(20))
    assert reader.last_sender == publisher.ref


def test_subscribing_twice_delivers_once(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    reader = TestProbe(system)
    topics.tell(Subscribe("t", reader.ref))
    assert topics.ask(Subscribe("t", reader.ref)).result(timeout=5) == 1
    topics.tell(Publish("t", "once"))
    reader.expect("once")
    reader.expect_no_message(0.02)


def test_an_unsubscribed_ref_gets_nothing_more(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    a, b = TestProbe(system), TestProbe(system)
    for topic in ("x", "y"):
        topics.tell(Subscribe(topic, a.ref))
    topics.tell(Subscribe("x", b.ref))
    assert topics.ask(Unsubscribe("x", a.ref)).result(timeout=5) == 1
    topics.tell(Publish("x", "for b"))
    topics.tell(Publish("y", "for a"))
    b.expect("for b")
    a.expect("for a")
    topics.ask(Unsubscribe(None, a.ref)).result(timeout=5)
    assert topics.ask(Publish("y", "nobody")).result(timeout=5) == 0
    a.expect_no_message(0.02)


def test_a_subscriber_that_dies_is_dropped(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    alive, doomed = TestProbe(system), TestProbe(system)
    topics.tell(Subscribe("t", alive.ref))
    topics.ask(Subscribe("t", doomed.ref)).result(timeout=5)
    doomed.ref.stop()
    assert system.wait_terminated(doomed.ref, 5)
    topics.ask(GetSubscribers("t")).result(timeout=5)  # flushes the Terminated signal into the mailbox
    assert topics.ask(GetSubscribers("t")).result(timeout=5) == (alive.ref,)
    letters = system.dead_letters.count
    assert topics.ask(Publish("t", "still here?")).result(timeout=5) == 1
    alive.expect("still here?")
    assert system.dead_letters.count == letters


def test_a_bad_subscribe_is_refused_and_the_topics_actor_keeps_its_state(system: rayka.ActorSystem) -> None:
    topics = system.spawn(Topics)
    reader = TestProbe(system)
    topics.tell(Subscribe("t", reader.ref))
    with pytest.raises(TypeError, match="str topic"):
        topics.ask(Subscribe(42, reader.ref)).result(timeout=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="does not handle"):
        topics.ask("hello").result(timeout=5)
    assert topics.ask(GetSubscribers("t")).result(timeout=5) == (reader.ref,)


def test_a_publish_crosses_to_each_peer_node_once_and_reaches_its_subscribers(system: rayka.ActorSystem) -> None:
    node_a = system.spawn(Topics, name="topics-a")
    node_b = system.spawn(Topics, (node_a,), name="topics-b")  # b introduces itself to a
    on_a = TestProbe(system)
    on_b = [TestProbe(system) for _ in range(50)]
    node_a.ask(Subscribe("t", on_a.ref)).result(timeout=5)
    for p in on_b:
        node_b.tell(Subscribe("t", p.ref))
    node_b.ask(GetSubscribers("t")).result(timeout=5)
    node_a.ask(GetSubscribers("t")).result(timeout=5)  # b's interest in "t" has reached a
    assert node_a.ask(Publish("t", "from a")).result(timeout=5) == 1
    on_a.expect("from a")
    assert [p.expect() for p in on_b] == ["from a"] * 50
    assert node_b.ask(Publish("t", "from b")).result(timeout=5) == 50
    on_a.expect("from b")
    on_a.expect_no_message(0.02)  # a relay is never relayed back


def test_a_peer_node_gets_one_relay_per_publish_not_one_per_subscriber(system: rayka.ActorSystem) -> None:
    from rayka.patterns._topics import _Interest, _Relay

    node = system.spawn(Topics)
    peer = TestProbe(system)  # plays the Topics actor of another node
    node.ask(AddPeer(peer.ref)).result(timeout=5)
    peer.expect(lambda m: type(m).__name__ == "_Hello")
    for _ in range(100):
        node.tell(Subscribe("t", TestProbe(system).ref))
    assert peer.expect(_Interest) == _Interest(node, "t", True)  # the node's own interest
    node.tell(_Interest(peer.ref, "t", True))  # the peer has subscribers for "t" too
    assert node.ask(Publish("t", "hello")).result(timeout=5) == 100
    relay = peer.expect(_Relay)
    assert (relay.topic, relay.message) == ("t", "hello")
    peer.expect_no_message(0.05)
    node.tell(_Interest(peer.ref, "t", False))
    node.ask(Publish("t", "local only")).result(timeout=5)
    peer.expect_no_message(0.05)


def test_a_node_tells_its_peers_when_a_topic_gains_and_loses_its_subscribers(system: rayka.ActorSystem) -> None:
    from rayka.patterns._topics import _Interest

    node = system.spawn(Topics)
    peer = TestProbe(system)
    node.ask(AddPeer(peer.ref)).result(timeout=5)
    peer.expect(lambda m: type(m).__name__ == "_Hello")
    a, b = TestProbe(system), TestProbe(system)
    node.tell(Subscribe("t", a.ref))
    node.tell(Subscribe("t", b.ref))  # not the first: no second interest message
    assert peer.expect(_Interest) == _Interest(node, "t", True)
    node.tell(Unsubscribe("t", a.ref))
    peer.expect_no_message(0.02)
    b.ref.stop()
    assert peer.expect(_Interest) == _Interest(node, "t", False)
