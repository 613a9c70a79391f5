"""Topics: several producers and subscribers by topic, next to the queue model.

Kafka-style publish/subscribe on ``rayka.patterns.Topics``: every subscriber
of a topic gets every message published to it (fan-out), whereas a
*consumer group* (a ``Pool`` subscribed as one subscriber) shares the
messages, each going to one member, like the consumers of a queue.

Two brokers (``Topics`` actors) play two nodes and are peers: subscribers
subscribe to their own broker, and a message crosses to the other broker
once per publish, however many subscribers it has there. With ``--cluster``
each broker and its subscribers live on their own Ray node runtime.

    python examples/topics.py
    python examples/topics.py --cluster
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass

import rayka
from rayka.patterns import AddPeer, Pool, Publish, RoundRobin, Subscribe, ToAll, Topics

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say, wait_until

# who subscribes to what, on which broker (0 or 1)
SUBSCRIPTIONS = {
    "alice": (0, ("weather", "news")),
    "bob": (1, ("news",)),
    "carol": (1, ("weather",)),
    "audit": (0, ("orders",)),
}
GROUP = ("billing", 1, "orders", 3)  # a consumer group: name, broker, topic, members
PUBLISHERS = {"weather": 0, "news": 1, "orders": 0}  # topic -> the broker its publisher uses


@dataclass(frozen=True, slots=True)
class Post:
    topic: str
    n: int
    text: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class Warmup:
    """Published until every subscriber saw one: remote interest has reached every broker."""

    topic: str


@dataclass(frozen=True, slots=True)
class Run:
    count: int


class Reader(rayka.Actor):
    """A subscriber: counts what it gets per topic and prints the first message of each."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.counts: Counter[str] = Counter()
        self.ready: set[str] = set()
        self.timings = Timings()

    def receive(self, message):
        if isinstance(message, Post):
            started = now()
            if not self.counts[message.topic]:
                say(f" [x] {self.label} got {message.text!r} on {message.topic!r}")
            self.counts[message.topic] += 1
            self.timings.handled(message.sent_at, started, now())
        elif isinstance(message, Warmup):
            self.ready.add(message.topic)
        elif message == "ready":
            return set(self.ready)
        elif message == "report":
            return {"counts": dict(self.counts), "timings": self.timings.as_dict(),
                    "peak": self.context.self.statistics().peak}
        return None


class Publisher(rayka.Actor):
    """Publishes ``count`` posts on its topic through its broker."""

    def __init__(self, broker: rayka.ActorRef, topic: str) -> None:
        self.broker = broker
        self.topic = topic

    def receive(self, message):
        if isinstance(message, Run):
            me = self.context.self
            sends = []
            for n in range(message.count):
                sent_at = now()
                self.broker.tell(Publish(self.topic, Post(self.topic, n, f"{self.topic} #{n}", sent_at)), me)
                sends.append(now() - sent_at)
            return sends
        return None


def run(*, count: int = 200, cluster: bool = False) -> dict:
    """Publish ``count`` posts on each topic; returns what every subscriber got, and the figures."""
    def place(broker: int) -> int | None:
        return broker if cluster else None

    with rayka.ActorSystem("topics", cluster=cluster_for(cluster, __name__)) as system:
        brokers = [system.spawn(Topics, name=f"broker-{i}", node=place(i)) for i in range(2)]
        brokers[0].ask(AddPeer(brokers[1])).result(timeout=10)
        readers = {}
        for label, (broker, topics) in SUBSCRIPTIONS.items():
            readers[label] = system.spawn(Reader, label, name=label, node=place(broker))
            for topic in topics:
                brokers[broker].ask(Subscribe(topic, readers[label])).result(timeout=10)
        group, group_broker, group_topic, members = GROUP
        pool = system.spawn(Pool, Reader, members, RoundRobin(), args=(group,), name=group, node=place(group_broker))
        brokers[group_broker].ask(Subscribe(group_topic, pool)).result(timeout=10)

        def ready() -> bool:  # interest travels between brokers asynchronously: wait until it has arrived
            for topic, broker in PUBLISHERS.items():
                brokers[broker].tell(Publish(topic, Warmup(topic)))
            seen = {label: ref.ask("ready").result(timeout=10) for label, ref in readers.items()}
            group_seen = pool.ask(ToAll("ready")).result(timeout=10)
            return (all(set(SUBSCRIPTIONS[label][1]) <= seen[label] for label in readers)
                    and any(group_topic in s for s in group_seen))

        if not wait_until(ready, timeout=30, interval=0.02):
            raise RuntimeError("subscriptions did not reach every broker within 30 s")
        publishers = [system.spawn(Publisher, brokers[broker], topic, name=f"{topic}-publisher", node=place(broker))
                      for topic, broker in PUBLISHERS.items()]
        began = now()
        runs = [publisher.ask(Run(count), timeout=60) for publisher in publishers]
        expected = {label: {t: count for t in topics} for label, (_, topics) in SUBSCRIPTIONS.items()}

        def reports() -> tuple[dict, list]:
            return ({label: ref.ask("report").result(timeout=10) for label, ref in readers.items()},
                    pool.ask(ToAll("report")).result(timeout=10))

        def delivered() -> bool:
            got, members_got = reports()
            group_total = sum(r["counts"].get(group_topic, 0) for r in members_got)
            return all(got[label]["counts"] == expected[label] for label in readers) and group_total == count

        complete = wait_until(delivered, timeout=60, interval=0.01)
        seconds = now() - began
        got, members_got = reports()
        timings = Timings(send=[t for reply in runs for t in reply.result(timeout=60)])
        for report in [*got.values(), *members_got]:
            timings.merge(report["timings"])
        deliveries = sum(sum(r["counts"].values()) for r in [*got.values(), *members_got])
        figures = Figures(f"{len(PUBLISHERS)} publishers, {len(readers)} subscribers + a group of {members}",
                          deliveries, seconds, timings, max(r["peak"] for r in [*got.values(), *members_got]), 0,
                          "largest subscriber mailbox")
        figures.measure_resources(system)
    return {"complete": complete, "published": count * len(PUBLISHERS),
            "counts": {label: got[label]["counts"] for label in readers},
            "group": [r["counts"].get(group_topic, 0) for r in members_got], "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--count", type=int, default=200, help="posts per topic (default 200)")
    args = parser.parse_args(argv)
    result = run(count=args.count, cluster=args.cluster)
    say(f"published {result['published']} posts on {len(PUBLISHERS)} topics")
    for label, counts in result["counts"].items():
        say(f"  {label:8} (every post of its topics) got {counts}")
    group = result["group"]
    say(f"  {GROUP[0]:8} (consumer group on {GROUP[2]!r}) got {sum(group)} in all, shared {group}")
    print(f"every subscriber got every post of its topics, the group each post once: "
          f"{'yes' if result['complete'] else 'NO'}", flush=True)
    result["figures"].print()
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
