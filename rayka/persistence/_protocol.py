"""The journal contract: what :class:`SqliteJournal` and :class:`PostgresJournal` both promise.

Each ``persistence_id`` (an actor, a queue) has its own log of events
numbered 1, 2, 3, ... by the journal, plus at most one current snapshot.
Writes are queued and resolve a future once committed (group commit);
reads see every committed write. Recovery (:meth:`Journal.recover`) checks
what it reads: the events after the snapshot must be numbered without a gap
up to the highest number ever assigned, or it raises :class:`JournalError`
naming the id and the gap. Damage is never silent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rayka._errors import JournalError, SerializationError
from rayka.persistence._codec import decode

__all__ = ["Journal", "JournalStatistics", "Recovery"]


@dataclass(frozen=True, slots=True)
class JournalStatistics:
    """Counters of what a journal has committed since it opened.

    Attributes:
        appends: Append requests committed.
        commits: Transactions committed (with ``sync="group"``, one fsync each).
        events: Events committed.
        bytes: Payload bytes of those events.
        failed: Requests whose future failed with :class:`JournalError`.
    """

    appends: int = 0
    commits: int = 0
    events: int = 0
    bytes: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Recovery:
    """What one persistence id needs to rebuild its state, read and checked in one transaction.

    Attributes:
        journal: The journal's name (a path, or a DSN without its password), for messages.
        persistence_id: Whose log this is.
        snapshot: The latest snapshot as ``(seq, payload)``, or ``None``.
        events: The events after the snapshot (or after the deleted ones), ``(seq, payload)`` in order,
            numbered without a gap up to :attr:`highest_seq`.
        highest_seq: The highest sequence number ever assigned (0 if none); new events continue after it.
    """

    journal: str
    persistence_id: str
    snapshot: tuple[int, bytes] | None
    events: list[tuple[int, bytes]]
    highest_seq: int

    def state(self) -> tuple[int, Any] | None:
        """The snapshot decoded, as ``(seq, state)``, or ``None``.

        Raises:
            JournalError: The stored snapshot cannot be decoded (the cause is chained).
        """
        if self.snapshot is None:
            return None
        seq, payload = self.snapshot
        return seq, self._decode("the snapshot at", seq, payload)

    def replay(self) -> Iterator[tuple[int, Any]]:
        """Yield ``(seq, event)`` for each event, decoded.

        Raises:
            JournalError: A stored event cannot be decoded (the cause is chained).
        """
        for seq, payload in self.events:
            yield seq, self._decode("event", seq, payload)

    def _decode(self, what: str, seq: int, payload: bytes) -> Any:
        try:
            return decode(payload)
        except SerializationError as exc:
            raise JournalError(
                f"journal {self.journal!r}: {what} {seq} of {self.persistence_id!r} cannot be decoded ({exc}); "
                "the journal is damaged or was written by other code: restore it from a backup"
            ) from exc


def checked_recovery(
    journal: str,
    persistence_id: str,
    snapshot: tuple[int, bytes] | None,
    deleted_up_to: int,
    events: list[tuple[int, bytes]],
    highest_seq: int,
) -> Recovery:
    """Build a :class:`Recovery` after checking that the events are contiguous.

    The events must run from just after the snapshot (or after the deleted
    events, whichever is later) to ``highest_seq``, one number at a time.

    Raises:
        JournalError: A number is missing, repeated or out of place; the message
            names the persistence id and the gap.

    Example:
        >>> checked_recovery("j", "acc", None, 0, [(1, b"a"), (3, b"c")], 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rayka._errors.JournalError: journal 'j': the log of 'acc' has a gap: event 2 is missing (found 3); ...
    """
    numbers = [snapshot[0] if snapshot else 0, deleted_up_to, highest_seq]
    if any(type(number) is not int for number in numbers) or (
            snapshot is not None and not isinstance(snapshot[1], bytes)):
        raise _damaged(journal, persistence_id, f"its snapshot, deletion mark or head is not a number ({numbers})")
    after = max(numbers[0], deleted_up_to)
    expected = after + 1
    for seq, payload in events:
        if type(seq) is not int or not isinstance(payload, bytes):
            raise _damaged(journal, persistence_id, f"the row after event {expected - 1} is not an event ({seq!r})")
        if seq != expected:
            what = f"event {expected} is missing (found {seq})" if seq > expected else f"event {seq} is out of place"
            raise _gap(journal, persistence_id, what)
        expected += 1
    if expected <= highest_seq:
        missing = f"event {expected} is" if expected == highest_seq else f"events {expected} to {highest_seq} are"
        raise _gap(journal, persistence_id, f"{missing} missing (the log's end)")
    if expected - 1 > highest_seq:
        raise _gap(journal, persistence_id, f"event {expected - 1} is past the highest number assigned, {highest_seq}")
    if highest_seq < after:
        raise _gap(journal, persistence_id, f"the snapshot is at {after} but the highest event is {highest_seq}")
    return Recovery(journal, persistence_id, snapshot, events, highest_seq)


def _gap(journal: str, persistence_id: str, what: str) -> JournalError:
    return _damaged(journal, persistence_id, what, "has a gap")


def _damaged(journal: str, persistence_id: str, what: str, how: str = "is damaged") -> JournalError:
    return JournalError(
        f"journal {journal!r}: the log of {persistence_id!r} {how}: {what}; "
        "recovering from it would lose events silently, so it is refused: restore the journal from a backup"
    )


@runtime_checkable
class Journal(Protocol):
    """An append-only, durable event log per persistence id, with snapshots.

    :class:`SqliteJournal` (one file, embedded) and :class:`PostgresJournal`
    (a server every node of a cluster reaches) implement it, and one contract
    test suite runs against both. :class:`~rayka.patterns.PersistentActor`
    and the durable :class:`~rayka.patterns.WorkQueue` take either.
    """

    @property
    def name(self) -> str:
        """The journal's path or DSN (without a password), for messages."""
        ...

    @property
    def closed(self) -> bool:
        """Whether it was closed (or can take no more writes)."""
        ...

    def append(self, persistence_id: str, payloads: Sequence[bytes]) -> Future[int]:
        """Queue events; the future resolves to the last one's number once they are committed."""
        ...

    def save_snapshot(self, persistence_id: str, seq: int, payload: bytes) -> Future[None]:
        """Queue a snapshot of the state after event ``seq``; older snapshots go when it commits."""
        ...

    def delete_up_to(self, persistence_id: str, seq: int) -> Future[int]:
        """Queue the deletion of events up to ``seq``; numbers are never reused."""
        ...

    def read(
        self, persistence_id: str, from_seq: int = 1, to_seq: int | None = None, *, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """The committed events from ``from_seq`` on, in order."""
        ...

    def highest_seq(self, persistence_id: str) -> int:
        """The highest number ever assigned to ``persistence_id`` (0 if none)."""
        ...

    def load_snapshot(self, persistence_id: str) -> tuple[int, bytes] | None:
        """The latest committed snapshot, or ``None``."""
        ...

    def recover(self, persistence_id: str) -> Recovery:
        """Wait for queued writes, then read the snapshot and the events after it, checked."""
        ...

    def statistics(self) -> JournalStatistics:
        """What was committed since the journal opened."""
        ...

    def close(self) -> None:
        """Commit what is queued and release the journal; idempotent."""
        ...

    def __enter__(self) -> Journal: ...

    def __exit__(self, *exc_info: object) -> None: ...
