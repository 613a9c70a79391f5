"""The journal side of a durable work queue: events, recovery, snapshots.

A durable queue writes two kinds of events under its persistence id:
``("put", first_id, works)`` when it accepts work and ``("ack", ids)``
when work is acknowledged. Replaying them gives back every piece of work
accepted and not acknowledged. Every ``snapshot_every`` events it saves that
set as a snapshot and deletes the events before it, so recovery reads a
snapshot plus a short tail and the file does not grow without end.

Example:
    >>> import os, tempfile
    >>> from rayka.persistence import SqliteJournal
    >>> path = os.path.join(tempfile.mkdtemp(), "queue.db")
    >>> with SqliteJournal(path) as journal:
    ...     log = QueueJournal(journal, "jobs", snapshot_every=100)
    ...     log.recover()
    ...     _ = log.put(1, ("a", "b", "c")).result(timeout=5)
    ...     _ = log.ack((2,)).result(timeout=5)
    ...     QueueJournal(journal, "jobs", snapshot_every=100).recover()
    (1, {})
    (4, {1: 'a', 3: 'c'})
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable, Iterable

from .._errors import JournalError
from ..persistence import Journal, encode

__all__ = ["QueueJournal"]

_PUT, _ACK = "put", "ack"


class QueueJournal:
    """Write a work queue's events and snapshots to a journal, and read them back.

    Args:
        journal: an open :class:`~rayka.persistence.Journal` (the caller closes it).
        persistence_id: whose log this is (one per queue).
        snapshot_every: events between snapshots; ``None`` never snapshots.
    """

    def __init__(self, journal: Journal, persistence_id: str, snapshot_every: int | None = 10_000) -> None:
        if snapshot_every is not None and snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1 or None, got {snapshot_every!r}")
        self.journal = journal
        self.persistence_id = persistence_id
        self.snapshot_every = snapshot_every
        self.seq = 0  # the sequence number of the last event written (we are the only writer)
        self.since_snapshot = 0
        self.snapshotting = False

    def recover(self) -> tuple[int, dict[int, Any]]:
        """Read the snapshot and the events after it; return the next id and the outstanding work by id."""
        journal, pid = self.journal, self.persistence_id
        found = journal.recover(pid)  # waits for what a previous incarnation queued; checks for gaps
        next_id, outstanding = 1, {}
        state = found.state()
        if state is not None:
            next_id, ids, works = state[1]
            outstanding = dict(zip(ids, works))
        events = 0
        for seq, event in found.replay():
            events += 1
            if event[0] == _PUT:
                first, works = event[1], event[2]
                for k, work in enumerate(works):
                    outstanding[first + k] = work
                next_id = max(next_id, first + len(works))
            elif event[0] == _ACK:
                for i in event[1]:
                    outstanding.pop(i, None)
            else:
                raise JournalError(
                    f"journal {journal.name!r}, {pid!r}: event {seq} ({event[0]!r}) is not a work-queue event; "
                    "is another actor writing under this persistence id?"
                )
        self.seq = found.highest_seq
        self.since_snapshot = events
        return next_id, outstanding

    def put(self, first_id: int, works: tuple) -> Future[int]:
        """Write that ``works`` were accepted with ids ``first_id, first_id + 1, ...``."""
        return self.write([(_PUT, first_id, works)])

    def ack(self, ids: Iterable[int]) -> Future[int]:
        """Write that ``ids`` were acknowledged."""
        return self.write([(_ACK, tuple(ids))])

    def write(self, events: list[tuple]) -> Future[int]:
        """Write ``("put", first_id, works)`` and ``("ack", ids)`` events in order, in one transaction."""
        future = self.journal.append(self.persistence_id, [encode(event) for event in events])
        self.seq += len(events)
        self.since_snapshot += len(events)
        return future

    def snapshot_due(self) -> bool:
        """True when ``snapshot_every`` events were written since the last snapshot."""
        every = self.snapshot_every
        return every is not None and self.since_snapshot >= every and not self.snapshotting

    def snapshot(self, next_id: int, outstanding: Iterable[tuple[int, Any]],
                 on_error: Callable[[BaseException], None]) -> None:
        """Save the outstanding work as of the last event written, then drop the events before it."""
        pairs = list(outstanding)
        payload = encode((next_id, [i for i, _ in pairs], [w for _, w in pairs]))
        seq, pid, journal = self.seq, self.persistence_id, self.journal
        self.since_snapshot = 0
        self.snapshotting = True

        def saved(future: Future[None]) -> None:
            self.snapshotting = False
            error = future.exception()
            if error is not None:
                on_error(error)
                return
            try:  # only once the snapshot is on disk may the events it covers go
                journal.delete_up_to(pid, seq)
            except JournalError as closed:
                on_error(closed)

        journal.save_snapshot(pid, seq, payload).add_done_callback(saved)
