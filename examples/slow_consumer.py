"""Slow consumer: a producer sends 10 jobs one second apart, the consumer needs two seconds each.

The program waits until every job is processed, the way ``queue.join()`` and
``task_done()`` do for threads: a ``Tasks`` actor counts the jobs added and
done and answers ``Join`` once none is left. Three runs of the same scenario:

1. one consumer with an unbounded mailbox: the mailbox grows while the
   producer outpaces the consumer;
2. the same consumer behind ``Bounded(2, overflow="backpressure")``: the
   producer's ``await ref.send(job)`` waits for room, so the queue never holds
   more than 2 jobs and the producer is held back instead;
3. a pool of 4 consumers (``rayka.patterns.Pool``): they keep up, and the
   whole run takes about as long as producing does.

Delays scale down with ``--speed`` (``--speed 100``: 10 ms apart, 20 ms per
job); times are printed in scenario seconds (real seconds x speed).

    python examples/slow_consumer.py             # real time, about 45 s
    python examples/slow_consumer.py --speed 20  # about 2 s
    python examples/slow_consumer.py --cluster   # on a local Ray cluster
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass

import rayka
from rayka.mailbox import Bounded
from rayka.patterns import GetRoutees, Pool, SmallestMailbox

# rayka has no public way yet to answer an ask later than the handler returns
# (a deferred reply); the patterns package uses this helper for it.

from _metrics import Figures, QueueSampler, Timings, add_common_arguments, cluster_for, now, say


@dataclass(frozen=True, slots=True)
class Job:
    n: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Added:
    """``queue.put`` side of the bookkeeping: ``n`` more jobs to wait for."""

    n: int = 1


@dataclass(frozen=True, slots=True)
class TaskDone:
    """``task_done()``: one job finished, with its timings and the consumer's queue at the time."""

    n: int
    by: str
    queued_at_start: int
    mailbox_peak: int
    wait: float
    work: float
    finished: float


@dataclass(frozen=True, slots=True)
class Join:
    """``queue.join()``: answered once every job added is done."""


@dataclass(frozen=True, slots=True)
class Produce:
    count: int
    interval: float


class Tasks(rayka.Actor):
    """``queue.join()`` / ``task_done()`` for actors."""

    def __init__(self) -> None:
        self.unfinished = 0
        self.done: list[TaskDone] = []
        self.joins: list = []

    def receive(self, message):
        if isinstance(message, Added):
            self.unfinished += message.n
        elif isinstance(message, TaskDone):
            self.unfinished -= 1
            self.done.append(message)
            if self.unfinished == 0:
                for reply in self.joins:
                    reply.set_result(self.summary())
                self.joins.clear()
        elif isinstance(message, Join):
            if self.unfinished == 0:
                return self.summary()
            self.joins.append(self.context.defer_reply())
        return None

    def summary(self) -> dict:
        done = self.done
        return {"done": [d.n for d in done], "by": dict(Counter(d.by for d in done)),
                "wait": [d.wait for d in done], "work": [d.work for d in done],
                "queue_peak": max((d.mailbox_peak for d in done), default=0),
                "last_finished": max((d.finished for d in done), default=0.0)}


class SlowConsumer(rayka.Actor):
    """Takes ``work`` seconds per job (without blocking other actors), then reports ``TaskDone``."""

    def __init__(self, tasks: rayka.ActorRef, work: float) -> None:
        self.tasks = tasks
        self.work = work

    async def receive(self, job: Job):
        started = now()
        queued = self.context.self.statistics().queued  # jobs still waiting behind this one
        await asyncio.sleep(self.work)
        finished = now()
        say(f" [x] job {job.n} done by {self.context.self.name} ({queued} waiting)")
        self.tasks.tell(TaskDone(job.n, self.context.self.name, queued, self.context.self.statistics().peak,
                                 started - job.sent_at, finished - started, finished))


class Producer(rayka.Actor):
    """Sends jobs ``interval`` apart; with ``backpressure`` it uses ``await ref.send(job)``."""

    def __init__(self, tasks: rayka.ActorRef, consumer: rayka.ActorRef, backpressure: bool) -> None:
        self.tasks = tasks
        self.consumer = consumer
        self.backpressure = backpressure

    async def receive(self, message: Produce):
        sends = []
        began = now()
        for n in range(message.count):
            self.tasks.tell(Added())
            sent_at = now()
            if self.backpressure:
                await self.consumer.send(Job(n, sent_at))  # waits while the mailbox is full
            else:
                self.consumer.tell(Job(n, sent_at))
            sends.append(now() - sent_at)
            if n < message.count - 1:
                await asyncio.sleep(message.interval)
        produced = now()
        summary = await self.tasks.ask(Join(), timeout=None)  # after our Added tells: same sender, same order
        summary.update(sends=sends, began=began, produced=produced - began, total=now() - began)
        return summary


