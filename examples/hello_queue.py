"""Hello queue: a producer sends "Hello World!" to a consumer named "hello".

The first step of the RabbitMQ tutorial, on actors: the queue is the
consumer's mailbox, the routing key is the actor's name.

    python examples/hello_queue.py            # embedded, no Ray
    python examples/hello_queue.py --cluster  # the same on a local Ray cluster
"""

from __future__ import annotations

import argparse
import sys
import time

import rayka

from _metrics import Figures, Timings, cluster_for, mailbox_statistics, say


class Consumer(rayka.Actor):
    """Prints what it receives and counts it."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def receive(self, message):
        if message == "count":
            return len(self.received)
        self.received.append(message)
        say(f" [x] Received {message!r}")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="store_true", help="run on a local Ray cluster")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with rayka.ActorSystem("hello", cluster=cluster_for(args.cluster, __name__)) as system:
        system.spawn(Consumer, name="hello")
        queue = system.lookup("hello")  # the producer finds the queue by name
        sent = time.perf_counter()
        queue.tell("Hello World!")
        send = time.perf_counter() - sent
        say(" [x] Sent 'Hello World!'")
        count = queue.ask("count").result(timeout=30)
        elapsed = time.perf_counter() - started
        stats = mailbox_statistics(queue)  # None for an actor on another process
        figures = Figures("one message", count, time.perf_counter() - sent, Timings(send=[send]),
                          stats and stats.peak, stats and stats.queued, "mailbox of /user/hello")
        figures.measure_resources(system)
    print(f"delivered {count} message(s) in {elapsed * 1000:.1f} ms", flush=True)
    figures.print()
    return 0 if count == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
