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


class Consumer(rayka.Actor):
    """Prints what it receives and counts it."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def receive(self, message):
        if message == "count":
            return len(self.received)
        self.received.append(message)
        print(f" [x] Received {message!r}", flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="store_true", help="run on a local Ray cluster")
    args = parser.parse_args(argv)
    cluster = None
    if args.cluster:
        cluster = rayka.RayCluster(nodes=2)
    started = time.perf_counter()
    with rayka.ActorSystem("hello", cluster=cluster) as system:
        system.spawn(Consumer, name="hello")
        queue = system.lookup("hello")  # the producer finds the queue by name
        queue.tell("Hello World!")
        print(" [x] Sent 'Hello World!'", flush=True)
        count = queue.ask("count").result(timeout=30)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"delivered {count} message(s) in {elapsed:.1f} ms", flush=True)
    return 0 if count == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
