"""Run a durable work queue on a journal file, printing what happens, for the crash test.

Usage: ``python durable_queue_script.py JOURNAL produce|drain [SNAPSHOT_EVERY [ITEMS]]``

``JOURNAL`` is a file path, or ``sqlite:<path>`` / ``postgres:<dsn>#<schema>``
(see ``tests/persistence/journals.py``).

- ``produce``: a producer puts works 0, 1, 2, ... (one per put, 64 unanswered
  at most) for ever (or ``ITEMS`` of them), and two consumers, slower than the producer, handle and
  acknowledge them. Prints
  ``PUT id work`` once a put is accepted (on disk). Meant to be killed with SIGKILL.
- ``drain``: no producer; two consumers take what the journal still holds,
  then it prints ``DONE n`` once everything is acknowledged and on disk, and exits.

In both, consumers print ``GOT id work attempt`` for every delivery they
handle and ``ACK id`` once its acknowledgement is on disk.

``SNAPSHOT_EVERY`` (default: never; ``0``: never) makes the queue snapshot and compact its log.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from typing import Any

import rayka
from rayka.patterns import Consumer, Drain, Put, WorkQueue
from rayka.persistence import SqliteJournal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.persistence.journals import open_spec  # noqa: E402

_print_lock = threading.Lock()


def say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Producer(rayka.Actor):
    def __init__(self, items: int | None) -> None:
        self.items = items

    async def receive(self, queue: rayka.ActorRef) -> None:
        pending: deque = deque()
        work = 0
        while self.items is None or work < self.items:
            pending.append((work, queue.ask(Put(work), timeout=None)))
            work += 1
            if len(pending) >= 64:
                sent, reply = pending.popleft()
                say(f"PUT {await reply} {sent}")
        for sent, reply in pending:
            say(f"PUT {await reply} {sent}")


class Confirmed:
    """Counts acknowledgements confirmed on disk; ``wait_for(n)`` blocks until there are n."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def add(self, n: int) -> None:
        with self.changed:
            self.count += n
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout)


class Printer(Consumer):
    window = 32
    confirm_acks = True

    def __init__(self, queue: rayka.ActorRef, confirmed: Confirmed, pace: float) -> None:
        super().__init__(queue)
        self.confirmed = confirmed
        self.pace = pace

    def handle(self, work: Any) -> None:
        d = self.delivery
        say(f"GOT {d.id} {work} {d.attempt}")
        if self.pace:
            time.sleep(self.pace)  # slower than the producer: work piles up in the queue

    def on_acked(self, ids: tuple[int, ...]) -> None:
        for i in ids:
            say(f"ACK {i}")
        self.confirmed.add(len(ids))


def main(path: str, mode: str, snapshot_every: int | None, items: int | None) -> None:
    confirmed = Confirmed()
    journal = open_spec(path) if path.startswith(("sqlite:", "postgres:")) else SqliteJournal(path)
    with journal, rayka.ActorSystem("durable") as system:
        queue = system.spawn(WorkQueue, 1000, journal=journal, persistence_id="jobs",
                             snapshot_every=snapshot_every)
        for _ in range(2):
            system.spawn(Printer, queue, confirmed, 0.0002 if mode == "produce" else 0.0)
        if mode == "produce":
            system.spawn(Producer, items).tell(queue)
            threading.Event().wait()  # until killed
        acknowledged = queue.ask(Drain(), timeout=60).result()
        if not confirmed.wait_for(acknowledged, 60):
            raise SystemExit(f"only {confirmed.count} of {acknowledged} acknowledgements were confirmed")
        say(f"DONE {acknowledged}")


if __name__ == "__main__":
    every = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    main(sys.argv[1], sys.argv[2], every or None, int(sys.argv[4]) if len(sys.argv) > 4 else None)
