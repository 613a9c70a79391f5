"""Work queue: acknowledgements and load balancing over several consumers, one of which crashes.

The RabbitMQ "work queues" tutorial on actors, with ``rayka.patterns``:

- a ``WorkQueue`` holds the jobs until a consumer acknowledges them;
- consumers (``AsyncConsumer`` subclasses) pull with a small window, so the
  jobs spread over whoever is free (fair dispatch, no prefetch hoarding);
- the consumers live under a ``rayka.Supervisor``: one crashes in the middle
  of a job (``--crash-on``), its supervisor restarts it, the unacknowledged job
  is delivered again, and nothing is lost;
- each result goes back to the producer, which checks it and confirms that
  every job came back exactly once;
- with ``--poison N``, job N crashes its consumer on every delivery: after
  ``max_deliveries=3`` the queue gives it up and tells the producer
  (``GivenUp``) instead of crashing consumers forever.

    python examples/work_queue.py             # embedded, no Ray
    python examples/work_queue.py --cluster   # queue, producer and consumers on two Ray node runtimes
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass

import rayka
from rayka.patterns import AsyncConsumer, Drain, GetQueueStatistics, GivenUp, Put, WorkQueue

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say, short_supervision_logs


class Crash(RuntimeError):
    """The failure injected into one consumer, in the middle of a job."""


@dataclass(frozen=True, slots=True)
class Job:
    n: int
    reply_to: rayka.ActorRef
    sent_at: float


@dataclass(frozen=True, slots=True)
class Result:
    n: int
    value: int
    by: str
    attempt: int
    wait: float
    work: float


@dataclass(frozen=True, slots=True)
class Produce:
    count: int
    queue: rayka.ActorRef | None = None  # where to put the jobs, if not the producer's own queue


@dataclass(frozen=True, slots=True)
class Accepted:
    """The queue accepted job ``n``; the put took ``seconds``."""

    n: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Progress:
    """Ask the producer how many distinct results it has."""


@dataclass(frozen=True, slots=True)
class Confirm:
    """Ask the producer to answer once every job's result is back."""


def expected(n: int) -> int:
    """What job ``n`` computes (the producer checks every result against it)."""
    return n * n


class Worker(AsyncConsumer):
    """Squares a number in ``work`` seconds; crashes mid-job on the first delivery of job ``crash_on``
    and on every delivery of job ``poison``."""

    window = 2  # at most 2 unacknowledged jobs each: the rest stay in the queue for the others

    def __init__(self, queue: rayka.ActorRef, work: float, crash_on: int | None, poison: int | None = None) -> None:
        super().__init__(queue)
        self.work = work
        self.crash_on = crash_on
        self.poison = poison

    def on_restart(self, error: BaseException):
        say(f" [+] {self.context.self.name} restarted by its supervisor after {error!r}")
        return super().on_restart(error)

    async def handle(self, job: Job) -> None:
        started = now()
        delivery = self.delivery
        await asyncio.sleep(self.work / 2)
        if job.n == self.crash_on and delivery.attempt == 1:
            say(f" [!] {self.context.self.name} crashes in the middle of job {job.n}")
            raise Crash(f"injected crash in job {job.n}")
        if job.n == self.poison:
            say(f" [!] {self.context.self.name} crashes on poison job {job.n} (delivery {delivery.attempt})")
            raise Crash(f"job {job.n} is poison")
        await asyncio.sleep(self.work / 2)
        job.reply_to.tell(Result(job.n, expected(job.n), self.context.self.name, delivery.attempt,
                                 started - job.sent_at, now() - started))


