"""Chaos check for supervision: random failures under a supervisor tree, and restart latency.

    python -m rayka.bench.chaos [--actors 1000] [--messages 100000] [--p 0.1] [--seed 1]

1,000 workers under 10 supervisors fail at random (10% of messages) while
100,000 asks arrive. It checks that nothing hangs, that every ask resolves
(a reply or an error), and that processed + failed + dead-lettered = sent; it
prints the figures. Half the supervisors allow unlimited restarts, half at
most 5 per second, so some workers are given up and their queued asks are
dead-lettered. Restart latency: from the failing handler raising to the new
instance handling the message queued behind it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import rayka

__all__ = ["main", "restart_latency", "run"]


class _Worker(rayka.Actor):
    def __init__(self, p: float, rng: random.Random) -> None:
        self.rng = rng  # shared by every incarnation: a restart does not replay the same draws
        self.p = p

    def receive(self, message: Any) -> Any:
        if self.rng.random() < self.p:
            raise RuntimeError(f"chaos on {message}")
        return message


class _Group(rayka.Actor):
    def __init__(self, size: int, p: float, seed: int, limited: bool) -> None:
        self.supervisor_strategy = rayka.OneForOne(max_restarts=5, within=1.0) if limited else \
            rayka.OneForOne(max_restarts=None, within=None)
        self.size, self.p, self.seed = size, p, seed

    def on_start(self) -> None:
        for i in range(self.size):
            self.context.spawn(_Worker, self.p, random.Random(self.seed * 10_000 + i), name=f"w{i}")

    def receive(self, message: Any) -> Any:
        if message == "workers":
            return self.context.children
        return None


def run(actors: int = 1000, messages: int = 100_000, p: float = 0.1, seed: int = 1, groups: int = 10) -> dict:
    """Run the chaos check and return its figures (it raises AssertionError if the books do not balance)."""
    rng = random.Random(seed)
    with rayka.ActorSystem("chaos") as system:
        supervisors = [system.spawn(_Group, actors // groups, p, seed + g, g % 2 == 1, name=f"g{g}")
                       for g in range(groups)]
        workers = [w for s in supervisors for w in s.ask("workers", timeout=30).result()]
        started = time.perf_counter()
        replies = [rng.choice(workers).ask(i, timeout=60) for i in range(messages)]
        outcome = {"processed": 0, "failed": 0, "dead_lettered": 0, "other": 0}
        for reply in replies:
            error = reply.exception(timeout=120)
            if error is None:
                outcome["processed"] += 1
            elif isinstance(error, RuntimeError):
                outcome["failed"] += 1
            elif isinstance(error, rayka.ActorStopped):
                outcome["dead_lettered"] += 1
            else:
                outcome["other"] += 1
        elapsed = time.perf_counter() - started
        stats = system.statistics()
        letters = system.dead_letters.count
    figures = {"sent": messages, **outcome, "dead_letters_recorded": letters, "restarts": stats.get("restarts", 0),
               "failures": stats.get("failures", 0), "workers_given_up": stats["stopped"],
               "seconds": round(elapsed, 3), "asks_per_s": round(messages / elapsed)}
    assert outcome["other"] == 0, figures
    assert outcome["processed"] + outcome["failed"] + outcome["dead_lettered"] == messages, figures
    assert letters == outcome["dead_lettered"], figures
    return figures


class _Flaky(rayka.Actor):
    def __init__(self, marks: list) -> None:
        self.marks = marks

    def receive(self, message: Any) -> Any:
        if message == "fail":
            self.marks.append(time.perf_counter())
            raise RuntimeError("planned")
        if message == "probe":
            self.marks.append(time.perf_counter())
        return None


def restart_latency(n: int = 2000) -> dict:
    """Median and p99 µs from a failure to the restarted instance handling the next queued message."""
    marks: list = []
    with rayka.ActorSystem("latency", guardian_strategy=rayka.OneForOne(max_restarts=None, within=None)) as system:
        ref = system.spawn(_Flaky, marks)
        for _ in range(n):
            ref.tell("fail")
            ref.tell("probe")
            ref.ask("sync", timeout=10).result()
    gaps = sorted((marks[i + 1] - marks[i]) * 1e6 for i in range(0, len(marks) - 1, 2))
    return {"restarts": n, "median_us": round(statistics.median(gaps), 1),
            "p99_us": round(gaps[int(len(gaps) * 0.99) - 1], 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="rayka chaos check and restart latency")
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("rayka").setLevel(logging.CRITICAL)  # thousands of handled failures would each log a line
    figures = run(args.actors, args.messages, args.p, args.seed)
    figures["restart_latency"] = restart_latency()
    for key, value in figures.items():
        print(f"{key:24} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
