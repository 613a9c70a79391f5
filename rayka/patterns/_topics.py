"""Publish/subscribe by topic name, with one fan-out per node.

A :class:`Topics` actor keeps, per topic, the refs subscribed to it, watches
them, and drops each one when it dies. ``Publish(topic, message)`` tells
``message`` to every subscriber, with the publisher as sender.

The shape for a cluster (one fan-out per node): every node runs one
``Topics`` actor, and each knows the others as *peers* (``AddPeer``; in
cluster mode the node runtime adds them as membership changes). Actors
subscribe to their own node's ``Topics``. Each ``Topics`` tells its peers
which topics have local subscribers (an interest message when a topic gets
its first local subscriber or loses its last one). A publish on node A
delivers to A's subscribers, then sends **one** relay message to each peer
node with interest in the topic; a peer delivers a relay to its own
subscribers only and never relays it further. A message thus crosses the
network once per interested node, not once per subscriber, and subscriber
churn stays local except for the first/last subscriber of a topic. A peer
that dies (death watch, or the node leaving) is dropped with its interests.
The same code runs in one process, where several ``Topics`` actors can play
the nodes.

Wildcards, with AMQP topic-exchange semantics (RabbitMQ tutorial 5): topics
are dot-separated words, and a subscription may use ``*`` for exactly one
word and ``#`` for zero or more: ``Subscribe("*.orange.*", ref)``,
``"lazy.#"``, ``"#"``. A publish reaches every subscriber whose topic or
pattern matches it, once even if several of its patterns match. Interest
between nodes is by pattern too, so a relay still goes once to each node
with a matching subscriber.

Example:
    >>> import rayka
    >>> from rayka.patterns import Topics, Subscribe, Publish
    >>> from rayka.testing import TestProbe
    >>> with rayka.ActorSystem("doc") as system:
    ...     topics = system.spawn(Topics, name="topics")
    ...     reader = TestProbe(system)
    ...     topics.ask(Subscribe("news", reader.ref)).result(timeout=1)
    ...     topics.ask(Publish("news", "rayka 0.1 is out")).result(timeout=1)
    ...     reader.expect("rayka 0.1 is out")
    1
    1
    'rayka 0.1 is out'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..actors import Actor, ActorRef, Terminated
from ._reply import refuse, tell_function
from ._topic_match import is_pattern, matches

__all__ = ["AddPeer", "GetSubscribers", "Publish", "Subscribe", "Topics", "Unsubscribe"]


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe ``ref`` to ``topic`` (or a pattern with ``*`` and ``#`` words); an ask answers its number of
    local subscribers."""

    topic: str
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Unsubscribe ``ref`` from ``topic`` (from every topic when ``topic`` is ``None``)."""

    topic: str | None
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class Publish:
    """Tell ``message`` to every subscriber of ``topic``; an ask answers how many local subscribers got it."""

    topic: str
    message: Any


@dataclass(frozen=True, slots=True)
class GetSubscribers:
    """Ask for the local subscribers of ``topic`` (a tuple of refs, in subscription order)."""

    topic: str


@dataclass(frozen=True, slots=True)
class AddPeer:
    """Make ``ref`` (the ``Topics`` actor of another node) a peer; both sides learn each other's interests."""

    ref: ActorRef


@dataclass(frozen=True, slots=True)
class _Hello:
    """A peer introduces itself with the topics it has subscribers for."""

    peer: ActorRef
    topics: tuple[str, ...]
    answer: bool


@dataclass(frozen=True, slots=True)
class _Interest:
    """A peer gained its first subscriber (``on``) or lost its last one for ``topic``."""

    peer: ActorRef
    topic: str
    on: bool


@dataclass(frozen=True, slots=True)
class _Relay:
    """A message published on a peer node, for this node's subscribers only."""

    topic: str
    message: Any
    sender: ActorRef | None


_FANOUT_CACHE = 10_000  # cached fan-outs (publishes to more distinct topics are recomputed)


def _any_match(topics: set[str], topic: str) -> bool:
    return any(matches(pattern, topic) for pattern in topics if is_pattern(pattern))


