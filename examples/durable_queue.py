"""Durable queue: kill the process mid-run, start it again, and every message reaches the application once.

The pieces, all on one SQLite journal file (``rayka.persistence.SqliteJournal``):

- a durable ``WorkQueue``: a put is answered once the message is on disk, an
  acknowledgement is written before it counts, and a queue started again on
  the same file delivers again every message not acknowledged;
- the producer, a ``PersistentActor``: it records how far it got after each
  batch is accepted, and carries on from there after a restart;
- the application, a ``PersistentActor`` too: it records each message id it
  handled, in the same journal, *before* the consumer acknowledges the
  message. A message delivered again after a crash (its acknowledgement was
  lost with the process, or the producer put its batch twice) has an id the
  application knows already: it is acknowledged, not handled again.

At-least-once delivery plus idempotence by id is exactly-once for the
application. Try it: run with ``--crash-after 60`` (the process kills itself
with SIGKILL after handling 60 messages), then run again without it; or kill
it yourself (``kill -9``) and run again. ``--fresh`` starts from an empty file.

    python examples/durable_queue.py --fresh --crash-after 60
    python examples/durable_queue.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass

import rayka
from rayka.patterns import AsyncConsumer, Drain, GetQueueStatistics, PersistentActor, PutMany, WorkQueue
from rayka.persistence import SqliteJournal, decode

from _metrics import Figures, Timings, add_common_arguments, now, say

DEFAULT_DB = os.path.join(tempfile.gettempdir(), "rayka-durable-queue.db")


@dataclass(frozen=True, slots=True)
class Produce:
    total: int
    batch: int


@dataclass(frozen=True, slots=True)
class Handle:
    """The application's one operation: handle message ``id`` (once)."""

    id: int
    body: str
    sent_at: float


class Producer(PersistentActor):
    """Puts messages ``0 .. total-1`` in batches and records, durably, how far it got."""

    def __init__(self, journal: SqliteJournal, queue: rayka.ActorRef) -> None:
        super().__init__(journal, "producer")
        self.queue = queue
        self.next = 0
        self.sends: list[float] = []

    def apply(self, upto: int) -> None:
        self.next = upto

    async def receive(self, message):
        if message == "sends":
            return self.sends
        if not isinstance(message, Produce):
            return None
        resumed = self.next
        while self.next < message.total:
            first, last = self.next, min(message.total, self.next + message.batch)
            sent_at = now()
            batch = tuple((i, f"message {i}", sent_at) for i in range(first, last))
            await self.queue.ask(PutMany(batch), timeout=60)  # on disk in the queue's log
            self.sends.append(now() - sent_at)
            await self.persist(last)  # a crash before this line puts the batch again: the ids repeat
        return resumed


class Application(PersistentActor):
    """The application: handles each message id once, and remembers which it has handled."""

    def __init__(self, journal: SqliteJournal, crash_after: int | None, total: int) -> None:
        super().__init__(journal, "application")
        self.handled: set[int] = set()
        self.crash_after = crash_after
        self.total = total
        self.this_run = 0
        self.suppressed = 0
        self.timings = Timings()

    def apply(self, message_id: int) -> None:
        self.handled.add(message_id)

    async def receive(self, message):
        if isinstance(message, Handle):
            if message.id in self.handled:
                self.suppressed += 1  # delivered again after a crash: already handled
                return False
            started = now()
            await self.persist(message.id)  # the effect and the id, in one write
            self.this_run += 1
            self.timings.handled(message.sent_at, started, now())
            if self.this_run % 20 == 0 or len(self.handled) == self.total:
                say(f" [x] handled {len(self.handled)}/{self.total} ({self.this_run} in this run)")
            if self.crash_after is not None and self.this_run >= self.crash_after:
                say(f" [!] crashing now (SIGKILL) after {self.this_run} messages in this run")
                os.kill(os.getpid(), signal.SIGKILL)
            return True
        if message == "report":
            return {"handled": len(self.handled), "this_run": self.this_run, "suppressed": self.suppressed,
                    "timings": self.timings.as_dict()}
        return None


