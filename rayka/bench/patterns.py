"""Measure the messaging patterns: work queue, durable work queue, topics, routers.

Run ``python -m rayka.bench.patterns [--quick] [--dir DIR]``. Scenarios, all
in one process:

- ``workqueue``: one producer actor putting batches (``PutMany``), a queue
  of bounded capacity, 4 consumers (:class:`~rayka.patterns.Consumer`)
  acknowledging every item; counted when the queue has every item acknowledged.
- ``workqueue-put-each``: the same with one ``Put`` (one ask) per item,
  256 unanswered: what a producer that does not batch gets.
- ``durable-group``: the same as ``workqueue`` on a SQLite journal with group commit: each
  accepted batch and each acknowledgement batch is on disk (fsync per commit)
  before it counts; timed until the last acknowledgement is on disk.
- ``durable-group-put-each``: the same with one ``Put`` per item, 256
  unanswered; the queue gathers the puts and acks of one pass over its
  mailbox into one journal append.
- ``durable-fsync-each``: one item per put, each put waited for before the
  next, one consumer with a window of 1, ``sync="always"``: every message is
  on disk (its own fsync) before the next is accepted: what fsync per
  message costs.
- ``topics``: one ``Publish`` fanned out to 1,000 local subscribers; counted
  when every subscriber has handled every message.
- ``router-ask``: asks through a round-robin pool of 4 routees, pipelined,
  beside the same asks sent straight to one actor.

The run prints a table, then one JSON line with the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections import deque
from typing import Any

import rayka
from rayka.patterns import Consumer, Drain, Pool, Publish, Put, PutMany, RoundRobin, Subscribe, Topics, WorkQueue
from rayka.persistence import Journal, SqliteJournal, SyncMode

from .journal import _filesystem

__all__ = ["main", "run"]


class _Producer(rayka.Actor):
    """Put ``total`` items in batches of ``batch``, with up to ``outstanding`` puts unanswered."""

    def __init__(self, queue: rayka.ActorRef, total: int, batch: int, outstanding: int) -> None:
        self.queue, self.total, self.batch, self.outstanding = queue, total, batch, outstanding

    async def receive(self, message: Any) -> int:
        pending: deque = deque()
        sent = 0
        while sent < self.total:
            n = min(self.batch, self.total - sent)
            put = Put(sent) if self.batch == 1 else PutMany(tuple(range(sent, sent + n)))
            pending.append(self.queue.ask(put, timeout=None))
            sent += n
            if len(pending) >= self.outstanding:
                await pending.popleft()
        while pending:
            await pending.popleft()
        return sent


class _Worker(Consumer):
    def handle(self, work: Any) -> None:
        pass


def _queue_run(total: int, *, journal: Journal | None = None, batch: int = 500, outstanding: int = 8,
               capacity: int = 20_000, window: int = 512, max_batch: int = 128, consumers: int = 4) -> dict[str, Any]:
    with rayka.ActorSystem("bench-queue") as system:
        queue = system.spawn(WorkQueue, capacity, max_batch=max_batch, journal=journal, persistence_id="bench",
                             snapshot_every=None)
        for _ in range(consumers):
            system.spawn(_Worker, queue, window=window)
        producer = system.spawn(_Producer, queue, total, batch, outstanding)
        started = time.perf_counter()
        producer.ask("go", timeout=None).result()
        acknowledged = queue.ask(Drain(), timeout=None).result()
        if journal is not None:  # the writer commits in order: this resolves after every ack before it is on disk
            journal.append("bench-barrier", []).result()
        elapsed = time.perf_counter() - started
    assert acknowledged == total, (acknowledged, total)
    row: dict[str, Any] = {"items": total, "seconds": round(elapsed, 4), "per_s": round(total / elapsed),
                           "consumers": consumers, "put_batch": batch, "window": window}
    if journal is not None:
        stats = journal.statistics()
        row["commits"] = stats.commits
        row["journal_events"] = stats.events
    return row


def _durable_run(directory: str, name: str, total: int, sync: SyncMode, **options: Any) -> dict[str, Any]:
    path = os.path.join(directory, f"{name}.db")
    with SqliteJournal(path, sync=sync) as journal:
        row = _queue_run(total, journal=journal, **options)
    row["sync"] = sync
    return row


class _Subscriber(rayka.Actor):
    def __init__(self, expected: int, done: list, event: threading.Event, subscribers: int) -> None:
        self.left = expected
        self.done, self.event, self.subscribers = done, event, subscribers

    def receive(self, message: Any) -> None:
        self.left -= 1
        if not self.left:
            self.done.append(1)
            if len(self.done) == self.subscribers:
                self.event.set()


def _topics_run(subscribers: int, publishes: int) -> dict[str, Any]:
    with rayka.ActorSystem("bench-topics") as system:
        topics = system.spawn(Topics)
        done: list = []
        event = threading.Event()
        for _ in range(subscribers):
            ref = system.spawn(_Subscriber, publishes, done, event, subscribers)
            topics.tell(Subscribe("t", ref))
        topics.ask(Subscribe("warm", topics)).result(timeout=30)  # every Subscribe above is handled
        started = time.perf_counter()
        for n in range(publishes):
            topics.tell(Publish("t", n))
        if not event.wait(120):
            raise RuntimeError("topics benchmark: not every subscriber got every message")
        elapsed = time.perf_counter() - started
    deliveries = subscribers * publishes
    return {"subscribers": subscribers, "publishes": publishes, "deliveries": deliveries,
            "seconds": round(elapsed, 4), "per_s": round(deliveries / elapsed)}


class _Echo(rayka.Actor):
    def receive(self, message: Any) -> Any:
        return message


def _asks(ref: rayka.ActorRef, total: int) -> float:
    started = time.perf_counter()
    pending: deque = deque()
    for n in range(total):
        pending.append(ref.ask(n, timeout=60))
        if len(pending) >= 1000:
            pending.popleft().result()
    while pending:
        pending.popleft().result()
    return time.perf_counter() - started


def _router_run(total: int) -> dict[str, Any]:
    with rayka.ActorSystem("bench-router") as system:
        direct = system.spawn(_Echo)
        pool = system.spawn(Pool, _Echo, 4, RoundRobin())
        _asks(direct, 1000), _asks(pool, 1000)
        direct_s = _asks(direct, total)
        pool_s = _asks(pool, total)
    return {"asks": total, "seconds": round(pool_s, 4), "per_s": round(total / pool_s),
            "direct_per_s": round(total / direct_s)}


def run(quick: bool = False, *, directory: str | None = None) -> dict[str, Any]:
    """Run every scenario and return the figures.

    Args:
        quick: about a tenth of the work (a few seconds in all).
        directory: where the journal files go (a fresh temporary directory
            inside it, removed afterwards); the system's temporary directory if ``None``.

    Returns:
        ``{"benchmark": "patterns", "results": [...], ...}``, one row per scenario.
    """
    scale = 10 if quick else 1
    workdir = tempfile.mkdtemp(prefix="rayka-bench-patterns-", dir=directory)
    results = []
    try:
        results.append({"scenario": "workqueue", "target_per_s": 200_000, **_queue_run(400_000 // scale)})
        results.append({"scenario": "workqueue-put-each", "target_per_s": None,
                         **_queue_run(100_000 // scale, batch=1, outstanding=256)})
        results.append({"scenario": "durable-group", "target_per_s": 50_000,
                        **_durable_run(workdir, "group", 200_000 // scale, "group")})
        results.append({"scenario": "durable-group-put-each", "target_per_s": 50_000,
                        **_durable_run(workdir, "group-each", 50_000 // scale, "group", batch=1, outstanding=256)})
        results.append({"scenario": "durable-fsync-each", "target_per_s": None,
                        **_durable_run(workdir, "always", 2_000 // scale, "always", batch=1, outstanding=1,
                                       max_batch=1, window=1, consumers=1)})
        results.append({"scenario": "topics", "target_per_s": 1_000_000, **_topics_run(1000, 400 // scale)})
        results.append({"scenario": "router-ask", "target_per_s": None, **_router_run(100_000 // scale)})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"benchmark": "patterns", "quick": quick, "cpus": os.cpu_count(),
            "python": platform.python_version(), "journal_filesystem": _filesystem(os.path.realpath(workdir)),
            "results": results}


def _table(report: dict[str, Any]) -> str:
    header = f"{'scenario':<20}{'count':>10}{'seconds':>9}{'per second':>13}{'target':>11}  notes"
    lines = [header, "-" * len(header)]
    for row in report["results"]:
        count = row.get("items") or row.get("deliveries") or row.get("asks")
        target = f"{row['target_per_s']:,}" if row["target_per_s"] else "-"
        notes = {k: v for k, v in row.items()
                 if k not in ("scenario", "items", "deliveries", "asks", "seconds", "per_s", "target_per_s")}
        lines.append(f"{row['scenario']:<20}{count:>10,}{row['seconds']:>9}{row['per_s']:>13,}{target:>11}  "
                     + ", ".join(f"{k}={v}" for k, v in notes.items()))
    lines.append(f"{report['cpus']} CPUs, Python {report['python']}, journals on {report['journal_filesystem']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.patterns", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a tenth of the work")
    parser.add_argument("--dir", default=None, help="directory for the journal files (default: system temp)")
    args = parser.parse_args(argv)
    report = run(args.quick, directory=args.dir)
    print(_table(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