class Topics(Actor):
    """A topic registry and fan-out for the subscribers of one node.

    Args:
        peers: the ``Topics`` actors of other nodes (see the module docstring).
    """

    def __init__(self, peers: tuple[ActorRef, ...] = ()) -> None:
        self.subscribers: dict[str, dict[ActorRef, None]] = {}  # by topic or pattern
        self.patterns: set[str] = set()  # the subscribed topics that have * or # words
        self.fanout: dict[str, tuple[Callable[[Any, Any], None], ...]] = {}  # cached tell functions per topic
        self.topics_of: dict[ActorRef, set[str]] = {}
        self.initial_peers = tuple(peers)
        self.peers: dict[ActorRef, set[str]] = {}  # peer -> topics it has subscribers for

    def on_start(self) -> None:
        for peer in self.initial_peers:
            self._add_peer(peer)

    def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Publish:
            return self._publish(message.topic, message.message, self.context.sender, True)
        if kind is _Relay:
            return self._publish(message.topic, message.message, message.sender, False)
        if kind is Subscribe:
            return self._subscribe(message.topic, message.ref)
        if kind is Unsubscribe:
            return self._unsubscribe(message.topic, message.ref)
        if isinstance(message, Terminated):
            return self._terminated(message.ref)
        if kind is GetSubscribers:
            return tuple(self.subscribers.get(message.topic, ()))
        if kind is AddPeer:
            return self._add_peer(message.ref)
        if kind is _Hello:
            return self._hello(message)
        if kind is _Interest:
            topics = self.peers.get(message.peer)
            if topics is not None:
                (topics.add if message.on else topics.discard)(message.topic)
            return None
        return refuse(self.context, message, TypeError(
            f"Topics {self.context.self.path} does not handle {type(message).__name__} messages; "
            "send Subscribe, Unsubscribe, Publish, GetSubscribers or AddPeer"))

    # -- local subscribers -------------------------------------------------------
    def _publish(self, topic: str, message: Any, sender: ActorRef | None, relay: bool) -> int:
        tells = self.fanout.get(topic)
        if tells is None:
            tells = self._tells_for(topic)
        for tell in tells:
            tell(message, sender)
        if relay and self.peers:
            forwarded = None
            for peer, topics in self.peers.items():
                if topic in topics or (topics and _any_match(topics, topic)):
                    if forwarded is None:
                        forwarded = _Relay(topic, message, sender)
                    peer.tell(forwarded)
        return len(tells)

    def _tells_for(self, topic: str) -> tuple[Callable[[Any, Any], None], ...]:
        """The subscribers of ``topic`` and of every pattern matching it, each once; cached."""
        subscribers = dict(self.subscribers.get(topic, ()))
        for pattern in self.patterns:
            if pattern != topic and matches(pattern, topic):
                subscribers.update(self.subscribers[pattern])
        if len(self.fanout) >= _FANOUT_CACHE:
            self.fanout.clear()
        tells = self.fanout[topic] = tuple(map(tell_function, subscribers))
        return tells

    def _subscribe(self, topic: str, ref: ActorRef) -> int | None:
        if not isinstance(topic, str) or not isinstance(ref, ActorRef):
            return refuse(self.context, Subscribe(topic, ref), TypeError(
                f"Subscribe needs a str topic and an ActorRef, got {topic!r} and {ref!r}"))
        subscribers = self.subscribers.setdefault(topic, {})
        if ref not in subscribers:
            if ref not in self.topics_of:
                self.topics_of[ref] = set()
                self.context.watch(ref)
            self.topics_of[ref].add(topic)
            subscribers[ref] = None
            self._changed(topic)
            if len(subscribers) == 1:
                if is_pattern(topic):
                    self.patterns.add(topic)
                self._tell_peers(topic, True)
        return len(subscribers)

    def _unsubscribe(self, topic: str | None, ref: ActorRef) -> int:
        topics = self.topics_of.get(ref)
        if not topics:
            return 0
        names = list(topics) if topic is None else [topic] if topic in topics else []
        for name in names:
            self._drop(name, ref)
            topics.discard(name)
        if not topics:
            del self.topics_of[ref]
            self.context.unwatch(ref)
        return len(self.subscribers.get(topic, ())) if topic is not None else 0

    def _drop(self, topic: str, ref: ActorRef) -> None:
        subscribers = self.subscribers.get(topic)
        if subscribers is not None and subscribers.pop(ref, 0) is None:
            self._changed(topic)
            if not subscribers:
                del self.subscribers[topic]
                self.patterns.discard(topic)
                self._tell_peers(topic, False)

    def _changed(self, topic: str) -> None:
        """Forget the cached fan-outs that ``topic``'s subscribers are part of."""
        if is_pattern(topic):
            self.fanout.clear()  # it may match any topic
        else:
            self.fanout.pop(topic, None)

    def _terminated(self, ref: ActorRef) -> None:
        if ref in self.peers:
            del self.peers[ref]
        for topic in self.topics_of.pop(ref, ()):
            self._drop(topic, ref)

    # -- peers -------------------------------------------------------------------
    def _tell_peers(self, topic: str, on: bool) -> None:
        if self.peers:
            interest = _Interest(self.context.self, topic, on)
            for peer in self.peers:
                peer.tell(interest)

    def _add_peer(self, ref: ActorRef, answer: bool = True) -> int:
        if ref != self.context.self and ref not in self.peers:
            self.peers[ref] = set()
            self.context.watch(ref)
            ref.tell(_Hello(self.context.self, tuple(self.subscribers), answer))
        return len(self.peers)

    def _hello(self, message: _Hello) -> None:
        known = message.peer in self.peers
        if not known:
            self._add_peer(message.peer, answer=False)
        self.peers[message.peer] = set(message.topics)
        if known and message.answer:  # both sides added each other at once: make sure it knows ours
            message.peer.tell(_Hello(self.context.self, tuple(self.subscribers), False))