class Handler(AsyncConsumer):
    """Takes messages from the queue to the application; the ack follows once the application has it."""

    window = 8

    def __init__(self, queue: rayka.ActorRef, app: rayka.ActorRef, work: float = 0.0) -> None:
        super().__init__(queue)
        self.app = app
        self.work = work

    async def handle(self, work: tuple) -> None:
        message_id, body, sent_at = work
        if self.work:
            await asyncio.sleep(self.work)  # the message's own processing time
        await self.app.ask(Handle(message_id, body, sent_at), timeout=60)


def verify(path: str, total: int) -> dict:
    """Read the application's log back: how often each message id was handled."""
    with SqliteJournal(path) as journal:
        ids = [decode(payload) for _, payload in journal.read("application")]
    counts = Counter(ids)
    return {"distinct": len(counts), "missing": sorted(set(range(total)) - set(counts)),
            "twice": sorted(i for i, n in counts.items() if n > 1)}


def run(*, path: str = DEFAULT_DB, total: int = 200, batch: int = 20, consumers: int = 2,
        crash_after: int | None = None, work: float = 0.0) -> dict:
    """Run (or resume) the scenario on the journal at ``path``; returns the application's report and figures."""
    with SqliteJournal(path) as journal, rayka.ActorSystem("durable-queue") as system:
        queue = system.spawn(WorkQueue, 4 * batch, journal=journal, persistence_id="queue", name="queue")
        recovered = queue.ask(GetQueueStatistics(), timeout=30).result()
        app = system.spawn(Application, journal, crash_after, total, name="application")
        before = app.ask("report", timeout=30).result()["handled"]
        print(f" [x] started: the application had handled {before}/{total}, the queue holds "
              f"{recovered.pending} unacknowledged messages from before", flush=True)
        handlers = [system.spawn(Handler, queue, app, work, name=f"handler-{i}") for i in range(consumers)]
        producer = system.spawn(Producer, journal, queue, name="producer")
        began = now()
        resumed = producer.ask(Produce(total, batch), timeout=300).result()
        acknowledged = queue.ask(Drain(), timeout=300).result()
        seconds = now() - began
        report = app.ask("report", timeout=30).result()
        stats = queue.ask(GetQueueStatistics(), timeout=30).result()
        sends = producer.ask("sends", timeout=30).result()
        timings = Timings(send=sends).merge(report["timings"])
        figures = Figures(f"durable queue, {consumers} consumers, fsync per commit", report["this_run"], seconds,
                          timings, stats.peak, stats.pending + stats.in_flight, "work queue")
        figures.measure_resources(system)
        for ref in handlers:
            ref.stop()
    report.update(resumed_at=resumed, acknowledged=acknowledged, recovered=recovered.pending, before=before,
                  figures=figures, redelivered=stats.redelivered)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--db", default=DEFAULT_DB, help=f"the journal file (default {DEFAULT_DB})")
    parser.add_argument("--messages", type=int, default=200, help="messages in all (default 200)")
    parser.add_argument("--crash-after", type=int, default=None,
                        help="kill this process with SIGKILL after handling this many messages")
    parser.add_argument("--fresh", action="store_true", help="delete the journal file first")
    parser.add_argument("--work-ms", type=float, default=0.0, help="milliseconds of work per message (default 0)")
    args = parser.parse_args(argv)
    if args.cluster:
        parser.error("the durable queue runs in one process (its journal is a local SQLite file)")
    if args.fresh:
        for suffix in ("", "-wal", "-shm", ".lock"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)
    report = run(path=args.db, total=args.messages, crash_after=args.crash_after, work=args.work_ms / 1000)
    print(f"the producer resumed at message {report['resumed_at']}; the application handled "
          f"{report['this_run']} in this run and recognised {report['suppressed']} redelivered id(s)", flush=True)
    check = verify(args.db, args.messages)
    ok = check["distinct"] == args.messages and not check["missing"] and not check["twice"]
    print(f"delivered exactly once to the application: {check['distinct']}/{args.messages} ids, "
          f"{len(check['missing'])} missing, {len(check['twice'])} twice -> {'yes' if ok else 'NO'}", flush=True)
    report["figures"].print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