def run_phase(system: rayka.ActorSystem, label: str, *, count: int, interval: float, work: float,
              consumers: int = 1, capacity: int | None = None, cluster: bool = False,
              sample: float | None = None) -> dict:
    """Run one producer against one consumer (or a pool) and return the summary and figures.

    With ``sample`` (seconds; embedded mode), the summary's ``"samples"`` holds
    ``(seconds, jobs waiting)`` pairs: the consumers' mailbox depth over time.
    """
    node = 0 if cluster else None  # one node: cross-node sends do not carry backpressure (see README)
    tasks = system.spawn(Tasks, node=node)
    if consumers == 1:
        mailbox = Bounded(capacity, overflow="backpressure") if capacity else None
        consumer = system.spawn(SlowConsumer, tasks, work, name=f"consumer-{label}", mailbox=mailbox, node=node)
    else:
        consumer = system.spawn(Pool, SlowConsumer, consumers, SmallestMailbox(), args=(tasks, work),
                                name=f"pool-{label}", node=node)
    producer = system.spawn(Producer, tasks, consumer, capacity is not None, node=node)
    if consumers == 1:
        mailboxes = [consumer]
    else:  # the pool's routees are its children, routee-0 ...
        consumer.ask(GetRoutees(), timeout=10).result()
        mailboxes = [system.lookup(f"{consumer.path}/routee-{i}") for i in range(consumers)] if not cluster else []
    sampler = QueueSampler(mailboxes, interval=sample or 1.0)
    if sample:
        sampler.__enter__()
    try:
        summary = producer.ask(Produce(count, interval), timeout=count * (interval + work) + 60).result()
    finally:
        if sample:
            sampler.__exit__()
    summary["samples"] = sampler.samples
    for ref in (producer, consumer, tasks):
        ref.stop()
    timings = Timings(send=summary["sends"], queue=summary["wait"], receive=summary["work"])
    what = "mailbox" if consumers == 1 else f"largest of {consumers} routee mailboxes"
    figures = Figures(label, len(summary["done"]), summary["total"], timings, summary["queue_peak"], 0, what)
    summary["figures"] = figures.measure_resources(system)
    return summary


def run(*, speed: float = 1.0, count: int = 10, interval: float = 1.0, work: float = 2.0, pool: int = 4,
        capacity: int = 2, cluster: bool = False, show=print) -> dict[str, dict]:
    """Run the three phases; returns their summaries by name."""
    interval, work = interval / speed, work / speed
    phases = [("one consumer", {}), (f"backpressure, capacity {capacity}", {"capacity": capacity}),
              (f"pool of {pool}", {"consumers": pool})]
    results = {}
    with rayka.ActorSystem("slow-consumer", cluster=cluster_for(cluster, __name__)) as system:
        for label, options in phases:
            show(f"--- {label}: {count} jobs {interval * speed:g} s apart, {work * speed:g} s each ---")
            summary = run_phase(system, label.split(",")[0].replace(" ", "-"), count=count, interval=interval,
                                work=work, cluster=cluster, **options)
            results[label] = summary
            held = max(summary["sends"]) * speed
            show(f"all {len(summary['done'])} jobs done (join returned) after {summary['total'] * speed:.1f} s; "
                 f"producing took {summary['produced'] * speed:.1f} s, the producer was held up to {held:.1f} s "
                 f"by one send; queue peak {summary['queue_peak']}; jobs per consumer {summary['by']}")
            summary["figures"].print()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, speed=1.0)
    parser.add_argument("--count", type=int, default=10, help="jobs to produce (default 10)")
    parser.add_argument("--pool", type=int, default=4, help="consumers in the pool run (default 4)")
    args = parser.parse_args(argv)
    results = run(speed=args.speed, count=args.count, pool=args.pool, cluster=args.cluster)
    ok = all(sorted(r["done"]) == list(range(args.count)) for r in results.values())
    say(f"every job processed in every run: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
