"""Keyed sessions: one stateful actor per key, as Kafka's keyed partitions or a session per device.

A message queue keyed by device id sends every reading of a device to one
partition, so one consumer sees them in order and can keep that device's
state. Here each device is a sharded entity (``system.entities``): the
readings of ``sensor-7`` reach the one live ``Session("sensor-7")``, started
on its first reading, wherever its shard runs (with ``--cluster``, on one of
two Ray node runtimes). Several producers send readings for random devices;
each session checks that every producer's readings arrive in order.

    python examples/keyed_sessions.py
    python examples/keyed_sessions.py --cluster
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass

import rayka

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say, wait_until


@dataclass(frozen=True, slots=True)
class Reading:
    producer: str
    n: int  # this producer's n-th reading of this device
    value: float
    sent_at: float


@dataclass(frozen=True, slots=True)
class Run:
    devices: int
    count: int
    seed: int


class Session(rayka.Actor):
    """The state of one device: its readings, the last value, and whether each producer's came in order."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.readings = 0
        self.last: dict[str, int] = {}  # producer -> its last reading number
        self.out_of_order = 0
        self.value = 0.0
        self.timings = Timings()

    def receive(self, message):
        if isinstance(message, Reading):
            started = now()
            if message.n != self.last.get(message.producer, -1) + 1:
                self.out_of_order += 1
            self.last[message.producer] = message.n
            self.readings += 1
            self.value = message.value
            self.timings.handled(message.sent_at, started, now())
        elif message == "report":
            return {"readings": self.readings, "out_of_order": self.out_of_order, "value": self.value,
                    "timings": self.timings.as_dict(), "peak": self.context.self.statistics().peak}
        return None


class Producer(rayka.Actor):
    """Sends ``count`` readings for random devices, numbered per device; answers how many per device."""

    def __init__(self, name: str) -> None:
        self.name = name

    def receive(self, message):
        if isinstance(message, Run):
            sessions = self.context.system.entities(Session, name="sessions")
            pick = random.Random(message.seed)
            sent: dict[str, int] = {}
            sends = []
            for _ in range(message.count):
                device = f"sensor-{pick.randrange(message.devices)}"
                n = sent.get(device, 0)
                sent[device] = n + 1
                sent_at = now()
                sessions.ref(device).tell(Reading(self.name, n, round(pick.uniform(15, 30), 1), sent_at))
                sends.append(now() - sent_at)
            return {"sent": sent, "sends": sends}
        return None


def run(*, devices: int = 50, producers: int = 3, count: int = 500, cluster: bool = False) -> dict:
    """Each producer sends ``count`` readings over ``devices`` devices; returns what the sessions got."""
    with rayka.ActorSystem("sessions", cluster=cluster_for(cluster, __name__)) as system:
        sessions = system.entities(Session, name="sessions", shards=16)
        workers = [system.spawn(Producer, f"p{k}", name=f"producer-{k}", node=k % 2 if cluster else None)
                   for k in range(producers)]
        began = now()
        replies = [worker.ask(Run(devices, count, seed=k), timeout=120) for k, worker in enumerate(workers)]
        results = [reply.result(timeout=120) for reply in replies]
        expected: dict[str, int] = {}
        for result in results:
            for device, n in result["sent"].items():
                expected[device] = expected.get(device, 0) + n

        def reports() -> dict[str, dict]:
            return {device: sessions.ref(device).ask("report", timeout=30).result() for device in expected}

        complete = wait_until(lambda: all(r["readings"] == expected[d] for d, r in reports().items()),
                              timeout=60, interval=0.02)
        seconds = now() - began
        got = reports()
        stats = sessions.statistics()
        timings = Timings(send=[t for result in results for t in result["sends"]])
        for report in got.values():
            timings.merge(report["timings"])
        figures = Figures(f"{producers} producers, {len(expected)} device sessions", sum(expected.values()),
                          seconds, timings, max(r["peak"] for r in got.values()), 0, "largest session mailbox")
        figures.measure_resources(system)
    return {"complete": complete, "expected": expected, "got": got, "stats": stats, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--devices", type=int, default=50, help="device keys (default 50)")
    parser.add_argument("--count", type=int, default=500, help="readings per producer (default 500)")
    args = parser.parse_args(argv)
    result = run(devices=args.devices, count=args.count, cluster=args.cluster)
    got, stats = result["got"], result["stats"]
    first = sorted(got)[0]
    say(f" [x] {first}: {got[first]['readings']} readings, last value {got[first]['value']}")
    say(f"{sum(r['readings'] for r in got.values())} readings reached {len(got)} sessions "
        f"({stats.activations} started, each on its first reading; {stats.active} active)")
    say(f"shards per node: {dict(sorted(stats.shards_per_node.items()))}")
    in_order = result["complete"] and all(r["out_of_order"] == 0 for r in got.values())
    print(f"every session got every reading, in order per producer: {'yes' if in_order else 'NO'}", flush=True)
    result["figures"].print()
    return 0 if in_order else 1


if __name__ == "__main__":
    sys.exit(main())
