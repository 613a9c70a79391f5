"""The scenario behind ``rayka demo``: a work queue whose consumer crashes mid-job, and nothing is lost.

A :class:`~rayka.patterns.WorkQueue` feeds consumers that live under a
:class:`~rayka.Supervisor`; one of them crashes in the middle of a job, is
restarted, and the job is delivered again. Each result goes back to the
producer, which confirms every job came back once. In cluster mode the
consumers are spread over two node runtimes and one runtime is killed mid-run
as well. ``run`` reports progress through a callback so that the command can
draw it; ``examples/work_queue.py`` is the same scenario written out for reading.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .actors import Actor, ActorRef, ActorSystem, OneForOne
from .actors import ChildSpec, Supervisor
from .patterns import AsyncConsumer, Drain, GetQueueStatistics, Put, WorkQueue

__all__ = ["DemoResult", "Progress", "run"]


class InjectedCrash(RuntimeError):
    """The failure the demo injects into one consumer."""


@dataclass(frozen=True, slots=True)
class _Job:
    n: int
    reply_to: ActorRef


@dataclass(frozen=True, slots=True)
class _Result:
    n: int
    value: int
    by: str
    attempt: int


@dataclass(frozen=True, slots=True)
class _Status:
    pass


@dataclass(frozen=True, slots=True)
class _Confirm:
    pass


@dataclass(frozen=True, slots=True)
class Progress:
    """One snapshot of the run, for a progress display."""

    results: int
    total: int
    pending: int
    in_flight: int
    redelivered: int
    note: str = ""


@dataclass
class DemoResult:
    """What the producer confirmed at the end."""

    total: int
    confirmed: int
    missing: list[int]
    duplicates: int
    by: dict[str, int]
    redelivered: int
    seconds: float
    events: list[str] = field(default_factory=list)

    @property
    def nothing_lost(self) -> bool:
        return self.confirmed == self.total and not self.missing


class _Worker(AsyncConsumer):
    window = 2

    def __init__(self, queue: ActorRef, work: float, crash_on: int | None) -> None:
        super().__init__(queue)
        self.work = work
        self.crash_on = crash_on

    async def handle(self, job: _Job) -> None:
        await asyncio.sleep(self.work / 2)
        delivery = self.delivery
        assert delivery is not None  # set while a delivery is handled
        if job.n == self.crash_on and delivery.attempt == 1:
            raise InjectedCrash(f"injected crash in the middle of job {job.n}")
        await asyncio.sleep(self.work / 2)
        job.reply_to.tell(_Result(job.n, job.n * job.n, self.context.self.name, delivery.attempt))


class _Producer(Actor):
    def __init__(self, queue: ActorRef, total: int) -> None:
        self.queue = queue
        self.total = total
        self.results: dict[int, _Result] = {}
        self.duplicates = 0
        self.confirms: list = []

    def on_start(self) -> None:
        me = self.context.self
        for n in range(self.total):
            self.queue.ask(Put(_Job(n, me)), timeout=None)

    def receive(self, message: Any) -> Any:
        if isinstance(message, _Result):
            if message.n in self.results or message.value != message.n * message.n:
                self.duplicates += message.n in self.results
            else:
                self.results[message.n] = message
            if len(self.results) == self.total:
                for reply in self.confirms:
                    reply.set_result(self.summary())
                self.confirms.clear()
        elif isinstance(message, _Status):
            return len(self.results), sum(r.attempt > 1 for r in self.results.values())
        elif isinstance(message, _Confirm):
            if len(self.results) == self.total:
                return self.summary()
            self.confirms.append(self.context.defer_reply())
        return None

    def summary(self) -> dict:
        return {"confirmed": len(self.results), "missing": sorted(set(range(self.total)) - set(self.results)),
                "duplicates": self.duplicates, "by": dict(sorted(Counter(r.by for r in self.results.values()).items()))}


def run(*, jobs: int = 200, workers: int = 4, work: float = 0.02, crash_on: int | None = None,
        cluster: Any = None, kill_node: bool = True, on_progress: Callable[[Progress], Any] | None = None,
        interval: float = 0.05) -> DemoResult:
    """Run the demo; ``on_progress`` gets a :class:`Progress` about every ``interval`` seconds.

    Args:
        jobs: jobs to put. workers: consumers. work: seconds per job.
        crash_on: the job whose first delivery crashes its consumer (default: a third of the way).
        cluster: a cluster backend (``rayka.RayCluster(nodes=2)``) or ``None`` for embedded.
        kill_node: in cluster mode, also kill node runtime ``n1`` half-way.
    """
    crash_on = jobs // 3 if crash_on is None else crash_on
    report = on_progress or (lambda progress: None)
    events: list[str] = []
    began = time.perf_counter()
    with ActorSystem("demo", cluster=cluster) as system:
        place = (lambda i: i % 2) if cluster is not None else (lambda i: None)
        queue = system.spawn(WorkQueue, 32, ack_timeout=max(2.0, 50 * work), name="queue", node=place(0))
        groups = 2 if cluster is not None else 1
        for g in range(groups):
            specs = [ChildSpec(_Worker, f"worker-{g}{i}", args=(queue, work, crash_on))
                     for i in range(g, workers, groups)]
            system.spawn(Supervisor, specs, OneForOne(), name=f"workers-{g}", node=place(g))
        producer = system.spawn(_Producer, queue, jobs, name="producer", node=place(0))
        killed = cluster is None or not kill_node
        note = ""
        while True:
            done, retried = producer.ask(_Status(), timeout=30).result()
            stats = queue.ask(GetQueueStatistics(), timeout=30).result()
            if retried and not any("crash" in e for e in events):
                note = f"crash on job {crash_on}: consumer restarted, job redelivered"
                events.append(note)
            if not killed and done >= jobs // 2:
                # said before the kill, so it comes before whatever Ray prints about a worker that died
                report(Progress(done, jobs, stats.pending, stats.in_flight, stats.redelivered,
                                "killing node runtime n1 on purpose (SIGKILL): Ray may report a dead worker"))
                system.cluster.kill_node("n1")
                system.cluster.wait_recovered("n1", timeout=60)
                killed = True
                note = "node n1 killed: its actors restarted on n0"
                events.append(note)
            report(Progress(done, jobs, stats.pending, stats.in_flight, stats.redelivered, note))
            if done >= jobs:
                break
            time.sleep(interval)
        summary = producer.ask(_Confirm(), timeout=60).result()
        queue.ask(Drain(), timeout=60).result()
        redelivered = queue.ask(GetQueueStatistics(), timeout=30).result().redelivered
    return DemoResult(jobs, summary["confirmed"], summary["missing"], summary["duplicates"], summary["by"],
                      redelivered, time.perf_counter() - began, events)