class Producer(rayka.Actor):
    """Puts the jobs, collects the results, and confirms each came back once and right."""

    def __init__(self, queue: rayka.ActorRef | None = None) -> None:
        self.queue = queue
        self.count = 0
        self.results: dict[int, Result] = {}
        self.given_up: list[int] = []
        self.duplicates = 0
        self.wrong: list[int] = []
        self.sends: list[float] = []
        self.began = self.produced = 0.0
        self.confirms: list = []

    def receive(self, message):
        if isinstance(message, Result):
            return self.on_result(message)
        if isinstance(message, GivenUp):  # the queue gave up on a job after its last delivery
            say(f" [x] the queue gave up job {message.work.n} after {message.deliveries} deliveries")
            self.given_up.append(message.work.n)
            return self.check_complete()
        if isinstance(message, Accepted):
            self.sends.append(message.seconds)
            if len(self.sends) == self.count:
                self.produced = now()
            return None
        if isinstance(message, Produce):
            if self.count:  # producing already (a notebook cell run again): nothing more to do
                return self.count
            self.count = message.count
            if message.queue is not None:
                self.queue = message.queue
            self.began = now()
            me = self.context.self
            for n in range(message.count):
                sent_at = now()
                # The put is answered once the queue holds the job (later, while the queue is full).
                reply = self.queue.ask(Put(Job(n, me, sent_at)), timeout=None)
                reply.add_done_callback(lambda _, n=n, t=sent_at: me.tell(Accepted(n, now() - t)))
            return message.count
        if isinstance(message, Progress):
            return len(self.results)
        if isinstance(message, Confirm):
            if self.complete():
                return self.summary()
            self.confirms.append(self.context.defer_reply())
        return None

    def on_result(self, result: Result) -> None:
        if result.n in self.results:
            self.duplicates += 1  # the same job handled twice (possible with at-least-once delivery)
        else:
            self.results[result.n] = result
            if result.value != expected(result.n):
                self.wrong.append(result.n)
        self.check_complete()

    def check_complete(self) -> None:
        if self.complete():
            for reply in self.confirms:
                reply.set_result(self.summary())
            self.confirms.clear()

    def complete(self) -> bool:
        return self.count > 0 and len(self.results) + len(set(self.given_up) - set(self.results)) == self.count

    def summary(self) -> dict:
        results = list(self.results.values())
        given_up = set(self.given_up) - set(self.results)
        return {"confirmed": len(results), "given_up": sorted(given_up),
                "missing": sorted(set(range(self.count)) - set(self.results) - given_up),
                "wrong": self.wrong, "duplicates": self.duplicates,
                "by": dict(sorted(Counter(r.by for r in results).items())),
                "retried": sorted(r.n for r in results if r.attempt > 1),
                "sends": self.sends, "wait": [r.wait for r in results], "work": [r.work for r in results],
                "seconds": now() - self.began}


def run(*, jobs: int = 40, workers: int = 3, work: float = 0.02, crash_on: int | None = 7, speed: float = 1.0,
        capacity: int = 16, cluster: bool = False, poison: int | None = None) -> dict:
    """Run the scenario; returns the producer's confirmation, the queue statistics and the figures."""
    short_supervision_logs()
    work /= speed
    with rayka.ActorSystem("work-queue", cluster=cluster_for(cluster, __name__)) as system:
        producer = system.spawn(Producer, name="producer", node=0 if cluster else None)
        # A job delivered 3 times without an ack is given up, and the producer told (GivenUp).
        queue = system.spawn(WorkQueue, capacity, ack_timeout=max(1.0, 50 * work), name="jobs",
                             max_deliveries=3, dead_letter=producer, node=0 if cluster else None)
        specs = [rayka.ChildSpec(Worker, f"worker-{i}", args=(queue, work, crash_on, poison))
                 for i in range(workers)]
        strategy = rayka.OneForOne(max_restarts=3, within=10.0)
        system.spawn(rayka.Supervisor, specs, strategy, name="workers", node=1 if cluster else None)
        producer.tell(Produce(jobs, queue))
        summary = producer.ask(Confirm(), timeout=60 + jobs * work * 4).result()
        queue.ask(Drain(), timeout=30).result()  # every acknowledgement is in too
        stats = queue.ask(GetQueueStatistics()).result(timeout=10)
        timings = Timings(send=summary["sends"], queue=summary["wait"], receive=summary["work"])
        figures = Figures(f"{workers} consumers", summary["confirmed"], summary["seconds"], timings, stats.peak,
                          stats.pending + stats.in_flight, f"work queue of capacity {capacity}")
        figures.measure_resources(system)
    summary.update(stats=stats, figures=figures)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, speed=1.0)
    parser.add_argument("--jobs", type=int, default=40, help="jobs to put (default 40)")
    parser.add_argument("--workers", type=int, default=3, help="consumers (default 3)")
    parser.add_argument("--work-ms", type=float, default=20.0, help="milliseconds per job (default 20)")
    parser.add_argument("--crash-on", type=int, default=7, help="job whose first delivery crashes its consumer "
                        "(default 7; -1: no crash)")
    parser.add_argument("--poison", type=int, default=None, help="job that crashes its consumer on every "
                        "delivery: given up after 3 (default: none)")
    args = parser.parse_args(argv)
    crash_on = None if args.crash_on < 0 else args.crash_on
    s = run(jobs=args.jobs, workers=args.workers, work=args.work_ms / 1000, crash_on=crash_on, speed=args.speed,
            cluster=args.cluster, poison=args.poison)
    stats = s["stats"]
    print(f"producer confirmed {s['confirmed']}/{args.jobs} results, all correct: {not s['wrong']}; "
          f"missing {len(s['missing'])}, duplicates {s['duplicates']}", flush=True)
    say(f"jobs per consumer: {s['by']}")
    print(f"queue: accepted {stats.accepted}, acknowledged {stats.acknowledged}, redelivered {stats.redelivered}; "
          f"jobs delivered again after the crash: {s['retried']}", flush=True)
    if s["given_up"]:
        print(f"given up after 3 deliveries (poison), the producer told: {s['given_up']}", flush=True)
    ok = s["confirmed"] + len(s["given_up"]) == args.jobs and not s["missing"] and not s["wrong"]
    if ok:
        say("nothing lost" if not s["given_up"] else "nothing lost silently")
    s["figures"].print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
